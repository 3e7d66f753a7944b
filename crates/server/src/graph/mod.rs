//! The Microsoft Graph–compatible API (`/v1.0/…`): JSON in Graph shapes, Graph error bodies,
//! bearer access tokens from this provider.

pub mod activation;
pub mod auth;
pub mod error;
pub mod roles;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// The API's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/v1.0/roleManagement/directory/roleDefinitions",
            get(roles::list_definitions),
        )
        .route(
            "/v1.0/roleManagement/directory/roleDefinitions/{id}",
            get(roles::get_definition),
        )
        .route(
            "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests",
            post(activation::create),
        )
        .route(
            "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests/{id}",
            get(activation::get),
        )
}
