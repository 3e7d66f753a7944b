//! The token endpoint (RFC 6749 §3.2): an authorization code or a refresh token in; an ID token,
//! a JWT access token and, with `offline_access`, a refresh token out.
//!
//! - **Clients** authenticate with HTTP Basic (`client_secret_basic`) or form fields
//!   (`client_secret_post`); a public client sends its `client_id` alone, never a secret.
//! - **Codes** are single-use (redeemed atomically by the store). A redeemed code presented again
//!   is a replay: the refresh tokens its redemption started are revoked (RFC 6749 §4.1.2).
//! - **Refresh tokens** rotate at every use; presenting a used one again revokes every token of
//!   the grant. A refresh needs the browser session still live and Conditional Access still
//!   granting the application.
//! - **Errors** are RFC 6749 §5.2 JSON; nothing here panics on a malformed request.
//!
//! Clients are authenticated in `client`, codes redeemed in `code`, refresh tokens rotated in
//! `refresh`, tokens signed in `issue`; this module routes a request to its grant.

use crate::error::{OAuthError, ServeError};
use crate::oidc::clients::hash_secret;
use crate::signin::flow::Circumstances;
use crate::state::AppState;
use crate::web::{pkce_s256, random_token, same, token_hash};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use store::{OidcClient, RefreshToken, Rotation, Session, User};
use tokens::{AccessTokenClaims, IdTokenClaims};

mod client;
mod code;
mod issue;
mod refresh;
use client::*;
/// Reached by the fuzz targets (`fuzz/`), not by other modules.
#[doc(hidden)]
pub use client::{credentials, Credentials};
pub use client::{form_params, is_form};
use code::*;
use issue::*;
use refresh::*;

/// `POST /token`.
pub async fn token(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let circumstances = Circumstances {
        ip: Some(peer.ip()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    };
    let (grant_type, outcome) = exchange(&state, &headers, &body, &circumstances).await;
    match outcome {
        Ok(issued) => {
            state.metrics.token(grant_type, "success");
            issued.into_response()
        }
        Err(e) => {
            state.metrics.token(grant_type, e.error);
            e.into_response()
        }
    }
}

/// The grant type (as a metrics label: only known values) and the outcome of a token request.
async fn exchange(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    circumstances: &Circumstances,
) -> (&'static str, Result<Issued, OAuthError>) {
    let params = match read_form(headers, body) {
        Ok(p) => p,
        Err(e) => return ("unknown", Err(e)),
    };
    let grant_type = match params.get("grant_type").map(String::as_str) {
        Some("authorization_code") => "authorization_code",
        Some("refresh_token") => "refresh_token",
        Some(other) => {
            return (
                "unsupported",
                Err(OAuthError::bad_request(
                    "unsupported_grant_type",
                    format!(
                        "grant_type '{}' is not supported; use authorization_code or \
                         refresh_token",
                        shorten(other)
                    ),
                )),
            )
        }
        None => return ("unknown", Err(invalid_request("grant_type is required"))),
    };
    let outcome = async {
        let client = authenticate(state, headers, &params).await?;
        let now = state.now();
        match grant_type {
            "authorization_code" => redeem_code(state, &client, &params, now).await,
            _ => refresh(state, &client, &params, circumstances, now).await,
        }
    }
    .await;
    (grant_type, outcome)
}

/// The authentication a grant carries, as kept in a refresh token's `claims`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Authentication {
    /// Seconds since the epoch.
    auth_time: i64,
    #[serde(default)]
    acr: Option<String>,
    #[serde(default)]
    amr: Vec<String>,
    #[serde(default)]
    acrs: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/// Whether a space-separated scope contains `scope`.
pub fn has_scope(scopes: &str, scope: &str) -> bool {
    scopes.split(' ').any(|s| s == scope)
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters.
fn is_pkce_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn required<'a>(params: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    params
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| invalid_request(format!("{name} is required")))
}

fn invalid_request(description: impl Into<String>) -> OAuthError {
    OAuthError::bad_request("invalid_request", description)
}

fn invalid_grant(description: impl Into<String>) -> OAuthError {
    OAuthError::bad_request("invalid_grant", description)
}

/// A value echoed in an error, cut to a readable length.
fn shorten(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_decode_as_rfc_6749_section_2_3_1_says() {
        assert_eq!(form_decode("a%3Ab+c%25").as_deref(), Some("a:b c%"));
        assert_eq!(form_decode("plain").as_deref(), Some("plain"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%ff"), None);
    }

    #[test]
    fn repeated_parameters_are_refused_and_empty_ones_ignored() {
        assert!(form_params(b"a=1&a=2").is_err());
        let params = form_params(b"a=&a=2&b=x%20y").unwrap_or_default();
        assert_eq!(params.get("a").map(String::as_str), Some("2"));
        assert_eq!(params.get("b").map(String::as_str), Some("x y"));
    }

    #[test]
    fn a_refresh_may_only_narrow_the_scope() {
        let granted = "openid profile offline_access";
        assert_eq!(
            narrowed_scope(granted, Some(&"openid openid".to_string())).ok(),
            Some("openid".to_string())
        );
        assert_eq!(
            narrowed_scope(granted, None).ok(),
            Some(granted.to_string())
        );
        assert!(narrowed_scope(granted, Some(&"openid email".to_string())).is_err());
    }

    #[test]
    fn pkce_verifiers_are_checked_for_shape() {
        assert!(is_pkce_verifier(&"a".repeat(43)));
        assert!(is_pkce_verifier(&"-._~".repeat(32)));
        assert!(!is_pkce_verifier(&"a".repeat(42)));
        assert!(!is_pkce_verifier(&"a".repeat(129)));
        assert!(!is_pkce_verifier(&format!("{}+", "a".repeat(43))));
    }
}
