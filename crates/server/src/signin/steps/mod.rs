//! The method steps of a sign-in: naming the user, password, TOTP, one-time codes, temporary
//! access pass. Each checks the locks first (see [`lockout`]), verifies, records the outcome,
//! and goes back to the page (which decides what is next).

use crate::error::PageForm;
use crate::error::{PageError, ServeError};
use crate::signin::context::SignInContext;
use crate::signin::flow::Circumstances;
use crate::signin::lockout::{self, Attempt, Lock};
use crate::signin::{circumstances, log_signin, proceed};
use crate::state::AppState;
use crate::web::{cookie, random_token, token_hash, SESSION_COOKIE};
use authn::secrecy::SecretString;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use chrono::Duration;
use policy::method::AuthenticationMethodMode as Mode;
use policy::registration::RegistrationProof;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use store::{Session, SessionAuthEvent, SignInResult};

mod name;
mod otp;
mod secret;
mod tap;
pub use name::{restart, username, UsernameForm};
pub use otp::{otp_send, otp_verify, OtpForm, SendForm};
pub use secret::{password, totp, CodeForm, PasswordForm};
pub use tap::{tap, TapForm};

/// One-time codes live this long.
const OTP_TTL: Duration = Duration::minutes(10);
/// Wrong guesses a one-time code survives.
const OTP_MAX_ATTEMPTS: i64 = 5;

/// The request a step handler works on.
struct Step {
    state: Arc<AppState>,
    ctx: SignInContext,
    jar: CookieJar,
    circumstances: Circumstances,
}

impl Step {
    async fn load(
        state: Arc<AppState>,
        peer: SocketAddr,
        headers: &HeaderMap,
        tx: &str,
        jar: CookieJar,
    ) -> Result<Step, PageError> {
        let ctx = SignInContext::load(&state, tx, &jar).await?;
        Ok(Step {
            circumstances: circumstances(peer, headers),
            state,
            ctx,
            jar,
        })
    }

    fn user_id(&self) -> Result<String, PageError> {
        self.ctx
            .user
            .as_ref()
            .map(|u| u.id.clone())
            .ok_or_else(|| PageError::bad_request("Who are you?", "Enter your sign-in name first."))
    }

    /// Shows the page again with `message`.
    async fn again(self, message: String) -> Result<Response, PageError> {
        proceed(
            &self.state,
            self.ctx,
            self.jar,
            &self.circumstances,
            Some(message),
            None,
        )
        .await
    }

    /// The attempt on the named user from this browser and address.
    async fn attempt(&self) -> Result<Attempt, PageError> {
        let user_id = self.user_id()?;
        Ok(lockout::attempt(&self.state, &user_id, self.circumstances.ip, &self.jar).await?)
    }

    /// Refuses an attempt of `method` under `lock` without checking anything: the refusal is in
    /// the sign-in log (every failure is), but counts nowhere, since nothing was guessed.
    async fn refuse(self, method: &Mode, lock: &Lock) -> Result<Response, PageError> {
        log_signin(
            &self.state,
            &self.ctx,
            &self.circumstances,
            SignInResult::Failure,
            Some(format!(
                "Refused before checking the credential. {}",
                lock.describe()
            )),
            vec![method.to_string()],
            serde_json::Value::Array(Vec::new()),
        )
        .await?;
        self.again(lock.message()).await
    }

    /// Counts a failure of `attempt` (see [`lockout::count_failure`]), logs it with the locks it
    /// started, and shows the page again.
    async fn failed(
        self,
        attempt: &Attempt,
        method: &Mode,
        reason: String,
    ) -> Result<Response, PageError> {
        let started = lockout::count_failure(&self.state, attempt).await?;
        let logged = lockout::logged_failure(reason.clone(), &started);
        log_signin(
            &self.state,
            &self.ctx,
            &self.circumstances,
            SignInResult::Failure,
            Some(logged),
            vec![method.to_string()],
            serde_json::Value::Array(Vec::new()),
        )
        .await?;
        // The person learns of a lock on this client now, not at the next attempt. The account
        // throttle does not refuse this client when it is recognised, so it is not announced.
        let shown = std::iter::once(reason)
            .chain(
                started
                    .iter()
                    .filter(|l| !matches!(l, Lock::AccountFromUnrecognised { .. }))
                    .map(Lock::message),
            )
            .collect::<Vec<_>>()
            .join(" ");
        self.again(shown).await
    }

    /// Records a method performed for this transaction in the user's session (creating the
    /// session, or rotating its cookie), and goes back to the page.
    async fn succeeded(self, performed: Performed) -> Result<Response, PageError> {
        let jar = record_method(&self.state, &self.ctx, self.jar, performed).await?;
        Ok((jar, Redirect::to(&self.ctx.page_path())).into_response())
    }
}

/// A method just performed, with the credential behind it.
#[derive(Debug, Clone)]
pub struct Performed {
    /// Its mode.
    pub method: Mode,
    /// The authenticator model, for WebAuthn.
    pub aaguid: Option<String>,
    /// Whether the authenticator verified the user.
    pub user_verified: bool,
    /// The credential's id (an app's, a passkey's, a pass's), when there is one.
    pub credential_id: Option<String>,
    /// How that credential was registered, for credentials that keep it.
    pub registration: Option<RegistrationProof>,
}

impl Performed {
    /// A method with no credential record behind it (the password).
    pub fn bare(method: Mode) -> Performed {
        Performed {
            method,
            aaguid: None,
            user_verified: false,
            credential_id: None,
            registration: None,
        }
    }

    /// A method performed with the credential `id`.
    pub fn with(method: Mode, id: &str, registration: Option<RegistrationProof>) -> Performed {
        Performed {
            credential_id: Some(id.to_string()),
            registration,
            ..Performed::bare(method)
        }
    }
}

/// Records a method in the user's session (see [`Step`]); returns the jar with the new session
/// cookie.
pub async fn record_method(
    state: &AppState,
    ctx: &SignInContext,
    jar: CookieJar,
    performed: Performed,
) -> Result<CookieJar, PageError> {
    let now = state.now();
    let user_id = ctx
        .user
        .as_ref()
        .map(|u| u.id.clone())
        .ok_or_else(|| ServeError::Internal("a method without a user".into()))?;
    let token = random_token()?;
    let new_id = token_hash(&token);
    let event = SessionAuthEvent {
        id: store::new_id(),
        session_id: new_id.clone(),
        method: performed.method,
        performed_at: now,
        aaguid: performed.aaguid,
        user_verified: performed.user_verified,
        transaction_id: Some(ctx.transaction.id.clone()),
        credential_id: performed.credential_id,
        registration: performed.registration,
    };
    // The session and its event in one transaction: one commit per sign-in step.
    match &ctx.session {
        Some(old) if old.user_id == user_id => {
            state
                .store
                .rotate_session_with_event(&old.id, &new_id, now, &event)
                .await?;
        }
        _ => {
            let hours = i64::from(state.config.lifetimes.session_hours);
            state
                .store
                .create_session_with_event(
                    &Session {
                        id: new_id.clone(),
                        sid: store::new_id(),
                        user_id: user_id.clone(),
                        created_at: now,
                        last_seen_at: now,
                        expires_at: now + Duration::hours(hours),
                        revoked_at: None,
                    },
                    &event,
                )
                .await?;
        }
    }
    // No failure counter is reset here: one method is not a sign-in, and resetting on it would
    // let someone who knows the password reopen guessing of the second factor. Counters are
    // reset when the sign-in completes (`lockout::sign_in_completed`).
    let max_age = i64::from(state.config.lifetimes.session_hours) * 3600;
    Ok(jar.add(cookie(SESSION_COOKIE, token, state.secure_cookies, max_age)))
}
