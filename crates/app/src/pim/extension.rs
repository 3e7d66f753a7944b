//! `selfExtend` and `selfRenew`: the holder of an assignment (eligible or active) that ends
//! within 14 days asks to extend it, or one that ended within 30 days asks to renew it. The
//! request waits in `PendingAdminDecision` for an active role administrator, who decides it as
//! an approval (see [`crate::pim::approvals::decide`]).

use crate::pim::facts::existing;
use crate::pim::{audit, refuse, ErrorCode, Refusal};
use crate::{Caller, Core};
use pim::validate::AssignmentPlan;
use pim::{Action, Decision, RequestFlow, ScheduleKind, ScheduleRequest, Status};
use policy::ids::RoleId;
use store::{ScheduleRequestQuery, ScheduleRequestRecord};

crate::pim::area_error! {
    /// Why an extension or renewal was not requested.
    ExtensionError
}

/// What became of a `selfExtend` or `selfRenew`.
#[derive(Debug, Clone)]
pub enum ExtensionOutcome {
    /// Recorded; it waits for an administrator.
    PendingAdminDecision(ScheduleRequestRecord),
    /// `isValidationOnly`: it would pass, with the status it would get; nothing stored.
    ValidatedOnly(ScheduleRequest),
}

/// Records a `selfExtend` or `selfRenew` request of the caller's for a schedule of `kind`.
pub async fn request(
    core: &Core,
    caller: &Caller,
    mut request: ScheduleRequest,
    kind: ScheduleKind,
) -> Result<ExtensionOutcome, ExtensionError> {
    let now = core.now();
    let action = request.action();
    if !request.principal_id.is_empty() && !caller.id().is(&request.principal_id) {
        return Err(
            Refusal::forbidden(format!("{action} is for the caller's own principalId.")).into(),
        );
    }
    request.principal_id = caller.user.id.clone();
    let role = core
        .role_definition::<ExtensionError>(&RoleId::trusted(request.role_definition_id.clone()))
        .await?;
    request.role_definition_id = role.id.clone();
    let renewing = action == Action::SelfRenew;
    let verb = if renewing { "Renew" } else { "Extend" };
    let entry = |suffix: &str| {
        audit(
            caller,
            &format!("{verb} {} requested{suffix}", kind.describe()),
            &role.id,
            now,
        )
    };
    // One extension or renewal of a schedule at a time: a second would let the administrator
    // grant both, and the holder could not tell which one counts.
    let waiting = core
        .store
        .list_schedule_requests(&ScheduleRequestQuery {
            kind: Some(kind),
            principal_id: Some(caller.user.id.clone()),
            role_definition_id: Some(role.id.clone()),
            status: Some(Status::PendingAdminDecision),
            ..ScheduleRequestQuery::default()
        })
        .await?;
    if let Some(pending) = waiting
        .iter()
        .find(|r| matches!(r.request.action(), Action::SelfExtend | Action::SelfRenew))
    {
        let refusal = Refusal::invalid(
            ErrorCode::Other("PendingRoleAssignmentRequest"),
            format!(
                "A request to extend or renew this {} already waits for an administrator \
                 ({}); cancel it first to ask again.",
                kind.describe(),
                pending.id()
            ),
        );
        return Err(refuse(core, entry(" (refused)"), refusal).await.into());
    }
    let policy = core.role_settings(&role.id).await?.policy;
    let current = existing(core, kind, &caller.user.id, &role.id, renewing).await?;
    match pim::validate_self_extension(&policy, &request, kind, current, now) {
        Ok(AssignmentPlan::Schedule { .. }) => {}
        Ok(AssignmentPlan::Remove) => {
            return Err(Refusal::invalid(ErrorCode::BadRequest, "Nothing to extend.").into())
        }
        Err(violations) => {
            let refusal = Refusal::violations(&violations);
            return Err(refuse(core, entry(" (refused)"), refusal).await.into());
        }
    }
    // An administrator decides: the state machine says where such a request starts.
    let waits = RequestFlow {
        requester: caller.id(),
        needs_step_up: false,
        decision: Decision::Admin(Default::default()),
    }
    .start()
    .status;
    request.status = Some(waits);
    if request.validation_only() {
        return Ok(ExtensionOutcome::ValidatedOnly(request));
    }
    let id = store::new_id();
    request.id = Some(id.clone());
    request.approval_id = Some(id.clone());
    request.directory_scope_id = Some("/".into());
    let record = core
        .store
        .create_schedule_request(kind, &request, now, Some(&entry("").correlation(&id)))
        .await?;
    tracing::info!(user = %caller.user.user_principal_name, role = %role.id, %action, request = %id, "waits for an administrator");
    Ok(ExtensionOutcome::PendingAdminDecision(record))
}
