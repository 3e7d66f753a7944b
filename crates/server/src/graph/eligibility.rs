//! `roleEligibilityScheduleRequests`: administrators make principals (users, role-assignable
//! groups) eligible for a role (`adminAssign`) and end eligibility (`adminRemove`).
//!
//! A request is checked against `Expiration_Admin_Eligibility` and
//! `Enablement_Admin_Eligibility` ([`pim::validate_admin_request`]); the request record, the
//! eligible assignment it makes or ends, and the audit entry are stored in one transaction
//! ([`store::Store::admin_assign`], [`store::Store::admin_remove`]).

use crate::graph::admin::{entry, is_role_admin, refused, require_role_admin};
use crate::graph::auth::{caller, Caller};
use crate::graph::body::JsonBody;
use crate::graph::error::GraphError;
use crate::graph::odata::{self, Accepts};
use crate::graph::schedules::filter_by_current_user;
use crate::graph::settings::load_policy;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Json;
use chrono::{DateTime, Utc};
use pim::validate::{AdminFacts, AssignmentPlan, RuleViolation, Window};
use pim::{Action, ScheduleKind, ScheduleRequest, Status};
use policy::directory::AssignmentStatus;
use serde_json::{json, Value};
use std::sync::Arc;
use store::{AdminOutcome, AssignmentQuery, RoleAssignment, ScheduleRequestQuery};

const KIND: ScheduleKind = ScheduleKind::Eligibility;
const FILTERABLE: &[&str] = &[
    "id",
    "principalId",
    "roleDefinitionId",
    "directoryScopeId",
    "action",
    "status",
    "targetScheduleId",
];

fn context(state: &AppState) -> String {
    context_of(state, KIND)
}

fn context_of(state: &AppState, kind: ScheduleKind) -> String {
    let collection = match kind {
        ScheduleKind::Eligibility => "roleEligibilityScheduleRequests",
        ScheduleKind::Assignment => "roleAssignmentScheduleRequests",
    };
    format!(
        "{}/v1.0/$metadata#roleManagement/directory/{collection}",
        state.issuer
    )
}

fn to_value(request: &ScheduleRequest) -> Result<Value, crate::error::ServeError> {
    serde_json::to_value(request)
        .map_err(|e| crate::error::ServeError::Internal(format!("serializing: {e}")))
}

/// The Graph error for violations.
pub(crate) fn violation_error(violations: &[RuleViolation]) -> GraphError {
    pim::graph_error(violations).map_or_else(
        || GraphError::bad_request("BadRequest", "The request was refused."),
        |g| GraphError::bad_request(g.code, g.message),
    )
}

/// A new schedule of `kind` (an eligible or an active assignment) for `principal` and `role`.
pub(crate) fn new_schedule(
    kind: ScheduleKind,
    principal: &str,
    role: &str,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
) -> RoleAssignment {
    RoleAssignment {
        id: store::new_id(),
        principal_id: principal.to_string(),
        role_definition_id: role.to_string(),
        directory_scope_id: "/".into(),
        status: match kind {
            ScheduleKind::Eligibility => AssignmentStatus::Eligible,
            ScheduleKind::Assignment => AssignmentStatus::Active,
        },
        start_at: start,
        end_at: end,
    }
}

/// A principal named by a request: a user, or a role-assignable group. Returns its id as
/// stored, its kind for the audit log, and its name.
async fn principal(
    state: &AppState,
    id: &str,
) -> Result<(String, &'static str, String), GraphError> {
    if id.trim().is_empty() {
        return Err(GraphError::bad_request(
            "BadRequest",
            "The request names no principalId: give the id of a user or a role-assignable group.",
        ));
    }
    match state.store.get_user(id).await {
        Ok(u) => return Ok((u.id, "User", u.user_principal_name)),
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    match state.store.get_group(id).await {
        Ok(g) if g.is_assignable_to_role => Ok((g.id, "Group", g.display_name)),
        Ok(g) => Err(GraphError::bad_request(
            "BadRequest",
            format!(
                "Group '{}' ({}) is not role-assignable: only groups created with \
                 isAssignableToRole can be made eligible for a role.",
                g.display_name, g.id
            ),
        )),
        Err(e) if e.is_not_found() => Err(GraphError::not_found("Principal", id)),
        Err(e) => Err(e.into()),
    }
}

/// The principal's schedule of `kind` for the role that has not ended (the longest-lasting
/// one); for a renewal (`ended`), the one that ended last.
pub(crate) async fn existing(
    state: &AppState,
    kind: ScheduleKind,
    principal_id: &str,
    role: &str,
    ended: bool,
) -> Result<Option<Window>, GraphError> {
    let now = state.now();
    let status = match kind {
        ScheduleKind::Eligibility => AssignmentStatus::Eligible,
        ScheduleKind::Assignment => AssignmentStatus::Active,
    };
    let mut found: Option<Window> = None;
    for s in state
        .store
        .list_scheduled_assignments(&AssignmentQuery {
            principal_id: Some(principal_id.to_string()),
            role_definition_id: Some(role.to_string()),
            status: Some(status),
            ..AssignmentQuery::default()
        })
        .await?
    {
        let a = &s.assignment;
        let has_ended = s.closed_at.is_some() || a.end_at.is_some_and(|end| end <= now);
        if has_ended != ended {
            continue;
        }
        let w = Window {
            start: a.start_at,
            end: a.end_at,
        };
        let later = match (found.and_then(|f| f.end), w.end) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => b > a,
        };
        if found.is_none() || later {
            found = Some(w);
        }
    }
    Ok(found)
}

/// `POST /v1.0/roleManagement/directory/roleEligibilityScheduleRequests`: administrators'
/// requests on eligibility (see [`admin_request`]).
pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let caller = caller(&state, &headers).await?;
    let request: ScheduleRequest = body.parse("a unifiedRoleEligibilityScheduleRequest")?;
    if matches!(request.action(), Action::SelfExtend | Action::SelfRenew) {
        return crate::graph::extension::request(&state, &caller, request, KIND).await;
    }
    admin_request(&state, &caller, request, KIND).await
}

/// An administrator's request on schedules of `kind` (eligible or active assignments):
/// `adminAssign`, `adminUpdate` and `adminExtend` (the schedule is replaced by one with the new
/// period), `adminRenew` (a schedule that ended gets a new one), `adminRemove`; by active role
/// administrators. Answers `201` with the request: `Provisioned`, or `Revoked` for a removal (as
/// Graph does). The request, the schedules it makes or ends and the audit entry are stored in
/// one transaction.
pub async fn admin_request(
    state: &AppState,
    caller: &Caller,
    mut request: ScheduleRequest,
    kind: ScheduleKind,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let now = state.now();
    let action = request.action();
    let member = match kind {
        ScheduleKind::Eligibility => "eligible member",
        ScheduleKind::Assignment => "member",
    };
    let (verb, operation) = match action {
        Action::AdminAssign => ("Add", "Add"),
        Action::AdminRemove => ("Remove", "Delete"),
        Action::AdminUpdate => ("Update", "Update"),
        Action::AdminExtend => ("Extend", "Update"),
        Action::AdminRenew => ("Renew", "Update"),
        other => {
            return Err(GraphError::bad_request(
                "BadRequest",
                format!(
                    "The action '{other}' is not an administrator's action; use adminAssign, \
                     adminUpdate, adminExtend, adminRenew or adminRemove."
                ),
            ))
        }
    };
    let preposition = if verb == "Remove" { "from" } else { "to" };
    let activity = format!("{verb} {member} {preposition} role in PIM");
    let requested = |suffix: &str| entry(caller, &format!("{activity} {suffix}"), operation, state);
    if let Err(e) = require_role_admin(state, caller).await {
        let audit = requested("requested")
            .target("Role", &request.role_definition_id, None)
            .detail("PrincipalId", &request.principal_id);
        return Err(refused(state, audit, e).await);
    }
    let role = state
        .store
        .list_role_definitions()
        .await?
        .into_iter()
        .find(|d| d.id.eq_ignore_ascii_case(&request.role_definition_id))
        .ok_or_else(|| GraphError::not_found("Role definition", &request.role_definition_id))?;
    let (principal_id, principal_kind, principal_name) =
        principal(state, &request.principal_id).await?;
    request.principal_id = principal_id.clone();
    request.role_definition_id = role.id.clone();
    let request_id = store::new_id();
    let audit = |suffix: &str| {
        requested(suffix)
            .target("Role", &role.id, Some(&role.display_name))
            .target(principal_kind, &principal_id, Some(&principal_name))
            .correlation(&request_id)
    };

    let (policy, _) = load_policy(state, &role.id).await?;
    let renewing = action == Action::AdminRenew;
    let facts = AdminFacts {
        existing: existing(state, kind, &principal_id, &role.id, renewing).await?,
        caller_has_mfa_claim: caller.claims.amr.iter().any(|v| v == "mfa"),
    };
    let plan = match pim::validate_admin_request(&policy, &request, kind, &facts, now) {
        Ok(plan) => plan,
        Err(violations) => {
            return Err(refused(state, audit("refused"), violation_error(&violations)).await)
        }
    };
    request.id = Some(request_id.clone());
    request.directory_scope_id = Some("/".into());
    request.created_by = Some(json!({"user": {
        "id": caller.user.id,
        "displayName": caller.user.display_name,
    }}));
    if request.validation_only() {
        let mut echoed = request.clone();
        echoed.status = Some(Status::Granted);
        echoed.created_date_time = Some(now);
        return Ok((StatusCode::OK, Json(to_value(&echoed)?)));
    }
    let outcome = match plan {
        AssignmentPlan::Schedule { start, end, .. } => {
            let schedule = request.schedule_info.get_or_insert_with(Default::default);
            schedule.start_date_time.get_or_insert(start);
            let assignment = new_schedule(kind, &principal_id, &role.id, start, end);
            let done = audit(if end.is_some() {
                "completed (timebound)"
            } else {
                "completed (permanent)"
            })
            .detail(
                match kind {
                    ScheduleKind::Eligibility => "RoleEligibilityScheduleId",
                    ScheduleKind::Assignment => "RoleAssignmentScheduleId",
                },
                &assignment.id,
            )
            .detail("StartDateTime", &start.to_rfc3339())
            .detail(
                "EndDateTime",
                &end.map(|e| e.to_rfc3339()).unwrap_or_default(),
            );
            match action {
                Action::AdminUpdate | Action::AdminExtend => {
                    state
                        .store
                        .admin_replace(kind, &request, &assignment, &done)
                        .await?
                }
                _ => {
                    state
                        .store
                        .admin_assign(kind, &request, &assignment, &done)
                        .await?
                }
            }
        }
        AssignmentPlan::Remove => {
            state
                .store
                .admin_remove(kind, &request, &audit("completed"))
                .await?
        }
    };
    let record = match outcome {
        AdminOutcome::Done { request, .. } => *request,
        AdminOutcome::AlreadyAssigned => {
            let e = violation_error(&[RuleViolation::RoleAssignmentExists { kind }]);
            return Err(refused(state, audit("refused"), e).await);
        }
        AdminOutcome::NothingToRemove => {
            let e = violation_error(&[RuleViolation::RoleAssignmentDoesNotExist { kind }]);
            return Err(refused(state, audit("refused"), e).await);
        }
    };
    state.roles_changed();
    tracing::info!(
        admin = %caller.user.user_principal_name,
        principal = %principal_id,
        role = %role.id,
        action = %action,
        request = %record.id(),
        "{} changed",
        kind.describe()
    );
    Ok((
        StatusCode::CREATED,
        Json(odata::entity(
            to_value(&record.request)?,
            format!("{}/$entity", context_of(state, kind)),
        )),
    ))
}

/// Requests of `kind`, newest first (of `principal_id` only, if given), with `$filter`, `$top`.
pub(crate) async fn listed(
    state: &AppState,
    kind: ScheduleKind,
    principal_id: Option<String>,
    uri: &Uri,
    query: Option<&str>,
) -> Result<Json<Value>, GraphError> {
    let options = odata::parse(
        query,
        &Accepts {
            filter: FILTERABLE,
            paging: true,
            expand: &[],
        },
    )?;
    let records = state
        .store
        .list_schedule_requests(&ScheduleRequestQuery {
            kind: Some(kind),
            principal_id,
            limit: u32::MAX,
            ..ScheduleRequestQuery::default()
        })
        .await?;
    let mut items = Vec::new();
    for r in &records {
        let item = to_value(&r.request)?;
        if options.keeps(&item) {
            items.push(item);
        }
    }
    Ok(Json(odata::collection(
        context_of(state, kind),
        items,
        &options,
        &state.issuer,
        uri.path(),
    )))
}

/// `GET …/roleEligibilityScheduleRequests`: every one, newest first (active role
/// administrators only).
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    let caller = caller(&state, &headers).await?;
    odata::parse(
        query.as_deref(),
        &Accepts {
            filter: FILTERABLE,
            paging: true,
            expand: &[],
        },
    )?;
    require_role_admin(&state, &caller).await?;
    listed(&state, KIND, None, &uri, query.as_deref()).await
}

/// `GET …/roleEligibilityScheduleRequests/filterByCurrentUser(on='principal')` (the caller's
/// own requests), or one request by id (administrators: any; others: their own).
pub async fn item(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    let caller = caller(&state, &headers).await?;
    if let Some(valid) = filter_by_current_user(&segment) {
        valid?;
        return listed(
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
    if record.request.principal_id != caller.user.id
        && !is_role_admin(&state, &caller.user.id).await?
    {
        return Err(GraphError::not_found("Request", &segment));
    }
    Ok(Json(odata::entity(
        to_value(&record.request)?,
        format!("{}/$entity", context(&state)),
    )))
}
