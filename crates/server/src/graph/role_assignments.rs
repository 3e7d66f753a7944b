//! `/v1.0/roleManagement/directory/roleAssignments`: the active role assignments in force now,
//! and permanent ones made and removed directly (active role administrators only). A direct
//! assignment goes through the role's PIM rules like any administrator's request: see
//! [`app::pim::direct`].

use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::error::GraphError;
use crate::graph::odata::{self, Accepts};
use crate::graph::openapi as doc;
use crate::graph::pim_map::mfa_claim;
use crate::state::AppState;
use app::authz::ManageRoles;
use app::pim::direct;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

/// The properties `$filter` may name.
const FILTER: &[&str] = &["id", "principalId", "roleDefinitionId", "directoryScopeId"];

fn context(state: &AppState) -> String {
    format!(
        "{}/v1.0/$metadata#roleManagement/directory/roleAssignments",
        state.issuer
    )
}

/// A `unifiedRoleAssignment`.
fn render(a: &store::RoleAssignment) -> Value {
    json!({
        "id": a.id,
        "principalId": a.principal_id.as_str(),
        "roleDefinitionId": a.role_definition_id.as_str(),
        "directoryScopeId": a.directory_scope_id,
    })
}

/// `GET …/roleAssignments`, with `$filter` (`principalId`, `roleDefinitionId`, …), `$top`
/// and `$count`.
#[utoipa::path(
    get,
    path = "/v1.0/roleManagement/directory/roleAssignments",
    tag = "roles",
    params(
        doc::ListOptions,
    ),
    responses(
        (status = 200, description = "The direct role assignments.", body = doc::Collection<doc::RoleAssignment>),
    ),
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    let options = odata::list_options(query.as_deref(), FILTER)?;
    let admin = caller.authorize::<ManageRoles>(&state).await?;
    let held = direct::held_now(&state, &admin).await?;
    Ok(Json(odata::collection(
        context(&state),
        held.iter().map(render).collect(),
        &options,
        &state.issuer,
        uri.path(),
    )))
}

/// `GET …/roleAssignments/{id}`.
#[utoipa::path(
    get,
    path = "/v1.0/roleManagement/directory/roleAssignments/{id}",
    tag = "roles",
    params(
        ("id" = String, Path, description = "The assignment's id."),
    ),
    responses(
        (status = 200, description = "The assignment.", body = doc::RoleAssignment),
    ),
)]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    odata::parse(query.as_deref(), &Accepts::default())?;
    let admin = caller.authorize::<ManageRoles>(&state).await?;
    match direct::one(&state, &admin, &id).await? {
        Some(a) => Ok(Json(odata::entity(
            render(&a),
            format!("{}/$entity", context(&state)),
        ))),
        None => Err(GraphError::not_found("Role assignment", &id)),
    }
}

/// `POST …/roleAssignments`: `principalId`, `roleDefinitionId` and `directoryScopeId` (`/`);
/// `201` with the permanent active assignment made.
#[utoipa::path(
    post,
    path = "/v1.0/roleManagement/directory/roleAssignments",
    tag = "roles",
    request_body = doc::NewRoleAssignment,
    responses(
        (status = 201, description = "The permanent active assignment made.", body = doc::RoleAssignment),
    ),
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let admin = caller.authorize::<ManageRoles>(&state).await?;
    let body = body.object("a unifiedRoleAssignment")?;
    let mut problems = Vec::new();
    let mut text = |name: &str, required: bool| match body.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        None | Some(Value::Null) => {
            if required {
                problems.push(format!("{name} is required"));
            }
            None
        }
        Some(other) => {
            problems.push(format!("{name} is a string, not {other}"));
            None
        }
    };
    let principal = text("principalId", true);
    let role = text("roleDefinitionId", true);
    let scope = text("directoryScopeId", false);
    let (Some(principal), Some(role), true) = (principal, role, problems.is_empty()) else {
        return Err(GraphError::bad_request(
            "BadRequest",
            format!(
                "The body is not a unifiedRoleAssignment: {}.",
                problems.join("; ")
            ),
        ));
    };
    let made = direct::assign(
        &state,
        &admin,
        mfa_claim(&caller),
        principal,
        role,
        scope.as_deref(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(odata::entity(
            render(&made),
            format!("{}/$entity", context(&state)),
        )),
    ))
}

/// `DELETE …/roleAssignments/{id}`: `204`; the assignment ends now.
#[utoipa::path(
    delete,
    path = "/v1.0/roleManagement/directory/roleAssignments/{id}",
    tag = "roles",
    params(
        ("id" = String, Path, description = "The assignment's id."),
    ),
    responses(
        (status = 204, description = "The assignment ends now."),
    ),
)]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, GraphError> {
    let admin = caller.authorize::<ManageRoles>(&state).await?;
    direct::remove(&state, &admin, mfa_claim(&caller), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
