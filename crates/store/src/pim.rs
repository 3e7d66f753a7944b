//! Privileged identity management: role settings, schedule requests and their life, consumed
//! step-up proofs, and the role assignments requests make (activations included), each change
//! stored with its audit entry in one transaction.
//!
//! - **Role settings** ([`StoredRolePolicy`]) are versioned: a writer states the version it read
//!   and a stale write is a [`StoreError::Conflict`].
//! - **A request's status** changes only by compare-and-set ([`RequestTransition`]): of two
//!   callers moving it from the same status (two approvals, two step-up completions), one wins.
//! - **A step-up proof** (by its token id) is consumed once, whatever request it names.
//! - **An activation** is an active row of `role_assignments`, so Conditional Access sees it at
//!   once; it names its request, and its end is handled once, by [`Store::expire_due_assignments`]
//!   on whichever node runs it first, or by [`Store::deactivate_assignment`].
//!
//! The schedule behind an assignment has the assignment's id: a request's `targetScheduleId` is
//! the id of the role assignment it made or changed.

use crate::audit::{append_in, to_i64, AuditEntry, AuditRecord};
use crate::changes::{record_change, ChangeKind};
use crate::directory::{assignment_from_row, status_text};
use crate::error::on_write;
use crate::sql::{ms, opt_ms, to_json, RowExt};
use crate::{RoleAssignment, Store, StoreError};
use ::pim::{RoleManagementPolicy, ScheduleKind, ScheduleRequest, Status, DIRECTORY_ROLE};
use chrono::{DateTime, Utc};
use policy::directory::AssignmentStatus;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

/// A role's settings as stored, with the version a change must name.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRolePolicy {
    /// The role's template id.
    pub role_definition_id: String,
    /// The settings.
    pub policy: RoleManagementPolicy,
    /// Grows by one on every write, from 1.
    pub version: u64,
}

/// A schedule request as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRequestRecord {
    /// Assignment (`roleAssignmentScheduleRequests`) or eligibility request.
    pub kind: ScheduleKind,
    /// The Graph request; `id`, `status`, `createdDateTime`, `completedDateTime`, `approvalId`
    /// and `targetScheduleId` are the stored ones.
    pub request: ScheduleRequest,
    /// The current approval stage, from 0, while the request is `PendingApproval`.
    pub approval_stage: u32,
    /// The random nonce the request's step-up is bound to; set when it was recorded as
    /// `PendingStepUp`.
    pub step_up_nonce: Option<String>,
    /// When its status last changed.
    pub updated_at: DateTime<Utc>,
}

impl ScheduleRequestRecord {
    /// The request id.
    pub fn id(&self) -> &str {
        self.request.id.as_deref().unwrap_or("")
    }

    /// The stored status.
    pub fn status(&self) -> Status {
        self.request
            .status
            .clone()
            .unwrap_or_else(|| Status::Unknown(String::new()))
    }
}

/// Which schedule requests to read; every filter set must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRequestQuery {
    /// Only of this kind.
    pub kind: Option<ScheduleKind>,
    /// Only of this principal.
    pub principal_id: Option<String>,
    /// Only for this role.
    pub role_definition_id: Option<String>,
    /// Only in this status.
    pub status: Option<Status>,
    /// Only created before this time (to find pending requests that have waited too long).
    pub created_before: Option<DateTime<Utc>>,
    /// At most this many.
    pub limit: u32,
}

impl Default for ScheduleRequestQuery {
    fn default() -> Self {
        ScheduleRequestQuery {
            kind: None,
            principal_id: None,
            role_definition_id: None,
            status: None,
            created_before: None,
            limit: 100,
        }
    }
}

/// A compare-and-set change of a request's status: it happens only if the request is at
/// `from` (and at approval stage `from_stage`, when given).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestTransition {
    /// The request.
    pub id: String,
    /// The status it must be at.
    pub from: Status,
    /// The approval stage it must be at; `None`: any.
    pub from_stage: Option<u32>,
    /// The new status.
    pub to: Status,
    /// The new approval stage; `None` keeps it.
    pub to_stage: Option<u32>,
    /// When. Sets `completedDateTime` the first time the request reaches a status that is
    /// neither pending nor unknown.
    pub at: DateTime<Utc>,
    /// A JSON merge patch (RFC 7386) for the request body (`approvalId`, `targetScheduleId`,
    /// fields of Portcullis' own…); `id`, `status`, the principal, role and action stay.
    pub patch: Option<Value>,
    /// A step-up proof (its token id) to consume in the same transaction: if it was used
    /// before, nothing changes.
    pub step_up_proof: Option<String>,
}

impl RequestTransition {
    /// Moves request `id` from `from` to `to` at `at`, at any approval stage.
    pub fn new(id: &str, from: Status, to: Status, at: DateTime<Utc>) -> RequestTransition {
        RequestTransition {
            id: id.to_string(),
            from,
            from_stage: None,
            to,
            to_stage: None,
            at,
            patch: None,
            step_up_proof: None,
        }
    }

    /// Only if the request is at approval stage `stage`.
    pub fn at_stage(mut self, stage: u32) -> RequestTransition {
        self.from_stage = Some(stage);
        self
    }

    /// Sets the approval stage to `stage`.
    pub fn to_stage(mut self, stage: u32) -> RequestTransition {
        self.to_stage = Some(stage);
        self
    }

    /// Merges `patch` into the request body.
    pub fn with_patch(mut self, patch: Value) -> RequestTransition {
        self.patch = Some(patch);
        self
    }

    /// Consumes the step-up proof `jti` with the change.
    pub fn consuming_proof(mut self, jti: &str) -> RequestTransition {
        self.step_up_proof = Some(jti.to_string());
        self
    }
}

/// What became of a [`RequestTransition`].
#[derive(Debug, Clone, PartialEq)]
pub enum TransitionOutcome {
    /// It happened; the request as it now is.
    Applied(Box<ScheduleRequestRecord>),
    /// The request was not at the status (or stage) stated, presumably moved by another caller
    /// first: nothing changed.
    NotInState,
    /// The step-up proof had been consumed before: nothing changed.
    ProofAlreadyUsed,
}

impl TransitionOutcome {
    /// Whether it happened.
    pub fn is_applied(&self) -> bool {
        matches!(self, TransitionOutcome::Applied(_))
    }

    /// The request as it now is, if it happened.
    pub fn applied(self) -> Option<ScheduleRequestRecord> {
        match self {
            TransitionOutcome::Applied(record) => Some(*record),
            _ => None,
        }
    }
}

/// A role assignment with what PIM keeps about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledAssignment {
    /// The assignment.
    pub assignment: RoleAssignment,
    /// The request that made it; `None` for one made otherwise (an import, `assign_role`).
    pub request_id: Option<String>,
    /// When its end was handled (by the expiry job, or a deactivation).
    pub closed_at: Option<DateTime<Utc>>,
    /// Why it ended: `expired`, or the reason a deactivation gave.
    pub end_reason: Option<String>,
}

/// Which role assignments to read; every filter set must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AssignmentQuery {
    /// Only of this principal.
    pub principal_id: Option<String>,
    /// Only of this role.
    pub role_definition_id: Option<String>,
    /// Only active, or only eligible.
    pub status: Option<AssignmentStatus>,
    /// Only those in force at this time.
    pub in_force_at: Option<DateTime<Utc>>,
    /// Only those made by this request.
    pub request_id: Option<String>,
}

/// The role id of a policy id `DirectoryRole_{roleDefinitionId}`.
fn role_of_policy(policy: &RoleManagementPolicy) -> Result<&str, StoreError> {
    policy
        .id
        .strip_prefix(DIRECTORY_ROLE)
        .and_then(|rest| rest.strip_prefix('_'))
        .filter(|role| !role.is_empty())
        .ok_or_else(|| StoreError::Invalid {
            what: "role management policy",
            detail: format!(
                "id '{}' is not {DIRECTORY_ROLE}_{{roleDefinitionId}}",
                policy.id
            ),
        })
}

fn kind_text(kind: ScheduleKind) -> &'static str {
    match kind {
        ScheduleKind::Assignment => "assignment",
        ScheduleKind::Eligibility => "eligibility",
    }
}

fn kind_from_column(s: &str) -> Result<ScheduleKind, StoreError> {
    match s {
        "assignment" => Ok(ScheduleKind::Assignment),
        "eligibility" => Ok(ScheduleKind::Eligibility),
        other => Err(StoreError::corrupt(
            "schedule request kind",
            format!("unknown value '{other}'"),
        )),
    }
}

/// Whether a request reaching `status` is complete (`completedDateTime` is set).
fn completes(status: &Status) -> bool {
    matches!(
        status,
        Status::Granted
            | Status::Provisioned
            | Status::ScheduleCreated
            | Status::Canceled
            | Status::Denied
            | Status::Failed
            | Status::Revoked
    )
}

/// A fresh step-up nonce: 244 random bits, hex.
fn new_nonce() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

macro_rules! request_columns {
    () => {
        "id, kind, action, principal_id, role_definition_id, status, approval_stage, created_at, \
         updated_at, completed_at, request_json, step_up_nonce, approval_id, target_schedule_id"
    };
}
macro_rules! scheduled_columns {
    () => {
        "id, principal_id, role_definition_id, directory_scope_id, status, start_at, end_at, \
         request_id, closed_at, end_reason"
    };
}

fn request_from_row(row: &AnyRow) -> Result<ScheduleRequestRecord, StoreError> {
    let mut request: ScheduleRequest = row.json("request_json")?;
    request.id = Some(row.text("id")?);
    request.action = Some(::pim::Action::parse(&row.text("action")?));
    request.principal_id = row.text("principal_id")?;
    request.role_definition_id = row.text("role_definition_id")?;
    request.status = Some(Status::parse(&row.text("status")?));
    request.created_date_time = Some(row.time("created_at")?);
    request.completed_date_time = row.opt_time("completed_at")?;
    request.approval_id = row.opt_text("approval_id")?;
    request.target_schedule_id = row.opt_text("target_schedule_id")?;
    let stage = row.int("approval_stage")?;
    Ok(ScheduleRequestRecord {
        kind: kind_from_column(&row.text("kind")?)?,
        request,
        approval_stage: u32::try_from(stage)
            .map_err(|_| StoreError::corrupt("approval_stage", format!("{stage}")))?,
        step_up_nonce: row.opt_text("step_up_nonce")?,
        updated_at: row.time("updated_at")?,
    })
}

fn scheduled_from_row(row: &AnyRow) -> Result<ScheduledAssignment, StoreError> {
    Ok(ScheduledAssignment {
        assignment: assignment_from_row(row)?,
        request_id: row.opt_text("request_id")?,
        closed_at: row.opt_time("closed_at")?,
        end_reason: row.opt_text("end_reason")?,
    })
}

/// The text of an optional JSON string field.
fn str_field(body: &Value, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Records a consumed proof in `tx`: `false` if it was consumed before.
async fn insert_proof(
    tx: &mut Transaction<'static, Any>,
    jti: &str,
    request_id: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO step_up_proofs (jti, request_id, consumed_at) VALUES ($1, $2, $3) \
         ON CONFLICT (jti) DO NOTHING",
    )
    .bind(jti)
    .bind(request_id)
    .bind(ms(at))
    .execute(&mut **tx)
    .await
    .map_err(on_write("step-up proof"))?;
    Ok(done.rows_affected() == 1)
}

/// Applies `t` in `tx`, merging `extra_patch` (after `t.patch`) into the body.
pub(crate) async fn transition_in(
    tx: &mut Transaction<'static, Any>,
    t: &RequestTransition,
    extra_patch: Option<&Value>,
) -> Result<TransitionOutcome, StoreError> {
    if let Some(jti) = &t.step_up_proof {
        if !insert_proof(tx, jti, &t.id, t.at).await? {
            return Ok(TransitionOutcome::ProofAlreadyUsed);
        }
    }
    let from_stage = t.from_stage.map(i64::from);
    let to_stage = t.to_stage.map(i64::from);
    let completed = completes(&t.to).then(|| ms(t.at));
    let row = sqlx::query(concat!(
        "UPDATE schedule_requests SET status = $2, \
         approval_stage = COALESCE($5, approval_stage), updated_at = $6, \
         completed_at = COALESCE(completed_at, $7) \
         WHERE id = $1 AND status = $3 AND ($4 IS NULL OR approval_stage = $4) RETURNING ",
        request_columns!()
    ))
    .bind(&t.id)
    .bind(t.to.as_str())
    .bind(t.from.as_str())
    .bind(from_stage)
    .bind(to_stage)
    .bind(ms(t.at))
    .bind(completed)
    .fetch_optional(&mut **tx)
    .await
    .map_err(on_write("schedule request"))?;
    let Some(row) = row else {
        let exists = sqlx::query("SELECT id FROM schedule_requests WHERE id = $1")
            .bind(&t.id)
            .fetch_optional(&mut **tx)
            .await?;
        return match exists {
            Some(_) => Ok(TransitionOutcome::NotInState),
            None => Err(StoreError::not_found("schedule request", &t.id)),
        };
    };
    let patches: Vec<&Value> = t.patch.iter().chain(extra_patch).collect();
    if patches.is_empty() {
        return Ok(TransitionOutcome::Applied(Box::new(request_from_row(
            &row,
        )?)));
    }
    let mut body: Value = row.json("request_json")?;
    for patch in patches {
        if !patch.is_object() {
            return Err(StoreError::Invalid {
                what: "schedule request patch",
                detail: "a merge patch of a request must be a JSON object".into(),
            });
        }
        policy::merge_patch::merge_patch(&mut body, patch);
    }
    // The body must still read as a request.
    serde_json::from_value::<ScheduleRequest>(body.clone()).map_err(|e| StoreError::Invalid {
        what: "schedule request patch",
        detail: e.to_string(),
    })?;
    let row = sqlx::query(concat!(
        "UPDATE schedule_requests SET request_json = $2, approval_id = $3, \
         target_schedule_id = $4 WHERE id = $1 RETURNING ",
        request_columns!()
    ))
    .bind(&t.id)
    .bind(to_json("schedule request", &body)?)
    .bind(str_field(&body, "approvalId"))
    .bind(str_field(&body, "targetScheduleId"))
    .fetch_one(&mut **tx)
    .await
    .map_err(on_write("schedule request"))?;
    Ok(TransitionOutcome::Applied(Box::new(request_from_row(
        &row,
    )?)))
}

/// Records a request in `tx` (see [`Store::create_schedule_request`]).
pub(crate) async fn insert_request_in(
    tx: &mut Transaction<'static, Any>,
    kind: ScheduleKind,
    request: &ScheduleRequest,
    at: DateTime<Utc>,
) -> Result<ScheduleRequestRecord, StoreError> {
    let invalid = |detail: &str| StoreError::Invalid {
        what: "schedule request",
        detail: detail.to_string(),
    };
    let action = request
        .action
        .as_ref()
        .filter(|a| !a.as_str().is_empty())
        .ok_or_else(|| invalid("it has no action"))?;
    let status = request
        .status
        .as_ref()
        .filter(|s| !s.as_str().is_empty())
        .ok_or_else(|| invalid("it has no status"))?;
    if request.principal_id.is_empty() {
        return Err(invalid("it names no principal"));
    }
    if request.role_definition_id.is_empty() {
        return Err(invalid("it names no role"));
    }
    let at = crate::at_ms(at);
    let mut stored = request.clone();
    stored.id = Some(request.id.clone().unwrap_or_else(crate::new_id));
    stored.created_date_time = Some(at);
    // Recorded already final (a deactivation, an administrator's request): complete now. A
    // `Granted` one completes when it is provisioned.
    if completes(status) && *status != Status::Granted && stored.completed_date_time.is_none() {
        stored.completed_date_time = Some(at);
    }
    let nonce = (*status == Status::PendingStepUp).then(new_nonce);

    let row = sqlx::query(concat!(
        "INSERT INTO schedule_requests (",
        request_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7, $8, $9, $10, $11, $12) RETURNING ",
        request_columns!()
    ))
    .bind(&stored.id)
    .bind(kind_text(kind))
    .bind(action.as_str())
    .bind(stored.principal_id.as_str())
    .bind(stored.role_definition_id.as_str())
    .bind(status.as_str())
    .bind(ms(at))
    .bind(opt_ms(stored.completed_date_time))
    .bind(to_json("schedule request", &stored)?)
    .bind(&nonce)
    .bind(&stored.approval_id)
    .bind(&stored.target_schedule_id)
    .fetch_one(&mut **tx)
    .await
    .map_err(on_write("schedule request"))?;
    request_from_row(&row)
}

/// Refuses an assignment that is not for the request's principal and role.
fn check_matches(
    record: &ScheduleRequestRecord,
    assignment: &RoleAssignment,
) -> Result<(), StoreError> {
    if assignment.principal_id != record.request.principal_id
        || assignment.role_definition_id != record.request.role_definition_id
    {
        return Err(StoreError::Invalid {
            what: "role assignment",
            detail: format!(
                "it is not for the principal and role of request '{}'",
                record.id()
            ),
        });
    }
    Ok(())
}

/// `{"targetScheduleId": id}`.
pub(crate) fn target_patch(assignment_id: &str) -> Value {
    let mut patch = Map::new();
    patch.insert(
        "targetScheduleId".to_string(),
        Value::String(assignment_id.to_string()),
    );
    Value::Object(patch)
}

/// Records `assignment` in `tx`, made by request `record` (whose principal and role it must
/// have).
pub(crate) async fn insert_assignment_in(
    tx: &mut Transaction<'static, Any>,
    record: &ScheduleRequestRecord,
    assignment: &RoleAssignment,
) -> Result<(), StoreError> {
    check_matches(record, assignment)?;
    sqlx::query(
        "INSERT INTO role_assignments (id, principal_id, role_definition_id, \
         directory_scope_id, status, start_at, end_at, extra_json, request_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, '{}', $8)",
    )
    .bind(&assignment.id)
    .bind(assignment.principal_id.as_str())
    .bind(assignment.role_definition_id.as_str())
    .bind(&assignment.directory_scope_id)
    .bind(status_text(&assignment.status)?)
    .bind(ms(assignment.start_at))
    .bind(opt_ms(assignment.end_at))
    .bind(record.id())
    .execute(&mut **tx)
    .await
    .map_err(on_write("role assignment"))?;
    Ok(())
}

/// Ends an assignment in `tx` (see [`Store::deactivate_assignment`]): the assignment as it now
/// is, or `None` if it had already ended or been closed.
pub(crate) async fn deactivate_in(
    tx: &mut Transaction<'static, Any>,
    assignment_id: &str,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<Option<RoleAssignment>, StoreError> {
    let row = sqlx::query(concat!(
        "UPDATE role_assignments SET \
             end_at = CASE WHEN start_at > $2 THEN start_at ELSE $2 END, \
             closed_at = $2, end_reason = $3 \
             WHERE id = $1 AND closed_at IS NULL AND (end_at IS NULL OR end_at > $2) RETURNING ",
        scheduled_columns!()
    ))
    .bind(assignment_id)
    .bind(ms(at))
    .bind(reason)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        assignment_exists(tx, assignment_id).await?;
        return Ok(None);
    };
    let scheduled = scheduled_from_row(&row)?;
    if let Some(request_id) = &scheduled.request_id {
        revoke_request(tx, request_id, at).await?;
    }
    Ok(Some(scheduled.assignment))
}

/// Marks the request that made an assignment `Revoked`, if it is `Provisioned`.
async fn revoke_request(
    tx: &mut Transaction<'static, Any>,
    request_id: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE schedule_requests SET status = $2, updated_at = $3 \
         WHERE id = $1 AND status = $4",
    )
    .bind(request_id)
    .bind(Status::Revoked.as_str())
    .bind(ms(at))
    .bind(Status::Provisioned.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The audit entry of an assignment's end reached.
async fn expiry_entry(
    tx: &mut Transaction<'static, Any>,
    a: &ScheduledAssignment,
    now: DateTime<Utc>,
) -> Result<AuditEntry, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE id = $1")
        .bind(a.assignment.principal_id.as_str())
        .fetch_one(&mut **tx)
        .await?;
    let principal_kind = if row.int("n")? > 0 { "User" } else { "Group" };
    let activity = match a.assignment.status {
        AssignmentStatus::Eligible => "Remove eligible member from role (PIM assignment expired)",
        _ => "Remove member from role (PIM activation expired)",
    };
    let end = a
        .assignment
        .end_at
        .map(|e| e.to_rfc3339())
        .unwrap_or_default();
    let mut entry = AuditEntry::new("RoleManagement", activity, "Delete", now)
        .by_app("Portcullis PIM expiry")
        .target("Role", a.assignment.role_definition_id.as_str(), None)
        .target(principal_kind, a.assignment.principal_id.as_str(), None)
        .detail("RoleAssignmentId", &a.assignment.id)
        .detail("EndDateTime", &end);
    if let Some(request_id) = &a.request_id {
        entry = entry.correlation(request_id);
    }
    Ok(entry)
}

impl Store {
    // ------------------------------------------------------------------------------------------
    // Role settings

    /// The settings stored for a role, if any (callers fall back to
    /// [`RoleManagementPolicy::default_for`]).
    pub async fn get_role_policy(
        &self,
        role_definition_id: &str,
    ) -> Result<Option<StoredRolePolicy>, StoreError> {
        sqlx::query(
            "SELECT role_definition_id, document, version FROM role_management_policies \
             WHERE role_definition_id = $1",
        )
        .bind(role_definition_id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(policy_from_row)
        .transpose()
    }

    /// Every role's stored settings, by role id.
    pub async fn list_role_policies(&self) -> Result<Vec<StoredRolePolicy>, StoreError> {
        sqlx::query(
            "SELECT role_definition_id, document, version FROM role_management_policies \
             ORDER BY role_definition_id",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(policy_from_row)
        .collect()
    }

    /// Stores a role's settings (the role is named by the policy id,
    /// `DirectoryRole_{roleDefinitionId}`) if the stored version is still `expected_version`
    /// (0: none stored yet), and returns the new version. A stale write changes nothing and is a
    /// [`StoreError::Conflict`]; an unknown role is a conflict too.
    pub async fn put_role_policy(
        &self,
        policy: &RoleManagementPolicy,
        expected_version: u64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let version = put_policy_in(&mut tx, policy, expected_version).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// [`Store::put_role_policy`] and its audit entry, in one transaction.
    pub async fn put_role_policy_audited(
        &self,
        policy: &RoleManagementPolicy,
        expected_version: u64,
        audit: &AuditEntry,
    ) -> Result<(u64, AuditRecord), StoreError> {
        let mut tx = self.begin().await?;
        let version = put_policy_in(&mut tx, policy, expected_version).await?;
        let record = append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok((version, record))
    }

    // ------------------------------------------------------------------------------------------
    // Schedule requests

    /// Records a request, with its audit entry if given, in one transaction. The request must
    /// have an action, a principal, a role and a status; its id is kept (a fresh one if it has
    /// none), its creation time is `at`. A request recorded as `PendingStepUp` gets a random
    /// step-up nonce. Returns the request as stored.
    pub async fn create_schedule_request(
        &self,
        kind: ScheduleKind,
        request: &ScheduleRequest,
        at: DateTime<Utc>,
        audit: Option<&AuditEntry>,
    ) -> Result<ScheduleRequestRecord, StoreError> {
        let mut tx = self.begin().await?;
        let record = insert_request_in(&mut tx, kind, request, at).await?;
        if let Some(audit) = audit {
            append_in(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(record)
    }

    /// The request with this id.
    pub async fn get_schedule_request(
        &self,
        id: &str,
    ) -> Result<ScheduleRequestRecord, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            request_columns!(),
            " FROM schedule_requests WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("schedule request", id))?;
        request_from_row(&row)
    }

    /// The request whose step-up is bound to `nonce`.
    pub async fn find_schedule_request_by_nonce(
        &self,
        nonce: &str,
    ) -> Result<ScheduleRequestRecord, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            request_columns!(),
            " FROM schedule_requests WHERE step_up_nonce = $1"
        ))
        .bind(nonce)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("schedule request", "(step-up nonce)"))?;
        request_from_row(&row)
    }

    /// Requests matching `query`, newest first.
    pub async fn list_schedule_requests(
        &self,
        query: &ScheduleRequestQuery,
    ) -> Result<Vec<ScheduleRequestRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            request_columns!(),
            " FROM schedule_requests WHERE ($1 IS NULL OR kind = $1) \
             AND ($2 IS NULL OR principal_id = $2) AND ($3 IS NULL OR role_definition_id = $3) \
             AND ($4 IS NULL OR status = $4) AND ($5 IS NULL OR created_at < $5) \
             ORDER BY created_at DESC, id DESC LIMIT $6"
        ))
        .bind(query.kind.map(kind_text))
        .bind(&query.principal_id)
        .bind(&query.role_definition_id)
        .bind(query.status.as_ref().map(Status::as_str))
        .bind(opt_ms(query.created_before))
        .bind(i64::from(query.limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(request_from_row)
        .collect()
    }

    /// Moves a request from `from` to `to` at `at`, merging `patch` (a JSON object, or `null`
    /// for none) into its body: `true` for the one caller that moved it, `false` if it was not
    /// at `from`. See [`Store::transition_schedule_request_with`].
    pub async fn transition_schedule_request(
        &self,
        id: &str,
        from: &Status,
        to: &Status,
        at: DateTime<Utc>,
        patch: &Value,
    ) -> Result<bool, StoreError> {
        let mut t = RequestTransition::new(id, from.clone(), to.clone(), at);
        if !patch.is_null() {
            t.patch = Some(patch.clone());
        }
        Ok(self
            .transition_schedule_request_with(&t, None)
            .await?
            .is_applied())
    }

    /// Applies a [`RequestTransition`] (status and stage compare-and-set, patch, step-up proof
    /// consumption) and appends its audit entry if given, in one transaction: either all of it
    /// happens, or (outcome other than `Applied`, or an error) none of it.
    pub async fn transition_schedule_request_with(
        &self,
        t: &RequestTransition,
        audit: Option<&AuditEntry>,
    ) -> Result<TransitionOutcome, StoreError> {
        let mut tx = self.begin().await?;
        let outcome = transition_in(&mut tx, t, None).await?;
        if outcome.is_applied() {
            if let Some(audit) = audit {
                append_in(&mut tx, audit).await?;
            }
            tx.commit().await?;
        }
        Ok(outcome)
    }

    // ------------------------------------------------------------------------------------------
    // Step-up proofs

    /// Consumes a step-up proof (by its token id) for a request: `true` exactly once per `jti`;
    /// presenting it again, for this request or another, is `false`.
    pub async fn consume_step_up_proof(
        &self,
        jti: &str,
        request_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let fresh = insert_proof(&mut tx, jti, request_id, at).await?;
        tx.commit().await?;
        Ok(fresh)
    }

    /// Forgets proofs consumed before `before` (choose it so that every such proof has expired:
    /// an expired proof is refused anyway). Returns how many.
    pub async fn purge_step_up_proofs(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM step_up_proofs WHERE consumed_at < $1")
            .bind(ms(before))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    // ------------------------------------------------------------------------------------------
    // Assignments made by requests

    /// Provisions a `Granted` request, in one transaction: the request becomes `Provisioned`
    /// (at the audit entry's time, its `targetScheduleId` the assignment's id), `assignment` is
    /// recorded linked to it, and `audit` is appended. For an activation the assignment is
    /// `active`, so Conditional Access sees it at once. Returns the request as it now is, or
    /// `None` (nothing changed) if it was not `Granted`. The assignment must be for the
    /// request's principal and role.
    pub async fn activate(
        &self,
        request_id: &str,
        assignment: &RoleAssignment,
        audit: &AuditEntry,
    ) -> Result<Option<ScheduleRequestRecord>, StoreError> {
        let t = RequestTransition::new(
            request_id,
            Status::Granted,
            Status::Provisioned,
            audit.activity_date_time,
        );
        Ok(self.activate_with(&t, assignment, audit).await?.applied())
    }

    /// [`Store::activate`] from any status, with everything a [`RequestTransition`] can do:
    /// e.g. from `PendingStepUp`, consuming the step-up proof, so that a proof, the request's
    /// status, the assignment and the audit entry change together or not at all.
    pub async fn activate_with(
        &self,
        t: &RequestTransition,
        assignment: &RoleAssignment,
        audit: &AuditEntry,
    ) -> Result<TransitionOutcome, StoreError> {
        let mut tx = self.begin().await?;
        let target = target_patch(&assignment.id);
        let outcome = transition_in(&mut tx, t, Some(&target)).await?;
        let TransitionOutcome::Applied(record) = &outcome else {
            return Ok(outcome);
        };
        insert_assignment_in(&mut tx, record, assignment).await?;
        record_change(
            &mut tx,
            ChangeKind::RoleAssignments,
            assignment.principal_id.as_str(),
        )
        .await?;
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Changes the end of an assignment that has not ended (an extension or renewal granted
    /// to request `t`), with the request's transition and the audit entry, in one transaction.
    /// The assignment must be for the request's principal and role; one that has already
    /// ended is a [`StoreError::Conflict`].
    pub async fn reschedule_assignment(
        &self,
        t: &RequestTransition,
        assignment_id: &str,
        end_at: Option<DateTime<Utc>>,
        audit: &AuditEntry,
    ) -> Result<TransitionOutcome, StoreError> {
        let mut tx = self.begin().await?;
        // The assignment's row first, as the expiry job and deactivation lock it: no deadlock.
        let row = sqlx::query(concat!(
            "UPDATE role_assignments SET end_at = $2 \
             WHERE id = $1 AND closed_at IS NULL AND (end_at IS NULL OR end_at > $3) RETURNING ",
            scheduled_columns!()
        ))
        .bind(assignment_id)
        .bind(opt_ms(end_at))
        .bind(ms(t.at))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            assignment_exists(&mut tx, assignment_id).await?;
            return Err(StoreError::Conflict {
                what: "role assignment",
                detail: "it has already ended".into(),
            });
        };
        let scheduled = scheduled_from_row(&row)?;
        let target = target_patch(assignment_id);
        let outcome = transition_in(&mut tx, t, Some(&target)).await?;
        let TransitionOutcome::Applied(record) = &outcome else {
            return Ok(outcome);
        };
        check_matches(record, &scheduled.assignment)?;
        let principal = scheduled.assignment.principal_id.as_str();
        record_change(&mut tx, ChangeKind::RoleAssignments, principal).await?;
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Ends an assignment that has not ended, at `at` (or at its start, if it has not started:
    /// then it never comes into force), for `reason`; marks the request that made it `Revoked`;
    /// appends `audit`; all in one transaction. Returns the assignment as it now is, or `None`
    /// (nothing changed, nothing appended) if it had already ended or been closed.
    pub async fn deactivate_assignment(
        &self,
        assignment_id: &str,
        at: DateTime<Utc>,
        reason: &str,
        audit: &AuditEntry,
    ) -> Result<Option<RoleAssignment>, StoreError> {
        let mut tx = self.begin().await?;
        let Some(ended) = deactivate_in(&mut tx, assignment_id, at, reason).await? else {
            return Ok(None);
        };
        record_change(
            &mut tx,
            ChangeKind::RoleAssignments,
            ended.principal_id.as_str(),
        )
        .await?;
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(Some(ended))
    }

    /// `selfDeactivate`: records `request` (the deactivation, in a final status such as
    /// `Revoked`) and ends assignment `assignment_id` as [`Store::deactivate_assignment`] does,
    /// with `audit`, in one transaction. `None` (nothing recorded) if the assignment had
    /// already ended; the recorded request and the ended assignment otherwise.
    pub async fn deactivate_with_request(
        &self,
        request: &ScheduleRequest,
        assignment_id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<Option<(ScheduleRequestRecord, RoleAssignment)>, StoreError> {
        let mut tx = self.begin().await?;
        let mut request = request.clone();
        request.target_schedule_id = Some(assignment_id.to_string());
        let record = insert_request_in(&mut tx, ScheduleKind::Assignment, &request, at).await?;
        let reason = request.action().to_string();
        let Some(ended) = deactivate_in(&mut tx, assignment_id, at, &reason).await? else {
            return Ok(None);
        };
        check_matches(&record, &ended)?;
        record_change(
            &mut tx,
            ChangeKind::RoleAssignments,
            ended.principal_id.as_str(),
        )
        .await?;
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(Some((record, ended)))
    }

    /// The durable expiry job: closes every assignment made by a request whose end is at or
    /// before `now` and that is not closed yet, marks its request `Revoked`, and appends one
    /// audit entry per assignment, in one transaction. Returns the assignments closed, by end
    /// then id; a second run (on this node or another, even concurrently) returns none of them.
    pub async fn expire_due_assignments(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<RoleAssignment>, StoreError> {
        let mut tx = self.begin().await?;
        let mut due = sqlx::query(concat!(
            "UPDATE role_assignments SET closed_at = $1, \
             end_reason = COALESCE(end_reason, 'expired') \
             WHERE request_id IS NOT NULL AND closed_at IS NULL AND end_at IS NOT NULL \
             AND end_at <= $1 RETURNING ",
            scheduled_columns!()
        ))
        .bind(ms(now))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(scheduled_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        due.sort_by(|a, b| {
            (a.assignment.end_at, &a.assignment.id).cmp(&(b.assignment.end_at, &b.assignment.id))
        });
        let mut entries = Vec::with_capacity(due.len());
        for a in &due {
            if let Some(request_id) = &a.request_id {
                revoke_request(&mut tx, request_id, now).await?;
            }
            entries.push(expiry_entry(&mut tx, a, now).await?);
        }
        // An engine stops counting an activation at its end by itself; recording the closing
        // too lets one that missed the time (another node's clock) catch up.
        let mut principals: Vec<&str> = due
            .iter()
            .map(|a| a.assignment.principal_id.as_str())
            .collect();
        principals.sort_unstable();
        principals.dedup();
        for principal in principals {
            record_change(&mut tx, ChangeKind::RoleAssignments, principal).await?;
        }
        // The audit head last: it is the lock every audited change takes at its end.
        for entry in &entries {
            append_in(&mut tx, entry).await?;
        }
        tx.commit().await?;
        Ok(due.into_iter().map(|a| a.assignment).collect())
    }

    /// The assignment with this id, with what PIM keeps about it.
    pub async fn get_scheduled_assignment(
        &self,
        id: &str,
    ) -> Result<ScheduledAssignment, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            scheduled_columns!(),
            " FROM role_assignments WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("role assignment", id))?;
        scheduled_from_row(&row)
    }

    /// Role assignments matching `query` (eligible and active schedules, and their instances),
    /// by principal, role and id.
    pub async fn list_scheduled_assignments(
        &self,
        query: &AssignmentQuery,
    ) -> Result<Vec<ScheduledAssignment>, StoreError> {
        let status = query.status.as_ref().map(status_text).transpose()?;
        sqlx::query(concat!(
            "SELECT ",
            scheduled_columns!(),
            " FROM role_assignments WHERE ($1 IS NULL OR principal_id = $1) \
             AND ($2 IS NULL OR role_definition_id = $2) AND ($3 IS NULL OR status = $3) \
             AND ($4 IS NULL OR (start_at <= $4 AND (end_at IS NULL OR end_at > $4))) \
             AND ($5 IS NULL OR request_id = $5) \
             ORDER BY principal_id, role_definition_id, id"
        ))
        .bind(&query.principal_id)
        .bind(&query.role_definition_id)
        .bind(status)
        .bind(opt_ms(query.in_force_at))
        .bind(&query.request_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(scheduled_from_row)
        .collect()
    }
}

/// `Ok` if the assignment exists, [`StoreError::NotFound`] otherwise.
async fn assignment_exists(tx: &mut Transaction<'static, Any>, id: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT id FROM role_assignments WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or_else(|| StoreError::not_found("role assignment", id))
}

fn policy_from_row(row: &AnyRow) -> Result<StoredRolePolicy, StoreError> {
    let version = row.int("version")?;
    Ok(StoredRolePolicy {
        role_definition_id: row.text("role_definition_id")?,
        policy: row.json("document")?,
        version: u64::try_from(version)
            .map_err(|_| StoreError::corrupt("policy version", format!("{version}")))?,
    })
}

/// Writes a role's settings in `tx` (see [`Store::put_role_policy`]).
pub(crate) async fn put_policy_in(
    tx: &mut Transaction<'static, Any>,
    policy: &RoleManagementPolicy,
    expected_version: u64,
) -> Result<u64, StoreError> {
    let role = role_of_policy(policy)?;
    let document = to_json("role management policy", policy)?;
    let row = if expected_version == 0 {
        sqlx::query(
            "INSERT INTO role_management_policies (role_definition_id, policy_id, document, \
             version) VALUES ($1, $2, $3, 1) ON CONFLICT (role_definition_id) DO NOTHING \
             RETURNING version",
        )
        .bind(role)
        .bind(&policy.id)
        .bind(&document)
        .fetch_optional(&mut **tx)
        .await
        .map_err(on_write("role management policy"))?
    } else {
        sqlx::query(
            "UPDATE role_management_policies SET document = $3, version = version + 1 \
             WHERE role_definition_id = $1 AND version = $2 RETURNING version",
        )
        .bind(role)
        .bind(to_i64("policy version", expected_version)?)
        .bind(&document)
        .fetch_optional(&mut **tx)
        .await
        .map_err(on_write("role management policy"))?
    };
    let Some(row) = row else {
        return Err(StoreError::Conflict {
            what: "role management policy",
            detail: if expected_version == 0 {
                format!("settings for role '{role}' were stored meanwhile: read them again")
            } else {
                format!(
                    "the settings of role '{role}' are no longer at version {expected_version}: \
                     read them again"
                )
            },
        });
    };
    let version = row.int("version")?;
    u64::try_from(version).map_err(|_| StoreError::corrupt("policy version", format!("{version}")))
}
