//! Administrators' schedule requests (`adminAssign`, `adminRemove`): the request record, the
//! role assignment it makes or ends, and the audit entry, in one transaction.
//!
//! Two administrators assigning the same principal the same role at once get one assignment:
//! the transaction first takes a row lock on the role's definition (an `UPDATE` that changes
//! nothing; SQLite's `BEGIN IMMEDIATE` serializes anyway), then checks that no schedule of that
//! kind is in force or planned, then inserts. Lock order follows the rest of the store: role
//! assignments, then requests, then the audit head last.

use crate::audit::{append_in, AuditEntry};
use crate::changes::{record_change, ChangeKind};
use crate::directory::status_text;
use crate::pim::{deactivate_in, insert_assignment_in, insert_request_in};
use crate::sql::{ms, RowExt};
use crate::{RoleAssignment, ScheduleRequestRecord, Store, StoreError};
use ::pim::{ScheduleKind, ScheduleRequest, Status};
use chrono::{DateTime, Utc};
use policy::directory::AssignmentStatus;
use sqlx::{Any, Transaction};

/// What became of an administrator's request.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminOutcome {
    /// Done: the request as stored, and the assignments made (`adminAssign`: one) or ended
    /// (`adminRemove`: every schedule of that kind the principal had for the role).
    Done {
        /// The request as stored.
        request: Box<ScheduleRequestRecord>,
        /// The assignments made or ended, as they now are.
        assignments: Vec<RoleAssignment>,
    },
    /// `adminAssign`: the principal already has a schedule of this kind for the role that has
    /// not ended (in force, or starting later); nothing changed.
    AlreadyAssigned,
    /// `adminRemove`: the principal has no schedule of this kind for the role that has not
    /// ended; nothing changed.
    NothingToRemove,
}

fn status_of(kind: ScheduleKind) -> AssignmentStatus {
    match kind {
        ScheduleKind::Assignment => AssignmentStatus::Active,
        ScheduleKind::Eligibility => AssignmentStatus::Eligible,
    }
}

fn invalid(detail: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        what: "administrator request",
        detail: detail.into(),
    }
}

/// Checks the parts of a request every administrator request needs.
fn check_request(request: &ScheduleRequest) -> Result<(), StoreError> {
    if request
        .action
        .as_ref()
        .is_none_or(|a| a.as_str().is_empty())
    {
        return Err(invalid("it has no action"));
    }
    if request.principal_id.is_empty() {
        return Err(invalid("it names no principal"));
    }
    if request.role_definition_id.is_empty() {
        return Err(invalid("it names no role"));
    }
    Ok(())
}

/// Checks that `assignment` is of `kind`'s status and for the request's principal and role.
fn check_assignment(
    kind: ScheduleKind,
    request: &ScheduleRequest,
    assignment: &RoleAssignment,
) -> Result<(), StoreError> {
    check_request(request)?;
    if assignment.status != status_of(kind) {
        return Err(invalid(format!(
            "an {} is recorded with status '{}'",
            kind.describe(),
            status_text(&status_of(kind))?
        )));
    }
    if assignment.principal_id != request.principal_id
        || assignment.role_definition_id != request.role_definition_id
    {
        return Err(invalid(
            "the assignment is not for the request's principal and role",
        ));
    }
    Ok(())
}

/// Takes the row lock on the role's definition (see the module documentation); a role that does
/// not exist is [`StoreError::NotFound`].
async fn lock_role(tx: &mut Transaction<'static, Any>, role: &str) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE role_definitions SET description = description WHERE id = $1")
        .bind(role)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found("role definition", role));
    }
    Ok(())
}

/// The ids of the principal's schedules of `status` for `role` that have not ended at `at`.
pub(crate) async fn open_schedules(
    tx: &mut Transaction<'static, Any>,
    principal: &str,
    role: &str,
    status: &AssignmentStatus,
    at: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    sqlx::query(
        "SELECT id FROM role_assignments WHERE principal_id = $1 AND role_definition_id = $2 \
         AND status = $3 AND closed_at IS NULL AND (end_at IS NULL OR end_at > $4) ORDER BY id",
    )
    .bind(principal)
    .bind(role)
    .bind(status_text(status)?)
    .bind(ms(at))
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|row| row.text("id"))
    .collect()
}

/// Inserts the request record, complete at `at` with `status` and `target`.
async fn insert_request(
    tx: &mut Transaction<'static, Any>,
    kind: ScheduleKind,
    request: &ScheduleRequest,
    status: Status,
    target: &str,
    at: DateTime<Utc>,
) -> Result<ScheduleRequestRecord, StoreError> {
    let mut stored = request.clone();
    stored.status = Some(status);
    stored.target_schedule_id = Some(target.to_string());
    insert_request_in(tx, kind, &stored, at).await
}

impl Store {
    /// Records an administrator's `adminAssign` request as `Provisioned` (created and completed
    /// at the audit entry's time, its `targetScheduleId` the assignment's id), the assignment it
    /// makes (eligible for [`ScheduleKind::Eligibility`], active for
    /// [`ScheduleKind::Assignment`], linked to the request), and `audit`, in one transaction.
    /// If the principal already has a schedule of that kind for the role that has not ended,
    /// nothing changes ([`AdminOutcome::AlreadyAssigned`]). The assignment must be for the
    /// request's principal and role, with the kind's status.
    pub async fn admin_assign(
        &self,
        kind: ScheduleKind,
        request: &ScheduleRequest,
        assignment: &RoleAssignment,
        audit: &AuditEntry,
    ) -> Result<AdminOutcome, StoreError> {
        self.admin_schedule(kind, request, assignment, audit, false)
            .await
    }

    /// Records an administrator's `adminUpdate` or `adminExtend` request as `Provisioned`: every
    /// schedule of that kind the principal has for the role that has not ended is ended now
    /// (the reason is the request's action; the requests that made them become `Revoked`) and
    /// replaced by `assignment`, linked to this request; `audit` is appended; one transaction.
    /// With no schedule to replace, nothing changes ([`AdminOutcome::NothingToRemove`]).
    pub async fn admin_replace(
        &self,
        kind: ScheduleKind,
        request: &ScheduleRequest,
        assignment: &RoleAssignment,
        audit: &AuditEntry,
    ) -> Result<AdminOutcome, StoreError> {
        self.admin_schedule(kind, request, assignment, audit, true)
            .await
    }

    /// [`Store::admin_assign`] (`replace` false: there must be no open schedule) and
    /// [`Store::admin_replace`] (`replace` true: there must be one, and it is ended).
    async fn admin_schedule(
        &self,
        kind: ScheduleKind,
        request: &ScheduleRequest,
        assignment: &RoleAssignment,
        audit: &AuditEntry,
        replace: bool,
    ) -> Result<AdminOutcome, StoreError> {
        check_assignment(kind, request, assignment)?;
        let at = crate::at_ms(audit.activity_date_time);
        let mut tx = self.begin().await?;
        lock_role(&mut tx, assignment.role_definition_id.as_str()).await?;
        let open = open_schedules(
            &mut tx,
            assignment.principal_id.as_str(),
            assignment.role_definition_id.as_str(),
            &assignment.status,
            at,
        )
        .await?;
        let mut changed = Vec::new();
        if replace {
            let reason = request.action().to_string();
            for id in &open {
                if let Some(a) = deactivate_in(&mut tx, id, at, &reason).await? {
                    changed.push(a);
                }
            }
            if changed.is_empty() {
                return Ok(AdminOutcome::NothingToRemove);
            }
        } else if !open.is_empty() {
            return Ok(AdminOutcome::AlreadyAssigned);
        }
        let record = insert_request(
            &mut tx,
            kind,
            request,
            Status::Provisioned,
            &assignment.id,
            at,
        )
        .await?;
        insert_assignment_in(&mut tx, &record, assignment).await?;
        record_change(
            &mut tx,
            ChangeKind::RoleAssignments,
            assignment.principal_id.as_str(),
        )
        .await?;
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        changed.push(assignment.clone());
        Ok(AdminOutcome::Done {
            request: Box::new(record),
            assignments: changed,
        })
    }

    /// Records an administrator's `adminRemove` request and ends, at the audit entry's time,
    /// every schedule of that kind the request's principal has for the role that has not ended
    /// (one that has not started yet ends at its start: it never comes into force), with the
    /// reason `removed by an administrator`; the requests that made them become `Revoked`, as
    /// does this one (Graph's status for a removal), whose `targetScheduleId` is the first
    /// schedule ended; `audit` is appended; all in one transaction. With nothing to end,
    /// nothing changes ([`AdminOutcome::NothingToRemove`]).
    pub async fn admin_remove(
        &self,
        kind: ScheduleKind,
        request: &ScheduleRequest,
        audit: &AuditEntry,
    ) -> Result<AdminOutcome, StoreError> {
        check_request(request)?;
        let at = crate::at_ms(audit.activity_date_time);
        let status = status_of(kind);
        let mut tx = self.begin().await?;
        let open = open_schedules(
            &mut tx,
            request.principal_id.as_str(),
            request.role_definition_id.as_str(),
            &status,
            at,
        )
        .await?;
        let mut ended = Vec::new();
        for id in &open {
            // Ends it and marks the request that made it `Revoked`.
            if let Some(a) = deactivate_in(&mut tx, id, at, "removed by an administrator").await? {
                ended.push(a);
            }
        }
        let Some(first) = ended.first() else {
            return Ok(AdminOutcome::NothingToRemove);
        };
        let record = insert_request(&mut tx, kind, request, Status::Revoked, &first.id, at).await?;
        record_change(
            &mut tx,
            ChangeKind::RoleAssignments,
            request.principal_id.as_str(),
        )
        .await?;
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(AdminOutcome::Done {
            request: Box::new(record),
            assignments: ended,
        })
    }
}
