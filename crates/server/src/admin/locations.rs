//! placeholder

use crate::state::AppState;
use axum::Router;
use std::sync::Arc;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
