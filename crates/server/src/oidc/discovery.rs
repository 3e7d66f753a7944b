//! Discovery (OpenID Connect Discovery 1.0 §3) and the JWKS that publishes the signing keys.

use crate::error::{OAuthError, ServeError};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

/// `GET /.well-known/openid-configuration`.
pub async fn configuration(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(document(&state.issuer))
}

/// The discovery document of the provider at `issuer`.
pub fn document(issuer: &str) -> Value {
    let mut acr_values: Vec<String> = ["phr", "mfa", "pwd"].map(String::from).to_vec();
    acr_values.extend((1..=99).map(|n| format!("c{n}")));
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "acrs", "sid",
            "preferred_username", "name",
        ],
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "acr_values_supported": acr_values,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
    })
}

/// `GET /jwks`: every key that verifies now (the active one and retired ones whose tokens may
/// still be live). Caches may keep it five minutes (relying parties fetch it again when a token
/// names a key they have not seen).
pub async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    let now = state.now();
    // The guard is dropped at the end of this statement, before anything awaits.
    let jwks = state.keys().jwks(now);
    match jwks {
        Ok(jwks) => ([(header::CACHE_CONTROL, "public, max-age=300")], Json(jwks)).into_response(),
        Err(e) => OAuthError::from(ServeError::from(e)).into_response(),
    }
}
