//! Checking a bearer access token this provider issued, for every endpoint that takes one
//! (`/userinfo`, the Graph API): ES256 signature by a key still verifying, issuer and audience
//! (both the issuer URL), lifetime, a still-live browser session named by `sid`, and an enabled
//! user. Each endpoint words its own refusal.

use crate::error::ServeError;
use crate::state::AppState;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use store::User;
use tokens::keys::{Expectation, TokenError};
use tokens::AccessTokenClaims;

/// Why a token is not accepted.
#[derive(Debug)]
pub enum Refusal {
    /// The token itself does not verify.
    Token(TokenError),
    /// It verifies, but what it stands for is gone (a sentence for the caller).
    Ended(&'static str),
    /// The service failed.
    Server(ServeError),
}

/// The `typ` of a JWT's header, read without verifying anything (the signature check that
/// follows covers the header too).
pub fn jwt_type(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("typ")?.as_str().map(str::to_string)
}

/// Verifies `token` at the service's current time; returns its claims and its user.
pub async fn verify(state: &AppState, token: &str) -> Result<(AccessTokenClaims, User), Refusal> {
    let now = state.now();
    let expect = Expectation {
        issuer: &state.issuer,
        audience: &state.issuer,
        now,
    };
    // One statement: the keys' read guard is gone before anything awaits.
    let verified = state.keys().verify::<AccessTokenClaims>(token, &expect);
    let claims = verified.map_err(Refusal::Token)?;
    let ended = Refusal::Ended("the sign-in session of this token has ended");
    match state.store.get_session_by_sid(&claims.sid).await {
        Ok(s) if s.is_live_at(now) && s.user_id == claims.sub => {}
        Ok(_) => return Err(ended),
        Err(e) if e.is_not_found() => return Err(ended),
        Err(e) => return Err(Refusal::Server(e.into())),
    }
    let user = match state.store.get_user(&claims.sub).await {
        Ok(u) if u.account_enabled => u,
        Ok(_) => return Err(Refusal::Ended("the account is disabled")),
        Err(e) if e.is_not_found() => return Err(Refusal::Ended("the account no longer exists")),
        Err(e) => return Err(Refusal::Server(e.into())),
    };
    Ok((claims, user))
}
