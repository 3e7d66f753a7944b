//! `roleDefinitions`: the directory roles.

use crate::graph::auth::Caller;
use crate::graph::error::GraphError;
use crate::graph::openapi as doc;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

fn definition(d: &store::RoleDefinition) -> Value {
    json!({
        "id": d.id,
        "templateId": d.id,
        "displayName": d.display_name,
        "description": d.description,
        "isBuiltIn": d.is_built_in,
        "isEnabled": true,
    })
}

/// `GET /v1.0/roleManagement/directory/roleDefinitions`.
#[utoipa::path(
    get,
    path = "/v1.0/roleManagement/directory/roleDefinitions",
    tag = "roles",
    responses(
        (status = 200, description = "The role definitions.", body = doc::Collection<doc::RoleDefinition>),
    ),
)]
pub async fn list_definitions(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
) -> Result<Json<Value>, GraphError> {
    let defs = state.store.list_role_definitions().await?;
    Ok(Json(json!({
        "@odata.context": format!("{}/v1.0/$metadata#roleManagement/directory/roleDefinitions", state.issuer),
        "value": defs.iter().map(definition).collect::<Vec<_>>(),
    })))
}

/// `GET /v1.0/roleManagement/directory/roleDefinitions/{id}`.
#[utoipa::path(
    get,
    path = "/v1.0/roleManagement/directory/roleDefinitions/{id}",
    tag = "roles",
    params(
        ("id" = String, Path, description = "The role's id (template id)."),
    ),
    responses(
        (status = 200, description = "The role definition.", body = doc::RoleDefinition),
    ),
)]
pub async fn get_definition(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, GraphError> {
    let defs = state.store.list_role_definitions().await?;
    defs.iter()
        .find(|d| d.id.eq_ignore_ascii_case(&id))
        .map(|d| Json(definition(d)))
        .ok_or_else(|| GraphError::not_found("Role definition", &id))
}
