//! Checking schedule requests against a role's settings and what the server knows.
//!
//! Each check is a pure function of the policy, the request, the facts the server gathered
//! (eligibility, active assignments, the session's MFA claim, a verified step-up) and the time.
//! It returns a plan (what to do next) or every violation, each naming the rule it broke so that
//! the API can answer `RoleAssignmentRequestPolicyValidationFailed` with the failed rules
//! ([`graph_error`]).

mod activation;
mod admin;
mod requirements;
mod violation;
mod window;

pub use activation::{
    activation_requirements, validate_activation, validate_deactivation, ActivationFacts,
    ActivationPlan, ActivationRequirements, ActiveAssignment, ActiveKind, ApprovalStages,
    DeactivationPlan, Window, MINIMUM_ACTIVE_DURATION,
};
pub use admin::{
    validate_admin_request, validate_self_extension, AdminFacts, AssignmentPlan, EXTENSION_WINDOW,
    RENEWAL_WINDOW,
};
pub use requirements::MAX_JUSTIFICATION_CHARS;
pub use violation::{graph_error, GraphError, RuleViolation, POLICY_VALIDATION_FAILED};
pub use window::START_GRACE;
