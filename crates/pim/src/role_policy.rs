//! Graph `unifiedRoleManagementPolicy` (a role's settings: the 17 rules) and
//! `unifiedRoleManagementPolicyAssignment` (which policy governs which role).

use crate::approval::{ApprovalMode, ApprovalSettings, ApprovalStage};
use crate::rule_id::{RuleId, RuleKind};
use crate::rules::{
    ApprovalRule, AuthenticationContextRule, EnabledRule, EnablementRule, ExpirationRule,
    NotificationLevel, NotificationRule, NotificationType, Rule,
};
use crate::serde_util::nullable;
use crate::target::RuleTarget;
use chrono::{DateTime, Utc};
use policy::Extra;
use serde::{Deserialize, Serialize};

/// Graph `identity`: who made a change.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// Object id.
    #[serde(default)]
    pub id: Option<String>,
    /// Name shown to people.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `unifiedRoleManagementPolicy`: one role's settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleManagementPolicy {
    /// Policy id (`DirectoryRole_…`).
    #[serde(default)]
    pub id: String,
    /// Name; Entra writes `DirectoryRole`.
    #[serde(default)]
    pub display_name: String,
    /// Description; Entra writes `DirectoryRole`.
    #[serde(default)]
    pub description: String,
    /// Whether this is the organisation's default policy.
    #[serde(default)]
    pub is_organization_default: bool,
    /// `/` for the tenant.
    #[serde(default)]
    pub scope_id: String,
    /// `DirectoryRole`.
    #[serde(default)]
    pub scope_type: String,
    /// When a rule last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_date_time: Option<DateTime<Utc>>,
    /// Who last changed a rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_by: Option<Identity>,
    /// The rules (17 for a directory role).
    #[serde(default, deserialize_with = "nullable")]
    pub rules: Vec<Rule>,
    /// Fields Portcullis does not use (`effectiveRules`, `@odata.*`, …), kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Scope type of directory role policies.
pub const DIRECTORY_ROLE: &str = "DirectoryRole";

/// The default activation maximum: eight hours.
pub const DEFAULT_ACTIVATION_MAXIMUM: &str = "PT8H";
/// The default longest eligible assignment: 365 days.
pub const DEFAULT_ELIGIBILITY_MAXIMUM: &str = "P365D";
/// The default longest active assignment: 180 days.
pub const DEFAULT_ASSIGNMENT_MAXIMUM: &str = "P180D";

impl RoleManagementPolicy {
    /// The settings Portcullis gives a role nobody has configured: Entra's defaults, except that
    /// eligible and active assignments must end (Entra allows permanent ones by default).
    ///
    /// - `Expiration_EndUser_Assignment`: activation at most `PT8H`, expiration required;
    /// - `Enablement_EndUser_Assignment`: `MultiFactorAuthentication`, `Justification` (Entra's
    ///   default; the lint flags the MFA claim check and recommends a context);
    /// - `AuthenticationContext_EndUser_Assignment`: disabled;
    /// - `Approval_EndUser_Assignment`: not required, one empty stage (as Entra writes it);
    /// - `Expiration_Admin_Eligibility`: `P365D`, required; `Expiration_Admin_Assignment`:
    ///   `P180D`, required; `Enablement_Admin_Assignment`: `Justification`;
    ///   `Enablement_Admin_Eligibility`: nothing;
    /// - the nine notification rules: e-mail, all notifications, default recipients.
    ///
    /// The id is `DirectoryRole_{role_definition_id}`: one policy per role at tenant scope, found
    /// without a lookup.
    pub fn default_for(role_definition_id: &str, now: DateTime<Utc>) -> Self {
        let rules = RuleId::KNOWN.iter().filter_map(default_rule).collect();
        RoleManagementPolicy {
            id: format!("{DIRECTORY_ROLE}_{role_definition_id}"),
            display_name: DIRECTORY_ROLE.to_string(),
            description: DIRECTORY_ROLE.to_string(),
            is_organization_default: false,
            scope_id: "/".to_string(),
            scope_type: DIRECTORY_ROLE.to_string(),
            last_modified_date_time: Some(now),
            last_modified_by: None,
            rules,
            extra: Extra::new(),
        }
    }

    /// The rule with this id (matched case-insensitively, as Graph does).
    pub fn rule(&self, id: &RuleId) -> Option<&Rule> {
        self.rules.iter().find(|r| r.rule_id() == *id)
    }

    /// The expiration rule with this id, if the policy has it with that type.
    pub fn expiration(&self, id: &RuleId) -> Option<&ExpirationRule> {
        match self.rule(id)? {
            Rule::Expiration(r) => Some(r),
            _ => None,
        }
    }

    /// The enablement rule with this id, if the policy has it with that type.
    pub fn enablement(&self, id: &RuleId) -> Option<&EnablementRule> {
        match self.rule(id)? {
            Rule::Enablement(r) => Some(r),
            _ => None,
        }
    }

    /// `AuthenticationContext_EndUser_Assignment`, if present with that type.
    pub fn authentication_context(&self) -> Option<&AuthenticationContextRule> {
        match self.rule(&RuleId::AuthenticationContextEndUserAssignment)? {
            Rule::AuthenticationContext(r) => Some(r),
            _ => None,
        }
    }

    /// `Approval_EndUser_Assignment`, if present with that type.
    pub fn approval(&self) -> Option<&ApprovalRule> {
        match self.rule(&RuleId::ApprovalEndUserAssignment)? {
            Rule::Approval(r) => Some(r),
            _ => None,
        }
    }

    /// The rule with this id, mutably.
    pub(crate) fn rule_mut(&mut self, id: &RuleId) -> Option<&mut Rule> {
        self.rules.iter_mut().find(|r| r.rule_id() == *id)
    }
}

/// The rule Entra (and Portcullis) gives a role by default; `None` for an unknown id.
pub fn default_rule(id: &RuleId) -> Option<Rule> {
    let spec = id.spec()?;
    let target = RuleTarget::new(spec.caller.clone(), spec.level.clone());
    let rid = id.as_str().to_string();
    Some(match spec.kind {
        RuleKind::Expiration => {
            let maximum = match id {
                RuleId::ExpirationEndUserAssignment => DEFAULT_ACTIVATION_MAXIMUM,
                RuleId::ExpirationAdminEligibility => DEFAULT_ELIGIBILITY_MAXIMUM,
                _ => DEFAULT_ASSIGNMENT_MAXIMUM,
            };
            Rule::Expiration(ExpirationRule {
                id: rid,
                is_expiration_required: true,
                maximum_duration: Some(maximum.to_string()),
                target,
                extra: Extra::new(),
            })
        }
        RuleKind::Enablement => {
            let enabled_rules = match id {
                RuleId::EnablementEndUserAssignment => vec![
                    EnabledRule::MultiFactorAuthentication,
                    EnabledRule::Justification,
                ],
                RuleId::EnablementAdminAssignment => vec![EnabledRule::Justification],
                _ => Vec::new(),
            };
            Rule::Enablement(EnablementRule {
                id: rid,
                enabled_rules,
                target,
                extra: Extra::new(),
            })
        }
        RuleKind::AuthenticationContext => Rule::AuthenticationContext(AuthenticationContextRule {
            id: rid,
            is_enabled: false,
            claim_value: None,
            target,
            extra: Extra::new(),
        }),
        RuleKind::Approval => Rule::Approval(ApprovalRule {
            id: rid,
            target,
            setting: ApprovalSettings {
                is_approval_required: false,
                is_approval_required_for_extension: false,
                is_requestor_justification_required: true,
                approval_mode: Some(ApprovalMode::SingleStage),
                approval_stages: vec![ApprovalStage::new(Vec::new())],
                extra: Extra::new(),
            },
            extra: Extra::new(),
        }),
        RuleKind::Notification => Rule::Notification(NotificationRule {
            id: rid,
            notification_type: Some(NotificationType::Email),
            recipient_type: spec.recipient,
            notification_level: Some(NotificationLevel::All),
            is_default_recipients_enabled: true,
            notification_recipients: Vec::new(),
            target,
            extra: Extra::new(),
        }),
    })
}

/// Graph `unifiedRoleManagementPolicyAssignment`: which policy governs a role at a scope.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleManagementPolicyAssignment {
    /// `{policyId}_{roleDefinitionId}`, as Entra writes it.
    #[serde(default)]
    pub id: String,
    /// The policy.
    #[serde(default)]
    pub policy_id: String,
    /// The role's template id.
    #[serde(default)]
    pub role_definition_id: String,
    /// `/` for the tenant.
    #[serde(default)]
    pub scope_id: String,
    /// `DirectoryRole`.
    #[serde(default)]
    pub scope_type: String,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

impl RoleManagementPolicyAssignment {
    /// The assignment of `policy` to the role, at the policy's scope.
    pub fn new(policy: &RoleManagementPolicy, role_definition_id: &str) -> Self {
        RoleManagementPolicyAssignment {
            id: format!("{}_{role_definition_id}", policy.id),
            policy_id: policy.id.clone(),
            role_definition_id: role_definition_id.to_string(),
            scope_id: policy.scope_id.clone(),
            scope_type: policy.scope_type.clone(),
            extra: Extra::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::target::{Caller, Level};
    use chrono::TimeZone;
    use policy::directory::GLOBAL_ADMINISTRATOR;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap()
    }

    #[test]
    fn default_policy_has_the_seventeen_rules_in_graph_order() {
        let p = RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now());
        let ids: Vec<&str> = p.rules.iter().map(Rule::id).collect();
        let expected: Vec<&str> = RuleId::KNOWN.iter().map(RuleId::as_str).collect();
        assert_eq!(ids, expected);
        assert_eq!(p.id, format!("DirectoryRole_{GLOBAL_ADMINISTRATOR}"));
        assert_eq!(p.scope_id, "/");
        assert_eq!(p.scope_type, "DirectoryRole");
        assert_eq!(p.last_modified_date_time, Some(now()));
        for rule in &p.rules {
            let spec = rule.rule_id().spec().unwrap();
            assert_eq!(rule.kind(), Some(spec.kind), "{}", rule.id());
            let t = rule.target().unwrap();
            assert_eq!(t.caller.as_ref(), Some(&spec.caller), "{}", rule.id());
            assert_eq!(t.level.as_ref(), Some(&spec.level), "{}", rule.id());
        }
    }

    #[test]
    fn default_values_are_entra_like() {
        let p = RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now());
        let act = p.expiration(&RuleId::ExpirationEndUserAssignment).unwrap();
        assert_eq!(act.maximum_duration.as_deref(), Some("PT8H"));
        assert!(act.is_expiration_required);
        let elig = p.expiration(&RuleId::ExpirationAdminEligibility).unwrap();
        assert_eq!(
            (
                elig.maximum_duration.as_deref(),
                elig.is_expiration_required
            ),
            (Some("P365D"), true)
        );
        let asg = p.expiration(&RuleId::ExpirationAdminAssignment).unwrap();
        assert_eq!(
            (asg.maximum_duration.as_deref(), asg.is_expiration_required),
            (Some("P180D"), true)
        );
        let en = p.enablement(&RuleId::EnablementEndUserAssignment).unwrap();
        assert_eq!(
            en.enabled_rules,
            vec![
                EnabledRule::MultiFactorAuthentication,
                EnabledRule::Justification
            ]
        );
        assert!(!p.authentication_context().unwrap().is_enabled);
        assert!(!p.approval().unwrap().setting.is_approval_required);
        let Some(Rule::Notification(n)) = p.rule(&RuleId::NotificationApproverAdminEligibility)
        else {
            panic!("no notification rule")
        };
        assert_eq!(
            n.recipient_type,
            Some(crate::rules::RecipientType::Approver)
        );
        assert_eq!(n.target.caller, Some(Caller::Admin));
        assert_eq!(n.target.level, Some(Level::Eligibility));
    }

    #[test]
    fn policy_round_trips_through_graph_json() {
        let p = RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now());
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["rules"].as_array().map(Vec::len), Some(17));
        assert_eq!(json["isOrganizationDefault"], false);
        assert_eq!(json["lastModifiedDateTime"], "2026-11-21T09:00:00Z");
        let back: RoleManagementPolicy = serde_json::from_value(json).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn assignment_ids_follow_entra() {
        let p = RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now());
        let a = RoleManagementPolicyAssignment::new(&p, GLOBAL_ADMINISTRATOR);
        assert_eq!(a.id, format!("{}_{GLOBAL_ADMINISTRATOR}", p.id));
        assert_eq!(a.policy_id, p.id);
        assert_eq!(
            (a.scope_id.as_str(), a.scope_type.as_str()),
            ("/", "DirectoryRole")
        );
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["roleDefinitionId"], GLOBAL_ADMINISTRATOR);
        assert_eq!(json["policyId"], p.id.as_str());
    }
}
