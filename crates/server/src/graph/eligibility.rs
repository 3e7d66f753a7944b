//! `roleEligibilityScheduleRequests`: administrators make principals (users, role-assignable
//! groups) eligible for a role and end eligibility (see [`app::pim::admin`]); holders ask to
//! extend or renew theirs (see [`app::pim::extension`]); reading requests.

use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::error::GraphError;
use crate::graph::odata::{self, Accepts};
use crate::graph::pim_map::{
    admin_request, extension_request, filter_by_current_user, requests_context, requests_listed,
    to_value, REQUEST_FILTER,
};
use crate::state::AppState;
use app::authz::ManageRoles;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use pim::{Action, ScheduleKind, ScheduleRequest};
use serde_json::Value;
use std::sync::Arc;

const KIND: ScheduleKind = ScheduleKind::Eligibility;

/// `POST /v1.0/roleManagement/directory/roleEligibilityScheduleRequests`: administrators'
/// requests on eligibility, and holders' `selfExtend`/`selfRenew`.
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let request: ScheduleRequest = body.parse("a unifiedRoleEligibilityScheduleRequest")?;
    if matches!(request.action(), Action::SelfExtend | Action::SelfRenew) {
        return extension_request(&state, &caller, request, KIND).await;
    }
    admin_request(&state, &caller, request, KIND).await
}

/// `GET …/roleEligibilityScheduleRequests`: every one, newest first (active role
/// administrators only).
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    odata::parse(
        query.as_deref(),
        &Accepts {
            filter: REQUEST_FILTER,
            paging: true,
            expand: &[],
        },
    )?;
    caller.authorize::<ManageRoles>(&state).await?;
    requests_listed(&state, KIND, None, &uri, query.as_deref()).await
}

/// `GET …/roleEligibilityScheduleRequests/filterByCurrentUser(on='principal')` (the caller's
/// own requests), or one request by id (administrators: any; others: their own).
pub async fn item(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    uri: Uri,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    if let Some(valid) = filter_by_current_user(&segment) {
        valid?;
        return requests_listed(
            &state,
            KIND,
            Some(caller.user.id.clone()),
            &uri,
            query.as_deref(),
        )
        .await;
    }
    odata::parse(query.as_deref(), &Accepts::default())?;
    let record = match state.store.get_schedule_request(&segment).await {
        Ok(r) if r.kind == KIND => r,
        Ok(_) => return Err(GraphError::not_found("Request", &segment)),
        Err(e) if e.is_not_found() => return Err(GraphError::not_found("Request", &segment)),
        Err(e) => return Err(e.into()),
    };
    if record.request.principal_id != caller.user.id && !state.may::<ManageRoles>(&caller).await? {
        return Err(GraphError::not_found("Request", &segment));
    }
    Ok(Json(odata::entity(
        to_value(&record.request)?,
        format!("{}/$entity", requests_context(&state, KIND)),
    )))
}
