//! Who calls the API: a bearer access token this provider issued (ES256, `typ: at+jwt`,
//! audience the issuer), whose browser session is still live and whose user is enabled.

use crate::access_token::{jwt_type, Refusal};
use crate::graph::error::GraphError;
use crate::state::AppState;
use axum::http::{header, HeaderMap, StatusCode};
use store::User;
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
    let header = jwt_type(&token);
    if !header.is_some_and(|t| t.eq_ignore_ascii_case("at+jwt")) {
        return Err(unauthorized("not an access token (typ at+jwt)"));
    }
    let (claims, user) = match crate::access_token::verify(state, &token).await {
        Ok(verified) => verified,
        Err(Refusal::Token(e)) => {
            return Err(unauthorized(&format!("the access token is not valid: {e}")))
        }
        Err(Refusal::Ended(why)) => return Err(unauthorized(why)),
        Err(Refusal::Server(e)) => return Err(e.into()),
    };
    Ok(Caller {
        user,
        claims,
        token,
    })
}
