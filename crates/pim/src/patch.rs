//! `PATCH /policies/roleManagementPolicies/{id}/rules/{ruleId}`: applying a Graph update body
//! to one rule.
//!
//! As Graph requires, the body names the rule's derived type (`@odata.type`) and, if it carries
//! an `id`, the rule's own id. Properties the type does not have are refused (Graph answers
//! "The policy rule is invalid" to a wrongly-cased name; Portcullis names the property). The body
//! is merged into the current rule: objects member by member, anything else (arrays included)
//! replaced. The result must pass [`check_rule`]; otherwise the policy is left unchanged.

use crate::role_policy::{Identity, RoleManagementPolicy};
use crate::rule_check::{check_rule, PolicyRuleError};
use crate::rule_id::{RuleId, RuleKind};
use crate::rules::Rule;
use crate::serde_util::ODATA_TYPE;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

const TARGET_KEYS: &[&str] = &[
    "caller",
    "operations",
    "level",
    "inheritableSettings",
    "enforcedSettings",
    "targetObjects",
];
const SETTING_KEYS: &[&str] = &[
    "isApprovalRequired",
    "isApprovalRequiredForExtension",
    "isRequestorJustificationRequired",
    "approvalMode",
    "approvalStages",
];
const STAGE_KEYS: &[&str] = &[
    "approvalStageTimeOutInDays",
    "isApproverJustificationRequired",
    "escalationTimeInMinutes",
    "isEscalationEnabled",
    "primaryApprovers",
    "escalationApprovers",
];
const APPROVER_KEYS: &[&str] = &["userId", "groupId", "description", "isBackup"];

fn kind_keys(kind: RuleKind) -> &'static [&'static str] {
    match kind {
        RuleKind::Expiration => &["isExpirationRequired", "maximumDuration"],
        RuleKind::Enablement => &["enabledRules"],
        RuleKind::AuthenticationContext => &["isEnabled", "claimValue"],
        RuleKind::Approval => &["setting"],
        RuleKind::Notification => &[
            "notificationType",
            "recipientType",
            "notificationLevel",
            "isDefaultRecipientsEnabled",
            "notificationRecipients",
        ],
    }
}

impl RoleManagementPolicy {
    /// Requires authentication context `context` to activate the role (the end-user
    /// assignment's authentication-context rule, enabled, through [`Self::patch_rule`] with its
    /// checks), recording who changed the policy and when.
    pub fn require_authentication_context(
        &mut self,
        context: &str,
        now: DateTime<Utc>,
        by: Option<Identity>,
    ) -> Result<&Rule, PolicyRuleError> {
        let rule = "AuthenticationContext_EndUser_Assignment";
        let body = serde_json::json!({
            ODATA_TYPE: "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
            "id": rule,
            "isEnabled": true,
            "claimValue": context,
        });
        self.patch_rule(rule, &body, now, by)
    }

    /// Applies a Graph PATCH body to the rule `rule_id`, records who changed the policy and
    /// when, and returns the updated rule. On error the policy is unchanged.
    pub fn patch_rule(
        &mut self,
        rule_id: &str,
        body: &Value,
        now: DateTime<Utc>,
        by: Option<Identity>,
    ) -> Result<&Rule, PolicyRuleError> {
        let id = RuleId::parse(rule_id);
        let not_found = || PolicyRuleError::RuleNotFound {
            rule_id: rule_id.to_string(),
        };
        let spec = id.spec().ok_or_else(not_found)?;
        let current = self.rule(&id).ok_or_else(not_found)?;
        let body = body.as_object().ok_or(PolicyRuleError::NotAnObject)?;
        let canonical = id.as_str();

        // The body must name the rule's type, and may name only the rule's id.
        let expected = spec.kind.odata_type();
        match body.get(ODATA_TYPE) {
            None => {
                return Err(PolicyRuleError::MissingODataType {
                    rule_id: canonical.to_string(),
                    expected,
                })
            }
            Some(t) => {
                let found = t.as_str().unwrap_or("");
                if RuleKind::from_odata_type(found) != Some(spec.kind) {
                    return Err(PolicyRuleError::ODataTypeMismatch {
                        rule_id: canonical.to_string(),
                        expected,
                        found: t.as_str().map_or_else(|| t.to_string(), str::to_string),
                    });
                }
            }
        }
        if let Some(body_id) = body.get("id") {
            let matches = body_id.as_str().map(RuleId::parse) == Some(id.clone());
            if !matches {
                return Err(PolicyRuleError::IdMismatch {
                    rule_id: canonical.to_string(),
                    body_id: body_id
                        .as_str()
                        .map_or_else(|| body_id.to_string(), str::to_string),
                });
            }
        }
        check_keys(canonical, spec.kind, body)?;

        // Merge into the current rule and read the result back as the rule's type.
        let mut merged = current
            .to_fields()
            .map_err(|e| PolicyRuleError::Malformed {
                rule_id: canonical.to_string(),
                reason: e.to_string(),
            })?;
        merged.remove(ODATA_TYPE);
        for (key, value) in body {
            if key.starts_with('@') || key == "id" {
                continue;
            }
            merge(merged.entry(key.clone()).or_insert(Value::Null), value);
        }
        let updated =
            Rule::from_fields(spec.kind, merged).map_err(|e| PolicyRuleError::Malformed {
                rule_id: canonical.to_string(),
                reason: e.to_string(),
            })?;
        check_rule(&updated)?;

        let slot = self.rule_mut(&id).ok_or_else(not_found)?;
        *slot = updated;
        self.last_modified_date_time = Some(now);
        self.last_modified_by = by;
        self.rule(&id).ok_or_else(not_found)
    }
}

/// Merges `patch` into `target`: objects member by member, anything else replaced.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// Refuses properties the rule's type (or a nested Graph type) does not have.
fn check_keys(
    rule_id: &str,
    kind: RuleKind,
    body: &Map<String, Value>,
) -> Result<(), PolicyRuleError> {
    let unknown = |property: String| PolicyRuleError::UnknownProperty {
        rule_id: rule_id.to_string(),
        property,
    };
    let allowed_top: Vec<&str> = ["id", "target"]
        .into_iter()
        .chain(kind_keys(kind).iter().copied())
        .collect();
    only(body, &allowed_top, "").map_err(unknown)?;
    if let Some(Value::Object(target)) = body.get("target") {
        only(target, TARGET_KEYS, "target.").map_err(unknown)?;
    }
    if let Some(Value::Object(setting)) = body.get("setting") {
        only(setting, SETTING_KEYS, "setting.").map_err(unknown)?;
        if let Some(Value::Array(stages)) = setting.get("approvalStages") {
            for (i, stage) in stages.iter().enumerate() {
                let Value::Object(stage) = stage else {
                    continue;
                };
                let prefix = format!("setting.approvalStages[{i}].");
                only(stage, STAGE_KEYS, &prefix).map_err(unknown)?;
                for list in ["primaryApprovers", "escalationApprovers"] {
                    if let Some(Value::Array(approvers)) = stage.get(list) {
                        for (j, a) in approvers.iter().enumerate() {
                            if let Value::Object(a) = a {
                                only(a, APPROVER_KEYS, &format!("{prefix}{list}[{j}]."))
                                    .map_err(unknown)?;
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The first member of `obj` that is neither allowed nor an annotation, with its path.
fn only(obj: &Map<String, Value>, allowed: &[&str], prefix: &str) -> Result<(), String> {
    match obj
        .keys()
        .find(|k| !k.starts_with('@') && !allowed.contains(&k.as_str()))
    {
        Some(k) => Err(format!("{prefix}{k}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::rules::EnabledRule;
    use chrono::TimeZone;
    use serde_json::json;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, 0, 0).unwrap()
    }

    fn policy() -> RoleManagementPolicy {
        RoleManagementPolicy::default_for(policy::directory::GLOBAL_ADMINISTRATOR, at(0))
    }

    const ENABLEMENT: &str = "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule";

    #[test]
    fn patches_a_rule_and_records_who_and_when() {
        let mut p = policy();
        let by = Identity {
            id: Some("admin-1".into()),
            ..Default::default()
        };
        let rule = p
            .patch_rule(
                "Enablement_EndUser_Assignment",
                &json!({"@odata.type": ENABLEMENT, "id": "Enablement_EndUser_Assignment",
                        "enabledRules": ["Justification", "Ticketing"]}),
                at(5),
                Some(by.clone()),
            )
            .unwrap()
            .clone();
        let Rule::Enablement(r) = rule else { panic!() };
        assert_eq!(
            r.enabled_rules,
            vec![EnabledRule::Justification, EnabledRule::Ticketing]
        );
        assert_eq!(p.last_modified_date_time, Some(at(5)));
        assert_eq!(p.last_modified_by, Some(by));
    }

    #[test]
    fn a_partial_target_is_merged_not_replaced() {
        let mut p = policy();
        p.patch_rule(
            "Expiration_EndUser_Assignment",
            &json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
                    "maximumDuration": "PT2H",
                    "target": {"@odata.type": "microsoft.graph.unifiedRoleManagementPolicyRuleTarget"}}),
            at(1),
            None,
        )
        .unwrap();
        let r = p.expiration(&RuleId::ExpirationEndUserAssignment).unwrap();
        assert_eq!(r.maximum_duration.as_deref(), Some("PT2H"));
        assert!(r.is_expiration_required, "untouched field kept");
        assert_eq!(r.target.caller, Some(crate::target::Caller::EndUser));
    }

    #[test]
    fn refusals_leave_the_policy_unchanged() {
        let original = policy();
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "Nope_EndUser_Assignment",
                json!({"@odata.type": ENABLEMENT}),
                "RoleManagementPolicyRuleNotFound",
            ),
            (
                "Enablement_EndUser_Assignment",
                json!(["Justification"]),
                "BadRequest",
            ),
            (
                "Enablement_EndUser_Assignment",
                json!({"enabledRules": []}),
                "InvalidPolicyRule",
            ),
            (
                "Expiration_EndUser_Assignment",
                json!({"@odata.type": ENABLEMENT}),
                "InvalidPolicyRule",
            ),
            (
                "Enablement_EndUser_Assignment",
                json!({"@odata.type": ENABLEMENT, "id": "Enablement_Admin_Assignment"}),
                "InvalidPolicyRule",
            ),
            (
                "Enablement_EndUser_Assignment",
                json!({"@odata.type": ENABLEMENT, "EnabledRules": []}),
                "InvalidPolicyRule",
            ),
            (
                "Enablement_EndUser_Assignment",
                json!({"@odata.type": ENABLEMENT, "enabledRules": "Justification"}),
                "InvalidPolicyRule",
            ),
            (
                "Enablement_EndUser_Assignment",
                json!({"@odata.type": ENABLEMENT, "target": {"caller": "Admin"}}),
                "InvalidPolicyRule",
            ),
        ];
        for (rule_id, body, code) in cases {
            let mut p = original.clone();
            let err = p.patch_rule(rule_id, &body, at(9), None).unwrap_err();
            assert_eq!(err.code(), code, "{rule_id} {body}: {err}");
            assert_eq!(p, original, "{rule_id} {body} changed the policy");
        }
    }

    #[test]
    fn unknown_nested_properties_are_named() {
        let mut p = policy();
        let err = p
            .patch_rule(
                "Approval_EndUser_Assignment",
                &json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
                        "setting": {"isApprovalRequired": true, "approvalStages": [
                            {"primaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userID": "u1"}]}]}}),
                at(1),
                None,
            )
            .unwrap_err();
        assert_eq!(
            err,
            PolicyRuleError::UnknownProperty {
                rule_id: "Approval_EndUser_Assignment".into(),
                property: "setting.approvalStages[0].primaryApprovers[0].userID".into()
            }
        );
    }

    #[test]
    fn merge_replaces_arrays_and_merges_objects() {
        let mut t = json!({"a": {"x": 1, "y": 2}, "b": [1, 2], "c": 1});
        merge(&mut t, &json!({"a": {"y": 3}, "b": [9], "d": null}));
        assert_eq!(
            t,
            json!({"a": {"x": 1, "y": 3}, "b": [9], "c": 1, "d": null})
        );
    }
}
