//! Who may administer roles: only a principal with an *active* Privileged Role Administrator or
//! Global Administrator assignment in force now, held directly or through a group. Eligibility
//! is not enough: administrators use PIM themselves, and activate before they administer.

use crate::graph::auth::Caller;
use crate::graph::error::GraphError;
use crate::state::AppState;
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR};
use store::{AssignmentQuery, AuditEntry};

/// The roles whose active holders may administer roles.
pub const ADMINISTRATOR_ROLES: [&str; 2] = [PRIVILEGED_ROLE_ADMINISTRATOR, GLOBAL_ADMINISTRATOR];

/// The sentence of the refusal.
pub const NOT_AN_ADMINISTRATOR: &str = "Administering roles requires an active Privileged Role \
     Administrator or Global Administrator assignment, and the caller has neither in force now. \
     An administrator who is only eligible for one of these roles must activate it first \
     (selfActivate at /v1.0/roleManagement/directory/roleAssignmentScheduleRequests), then send \
     this request again.";

/// Whether `user_id` holds an administrator role actively now, directly or through a group.
pub async fn is_role_admin(state: &AppState, user_id: &str) -> Result<bool, GraphError> {
    holds_active_role(state, user_id, &ADMINISTRATOR_ROLES).await
}

/// Whether `user_id` holds one of `roles` actively now, directly or through a group.
pub async fn holds_active_role(
    state: &AppState,
    user_id: &str,
    roles: &[&str],
) -> Result<bool, GraphError> {
    let now = state.now();
    let mut principals = vec![user_id.to_string()];
    principals.extend(state.store.transitive_groups(user_id).await?);
    for principal in principals {
        let active = state
            .store
            .list_scheduled_assignments(&AssignmentQuery {
                principal_id: Some(principal),
                status: Some(AssignmentStatus::Active),
                in_force_at: Some(now),
                ..AssignmentQuery::default()
            })
            .await?;
        if active.iter().any(|s| {
            roles
                .iter()
                .any(|r| r.eq_ignore_ascii_case(&s.assignment.role_definition_id))
        }) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `Ok` if the caller may administer roles; otherwise `403 Authorization_RequestDenied` saying
/// which roles are needed and that an eligible administrator must activate first.
pub async fn require_role_admin(state: &AppState, caller: &Caller) -> Result<(), GraphError> {
    if is_role_admin(state, &caller.user.id).await? {
        Ok(())
    } else {
        Err(GraphError::forbidden(NOT_AN_ADMINISTRATOR))
    }
}

/// An audit entry for an administrative operation by the caller.
pub fn entry(
    caller: &Caller,
    activity: &str,
    operation_type: &str,
    state: &AppState,
) -> AuditEntry {
    AuditEntry::new("RoleManagement", activity, operation_type, state.now())
        .by_user(&caller.user.id, Some(&caller.user.user_principal_name))
}

/// Records a refused administrative operation (`entry`, marked failed with the error's
/// message) in the audit log, then returns the error.
pub async fn refused(state: &AppState, entry: AuditEntry, error: GraphError) -> GraphError {
    let entry = entry.failed(&error.message);
    if let Err(e) = state.store.append_audit(&entry).await {
        tracing::error!(error = %e, "audit entry for a refusal not written");
    }
    error
}
