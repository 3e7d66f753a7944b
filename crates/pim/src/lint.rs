//! Posture lint for a role's settings: where activation is weaker than it looks.
//!
//! The main finding is the claim check: `MultiFactorAuthentication` on activation is satisfied by
//! any MFA claim in the session, however old, or by a replayed token. A role should instead
//! require an authentication context whose Conditional Access policies demand a
//! phishing-resistant strength and a sign-in frequency of every time.

use crate::rule_id::RuleId;
use crate::rules::{EnabledRule, Rule};
use crate::RoleManagementPolicy;
use chrono::TimeDelta;
use policy::roles::BuiltInRole;
use policy::Severity;
use serde::Serialize;

/// The longest activation the lint accepts for the most privileged roles.
pub const MAX_TIER0_ACTIVATION: TimeDelta = TimeDelta::hours(8);

/// The role a policy governs, as the lint names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRef {
    /// The role's template id.
    pub id: String,
    /// Its name, if known.
    pub display_name: Option<String>,
    /// Whether the role is privileged (Graph `unifiedRoleDefinition.isPrivileged`). Global
    /// Administrator and Privileged Role Administrator always are.
    pub is_privileged: bool,
}

impl RoleRef {
    /// A role known only by its id; Global Administrator and Privileged Role Administrator are
    /// recognised and named.
    pub fn from_id(id: &str) -> Self {
        RoleRef {
            id: id.to_string(),
            display_name: BuiltInRole::tier0(id).map(|r| r.display_name().to_string()),
            is_privileged: false,
        }
    }

    /// Whether the role is one of the two that can take over the tenant.
    pub fn is_tier0(&self) -> bool {
        BuiltInRole::tier0(&self.id).is_some()
    }

    fn privileged(&self) -> bool {
        self.is_privileged || self.is_tier0()
    }
}

impl std::fmt::Display for RoleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.display_name {
            Some(n) => write!(f, "role '{n}' ({})", self.id),
            None => write!(f, "role ({})", self.id),
        }
    }
}

/// What a finding is about; a stable name for tools and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FindingKind {
    /// Activation requires only an MFA claim.
    ActivationClaimCheck,
    /// Activation requires no authentication at all.
    ActivationWithoutAuthentication,
    /// Activation lasts longer than eight hours on a tier-0 role.
    LongActivation,
    /// Approval is required but no one can approve.
    ApprovalWithoutApprovers,
    /// A rule is missing, duplicated or invalid.
    InvalidRule,
    /// A rule Portcullis does not know; kept, not enforced.
    UnknownRule,
}

/// One finding about a role's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Error, warning or not enforced.
    pub severity: Severity,
    /// What it is about.
    pub kind: FindingKind,
    /// The role's template id.
    pub role_definition_id: String,
    /// The role, as shown to people.
    pub role: String,
    /// The rule concerned.
    pub rule_id: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::NotEnforced => "not enforced",
        };
        write!(
            f,
            "{sev}: {}: {}: {}",
            self.role, self.rule_id, self.message
        )
    }
}

/// The message of the claim-check finding.
pub const CLAIM_CHECK_MESSAGE: &str = "activation requires only an MFA claim; a session that did \
     MFA earlier, or a replayed token, activates without a prompt; require an authentication \
     context whose policy demands a phishing-resistant strength and sign-in frequency every time";

/// Lints one role's settings.
pub fn lint_role_policy(role: &RoleRef, policy: &RoleManagementPolicy) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut push = |severity, kind, rule_id: &RuleId, message: String| {
        findings.push(Finding {
            severity,
            kind,
            role_definition_id: role.id.clone(),
            role: role.to_string(),
            rule_id: rule_id.to_string(),
            message,
        })
    };

    for error in policy.check() {
        push(
            Severity::Error,
            FindingKind::InvalidRule,
            &error.rule_id().unwrap_or_else(|| RuleId::parse("")),
            format!("{error}; requests this rule governs are refused until it is fixed"),
        );
    }
    for rule in &policy.rules {
        if !rule.rule_id().is_known() || matches!(rule, Rule::Unknown(_)) {
            push(
                Severity::NotEnforced,
                FindingKind::UnknownRule,
                &rule.rule_id(),
                format!(
                    "a rule of type '{}' that Portcullis does not know; it is kept and not enforced",
                    rule.odata_type()
                ),
            );
        }
    }

    // Activation: MFA claim, authentication context, or nothing.
    let enablement_id = RuleId::EnablementEndUserAssignment;
    let context_id = RuleId::AuthenticationContextEndUserAssignment;
    let mfa = policy
        .enablement(&enablement_id)
        .is_some_and(|e| e.requires(&EnabledRule::MultiFactorAuthentication));
    let context = policy
        .authentication_context()
        .is_some_and(|c| c.is_enabled);
    match (mfa, context) {
        (true, false) => push(
            Severity::Warning,
            FindingKind::ActivationClaimCheck,
            &enablement_id,
            CLAIM_CHECK_MESSAGE.to_string(),
        ),
        (false, false) => push(
            if role.privileged() {
                Severity::Error
            } else {
                Severity::Warning
            },
            FindingKind::ActivationWithoutAuthentication,
            &context_id,
            "no authentication required at activation: neither MultiFactorAuthentication nor an \
             authentication context; require an authentication context whose policy demands a \
             phishing-resistant strength and sign-in frequency every time"
                .to_string(),
        ),
        _ => {}
    }

    // Activation length for tier-0 roles.
    let expiration_id = RuleId::ExpirationEndUserAssignment;
    if role.is_tier0() {
        if let Some(Some(Ok(max))) = policy.expiration(&expiration_id).map(|e| e.maximum()) {
            if max > MAX_TIER0_ACTIVATION {
                push(
                    Severity::Warning,
                    FindingKind::LongActivation,
                    &expiration_id,
                    format!(
                        "activation may last {}, longer than 8 hours; keep tenant-wide admin \
                         rights short-lived (PT8H or less)",
                        crate::iso8601::format_duration(max)
                    ),
                );
            }
        }
    }

    // Approval that nobody can give.
    let approval_id = RuleId::ApprovalEndUserAssignment;
    if let Some(a) = policy.approval().filter(|a| a.setting.is_approval_required) {
        let stages = &a.setting.approval_stages;
        let empty = stages.iter().position(|s| s.primary_approvers.is_empty());
        if stages.is_empty() || empty.is_some() {
            let which = empty.map_or("there is no approval stage".to_string(), |i| {
                format!("approval stage {} has no primary approver", i + 1)
            });
            push(
                Severity::Error,
                FindingKind::ApprovalWithoutApprovers,
                &approval_id,
                format!(
                    "approval is required but {which}: every activation would wait until it \
                     fails; name approvers (users or groups)"
                ),
            );
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::{TimeZone, Utc};
    use policy::directory::GLOBAL_ADMINISTRATOR;

    fn policy(role: &str) -> RoleManagementPolicy {
        RoleManagementPolicy::default_for(role, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap())
    }

    fn kinds(f: &[Finding]) -> Vec<FindingKind> {
        f.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn the_default_policy_is_a_claim_check() {
        let role = RoleRef::from_id(GLOBAL_ADMINISTRATOR);
        let f = lint_role_policy(&role, &policy(GLOBAL_ADMINISTRATOR));
        assert_eq!(kinds(&f), vec![FindingKind::ActivationClaimCheck]);
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(f[0].rule_id, "Enablement_EndUser_Assignment");
        assert_eq!(
            f[0].role,
            format!("role 'Global Administrator' ({GLOBAL_ADMINISTRATOR})")
        );
        assert!(f[0].message.contains("replayed token"));
    }

    #[test]
    fn names_unknown_roles_by_id() {
        let r = RoleRef::from_id("1234");
        assert_eq!(r.to_string(), "role (1234)");
        assert!(!r.is_tier0());
    }
}
