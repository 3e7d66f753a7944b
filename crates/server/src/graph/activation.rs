//! `roleAssignmentScheduleRequests`: self-activation of an eligible role, gated by a fresh,
//! request-bound step-up when the role's settings require an authentication context.
//!
//! The gate (DESIGN §8): the request is recorded first, as `PendingStepUp` with a nonce, and
//! answered `401 RoleAssignmentRequestAcrsValidationFailed` with both challenge forms. The client
//! signs in at `/authorize` with the claims and `step_up_request=<id>`; Conditional Access for
//! the context counts only methods performed in that step-up, after the request. The access
//! token it yields names the request; presented again with the same request body, it activates
//! the role — once: its `jti` is consumed with the status change, in one transaction.

use crate::graph::admin::{is_role_admin, require_role_admin};
use crate::graph::auth::{caller, Caller};
use crate::graph::body::JsonBody;
use crate::graph::eligibility::{new_schedule, violation_error};
use crate::graph::error::GraphError;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
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
pub(crate) async fn role_policy(
    state: &AppState,
    role: &str,
) -> Result<RoleManagementPolicy, GraphError> {
    Ok(crate::graph::settings::load_policy(state, role).await?.0)
}

/// What the store says about a principal and a role at one instant.
pub(crate) struct Holdings {
    /// The eligible window (direct or through a group); the longest-lasting one.
    pub eligibility: Option<Window>,
    /// The active assignment, with its id.
    pub active: Option<(ActiveAssignment, String)>,
}

/// The principal's eligible window for the role (direct or through a group) and its active
/// assignment, at `now`.
pub(crate) async fn holdings(
    state: &AppState,
    user_id: &str,
    role: &str,
    now: DateTime<Utc>,
) -> Result<Holdings, GraphError> {
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
        .map(|s| {
            let active = ActiveAssignment {
                window: Window {
                    start: s.assignment.start_at,
                    end: s.assignment.end_at,
                },
                assignment_type: if s.request_id.is_some() {
                    ActiveKind::Activated
                } else {
                    ActiveKind::Assigned
                },
            };
            (active, s.assignment.id)
        });
    Ok(Holdings {
        eligibility,
        active,
    })
}

pub(crate) fn audit(caller: &Caller, activity: &str, role: &str, at: DateTime<Utc>) -> AuditEntry {
    AuditEntry::new("RoleManagement", activity, "Add", at)
        .by_user(&caller.user.id, Some(&caller.user.user_principal_name))
        .target("Role", role, None)
}

/// Records a refusal in the audit log, then returns it.
pub(crate) async fn refuse(state: &AppState, entry: AuditEntry, error: GraphError) -> GraphError {
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

/// When the caller has no registered method that satisfies a strength the policies on
/// `context` require of them: a sentence saying which policy, which strength and what to
/// register, and the details (`methodsToRegister`) for the client. `None` when they can.
async fn lacking_methods(
    state: &AppState,
    caller: &Caller,
    context: &str,
    now: DateTime<Utc>,
) -> Result<Option<(String, Value)>, GraphError> {
    let engine = state.engine().await?;
    let me = policy::posture::TargetUser {
        id: caller.user.id.clone(),
        user_principal_name: caller.user.user_principal_name.clone(),
        display_name: None,
        is_break_glass: false,
        via: Vec::new(),
    };
    let methods =
        crate::posture::methods_of(&state.store, std::slice::from_ref(&me), &|_| true, now)
            .await
            .map_err(|e| crate::error::ServeError::Internal(format!("{e:?}")))?;
    // No strength on the context (an MFA fallback or check): nothing to register for.
    let Ok(preflight) =
        policy::posture::preflight_activation_on(engine.as_ref(), context, &[me], &|id| {
            methods.get(id).cloned().unwrap_or_default()
        })
    else {
        return Ok(None);
    };
    let unable: Vec<(
        &policy::posture::PolicyPreflight,
        &policy::posture::UserReadiness,
    )> = preflight
        .policies
        .iter()
        .flat_map(|p| p.report.cannot.iter().map(move |r| (p, r)))
        .collect();
    if unable.is_empty() {
        return Ok(None);
    }
    let sentences: Vec<String> = unable
        .iter()
        .map(|(p, r)| {
            format!(
                "Policy '{}' requires authentication strength '{}' for {context}, and none of \
                 your registered methods satisfies it: {}.",
                p.policy_name,
                p.report.strength_name,
                r.advice.as_deref().unwrap_or("register a method it allows")
            )
        })
        .collect();
    let details: Vec<Value> = unable
        .iter()
        .map(|(p, r)| {
            json!({
                "policyId": p.policy_id,
                "policyName": p.policy_name,
                "strengthId": p.report.strength_id,
                "strengthName": p.report.strength_name,
                "registered": r.registered,
                "shortfalls": r.shortfalls,
                "advice": r.advice,
                "securityInfo": format!("{}/account", state.issuer),
            })
        })
        .collect();
    Ok(Some((sentences.join(" "), Value::Array(details))))
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
    // Checked: a time at the end of the representable range has no "five minutes later"; such
    // a proof is refused rather than overflowing.
    if issued
        .checked_add_signed(PROOF_LIFETIME)
        .is_none_or(|until| until < now)
    {
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
        .and_then(|t| t.checked_add_signed(Duration::seconds(1)))
        .is_none_or(|t| t < created)
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

/// `POST /v1.0/roleManagement/directory/roleAssignmentScheduleRequests`: `selfActivate` and
/// `selfDeactivate`; administrators' actions on active assignments go to
/// [`crate::graph::eligibility::admin_request`].
pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let caller = caller(&state, &headers).await?;
    let now = state.now();
    let mut request: ScheduleRequest = body.parse("a unifiedRoleAssignmentScheduleRequest")?;
    let action = request.action();
    if matches!(action, Action::SelfExtend | Action::SelfRenew) {
        return crate::graph::extension::request(
            &state,
            &caller,
            request,
            ScheduleKind::Assignment,
        )
        .await;
    }
    if action.is_admin() {
        return crate::graph::eligibility::admin_request(
            &state,
            &caller,
            request,
            ScheduleKind::Assignment,
        )
        .await;
    }
    if !matches!(action, Action::SelfActivate | Action::SelfDeactivate) {
        return Err(GraphError::bad_request(
            "BadRequest",
            format!(
                "The action '{action}' is not available here; this version handles \
                 selfActivate, selfDeactivate and the administrators' actions (adminAssign, \
                 adminUpdate, adminExtend, adminRenew, adminRemove)."
            ),
        ));
    }
    if request.principal_id.is_empty() {
        request.principal_id = caller.user.id.clone();
    }
    if !request.principal_id.eq_ignore_ascii_case(&caller.user.id) {
        return Err(GraphError::forbidden(format!(
            "{action} is for the caller's own principalId."
        )));
    }
    request.principal_id = caller.user.id.clone();
    // The service sets these; a client's values are not taken.
    request.id = None;
    request.status = None;
    request.approval_id = None;
    request.target_schedule_id = None;
    let role = request.role_definition_id.clone();
    // Role ids are GUIDs, compared without regard to case; the store keys settings and
    // assignments by the id as defined, so the request takes that spelling before anything is
    // read for it.
    let roles = state.store.list_role_definitions().await?;
    let Some(defined) = roles.iter().find(|r| r.id.eq_ignore_ascii_case(&role)) else {
        return Err(GraphError::not_found("Role definition", &role));
    };
    request.role_definition_id = defined.id.clone();
    if action == Action::SelfDeactivate {
        return deactivate(&state, &caller, request, now).await;
    }
    activate(&state, &caller, request, now).await
}

/// The Graph error for rule violations, audited as a refusal of `activity`.
async fn refuse_violations(
    state: &AppState,
    caller: &Caller,
    activity: &str,
    role: &str,
    violations: &[pim::RuleViolation],
    now: DateTime<Utc>,
) -> GraphError {
    refuse(
        state,
        audit(caller, activity, role, now),
        violation_error(violations),
    )
    .await
}

/// The audit entry of a completed activation.
pub(crate) fn activated_entry(
    entry: AuditEntry,
    assignment: &RoleAssignment,
    request_id: &str,
) -> AuditEntry {
    entry
        .detail("assignmentId", &assignment.id)
        .detail(
            "end",
            &assignment
                .end_at
                .map(|e| e.to_rfc3339())
                .unwrap_or_default(),
        )
        .correlation(request_id)
}

/// The refusal of a proof whose request was moved on meanwhile, or that was used before.
async fn proof_refused(
    state: &AppState,
    caller: &Caller,
    role: &str,
    outcome: &TransitionOutcome,
    now: DateTime<Utc>,
) -> GraphError {
    let message = match outcome {
        TransitionOutcome::ProofAlreadyUsed => {
            "This step-up proof has already been used: a proof activates once."
        }
        _ => "The request this proof names was handled meanwhile; send a new request.",
    };
    refuse(
        state,
        audit(caller, "Step-up proof refused", role, now),
        GraphError::bad_request(ACRS_FAILED, message),
    )
    .await
}

/// `selfActivate`.
async fn activate(
    state: &AppState,
    caller: &Caller,
    mut request: ScheduleRequest,
    now: DateTime<Utc>,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let role = request.role_definition_id.clone();
    let policy = role_policy(state, &role).await?;
    let proof = check_proof(state, caller, &request, &policy, now).await?;
    let held = holdings(state, &caller.user.id, &role, now).await?;
    let facts = ActivationFacts {
        eligibility: held.eligibility,
        active: held.active.map(|(a, _)| a),
        session_has_mfa_claim: caller.claims.amr.iter().any(|v| v == "mfa"),
        step_up_verified: proof.is_some(),
    };
    let plan = match pim::validate_activation(&policy, &request, &facts, now) {
        Ok(plan) => plan,
        Err(violations) => {
            return Err(refuse_violations(
                state,
                caller,
                "Add member to role request refused",
                &role,
                &violations,
                now,
            )
            .await)
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
            caller,
            "Add member to role requested (step-up required)",
            &role,
            now,
        )
        .detail("authenticationContext", &context.to_string());
        let record = state
            .store
            .create_schedule_request(ScheduleKind::Assignment, &request, now, Some(&entry))
            .await?;
        let mut challenge = step_up_challenge(state, record.id(), &context.to_string());
        // Where a person goes for the step-up: the demo's page builds the sign-in for them.
        if crate::demo_client::is_registered(state).await? {
            let page = crate::demo_client::step_up_page(state, &context.to_string(), record.id());
            challenge.message = format!(
                "{} With the demo, open {page} to step up.",
                challenge.message
            );
            if let Some(inner) = challenge.inner.as_mut() {
                inner["stepUpPage"] = json!(page);
            }
        }
        if let Some(lacking) = lacking_methods(state, caller, &context.to_string(), now).await? {
            challenge.message = format!("{} {}", lacking.0, challenge.message);
            if let Some(inner) = challenge.inner.as_mut() {
                inner["methodsToRegister"] = lacking.1;
            }
        }
        return Err(challenge);
    }
    if plan.needs_approval.is_some() {
        // The approval's id is the request's (as in Graph's PIM for directory roles).
        let record = match &proof {
            Some(pending) => {
                let transition = RequestTransition::new(
                    pending.id(),
                    Status::PendingStepUp,
                    Status::PendingApproval,
                    now,
                )
                .to_stage(0)
                .with_patch(json!({ "approvalId": pending.id() }))
                .consuming_proof(&caller.claims.jti);
                let entry = audit(
                    caller,
                    "Add member to role requested (step-up verified, approval required)",
                    &role,
                    now,
                )
                .correlation(pending.id());
                match state
                    .store
                    .transition_schedule_request_with(&transition, Some(&entry))
                    .await?
                {
                    TransitionOutcome::Applied(record) => *record,
                    other => return Err(proof_refused(state, caller, &role, &other, now).await),
                }
            }
            None => {
                let id = store::new_id();
                request.id = Some(id.clone());
                request.approval_id = Some(id.clone());
                request.status = Some(Status::PendingApproval);
                let entry = audit(
                    caller,
                    "Add member to role requested (approval required)",
                    &role,
                    now,
                )
                .correlation(&id);
                state
                    .store
                    .create_schedule_request(ScheduleKind::Assignment, &request, now, Some(&entry))
                    .await?
            }
        };
        tracing::info!(user = %caller.user.user_principal_name, role = %role, request = %record.id(), "activation waits for approval");
        return Ok((StatusCode::CREATED, Json(json!(record.request))));
    }
    let assignment = new_schedule(
        ScheduleKind::Assignment,
        &caller.user.id,
        &role,
        plan.start,
        plan.end,
    );
    let entry = audit(
        caller,
        "Add member to role completed (PIM activation)",
        &role,
        now,
    );
    let record = match proof {
        Some(pending) => {
            let transition = RequestTransition::new(
                pending.id(),
                Status::PendingStepUp,
                Status::Provisioned,
                now,
            )
            .consuming_proof(&caller.claims.jti);
            let entry = activated_entry(entry, &assignment, pending.id());
            match state
                .store
                .activate_with(&transition, &assignment, &entry)
                .await?
            {
                TransitionOutcome::Applied(record) => *record,
                other => return Err(proof_refused(state, caller, &role, &other, now).await),
            }
        }
        None => {
            request.status = Some(Status::Granted);
            let created = state
                .store
                .create_schedule_request(ScheduleKind::Assignment, &request, now, None)
                .await?;
            let entry = activated_entry(entry, &assignment, created.id());
            state
                .store
                .activate(created.id(), &assignment, &entry)
                .await?
                .ok_or_else(|| {
                    GraphError::from(crate::error::ServeError::Internal(
                        "a granted request could not be activated".into(),
                    ))
                })?
        }
    };
    // Conditional Access (includeRoles) sees the active role from now on.
    state.roles_changed();
    tracing::info!(user = %caller.user.user_principal_name, role = %role, request = %record.id(), "role activated");
    Ok((StatusCode::CREATED, Json(json!(record.request))))
}

/// `selfDeactivate`: ends the caller's activation of the role now (not within five minutes of
/// its start), recorded as a request in status `Revoked`, with the assignment's end and the
/// audit entry, in one transaction.
async fn deactivate(
    state: &AppState,
    caller: &Caller,
    mut request: ScheduleRequest,
    now: DateTime<Utc>,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let role = request.role_definition_id.clone();
    let held = holdings(state, &caller.user.id, &role, now).await?;
    let facts = ActivationFacts {
        eligibility: held.eligibility,
        active: held.active.as_ref().map(|(a, _)| *a),
        ..ActivationFacts::default()
    };
    if let Err(violations) = pim::validate_deactivation(&request, &facts, now) {
        return Err(refuse_violations(
            state,
            caller,
            "Remove member from role request refused",
            &role,
            &violations,
            now,
        )
        .await);
    }
    if request.is_validation_only == Some(true) {
        request.status = Some(Status::Revoked);
        return Ok((StatusCode::OK, Json(json!(request))));
    }
    let Some((_, assignment_id)) = held.active else {
        return Err(GraphError::bad_request(
            "RoleAssignmentDoesNotExist",
            "There is no active assignment of this role to end.",
        ));
    };
    let id = store::new_id();
    request.id = Some(id.clone());
    request.status = Some(Status::Revoked);
    let entry = audit(
        caller,
        "Remove member from role completed (PIM activation ended by the holder)",
        &role,
        now,
    )
    .detail("assignmentId", &assignment_id)
    .correlation(&id);
    match state
        .store
        .deactivate_with_request(&request, &assignment_id, now, &entry)
        .await?
    {
        Some((record, _)) => {
            state.roles_changed();
            tracing::info!(user = %caller.user.user_principal_name, role = %role, "activation ended by its holder");
            Ok((StatusCode::CREATED, Json(json!(record.request))))
        }
        None => Err(GraphError::bad_request(
            "RoleAssignmentDoesNotExist",
            "The activation of this role ended meanwhile.",
        )),
    }
}

/// `GET …/roleAssignmentScheduleRequests`: every one, newest first, with `$filter` and `$top`
/// (active role administrators only).
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    let caller = caller(&state, &headers).await?;
    require_role_admin(&state, &caller).await?;
    crate::graph::eligibility::listed(
        &state,
        ScheduleKind::Assignment,
        None,
        &uri,
        query.as_deref(),
    )
    .await
}

/// `GET …/roleAssignmentScheduleRequests/{id}`: one request (the caller's own; any, for an
/// active role administrator); and `…/filterByCurrentUser(on='principal')`: the caller's,
/// newest first.
pub async fn get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    let caller = caller(&state, &headers).await?;
    if let Some(valid) = crate::graph::schedules::filter_by_current_user(&segment) {
        valid?;
        return crate::graph::eligibility::listed(
            &state,
            ScheduleKind::Assignment,
            Some(caller.user.id.clone()),
            &uri,
            query.as_deref(),
        )
        .await;
    }
    match own_request(&state, &caller, &segment).await {
        Ok(r) => Ok(Json(json!(r.request))),
        Err(e)
            if e.status == StatusCode::NOT_FOUND
                && is_role_admin(&state, &caller.user.id).await? =>
        {
            match state.store.get_schedule_request(&segment).await {
                Ok(r) if r.kind == ScheduleKind::Assignment => Ok(Json(json!(r.request))),
                _ => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// One of the caller's activation requests; another's is not found.
async fn own_request(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<store::ScheduleRequestRecord, GraphError> {
    match state.store.get_schedule_request(id).await {
        Ok(r) if r.request.principal_id == caller.user.id && r.kind == ScheduleKind::Assignment => {
            Ok(r)
        }
        Ok(_) => Err(GraphError::not_found("Request", id)),
        Err(e) if e.is_not_found() => Err(GraphError::not_found("Request", id)),
        Err(e) => Err(e.into()),
    }
}

/// `POST …/roleAssignmentScheduleRequests/{id}/cancel`: the requester withdraws a request that
/// still waits (for its step-up or its approval). `204`; audited.
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, GraphError> {
    let caller = caller(&state, &headers).await?;
    let now = state.now();
    let record = own_request(&state, &caller, &id).await?;
    let role = record.request.role_definition_id.clone();
    let flow = pim::RequestFlow {
        requester: record.request.principal_id.clone(),
        needs_step_up: false,
        decision: pim::Decision::Automatic,
    };
    let from = pim::Progress {
        status: record.status(),
        stage: record.approval_stage as usize,
        failure: None,
    };
    let entry = audit(&caller, "Cancel role request", &role, now).correlation(record.id());
    let cancellable = matches!(
        from.status,
        Status::PendingStepUp | Status::PendingApproval | Status::Granted
    );
    let next = if cancellable {
        flow.transition(
            &from,
            &pim::Event::Cancel {
                by: caller.user.id.clone(),
            },
        )
    } else {
        Err(pim::InvalidTransition::NotAllowed {
            from: from.status.clone(),
            event: "Cancel",
        })
    };
    let next = match next {
        Ok(next) => next,
        Err(e) => {
            let message = format!(
                "The request is {} and can no longer be canceled ({e}); an activation in force \
                 ends with selfDeactivate.",
                from.status
            );
            return Err(refuse(&state, entry, GraphError::bad_request(e.code(), message)).await);
        }
    };
    let t = RequestTransition::new(record.id(), from.status.clone(), next.status, now)
        .at_stage(record.approval_stage);
    match state
        .store
        .transition_schedule_request_with(&t, Some(&entry))
        .await?
    {
        TransitionOutcome::Applied(_) => Ok(StatusCode::NO_CONTENT),
        _ => Err(GraphError::new(
            StatusCode::CONFLICT,
            "InvalidRequestState",
            "The request changed meanwhile (approved, denied or expired); read it again.",
        )),
    }
}

/// A request may wait this long for its step-up; then it fails.
pub const STEP_UP_WINDOW: Duration = Duration::minutes(15);

/// Fails requests that waited too long: for their step-up ([`STEP_UP_WINDOW`]), at an approval
/// stage (its `approvalStageTimeOutInDays`, counted from when the stage began), or for an
/// administrator's decision on an extension or renewal
/// ([`crate::graph::approvals::ADMIN_DECISION_DAYS`]), each with an audit entry. Returns how
/// many.
pub async fn fail_overdue_requests(state: &AppState) -> Result<usize, GraphError> {
    let now = state.now();
    let mut failed = 0;
    let overdue_step_ups = state
        .store
        .list_schedule_requests(&store::ScheduleRequestQuery {
            status: Some(Status::PendingStepUp),
            created_before: Some(now - STEP_UP_WINDOW),
            limit: 1000,
            ..store::ScheduleRequestQuery::default()
        })
        .await?;
    for r in overdue_step_ups {
        let reason = format!(
            "The step-up was not completed within {} minutes of the request.",
            STEP_UP_WINDOW.num_minutes()
        );
        failed += usize::from(fail_request(state, &r, Status::PendingStepUp, &reason, now).await?);
    }
    let waiting = state
        .store
        .list_schedule_requests(&store::ScheduleRequestQuery {
            status: Some(Status::PendingApproval),
            limit: 1000,
            ..store::ScheduleRequestQuery::default()
        })
        .await?;
    let deciding = state
        .store
        .list_schedule_requests(&store::ScheduleRequestQuery {
            status: Some(Status::PendingAdminDecision),
            created_before: Some(
                now - Duration::days(crate::graph::approvals::ADMIN_DECISION_DAYS),
            ),
            limit: 1000,
            ..store::ScheduleRequestQuery::default()
        })
        .await?;
    for r in deciding {
        let reason = format!(
            "No administrator decided within {} days.",
            crate::graph::approvals::ADMIN_DECISION_DAYS
        );
        failed +=
            usize::from(fail_request(state, &r, Status::PendingAdminDecision, &reason, now).await?);
    }
    // Every 5 seconds over every waiting request: each role's settings are read once.
    let mut stages_by_role: std::collections::HashMap<String, Vec<pim::ApprovalStage>> =
        std::collections::HashMap::new();
    for r in waiting {
        let role = r.request.role_definition_id.to_ascii_lowercase();
        if !stages_by_role.contains_key(&role) {
            let policy = role_policy(state, &r.request.role_definition_id).await?;
            stages_by_role.insert(role.clone(), crate::graph::approvals::stages_of(&policy));
        }
        let stages = stages_by_role
            .get(&role)
            .map(Vec::as_slice)
            .unwrap_or_default();
        // Stored settings may predate the bound on writes: clamped to it, and the deadline
        // computed without overflow (one beyond representable time is never reached).
        let days = stages
            .get(r.approval_stage as usize)
            .map_or(1, |s| s.approval_stage_time_out_in_days)
            .clamp(1, pim::MAX_STAGE_TIMEOUT_DAYS);
        let deadline = Duration::try_days(days).and_then(|d| r.updated_at.checked_add_signed(d));
        if deadline.is_none_or(|deadline| now < deadline) {
            continue;
        }
        let reason = format!(
            "Approval stage {} was not decided within {days} day(s).",
            r.approval_stage + 1
        );
        failed +=
            usize::from(fail_request(state, &r, Status::PendingApproval, &reason, now).await?);
    }
    Ok(failed)
}

/// Moves `r` from `from` to `Failed`, audited; `false` if it had moved on meanwhile.
async fn fail_request(
    state: &AppState,
    r: &store::ScheduleRequestRecord,
    from: Status,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, GraphError> {
    let t = RequestTransition::new(r.id(), from, Status::Failed, now).at_stage(r.approval_stage);
    let mut entry = AuditEntry::new(
        "RoleManagement",
        "Add member to role request expired",
        "Update",
        now,
    )
    .by_app("Portcullis PIM expiry")
    .target("Role", &r.request.role_definition_id, None)
    .target("User", &r.request.principal_id, None)
    .correlation(r.id())
    .failed(reason);
    entry.result = store::AuditResult::Timeout;
    let applied = state
        .store
        .transition_schedule_request_with(&t, Some(&entry))
        .await?
        .is_applied();
    if applied {
        tracing::info!(request = %r.id(), reason, "request expired");
    }
    Ok(applied)
}

/// The durable expiry job: ends activations whose time is up (also those due while the service
/// was down), with an audit entry each.
pub async fn expire_due(state: &AppState) -> Result<usize, crate::error::ServeError> {
    if let Err(e) = fail_overdue_requests(state).await {
        tracing::error!(error = %e.message, "failing overdue requests did not complete");
    }
    let ended = state.store.expire_due_assignments(state.now()).await?;
    for a in &ended {
        tracing::info!(principal = %a.principal_id, role = %a.role_definition_id, "activation ended");
    }
    if !ended.is_empty() {
        state.roles_changed();
    }
    Ok(ended.len())
}
