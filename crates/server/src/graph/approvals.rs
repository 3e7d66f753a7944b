//! Approvals of activation requests (Graph `roleAssignmentApprovals`): a request whose role
//! settings require approval waits in `PendingApproval`, stage by stage, until a primary
//! approver of the current stage approves or denies it. The approval's id is the request's; its
//! steps are the stages (`id` "1", "2", …).
//!
//! The requester can never decide their own request (also when they are an approver), and only
//! a primary approver of the current stage — a named user, or a member (transitively) of a named
//! group, resolved when the decision is made — can decide at it. The last approval re-checks the
//! request against the role's current settings and the requester's current eligibility, then
//! activates the role: decision, request status, assignment and audit entry in one transaction.

use crate::graph::activation::{activated_entry, audit, holdings, refuse, role_policy};
use crate::graph::admin::is_role_admin;
use crate::graph::auth::{caller, Caller};
use crate::graph::body::JsonBody;
use crate::graph::eligibility::{new_schedule, violation_error};
use crate::graph::error::GraphError;
use crate::graph::schedules::filter_by_current_user_on;
use crate::state::AppState;
use app::Permission;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use pim::{
    Action, ActivationFacts, ApprovalStage, Decision, Event, Progress, RequestFlow,
    RoleManagementPolicy, Rule, RuleId, ScheduleKind, ScheduleRequest, Status, SubjectSet,
};
use policy::directory::AssignmentStatus;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use store::{
    ApprovalDecision, AssignmentQuery, RequestTransition, ReviewResult, RoleAssignment,
    ScheduleRequestQuery, ScheduleRequestRecord, TransitionOutcome,
};

/// The approval stages of a role's activation (`Approval_EndUser_Assignment`).
pub fn stages_of(policy: &RoleManagementPolicy) -> Vec<ApprovalStage> {
    match policy.rule(&RuleId::ApprovalEndUserAssignment) {
        Some(Rule::Approval(r)) => r.setting.approval_stages.clone(),
        _ => Vec::new(),
    }
}

/// How long an extension or renewal waits for an administrator before it fails.
pub const ADMIN_DECISION_DAYS: i64 = 7;

/// Whether the request waits (or waited) for an administrator rather than for approvers: a
/// `selfExtend` or `selfRenew`.
pub fn is_admin_decision(record: &ScheduleRequestRecord) -> bool {
    matches!(
        record.request.action(),
        Action::SelfExtend | Action::SelfRenew
    )
}

/// The one step of an administrator's decision.
fn admin_stage() -> ApprovalStage {
    ApprovalStage {
        approval_stage_time_out_in_days: ADMIN_DECISION_DAYS,
        ..ApprovalStage::default()
    }
}

/// The users who hold an administrator role (Global or Privileged Role Administrator) actively
/// now, directly or through a group.
async fn role_administrators(state: &AppState) -> Result<BTreeSet<String>, GraphError> {
    let now = state.now();
    let mut ids = BTreeSet::new();
    for role in app::authz::ManageRoles::ROLES
        .iter()
        .map(|r| r.template_id())
    {
        for s in state
            .store
            .list_scheduled_assignments(&AssignmentQuery {
                role_definition_id: Some(role.to_string()),
                status: Some(AssignmentStatus::Active),
                in_force_at: Some(now),
                ..AssignmentQuery::default()
            })
            .await?
        {
            let principal = s.assignment.principal_id;
            let members = state.store.transitive_user_members(&principal).await?;
            if members.is_empty() {
                ids.insert(principal.to_ascii_lowercase());
            } else {
                ids.extend(members.into_iter().map(|m| m.to_ascii_lowercase()));
            }
        }
    }
    Ok(ids)
}

/// The users who may decide at each stage: named users and the (transitive) members of named
/// groups.
async fn resolve(
    state: &AppState,
    stages: &[ApprovalStage],
) -> Result<Vec<BTreeSet<String>>, GraphError> {
    let mut resolved = Vec::with_capacity(stages.len());
    for stage in stages {
        resolved.push(users_of(state, &stage.primary_approvers).await?);
    }
    Ok(resolved)
}

/// The users a list of subject sets names: single users, and the transitive members of groups.
async fn users_of(
    state: &AppState,
    subjects: &[SubjectSet],
) -> Result<BTreeSet<String>, GraphError> {
    let mut ids = BTreeSet::new();
    for subject in subjects {
        match subject {
            SubjectSet::SingleUser(u) if !u.user_id.is_empty() => {
                ids.insert(u.user_id.to_ascii_lowercase());
            }
            SubjectSet::GroupMembers(g) if !g.group_id.is_empty() => {
                for member in state.store.transitive_user_members(&g.group_id).await? {
                    ids.insert(member.to_ascii_lowercase());
                }
            }
            _ => {}
        }
    }
    Ok(ids)
}

/// A request that waits (or waited) for approval, with the stages and decisions that make its
/// approval.
struct Approval {
    record: ScheduleRequestRecord,
    stages: Vec<ApprovalStage>,
    approvers: Vec<BTreeSet<String>>,
    decisions: Vec<ApprovalDecision>,
}

impl Approval {
    async fn load(state: &AppState, record: ScheduleRequestRecord) -> Result<Self, GraphError> {
        let (stages, approvers) = if is_admin_decision(&record) {
            (vec![admin_stage()], vec![role_administrators(state).await?])
        } else {
            let stages = stages_of(&role_policy(state, &record.request.role_definition_id).await?);
            let approvers = resolve(state, &stages).await?;
            (stages, approvers)
        };
        let decisions = state.store.list_approval_decisions(record.id()).await?;
        let mut approval = Approval {
            record,
            stages,
            approvers,
            decisions,
        };
        approval.escalate(state).await?;
        Ok(approval)
    }

    /// Adds the escalation approvers to the stage in progress once its
    /// `escalationTimeInMinutes` (counted from when the stage began) has passed, where the stage
    /// enables escalation.
    ///
    /// Writes bound the escalation time, but settings already stored may hold any number: one
    /// beyond representable time never comes (checked arithmetic, never an overflow that would
    /// break every read of the role's approvals).
    async fn escalate(&mut self, state: &AppState) -> Result<(), GraphError> {
        let current = self.record.approval_stage as usize;
        let Some(stage) = self.stages.get(current) else {
            return Ok(());
        };
        let due = chrono::TimeDelta::try_minutes(stage.escalation_time_in_minutes.max(0))
            .and_then(|after| self.record.updated_at.checked_add_signed(after));
        if !stage.is_escalation_enabled
            || self.record.status() != Status::PendingApproval
            || due.is_none_or(|due| state.now() < due)
        {
            return Ok(());
        }
        let extra = users_of(state, &stage.escalation_approvers).await?;
        if let Some(set) = self.approvers.get_mut(current) {
            set.extend(extra);
        }
        Ok(())
    }

    fn is_approver(&self, stage: usize, user_id: &str) -> bool {
        self.approvers
            .get(stage)
            .is_some_and(|set| set.contains(&user_id.to_ascii_lowercase()))
    }

    /// Whether `user_id` may read it: the requester, an approver of any stage, or (checked by
    /// the caller) a role administrator.
    fn concerns(&self, user_id: &str) -> bool {
        self.record
            .request
            .principal_id
            .eq_ignore_ascii_case(user_id)
            || (0..self.approvers.len()).any(|i| self.is_approver(i, user_id))
    }

    fn step(&self, index: usize, caller_id: &str) -> Value {
        let status = self.record.status();
        let current = self.record.approval_stage as usize;
        let decision = self.decisions.iter().find(|d| d.stage as usize == index);
        let step_status = match (decision, &status) {
            (Some(_), _) => "Completed",
            (None, Status::PendingApproval | Status::PendingAdminDecision) if index == current => {
                "InProgress"
            }
            (None, Status::Failed) if index == current => "Expired",
            _ => "NotStarted",
        };
        let assigned_to_me = step_status == "InProgress"
            && self.is_approver(index, caller_id)
            && !self
                .record
                .request
                .principal_id
                .eq_ignore_ascii_case(caller_id);
        json!({
            "id": (index + 1).to_string(),
            "displayName": if is_admin_decision(&self.record) {
                "Administrator's decision".to_string()
            } else {
                format!("Stage {}", index + 1)
            },
            "status": step_status,
            "reviewResult": decision.map_or("NotReviewed", |d| d.review_result.as_str()),
            "reviewedBy": decision.map(|d| json!({ "id": d.reviewed_by, "displayName": d.reviewed_by_name })),
            "reviewedDateTime": decision.map(|d| d.reviewed_at.to_rfc3339()),
            "justification": decision.map(|d| d.justification.clone()),
            "assignedToMe": assigned_to_me,
        })
    }

    fn steps(&self, caller_id: &str) -> Vec<Value> {
        let count = self.stages.len().max(
            self.decisions
                .iter()
                .map(|d| d.stage as usize + 1)
                .max()
                .unwrap_or(0),
        );
        (0..count).map(|i| self.step(i, caller_id)).collect()
    }

    fn render(&self, caller_id: &str) -> Value {
        json!({
            "id": self.record.id(),
            "steps": self.steps(caller_id),
        })
    }
}

/// The request behind approval `id`, if the caller may see it.
async fn visible(state: &AppState, caller: &Caller, id: &str) -> Result<Approval, GraphError> {
    let not_found = || GraphError::not_found("Approval", id);
    let record = match state.store.get_schedule_request(id).await {
        Ok(r) if r.request.approval_id.is_some() => r,
        Ok(_) => return Err(not_found()),
        Err(e) if e.is_not_found() => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    let approval = Approval::load(state, record).await?;
    if approval.concerns(&caller.user.id) || is_role_admin(state, &caller.user.id).await? {
        Ok(approval)
    } else {
        Err(not_found())
    }
}

/// `GET /v1.0/roleManagement/directory/roleAssignmentApprovals/{id}`, or
/// `…/filterByCurrentUser(on='approver')`: the approvals waiting for the caller's decision.
pub async fn get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(segment): Path<String>,
) -> Result<Json<Value>, GraphError> {
    let caller = caller(&state, &headers).await?;
    if let Some(valid) = filter_by_current_user_on(&segment, "approver") {
        valid?;
        let mut waiting = Vec::new();
        for status in [Status::PendingApproval, Status::PendingAdminDecision] {
            waiting.extend(
                state
                    .store
                    .list_schedule_requests(&ScheduleRequestQuery {
                        status: Some(status),
                        limit: 1000,
                        ..ScheduleRequestQuery::default()
                    })
                    .await?,
            );
        }
        waiting.sort_by(|a, b| {
            b.request
                .created_date_time
                .cmp(&a.request.created_date_time)
        });
        let mut policies: HashMap<String, (Vec<ApprovalStage>, Vec<BTreeSet<String>>)> =
            HashMap::new();
        let mut administrators: Option<BTreeSet<String>> = None;
        let mut value = Vec::new();
        for record in waiting {
            let (stages, approvers) = if is_admin_decision(&record) {
                if administrators.is_none() {
                    administrators = Some(role_administrators(&state).await?);
                }
                (
                    vec![admin_stage()],
                    vec![administrators.clone().unwrap_or_default()],
                )
            } else {
                let role = record.request.role_definition_id.to_ascii_lowercase();
                if !policies.contains_key(&role) {
                    let stages =
                        stages_of(&role_policy(&state, &record.request.role_definition_id).await?);
                    let approvers = resolve(&state, &stages).await?;
                    policies.insert(role.clone(), (stages, approvers));
                }
                policies.get(&role).cloned().unwrap_or_default()
            };
            let mut approval = Approval {
                decisions: Vec::new(),
                record,
                stages,
                approvers,
            };
            approval.escalate(&state).await?;
            let current = approval.record.approval_stage as usize;
            let requester = &approval.record.request.principal_id;
            if approval.is_approver(current, &caller.user.id)
                && !requester.eq_ignore_ascii_case(&caller.user.id)
            {
                // The decisions only of the approvals listed.
                approval.decisions = state
                    .store
                    .list_approval_decisions(approval.record.id())
                    .await?;
                value.push(approval.render(&caller.user.id));
            }
        }
        return Ok(Json(json!({
            "@odata.context": format!("{}/v1.0/$metadata#roleManagement/directory/roleAssignmentApprovals", state.issuer),
            "value": value,
        })));
    }
    let approval = visible(&state, &caller, &segment).await?;
    Ok(Json(approval.render(&caller.user.id)))
}

/// `GET …/roleAssignmentApprovals/{id}/steps`.
pub async fn list_steps(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, GraphError> {
    let caller = caller(&state, &headers).await?;
    let approval = visible(&state, &caller, &id).await?;
    Ok(Json(json!({ "value": approval.steps(&caller.user.id) })))
}

/// `GET …/roleAssignmentApprovals/{id}/steps/{stepId}`.
pub async fn get_step(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, step)): Path<(String, String)>,
) -> Result<Json<Value>, GraphError> {
    let caller = caller(&state, &headers).await?;
    let approval = visible(&state, &caller, &id).await?;
    approval
        .steps(&caller.user.id)
        .into_iter()
        .find(|s| s["id"] == step.as_str())
        .map(Json)
        .ok_or_else(|| GraphError::not_found("Approval step", &step))
}

/// The body of a decision.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Review {
    review_result: String,
    #[serde(default)]
    justification: Option<String>,
}

/// `PATCH …/roleAssignmentApprovals/{id}/steps/{stepId}` with `reviewResult` (`Approve` or
/// `Deny`) and `justification`: `204` when the decision is recorded.
pub async fn decide(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, step)): Path<(String, String)>,
    body: JsonBody,
) -> Result<StatusCode, GraphError> {
    let caller = caller(&state, &headers).await?;
    let now = state.now();
    let review: Review = body.parse(
        "an approvalStep decision ({\"reviewResult\": \"Approve\" or \"Deny\", \
         \"justification\": \"…\"})",
    )?;
    let Some(result) = ReviewResult::parse(&review.review_result) else {
        return Err(GraphError::bad_request(
            "BadRequest",
            format!(
                "reviewResult must be 'Approve' or 'Deny', not '{}'.",
                review.review_result
            ),
        ));
    };
    let justification = review.justification.unwrap_or_default().trim().to_string();
    let approval = visible(&state, &caller, &id).await?;
    let record = &approval.record;
    let role = record.request.role_definition_id.clone();
    let entry = || {
        audit(&caller, "Approval decision refused", &role, now)
            .correlation(record.id())
            .detail("step", &step)
    };
    let waiting = record.status();
    let admin_decision = is_admin_decision(record);
    if !matches!(
        waiting,
        Status::PendingApproval | Status::PendingAdminDecision
    ) {
        let e = GraphError::bad_request(
            "InvalidRequestState",
            format!(
                "The request is {}: there is nothing left to decide.",
                record.status()
            ),
        );
        return Err(refuse(&state, entry(), e).await);
    }
    let current = record.approval_stage as usize;
    if step.trim() != (current + 1).to_string() {
        let e = GraphError::bad_request(
            "InvalidRequestState",
            format!(
                "Step '{step}' is not the step in progress; step {} is.",
                current + 1
            ),
        );
        return Err(refuse(&state, entry(), e).await);
    }
    let flow = RequestFlow {
        requester: record.request.principal_id.clone(),
        needs_step_up: false,
        decision: if admin_decision {
            Decision::Admin(approval.approvers.first().cloned().unwrap_or_default())
        } else {
            Decision::Approval(approval.approvers.clone())
        },
    };
    let from = Progress {
        status: waiting.clone(),
        stage: current,
        failure: None,
    };
    let event = match result {
        ReviewResult::Approve => Event::Approved {
            by: caller.user.id.to_ascii_lowercase(),
        },
        ReviewResult::Deny => Event::Denied {
            by: caller.user.id.to_ascii_lowercase(),
        },
    };
    let next = match flow.transition(&from, &event) {
        Ok(next) => next,
        Err(e) => {
            let error = GraphError::new(
                StatusCode::FORBIDDEN,
                e.code(),
                format!("{}.", capitalise(&e.to_string())),
            );
            return Err(refuse(&state, entry(), error).await);
        }
    };
    if justification.is_empty()
        && approval
            .stages
            .get(current)
            .is_some_and(|s| s.is_approver_justification_required)
    {
        let e = GraphError::bad_request(
            "JustificationRequired",
            format!(
                "Approval stage {} requires a justification from the approver.",
                current + 1
            ),
        );
        return Err(refuse(&state, entry(), e).await);
    }
    let decision = ApprovalDecision {
        request_id: record.id().to_string(),
        stage: record.approval_stage,
        review_result: result,
        reviewed_by: caller.user.id.clone(),
        reviewed_by_name: Some(caller.user.user_principal_name.clone()),
        reviewed_at: now,
        justification: justification.clone(),
    };
    let t = RequestTransition::new(record.id(), waiting, next.status.clone(), now)
        .at_stage(record.approval_stage);
    let decided = |activity: &str| {
        audit(&caller, activity, &role, now)
            .correlation(record.id())
            .target("User", &record.request.principal_id, None)
            .detail("stage", &(current + 1).to_string())
            .detail("justification", &justification)
    };
    let outcome = match next.status {
        Status::PendingApproval => {
            let t = t.to_stage(u32::try_from(next.stage).unwrap_or(u32::MAX));
            let entry = decided("Approval stage approved (PIM activation)");
            state
                .store
                .decide_approval(&t, &decision, None, &entry)
                .await?
        }
        Status::Denied => {
            let entry = decided(if admin_decision {
                "Extension or renewal denied (administrator's decision)"
            } else {
                "Add member to role request denied (PIM activation)"
            });
            state
                .store
                .decide_approval(&t, &decision, None, &entry)
                .await?
        }
        Status::Granted if admin_decision => {
            let replacement = match extended_assignment(&state, record, now).await? {
                Ok(assignment) => assignment,
                Err(reason) => return Err(refuse(&state, entry(), no_longer_valid(&reason)).await),
            };
            let t = RequestTransition {
                to: Status::Provisioned,
                ..t
            };
            let verb = if record.request.action() == Action::SelfRenew {
                "renewed"
            } else {
                "extended"
            };
            let entry = decided(&format!(
                "{} {verb} (administrator's decision)",
                capitalise(record.kind.describe())
            ))
            .detail("scheduleId", &replacement.id)
            .detail(
                "end",
                &replacement
                    .end_at
                    .map(|e| e.to_rfc3339())
                    .unwrap_or_default(),
            );
            let outcome = state
                .store
                .decide_extension(&t, &decision, &replacement, &entry)
                .await?;
            if outcome.is_applied() {
                state.roles_changed();
            }
            outcome
        }
        Status::Granted => {
            let assignment = match granted_assignment(&state, record, now).await? {
                Ok(assignment) => assignment,
                Err(reason) => return Err(refuse(&state, entry(), no_longer_valid(&reason)).await),
            };
            let t = RequestTransition {
                to: Status::Provisioned,
                ..t
            };
            let entry = activated_entry(
                decided("Add member to role completed (PIM activation approved)"),
                &assignment,
                record.id(),
            );
            let outcome = state
                .store
                .decide_approval(&t, &decision, Some(&assignment), &entry)
                .await?;
            if outcome.is_applied() {
                state.roles_changed();
                tracing::info!(request = %record.id(), role = %role, "activation approved and provisioned");
            }
            outcome
        }
        other => {
            return Err(GraphError::from(crate::error::ServeError::Internal(
                format!("an approval led to the unexpected status {other}"),
            )))
        }
    };
    match outcome {
        TransitionOutcome::Applied(_) => Ok(StatusCode::NO_CONTENT),
        _ => Err(GraphError::new(
            StatusCode::CONFLICT,
            "InvalidRequestState",
            "The request changed meanwhile (another approver decided, the requester canceled, or it expired); read it again.",
        )),
    }
}

/// The refusal of a decision whose request no longer passes the role's settings.
fn no_longer_valid(reason: &str) -> GraphError {
    GraphError::bad_request(
        "RoleAssignmentRequestPolicyValidationFailed",
        format!("The request can no longer be granted, so the decision was not recorded: {reason}"),
    )
}

/// The request, starting now if its requested start has passed (a decision may come long after
/// the request).
fn from_now(request: &ScheduleRequest, now: DateTime<Utc>) -> ScheduleRequest {
    let mut again = request.clone();
    if let Some(schedule) = again.schedule_info.as_mut() {
        if schedule.start_date_time.is_some_and(|s| s <= now) {
            schedule.start_date_time = None;
        }
    }
    again
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The active assignment the last approval makes: the request checked again against the role's
/// current settings and the requester's current eligibility and activations, starting now (or
/// at its requested start, if that is still ahead). `Err` says why it can no longer be granted.
async fn granted_assignment(
    state: &AppState,
    record: &ScheduleRequestRecord,
    now: DateTime<Utc>,
) -> Result<Result<RoleAssignment, String>, GraphError> {
    let request = &record.request;
    let role = &request.role_definition_id;
    let policy = role_policy(state, role).await?;
    let held = holdings(state, &request.principal_id, role, now).await?;
    let again = from_now(request, now);
    // What was checked when the request was made (its MFA claim, its step-up) stays checked.
    let facts = ActivationFacts {
        eligibility: held.eligibility,
        active: held.active.map(|(a, _)| a),
        session_has_mfa_claim: true,
        step_up_verified: true,
    };
    match pim::validate_activation(&policy, &again, &facts, now) {
        Ok(plan) => Ok(Ok(new_schedule(
            ScheduleKind::Assignment,
            &request.principal_id,
            role,
            plan.start,
            plan.end,
        ))),
        Err(violations) => Ok(Err(violation_error(&violations).message)),
    }
}

/// The schedule an administrator's grant of a `selfExtend` or `selfRenew` makes: the request
/// checked again against the role's current settings and the holder's current schedule.
async fn extended_assignment(
    state: &AppState,
    record: &ScheduleRequestRecord,
    now: DateTime<Utc>,
) -> Result<Result<RoleAssignment, String>, GraphError> {
    let request = &record.request;
    let role = &request.role_definition_id;
    let policy = role_policy(state, role).await?;
    let renewing = request.action() == Action::SelfRenew;
    let current = crate::graph::eligibility::existing(
        state,
        record.kind,
        &request.principal_id,
        role,
        renewing,
    )
    .await?;
    let again = from_now(request, now);
    match pim::validate_self_extension(&policy, &again, record.kind, current, now) {
        Ok(pim::validate::AssignmentPlan::Schedule { start, end, .. }) => Ok(Ok(new_schedule(
            record.kind,
            &request.principal_id,
            role,
            start,
            end,
        ))),
        Ok(pim::validate::AssignmentPlan::Remove) => Ok(Err("nothing to extend".into())),
        Err(violations) => Ok(Err(violation_error(&violations).message)),
    }
}
