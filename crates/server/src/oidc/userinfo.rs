//! The UserInfo endpoint (OIDC Core §5.3): the claims of the user an access token was issued
//! for, while the browser session it came from is live.
//!
//! The token comes as `Authorization: Bearer …` or, in a form body, as `access_token` (RFC 6750
//! §2.1, §2.2); errors are RFC 6750 §3 challenges.

use crate::access_token::{jwt_type, Refusal};
use crate::error::{OAuthError, ServeError};
use crate::oidc::token::{form_params, has_scope, is_form};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::sync::Arc;
use tokens::keys::TokenError;

/// `GET` or `POST /userinfo`.
pub async fn userinfo(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match claims(&state, &method, &headers, &body).await {
        Ok(claims) => ([(header::CACHE_CONTROL, "no-store")], Json(claims)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// What the endpoint answers.
#[derive(Debug, Serialize)]
struct UserInfo {
    sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<String>,
    amr: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    acrs: Vec<String>,
    auth_time: i64,
}

async fn claims(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<UserInfo, BearerError> {
    let token = bearer_token(method, headers, body)?;
    if !jwt_type(&token).is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    }) {
        return Err(BearerError::InvalidToken(
            "not an access token (typ at+jwt)",
        ));
    }
    let (claims, user) = match crate::access_token::verify(state, &token).await {
        Ok(verified) => verified,
        Err(Refusal::Token(e)) => return Err(BearerError::InvalidToken(describe(&e))),
        Err(Refusal::Ended(why)) => return Err(BearerError::InvalidToken(why)),
        Err(Refusal::Server(e)) => return Err(BearerError::Server(e)),
    };
    if !has_scope(&claims.scope, "openid") {
        return Err(BearerError::InsufficientScope);
    }
    let profile = has_scope(&claims.scope, "profile");
    Ok(UserInfo {
        sub: claims.sub,
        preferred_username: profile.then(|| user.user_principal_name.clone()),
        name: profile.then(|| user.display_name.clone()),
        email: has_scope(&claims.scope, "email").then(|| user.user_principal_name.clone()),
        acr: claims.acr,
        amr: claims.amr,
        acrs: claims.acrs,
        auth_time: claims.auth_time,
    })
}

/// The access token of the request: from the `Authorization` header, or (POST with a form
/// body) the `access_token` field; never both.
fn bearer_token(method: &Method, headers: &HeaderMap, body: &[u8]) -> Result<String, BearerError> {
    let mut authorization = headers.get_all(header::AUTHORIZATION).iter();
    let first = authorization.next();
    if authorization.next().is_some() {
        return Err(BearerError::InvalidRequest(
            "the Authorization header is repeated",
        ));
    }
    let from_header = match first {
        None => None,
        Some(value) => {
            let value = value.to_str().map_err(|_| {
                BearerError::InvalidRequest("the Authorization header is not readable")
            })?;
            let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
            if scheme.eq_ignore_ascii_case("bearer") {
                let token = token.trim();
                if token.is_empty() {
                    return Err(BearerError::InvalidRequest(
                        "the Authorization header has no token",
                    ));
                }
                Some(token.to_string())
            } else {
                // Another scheme: no bearer credentials at all (RFC 6750 §3.1).
                None
            }
        }
    };
    let from_body = if method == Method::POST && is_form(headers) {
        form_params(body)
            .map_err(|_| BearerError::InvalidRequest("a form parameter is repeated"))?
            .remove("access_token")
    } else {
        None
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(BearerError::InvalidRequest(
            "the access token was sent twice (header and body): use one method",
        )),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(BearerError::Missing),
    }
}

fn describe(e: &TokenError) -> &'static str {
    match e {
        TokenError::Expired => "the access token has expired",
        TokenError::NotYetValid => "the access token is not yet valid",
        TokenError::BadSignature => "the access token's signature does not verify",
        TokenError::UnknownKey => "the access token was signed by an unknown or retired key",
        TokenError::WrongIssuer => "the access token was issued by another issuer",
        TokenError::WrongAudience => "the access token is meant for another audience",
        TokenError::Malformed(_) | TokenError::NoActiveKey | TokenError::CorruptKey(_) => {
            "the access token is malformed"
        }
    }
}

/// An RFC 6750 §3 error.
#[derive(Debug)]
enum BearerError {
    /// No token at all: a bare challenge.
    Missing,
    /// 400 `invalid_request`.
    InvalidRequest(&'static str),
    /// 401 `invalid_token`.
    InvalidToken(&'static str),
    /// 403 `insufficient_scope`.
    InsufficientScope,
    /// The service failed.
    Server(ServeError),
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let (status, error, description) = match self {
            BearerError::Server(e) => return OAuthError::from(e).into_response(),
            BearerError::Missing => {
                let mut response = StatusCode::UNAUTHORIZED.into_response();
                let headers = response.headers_mut();
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"portcullis\""),
                );
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                return response;
            }
            BearerError::InvalidRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d),
            BearerError::InvalidToken(d) => (StatusCode::UNAUTHORIZED, "invalid_token", d),
            BearerError::InsufficientScope => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "the access token's scope lacks 'openid'",
            ),
        };
        // The descriptions are fixed texts without quotes or backslashes (RFC 6750 §3).
        let challenge = format!(
            "Bearer realm=\"portcullis\", error=\"{error}\", error_description=\"{description}\""
        );
        let mut response = (
            status,
            Json(serde_json::json!({
                "error": error,
                "error_description": description,
            })),
        )
            .into_response();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
