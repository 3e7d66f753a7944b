//! Approval decisions on schedule requests (Graph `approvalStep`s): at most one per stage, each
//! written in the transaction that moves its request on — to the next stage, to `Denied`, or to
//! `Provisioned` together with the activation it completes — with its audit entry.

use crate::audit::{append_in, AuditEntry};
use crate::changes::{record_change, ChangeKind};
use crate::error::on_write;
use crate::pim::{deactivate_in, insert_assignment_in, target_patch, transition_in};
use crate::pim_admin::open_schedules;
use crate::sql::{ms, RowExt};
use crate::{RequestTransition, RoleAssignment, Store, StoreError, TransitionOutcome};
use chrono::{DateTime, Utc};
use sqlx::{Any, Transaction};

/// An approver's verdict (Graph `reviewResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewResult {
    /// `Approve`.
    Approve,
    /// `Deny`.
    Deny,
}

impl ReviewResult {
    /// Graph's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewResult::Approve => "Approve",
            ReviewResult::Deny => "Deny",
        }
    }

    /// Reads Graph's spelling (any case); `None` for anything else.
    pub fn parse(s: &str) -> Option<ReviewResult> {
        if s.eq_ignore_ascii_case("Approve") {
            Some(ReviewResult::Approve)
        } else if s.eq_ignore_ascii_case("Deny") {
            Some(ReviewResult::Deny)
        } else {
            None
        }
    }
}

/// One stage's decision on a request.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalDecision {
    /// The request (its id is the approval's id).
    pub request_id: String,
    /// The approval stage, from 0.
    pub stage: u32,
    /// Approve or deny.
    pub review_result: ReviewResult,
    /// The approver's id.
    pub reviewed_by: String,
    /// The approver's name, for display.
    pub reviewed_by_name: Option<String>,
    /// When.
    pub reviewed_at: DateTime<Utc>,
    /// Why (may be empty where the stage does not ask for it).
    pub justification: String,
}

impl Store {
    /// Records `decision` with the request's transition `t` (from `PendingApproval` at the
    /// decision's stage), and, for the last approval, the `activation` the request completes
    /// (then `t` leads to `Provisioned` and the request's `targetScheduleId` names the
    /// assignment), and `audit`: all in one transaction, or nothing when the outcome is not
    /// `Applied` (another approver decided first) or on an error.
    pub async fn decide_approval(
        &self,
        t: &RequestTransition,
        decision: &ApprovalDecision,
        activation: Option<&RoleAssignment>,
        audit: &AuditEntry,
    ) -> Result<TransitionOutcome, StoreError> {
        if t.id != decision.request_id || t.from_stage != Some(decision.stage) {
            return Err(StoreError::Invalid {
                what: "approval decision",
                detail: "the decision is not for the request and stage the transition moves".into(),
            });
        }
        let mut tx = self.begin().await?;
        let target = activation.map(|a| target_patch(&a.id));
        let outcome = transition_in(&mut tx, t, target.as_ref()).await?;
        let TransitionOutcome::Applied(record) = &outcome else {
            return Ok(outcome);
        };
        insert_decision(&mut tx, decision).await?;
        if let Some(assignment) = activation {
            insert_assignment_in(&mut tx, record, assignment).await?;
            record_change(
                &mut tx,
                ChangeKind::RoleAssignments,
                assignment.principal_id.as_str(),
            )
            .await?;
        }
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Records an administrator's decision to grant a `selfExtend` or `selfRenew` request:
    /// `t` moves the request (from `PendingAdminDecision`) to `Provisioned`; every schedule of
    /// the new one's kind that the principal has for the role and that has not ended is ended
    /// now (reason: the request's action) and `replacement` is recorded, made by the request;
    /// the decision and `audit` are appended. One transaction, or nothing when the outcome is
    /// not `Applied`.
    pub async fn decide_extension(
        &self,
        t: &RequestTransition,
        decision: &ApprovalDecision,
        replacement: &RoleAssignment,
        audit: &AuditEntry,
    ) -> Result<TransitionOutcome, StoreError> {
        if t.id != decision.request_id {
            return Err(StoreError::Invalid {
                what: "approval decision",
                detail: "the decision is not for the request the transition moves".into(),
            });
        }
        let at = crate::at_ms(t.at);
        let mut tx = self.begin().await?;
        let target = target_patch(&replacement.id);
        let outcome = transition_in(&mut tx, t, Some(&target)).await?;
        let TransitionOutcome::Applied(record) = &outcome else {
            return Ok(outcome);
        };
        insert_decision(&mut tx, decision).await?;
        let reason = record.request.action().to_string();
        for id in open_schedules(
            &mut tx,
            replacement.principal_id.as_str(),
            replacement.role_definition_id.as_str(),
            &replacement.status,
            at,
        )
        .await?
        {
            deactivate_in(&mut tx, &id, at, &reason).await?;
        }
        insert_assignment_in(&mut tx, record, replacement).await?;
        record_change(
            &mut tx,
            ChangeKind::RoleAssignments,
            replacement.principal_id.as_str(),
        )
        .await?;
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// The decisions made on a request, by stage.
    pub async fn list_approval_decisions(
        &self,
        request_id: &str,
    ) -> Result<Vec<ApprovalDecision>, StoreError> {
        sqlx::query(
            "SELECT request_id, stage, review_result, reviewed_by, reviewed_by_name, \
             reviewed_at, justification FROM approval_steps WHERE request_id = $1 ORDER BY stage",
        )
        .bind(request_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| {
            let stage = row.int("stage")?;
            let result = row.text("review_result")?;
            Ok(ApprovalDecision {
                request_id: row.text("request_id")?,
                stage: u32::try_from(stage)
                    .map_err(|_| StoreError::corrupt("approval stage", stage))?,
                review_result: ReviewResult::parse(&result)
                    .ok_or_else(|| StoreError::corrupt("review result", result))?,
                reviewed_by: row.text("reviewed_by")?,
                reviewed_by_name: row.opt_text("reviewed_by_name")?,
                reviewed_at: row.time("reviewed_at")?,
                justification: row.text("justification")?,
            })
        })
        .collect()
    }
}

async fn insert_decision(
    tx: &mut Transaction<'static, Any>,
    decision: &ApprovalDecision,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO approval_steps (request_id, stage, review_result, reviewed_by, \
         reviewed_by_name, reviewed_at, justification) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&decision.request_id)
    .bind(i64::from(decision.stage))
    .bind(decision.review_result.as_str())
    .bind(&decision.reviewed_by)
    .bind(&decision.reviewed_by_name)
    .bind(ms(decision.reviewed_at))
    .bind(&decision.justification)
    .execute(&mut **tx)
    .await
    .map_err(on_write("approval decision"))?;
    Ok(())
}
