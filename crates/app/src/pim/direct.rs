//! Direct role assignments (`roleManagement/directory/roleAssignments`): the roles held now,
//! and permanent active assignments made and removed directly.
//!
//! This door makes nothing the PIM doors would refuse. A direct assignment is an
//! administrator's `adminAssign` of an active schedule without expiration, and its removal an
//! `adminRemove` of the schedule named: both are checked against the role's
//! `…_Admin_Assignment` rules, recorded as requests and audited exactly as through
//! `roleAssignmentScheduleRequests`. So a role whose settings require active assignments to
//! expire, or to carry a justification, refuses a direct one too, and says which rule did.

use crate::authz::ManageRoles;
use crate::conditional_access::LockoutGuard;
use crate::pim::admin::{self, AdminError, AdminRequestOutcome};
use crate::pim::schedules::{self, Rows};
use crate::pim::{ErrorCode, Refusal};
use crate::{Authorized, Core};
use pim::request::{ExpirationPattern, ExpirationType, RequestSchedule};
use pim::{Action, ScheduleKind, ScheduleRequest};
use policy::directory::AssignmentStatus;
use store::{RoleAssignment, StoreError};

/// The active assignments in force now: those made directly or by an administrator, and
/// activations, for users and groups alike.
pub async fn held_now(
    core: &Core,
    admin: &Authorized<ManageRoles>,
) -> Result<Vec<RoleAssignment>, StoreError> {
    let rows = Rows {
        status: AssignmentStatus::Active,
        instances: true,
    };
    Ok(schedules::everyone(core, admin, &rows)
        .await?
        .into_iter()
        .map(|shown| shown.scheduled.assignment)
        .collect())
}

/// One active assignment in force now, by id (any letter case).
pub async fn one(
    core: &Core,
    admin: &Authorized<ManageRoles>,
    id: &str,
) -> Result<Option<RoleAssignment>, StoreError> {
    Ok(held_now(core, admin)
        .await?
        .into_iter()
        .find(|a| a.id.eq_ignore_ascii_case(id)))
}

/// Makes `principal_id` (a user or a role-assignable group) an active member of `role_id`
/// without expiration, in scope `/` (the only one Portcullis has). `mfa_claim`: whether the
/// administrator's session carries an MFA claim (the role's rules may require it).
pub async fn assign(
    core: &Core,
    admin: &Authorized<ManageRoles>,
    mfa_claim: bool,
    principal_id: String,
    role_id: String,
    directory_scope_id: Option<&str>,
) -> Result<RoleAssignment, AdminError> {
    if let Some(scope) = directory_scope_id.filter(|s| *s != "/") {
        return Err(Refusal::invalid(
            ErrorCode::BadRequest,
            format!(
                "directoryScopeId '{scope}' is not supported: Portcullis assigns roles at \
                 tenant scope only ('/')."
            ),
        )
        .into());
    }
    let request = ScheduleRequest {
        action: Some(Action::AdminAssign),
        principal_id,
        role_definition_id: role_id,
        directory_scope_id: Some("/".into()),
        schedule_info: Some(RequestSchedule {
            expiration: Some(ExpirationPattern {
                kind: Some(ExpirationType::NoExpiration),
                ..ExpirationPattern::default()
            }),
            ..RequestSchedule::default()
        }),
        ..ScheduleRequest::default()
    };
    // Active assignments are not what the lockout guard weighs (it weighs who is eligible).
    let outcome = admin::request(
        core,
        admin,
        mfa_claim,
        request,
        ScheduleKind::Assignment,
        LockoutGuard::Enforce,
    )
    .await?;
    let record = match outcome {
        AdminRequestOutcome::Done(record) => record,
        AdminRequestOutcome::ValidatedOnly(_) => {
            return Err(AdminError::Internal(
                "a direct assignment was only validated".into(),
            ))
        }
    };
    let made = record.request.target_schedule_id.clone().ok_or_else(|| {
        AdminError::Internal(format!(
            "request {} made no schedule",
            record.request.id.clone().unwrap_or_default()
        ))
    })?;
    Ok(core.store.get_scheduled_assignment(&made).await?.assignment)
}

/// Ends the active assignment `id` (in force now) through an `adminRemove` of its principal
/// and role.
pub async fn remove(
    core: &Core,
    admin: &Authorized<ManageRoles>,
    mfa_claim: bool,
    id: &str,
) -> Result<(), AdminError> {
    let Some(assignment) = one(core, admin, id).await? else {
        return Err(Refusal::not_found("Role assignment", id).into());
    };
    let request = ScheduleRequest {
        action: Some(Action::AdminRemove),
        principal_id: assignment.principal_id.to_string(),
        role_definition_id: assignment.role_definition_id.to_string(),
        directory_scope_id: Some("/".into()),
        ..ScheduleRequest::default()
    };
    admin::request(
        core,
        admin,
        mfa_claim,
        request,
        ScheduleKind::Assignment,
        LockoutGuard::Enforce,
    )
    .await?;
    Ok(())
}
