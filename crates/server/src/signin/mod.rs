//! The sign-in pages: identify, then perform exactly the methods that Conditional Access still
//! requires, then return to the application with a code.

pub mod flow;
pub mod pages;

use crate::state::AppState;
use axum::Router;
use std::sync::Arc;

/// The sign-in routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
