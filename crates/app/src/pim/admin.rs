//! The administrators' actions on eligible and active assignments: `adminAssign`,
//! `adminUpdate` and `adminExtend` (the schedule is replaced by one with the new period),
//! `adminRenew` (a schedule that ended gets a new one), `adminRemove`. A request is checked
//! against the role's `…_Admin_…` rules ([`pim::validate_admin_request`]); the request record,
//! the schedules it makes or ends and the audit entry are stored in one transaction.

use crate::authz::{AuthorizeError, ManageRoles};
use crate::conditional_access::LockoutGuard;
use crate::pim::facts::existing;
use crate::pim::{new_schedule, refuse, ErrorCode, Refusal};
use crate::posture::PostureError;
use crate::{Authorized, Caller, Core};
use pim::validate::{AdminFacts, AssignmentPlan, RuleViolation};
use pim::{Action, ScheduleKind, ScheduleRequest, Status};
use policy::directory::AssignmentStatus;
use policy::ids::RoleId;
use serde_json::json;
use store::{AdminOutcome, AuditEntry, ScheduleRequestRecord};

crate::pim::area_error! {
    /// Why an administrator's request was not carried out.
    AdminError
}

/// What became of an administrator's request.
#[derive(Debug, Clone)]
pub enum AdminRequestOutcome {
    /// Carried out: the request as stored (`Provisioned`, or `Revoked` for a removal).
    Done(ScheduleRequestRecord),
    /// `isValidationOnly`: it would pass; the request as it would be recorded. Nothing stored.
    ValidatedOnly(ScheduleRequest),
}

/// The audit activity and operation type of an administrator's action on `kind`; a refusal
/// for an action that is not an administrator's.
fn activity(action: &Action, kind: ScheduleKind) -> Result<(String, &'static str), Refusal> {
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
            return Err(Refusal::invalid(
                ErrorCode::BadRequest,
                format!(
                    "The action '{other}' is not an administrator's action; use adminAssign, \
                     adminUpdate, adminExtend, adminRenew or adminRemove."
                ),
            ))
        }
    };
    let preposition = if verb == "Remove" { "from" } else { "to" };
    Ok((
        format!("{verb} {member} {preposition} role in PIM"),
        operation,
    ))
}

fn entry(
    caller: &Caller,
    activity: &str,
    suffix: &str,
    operation: &str,
    core: &Core,
) -> AuditEntry {
    caller.audit(
        "RoleManagement",
        &format!("{activity} {suffix}"),
        operation,
        core.now(),
    )
}

/// The permission for `request`: an administrator's action (else refused), by a caller who
/// actively holds a role administrator's role now. A denial is audited.
pub async fn authorize(
    core: &Core,
    caller: &Caller,
    request: &ScheduleRequest,
    kind: ScheduleKind,
) -> Result<Authorized<ManageRoles>, AdminError> {
    let (activity, operation) = activity(&request.action(), kind)?;
    match core.authorize::<ManageRoles>(caller).await {
        Ok(authorized) => Ok(authorized),
        Err(AuthorizeError::Store(e)) => Err(e.into()),
        Err(AuthorizeError::Denied(denied)) => {
            let audit = entry(caller, &activity, "requested", operation, core)
                .target("Role", &request.role_definition_id, None)
                .detail("PrincipalId", &request.principal_id);
            Err(refuse(core, audit, Refusal::forbidden(denied.message))
                .await
                .into())
        }
    }
}

/// A principal named by a request: a user, or a role-assignable group. Returns its id as
/// stored, its kind for the audit log, and its name.
async fn principal(core: &Core, id: &str) -> Result<(String, &'static str, String), AdminError> {
    if id.trim().is_empty() {
        return Err(Refusal::invalid(
            ErrorCode::BadRequest,
            "The request names no principalId: give the id of a user or a role-assignable group.",
        )
        .into());
    }
    match core.store.get_user(id).await {
        Ok(u) => return Ok((u.id, "User", u.user_principal_name)),
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    match core.store.get_group(id).await {
        Ok(g) if g.is_assignable_to_role => Ok((g.id, "Group", g.display_name)),
        Ok(g) => Err(Refusal::invalid(
            ErrorCode::BadRequest,
            format!(
                "Group '{}' ({}) is not role-assignable: only groups created with \
                 isAssignableToRole can be made eligible for a role.",
                g.display_name, g.id
            ),
        )
        .into()),
        Err(e) if e.is_not_found() => Err(Refusal::not_found("Principal", id).into()),
        Err(e) => Err(e.into()),
    }
}

impl From<PostureError> for AdminError {
    fn from(e: PostureError) -> Self {
        AdminError::Internal(format!("the lockout guard: {e}"))
    }
}

/// Carries out an administrator's request on schedules of `kind`. `mfa_claim`: whether the
/// administrator's session carries an MFA claim (the `…_Admin_…` enablement rules check it).
/// Removing an eligibility goes through the lockout guard: ending the eligibility of the last
/// Global Administrators who could activate is refused unless `guard` overrides it.
pub async fn request(
    core: &Core,
    admin: &Authorized<ManageRoles>,
    mfa_claim: bool,
    mut request: ScheduleRequest,
    kind: ScheduleKind,
    guard: LockoutGuard,
) -> Result<AdminRequestOutcome, AdminError> {
    let caller = admin.caller();
    let now = core.now();
    let action = request.action();
    let (activity, operation) = activity(&action, kind)?;
    let role = core
        .role_definition::<AdminError>(&RoleId::trusted(request.role_definition_id.clone()))
        .await?;
    let (principal_id, principal_kind, principal_name) =
        principal(core, &request.principal_id).await?;
    request.principal_id = principal_id.clone();
    request.role_definition_id = role.id.clone();
    let request_id = store::new_id();
    let audit = |suffix: &str| {
        entry(caller, &activity, suffix, operation, core)
            .target("Role", &role.id, Some(&role.display_name))
            .target(principal_kind, &principal_id, Some(&principal_name))
            .correlation(&request_id)
    };
    let policy = core.role_settings(&role.id).await?.policy;
    let renewing = action == Action::AdminRenew;
    let facts = AdminFacts {
        existing: existing(core, kind, &principal_id, &role.id, renewing).await?,
        caller_has_mfa_claim: mfa_claim,
    };
    let plan = match pim::validate_admin_request(&policy, &request, kind, &facts, now) {
        Ok(plan) => plan,
        Err(violations) => {
            let refusal = Refusal::violations(&violations);
            return Err(refuse(core, audit("refused"), refusal).await.into());
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
        return Ok(AdminRequestOutcome::ValidatedOnly(echoed));
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
                    core.store
                        .admin_replace(kind, &request, &assignment, &done)
                        .await?
                }
                _ => {
                    core.store
                        .admin_assign(kind, &request, &assignment, &done)
                        .await?
                }
            }
        }
        AssignmentPlan::Remove => {
            let done = audit("completed");
            let done = if kind == ScheduleKind::Eligibility {
                core.guard_tenant_change(
                    done,
                    guard,
                    |t| {
                        t.role_assignments.retain(|a| {
                            !(a.status == AssignmentStatus::Eligible
                                && a.principal_id == principal_id
                                && a.role_definition_id == role.id)
                        })
                    },
                    |lockout| {
                        AdminError::Refused(Refusal::conflict(
                            ErrorCode::ConditionalAccessLockout,
                            format!(
                                "{lockout} Send the request again with ?force=true to make it \
                                 anyway."
                            ),
                        ))
                    },
                )
                .await?
            } else {
                done
            };
            core.store.admin_remove(kind, &request, &done).await?
        }
    };
    let record = match outcome {
        AdminOutcome::Done { request, .. } => *request,
        AdminOutcome::AlreadyAssigned => {
            let refusal = Refusal::violations(&[RuleViolation::RoleAssignmentExists { kind }]);
            return Err(refuse(core, audit("refused"), refusal).await.into());
        }
        AdminOutcome::NothingToRemove => {
            let refusal =
                Refusal::violations(&[RuleViolation::RoleAssignmentDoesNotExist { kind }]);
            return Err(refuse(core, audit("refused"), refusal).await.into());
        }
    };
    core.roles_changed();
    tracing::info!(
        admin = %caller.user.user_principal_name,
        principal = %principal_id,
        role = %role.id,
        action = %action,
        request = %record.id(),
        "{} changed",
        kind.describe()
    );
    Ok(AdminRequestOutcome::Done(record))
}
