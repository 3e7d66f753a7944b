//! PIM services: self-activation (with its step-up), deactivation, cancellation, approvals,
//! extensions and renewals, the administrators' actions, role settings, and the jobs that fail
//! overdue requests and end activations on time.
//!
//! Each service returns a typed outcome, or its area's error: a [`Refusal`] (the caller's
//! mistake or the rules' answer, with a typed [`ErrorCode`] and a sentence, audited where the
//! service says so) or a store failure. Every change of a request's status is computed by
//! `pim`'s state machine ([`pim::RequestFlow::transition`]) and handed to the store as a
//! compare-and-set [`store::RequestTransition`].

pub mod activation;
pub mod admin;
pub mod approvals;
pub mod direct;
mod error;
pub mod extension;
mod facts;
pub mod jobs;
pub mod my_roles;
pub mod readiness;
pub mod schedules;
pub mod settings;

pub use error::{ErrorCode, Refusal, RefusalKind};
pub use facts::{new_schedule, RoleSettings};

use crate::{Caller, Core};
use chrono::{DateTime, Utc};
use pim::{Event, InvalidTransition, Progress, RequestFlow, Status};
use policy::ids::UserId;
use store::{AuditEntry, RequestTransition, ScheduleRequestRecord};

/// One error enum per area: a refusal, or the store failing.
macro_rules! area_error {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, thiserror::Error)]
        pub enum $name {
            /// Refused: the caller's mistake or the rules' answer.
            #[error(transparent)]
            Refused(#[from] $crate::pim::Refusal),
            /// The store failed (an internal error, not the caller's).
            #[error(transparent)]
            Store(#[from] store::StoreError),
            /// An inconsistency the service found: a bug, not the caller's mistake.
            #[error("{0}")]
            Internal(String),
        }
    };
}
pub(crate) use area_error;

/// The audit entry of something `caller` did to `role` (category `RoleManagement`, operation
/// `Add`).
pub(crate) fn audit(caller: &Caller, activity: &str, role: &str, at: DateTime<Utc>) -> AuditEntry {
    caller
        .audit("RoleManagement", activity, "Add", at)
        .target("Role", role, None)
}

/// Records a refusal in the audit log (`entry`, marked failed with the refusal's sentence),
/// then returns it: a refusal that is not written is logged, never lost silently, and does not
/// turn into an internal error for the caller.
pub(crate) async fn refuse(core: &Core, entry: AuditEntry, refusal: Refusal) -> Refusal {
    core.audit_refusal(entry, &refusal).await;
    refusal
}

/// The request's life as far as its record tells: who asked, whether it waits for a step-up,
/// and which kind of decision it waits for. Who may decide is resolved only when a decision is
/// made (see [`approvals`]); no other event depends on it.
pub(crate) fn flow_of(record: &ScheduleRequestRecord) -> RequestFlow {
    let decision = match record.status() {
        Status::PendingAdminDecision => pim::Decision::Admin(Default::default()),
        Status::PendingApproval => pim::Decision::Approval(Vec::new()),
        _ => pim::Decision::Automatic,
    };
    RequestFlow {
        requester: UserId::trusted(record.request.principal_id.as_str()),
        needs_step_up: record.status() == Status::PendingStepUp,
        decision,
    }
}

/// Where the request stands.
pub(crate) fn progress_of(record: &ScheduleRequestRecord) -> Progress {
    Progress {
        status: record.status(),
        stage: record.approval_stage as usize,
        failure: None,
    }
}

/// Applies `events` in order with `flow`'s state machine, from `from`.
pub(crate) fn run(
    flow: &RequestFlow,
    from: &Progress,
    events: &[Event],
) -> Result<Progress, InvalidTransition> {
    let mut at = from.clone();
    for event in events {
        at = flow.transition(&at, event)?;
    }
    Ok(at)
}

/// The compare-and-set change of `record` from where it stands to `to`, at its current stage.
pub(crate) fn change(
    record: &ScheduleRequestRecord,
    to: &Progress,
    at: DateTime<Utc>,
) -> RequestTransition {
    RequestTransition::new(record.id(), record.status(), to.status.clone(), at)
        .at_stage(record.approval_stage)
}

/// A refusal for an event the state machine does not allow (its code is the machine's).
pub(crate) fn invalid_transition(e: &InvalidTransition, message: String) -> Refusal {
    Refusal::invalid(ErrorCode::from_code(e.code()), message)
}

/// The first letter in upper case (the state machine's errors are clauses; answers are
/// sentences).
pub(crate) fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
