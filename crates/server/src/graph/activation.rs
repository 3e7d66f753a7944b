//! `roleAssignmentScheduleRequests`: self-activation of an eligible role, gated by a fresh,
//! request-bound step-up when the role's settings require an authentication context.
//!
//! The gate (DESIGN §8): the request is recorded first, as `PendingStepUp` with a nonce, and
//! answered `401 RoleAssignmentRequestAcrsValidationFailed` with both challenge forms. The client
//! signs in at `/authorize` with the claims and `step_up_request=<id>`; Conditional Access for
//! the context counts only methods performed in that step-up, after the request. The access
//! token it yields names the request; presented again with the same request body, it activates
//! the role — once: its `jti` is consumed with the status change, in one transaction.

use crate::graph::auth::{caller, Caller};
use crate::graph::error::GraphError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use pim::validate::{ActiveAssignment, ActiveKind, Window};
use pim::{Action, ActivationFacts, RoleManagementPolicy, ScheduleKind, ScheduleRequest, Status};
use policy::directory::AssignmentStatus;
use serde_json::{json, Value};
use std::sync::Arc;
use store::{AssignmentQuery, AuditEntry, RequestTransition, RoleAssignment, TransitionOutcome};

/// A step-up proof (the access token from the step-up) is accepted this long after it was
/// issued.
pub const PROOF_LIFETIME: Duration = Duration::minutes(5);

const ACRS_FAILED: &str = "RoleAssignmentRequestAcrsValidationFailed";

/// The role's settings: stored, or the defaults.
async fn role_policy(state: &AppState, role: &str) -> Result<RoleManagementPolicy, GraphError> {
    Ok(match state.store.get_role_policy(role).await? {
        Some(stored) => stored.policy,
        None => RoleManagementPolicy::default_for(role, state.now()),
    })
}

/// The principal's eligible window for the role (direct or through a group) and its active
/// assignment, at `now`.
async fn assignments(
    state: &AppState,
    user_id: &str,
    role: &str,
    now: DateTime<Utc>,
) -> Result<(Option<Window>, Option<ActiveAssignment>), GraphError> {
    let mut principals = vec![user_id.to_string()];
    principals.extend(state.store.transitive_groups(user_id).await?);
    let mut eligibility: Option<Window> = None;
    for p in &principals {
        for s in state
            .store
            .list_scheduled_assignments(&AssignmentQuery {
                principal_id: Some(p.clone()),
                role_definition_id: Some(role.to_string()),
                status: Some(AssignmentStatus::Eligible),
                in_force_at: Some(now),
                request_id: None,
            })
            .await?
        {
            let w = Window {
                start: s.assignment.start_at,
                end: s.assignment.end_at,
            };
            // The longest-lasting eligibility counts.
            let later = match (eligibility.and_then(|e| e.end), w.end) {
                (_, None) => true,
                (None, Some(_)) => false,
                (Some(a), Some(b)) => b > a,
            };
            if eligibility.is_none() || later {
                eligibility = Some(w);
            }
        }
    }
    let active = state
        .store
        .list_scheduled_assignments(&AssignmentQuery {
            principal_id: Some(user_id.to_string()),
            role_definition_id: Some(role.to_string()),
            status: Some(AssignmentStatus::Active),
            in_force_at: Some(now),
            request_id: None,
        })
        .await?
        .into_iter()
        .next()
        .map(|s| ActiveAssignment {
            window: Window {
                start: s.assignment.start_at,
                end: s.assignment.end_at,
            },
            assignment_type: if s.request_id.is_some() {
                ActiveKind::Activated
            } else {
                ActiveKind::Assigned
            },
        });
    Ok((eligibility, active))
}

fn audit(caller: &Caller, activity: &str, role: &str, at: DateTime<Utc>) -> AuditEntry {
    AuditEntry::new("RoleManagement", activity, "Add", at)
        .by_user(&caller.user.id, Some(&caller.user.user_principal_name))
        .target("Role", role, None)
}

/// Records a refusal in the audit log, then returns it.
async fn refuse(state: &AppState, entry: AuditEntry, error: GraphError) -> GraphError {
    let entry = entry.failed(&error.message);
    if let Err(e) = state.store.append_audit(&entry).await {
        tracing::error!(error = %e, "audit entry for a refusal not written");
    }
    error
}

/// The claims challenge for `context`, in both forms of DESIGN §7.
fn step_up_challenge(state: &AppState, record_id: &str, context: &str) -> GraphError {
    let claims = json!({ "access_token": { "acrs": { "essential": true, "value": context } } });
    let encoded = base64::engine::general_purpose::STANDARD.encode(claims.to_string());
    let mut e = GraphError::new(
        StatusCode::UNAUTHORIZED,
        ACRS_FAILED,
        format!(
            "Activating this role requires authentication context {context}: sign in again at \
             {}/authorize with the claims below and step_up_request={record_id}, then send this \
             request again with the new access token. Only methods performed in that sign-in, \
             after this request, count.",
            state.issuer
        ),
    )
    .with_inner(json!({
        "requestId": record_id,
        "claims": claims.to_string(),
        "authorizeParameters": {
            "claims": claims.to_string(),
            "acr_values": context,
            "step_up_request": record_id,
        },
    }));
    e.challenges.push(format!(
        "Bearer realm=\"portcullis\", error=\"insufficient_claims\", claims=\"{encoded}\""
    ));
    e.challenges.push(format!(
        "Bearer realm=\"portcullis\", error=\"insufficient_user_authentication\", acr_values=\"{context}\", max_age=0"
    ));
    e
}

/// A step-up proof presented with a request: checked against the request it names.
async fn check_proof(
    state: &AppState,
    caller: &Caller,
    request: &ScheduleRequest,
    policy: &RoleManagementPolicy,
    now: DateTime<Utc>,
) -> Result<Option<store::ScheduleRequestRecord>, GraphError> {
    let Some(named) = caller.claims.step_up_request.as_deref() else {
        return Ok(None);
    };
    let role = &request.role_definition_id;
    let entry = || audit(caller, "Step-up proof refused", role, now).detail("stepUpRequest", named);
    let refused = |message: String| GraphError::bad_request(ACRS_FAILED, message);
    let record = match state.store.get_schedule_request(named).await {
        Ok(r) => r,
        Err(e) if e.is_not_found() => {
            return Err(refuse(
                state,
                entry(),
                refused(format!(
                    "The step-up proof names request {named}, which does not exist."
                )),
            )
            .await)
        }
        Err(e) => return Err(e.into()),
    };
    if record.request.principal_id != caller.user.id
        || !record.request.role_definition_id.eq_ignore_ascii_case(role)
    {
        return Err(refuse(
            state,
            entry(),
            refused(format!(
                "The step-up proof was made for request {named}, for another role or principal; it cannot activate this one."
            )),
        )
        .await);
    }
    if record.status() != Status::PendingStepUp {
        return Err(refuse(
            state,
            entry(),
            refused(format!(
                "The step-up proof was made for request {named}, which is {} and no longer waits for a step-up: a proof is used once. Send a new request.",
                record.status()
            )),
        )
        .await);
    }
    let issued =
        DateTime::<Utc>::from_timestamp(caller.claims.iat, 0).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let created = record.request.created_date_time.unwrap_or(now);
    if issued + PROOF_LIFETIME < now {
        return Err(refuse(
            state,
            entry(),
            refused(format!(
                "The step-up proof for request {named} is older than {} minutes; sign in again.",
                PROOF_LIFETIME.num_minutes()
            )),
        )
        .await);
    }
    if DateTime::<Utc>::from_timestamp(caller.claims.auth_time, 0)
        .is_none_or(|t| t + Duration::seconds(1) < created)
    {
        return Err(refuse(
            state,
            entry(),
            refused(format!(
                "The step-up proof's authentication was made before request {named}."
            )),
        )
        .await);
    }
    if let Some(context) = policy
        .authentication_context()
        .and_then(|r| r.required_context().ok().flatten())
    {
        let context = context.to_string();
        if !caller
            .claims
            .acrs
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&context))
        {
            return Err(refuse(state, entry(), refused(format!("The step-up proof for request {named} does not satisfy authentication context {context}."))).await);
        }
    }
    Ok(Some(record))
}

/// `POST /v1.0/roleManagement/directory/roleAssignmentScheduleRequests`.
pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let caller = caller(&state, &headers).await?;
    let now = state.now();
    let mut request: ScheduleRequest = serde_json::from_slice(&body).map_err(|e| {
        GraphError::bad_request(
            "BadRequest",
            format!("The request body is not a unifiedRoleAssignmentScheduleRequest: {e}"),
        )
    })?;
    match request.action() {
        Action::SelfActivate => {}
        other => {
            return Err(GraphError::bad_request(
                "BadRequest",
                format!(
                    "The action '{other}' is not available yet; this version handles selfActivate."
                ),
            ))
        }
    }
    if request.principal_id.is_empty() {
        request.principal_id = caller.user.id.clone();
    }
    if !request.principal_id.eq_ignore_ascii_case(&caller.user.id) {
        return Err(GraphError::forbidden(
            "selfActivate is for the caller's own principalId.",
        ));
    }
    request.principal_id = caller.user.id.clone();
    let role = request.role_definition_id.clone();
    let roles = state.store.list_role_definitions().await?;
    if !roles.iter().any(|r| r.id.eq_ignore_ascii_case(&role)) {
        return Err(GraphError::not_found("Role definition", &role));
    }
    let policy = role_policy(&state, &role).await?;
    let proof = check_proof(&state, &caller, &request, &policy, now).await?;
    let (eligibility, active) = assignments(&state, &caller.user.id, &role, now).await?;
    let facts = ActivationFacts {
        eligibility,
        active,
        session_has_mfa_claim: caller.claims.amr.iter().any(|v| v == "mfa"),
        step_up_verified: proof.is_some(),
    };
    let plan = match pim::validate_activation(&policy, &request, &facts, now) {
        Ok(plan) => plan,
        Err(violations) => {
            let e = pim::graph_error(&violations).map_or_else(
                || GraphError::bad_request("BadRequest", "The request was refused."),
                |g| GraphError::bad_request(g.code, g.message),
            );
            return Err(refuse(
                &state,
                audit(&caller, "Add member to role request refused", &role, now),
                e,
            )
            .await);
        }
    };
    if request.is_validation_only == Some(true) {
        let mut echoed = request.clone();
        echoed.status = Some(plan.initial_status());
        return Ok((StatusCode::OK, Json(json!(echoed))));
    }
    if let Some(context) = plan.needs_step_up {
        request.status = Some(Status::PendingStepUp);
        let entry = audit(
            &caller,
            "Add member to role requested (step-up required)",
            &role,
            now,
        )
        .detail("authenticationContext", &context.to_string());
        let record = state
            .store
            .create_schedule_request(ScheduleKind::Assignment, &request, now, Some(&entry))
            .await?;
        return Err(step_up_challenge(&state, record.id(), &context.to_string()));
    }
    let assignment = RoleAssignment {
        id: store::new_id(),
        principal_id: caller.user.id.clone(),
        role_definition_id: role.clone(),
        directory_scope_id: "/".into(),
        status: AssignmentStatus::Active,
        start_at: plan.start,
        end_at: plan.end,
    };
    if plan.needs_approval.is_some() {
        request.status = Some(Status::PendingApproval);
        let entry = audit(
            &caller,
            "Add member to role requested (approval required)",
            &role,
            now,
        );
        let record = state
            .store
            .create_schedule_request(ScheduleKind::Assignment, &request, now, Some(&entry))
            .await?;
        return Ok((StatusCode::CREATED, Json(json!(record.request))));
    }
    let entry = audit(
        &caller,
        "Add member to role completed (PIM activation)",
        &role,
        now,
    )
    .detail("assignmentId", &assignment.id)
    .detail("end", &plan.end.map(|e| e.to_rfc3339()).unwrap_or_default());
    let record = match proof {
        Some(pending) => {
            let transition = RequestTransition::new(
                pending.id(),
                Status::PendingStepUp,
                Status::Provisioned,
                now,
            )
            .consuming_proof(&caller.claims.jti);
            match state
                .store
                .activate_with(&transition, &assignment, &entry.correlation(pending.id()))
                .await?
            {
                TransitionOutcome::Applied(record) => *record,
                TransitionOutcome::ProofAlreadyUsed => {
                    return Err(refuse(
                        &state,
                        audit(&caller, "Step-up proof refused", &role, now),
                        GraphError::bad_request(
                            ACRS_FAILED,
                            "This step-up proof has already been used: a proof activates once.",
                        ),
                    )
                    .await)
                }
                TransitionOutcome::NotInState => return Err(refuse(
                    &state,
                    audit(&caller, "Step-up proof refused", &role, now),
                    GraphError::bad_request(
                        ACRS_FAILED,
                        "The request this proof names was handled meanwhile; send a new request.",
                    ),
                )
                .await),
            }
        }
        None => {
            request.status = Some(Status::Granted);
            let created = state
                .store
                .create_schedule_request(ScheduleKind::Assignment, &request, now, None)
                .await?;
            state
                .store
                .activate(created.id(), &assignment, &entry.correlation(created.id()))
                .await?
                .ok_or_else(|| {
                    GraphError::from(crate::error::ServeError::Internal(
                        "a granted request could not be activated".into(),
                    ))
                })?
        }
    };
    // Conditional Access (includeRoles) sees the active role from now on.
    state.tenant_changed();
    tracing::info!(user = %caller.user.user_principal_name, role = %role, request = %record.id(), "role activated");
    Ok((StatusCode::CREATED, Json(json!(record.request))))
}

/// `GET …/roleAssignmentScheduleRequests/{id}`: the caller's own requests.
pub async fn get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, GraphError> {
    let caller = caller(&state, &headers).await?;
    match state.store.get_schedule_request(&id).await {
        Ok(r) if r.request.principal_id == caller.user.id => Ok(Json(json!(r.request))),
        Ok(_) => Err(GraphError::not_found("Request", &id)),
        Err(e) if e.is_not_found() => Err(GraphError::not_found("Request", &id)),
        Err(e) => Err(e.into()),
    }
}

/// The durable expiry job: ends activations whose time is up (also those due while the service
/// was down), with an audit entry each.
pub async fn expire_due(state: &AppState) -> Result<usize, crate::error::ServeError> {
    let ended = state.store.expire_due_assignments(state.now()).await?;
    for a in &ended {
        tracing::info!(principal = %a.principal_id, role = %a.role_definition_id, "activation ended");
    }
    if !ended.is_empty() {
        state.tenant_changed();
    }
    Ok(ended.len())
}
