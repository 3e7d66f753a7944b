//! The jobs: requests that waited too long fail (for their step-up, at an approval stage, for
//! an administrator's decision), and activations end on time (also those due while the service
//! was down). Each change is audited; the state machine says where an expired request goes.

use crate::pim::approvals::{stages_of, ADMIN_DECISION_DAYS};
use crate::pim::{change, flow_of, progress_of};
use crate::Core;
use chrono::{DateTime, Duration, Utc};
use pim::{Event, Status};
use std::collections::HashMap;
use store::{AuditEntry, ScheduleRequestQuery, ScheduleRequestRecord, StoreError};

/// A request may wait this long for its step-up; then it fails.
pub const STEP_UP_WINDOW: Duration = Duration::minutes(15);

/// How many waiting requests of one status a run looks at.
const BATCH: u32 = 1000;

/// Fails requests that waited too long: for their step-up ([`STEP_UP_WINDOW`]), at an approval
/// stage (its `approvalStageTimeOutInDays`, counted from when the stage began), or for an
/// administrator's decision on an extension or renewal ([`ADMIN_DECISION_DAYS`]), each with an
/// audit entry. Returns how many.
pub async fn fail_overdue_requests(core: &Core) -> Result<usize, StoreError> {
    let now = core.now();
    let mut failed = 0;
    let waiting = |status: Status, created_before: Option<DateTime<Utc>>| ScheduleRequestQuery {
        status: Some(status),
        created_before,
        limit: BATCH,
        ..ScheduleRequestQuery::default()
    };
    let reason = format!(
        "The step-up was not completed within {} minutes of the request.",
        STEP_UP_WINDOW.num_minutes()
    );
    for r in core
        .store
        .list_schedule_requests(&waiting(Status::PendingStepUp, Some(now - STEP_UP_WINDOW)))
        .await?
    {
        failed += usize::from(fail_request(core, &r, &reason, now).await?);
    }
    let approvals = core
        .store
        .list_schedule_requests(&waiting(Status::PendingApproval, None))
        .await?;
    let reason = format!("No administrator decided within {ADMIN_DECISION_DAYS} days.");
    for r in core
        .store
        .list_schedule_requests(&waiting(
            Status::PendingAdminDecision,
            Some(now - Duration::days(ADMIN_DECISION_DAYS)),
        ))
        .await?
    {
        failed += usize::from(fail_request(core, &r, &reason, now).await?);
    }
    // Every 5 seconds over every waiting request: each role's settings are read once.
    let mut stages_by_role: HashMap<String, Vec<pim::ApprovalStage>> = HashMap::new();
    for r in approvals {
        let role = r.request.role_definition_id.to_ascii_lowercase();
        if !stages_by_role.contains_key(&role) {
            let policy = core
                .role_settings(&r.request.role_definition_id)
                .await?
                .policy;
            stages_by_role.insert(role.clone(), stages_of(&policy));
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
        failed += usize::from(fail_request(core, &r, &reason, now).await?);
    }
    Ok(failed)
}

/// Moves `r` to where the state machine sends an expired request (`Failed`), audited as a
/// timeout; `false` if it had moved on meanwhile (or cannot expire).
async fn fail_request(
    core: &Core,
    r: &ScheduleRequestRecord,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Ok(next) = flow_of(r).transition(&progress_of(r), &Event::Expired) else {
        return Ok(false);
    };
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
    let applied = core
        .store
        .transition_schedule_request_with(&change(r, &next, now), Some(&entry))
        .await?
        .is_applied();
    if applied {
        tracing::info!(request = %r.id(), reason, "request expired");
    }
    Ok(applied)
}

/// The durable expiry job: fails overdue requests (a failure there is logged, and does not stop
/// the rest), then ends activations whose time is up, with an audit entry each. Returns how
/// many activations ended.
pub async fn expire_due(core: &Core) -> Result<usize, StoreError> {
    if let Err(e) = fail_overdue_requests(core).await {
        tracing::error!(error = %e, "failing overdue requests did not complete");
    }
    let ended = core.store.expire_due_assignments(core.now()).await?;
    for a in &ended {
        tracing::info!(principal = %a.principal_id, role = %a.role_definition_id, "activation ended");
    }
    if !ended.is_empty() {
        core.roles_changed();
    }
    Ok(ended.len())
}
