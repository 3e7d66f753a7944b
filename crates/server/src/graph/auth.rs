//! Who calls the API: a bearer access token this provider issued (ES256, `typ: at+jwt`,
//! audience the issuer), whose browser session is still live and whose user is enabled.
//!
//! [`Caller`] is an axum extractor: a handler that takes one cannot run for an unauthenticated
//! request, and one that needs a permission gets it from [`Caller::authorize`] — the services
//! of `app` take the resulting [`app::Authorized`] value, so a forgotten check does not compile.

use crate::access_token::{jwt_type, Refusal};
use crate::graph::error::GraphError;
use crate::state::AppState;
use app::authz::AuthorizeError;
use app::{Authorized, Permission};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use std::sync::Arc;
use tokens::AccessTokenClaims;

/// An authenticated caller of the API: the user (as the application core knows callers) and the
/// access token that authenticated them.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller as the services take it.
    pub caller: app::Caller,
    /// The access token's claims.
    pub claims: AccessTokenClaims,
    /// The raw token (a step-up proof is the token itself).
    pub token: String,
}

impl std::ops::Deref for Caller {
    type Target = app::Caller;
    fn deref(&self) -> &app::Caller {
        &self.caller
    }
}

impl Caller {
    /// The permission `P`, if the caller actively holds a role that grants it now; otherwise
    /// `403 Authorization_RequestDenied` saying which roles are needed.
    pub async fn authorize<P: Permission>(
        &self,
        state: &AppState,
    ) -> Result<Authorized<P>, GraphError> {
        state
            .core
            .authorize::<P>(&self.caller)
            .await
            .map_err(denied)
    }
}

/// The Graph error for a failed authorization check.
pub fn denied(e: AuthorizeError) -> GraphError {
    match e {
        AuthorizeError::Denied(d) => GraphError::forbidden(d.message),
        AuthorizeError::Store(e) => e.into(),
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = GraphError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        caller(state, &parts.headers).await
    }
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
        caller: app::Caller::new(user),
        claims,
        token,
    })
}
