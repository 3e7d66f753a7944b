//! `selfExtend` and `selfRenew`: the holder of an assignment (eligible or active) that ends
//! within 14 days asks to extend it, or one that ended within 30 days asks to renew it. The
//! request waits in `PendingAdminDecision` for an active role administrator, who decides it as
//! an approval (`roleAssignmentApprovals/{id}/steps/1`, see `approvals.rs`); granted, the new
//! schedule replaces the old one in one transaction with the decision and its audit entry.

use crate::graph::activation::{audit, refuse};
use crate::graph::auth::Caller;
use crate::graph::eligibility::{existing, violation_error};
use crate::graph::error::GraphError;
use crate::graph::settings::load_policy;
use crate::state::AppState;
use axum::http::StatusCode;
use axum::Json;
use pim::validate::AssignmentPlan;
use pim::{Action, ScheduleKind, ScheduleRequest, Status};
use serde_json::{json, Value};

/// Records a `selfExtend` or `selfRenew` request of the caller's for a schedule of `kind`.
pub async fn request(
    state: &AppState,
    caller: &Caller,
    mut request: ScheduleRequest,
    kind: ScheduleKind,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let now = state.now();
    let action = request.action();
    if !request.principal_id.is_empty()
        && !request.principal_id.eq_ignore_ascii_case(&caller.user.id)
    {
        return Err(GraphError::forbidden(format!(
            "{action} is for the caller's own principalId."
        )));
    }
    request.principal_id = caller.user.id.clone();
    let role = state
        .store
        .list_role_definitions()
        .await?
        .into_iter()
        .find(|d| d.id.eq_ignore_ascii_case(&request.role_definition_id))
        .ok_or_else(|| GraphError::not_found("Role definition", &request.role_definition_id))?;
    request.role_definition_id = role.id.clone();
    let verb = if action == Action::SelfRenew {
        "Renew"
    } else {
        "Extend"
    };
    let entry = |suffix: &str| {
        audit(
            caller,
            &format!("{verb} {} requested{suffix}", kind.describe()),
            &role.id,
            now,
        )
    };
    let (policy, _) = load_policy(state, &role.id).await?;
    let current = existing(
        state,
        kind,
        &caller.user.id,
        &role.id,
        action == Action::SelfRenew,
    )
    .await?;
    match pim::validate_self_extension(&policy, &request, kind, current, now) {
        Ok(AssignmentPlan::Schedule { .. }) => {}
        Ok(AssignmentPlan::Remove) => {
            return Err(GraphError::bad_request("BadRequest", "Nothing to extend."))
        }
        Err(violations) => {
            let e = violation_error(&violations);
            return Err(refuse(state, entry(" (refused)"), e).await);
        }
    }
    if request.validation_only() {
        request.status = Some(Status::PendingAdminDecision);
        return Ok((StatusCode::OK, Json(json!(request))));
    }
    let id = store::new_id();
    request.id = Some(id.clone());
    request.approval_id = Some(id.clone());
    request.status = Some(Status::PendingAdminDecision);
    request.directory_scope_id = Some("/".into());
    let record = state
        .store
        .create_schedule_request(kind, &request, now, Some(&entry("").correlation(&id)))
        .await?;
    tracing::info!(user = %caller.user.user_principal_name, role = %role.id, %action, request = %id, "waits for an administrator");
    Ok((StatusCode::CREATED, Json(json!(record.request))))
}
