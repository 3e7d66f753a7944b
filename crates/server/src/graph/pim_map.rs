//! What the PIM handler files share, so that none imports another: the mapping of the PIM
//! services' refusals and failures to Graph errors, the `filterByCurrentUser` path segment,
//! the listing of schedule requests, and the answers to the requests two collections take
//! (administrators' actions, `selfExtend`/`selfRenew`).

use crate::error::ServeError;
use crate::graph::auth::Caller;
use crate::graph::error::GraphError;
use crate::graph::odata::{self, Accepts, QueryError};
use crate::state::AppState;
use app::authz::ManageRoles;
use app::conditional_access::LockoutGuard;
use app::pim::activation::ActivationError;
use app::pim::admin::{AdminError, AdminRequestOutcome};
use app::pim::approvals::ApprovalError;
use app::pim::extension::{ExtensionError, ExtensionOutcome};
use app::pim::settings::SettingsError;
use app::pim::{Refusal, RefusalKind};
use axum::http::{StatusCode, Uri};
use axum::Json;
use pim::{ScheduleKind, ScheduleRequest};
use policy::ids::RequestId;
use serde_json::Value;
use store::ScheduleRequestQuery;

/// The Graph error for a refusal: its kind gives the status, its code and sentence the body.
pub fn refusal(r: Refusal) -> GraphError {
    let status = match r.kind {
        RefusalKind::Invalid => StatusCode::BAD_REQUEST,
        RefusalKind::Forbidden => StatusCode::FORBIDDEN,
        RefusalKind::NotFound => StatusCode::NOT_FOUND,
        RefusalKind::Conflict => StatusCode::CONFLICT,
    };
    GraphError::new(status, r.code.as_str(), r.message)
}

macro_rules! from_area_error {
    ($($error:ident),+) => {
        $(
            impl From<$error> for GraphError {
                fn from(e: $error) -> Self {
                    match e {
                        $error::Refused(r) => refusal(r),
                        $error::Store(e) => e.into(),
                        $error::Internal(detail) => ServeError::Internal(detail).into(),
                    }
                }
            }
        )+
    };
}

from_area_error!(
    ActivationError,
    ApprovalError,
    ExtensionError,
    AdminError,
    SettingsError
);

pub use odata::to_value;

/// Whether the caller's session carries an MFA claim (the `…_Admin_…` enablement rules of a
/// role may require one of an administrator's request).
pub fn mfa_claim(caller: &Caller) -> bool {
    caller.claims.amr.iter().any(|v| v == "mfa")
}

/// Whether a path segment is `filterByCurrentUser(on='…')`: `Some(Ok)` for `on='principal'`,
/// `Some(Err)` for another `on`, `None` when the segment is something else (an id).
pub fn filter_by_current_user(segment: &str) -> Option<Result<(), QueryError>> {
    filter_by_current_user_on(segment, "principal")
}

/// [`filter_by_current_user`] for the one `on` value a collection supports (`principal`,
/// `approver`).
pub fn filter_by_current_user_on(segment: &str, supported: &str) -> Option<Result<(), QueryError>> {
    const NAME: &str = "filterByCurrentUser";
    let head = segment.get(..NAME.len())?;
    if !head.eq_ignore_ascii_case(NAME) {
        return None;
    }
    let args = segment[NAME.len()..].trim();
    let on = args
        .strip_prefix('(')
        .and_then(|a| a.strip_suffix(')'))
        .and_then(|a| a.split_once('='))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("on"))
        .map(|(_, v)| v.trim().trim_matches('\'').to_string());
    Some(match on {
        Some(on) if on.eq_ignore_ascii_case(supported) => Ok(()),
        Some(on) => Err(QueryError(format!(
            "filterByCurrentUser supports on='{supported}' only here, not on='{on}'."
        ))),
        None => Err(QueryError(format!(
            "Call filterByCurrentUser as filterByCurrentUser(on='{supported}')."
        ))),
    })
}

/// The properties `$filter` may name on schedule requests.
pub const REQUEST_FILTER: &[&str] = &[
    "id",
    "principalId",
    "roleDefinitionId",
    "directoryScopeId",
    "action",
    "status",
    "targetScheduleId",
];

/// The OData context of a collection of requests of `kind`.
pub fn requests_context(state: &AppState, kind: ScheduleKind) -> String {
    let collection = match kind {
        ScheduleKind::Eligibility => "roleEligibilityScheduleRequests",
        ScheduleKind::Assignment => "roleAssignmentScheduleRequests",
    };
    format!(
        "{}/v1.0/$metadata#roleManagement/directory/{collection}",
        state.issuer
    )
}

/// Requests of `kind`, newest first (of `principal_id` only, if given), with `$filter`, `$top`.
pub async fn requests_listed(
    state: &AppState,
    kind: ScheduleKind,
    principal_id: Option<String>,
    uri: &Uri,
    query: Option<&str>,
) -> Result<Json<Value>, GraphError> {
    let options = odata::list_options(query, REQUEST_FILTER)?;
    let records = state
        .store
        .list_schedule_requests(&ScheduleRequestQuery {
            kind: Some(kind),
            principal_id,
            limit: u32::MAX,
            ..ScheduleRequestQuery::default()
        })
        .await?;
    let items = records
        .iter()
        .map(|r| to_value(&r.request))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(odata::collection(
        requests_context(state, kind),
        items,
        &options,
        &state.issuer,
        uri.path(),
    )))
}

/// `GET` of the collection of requests of `kind`: every one, newest first, with `$filter` and
/// `$top` (active role administrators only).
pub async fn requests_list(
    state: &AppState,
    caller: &Caller,
    kind: ScheduleKind,
    uri: &Uri,
    query: Option<&str>,
) -> Result<Json<Value>, GraphError> {
    caller.authorize::<ManageRoles>(state).await?;
    requests_listed(state, kind, None, uri, query).await
}

/// `GET …/filterByCurrentUser(on='principal')` under the requests of `kind` (the caller's,
/// newest first), or one request by id: the caller's own; any, for an active role
/// administrator; otherwise (and for a segment that cannot be an id) `404`.
pub async fn request_item(
    state: &AppState,
    caller: &Caller,
    kind: ScheduleKind,
    uri: &Uri,
    segment: &str,
    query: Option<&str>,
) -> Result<Json<Value>, GraphError> {
    if let Some(valid) = filter_by_current_user(segment) {
        valid?;
        return requests_listed(state, kind, Some(caller.user.id.clone()), uri, query).await;
    }
    odata::parse(query, &Accepts::default())?;
    let id = RequestId::parse(segment).map_err(|_| GraphError::not_found("Request", segment))?;
    let record = app::pim::activation::visible_request(state, caller, kind, &id).await?;
    Ok(Json(odata::entity(
        to_value(&record.request)?,
        format!("{}/$entity", requests_context(state, kind)),
    )))
}

/// An administrator's request on schedules of `kind`: authorized (a denial audited), carried
/// out by [`app::pim::admin::request`]; `201` with the request as stored, `200` for a
/// validation only.
pub async fn admin_request(
    state: &AppState,
    caller: &Caller,
    request: ScheduleRequest,
    kind: ScheduleKind,
    guard: LockoutGuard,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let admin = app::pim::admin::authorize(state, caller, &request, kind).await?;
    match app::pim::admin::request(state, &admin, mfa_claim(caller), request, kind, guard).await? {
        AdminRequestOutcome::ValidatedOnly(echoed) => {
            Ok((StatusCode::OK, Json(to_value(&echoed)?)))
        }
        AdminRequestOutcome::Done(record) => Ok((
            StatusCode::CREATED,
            Json(odata::entity(
                to_value(&record.request)?,
                format!("{}/$entity", requests_context(state, kind)),
            )),
        )),
    }
}

/// A `selfExtend` or `selfRenew` of the caller's: `201` with the request waiting for an
/// administrator, `200` for a validation only.
pub async fn extension_request(
    state: &AppState,
    caller: &Caller,
    request: ScheduleRequest,
    kind: ScheduleKind,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    match app::pim::extension::request(state, caller, request, kind).await? {
        ExtensionOutcome::ValidatedOnly(echoed) => Ok((StatusCode::OK, Json(to_value(&echoed)?))),
        ExtensionOutcome::PendingAdminDecision(record) => {
            Ok((StatusCode::CREATED, Json(to_value(&record.request)?)))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn recognises_filter_by_current_user() {
        assert!(
            filter_by_current_user("filterByCurrentUser(on='principal')")
                .unwrap()
                .is_ok()
        );
        assert!(
            filter_by_current_user("filterbycurrentuser(on='Principal')")
                .unwrap()
                .is_ok()
        );
        assert!(filter_by_current_user("filterByCurrentUser(on='approver')")
            .unwrap()
            .is_err());
        assert!(filter_by_current_user("filterByCurrentUser")
            .unwrap()
            .is_err());
        assert!(filter_by_current_user("0b1c9a3e-0000-0000-0000-000000000000").is_none());
    }
}
