//! Known devices: after a completed sign-in, the client's failures are forgotten and the browser
//! is remembered as a device of the account (the device cookie's tokens).

use super::*;

/// After a sign-in of `user_id` completed from `ip` in the browser sending `jar`: forgets the
/// failures of this account from this client, and remembers the browser as a known device of
/// the account (a new token in the device cookie, or, for a device already known, a later
/// expiry). Returns the device cookie to set, if it changed.
pub async fn sign_in_completed(
    state: &AppState,
    user_id: &str,
    ip: Option<IpAddr>,
    jar: &CookieJar,
) -> Result<Option<Cookie<'static>>, ServeError> {
    let now = state.now();
    let attempt = attempt(state, user_id, ip, jar).await?;
    // The address's counter for this account goes too: a sign-in from there just completed. A
    // read is cheaper than a write that waits for the disk: reset only a counter that exists.
    let mut counters = vec![(
        LockoutScope::AccountSource,
        format!("{user_id}/{}", attempt.address()),
    )];
    if attempt.device.is_some() {
        counters.push(attempt.client_counter());
    }
    for (scope, key) in counters {
        if state.store.get_lockout(scope, &key).await?.is_some() {
            state.store.reset_lockout(scope, &key).await?;
        }
    }
    let max_age = RECOGNITION.num_seconds();
    let tokens = device_tokens(jar);
    let value = match attempt.device {
        Some(device) if device.last_signed_in_at + TOUCH_EVERY > now => return Ok(None),
        Some(device) => {
            state
                .store
                .remember_device(&KnownDevice {
                    last_signed_in_at: now,
                    expires_at: now + RECOGNITION,
                    ..device
                })
                .await?;
            tokens.join(".")
        }
        None => {
            let token = random_token()?;
            state
                .store
                .remember_device(&KnownDevice {
                    id: store::new_id(),
                    token_hash: token_hash(&token),
                    user_id: user_id.to_string(),
                    created_at: now,
                    last_signed_in_at: now,
                    expires_at: now + RECOGNITION,
                })
                .await?;
            let keep = tokens.len().min(DEVICE_TOKENS - 1);
            let mut kept: Vec<&str> = tokens[tokens.len() - keep..].to_vec();
            kept.push(&token);
            kept.join(".")
        }
    };
    Ok(Some(cookie(
        DEVICE_COOKIE,
        value,
        state.secure_cookies,
        max_age,
    )))
}

/// The tokens of the device cookie: the last [`DEVICE_TOKENS`], each of the shape
/// [`random_token`] makes (anything else is not ours and is dropped).
pub(super) fn device_tokens(jar: &CookieJar) -> Vec<&str> {
    let Some(cookie) = jar.get(DEVICE_COOKIE) else {
        return Vec::new();
    };
    let tokens: Vec<&str> = cookie
        .value()
        .split('.')
        .filter(|t| {
            t.len() == 43
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .collect();
    let skip = tokens.len().saturating_sub(DEVICE_TOKENS);
    tokens[skip..].to_vec()
}
