//! Who calls the API: a bearer access token this provider issued (ES256, `typ: at+jwt`,
//! audience the issuer), whose browser session is still live and whose user is enabled.

use crate::graph::error::GraphError;
use crate::state::AppState;
use axum::http::{header, HeaderMap, StatusCode};
use store::User;
use tokens::keys::Expectation;
use tokens::AccessTokenClaims;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: User,
    /// The access token's claims.
    pub claims: AccessTokenClaims,
    /// The raw token (a step-up proof is the token itself).
    pub token: String,
}

fn unauthorized(message: &str) -> GraphError {
    let mut e = GraphError::new(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
        message,
    );
    e.challenges.push(format!(
        "Bearer realm=\"portcullis\", error=\"invalid_token\", error_description=\"{}\"",
        message.replace('"', "'")
    ));
    e
}

/// Authenticates the request's bearer token.
pub async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, GraphError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            let mut e = GraphError::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token is empty.",
            );
            e.challenges.push("Bearer realm=\"portcullis\"".into());
            e
        })?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized("the Authorization header is not a bearer token"))?
        .to_string();
    let now = state.now();
    let expect = Expectation {
        issuer: &state.issuer,
        audience: &state.issuer,
        now,
    };
    let header = jsonwebtoken_typ(&token);
    if !header.is_some_and(|t| t.eq_ignore_ascii_case("at+jwt")) {
        return Err(unauthorized("not an access token (typ at+jwt)"));
    }
    let claims: AccessTokenClaims = state
        .keys()
        .verify(&token, &expect)
        .map_err(|e| unauthorized(&format!("the access token is not valid: {e}")))?;
    match state.store.get_session_by_sid(&claims.sid).await {
        Ok(s) if s.is_live_at(now) && s.user_id == claims.sub => {}
        Ok(_) => return Err(unauthorized("the sign-in session of this token has ended")),
        Err(e) if e.is_not_found() => {
            return Err(unauthorized("the sign-in session of this token has ended"))
        }
        Err(e) => return Err(e.into()),
    }
    let user = match state.store.get_user(&claims.sub).await {
        Ok(u) if u.account_enabled => u,
        Ok(_) => return Err(unauthorized("the account is disabled")),
        Err(e) if e.is_not_found() => return Err(unauthorized("the account no longer exists")),
        Err(e) => return Err(e.into()),
    };
    Ok(Caller {
        user,
        claims,
        token,
    })
}

/// The `typ` of a JWT's header, unverified (checked again by the signature verification).
fn jsonwebtoken_typ(token: &str) -> Option<String> {
    use base64::Engine as _;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("typ")?.as_str().map(str::to_string)
}
