//! What the user knows or holds offline: the password and an authenticator app's code (TOTP).

use super::*;

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
    PageForm(form): PageForm<PasswordForm>,
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
    PageForm(form): PageForm<CodeForm>,
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
