//! What makes a rule (and a policy) valid; [`PolicyRuleError`] says why one is not.
//!
//! The same checks guard a Graph PATCH of one rule and the import of a whole policy.

use crate::approval::{ApprovalMode, ApprovalSettings, SubjectSet};
use crate::iso8601::parse_duration;
use crate::role_policy::RoleManagementPolicy;
pub use crate::rule_error::PolicyRuleError;
use crate::rule_id::{RuleId, RuleSpec};
use crate::rules::{
    AuthenticationContextRule, EnabledRule, EnablementRule, ExpirationRule, NotificationRule, Rule,
};
use crate::target::RuleTarget;
use chrono::TimeDelta;
use policy::context::ContextId;

/// The longest activation Portcullis (like Entra) allows: 24 hours.
pub const MAX_ACTIVATION_DURATION: TimeDelta = TimeDelta::hours(24);

/// The longest an approval stage may wait for a decision (`approvalStageTimeOutInDays`): a
/// year. Requests waiting longer are not approvals any more; the bound also keeps every date
/// computed from it representable.
pub const MAX_STAGE_TIMEOUT_DAYS: i64 = 365;

const MINUTES_PER_DAY: i64 = 24 * 60;

/// The enabled rules each enablement rule accepts. Ticketing exists for activation only;
/// Portcullis also accepts MFA and justification when an administrator makes someone eligible.
pub fn allowed_enabled_rules(id: &RuleId) -> &'static [EnabledRule] {
    match id {
        RuleId::EnablementEndUserAssignment => &[
            EnabledRule::MultiFactorAuthentication,
            EnabledRule::Justification,
            EnabledRule::Ticketing,
        ],
        RuleId::EnablementAdminAssignment | RuleId::EnablementAdminEligibility => &[
            EnabledRule::MultiFactorAuthentication,
            EnabledRule::Justification,
        ],
        _ => &[],
    }
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks one rule: the target the id fixes, then the fields of its type.
pub fn check_rule(rule: &Rule) -> Result<(), PolicyRuleError> {
    let id = rule.rule_id();
    let rule_id = rule.id().to_string();
    let Some(spec) = id.spec() else {
        return Err(PolicyRuleError::RuleNotFound { rule_id });
    };
    if rule.kind() != Some(spec.kind) {
        return Err(PolicyRuleError::ODataTypeMismatch {
            rule_id,
            expected: spec.kind.odata_type(),
            found: rule.odata_type().to_string(),
        });
    }
    if let Some(target) = rule.target() {
        check_target(&rule_id, &spec, target)?;
    }
    match rule {
        Rule::Expiration(r) => check_expiration(&id, r),
        Rule::Enablement(r) => check_enablement(&id, r),
        Rule::AuthenticationContext(r) => check_context(r),
        Rule::Approval(r) => check_approval(&r.setting),
        Rule::Notification(r) => check_notification(&spec, r),
        Rule::Unknown(_) => Ok(()),
    }
}

fn check_target(rule_id: &str, spec: &RuleSpec, t: &RuleTarget) -> Result<(), PolicyRuleError> {
    let fixed = |field, expected: &str, found: Option<&str>| {
        if found.is_some_and(|f| f.eq_ignore_ascii_case(expected)) {
            Ok(())
        } else {
            Err(PolicyRuleError::FixedValue {
                rule_id: rule_id.to_string(),
                field,
                expected: expected.to_string(),
                found: found.unwrap_or("").to_string(),
            })
        }
    };
    fixed(
        "target.caller",
        spec.caller.as_str(),
        t.caller.as_ref().map(|c| c.as_str()),
    )?;
    fixed(
        "target.level",
        spec.level.as_str(),
        t.level.as_ref().map(|l| l.as_str()),
    )?;
    if t.operations.is_empty() {
        return Err(PolicyRuleError::NoOperations {
            rule_id: rule_id.to_string(),
        });
    }
    if let Some(op) = t.operations.iter().find(|o| !o.is_known()) {
        return Err(PolicyRuleError::UnknownValue {
            rule_id: rule_id.to_string(),
            field: "target.operations",
            value: op.to_string(),
            allowed: join(crate::target::Operation::KNOWN),
        });
    }
    Ok(())
}

fn check_expiration(id: &RuleId, r: &ExpirationRule) -> Result<(), PolicyRuleError> {
    let rule_id = id.to_string();
    match &r.maximum_duration {
        None if r.is_expiration_required => {
            Err(PolicyRuleError::MissingMaximumDuration { rule_id })
        }
        None => Ok(()),
        Some(text) => {
            let d = parse_duration(text).map_err(|source| PolicyRuleError::InvalidDuration {
                rule_id: rule_id.clone(),
                source,
            })?;
            if d <= TimeDelta::zero() {
                return Err(PolicyRuleError::DurationNotPositive {
                    rule_id,
                    value: text.clone(),
                });
            }
            if *id == RuleId::ExpirationEndUserAssignment && d > MAX_ACTIVATION_DURATION {
                return Err(PolicyRuleError::DurationTooLong {
                    rule_id,
                    value: text.clone(),
                    maximum: "PT24H".to_string(),
                });
            }
            Ok(())
        }
    }
}

fn check_enablement(id: &RuleId, r: &EnablementRule) -> Result<(), PolicyRuleError> {
    let allowed = allowed_enabled_rules(id);
    for (i, rule) in r.enabled_rules.iter().enumerate() {
        if !allowed.contains(rule) {
            return Err(PolicyRuleError::EnabledRuleNotAllowed {
                rule_id: id.to_string(),
                value: rule.to_string(),
                allowed: if allowed.is_empty() {
                    "none".to_string()
                } else {
                    join(allowed)
                },
            });
        }
        if r.enabled_rules[..i].contains(rule) {
            return Err(PolicyRuleError::DuplicateEnabledRule {
                rule_id: id.to_string(),
                value: rule.to_string(),
            });
        }
    }
    Ok(())
}

fn check_context(r: &AuthenticationContextRule) -> Result<(), PolicyRuleError> {
    match r.claim_value.as_deref() {
        None | Some("") if r.is_enabled => Err(PolicyRuleError::MissingClaimValue),
        None | Some("") => Ok(()),
        Some(v) => {
            ContextId::parse(v)
                .map(|_| ())
                .map_err(|_| PolicyRuleError::InvalidClaimValue {
                    value: v.to_string(),
                })
        }
    }
}

fn check_approval(s: &ApprovalSettings) -> Result<(), PolicyRuleError> {
    if let Some(mode) = &s.approval_mode {
        if !mode.is_known() {
            return Err(PolicyRuleError::UnknownValue {
                rule_id: RuleId::ApprovalEndUserAssignment.to_string(),
                field: "setting.approvalMode",
                value: mode.to_string(),
                allowed: join(ApprovalMode::KNOWN),
            });
        }
        let conflict = |reason| {
            Err(PolicyRuleError::ApprovalModeConflict {
                mode: mode.to_string(),
                reason,
            })
        };
        if s.is_approval_required && *mode == ApprovalMode::NoApproval {
            return conflict("a rule that requires approval");
        }
        if *mode == ApprovalMode::SingleStage && s.approval_stages.len() > 1 {
            return conflict("more than one approval stage");
        }
    }
    if s.is_approval_required && s.approval_stages.is_empty() {
        return Err(PolicyRuleError::NoApprovalStages);
    }
    for (i, stage) in s.approval_stages.iter().enumerate() {
        let n = i + 1;
        let days = stage.approval_stage_time_out_in_days;
        if !(1..=MAX_STAGE_TIMEOUT_DAYS).contains(&days) {
            return Err(PolicyRuleError::InvalidStageTimeout {
                stage: n,
                value: days,
                maximum: MAX_STAGE_TIMEOUT_DAYS,
            });
        }
        // Within the timeout, so that it can happen at all; `days` is at most 365 here, so the
        // product is small.
        let latest = days.saturating_mul(MINUTES_PER_DAY);
        if !(0..=latest).contains(&stage.escalation_time_in_minutes) {
            return Err(PolicyRuleError::InvalidEscalationTime {
                stage: n,
                value: stage.escalation_time_in_minutes,
                maximum: latest,
            });
        }
        if s.is_approval_required && stage.primary_approvers.is_empty() {
            return Err(PolicyRuleError::NoPrimaryApprover { stage: n });
        }
        if stage.is_escalation_enabled && stage.escalation_approvers.is_empty() {
            return Err(PolicyRuleError::EscalationWithoutApprovers { stage: n });
        }
        for approver in stage
            .primary_approvers
            .iter()
            .chain(&stage.escalation_approvers)
        {
            check_approver(n, approver)?;
        }
    }
    Ok(())
}

fn check_approver(stage: usize, a: &SubjectSet) -> Result<(), PolicyRuleError> {
    let id = match a {
        SubjectSet::SingleUser(u) => &u.user_id,
        SubjectSet::GroupMembers(g) => &g.group_id,
        SubjectSet::Other(_) => {
            return Err(PolicyRuleError::UnsupportedApprover {
                stage,
                odata_type: a.odata_type().to_string(),
            })
        }
    };
    if id.trim().is_empty() {
        return Err(PolicyRuleError::EmptyApproverId { stage });
    }
    Ok(())
}

fn check_notification(spec: &RuleSpec, r: &NotificationRule) -> Result<(), PolicyRuleError> {
    let rule_id = r.id.clone();
    if let Some(expected) = &spec.recipient {
        if r.recipient_type.as_ref() != Some(expected) {
            return Err(PolicyRuleError::FixedValue {
                rule_id,
                field: "recipientType",
                expected: expected.to_string(),
                found: r
                    .recipient_type
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            });
        }
    }
    if let Some(t) = r.notification_type.as_ref().filter(|t| !t.is_known()) {
        return Err(PolicyRuleError::UnknownValue {
            rule_id,
            field: "notificationType",
            value: t.to_string(),
            allowed: join(crate::rules::NotificationType::KNOWN),
        });
    }
    if let Some(l) = r.notification_level.as_ref().filter(|l| !l.is_known()) {
        return Err(PolicyRuleError::UnknownValue {
            rule_id,
            field: "notificationLevel",
            value: l.to_string(),
            allowed: join(crate::rules::NotificationLevel::KNOWN),
        });
    }
    for address in &r.notification_recipients {
        if !looks_like_email(address) {
            return Err(PolicyRuleError::InvalidRecipient {
                rule_id,
                value: address.clone(),
            });
        }
    }
    Ok(())
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
                && !domain.contains('@')
        }
        None => false,
    }
}

impl RoleManagementPolicy {
    /// Checks the whole policy: each of the 17 rules present once and valid. Rules of unknown
    /// ids or types are kept and not checked (the lint reports them as not enforced).
    pub fn check(&self) -> Vec<PolicyRuleError> {
        let mut errors = Vec::new();
        for id in RuleId::KNOWN {
            match self.rules.iter().filter(|r| r.rule_id() == *id).count() {
                0 => errors.push(PolicyRuleError::MissingRule {
                    rule_id: id.to_string(),
                }),
                1 => {}
                _ => errors.push(PolicyRuleError::DuplicateRule {
                    rule_id: id.to_string(),
                }),
            }
        }
        for rule in self.rules.iter().filter(|r| r.rule_id().is_known()) {
            errors.extend(check_rule(rule).err());
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::approval::ApprovalStage;
    use chrono::{TimeZone, Utc};

    fn policy() -> RoleManagementPolicy {
        RoleManagementPolicy::default_for(
            policy::directory::GLOBAL_ADMINISTRATOR,
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        )
    }

    #[test]
    fn default_policy_is_valid() {
        assert_eq!(policy().check(), vec![]);
    }

    #[test]
    fn a_policy_missing_or_repeating_rules_is_invalid() {
        let mut p = policy();
        let removed = p.rules.remove(0);
        p.rules.push(p.rules[0].clone());
        let errors = p.check();
        assert!(errors.contains(&PolicyRuleError::MissingRule {
            rule_id: removed.id().to_string()
        }));
        assert!(errors.contains(&PolicyRuleError::DuplicateRule {
            rule_id: p.rules[0].id().to_string()
        }));
        assert!(errors.iter().all(|e| e.code() == "InvalidPolicy"));
    }

    #[test]
    fn activation_may_not_exceed_a_day() {
        let mut p = policy();
        let Some(Rule::Expiration(r)) = p.rule_mut(&RuleId::ExpirationEndUserAssignment) else {
            panic!()
        };
        r.maximum_duration = Some("PT25H".into());
        let rule = p.rule(&RuleId::ExpirationEndUserAssignment).unwrap();
        assert_eq!(
            check_rule(rule),
            Err(PolicyRuleError::DurationTooLong {
                rule_id: "Expiration_EndUser_Assignment".into(),
                value: "PT25H".into(),
                maximum: "PT24H".into()
            })
        );
    }

    #[test]
    fn approval_required_needs_a_primary_approver_in_every_stage() {
        let mut s = ApprovalSettings {
            is_approval_required: true,
            approval_mode: Some(ApprovalMode::Serial),
            approval_stages: vec![
                ApprovalStage::new(vec![SubjectSet::user("u1")]),
                ApprovalStage::new(vec![]),
            ],
            ..Default::default()
        };
        assert_eq!(
            check_approval(&s),
            Err(PolicyRuleError::NoPrimaryApprover { stage: 2 })
        );
        s.approval_stages[1]
            .primary_approvers
            .push(SubjectSet::group("g1"));
        assert_eq!(check_approval(&s), Ok(()));
        s.approval_mode = Some(ApprovalMode::SingleStage);
        assert!(matches!(
            check_approval(&s),
            Err(PolicyRuleError::ApprovalModeConflict { .. })
        ));
    }

    #[test]
    fn email_recipients_are_checked() {
        for ok in ["a@b.org", "first.last@sub.example.com"] {
            assert!(looks_like_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@b.org",
            "a@b",
            "a b@c.org",
            "a@b@c.org",
            "a@.org",
        ] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }

    #[test]
    fn every_error_has_a_code_and_a_sentence() {
        let e = PolicyRuleError::RuleNotFound {
            rule_id: "Nope".into(),
        };
        assert_eq!(e.code(), "RoleManagementPolicyRuleNotFound");
        assert!(e.to_string().contains("'Nope'"));
        assert_eq!(PolicyRuleError::NotAnObject.code(), "BadRequest");
        assert_eq!(
            PolicyRuleError::MissingClaimValue.code(),
            "InvalidPolicyRule"
        );
    }
}
