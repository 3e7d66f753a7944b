//! `/v1.0/groups`: the directory's groups and their direct members in Graph's shapes. Anyone
//! signed in reads them; Global, User and Privileged Role Administrators create and delete
//! groups and change their members (`members/$ref`), and a role-assignable group takes a
//! Privileged Role or Global Administrator (see [`app::groups`]). Removing a member or deleting a group that would
//! leave no eligible Global Administrator able to activate goes through the lockout guard
//! (`?force=true`).

use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::conditional_access::forced;
use crate::graph::error::GraphError;
use crate::graph::odata::{self, Accepts, QueryError};
use crate::graph::openapi as doc;
use crate::state::AppState;
use app::authz::ManageGroups;
use app::groups::{GroupError, Member};
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;
use store::Group;

/// The properties `$filter` may name.
const FILTER: &[&str] = &["id", "displayName", "isAssignableToRole"];

impl From<GroupError> for GraphError {
    fn from(e: GroupError) -> Self {
        GraphError::from_service(e.code(), e)
    }
}

/// A group in Graph's shape. An imported group is served with every field it was exported
/// with (its `createdDateTime` in its home tenant, `mailNickname`, …); what Portcullis holds
/// itself (id, name, whether it is role-assignable) is the stored value.
fn render(group: &Group) -> Value {
    let mut value = group.extra.clone();
    // An exported `"isAssignableToRole": null` stays null (the flag is false then).
    let assignable = match value.get("isAssignableToRole") {
        Some(Value::Null) if !group.is_assignable_to_role => Value::Null,
        _ => Value::Bool(group.is_assignable_to_role),
    };
    let defaults = [
        ("securityEnabled", json!(true)),
        ("mailEnabled", json!(false)),
        (
            "createdDateTime",
            json!(group
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        ),
    ];
    for (key, default) in defaults {
        value.entry(key).or_insert(default);
    }
    value.insert("@odata.type".into(), json!("#microsoft.graph.group"));
    value.insert("id".into(), json!(group.id));
    value.insert("displayName".into(), json!(group.display_name));
    value.insert("isAssignableToRole".into(), assignable);
    Value::Object(value)
}

fn render_member(member: &Member) -> Value {
    match member {
        Member::Group(g) => render(g),
        Member::User(u) => json!({
            "@odata.type": "#microsoft.graph.user",
            "id": u.id,
            "userPrincipalName": u.user_principal_name,
            "displayName": u.display_name,
        }),
    }
}

/// `GET /v1.0/groups`, with `$filter`, `$top` and `$count`.
#[utoipa::path(
    get,
    path = "/v1.0/groups",
    tag = "directory",
    params(
        doc::ListOptions,
    ),
    responses(
        (status = 200, description = "The groups.", body = doc::Collection<doc::Group>),
    ),
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    let options = odata::list_options(query.as_deref(), FILTER)?;
    let groups = state.groups(&caller).await?;
    Ok(Json(odata::collection(
        format!("{}/v1.0/$metadata#groups", state.issuer),
        groups.iter().map(render).collect(),
        &options,
        &state.issuer,
        uri.path(),
    )))
}

/// `GET /v1.0/groups/{id}`.
#[utoipa::path(
    get,
    path = "/v1.0/groups/{id}",
    tag = "directory",
    params(
        ("id" = String, Path, description = "The resource's id."),
    ),
    responses(
        (status = 200, description = "The group.", body = doc::Group),
    ),
)]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    odata::parse(query.as_deref(), &Accepts::default())?;
    let group = state.group(&caller, &id).await?;
    Ok(Json(odata::entity(
        render(&group),
        format!("{}/v1.0/$metadata#groups/$entity", state.issuer),
    )))
}

/// `GET /v1.0/groups/{id}/members`: direct members, users and groups.
#[utoipa::path(
    get,
    path = "/v1.0/groups/{id}/members",
    tag = "directory",
    params(
        ("id" = String, Path, description = "The resource's id."),
        doc::ListOptions,
    ),
    responses(
        (status = 200, description = "The direct members.", body = doc::Collection<doc::DirectoryObject>),
    ),
)]
pub async fn members(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    let options = odata::list_options(query.as_deref(), &["id", "displayName"])?;
    let members = state.group_members(&caller, &id).await?;
    Ok(Json(odata::collection(
        format!("{}/v1.0/$metadata#directoryObjects", state.issuer),
        members.iter().map(render_member).collect(),
        &options,
        &state.issuer,
        uri.path(),
    )))
}

/// `POST /v1.0/groups`: `displayName`, `isAssignableToRole`; `201` with the group.
#[utoipa::path(
    post,
    path = "/v1.0/groups",
    tag = "directory",
    request_body = doc::NewGroup,
    responses(
        (status = 201, description = "The group.", body = doc::Group),
    ),
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let allowed = caller.authorize::<ManageGroups>(&state).await?;
    let body = body.object("a group")?;
    let name = body
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let assignable = match body.get("isAssignableToRole") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(GroupError::Invalid(vec![format!(
                "isAssignableToRole is true or false, not {other}"
            )])
            .into())
        }
    };
    let group = state.create_group(&allowed, name, assignable).await?;
    Ok((StatusCode::CREATED, Json(render(&group))))
}

/// `PATCH /v1.0/groups/{id}`: `displayName` (`isAssignableToRole` cannot change, as in
/// Graph); `204`.
#[utoipa::path(
    patch,
    path = "/v1.0/groups/{id}",
    tag = "directory",
    params(
        ("id" = String, Path, description = "The resource's id."),
    ),
    request_body = doc::GroupPatch,
    responses(
        (status = 204, description = "Changed."),
    ),
)]
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<StatusCode, GraphError> {
    let allowed = caller.authorize::<ManageGroups>(&state).await?;
    let body = body.object("a group")?;
    let mut problems = Vec::new();
    let mut name = None;
    for (key, value) in body.as_object().into_iter().flatten() {
        match (key.as_str(), value) {
            ("displayName", Value::String(s)) => name = Some(s.clone()),
            ("displayName", other) => {
                problems.push(format!("displayName is a string, not {other}"))
            }
            ("isAssignableToRole", _) => problems
                .push("isAssignableToRole is set when a group is created and cannot change".into()),
            (k, _) if k.starts_with("@odata.") => {}
            (k, _) => problems.push(format!(
                "'{k}' cannot be changed here (writable: displayName)"
            )),
        }
    }
    if !problems.is_empty() {
        return Err(GroupError::Invalid(problems).into());
    }
    if let Some(name) = name {
        state.rename_group(&allowed, &id, &name).await?;
    } else {
        // Nothing to change; the group must still exist.
        state.group(&caller, &id).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1.0/groups/{id}[?force=true]`: `204`.
#[utoipa::path(
    delete,
    path = "/v1.0/groups/{id}",
    tag = "directory",
    params(
        ("id" = String, Path, description = "The resource's id."),
        doc::Force,
    ),
    responses(
        (status = 204, description = "Deleted."),
    ),
)]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, GraphError> {
    let allowed = caller.authorize::<ManageGroups>(&state).await?;
    let guard = forced(query.as_deref())?;
    state.delete_group(&allowed, &id, guard).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The id a `$ref` body names: `{"@odata.id": ".../directoryObjects/{id}"}` (or `…/users/{id}`,
/// `…/groups/{id}`), the last path segment.
fn referenced_id(body: &Value) -> Result<String, QueryError> {
    body.get("@odata.id")
        .and_then(Value::as_str)
        .and_then(|r| r.trim_end_matches('/').rsplit('/').next())
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            QueryError(
                "The body needs @odata.id: the URL of the user or group to add, such as \
                 https://graph.microsoft.com/v1.0/directoryObjects/{id}."
                    .into(),
            )
        })
}

/// `POST /v1.0/groups/{id}/members/$ref`: `204`.
#[utoipa::path(
    post,
    path = "/v1.0/groups/{id}/members/$ref",
    tag = "directory",
    params(
        ("id" = String, Path, description = "The resource's id."),
    ),
    request_body = doc::Reference,
    responses(
        (status = 204, description = "Added."),
    ),
)]
pub async fn add_member(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<StatusCode, GraphError> {
    let allowed = caller.authorize::<ManageGroups>(&state).await?;
    let body = body.object("a reference")?;
    let member = referenced_id(&body)?;
    state.add_group_member(&allowed, &id, &member).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1.0/groups/{id}/members/{member}/$ref[?force=true]`: `204`.
#[utoipa::path(
    delete,
    path = "/v1.0/groups/{id}/members/{member}/$ref",
    tag = "directory",
    params(
        ("id" = String, Path, description = "The resource's id."),
        ("member" = String, Path, description = "The member's id."),
        doc::Force,
    ),
    responses(
        (status = 204, description = "Removed."),
    ),
)]
pub async fn remove_member(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, member)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, GraphError> {
    let allowed = caller.authorize::<ManageGroups>(&state).await?;
    let guard = forced(query.as_deref())?;
    state
        .remove_group_member(&allowed, &id, &member, guard)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
