//! Portcullis' pure privileged identity management domain.
//!
//! A role's settings are a Graph `unifiedRoleManagementPolicy` with 17 fixed rules
//! ([`RoleManagementPolicy`], [`Rule`], [`RuleId`]), readable and patchable rule by rule
//! ([`RoleManagementPolicy::patch_rule`]). Requests (`unifiedRoleAssignmentScheduleRequest`,
//! `unifiedRoleEligibilityScheduleRequest`: [`ScheduleRequest`]) are checked against the settings
//! and the facts the server gathered ([`validate`]); a request's life is a state machine
//! ([`state`]) in which a role that requires an authentication context waits in
//! `PendingStepUp` until a fresh, request-bound step-up proof passes [`step_up::check`]. The lint
//! ([`lint`]) flags settings whose activation is weaker than it looks.
//!
//! No I/O and no clock: time comes in as a value. Names and JSON follow Microsoft Graph v1.0;
//! values Portcullis does not know are kept.

mod approval;
mod enums;
pub mod iso8601;
pub mod lint;
mod patch;
pub mod request;
mod role_policy;
mod rule_check;
mod rule_error;
mod rule_id;
mod rules;
pub mod schedule;
mod serde_util;
pub mod state;
pub mod step_up;
mod target;
pub mod validate;

pub use approval::{
    ApprovalMode, ApprovalSettings, ApprovalStage, GroupMembers, SingleUser, SubjectSet,
};
pub use lint::{lint_role_policy, Finding, FindingKind, RoleRef};
pub use request::{Action, ScheduleKind, ScheduleRequest, Status};
pub use role_policy::{
    default_rule, Identity, RoleManagementPolicy, RoleManagementPolicyAssignment,
    DEFAULT_ACTIVATION_MAXIMUM, DEFAULT_ASSIGNMENT_MAXIMUM, DEFAULT_ELIGIBILITY_MAXIMUM,
    DIRECTORY_ROLE,
};
pub use rule_check::{
    allowed_enabled_rules, check_rule, PolicyRuleError, MAX_ACTIVATION_DURATION,
    MAX_STAGE_TIMEOUT_DAYS,
};
pub use rule_id::{RuleId, RuleKind, RuleSpec};
pub use rules::{
    ApprovalRule, AuthenticationContextRule, EnabledRule, EnablementRule, ExpirationRule,
    NotificationLevel, NotificationRule, NotificationType, RecipientType, Rule,
};
pub use state::{
    transition, Decision, Event, FailureReason, InvalidTransition, Progress, RequestFlow,
};
pub use step_up::{
    PendingRequest, ProofRefusal, StepUp, StepUpProof, VerifiedStepUp, PROOF_LIFETIME,
};
pub use target::{Caller, Level, Operation, RuleTarget};
pub use validate::{
    activation_requirements, graph_error, validate_activation, validate_admin_request,
    validate_deactivation, validate_self_extension, ActivationFacts, ActivationPlan,
    ActivationRequirements, GraphError, RuleViolation,
};
