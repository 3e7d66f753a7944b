//! The typed error for a rule, a rule update or a policy that is refused: a sentence for people
//! and a Graph error code for the API.

use crate::iso8601::DurationError;
use crate::rule_id::RuleId;

/// Why a rule, a rule update or a policy is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyRuleError {
    /// The body is not a JSON object.
    #[error("the request body must be a JSON object describing one rule")]
    NotAnObject,
    /// No rule has this id.
    #[error(
        "the policy has no rule '{rule_id}'; a role's settings have 17 fixed rules such as \
         Expiration_EndUser_Assignment or Enablement_EndUser_Assignment"
    )]
    RuleNotFound {
        /// The id asked for.
        rule_id: String,
    },
    /// The body has no `@odata.type`.
    #[error("rule {rule_id}: the body must name its type: \"@odata.type\": \"{expected}\"")]
    MissingODataType {
        /// The rule.
        rule_id: String,
        /// The type the rule has.
        expected: &'static str,
    },
    /// The body's `@odata.type` is not the rule's.
    #[error("rule {rule_id} is a {expected}, but the body says it is a {found}")]
    ODataTypeMismatch {
        /// The rule.
        rule_id: String,
        /// The rule's type.
        expected: &'static str,
        /// The type in the body.
        found: String,
    },
    /// The body's `id` is not the rule's.
    #[error("the body's id '{body_id}' is not the id of the rule being updated, '{rule_id}'")]
    IdMismatch {
        /// The rule being updated.
        rule_id: String,
        /// The id in the body.
        body_id: String,
    },
    /// A property the rule's type does not have (often a wrong letter case).
    #[error(
        "rule {rule_id}: '{property}' is not a property of this rule \
         (Graph property names are camelCase, e.g. isExpirationRequired)"
    )]
    UnknownProperty {
        /// The rule.
        rule_id: String,
        /// The property's path, e.g. `setting.approvalStages[0].approvers`.
        property: String,
    },
    /// A property has the wrong JSON type.
    #[error("rule {rule_id} cannot be read: {reason}")]
    Malformed {
        /// The rule.
        rule_id: String,
        /// What serde said.
        reason: String,
    },
    /// The target's caller, level or recipient is not the one the rule id fixes.
    #[error("rule {rule_id}: {field} must be '{expected}' for this rule, not '{found}'")]
    FixedValue {
        /// The rule.
        rule_id: String,
        /// `target.caller`, `target.level` or `recipientType`.
        field: &'static str,
        /// The value the rule id fixes.
        expected: String,
        /// The value given (empty when missing).
        found: String,
    },
    /// A value this version of Portcullis does not know.
    #[error("rule {rule_id}: '{value}' is not a valid {field}; allowed: {allowed}")]
    UnknownValue {
        /// The rule.
        rule_id: String,
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// The allowed values, comma-separated.
        allowed: String,
    },
    /// `target.operations` is empty.
    #[error("rule {rule_id}: target.operations must name at least one operation (usually All)")]
    NoOperations {
        /// The rule.
        rule_id: String,
    },
    /// `maximumDuration` does not parse.
    #[error("rule {rule_id}: maximumDuration: {source}")]
    InvalidDuration {
        /// The rule.
        rule_id: String,
        /// Why it does not parse.
        source: DurationError,
    },
    /// `maximumDuration` is zero.
    #[error("rule {rule_id}: maximumDuration '{value}' must be longer than zero")]
    DurationNotPositive {
        /// The rule.
        rule_id: String,
        /// The value given.
        value: String,
    },
    /// `maximumDuration` is longer than allowed.
    #[error("rule {rule_id}: maximumDuration '{value}' is longer than the allowed {maximum}")]
    DurationTooLong {
        /// The rule.
        rule_id: String,
        /// The value given.
        value: String,
        /// The longest allowed, ISO 8601.
        maximum: String,
    },
    /// Expiration required but no maximum given.
    #[error("rule {rule_id}: isExpirationRequired is true, so maximumDuration must be set")]
    MissingMaximumDuration {
        /// The rule.
        rule_id: String,
    },
    /// An enabled rule this rule does not allow.
    #[error("rule {rule_id}: '{value}' cannot be enabled here; allowed: {allowed}")]
    EnabledRuleNotAllowed {
        /// The rule.
        rule_id: String,
        /// The value given.
        value: String,
        /// The allowed values, comma-separated.
        allowed: String,
    },
    /// The same enabled rule twice.
    #[error("rule {rule_id}: '{value}' appears more than once in enabledRules")]
    DuplicateEnabledRule {
        /// The rule.
        rule_id: String,
        /// The repeated value.
        value: String,
    },
    /// The context rule is enabled without a claim value.
    #[error(
        "rule AuthenticationContext_EndUser_Assignment: isEnabled is true, so claimValue must \
         name an authentication context (c1 to c99)"
    )]
    MissingClaimValue,
    /// The claim value is not `c1`…`c99`.
    #[error(
        "rule AuthenticationContext_EndUser_Assignment: claimValue '{value}' is not an \
         authentication context id; ids run from c1 to c99"
    )]
    InvalidClaimValue {
        /// The value given.
        value: String,
    },
    /// Approval required with no stage.
    #[error("rule Approval_EndUser_Assignment: approval is required, so at least one approval stage is needed")]
    NoApprovalStages,
    /// A stage without primary approvers while approval is required.
    #[error(
        "rule Approval_EndUser_Assignment: approval stage {stage} has no primary approver; \
         name at least one user (singleUser) or group (groupMembers)"
    )]
    NoPrimaryApprover {
        /// The stage, from 1.
        stage: usize,
    },
    /// An approver of a kind Portcullis cannot resolve.
    #[error(
        "rule Approval_EndUser_Assignment: approval stage {stage} names an approver of type \
         '{odata_type}'; only #microsoft.graph.singleUser and #microsoft.graph.groupMembers can approve role activations"
    )]
    UnsupportedApprover {
        /// The stage, from 1.
        stage: usize,
        /// The approver's type.
        odata_type: String,
    },
    /// An approver without an id.
    #[error("rule Approval_EndUser_Assignment: approval stage {stage} names an approver without a userId or groupId")]
    EmptyApproverId {
        /// The stage, from 1.
        stage: usize,
    },
    /// A stage timeout outside 1 to [`crate::rule_check::MAX_STAGE_TIMEOUT_DAYS`] days.
    #[error("rule Approval_EndUser_Assignment: approval stage {stage}: approvalStageTimeOutInDays must be from 1 to {maximum} days, not {value}")]
    InvalidStageTimeout {
        /// The stage, from 1.
        stage: usize,
        /// The value given.
        value: i64,
        /// The longest timeout allowed, in days.
        maximum: i64,
    },
    /// An escalation time that is negative or comes after the stage has timed out.
    #[error("rule Approval_EndUser_Assignment: approval stage {stage}: escalationTimeInMinutes must be from 0 to {maximum} minutes (the stage's approvalStageTimeOutInDays; escalating later would never happen), not {value}")]
    InvalidEscalationTime {
        /// The stage, from 1.
        stage: usize,
        /// The value given.
        value: i64,
        /// The latest escalation allowed, in minutes.
        maximum: i64,
    },
    /// Escalation enabled without escalation approvers.
    #[error("rule Approval_EndUser_Assignment: approval stage {stage} enables escalation but names no escalation approver")]
    EscalationWithoutApprovers {
        /// The stage, from 1.
        stage: usize,
    },
    /// The approval mode contradicts the stages.
    #[error("rule Approval_EndUser_Assignment: approvalMode {mode} does not fit {reason}")]
    ApprovalModeConflict {
        /// The mode given.
        mode: String,
        /// What it contradicts.
        reason: &'static str,
    },
    /// An additional recipient that is not an e-mail address.
    #[error("rule {rule_id}: notification recipient '{value}' is not an e-mail address")]
    InvalidRecipient {
        /// The rule.
        rule_id: String,
        /// The value given.
        value: String,
    },
    /// A policy lacks one of the 17 rules.
    #[error("the policy lacks rule {rule_id}; every role's settings have all 17 rules")]
    MissingRule {
        /// The missing rule.
        rule_id: String,
    },
    /// A policy has a rule twice.
    #[error("the policy has rule {rule_id} more than once")]
    DuplicateRule {
        /// The repeated rule.
        rule_id: String,
    },
}

impl PolicyRuleError {
    /// The rule concerned, when there is one.
    pub fn rule_id(&self) -> Option<RuleId> {
        use PolicyRuleError::*;
        match self {
            NotAnObject => None,
            RuleNotFound { rule_id }
            | MissingODataType { rule_id, .. }
            | ODataTypeMismatch { rule_id, .. }
            | IdMismatch { rule_id, .. }
            | UnknownProperty { rule_id, .. }
            | Malformed { rule_id, .. }
            | FixedValue { rule_id, .. }
            | UnknownValue { rule_id, .. }
            | NoOperations { rule_id }
            | InvalidDuration { rule_id, .. }
            | DurationNotPositive { rule_id, .. }
            | DurationTooLong { rule_id, .. }
            | MissingMaximumDuration { rule_id }
            | EnabledRuleNotAllowed { rule_id, .. }
            | DuplicateEnabledRule { rule_id, .. }
            | InvalidRecipient { rule_id, .. }
            | MissingRule { rule_id }
            | DuplicateRule { rule_id } => Some(RuleId::parse(rule_id)),
            MissingClaimValue | InvalidClaimValue { .. } => {
                Some(RuleId::AuthenticationContextEndUserAssignment)
            }
            NoApprovalStages
            | NoPrimaryApprover { .. }
            | UnsupportedApprover { .. }
            | EmptyApproverId { .. }
            | InvalidStageTimeout { .. }
            | InvalidEscalationTime { .. }
            | EscalationWithoutApprovers { .. }
            | ApprovalModeConflict { .. } => Some(RuleId::ApprovalEndUserAssignment),
        }
    }

    /// The Graph error code.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyRuleError::NotAnObject => "BadRequest",
            PolicyRuleError::RuleNotFound { .. } => "RoleManagementPolicyRuleNotFound",
            PolicyRuleError::MissingRule { .. } | PolicyRuleError::DuplicateRule { .. } => {
                "InvalidPolicy"
            }
            _ => "InvalidPolicyRule",
        }
    }
}
