//! End-session (placeholder until written).
use crate::state::AppState;
use axum::extract::State;
use std::sync::Arc;
/// End-session.
pub async fn end_session(State(_s): State<Arc<AppState>>) -> axum::http::StatusCode {
    axum::http::StatusCode::NOT_IMPLEMENTED
}
