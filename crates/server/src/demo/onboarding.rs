//! The rollout's first step: a temporary access pass for the eligible Global Administrator,
//! issued by the demo's administrator through the same service as the Graph API.

use super::*;

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
         password and a code, does not). Then open {issuer}/my/roles, sign in as {upn} with her \
         password and TOTP code, and Activate Global Administrator: the passkey is asked for, \
         and the role is active. A new pass is issued at every start until she has a key.",
        issued_by = pass.issued_by,
        upn = pass.user_principal_name,
        until = pass.expires_at.format("%Y-%m-%d %H:%M"),
        secret = pass.pass.expose_secret(),
    )
}
