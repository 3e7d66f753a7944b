//! What an enablement rule asks of a request: a justification, a ticket, an MFA claim.

use super::violation::RuleViolation;
use super::window::misconfigured;
use crate::request::ScheduleRequest;
use crate::rule_check::check_rule;
use crate::rule_id::RuleId;
use crate::rules::{EnabledRule, EnablementRule, Rule};
use crate::RoleManagementPolicy;

/// The longest justification kept, in characters.
pub const MAX_JUSTIFICATION_CHARS: usize = 500;

/// The enablement rule `id`, or a violation saying why it cannot be used.
pub(crate) fn enablement_rule<'a>(
    policy: &'a RoleManagementPolicy,
    id: &RuleId,
    out: &mut Vec<RuleViolation>,
) -> Option<&'a EnablementRule> {
    match policy.rule(id) {
        Some(rule @ Rule::Enablement(r)) => match check_rule(rule) {
            Ok(()) => Some(r),
            Err(e) => {
                out.push(misconfigured(id, e.to_string()));
                None
            }
        },
        _ => {
            out.push(misconfigured(id, "the rule is missing".to_string()));
            None
        }
    }
}

/// A justification, trimmed, when `required_by` names a rule; never longer than the maximum.
pub(crate) fn check_justification(
    request: &ScheduleRequest,
    required_by: Option<&RuleId>,
    out: &mut Vec<RuleViolation>,
) {
    let text = request.justification.as_deref().unwrap_or("").trim();
    if let Some(rule_id) = required_by {
        if text.is_empty() {
            out.push(RuleViolation::JustificationRequired {
                rule_id: rule_id.clone(),
            });
        }
    }
    let length = text.chars().count();
    if length > MAX_JUSTIFICATION_CHARS {
        out.push(RuleViolation::JustificationTooLong {
            length,
            max: MAX_JUSTIFICATION_CHARS,
        });
    }
}

/// A ticket number and a ticket system, both non-blank.
pub(crate) fn check_ticket(
    request: &ScheduleRequest,
    rule_id: &RuleId,
    out: &mut Vec<RuleViolation>,
) {
    let ticket = request.ticket_info.as_ref();
    let blank = |v: Option<&String>| v.is_none_or(|s| s.trim().is_empty());
    let number = blank(ticket.and_then(|t| t.ticket_number.as_ref()));
    let system = blank(ticket.and_then(|t| t.ticket_system.as_ref()));
    let missing = match (number, system) {
        (true, true) => "ticketNumber and ticketSystem are",
        (true, false) => "ticketNumber is",
        (false, true) => "ticketSystem is",
        (false, false) => return,
    };
    out.push(RuleViolation::TicketRequired {
        rule_id: rule_id.clone(),
        missing,
    });
}

/// Justification, ticket and MFA claim as the enablement rule asks. `justification_also` names
/// another rule that requires a justification (approval's `isRequestorJustificationRequired`).
pub(crate) fn check_enablement(
    request: &ScheduleRequest,
    rule_id: &RuleId,
    rule: &EnablementRule,
    justification_also: Option<&RuleId>,
    mfa: Option<bool>,
    out: &mut Vec<RuleViolation>,
) {
    let required_by = if rule.requires(&EnabledRule::Justification) {
        Some(rule_id)
    } else {
        justification_also
    };
    check_justification(request, required_by, out);
    if rule.requires(&EnabledRule::Ticketing) {
        check_ticket(request, rule_id, out);
    }
    if rule.requires(&EnabledRule::MultiFactorAuthentication) && mfa == Some(false) {
        out.push(RuleViolation::MfaRequired {
            rule_id: rule_id.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::request::TicketInfo;

    fn with(justification: Option<&str>, ticket: Option<(&str, &str)>) -> ScheduleRequest {
        ScheduleRequest {
            justification: justification.map(str::to_string),
            ticket_info: ticket.map(|(n, s)| TicketInfo {
                ticket_number: Some(n.into()),
                ticket_system: Some(s.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn justification_is_trimmed_and_bounded() {
        let id = RuleId::EnablementEndUserAssignment;
        for (text, ok) in [
            (None, false),
            (Some("   "), false),
            (Some(" incident 42 "), true),
            (Some(&*"x".repeat(500)), true),
        ] {
            let mut out = Vec::new();
            check_justification(&with(text, None), Some(&id), &mut out);
            assert_eq!(out.is_empty(), ok, "{text:?}: {out:?}");
        }
        let mut out = Vec::new();
        check_justification(&with(Some(&"é".repeat(501)), None), None, &mut out);
        assert_eq!(
            out,
            vec![RuleViolation::JustificationTooLong {
                length: 501,
                max: 500
            }]
        );
    }

    #[test]
    fn ticket_needs_number_and_system() {
        let id = RuleId::EnablementEndUserAssignment;
        for (ticket, missing) in [
            (None, Some("ticketNumber and ticketSystem are")),
            (Some(("", "Jira")), Some("ticketNumber is")),
            (Some(("42", " ")), Some("ticketSystem is")),
            (Some(("42", "Jira")), None),
        ] {
            let mut out = Vec::new();
            check_ticket(&with(None, ticket), &id, &mut out);
            let expected: Vec<RuleViolation> = missing
                .map(|missing| RuleViolation::TicketRequired {
                    rule_id: id.clone(),
                    missing,
                })
                .into_iter()
                .collect();
            assert_eq!(out, expected, "{ticket:?}");
        }
    }
}
