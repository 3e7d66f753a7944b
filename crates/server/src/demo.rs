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

/// A directory role a demo user holds.
#[derive(Clone, Copy)]
enum Holding {
    None,
    Eligible(&'static str),
    Active(&'static str),
}

/// Which group a demo user is put in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Membership {
    None,
    Admins,
    BreakGlass,
}

struct UserSpec {
    upn: &'static str,
    display_name: &'static str,
    role: &'static str,
    totp: bool,
    holding: Holding,
    membership: Membership,
}

const USERS: [UserSpec; 5] = [
    UserSpec {
        upn: "alice@demo.portcullis.test",
        display_name: "Alice Martin",
        role:
            "Ordinary user: password and authenticator app (TOTP); every sign-in needs MFA (CA001)",
        totp: true,
        holding: Holding::None,
        membership: Membership::None,
    },
    UserSpec {
        upn: "adele@demo.portcullis.test",
        display_name: "Adele Vance",
        role: "Eligible (not active) Global Administrator; activating it is context c1, which \
               needs phishing-resistant MFA every time (CA010)",
        totp: true,
        holding: Holding::Eligible(GLOBAL_ADMINISTRATOR),
        membership: Membership::Admins,
    },
    UserSpec {
        upn: "priya@demo.portcullis.test",
        display_name: "Priya Raman",
        role: "Eligible (not active) Privileged Role Administrator",
        totp: true,
        holding: Holding::Eligible(PRIVILEGED_ROLE_ADMINISTRATOR),
        membership: Membership::Admins,
    },
    UserSpec {
        upn: ADMIN_UPN,
        display_name: "Demo Administrator",
        role: "Active Privileged Role Administrator",
        totp: true,
        holding: Holding::Active(PRIVILEGED_ROLE_ADMINISTRATOR),
        membership: Membership::Admins,
    },
    UserSpec {
        upn: "breakglass@demo.portcullis.test",
        display_name: "Break-glass account",
        role: "Active Global Administrator for emergencies: password only, excluded from every \
               Conditional Access policy",
        totp: false,
        holding: Holding::Active(GLOBAL_ADMINISTRATOR),
        membership: Membership::BreakGlass,
    },
];

/// What the demo seeding created: everything needed to sign in as each demo user.
///
/// It holds passwords and TOTP secrets, so `Debug` leaves them out; the file
/// [`write_credentials_file`] writes is readable by its owner only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoCredentials {
    /// The issuer the demo was seeded under.
    pub issuer: String,
    /// The demo client's id.
    pub client_id: String,
    /// The demo client's redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The demo users.
    pub users: Vec<DemoUser>,
}

/// One demo user's sign-in name and credentials.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoUser {
    /// Sign-in name.
    pub user_principal_name: String,
    /// Name shown to people.
    pub display_name: String,
    /// What the user holds and shows.
    pub role: String,
    /// The password.
    pub password: String,
    /// The TOTP secret in base32, for typing into an authenticator app; `None` for a user
    /// without one.
    pub totp_secret: Option<String>,
    /// The `otpauth://` URI of the TOTP secret (what a QR code would carry).
    pub otpauth_uri: Option<String>,
}

impl std::fmt::Debug for DemoCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoCredentials")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uris", &self.redirect_uris)
            .field("users", &self.users)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for DemoUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Passwords and secrets stay out of logs.
        f.debug_struct("DemoUser")
            .field("user_principal_name", &self.user_principal_name)
            .field("display_name", &self.display_name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl DemoCredentials {
    /// The demo user with this sign-in name (compared regardless of case).
    pub fn user(&self, upn: &str) -> Option<&DemoUser> {
        self.users
            .iter()
            .find(|u| u.user_principal_name.eq_ignore_ascii_case(upn.trim()))
    }
}

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

/// The demo tenant: users (ids in [`USERS`] order), groups, role assignments, authentication
/// contexts and policies.
fn tenant(
    user_ids: &[String],
    admins_group: &str,
    break_glass_group: &str,
) -> Result<Tenant, ServeError> {
    let mut tenant = Tenant::default();
    let mut admins = Vec::new();
    let mut break_glass = Vec::new();
    for (spec, id) in USERS.iter().zip(user_ids) {
        tenant.users.push(User {
            id: id.clone(),
            user_principal_name: Some(spec.upn.into()),
            display_name: Some(spec.display_name.into()),
            account_enabled: Some(true),
            user_type: Some("Member".into()),
            ..User::default()
        });
        match spec.membership {
            Membership::Admins => admins.push(MemberRef::Id(id.clone())),
            Membership::BreakGlass => break_glass.push(MemberRef::Id(id.clone())),
            Membership::None => {}
        }
        let (role, status) = match spec.holding {
            Holding::None => continue,
            Holding::Eligible(role) => (role, AssignmentStatus::Eligible),
            Holding::Active(role) => (role, AssignmentStatus::Active),
        };
        tenant.role_assignments.push(RoleAssignment {
            // None: the store derives the id from principal, role, scope and status, so that
            // a repeated seeding does not duplicate it.
            id: None,
            principal_id: id.clone(),
            role_definition_id: role.into(),
            directory_scope_id: Some("/".into()),
            status,
            extra: policy::Extra::default(),
        });
    }
    for (id, name, members) in [
        (admins_group, ADMINS_GROUP, admins),
        (break_glass_group, BREAK_GLASS_GROUP, break_glass),
    ] {
        tenant.groups.push(Group {
            id: id.into(),
            display_name: Some(name.into()),
            is_assignable_to_role: Some(false),
            members,
            extra: policy::Extra::default(),
        });
    }
    tenant.authentication_context_class_references = vec![
        context(
            "c1",
            "PIM activation of privileged roles",
            "Step-up before a privileged directory role is activated",
        ),
        context(
            "c2",
            "Sensitive actions",
            "Step-up before a sensitive operation (changing policies, reading secrets)",
        ),
    ];
    let everyone_but_break_glass = json!({
        "includeUsers": ["All"],
        "excludeGroups": [break_glass_group],
    });
    let every_time = json!({
        "isEnabled": true,
        "frequencyInterval": "everyTime",
        "authenticationType": "primaryAndSecondaryAuthentication",
    });
    let documents = [
        json!({
            "id": POLICY_MFA,
            "displayName": "CA001 Require MFA for all users",
            "state": "enabled",
            "conditions": {
                "users": everyone_but_break_glass,
                "applications": { "includeApplications": ["All"] },
                "clientAppTypes": ["all"],
            },
            "grantControls": { "operator": "OR", "builtInControls": ["mfa"] },
        }),
        json!({
            "id": POLICY_PIM_ACTIVATION,
            "displayName": "CA010 PIM activation: phishing-resistant MFA, every time",
            "state": "enabled",
            "conditions": {
                "users": everyone_but_break_glass,
                "applications": { "includeAuthenticationContextClassReferences": ["c1"] },
                "clientAppTypes": ["all"],
            },
            "grantControls": {
                "operator": "OR",
                "authenticationStrength": { "id": PHISHING_RESISTANT_MFA_STRENGTH_ID },
            },
            "sessionControls": { "signInFrequency": every_time },
        }),
        json!({
            "id": POLICY_SENSITIVE_ACTIONS,
            "displayName": "CA020 Sensitive actions: MFA every time",
            "state": "enabled",
            "conditions": {
                "users": everyone_but_break_glass,
                "applications": { "includeAuthenticationContextClassReferences": ["c2"] },
                "clientAppTypes": ["all"],
            },
            "grantControls": { "operator": "OR", "builtInControls": ["mfa"] },
            "sessionControls": { "signInFrequency": every_time },
        }),
    ];
    for document in documents {
        let policy: ConditionalAccessPolicy = serde_json::from_value(document)
            .map_err(|e| ServeError::Internal(format!("demo policy: {e}")))?;
        tenant.conditional_access_policies.push(policy);
    }
    Ok(tenant)
}

fn context(id: &str, name: &str, description: &str) -> AuthenticationContextClassReference {
    AuthenticationContextClassReference {
        id: id.into(),
        display_name: Some(name.into()),
        description: Some(description.into()),
        is_available: Some(true),
        ..AuthenticationContextClassReference::default()
    }
}

/// 256 short, distinct, unambiguous words: one random byte picks one.
const WORDS: [&str; 256] = [
    "acorn",
    "almond",
    "amber",
    "anchor",
    "apple",
    "apron",
    "arrow",
    "aspen",
    "atlas",
    "badge",
    "badger",
    "bagel",
    "bamboo",
    "banjo",
    "barley",
    "basil",
    "beacon",
    "beaver",
    "berry",
    "birch",
    "biscuit",
    "bison",
    "blossom",
    "bluebird",
    "bobcat",
    "bramble",
    "breeze",
    "brook",
    "bucket",
    "buffalo",
    "butter",
    "button",
    "cabin",
    "cactus",
    "camel",
    "candle",
    "canoe",
    "canyon",
    "carrot",
    "cashew",
    "cedar",
    "cello",
    "chalk",
    "cherry",
    "chestnut",
    "cider",
    "cinder",
    "citrus",
    "clover",
    "cobalt",
    "cobra",
    "coconut",
    "comet",
    "compass",
    "cookie",
    "copper",
    "coral",
    "cornet",
    "cotton",
    "cougar",
    "crane",
    "crayon",
    "cricket",
    "crystal",
    "cuckoo",
    "cypress",
    "dahlia",
    "daisy",
    "dingo",
    "dolphin",
    "dragon",
    "drum",
    "dune",
    "eagle",
    "ember",
    "emerald",
    "falcon",
    "feather",
    "fennel",
    "fern",
    "ferret",
    "fiddle",
    "finch",
    "firefly",
    "fjord",
    "flamingo",
    "flint",
    "forest",
    "fossil",
    "galaxy",
    "garnet",
    "gecko",
    "geyser",
    "ginger",
    "glacier",
    "goblet",
    "gopher",
    "granite",
    "grape",
    "gravel",
    "hammock",
    "hamster",
    "harbor",
    "hazel",
    "hedgehog",
    "heron",
    "hickory",
    "honey",
    "horizon",
    "hornet",
    "iceberg",
    "igloo",
    "iris",
    "island",
    "ivory",
    "jackal",
    "jaguar",
    "jasmine",
    "jellyfish",
    "juniper",
    "kayak",
    "kernel",
    "kestrel",
    "kettle",
    "kiwi",
    "koala",
    "ladder",
    "lagoon",
    "lantern",
    "lemon",
    "lilac",
    "linen",
    "lobster",
    "locket",
    "lotus",
    "lynx",
    "magnet",
    "mammoth",
    "manatee",
    "mango",
    "maple",
    "marble",
    "marigold",
    "meadow",
    "melon",
    "mermaid",
    "meteor",
    "mint",
    "mitten",
    "moose",
    "mosaic",
    "moss",
    "muffin",
    "mustang",
    "narwhal",
    "nebula",
    "nectar",
    "nettle",
    "nugget",
    "nutmeg",
    "oasis",
    "oatmeal",
    "ocean",
    "octopus",
    "olive",
    "onyx",
    "orbit",
    "orchid",
    "osprey",
    "otter",
    "oyster",
    "paddle",
    "pancake",
    "panda",
    "panther",
    "papaya",
    "parrot",
    "peach",
    "peanut",
    "pebble",
    "pelican",
    "penguin",
    "pepper",
    "pigeon",
    "pine",
    "planet",
    "plum",
    "pollen",
    "poppy",
    "pretzel",
    "prism",
    "puffin",
    "pumpkin",
    "python",
    "quartz",
    "quill",
    "quiver",
    "rabbit",
    "raccoon",
    "radish",
    "raisin",
    "raven",
    "reef",
    "rhubarb",
    "ribbon",
    "river",
    "robin",
    "rocket",
    "saddle",
    "saffron",
    "salmon",
    "sandal",
    "sapphire",
    "sardine",
    "satchel",
    "saturn",
    "scallop",
    "scarf",
    "seagull",
    "sequoia",
    "shadow",
    "shell",
    "sierra",
    "silver",
    "sparrow",
    "spruce",
    "squid",
    "stone",
    "summit",
    "sunset",
    "swan",
    "tango",
    "teapot",
    "thistle",
    "thunder",
    "tiger",
    "timber",
    "tomato",
    "topaz",
    "tulip",
    "tundra",
    "turnip",
    "turtle",
    "umbrella",
    "valley",
    "velvet",
    "violet",
    "walnut",
    "walrus",
    "willow",
    "window",
    "winter",
    "wizard",
    "yarrow",
    "zebra",
    "zephyr",
];

/// A random, readable password that the password rules accept for this user: four words and
/// three digits, e.g. `Maple-Otter-Quartz-Lantern-427` (32 bits from the words, nearly 10 from
/// the digits).
fn generate_password(spec: &UserSpec) -> Result<String, ServeError> {
    let local = spec.upn.split('@').next().unwrap_or(spec.upn);
    let inputs = [spec.upn, local, spec.display_name];
    for _ in 0..64 {
        let mut bytes = [0u8; 6];
        getrandom::fill(&mut bytes)
            .map_err(|e| ServeError::Internal(format!("no randomness: {e}")))?;
        let number = u16::from_le_bytes([bytes[4], bytes[5]]);
        // 64 000 is a multiple of 1 000: reject above it so that every number is as likely.
        if number >= 64_000 {
            continue;
        }
        let mut candidate: Vec<String> = bytes[..4]
            .iter()
            .map(|&b| capitalise(WORDS[usize::from(b)]))
            .collect();
        candidate.push(format!("{:03}", number % 1000));
        let candidate = candidate.join("-");
        if authn::password::check_new_password(&SecretString::from(candidate.clone()), &inputs)
            .is_ok()
        {
            return Ok(candidate);
        }
    }
    Err(ServeError::Internal(format!(
        "no acceptable password could be generated for {}",
        spec.upn
    )))
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The current code of a TOTP secret given in base32 (as in [`DemoUser::totp_secret`]), at
/// `at`: what an authenticator app would show.
pub fn totp_code(secret_base32: &str, at: DateTime<Utc>) -> Result<String, ServeError> {
    let secret = totp_rs::Secret::Encoded(secret_base32.trim().to_uppercase())
        .to_bytes()
        .map_err(|e| ServeError::Internal(format!("TOTP secret is not base32: {e:?}")))?;
    let seconds = u64::try_from(at.timestamp())
        .map_err(|_| ServeError::Internal(format!("time {at} is before 1970")))?;
    let step = u64::try_from(authn::totp::STEP_SECONDS)
        .map_err(|_| ServeError::Internal("TOTP step".into()))?;
    let totp = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        authn::totp::DIGITS,
        1,
        step,
        secret,
        None,
        String::new(),
    );
    Ok(totp.generate(seconds))
}

/// Role settings of the demo: activating Global Administrator or Privileged Role Administrator
/// requires authentication context c1 (which CA010 answers with phishing-resistant MFA, every
/// time). Other roles keep the defaults (an MFA claim check), which `portcullis lint` flags.
async fn require_c1_for_privileged_roles(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<(), ServeError> {
    for role in [
        policy::directory::GLOBAL_ADMINISTRATOR,
        policy::directory::PRIVILEGED_ROLE_ADMINISTRATOR,
    ] {
        let (mut settings, version) = match store.get_role_policy(role).await? {
            Some(stored) => (stored.policy, stored.version),
            None => (pim::RoleManagementPolicy::default_for(role, now), 0),
        };
        settings
            .patch_rule(
                "AuthenticationContext_EndUser_Assignment",
                &json!({
                    "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
                    "id": "AuthenticationContext_EndUser_Assignment",
                    "isEnabled": true,
                    "claimValue": "c1"
                }),
                now,
                None,
            )
            .map_err(|e| ServeError::Internal(format!("demo role settings: {e}")))?;
        store.put_role_policy(&settings, version).await?;
    }
    Ok(())
}

/// Writes `creds` as JSON to [`CREDENTIALS_FILE`] in `dir`, readable and writable by the owner
/// only (mode 0600, also when the file already existed), and returns its path.
pub fn write_credentials_file(dir: &Path, creds: &DemoCredentials) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    std::fs::create_dir_all(dir)?;
    let path = dir.join(CREDENTIALS_FILE);
    let json = serde_json::to_string_pretty(creds).map_err(std::io::Error::other)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    // `mode` applies only when the file is created: tighten an existing one too.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(json.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(path)
}

/// Reads the credentials file [`write_credentials_file`] wrote in `dir`.
pub fn read_credentials_file(dir: &Path) -> std::io::Result<DemoCredentials> {
    let text = std::fs::read_to_string(dir.join(CREDENTIALS_FILE))?;
    serde_json::from_str(&text).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// A temporary access pass the demo's administrator issued, for onboarding a passkey.
#[derive(Clone)]
pub struct OnboardingPass {
    /// Whose it is.
    pub user_principal_name: String,
    /// The pass itself (shown once; only its hash is kept).
    pub pass: SecretString,
    /// Until when it works.
    pub expires_at: DateTime<Utc>,
    /// The administrator who issued it.
    pub issued_by: String,
}

impl std::fmt::Debug for OnboardingPass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnboardingPass")
            .field("user_principal_name", &self.user_principal_name)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The rollout's first step for the eligible Global Administrator (`adele@…`): while she has no
/// passkey or security key that counts for the phishing-resistant context c1, the demo's
/// administrator (`admin@…`) issues her a one-time temporary access pass, valid 8 hours, in
/// place of any earlier pass of hers (audited like an administrator's issue over the API).
/// `None` once she has a key that counts.
pub async fn onboarding_pass(state: &AppState) -> Result<Option<OnboardingPass>, ServeError> {
    let store = &state.store;
    let now = state.now();
    let (Ok(adele), Ok(admin)) = (
        store.get_user_by_upn(USERS[1].upn).await,
        store.get_user_by_upn(USERS[3].upn).await,
    ) else {
        return Ok(None);
    };
    let counts = store.list_methods(&adele.id, now).await?.iter().any(|m| {
        m.method.is_phishing_resistant()
            && m.registration()
                .is_some_and(|r| r.vouches_for_phishing_resistance())
    });
    if counts {
        return Ok(None);
    }
    // The demo's administrator issues the pass through the same service as the API, so it
    // needs the same permission: an active role administrator (as the demo seeds her).
    let allowed = match state
        .core
        .authorize::<app::authz::ManageRoles>(&app::Caller::new(admin))
        .await
    {
        Ok(allowed) => allowed,
        Err(app::authz::AuthorizeError::Denied(d)) => {
            tracing::warn!(reason = %d, "the demo's administrator cannot issue an onboarding pass");
            return Ok(None);
        }
        Err(app::authz::AuthorizeError::Store(e)) => return Err(e.into()),
    };
    let issued = state
        .core
        .issue_access_pass(
            &allowed,
            &adele.id,
            app::access_pass::PassRequest {
                lifetime_minutes: Some(8 * 60),
                usable_once: Some(true),
                replace: true,
                reason: Some("portcullis demo: onboarding a passkey for context c1".into()),
                ..app::access_pass::PassRequest::default()
            },
        )
        .await
        .map_err(|e| ServeError::Internal(format!("demo temporary access pass: {e}")))?;
    Ok(Some(OnboardingPass {
        user_principal_name: issued.user.user_principal_name,
        pass: issued.pass,
        expires_at: issued.method.expires_at,
        issued_by: allowed.caller().user.user_principal_name.clone(),
    }))
}

/// How to use the onboarding pass, for a terminal.
pub fn print_onboarding(pass: &OnboardingPass, issuer: &str) -> String {
    format!(
        "Onboarding (the rollout's first step): {issued_by} issued {upn} a one-time temporary \
         access pass, valid until {until} UTC:\n\n    {secret}\n\nOpen {issuer}/account, sign \
         in as {upn} with the pass, and register a passkey or security key: registered under \
         an administrator's pass, it counts for context c1 (a key added with a password, or a \
         password and a code, does not). A new pass is issued at every start until she has one.",
        issued_by = pass.issued_by,
        upn = pass.user_principal_name,
        until = pass.expires_at.format("%Y-%m-%d %H:%M"),
        secret = pass.pass.expose_secret(),
    )
}

/// How to sign in to the demo, for a terminal: where to go, every user with role and
/// password, and how to get a TOTP code.
pub fn print_instructions(creds: &DemoCredentials, issuer: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    // Writing to a String cannot fail.
    let mut line = |text: String| {
        let _ = writeln!(out, "{text}");
    };
    line("Portcullis demo tenant".into());
    line(String::new());
    line(format!(
        "  Try it:        {issuer}/demo  (an OIDC client: sign in, then step up to c1 or c2)"
    ));
    line(format!(
        "  Security info: {issuer}/account  (register a passkey, a security key or an app)"
    ));
    line(format!(
        "  Issuer:        {issuer}  (discovery: {issuer}/.well-known/openid-configuration)"
    ));
    line(format!(
        "  Client:        {}  (public, PKCE S256; redirect URIs include {issuer}/demo/callback \
         and {LOCAL_REDIRECT_URI})",
        creds.client_id
    ));
    line(String::new());
    line("Users:".into());
    for u in &creds.users {
        line(String::new());
        line(format!("  {}  ({})", u.user_principal_name, u.display_name));
        line(format!("    {}", u.role));
        line(format!("    password:    {}", u.password));
        match &u.totp_secret {
            Some(secret) => {
                line(format!(
                    "    TOTP secret: {secret}  (base32, for an authenticator app)"
                ));
                line(format!(
                    "    TOTP code:   portcullis demo totp {}",
                    u.user_principal_name
                ));
            }
            None => line("    no second factor".into()),
        }
    }
    line(String::new());
    line(
        "A TOTP code: add the secret to an authenticator app, or run `portcullis demo totp UPN` \
         (with the same --data-dir)."
            .into(),
    );
    line(
        "Context c1 asks for a phishing-resistant method (a passkey or security key), which \
         the demo users do not have at first: an administrator's temporary access pass lets \
         them register one under Security info that counts (below). Passkeys need the issuer \
         to be https:// or http://localhost (open localhost, not 127.0.0.1)."
            .into(),
    );
    out
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
