//! Approvals: a request whose role settings require approval waits in `PendingApproval`, stage
//! by stage, until a primary approver of the current stage approves or denies it; a
//! `selfExtend` or `selfRenew` waits in `PendingAdminDecision` for an active role
//! administrator. The approval's id is the request's; its steps are the stages.
//!
//! The requester can never decide their own request, and only a primary approver of the
//! current stage — a named user, or a member (transitively) of a named group, resolved when the
//! decision is made — can decide at it (the state machine says so). The last approval re-checks
//! the request against the role's current settings and the requester's current eligibility,
//! then activates the role: decision, request status, assignment and audit entry in one
//! transaction.

use crate::authz::ManageRoles;
use crate::pim::activation::activated_entry;
use crate::pim::facts::{existing, holdings};
use crate::pim::{audit, capitalise, new_schedule, progress_of, refuse, ErrorCode, Refusal};
use crate::{Caller, Core, Permission};
use chrono::{DateTime, Utc};
use pim::{
    Action, ActivationFacts, ApprovalStage, Decision, Event, RequestFlow, RoleManagementPolicy,
    Rule, RuleId, ScheduleKind, ScheduleRequest, Status, SubjectSet,
};
use policy::directory::AssignmentStatus;
use policy::ids::{RequestId, RoleId, UserId};
use std::collections::{BTreeSet, HashMap};
use store::{
    ApprovalDecision, AssignmentQuery, RequestTransition, ReviewResult, RoleAssignment,
    ScheduleRequestQuery, ScheduleRequestRecord, StoreError, TransitionOutcome,
};

crate::pim::area_error! {
    /// Why an approval could not be read or decided.
    ApprovalError
}

/// How long an extension or renewal waits for an administrator before it fails.
pub const ADMIN_DECISION_DAYS: i64 = 7;

/// The approval stages of a role's activation (`Approval_EndUser_Assignment`).
pub fn stages_of(policy: &RoleManagementPolicy) -> Vec<ApprovalStage> {
    match policy.rule(&RuleId::ApprovalEndUserAssignment) {
        Some(Rule::Approval(r)) => r.setting.approval_stages.clone(),
        _ => Vec::new(),
    }
}

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

/// The users who hold an administrator role actively now, directly or through a group.
async fn role_administrators(core: &Core) -> Result<BTreeSet<UserId>, StoreError> {
    let now = core.now();
    let mut ids = BTreeSet::new();
    for role in ManageRoles::ROLES.iter().map(|r| r.template_id()) {
        for s in core
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
            let members = core
                .store
                .transitive_user_members(principal.as_str())
                .await?;
            if members.is_empty() {
                ids.insert(UserId::trusted(principal));
            } else {
                ids.extend(members.into_iter().map(UserId::trusted));
            }
        }
    }
    Ok(ids)
}

/// The users who may decide at each stage.
async fn resolve(
    core: &Core,
    stages: &[ApprovalStage],
) -> Result<Vec<BTreeSet<UserId>>, StoreError> {
    let mut resolved = Vec::with_capacity(stages.len());
    for stage in stages {
        resolved.push(users_of(core, &stage.primary_approvers).await?);
    }
    Ok(resolved)
}

/// The users a list of subject sets names: single users, and the transitive members of groups.
async fn users_of(core: &Core, subjects: &[SubjectSet]) -> Result<BTreeSet<UserId>, StoreError> {
    let mut ids = BTreeSet::new();
    for subject in subjects {
        match subject {
            // An id no user can have (empty, malformed) names nobody.
            SubjectSet::SingleUser(u) => {
                ids.extend(UserId::parse(&u.user_id).ok());
            }
            SubjectSet::GroupMembers(g) if !g.group_id.is_empty() => {
                ids.extend(
                    core.store
                        .transitive_user_members(&g.group_id)
                        .await?
                        .into_iter()
                        .map(UserId::trusted),
                );
            }
            _ => {}
        }
    }
    Ok(ids)
}

/// A step's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    /// Decided.
    Completed,
    /// Waiting for a decision.
    InProgress,
    /// The request failed while it waited here.
    Expired,
    /// Not reached.
    NotStarted,
}

impl StepStatus {
    /// Graph's name.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Completed => "Completed",
            StepStatus::InProgress => "InProgress",
            StepStatus::Expired => "Expired",
            StepStatus::NotStarted => "NotStarted",
        }
    }
}

/// One step of an approval as a caller sees it.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    /// From 1.
    pub number: usize,
    /// "Stage n", or "Administrator's decision".
    pub display_name: String,
    /// Its status.
    pub status: StepStatus,
    /// The decision made at it.
    pub decision: Option<&'a ApprovalDecision>,
    /// Whether the caller may decide it now.
    pub assigned_to_me: bool,
}

/// A request that waits (or waited) for approval, with the stages and decisions that make its
/// approval.
#[derive(Debug, Clone)]
pub struct Approval {
    /// The request.
    pub record: ScheduleRequestRecord,
    stages: Vec<ApprovalStage>,
    approvers: Vec<BTreeSet<UserId>>,
    decisions: Vec<ApprovalDecision>,
}

impl Approval {
    async fn load(core: &Core, record: ScheduleRequestRecord) -> Result<Self, StoreError> {
        let (stages, approvers) = if is_admin_decision(&record) {
            (vec![admin_stage()], vec![role_administrators(core).await?])
        } else {
            let policy = core
                .role_settings(&record.request.role_definition_id)
                .await?
                .policy;
            let stages = stages_of(&policy);
            let approvers = resolve(core, &stages).await?;
            (stages, approvers)
        };
        let decisions = core.store.list_approval_decisions(record.id()).await?;
        let mut approval = Approval {
            record,
            stages,
            approvers,
            decisions,
        };
        approval.escalate(core).await?;
        Ok(approval)
    }

    /// Adds the escalation approvers to the stage in progress once its
    /// `escalationTimeInMinutes` (counted from when the stage began) has passed, where the stage
    /// enables escalation.
    ///
    /// Writes bound the escalation time, but settings already stored may hold any number: one
    /// beyond representable time never comes (checked arithmetic, never an overflow that would
    /// break every read of the role's approvals).
    async fn escalate(&mut self, core: &Core) -> Result<(), StoreError> {
        let current = self.record.approval_stage as usize;
        let Some(stage) = self.stages.get(current) else {
            return Ok(());
        };
        let due = chrono::TimeDelta::try_minutes(stage.escalation_time_in_minutes.max(0))
            .and_then(|after| self.record.updated_at.checked_add_signed(after));
        if !stage.is_escalation_enabled
            || self.record.status() != Status::PendingApproval
            || due.is_none_or(|due| core.now() < due)
        {
            return Ok(());
        }
        let extra = users_of(core, &stage.escalation_approvers).await?;
        if let Some(set) = self.approvers.get_mut(current) {
            set.extend(extra);
        }
        Ok(())
    }

    fn is_approver(&self, stage: usize, user_id: &UserId) -> bool {
        self.approvers
            .get(stage)
            .is_some_and(|set| set.contains(user_id))
    }

    /// Whether `user_id` is among the approvers of the step in progress — also when they made
    /// the request, which they may never decide (see [`Step::assigned_to_me`]).
    pub fn is_approver_now(&self, user_id: &UserId) -> bool {
        self.is_approver(self.record.approval_stage as usize, user_id)
    }

    /// Whether `user_id` made the request.
    fn is_requester(&self, user_id: &UserId) -> bool {
        *user_id == self.record.request.principal_id
    }

    /// Whether `user_id` may read it: the requester, or an approver of any stage.
    fn concerns(&self, user_id: &UserId) -> bool {
        self.is_requester(user_id)
            || (0..self.approvers.len()).any(|i| self.is_approver(i, user_id))
    }

    fn step(&self, index: usize, caller_id: &UserId) -> Step<'_> {
        let current = self.record.approval_stage as usize;
        let decision = self.decisions.iter().find(|d| d.stage as usize == index);
        let status = match (decision, self.record.status()) {
            (Some(_), _) => StepStatus::Completed,
            (None, Status::PendingApproval | Status::PendingAdminDecision) if index == current => {
                StepStatus::InProgress
            }
            (None, Status::Failed) if index == current => StepStatus::Expired,
            _ => StepStatus::NotStarted,
        };
        Step {
            number: index + 1,
            display_name: if is_admin_decision(&self.record) {
                "Administrator's decision".to_string()
            } else {
                format!("Stage {}", index + 1)
            },
            status,
            decision,
            assigned_to_me: status == StepStatus::InProgress
                && self.is_approver(index, caller_id)
                && !self.is_requester(caller_id),
        }
    }

    /// Its steps, as `caller_id` sees them.
    pub fn steps(&self, caller_id: &UserId) -> Vec<Step<'_>> {
        let count = self.stages.len().max(
            self.decisions
                .iter()
                .map(|d| d.stage as usize + 1)
                .max()
                .unwrap_or(0),
        );
        (0..count).map(|i| self.step(i, caller_id)).collect()
    }
}

/// The approval of request `id`, if the caller may see it: the requester, an approver, or a
/// caller who may administer roles. Others are told it does not exist.
pub async fn visible(
    core: &Core,
    caller: &Caller,
    id: &RequestId,
) -> Result<Approval, ApprovalError> {
    let not_found = || Refusal::not_found("Approval", id.as_str());
    let record = match core.store.get_schedule_request(id.as_str()).await {
        Ok(r) if r.request.approval_id.is_some() => r,
        Ok(_) => return Err(not_found().into()),
        Err(e) if e.is_not_found() => return Err(not_found().into()),
        Err(e) => return Err(e.into()),
    };
    let approval = Approval::load(core, record).await?;
    if approval.concerns(&caller.id()) || core.may::<ManageRoles>(caller).await? {
        Ok(approval)
    } else {
        Err(not_found().into())
    }
}

/// The approvals waiting for the caller's decision, newest first.
pub async fn waiting_for(core: &Core, caller: &Caller) -> Result<Vec<Approval>, ApprovalError> {
    let mut waiting = Vec::new();
    for status in [Status::PendingApproval, Status::PendingAdminDecision] {
        waiting.extend(
            core.store
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
    let mut policies: HashMap<RoleId, (Vec<ApprovalStage>, Vec<BTreeSet<UserId>>)> = HashMap::new();
    let mut administrators: Option<BTreeSet<UserId>> = None;
    let mut mine = Vec::new();
    for record in waiting {
        let (stages, approvers) = if is_admin_decision(&record) {
            if administrators.is_none() {
                administrators = Some(role_administrators(core).await?);
            }
            (
                vec![admin_stage()],
                vec![administrators.clone().unwrap_or_default()],
            )
        } else {
            let role = RoleId::trusted(record.request.role_definition_id.as_str());
            if !policies.contains_key(&role) {
                let policy = core
                    .role_settings(&record.request.role_definition_id)
                    .await?
                    .policy;
                let stages = stages_of(&policy);
                let approvers = resolve(core, &stages).await?;
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
        approval.escalate(core).await?;
        let current = approval.record.approval_stage as usize;
        let me = caller.id();
        if approval.is_approver(current, &me) && !approval.is_requester(&me) {
            // The decisions only of the approvals listed.
            approval.decisions = core
                .store
                .list_approval_decisions(approval.record.id())
                .await?;
            mine.push(approval);
        }
    }
    Ok(mine)
}

/// The caller's own requests that wait for a decision (of approvers, or of an administrator),
/// newest first: what they cannot decide themselves.
pub async fn requested_by(core: &Core, caller: &Caller) -> Result<Vec<Approval>, ApprovalError> {
    let mut own = Vec::new();
    for status in [Status::PendingApproval, Status::PendingAdminDecision] {
        own.extend(
            core.store
                .list_schedule_requests(&ScheduleRequestQuery {
                    principal_id: Some(caller.user.id.clone()),
                    status: Some(status),
                    limit: 1000,
                    ..ScheduleRequestQuery::default()
                })
                .await?,
        );
    }
    own.sort_by(|a, b| {
        b.request
            .created_date_time
            .cmp(&a.request.created_date_time)
    });
    let mut approvals = Vec::with_capacity(own.len());
    for record in own {
        approvals.push(Approval::load(core, record).await?);
    }
    Ok(approvals)
}

/// A decision on an approval step.
#[derive(Debug, Clone)]
pub struct Review {
    /// Approve or deny.
    pub result: ReviewResult,
    /// The approver's reasons (trimmed; may be empty unless the stage requires one).
    pub justification: String,
}

/// Records the caller's decision at step `step` (from 1, as given) of approval `id`: the step
/// in progress only, by one who may decide at it (never the requester). The last approval
/// activates the role (or, for an extension or renewal, replaces the schedule) after checking
/// the request again against the role's current settings. Refusals are audited.
pub async fn decide(
    core: &Core,
    caller: &Caller,
    id: &RequestId,
    step: &str,
    review: Review,
) -> Result<(), ApprovalError> {
    let now = core.now();
    let approval = visible(core, caller, id).await?;
    let record = &approval.record;
    let role = record.request.role_definition_id.clone();
    let entry = || {
        audit(caller, "Approval decision refused", &role, now)
            .correlation(record.id())
            .detail("step", step)
    };
    let waiting = record.status();
    let admin_decision = is_admin_decision(record);
    if !matches!(
        waiting,
        Status::PendingApproval | Status::PendingAdminDecision
    ) {
        let refusal = Refusal::invalid(
            ErrorCode::InvalidRequestState,
            format!("The request is {waiting}: there is nothing left to decide."),
        );
        return Err(refuse(core, entry(), refusal).await.into());
    }
    let current = record.approval_stage as usize;
    if step.trim() != (current + 1).to_string() {
        let refusal = Refusal::invalid(
            ErrorCode::InvalidRequestState,
            format!(
                "Step '{step}' is not the step in progress; step {} is.",
                current + 1
            ),
        );
        return Err(refuse(core, entry(), refusal).await.into());
    }
    let flow = RequestFlow {
        requester: UserId::trusted(record.request.principal_id.as_str()),
        needs_step_up: false,
        decision: if admin_decision {
            Decision::Admin(approval.approvers.first().cloned().unwrap_or_default())
        } else {
            Decision::Approval(approval.approvers.clone())
        },
    };
    let by = caller.id();
    let event = match review.result {
        ReviewResult::Approve => Event::Approved { by },
        ReviewResult::Deny => Event::Denied { by },
    };
    let next = match flow.transition(&progress_of(record), &event) {
        Ok(next) => next,
        Err(e) => {
            let refusal = Refusal::new(
                crate::pim::RefusalKind::Forbidden,
                ErrorCode::from_code(e.code()),
                format!("{}.", capitalise(&e.to_string())),
            );
            return Err(refuse(core, entry(), refusal).await.into());
        }
    };
    let justification = review.justification;
    if justification.is_empty()
        && approval
            .stages
            .get(current)
            .is_some_and(|s| s.is_approver_justification_required)
    {
        let refusal = Refusal::invalid(
            ErrorCode::JustificationRequired,
            format!(
                "Approval stage {} requires a justification from the approver.",
                current + 1
            ),
        );
        return Err(refuse(core, entry(), refusal).await.into());
    }
    let decision = ApprovalDecision {
        request_id: record.id().to_string(),
        stage: record.approval_stage,
        review_result: review.result,
        reviewed_by: caller.user.id.clone(),
        reviewed_by_name: Some(caller.user.user_principal_name.clone()),
        reviewed_at: now,
        justification: justification.clone(),
    };
    let t = RequestTransition::new(record.id(), waiting, next.status.clone(), now)
        .at_stage(record.approval_stage);
    let decided = |activity: &str| {
        audit(caller, activity, &role, now)
            .correlation(record.id())
            .target("User", &record.request.principal_id, None)
            .detail("stage", &(current + 1).to_string())
            .detail("justification", &justification)
    };
    // A granted request is provisioned in the same transaction.
    let provisioned = |t: RequestTransition| -> Result<RequestTransition, ApprovalError> {
        let to = flow
            .transition(&next, &Event::Provisioned)
            .map_err(|e| ApprovalError::Internal(format!("a granted request: {e}")))?;
        Ok(RequestTransition { to: to.status, ..t })
    };
    let outcome = match next.status {
        Status::PendingApproval => {
            let stage = u32::try_from(next.stage)
                .map_err(|_| ApprovalError::Internal("an approval stage beyond u32".into()))?;
            let entry = decided("Approval stage approved (PIM activation)");
            core.store
                .decide_approval(&t.to_stage(stage), &decision, None, &entry)
                .await?
        }
        Status::Denied => {
            let entry = decided(if admin_decision {
                "Extension or renewal denied (administrator's decision)"
            } else {
                "Add member to role request denied (PIM activation)"
            });
            core.store
                .decide_approval(&t, &decision, None, &entry)
                .await?
        }
        Status::Granted if admin_decision => {
            let replacement = match extended_assignment(core, record, now).await? {
                Ok(assignment) => assignment,
                Err(reason) => {
                    return Err(refuse(core, entry(), no_longer_valid(&reason)).await.into())
                }
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
            let outcome = core
                .store
                .decide_extension(&provisioned(t)?, &decision, &replacement, &entry)
                .await?;
            if outcome.is_applied() {
                core.roles_changed();
            }
            outcome
        }
        Status::Granted => {
            let assignment = match granted_assignment(core, record, now).await? {
                Ok(assignment) => assignment,
                Err(reason) => {
                    return Err(refuse(core, entry(), no_longer_valid(&reason)).await.into())
                }
            };
            let entry = activated_entry(
                decided("Add member to role completed (PIM activation approved)"),
                &assignment,
                record.id(),
            );
            let outcome = core
                .store
                .decide_approval(&provisioned(t)?, &decision, Some(&assignment), &entry)
                .await?;
            if outcome.is_applied() {
                core.roles_changed();
                tracing::info!(request = %record.id(), role = %role, "activation approved and provisioned");
            }
            outcome
        }
        other => {
            return Err(ApprovalError::Internal(format!(
                "an approval led to the unexpected status {other}"
            )))
        }
    };
    match outcome {
        TransitionOutcome::Applied(_) => Ok(()),
        _ => Err(Refusal::conflict(
            ErrorCode::InvalidRequestState,
            "The request changed meanwhile (another approver decided, the requester canceled, or it expired); read it again.",
        )
        .into()),
    }
}

/// The refusal of a decision whose request no longer passes the role's settings.
fn no_longer_valid(reason: &str) -> Refusal {
    Refusal::invalid(
        ErrorCode::PolicyValidationFailed,
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

/// The active assignment the last approval makes: the request checked again against the role's
/// current settings and the requester's current eligibility and activations, starting now (or
/// at its requested start, if that is still ahead). `Err` says why it can no longer be granted.
async fn granted_assignment(
    core: &Core,
    record: &ScheduleRequestRecord,
    now: DateTime<Utc>,
) -> Result<Result<RoleAssignment, String>, StoreError> {
    let request = &record.request;
    let role = &request.role_definition_id;
    let policy = core.role_settings(role).await?.policy;
    let requester = policy::ids::UserId::trusted(request.principal_id.clone());
    let held = holdings(core, &requester, role, now).await?;
    let again = from_now(request, now);
    // What was checked when the request was made (its MFA claim, its step-up) stays checked:
    // a request waiting at an approval stage went past its step-up (the state machine's order).
    let facts = ActivationFacts {
        eligibility: held.eligibility,
        active: held.active.map(|(a, _)| a),
        session_has_mfa_claim: true,
        step_up: pim::step_up::StepUp::passed_earlier(&record.status()).unwrap_or_default(),
    };
    Ok(
        match pim::validate_activation(&policy, &again, &facts, now) {
            Ok(plan) => Ok(new_schedule(
                ScheduleKind::Assignment,
                &request.principal_id,
                role,
                plan.start,
                plan.end,
            )),
            Err(violations) => Err(Refusal::violations(&violations).message),
        },
    )
}

/// The schedule an administrator's grant of a `selfExtend` or `selfRenew` makes: the request
/// checked again against the role's current settings and the holder's current schedule.
async fn extended_assignment(
    core: &Core,
    record: &ScheduleRequestRecord,
    now: DateTime<Utc>,
) -> Result<Result<RoleAssignment, String>, StoreError> {
    let request = &record.request;
    let role = &request.role_definition_id;
    let policy = core.role_settings(role).await?.policy;
    let renewing = request.action() == Action::SelfRenew;
    let current = existing(core, record.kind, &request.principal_id, role, renewing).await?;
    let again = from_now(request, now);
    Ok(
        match pim::validate_self_extension(&policy, &again, record.kind, current, now) {
            Ok(pim::validate::AssignmentPlan::Schedule { start, end, .. }) => Ok(new_schedule(
                record.kind,
                &request.principal_id,
                role,
                start,
                end,
            )),
            Ok(pim::validate::AssignmentPlan::Remove) => Err("nothing to extend".into()),
            Err(violations) => Err(Refusal::violations(&violations).message),
        },
    )
}
