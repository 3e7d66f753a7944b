//! Why a request is refused, one violation per broken rule, and the Graph error that names them.

use crate::iso8601::format_duration;
use crate::request::ScheduleKind;
use crate::rule_id::{RuleId, RuleKind};
use chrono::{DateTime, TimeDelta, Utc};

/// One reason a request is refused. Violations that come from the role's settings carry the
/// rule id, so that the API can name the failed rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleViolation {
    /// The request's action is not the one being checked.
    #[error("the request's action is '{found}', but {expected} was expected")]
    WrongAction {
        /// The action(s) this check handles.
        expected: &'static str,
        /// The action in the request.
        found: String,
    },
    /// A scope other than the tenant.
    #[error(
        "directoryScopeId '{found}' is not supported: Portcullis assigns directory roles at the \
         tenant scope '/' only"
    )]
    UnsupportedScope {
        /// The scope in the request.
        found: String,
    },
    /// The principal may not activate the role.
    #[error("the principal has no eligible assignment for this role, so it cannot be activated")]
    NotEligible,
    /// The eligible assignment has not started by the requested start.
    #[error("the eligible assignment starts at {starts}; an activation cannot start before it")]
    EligibilityNotStarted {
        /// When eligibility starts.
        starts: DateTime<Utc>,
    },
    /// The requested start is at or after the end of eligibility.
    #[error("the activation would start at {start}, but the eligible assignment ends at {eligibility_end}")]
    StartAfterEligibilityEnds {
        /// The requested start.
        start: DateTime<Utc>,
        /// When eligibility ends.
        eligibility_end: DateTime<Utc>,
    },
    /// The principal already holds what is asked for.
    #[error("the principal already has an {kind} for this role")]
    RoleAssignmentExists {
        /// Active or eligible.
        kind: ScheduleKind,
    },
    /// The principal does not hold what the request acts on.
    #[error("the principal has no {kind} for this role")]
    RoleAssignmentDoesNotExist {
        /// Active or eligible.
        kind: ScheduleKind,
    },
    /// No justification.
    #[error("{rule_id}: a justification is required")]
    JustificationRequired {
        /// The rule that requires it.
        rule_id: RuleId,
    },
    /// A justification too long to keep.
    #[error("the justification is {length} characters long; at most {max} are allowed")]
    JustificationTooLong {
        /// Its length in characters.
        length: usize,
        /// The most allowed.
        max: usize,
    },
    /// No (complete) ticket.
    #[error("{rule_id}: ticket information is required: {missing} missing")]
    TicketRequired {
        /// The rule that requires it.
        rule_id: RuleId,
        /// What is missing: `ticketNumber`, `ticketSystem`, or both.
        missing: &'static str,
    },
    /// No MFA claim in the session (the claim check of `MultiFactorAuthentication`).
    #[error(
        "{rule_id}: multifactor authentication is required; sign in again with a second factor \
         and retry"
    )]
    MfaRequired {
        /// The rule that requires it.
        rule_id: RuleId,
    },
    /// Longer than the rule allows.
    #[error("{rule_id}: the requested duration {} is longer than the maximum {}", format_duration(*.requested), format_duration(*.maximum))]
    DurationTooLong {
        /// The expiration rule.
        rule_id: RuleId,
        /// What was asked.
        requested: TimeDelta,
        /// What the rule allows.
        maximum: TimeDelta,
    },
    /// `noExpiration` where an end is required.
    #[error("{rule_id}: an end is required, so noExpiration is not allowed")]
    ExpirationRequired {
        /// The expiration rule.
        rule_id: RuleId,
    },
    /// The schedule cannot be understood.
    #[error("scheduleInfo is invalid: {reason}")]
    InvalidSchedule {
        /// What is wrong.
        reason: String,
    },
    /// The start is too far in the past.
    #[error("the requested start {start} is more than five minutes before now ({now})")]
    StartInPast {
        /// The requested start.
        start: DateTime<Utc>,
        /// Now.
        now: DateTime<Utc>,
    },
    /// The role's settings are broken; Portcullis refuses rather than guess.
    #[error("{rule_id}: the role's settings are invalid, so the request is refused: {reason}")]
    PolicyMisconfigured {
        /// The broken rule.
        rule_id: RuleId,
        /// What is wrong with it.
        reason: String,
    },
    /// Deactivation within five minutes of activation.
    #[error(
        "the activation started at {started}; it can be deactivated from {earliest}, five minutes \
         after it started"
    )]
    ActiveDurationTooShort {
        /// When the activation started.
        started: DateTime<Utc>,
        /// The earliest deactivation.
        earliest: DateTime<Utc>,
    },
    /// Self-deactivation of an assignment an administrator made.
    #[error(
        "the active assignment was made by an administrator, not activated; only an \
         administrator can remove it"
    )]
    NotActivated,
    /// Extension of an assignment that never ends.
    #[error("the {kind} does not expire, so there is nothing to extend")]
    NoExpiryToExtend {
        /// Active or eligible.
        kind: ScheduleKind,
    },
    /// Self-extension earlier than 14 days before the end.
    #[error(
        "the {kind} ends at {end}; its extension can be requested from {earliest}, 14 days before"
    )]
    TooEarlyToExtend {
        /// Active or eligible.
        kind: ScheduleKind,
        /// When it ends.
        end: DateTime<Utc>,
        /// The earliest request.
        earliest: DateTime<Utc>,
    },
    /// Extension of an assignment that has ended.
    #[error("the {kind} ended at {end}; request a renewal instead of an extension")]
    AlreadyExpired {
        /// Active or eligible.
        kind: ScheduleKind,
        /// When it ended.
        end: DateTime<Utc>,
    },
    /// Renewal of an assignment that has not ended.
    #[error("the {kind} has not ended; request an extension instead of a renewal")]
    NotExpired {
        /// Active or eligible.
        kind: ScheduleKind,
    },
    /// Renewal more than 30 days after the end.
    #[error("the {kind} ended at {end}, more than 30 days ago; it can no longer be renewed and must be assigned again")]
    RenewalWindowClosed {
        /// Active or eligible.
        kind: ScheduleKind,
        /// When it ended.
        end: DateTime<Utc>,
    },
    /// An extension that does not move the end.
    #[error("the new end {new_end} is not later than the current end {current_end}")]
    ExtensionNotLater {
        /// The current end.
        current_end: DateTime<Utc>,
        /// The requested end (none: permanent, which this check never reaches).
        new_end: DateTime<Utc>,
    },
}

/// Graph's code for a request refused by the role's settings.
pub const POLICY_VALIDATION_FAILED: &str = "RoleAssignmentRequestPolicyValidationFailed";

impl RuleViolation {
    /// The policy rule that was broken, when the violation comes from the role's settings.
    pub fn rule_id(&self) -> Option<&RuleId> {
        use RuleViolation::*;
        match self {
            JustificationRequired { rule_id }
            | TicketRequired { rule_id, .. }
            | MfaRequired { rule_id }
            | DurationTooLong { rule_id, .. }
            | ExpirationRequired { rule_id }
            | PolicyMisconfigured { rule_id, .. } => Some(rule_id),
            _ => None,
        }
    }

    /// The name Graph gives the failed rule in `RoleAssignmentRequestPolicyValidationFailed`
    /// (`The following policy rules failed: ["JustificationRule"]`), for policy violations.
    pub fn failed_rule(&self) -> Option<&'static str> {
        use RuleViolation::*;
        Some(match self {
            NotEligible | EligibilityNotStarted { .. } | StartAfterEligibilityEnds { .. } => {
                "EligibilityRule"
            }
            JustificationRequired { .. } | JustificationTooLong { .. } => "JustificationRule",
            TicketRequired { .. } => "TicketingRule",
            MfaRequired { .. } => "MfaRule",
            DurationTooLong { .. }
            | ExpirationRequired { .. }
            | InvalidSchedule { .. }
            | StartInPast { .. } => "ExpirationRule",
            PolicyMisconfigured { rule_id, .. } => match rule_id.spec().map(|s| s.kind) {
                Some(RuleKind::Expiration) => "ExpirationRule",
                Some(RuleKind::Approval) => "ApprovalRule",
                Some(RuleKind::AuthenticationContext) => "AuthenticationContextRule",
                _ => "EnablementRule",
            },
            TooEarlyToExtend { .. }
            | AlreadyExpired { .. }
            | NotExpired { .. }
            | RenewalWindowClosed { .. }
            | ExtensionNotLater { .. }
            | NoExpiryToExtend { .. } => "ExpirationRule",
            _ => return None,
        })
    }

    /// The Graph error code this violation alone would produce.
    pub fn code(&self) -> &'static str {
        match self {
            RuleViolation::WrongAction { .. }
            | RuleViolation::UnsupportedScope { .. }
            | RuleViolation::NotActivated => "BadRequest",
            RuleViolation::RoleAssignmentExists { .. } => "RoleAssignmentExists",
            RuleViolation::RoleAssignmentDoesNotExist { .. } => "RoleAssignmentDoesNotExist",
            RuleViolation::ActiveDurationTooShort { .. } => "ActiveDurationTooShort",
            _ => POLICY_VALIDATION_FAILED,
        }
    }
}

/// A Graph error body's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    /// `error.code`.
    pub code: &'static str,
    /// `error.message`.
    pub message: String,
}

/// The one Graph error for a refused request; `None` when there is no violation.
///
/// The code is that of the most fundamental violation (a bad request, then a missing or existing
/// assignment, then the five-minute rule, then the role's settings). For
/// `RoleAssignmentRequestPolicyValidationFailed` the message starts as Graph's does —
/// `The following policy rules failed: ["JustificationRule","MfaRule"]` — so that existing
/// clients recognise it, then says in words what each violation is.
pub fn graph_error(violations: &[RuleViolation]) -> Option<GraphError> {
    const ORDER: [&str; 5] = [
        "BadRequest",
        "RoleAssignmentDoesNotExist",
        "RoleAssignmentExists",
        "ActiveDurationTooShort",
        POLICY_VALIDATION_FAILED,
    ];
    let code = ORDER
        .into_iter()
        .find(|c| violations.iter().any(|v| v.code() == *c))?;
    let chosen: Vec<&RuleViolation> = violations.iter().filter(|v| v.code() == code).collect();
    let details = chosen
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("; ");
    let message = if code == POLICY_VALIDATION_FAILED {
        let mut names: Vec<&str> = Vec::new();
        for name in chosen.iter().filter_map(|v| v.failed_rule()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let list = names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(",");
        format!("The following policy rules failed: [{list}]. {details}")
    } else {
        details
    };
    Some(GraphError { code, message })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn policy_violations_are_named_as_graph_names_them() {
        let v = vec![
            RuleViolation::JustificationRequired {
                rule_id: RuleId::EnablementEndUserAssignment,
            },
            RuleViolation::MfaRequired {
                rule_id: RuleId::EnablementEndUserAssignment,
            },
            RuleViolation::JustificationTooLong {
                length: 600,
                max: 500,
            },
        ];
        let e = graph_error(&v).unwrap();
        assert_eq!(e.code, "RoleAssignmentRequestPolicyValidationFailed");
        assert!(
            e.message.starts_with(
                r#"The following policy rules failed: ["JustificationRule","MfaRule"]. "#
            ),
            "{}",
            e.message
        );
        assert!(e
            .message
            .contains("Enablement_EndUser_Assignment: a justification is required"));
        assert_eq!(v[0].rule_id(), Some(&RuleId::EnablementEndUserAssignment));
        assert_eq!(v[2].rule_id(), None);
    }

    #[test]
    fn the_most_fundamental_code_wins() {
        let v = vec![
            RuleViolation::MfaRequired {
                rule_id: RuleId::EnablementEndUserAssignment,
            },
            RuleViolation::RoleAssignmentExists {
                kind: ScheduleKind::Assignment,
            },
        ];
        let e = graph_error(&v).unwrap();
        assert_eq!(e.code, "RoleAssignmentExists");
        assert_eq!(
            e.message,
            "the principal already has an active assignment for this role"
        );
        assert_eq!(graph_error(&[]), None);
    }

    #[test]
    fn durations_are_written_in_iso_8601() {
        let v = RuleViolation::DurationTooLong {
            rule_id: RuleId::ExpirationEndUserAssignment,
            requested: TimeDelta::hours(9),
            maximum: TimeDelta::hours(8),
        };
        assert_eq!(
            v.to_string(),
            "Expiration_EndUser_Assignment: the requested duration PT9H is longer than the maximum PT8H"
        );
    }
}
