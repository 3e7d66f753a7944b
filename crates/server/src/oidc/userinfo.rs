//! Userinfo (placeholder until written).
use crate::state::AppState;
use axum::extract::State;
use std::sync::Arc;
/// Userinfo.
pub async fn userinfo(State(_s): State<Arc<AppState>>) -> axum::http::StatusCode {
    axum::http::StatusCode::NOT_IMPLEMENTED
}
