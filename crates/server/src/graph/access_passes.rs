//! Temporary access passes issued by an administrator (Graph
//! `temporaryAccessPassAuthenticationMethod`): `POST`, `GET` and `DELETE`
//! `/v1.0/users/{id | userPrincipalName}/authentication/temporaryAccessPassMethods[/{id}]`.
//!
//! A pass lets a user who has no method yet — or none strong enough — sign in to security info
//! and register a passkey. Only an active role administrator issues one; the pass is shown once,
//! in the answer to the `POST`, and only its hash is kept. A user holds one usable pass at a
//! time, as in Entra. Issuing and deleting are audited in the same transaction. A lifetime
//! (`lifetimeInMinutes`) is 10 to 480 minutes; any other number is refused before it becomes a
//! duration. The rules and the audit are the service's ([`app::access_pass`]); this face parses
//! the request and renders Graph JSON.

use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::error::GraphError;
use crate::graph::openapi as doc;
use crate::state::AppState;
use app::access_pass::{PassError, PassRequest, Usability};
use app::authz::ManageRoles;
use authn::secrecy::ExposeSecret;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use store::TemporaryAccessPass;

const ODATA_TYPE: &str = "#microsoft.graph.temporaryAccessPassAuthenticationMethod";

impl From<PassError> for GraphError {
    fn from(e: PassError) -> Self {
        GraphError::from_service(e.code(), e)
    }
}

fn render(pass: &TemporaryAccessPass, now: DateTime<Utc>) -> Value {
    let usability = Usability::of(pass, now);
    json!({
        "@odata.type": ODATA_TYPE,
        "id": pass.id,
        "createdDateTime": pass.created_at.to_rfc3339(),
        "startDateTime": pass.starts_at.to_rfc3339(),
        "lifetimeInMinutes": (pass.expires_at - pass.starts_at).num_minutes(),
        "isUsableOnce": pass.is_usable_once,
        "isUsable": usability.is_usable(),
        "methodUsabilityReason": usability.as_str(),
    })
}

/// The body of an issue request (every field optional).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IssueRequest {
    #[serde(default, rename = "@odata.type")]
    _odata_type: Option<String>,
    #[serde(default)]
    start_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    lifetime_in_minutes: Option<i64>,
    #[serde(default)]
    is_usable_once: Option<bool>,
}

/// `POST …/temporaryAccessPassMethods`: `201` with the pass (shown this once).
#[utoipa::path(
    post,
    path = "/v1.0/users/{id}/authentication/temporaryAccessPassMethods",
    tag = "directory",
    params(
        ("id" = String, Path, description = "The user's id or userPrincipalName."),
    ),
    request_body = doc::NewTemporaryAccessPass,
    responses(
        (status = 201, description = "The pass, shown this once.", body = doc::TemporaryAccessPass),
    ),
)]
pub async fn issue(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let allowed = caller.authorize::<ManageRoles>(&state).await?;
    let request: IssueRequest = body
        .parse_optional(
            "a temporaryAccessPassAuthenticationMethod (startDateTime, lifetimeInMinutes, \
             isUsableOnce)",
        )?
        .unwrap_or_default();
    let request = PassRequest {
        starts_at: request.start_date_time,
        lifetime_minutes: request.lifetime_in_minutes,
        usable_once: request.is_usable_once,
        ..PassRequest::default()
    };
    let issued = state.core.issue_access_pass(&allowed, &id, request).await?;
    let mut body = render(&issued.method, state.now());
    body["temporaryAccessPass"] = Value::String(issued.pass.expose_secret().to_string());
    Ok((StatusCode::CREATED, Json(body)))
}

/// `GET …/temporaryAccessPassMethods`: the user's passes (never the pass itself).
#[utoipa::path(
    get,
    path = "/v1.0/users/{id}/authentication/temporaryAccessPassMethods",
    tag = "directory",
    params(
        ("id" = String, Path, description = "The user's id or userPrincipalName."),
    ),
    responses(
        (status = 200, description = "The user's passes (without the pass itself).", body = doc::Collection<doc::TemporaryAccessPass>),
    ),
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, GraphError> {
    let allowed = caller.authorize::<ManageRoles>(&state).await?;
    let (target, passes) = state.core.access_passes(&allowed, &id).await?;
    let now = state.now();
    Ok(Json(json!({
        "@odata.context": format!("{}/v1.0/$metadata#users('{}')/authentication/temporaryAccessPassMethods", state.issuer, target.id),
        "value": passes.iter().map(|p| render(p, now)).collect::<Vec<_>>(),
    })))
}

/// `DELETE …/temporaryAccessPassMethods/{passId}`: `204`.
#[utoipa::path(
    delete,
    path = "/v1.0/users/{id}/authentication/temporaryAccessPassMethods/{pass_id}",
    tag = "directory",
    params(
        ("id" = String, Path, description = "The user's id or userPrincipalName."),
        ("pass_id" = String, Path, description = "The pass's id."),
    ),
    responses(
        (status = 204, description = "Deleted."),
    ),
)]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, pass_id)): Path<(String, String)>,
) -> Result<StatusCode, GraphError> {
    let allowed = caller.authorize::<ManageRoles>(&state).await?;
    state
        .core
        .delete_access_pass(&allowed, &id, &pass_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
