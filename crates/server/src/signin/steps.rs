//! The method steps of a sign-in: naming the user, password, TOTP, one-time codes, temporary
//! access pass. Each checks the locks first (see [`lockout`]), verifies, records the outcome,
//! and goes back to the page (which decides what is next).

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
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use chrono::Duration;
use policy::method::AuthenticationMethodMode as Mode;
use policy::registration::RegistrationProof;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use store::{Session, SessionAuthEvent, SignInResult};

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
        Ok(Attempt::new(&self.state, &user_id, self.circumstances.ip, &self.jar).await?)
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
    // reset when the sign-in completes (`lockout::signed_in`).
    let max_age = i64::from(state.config.lifetimes.session_hours) * 3600;
    Ok(jar.add(cookie(SESSION_COOKIE, token, state.secure_cookies, max_age)))
}

/// The sign-in name form.
#[derive(Debug, Deserialize)]
pub struct UsernameForm {
    /// `userPrincipalName`.
    pub username: String,
}

/// Names the user of the transaction.
pub async fn username(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(tx): Path<String>,
    jar: CookieJar,
    Form(form): Form<UsernameForm>,
) -> Result<Response, PageError> {
    let step = Step::load(state, peer, &headers, &tx, jar).await?;
    let name = form.username.trim();
    if name.is_empty() || name.len() > 256 {
        return step
            .again("Enter your sign-in name (for example alice@example.com).".into())
            .await;
    }
    let user = match step.state.store.get_user_by_upn(name).await {
        Ok(u) => u,
        Err(e) if e.is_not_found() => {
            return step
                .again(format!("No account is named '{name}'. Check the spelling."))
                .await
        }
        Err(e) => return Err(e.into()),
    };
    let now = step.state.now();
    if !step
        .state
        .store
        .set_transaction_user(&step.ctx.transaction.id, &user.id, now)
        .await?
    {
        return Err(PageError::bad_request(
            "This sign-in is over",
            "This sign-in already names another account, or has expired. Go back to the \
             application and start again.",
        ));
    }
    Ok((step.jar, Redirect::to(&step.ctx.page_path())).into_response())
}

/// Forgets the named user of a transaction ("not you?").
pub async fn restart(
    State(state): State<Arc<AppState>>,
    Path(tx): Path<String>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let ctx = SignInContext::load(&state, &tx, &jar).await?;
    // A new transaction for the same request: the old one keeps its user and is closed.
    let now = state.now();
    if !state
        .store
        .complete_transaction(&ctx.transaction.id, now)
        .await?
    {
        return Err(PageError::bad_request(
            "This sign-in is over",
            "Start again from the application.",
        ));
    }
    let fresh = store::SignInTransaction {
        id: random_token()?,
        user_id: None,
        created_at: now,
        completed_at: None,
        expires_at: now + crate::oidc::authorize::TRANSACTION_TTL,
        ..ctx.transaction.clone()
    };
    state.store.create_transaction(&fresh).await?;
    let jar = jar.add(crate::web::removal(SESSION_COOKIE, state.secure_cookies));
    Ok((jar, Redirect::to(&format!("/signin/{}", fresh.id))).into_response())
}

/// The password form.
#[derive(Deserialize)]
pub struct PasswordForm {
    /// The password.
    pub password: String,
}

/// Verifies the password (argon2id, off the async threads).
pub async fn password(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(tx): Path<String>,
    jar: CookieJar,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let step = Step::load(state, peer, &headers, &tx, jar).await?;
    let attempt = step.attempt().await?;
    let user_id = attempt.user_id.clone();
    if let Some(lock) = lockout::check(&step.state, &attempt).await? {
        return step.refuse(&Mode::Password, &lock).await;
    }
    let Some(stored) = step.state.store.get_password(&user_id).await? else {
        return step
            .again("This account has no password. Use another method below.".into())
            .await;
    };
    let candidate = SecretString::from(form.password);
    let hash = authn::password::PasswordHash::from_stored(stored.phc);
    let params = step.state.config.password;
    // argon2id is deliberately slow: off the async threads. A hash made under older parameters
    // is replaced while the password is at hand.
    let (verified, rehashed) = tokio::task::spawn_blocking(move || {
        let verified = authn::password::verify_password(&hash, &candidate)?;
        let rehashed = if verified && authn::password::needs_rehash(&hash, &params) {
            Some(authn::password::hash_password(&params, &candidate)?)
        } else {
            None
        };
        Ok::<_, authn::password::PasswordError>((verified, rehashed))
    })
    .await
    .map_err(|e| ServeError::Internal(format!("password check: {e}")))?
    .map_err(|e| ServeError::Internal(format!("stored password hash: {e}")))?;
    if !verified {
        return step
            .failed(&attempt, &Mode::Password, "Wrong password.".into())
            .await;
    }
    if let Some(new) = rehashed {
        step.state
            .store
            .set_password(&store::PasswordCredential {
                user_id: user_id.clone(),
                phc: new.as_str().to_string(),
                changed_at: stored.changed_at,
            })
            .await?;
        tracing::info!(user = %user_id, "password hash upgraded to the configured parameters");
    }
    step.succeeded(Performed::bare(Mode::Password)).await
}

/// The TOTP form.
#[derive(Deserialize)]
pub struct CodeForm {
    /// The six digits.
    pub code: String,
}

/// Verifies a TOTP code against each of the user's apps; a code is accepted once only (the
/// store advances the last used step atomically).
pub async fn totp(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(tx): Path<String>,
    jar: CookieJar,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    let step = Step::load(state, peer, &headers, &tx, jar).await?;
    let attempt = step.attempt().await?;
    let user_id = attempt.user_id.clone();
    if let Some(lock) = lockout::check(&step.state, &attempt).await? {
        return step.refuse(&Mode::SoftwareOath, &lock).await;
    }
    let now = step.state.now();
    let apps = step.state.store.list_totp(&user_id).await?;
    if apps.is_empty() {
        return step
            .again("This account has no authenticator app.".into())
            .await;
    }
    let mut reason = "Wrong code.".to_string();
    for app in apps {
        let secret = authn::secrecy::SecretSlice::from(app.secret.clone());
        match authn::totp::verify_totp(&secret, &form.code, now, Some(app.last_used_step)) {
            Ok(matched) => {
                if step.state.store.consume_totp_step(&app.id, matched).await? {
                    return step
                        .succeeded(Performed::with(
                            Mode::SoftwareOath,
                            &app.id,
                            Some(store::registration_of(&app.provenance)),
                        ))
                        .await;
                }
                reason = "This code has already been used. Wait for the next one.".into();
            }
            Err(authn::totp::TotpError::Malformed) => {
                return step
                    .again("Enter the six digits your app shows.".into())
                    .await
            }
            Err(authn::totp::TotpError::Replayed { .. }) => {
                reason = "This code has already been used. Wait for the next one.".into();
            }
            Err(_) => {}
        }
    }
    step.failed(&attempt, &Mode::SoftwareOath, reason).await
}

/// The "send me a code" form.
#[derive(Deserialize)]
pub struct SendForm {
    /// The phone number or address to send to (its id).
    pub contact_id: String,
}

/// Sends a one-time code by SMS, voice or e-mail (through the outbox).
pub async fn otp_send(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(tx): Path<String>,
    jar: CookieJar,
    Form(form): Form<SendForm>,
) -> Result<Response, PageError> {
    let step = Step::load(state, peer, &headers, &tx, jar).await?;
    let user_id = step.user_id()?;
    let contacts = step.state.store.list_contact_methods(&user_id).await?;
    let Some(contact) = contacts.into_iter().find(|c| c.id == form.contact_id) else {
        return step
            .again("That phone number or address is not registered to you.".into())
            .await;
    };
    // A code sent while locked would only be refused when entered.
    let attempt = step.attempt().await?;
    if let Some(lock) = lockout::check(&step.state, &attempt).await? {
        return step
            .refuse(&crate::outbox::otp_channel(contact.kind).mode(), &lock)
            .await;
    }
    let now = step.state.now();
    let challenge_id = uuid::Uuid::new_v4();
    let issued = authn::otp::issue_otp(&step.state.otp_key, challenge_id, now, OTP_TTL)
        .map_err(|e| ServeError::Internal(format!("one-time code: {e}")))?;
    step.state
        .store
        .create_otp(&store::OtpChallenge {
            id: challenge_id.to_string(),
            user_id: user_id.clone(),
            channel: contact.kind,
            code_hash: issued.code_hash.clone(),
            created_at: now,
            expires_at: issued.expires_at,
            attempts: 0,
            consumed_at: None,
        })
        .await?;
    let channel = crate::outbox::otp_channel(contact.kind);
    let body = authn::otp::otp_message(channel, &issued.code, "Portcullis");
    let sent = step
        .state
        .sender
        .send(
            channel,
            &contact.address,
            authn::secrecy::ExposeSecret::expose_secret(&body),
        )
        .await;
    if let Err(e) = sent {
        tracing::error!(user = %user_id, error = %e, "one-time code not sent");
        return step
            .again("The code could not be sent. Try another method, or again later.".into())
            .await;
    }
    tracing::info!(user = %user_id, channel = %contact.kind.as_str(), "one-time code sent");
    Ok((
        step.jar,
        Redirect::to(&format!("{}?otp={challenge_id}", step.ctx.page_path())),
    )
        .into_response())
}

/// The one-time code form.
#[derive(Deserialize)]
pub struct OtpForm {
    /// The challenge the code was sent for.
    pub challenge_id: String,
    /// The code.
    pub code: String,
}

/// Verifies a one-time code: attempts are counted in the store before the check, and a good
/// code is consumed atomically, so it works once.
pub async fn otp_verify(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(tx): Path<String>,
    jar: CookieJar,
    Form(form): Form<OtpForm>,
) -> Result<Response, PageError> {
    let step = Step::load(state, peer, &headers, &tx, jar).await?;
    let user_id = step.user_id()?;
    let now = step.state.now();
    let Ok(challenge_uuid) = uuid::Uuid::parse_str(&form.challenge_id) else {
        return step
            .again("That code request is not known; send a new code.".into())
            .await;
    };
    let challenge = match step.state.store.get_otp(&form.challenge_id).await {
        Ok(c) if c.user_id == user_id => c,
        Ok(_) => {
            return step
                .again("That code request is not known; send a new code.".into())
                .await
        }
        Err(e) if e.is_not_found() => {
            return step
                .again("That code request is not known; send a new code.".into())
                .await
        }
        Err(e) => return Err(e.into()),
    };
    let mode = crate::outbox::otp_channel(challenge.channel).mode();
    // Checked before the attempt is counted against the code: a refused guess is no guess.
    let attempt = step.attempt().await?;
    if let Some(lock) = lockout::check(&step.state, &attempt).await? {
        return step.refuse(&mode, &lock).await;
    }
    let Some(counted) = step
        .state
        .store
        .record_otp_attempt(&challenge.id, now, OTP_MAX_ATTEMPTS)
        .await?
    else {
        return step
            .failed(
                &attempt,
                &mode,
                "This code has expired, was used, or was guessed too often; send a new one.".into(),
            )
            .await;
    };
    let state_before = authn::otp::OtpState {
        code_hash: counted.code_hash.clone(),
        expires_at: counted.expires_at,
        attempts: u32::try_from(counted.attempts.saturating_sub(1)).unwrap_or(u32::MAX),
        consumed: counted.consumed_at.is_some(),
    };
    match authn::otp::verify_otp(
        &state_before,
        &form.code,
        now,
        &step.state.otp_key,
        challenge_uuid,
    ) {
        Ok(_) => {
            if !step.state.store.consume_otp(&challenge.id, now).await? {
                return step
                    .failed(&attempt, &mode, "This code has already been used.".into())
                    .await;
            }
            // The challenge does not name the number or address it went to: the weakest of
            // the user's on that channel stands for it, so that a number added with the
            // password alone never lends a better one its provenance.
            let contact = step
                .state
                .store
                .list_contact_methods(&user_id)
                .await?
                .into_iter()
                .filter(|c| c.kind == challenge.channel)
                .min_by_key(|c| store::registration_of(&c.provenance).rank());
            let performed = match contact {
                Some(c) => {
                    Performed::with(mode, &c.id, Some(store::registration_of(&c.provenance)))
                }
                None => Performed::bare(mode),
            };
            step.succeeded(performed).await
        }
        Err(rejected) => {
            step.failed(&attempt, &mode, rejected.reason.to_string())
                .await
        }
    }
}

/// The temporary access pass form.
#[derive(Deserialize)]
pub struct TapForm {
    /// The pass.
    pub pass: String,
}

/// Verifies a temporary access pass; a one-time pass is spent atomically.
pub async fn tap(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(tx): Path<String>,
    jar: CookieJar,
    Form(form): Form<TapForm>,
) -> Result<Response, PageError> {
    let step = Step::load(state, peer, &headers, &tx, jar).await?;
    let attempt = step.attempt().await?;
    let user_id = attempt.user_id.clone();
    if let Some(lock) = lockout::check(&step.state, &attempt).await? {
        return step.refuse(&Mode::TemporaryAccessPassOneTime, &lock).await;
    }
    let now = step.state.now();
    let candidate = SecretString::from(form.pass);
    let mut reason = "That temporary access pass is not valid.".to_string();
    for pass in step.state.store.list_taps(&user_id).await? {
        let stored = authn::tap::TapState {
            pass_hash: pass.pass_hash.clone(),
            starts_at: pass.starts_at,
            expires_at: pass.expires_at,
            usable_once: pass.is_usable_once,
            used_at: pass.used_at,
        };
        match authn::tap::verify_tap(&stored, &candidate, now) {
            Ok(_) => {
                if !step.state.store.consume_tap(&pass.id, now).await? {
                    reason = "That temporary access pass has already been used.".into();
                    break;
                }
                return step
                    .succeeded(Performed::with(pass.mode(), &pass.id, None))
                    .await;
            }
            Err(authn::tap::TapError::Mismatch) => {}
            Err(e) => {
                reason = format!("{e}.");
                break;
            }
        }
    }
    step.failed(&attempt, &Mode::TemporaryAccessPassOneTime, reason)
        .await
}
