//! Discovery and JWKS (placeholder until written).
use crate::state::AppState;
use axum::extract::State;
use std::sync::Arc;
/// Discovery document.
pub async fn configuration(State(_s): State<Arc<AppState>>) -> axum::http::StatusCode {
    axum::http::StatusCode::NOT_IMPLEMENTED
}
/// JWKS.
pub async fn jwks(State(_s): State<Arc<AppState>>) -> axum::http::StatusCode {
    axum::http::StatusCode::NOT_IMPLEMENTED
}
