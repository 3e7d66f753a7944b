//! Who may administer roles: only a principal with an *active* Privileged Role Administrator or
//! Global Administrator assignment in force now, held directly or through a group. Eligibility
//! is not enough: administrators use PIM themselves, and activate before they administer.

use crate::graph::auth::Caller;
use crate::graph::error::GraphError;
use crate::state::AppState;
use app::authz::ManageRoles;
use app::Authorized;
use store::AuditEntry;

/// The permission to administer roles, if the caller has it; otherwise `403
/// Authorization_RequestDenied` saying which roles are needed and that an eligible
/// administrator must activate first.
pub async fn require_role_admin(
    state: &AppState,
    caller: &Caller,
) -> Result<Authorized<ManageRoles>, GraphError> {
    caller.authorize::<ManageRoles>(state).await
}

/// An audit entry for an administrative operation by the caller.
pub fn entry(
    caller: &app::Caller,
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
