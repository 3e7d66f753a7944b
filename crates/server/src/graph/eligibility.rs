//! `roleEligibilityScheduleRequests`: administrators make principals (users, role-assignable
//! groups) eligible for a role and end eligibility (see [`app::pim::admin`]); holders ask to
//! extend or renew theirs (see [`app::pim::extension`]); reading requests.

use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::conditional_access::forced;
use crate::graph::error::GraphError;
use crate::graph::openapi as doc;
use crate::graph::pim_map::{admin_request, extension_request, request_item, requests_list};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use pim::{Action, ScheduleKind, ScheduleRequest};
use policy::ids::RequestId;
use serde_json::Value;
use std::sync::Arc;

const KIND: ScheduleKind = ScheduleKind::Eligibility;

/// `POST /v1.0/roleManagement/directory/roleEligibilityScheduleRequests[?force=true]`:
/// administrators' requests on eligibility (an `adminRemove` through the lockout guard), and
/// holders' `selfExtend`/`selfRenew`.
#[utoipa::path(
    post,
    path = "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests",
    tag = "pim",
    params(
        doc::Force,
    ),
    request_body = doc::NewScheduleRequest,
    responses(
        (status = 201, description = "The request as stored.", body = doc::ScheduleRequest),
        (status = 200, description = "A validation only: the request echoed.", body = doc::AnyObject),
    ),
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let guard = forced(query.as_deref())?;
    let request: ScheduleRequest = body.parse("a unifiedRoleEligibilityScheduleRequest")?;
    if matches!(request.action(), Action::SelfExtend | Action::SelfRenew) {
        return extension_request(&state, &caller, request, KIND).await;
    }
    admin_request(&state, &caller, request, KIND, guard).await
}

/// `GET …/roleEligibilityScheduleRequests`: every one, newest first (active role
/// administrators only).
#[utoipa::path(
    get,
    path = "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests",
    tag = "pim",
    params(
        doc::ListOptions,
    ),
    responses(
        (status = 200, description = "The requests, newest first.", body = doc::Collection<doc::ScheduleRequest>),
    ),
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    requests_list(&state, &caller, KIND, &uri, query.as_deref()).await
}

/// `GET …/roleEligibilityScheduleRequests/filterByCurrentUser(on='principal')` (the caller's
/// own requests), or one request by id (administrators: any; others: their own).
#[utoipa::path(
    get,
    path = "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests/{segment}",
    tag = "pim",
    params(
        ("segment" = String, Path, description = "A request id, or `filterByCurrentUser(on='principal')`."),
        doc::ListOptions,
    ),
    responses(
        (status = 200, description = "The request, or the caller's requests.", body = doc::OneOrCollection<doc::ScheduleRequest>),
    ),
)]
pub async fn item(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    uri: Uri,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    request_item(&state, &caller, KIND, &uri, &segment, query.as_deref()).await
}

/// `POST …/roleEligibilityScheduleRequests/{id}/cancel`: the holder withdraws a `selfExtend` or
/// `selfRenew` of an eligibility that still waits for an administrator. `204`; audited.
#[utoipa::path(
    post,
    path = "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests/{segment}/cancel",
    tag = "pim",
    params(
        ("segment" = String, Path, description = "The request id."),
    ),
    responses(
        (status = 204, description = "Cancelled."),
    ),
)]
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(segment): Path<String>,
) -> Result<StatusCode, GraphError> {
    // An id no request can have names none: not found, as in the assignment requests.
    let id = RequestId::parse(&segment).map_err(|_| GraphError::not_found("Request", &segment))?;
    app::pim::activation::cancel_of(&state, &caller, KIND, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
