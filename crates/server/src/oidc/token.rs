//! Token endpoint (placeholder until written).
use crate::state::AppState;
use axum::extract::State;
use std::sync::Arc;
/// Token endpoint.
pub async fn token(State(_s): State<Arc<AppState>>) -> axum::http::StatusCode {
    axum::http::StatusCode::NOT_IMPLEMENTED
}
