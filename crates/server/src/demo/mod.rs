//! The demo tenant: five users, two groups, three Conditional Access policies and a public OIDC
//! client, so that Portcullis can be tried a minute after `portcullis demo`.
//!
//! | user | what it shows |
//! |---|---|
//! | `alice@…` | an ordinary user: password and an authenticator app (TOTP) |
//! | `adele@…` | eligible (not active) Global Administrator |
//! | `priya@…` | eligible Privileged Role Administrator |
//! | `admin@…` | active Privileged Role Administrator |
//! | `breakglass@…` | active Global Administrator, password only, excluded from every policy |
//!
//! Policies: MFA for everyone (`CA001`); context `c1` (PIM activation of privileged roles)
//! demands the phishing-resistant strength, every time (`CA010`); context `c2` (sensitive
//! actions) demands MFA, every time (`CA020`). Each excludes the group "Break-glass accounts".
//!
//! Passwords are random (four words and three digits) and TOTP secrets fresh on every seeding;
//! both go back to the caller as [`DemoCredentials`], which the CLI writes to
//! [`CREDENTIALS_FILE`] (mode 0600) in the data directory.
//!
//! Seeding is idempotent: it is complete once `admin@…` has a password, which is the last thing
//! written; a seeding that was interrupted before that point is redone (reusing the ids of
//! the users and groups it had created) on the next call.

use crate::error::ServeError;
use crate::state::AppState;
use authn::secrecy::{ExposeSecret, SecretString};
use chrono::{DateTime, Utc};
use policy::conditional_access::ConditionalAccessPolicy;
use policy::context::AuthenticationContextClassReference;
use policy::directory::{
    AssignmentStatus, Group, MemberRef, RoleAssignment, User, GLOBAL_ADMINISTRATOR,
    PRIVILEGED_ROLE_ADMINISTRATOR,
};
use policy::strength::PHISHING_RESISTANT_MFA_STRENGTH_ID;
use policy::Tenant;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use store::{OidcClient, PasswordCredential, Store, TotpCredential};

mod onboarding;
mod secrets;
mod tenant;
mod users;
pub use onboarding::{onboarding_pass, print_onboarding, OnboardingPass};
pub use secrets::totp_code;
use secrets::*;
use tenant::*;
use users::*;
pub use users::{
    print_instructions, read_credentials_file, write_credentials_file, DemoCredentials, DemoUser,
};

/// The demo users' domain.
pub const DOMAIN: &str = "demo.portcullis.test";
/// The user whose presence (with a password) marks the demo as seeded.
pub const ADMIN_UPN: &str = "admin@demo.portcullis.test";
/// The demo's public OIDC client.
pub const CLIENT_ID: &str = "portcullis-demo";
/// A redirect URI of the demo client for trying the flow by hand: nothing needs to listen
/// there, the code can be read from the browser's address bar.
pub const LOCAL_REDIRECT_URI: &str = "http://127.0.0.1:8400/callback";
/// The file, in the data directory, that [`write_credentials_file`] writes.
pub const CREDENTIALS_FILE: &str = "demo-credentials.json";
/// The issuer name authenticator apps show for the demo accounts.
pub const TOTP_ISSUER: &str = "Portcullis demo";
/// Seconds a TOTP code lives.
pub const TOTP_STEP_SECONDS: i64 = authn::totp::STEP_SECONDS;
/// The group every policy excludes.
pub const BREAK_GLASS_GROUP: &str = "Break-glass accounts";
/// The group of the administrators.
pub const ADMINS_GROUP: &str = "Privileged admins";
/// Id of `CA001 Require MFA for all users`.
pub const POLICY_MFA: &str = "ca0de000-0000-4000-8000-000000000001";
/// Id of `CA010 PIM activation: phishing-resistant MFA, every time`.
pub const POLICY_PIM_ACTIVATION: &str = "ca0de000-0000-4000-8000-000000000010";
/// Id of `CA020 Sensitive actions: MFA every time`.
pub const POLICY_SENSITIVE_ACTIONS: &str = "ca0de000-0000-4000-8000-000000000020";

/// The label of the demo users' TOTP credential.
const TOTP_LABEL: &str = "Authenticator app (demo)";

/// Seeds the demo tenant unless it is already there: returns the credentials of the users it
/// created, or `None` when the store already holds a seeded demo. Then nothing is changed,
/// except that the demo client learns the redirect URI of a new issuer.
pub async fn seed(state: &AppState) -> Result<Option<DemoCredentials>, ServeError> {
    let store = &state.store;
    if is_seeded(store).await? {
        follow_issuer(state).await?;
        return Ok(None);
    }
    let now = state.now();

    // Ids: those of an interrupted earlier seeding, or fresh ones.
    let mut user_ids = Vec::with_capacity(USERS.len());
    for spec in &USERS {
        let id = match store.get_user_by_upn(spec.upn).await {
            Ok(existing) => existing.id,
            Err(e) if e.is_not_found() => store::User::new(spec.upn, spec.display_name, now).id,
            Err(e) => return Err(e.into()),
        };
        user_ids.push(id);
    }
    let groups = store.list_groups().await?;
    let group_id = |name: &str| {
        groups
            .iter()
            .find(|g| g.display_name == name)
            .map_or_else(store::new_id, |g| g.id.clone())
    };
    let admins_group = group_id(ADMINS_GROUP);
    let break_glass_group = group_id(BREAK_GLASS_GROUP);

    // The directory and the Conditional Access configuration, in one transaction.
    let tenant = tenant(&user_ids, &admins_group, &break_glass_group)?;
    store.import_tenant(&tenant, now).await?;
    state.tenant_changed();
    require_c1_for_privileged_roles(store, now).await?;

    let redirect_uris = vec![
        format!("{}/demo/callback", state.issuer),
        LOCAL_REDIRECT_URI.to_string(),
    ];
    crate::oidc::clients::upsert(
        store,
        &OidcClient {
            client_id: CLIENT_ID.into(),
            display_name: "Portcullis demo".into(),
            redirect_uris: redirect_uris.clone(),
            is_public: true,
            secret_hash: None,
            created_at: store::at_ms(now),
        },
    )
    .await?;

    // Credentials: passwords (hashed off the async threads: argon2 takes a while on purpose)
    // and TOTP secrets.
    let params = state.config.password;
    let made = tokio::task::spawn_blocking(move || {
        USERS
            .iter()
            .map(|spec| {
                let password = generate_password(spec)?;
                let phc =
                    authn::password::hash_password(&params, &SecretString::from(password.clone()))
                        .map_err(|e| ServeError::Internal(format!("demo password: {e}")))?;
                let totp = if spec.totp {
                    Some(
                        authn::totp::TotpEnrolment::new(TOTP_ISSUER, spec.upn)
                            .map_err(|e| ServeError::Internal(format!("demo TOTP: {e}")))?,
                    )
                } else {
                    None
                };
                Ok((password, phc, totp))
            })
            .collect::<Result<Vec<_>, ServeError>>()
    })
    .await
    .map_err(|e| ServeError::Internal(format!("demo credentials: {e}")))??;

    let mut users = Vec::with_capacity(USERS.len());
    let mut admin_password = None;
    for ((spec, user_id), (password, phc, totp)) in USERS.iter().zip(&user_ids).zip(made) {
        for old in store.list_totp(user_id).await? {
            if old.label == TOTP_LABEL {
                store.delete_totp(&old.id).await?;
            }
        }
        if let Some(enrolment) = &totp {
            store
                .add_totp(&TotpCredential {
                    id: store::new_id(),
                    user_id: user_id.clone(),
                    secret: enrolment.secret.expose_secret().to_vec(),
                    label: TOTP_LABEL.into(),
                    created_at: store::at_ms(now),
                    last_used_step: 0,
                    provenance: None,
                })
                .await?;
        }
        let credential = PasswordCredential {
            user_id: user_id.clone(),
            phc: phc.as_str().to_string(),
            changed_at: store::at_ms(now),
        };
        if spec.upn == ADMIN_UPN {
            // Last: the admin's password marks the seeding complete.
            admin_password = Some(credential);
        } else {
            store.set_password(&credential).await?;
        }
        users.push(DemoUser {
            user_principal_name: spec.upn.into(),
            display_name: spec.display_name.into(),
            role: spec.role.into(),
            password,
            totp_secret: totp
                .as_ref()
                .map(|e| e.manual_entry_key.expose_secret().to_string()),
            otpauth_uri: totp
                .as_ref()
                .map(|e| e.otpauth_uri.expose_secret().to_string()),
        });
    }
    if let Some(credential) = admin_password {
        store.set_password(&credential).await?;
    }
    tracing::info!(
        users = users.len(),
        client_id = CLIENT_ID,
        "demo tenant seeded"
    );
    Ok(Some(DemoCredentials {
        issuer: state.issuer.clone(),
        client_id: CLIENT_ID.into(),
        redirect_uris,
        users,
    }))
}

/// After a restart under another issuer (another port, say), lets the demo client also use
/// this issuer's `/demo/callback`. A demo client that was removed stays removed.
async fn follow_issuer(state: &AppState) -> Result<(), ServeError> {
    let mut client = match state.store.get_client(CLIENT_ID).await {
        Ok(client) => client,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let callback = format!("{}/demo/callback", state.issuer);
    if !client.redirect_uris.contains(&callback) {
        client.redirect_uris.push(callback);
        crate::oidc::clients::upsert(&state.store, &client).await?;
    }
    Ok(())
}

/// Whether the demo is already seeded: the admin exists and has a password.
async fn is_seeded(store: &Store) -> Result<bool, ServeError> {
    match store.get_user_by_upn(ADMIN_UPN).await {
        Ok(admin) => Ok(store.get_password(&admin.id).await?.is_some()),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn words_are_distinct_and_free_of_the_users_names() {
        let mut sorted = WORDS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), WORDS.len());
        for w in WORDS {
            assert!(w.chars().all(|c| c.is_ascii_lowercase()), "{w}");
            for spec in &USERS {
                let local = spec.upn.split('@').next().unwrap();
                assert!(!w.contains(local), "{w} contains {local}");
            }
        }
    }

    #[test]
    fn generated_passwords_pass_the_rules_and_differ() {
        let a = generate_password(&USERS[0]).unwrap();
        let b = generate_password(&USERS[0]).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.split('-').count(), 5, "{a}");
        authn::password::check_new_password(&SecretString::from(a), &[USERS[0].upn]).unwrap();
    }

    #[test]
    fn the_policies_parse() {
        let ids: Vec<String> = (0..USERS.len()).map(|i| format!("u{i}")).collect();
        let t = tenant(&ids, "g1", "g2").unwrap();
        assert_eq!(t.conditional_access_policies.len(), 3);
        assert_eq!(t.role_assignments.len(), 4);
        let findings = policy::validate(&policy::Engine::new(t));
        assert!(
            !findings
                .iter()
                .any(|f| f.severity == policy::Severity::Error),
            "{findings:?}"
        );
    }

    #[test]
    fn totp_code_matches_rfc_6238() {
        // RFC 6238 Appendix B: the SHA-1 secret "12345678901234567890", t = 59.
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        let at = DateTime::from_timestamp(59, 0).unwrap();
        assert_eq!(totp_code(secret, at).unwrap(), "287082");
    }
}
