//! Graph `unifiedRoleManagementPolicyRule` and its five derived types, in Graph JSON exactly.
//!
//! A rule is written with its `@odata.type` first; a rule of a type Portcullis does not know is
//! kept verbatim. Fields Portcullis does not use are kept in `extra` maps.

use crate::approval::ApprovalSettings;
use crate::enums::graph_enum;
use crate::iso8601::{parse_duration, DurationError};
use crate::rule_id::{RuleId, RuleKind};
use crate::serde_util::{nullable, with_odata_type, ODATA_TYPE};
use crate::target::RuleTarget;
use chrono::TimeDelta;
use policy::context::{ContextId, InvalidContextId};
use policy::Extra;
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

graph_enum! {
    /// What an enablement rule requires.
    pub enum EnabledRule {
        /// An MFA claim in the caller's session (a claim check: an earlier MFA counts).
        MultiFactorAuthentication = "MultiFactorAuthentication",
        /// A justification.
        Justification = "Justification",
        /// A ticket number and ticket system.
        Ticketing = "Ticketing",
    }
}

graph_enum! {
    /// Whom a notification rule notifies.
    pub enum RecipientType {
        /// The requester or assignee.
        Requestor = "Requestor",
        /// The approvers.
        Approver = "Approver",
        /// The administrators.
        Admin = "Admin",
    }
}

graph_enum! {
    /// Which notifications are sent.
    pub enum NotificationLevel {
        /// None.
        None = "None",
        /// Critical ones only.
        Critical = "Critical",
        /// All.
        All = "All",
    }
}

graph_enum! {
    /// How notifications are sent.
    pub enum NotificationType {
        /// E-mail.
        Email = "Email",
    }
}

/// Graph `unifiedRoleManagementPolicyExpirationRule`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpirationRule {
    /// The rule id.
    #[serde(default)]
    pub id: String,
    /// Whether an end is required (no permanent assignment or activation).
    #[serde(default)]
    pub is_expiration_required: bool,
    /// The longest allowed duration, ISO 8601, kept as written (see [`ExpirationRule::maximum`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_duration: Option<String>,
    /// Whom the rule applies to.
    #[serde(default, deserialize_with = "nullable")]
    pub target: RuleTarget,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ExpirationRule {
    /// The maximum duration, parsed; `None` when the rule sets none.
    pub fn maximum(&self) -> Option<Result<TimeDelta, DurationError>> {
        self.maximum_duration.as_deref().map(parse_duration)
    }
}

/// Graph `unifiedRoleManagementPolicyEnablementRule`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnablementRule {
    /// The rule id.
    #[serde(default)]
    pub id: String,
    /// What the request must carry.
    #[serde(default, deserialize_with = "nullable")]
    pub enabled_rules: Vec<EnabledRule>,
    /// Whom the rule applies to.
    #[serde(default, deserialize_with = "nullable")]
    pub target: RuleTarget,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

impl EnablementRule {
    /// Whether `rule` is enabled.
    pub fn requires(&self, rule: &EnabledRule) -> bool {
        self.enabled_rules.contains(rule)
    }
}

/// Graph `unifiedRoleManagementPolicyAuthenticationContextRule`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationContextRule {
    /// The rule id.
    #[serde(default)]
    pub id: String,
    /// Whether activation requires the context.
    #[serde(default)]
    pub is_enabled: bool,
    /// The context id (`c1`…`c99`), kept as written; Graph writes `null` or `""` when unset.
    #[serde(default)]
    pub claim_value: Option<String>,
    /// Whom the rule applies to.
    #[serde(default, deserialize_with = "nullable")]
    pub target: RuleTarget,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

impl AuthenticationContextRule {
    /// The required context: `Ok(None)` when the rule is disabled, an error when it is enabled
    /// with a claim value that is not `c1`…`c99`.
    pub fn required_context(&self) -> Result<Option<ContextId>, InvalidContextId> {
        if !self.is_enabled {
            return Ok(None);
        }
        ContextId::parse(self.claim_value.as_deref().unwrap_or("")).map(Some)
    }
}

/// Graph `unifiedRoleManagementPolicyApprovalRule`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRule {
    /// The rule id.
    #[serde(default)]
    pub id: String,
    /// Whom the rule applies to.
    #[serde(default, deserialize_with = "nullable")]
    pub target: RuleTarget,
    /// The approval settings.
    #[serde(default, deserialize_with = "nullable")]
    pub setting: ApprovalSettings,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `unifiedRoleManagementPolicyNotificationRule`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRule {
    /// The rule id.
    #[serde(default)]
    pub id: String,
    /// `Email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_type: Option<NotificationType>,
    /// `Requestor`, `Approver` or `Admin`; fixed by the rule id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_type: Option<RecipientType>,
    /// `None`, `Critical` or `All`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_level: Option<NotificationLevel>,
    /// Whether the default recipients are notified.
    #[serde(default)]
    pub is_default_recipients_enabled: bool,
    /// Additional recipients (e-mail addresses).
    #[serde(default, deserialize_with = "nullable")]
    pub notification_recipients: Vec<String>,
    /// Whom the rule applies to.
    #[serde(default, deserialize_with = "nullable")]
    pub target: RuleTarget,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One rule of a role management policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Maximum durations.
    Expiration(ExpirationRule),
    /// MFA, justification, ticket.
    Enablement(EnablementRule),
    /// The authentication context an activation requires.
    AuthenticationContext(AuthenticationContextRule),
    /// Approval stages.
    Approval(ApprovalRule),
    /// Notifications.
    Notification(NotificationRule),
    /// A rule of a type Portcullis does not know, kept verbatim (with its `@odata.type`).
    Unknown(Map<String, Value>),
}

impl Rule {
    /// The rule id as written.
    pub fn id(&self) -> &str {
        match self {
            Rule::Expiration(r) => &r.id,
            Rule::Enablement(r) => &r.id,
            Rule::AuthenticationContext(r) => &r.id,
            Rule::Approval(r) => &r.id,
            Rule::Notification(r) => &r.id,
            Rule::Unknown(m) => m.get("id").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// The rule id, parsed.
    pub fn rule_id(&self) -> RuleId {
        RuleId::parse(self.id())
    }

    /// The rule's type; `None` for an unknown type.
    pub fn kind(&self) -> Option<RuleKind> {
        Some(match self {
            Rule::Expiration(_) => RuleKind::Expiration,
            Rule::Enablement(_) => RuleKind::Enablement,
            Rule::AuthenticationContext(_) => RuleKind::AuthenticationContext,
            Rule::Approval(_) => RuleKind::Approval,
            Rule::Notification(_) => RuleKind::Notification,
            Rule::Unknown(_) => return None,
        })
    }

    /// The `@odata.type` Graph writes for the rule.
    pub fn odata_type(&self) -> &str {
        match (self.kind(), self) {
            (Some(kind), _) => kind.odata_type(),
            (None, Rule::Unknown(m)) => m.get(ODATA_TYPE).and_then(Value::as_str).unwrap_or(""),
            (None, _) => "",
        }
    }

    /// The rule's target; `None` for an unknown type.
    pub fn target(&self) -> Option<&RuleTarget> {
        match self {
            Rule::Expiration(r) => Some(&r.target),
            Rule::Enablement(r) => Some(&r.target),
            Rule::AuthenticationContext(r) => Some(&r.target),
            Rule::Approval(r) => Some(&r.target),
            Rule::Notification(r) => Some(&r.target),
            Rule::Unknown(_) => None,
        }
    }

    /// Reads a rule of a known kind from a JSON object without its `@odata.type`.
    pub(crate) fn from_fields(
        kind: RuleKind,
        fields: Map<String, Value>,
    ) -> Result<Rule, serde_json::Error> {
        let v = Value::Object(fields);
        Ok(match kind {
            RuleKind::Expiration => Rule::Expiration(serde_json::from_value(v)?),
            RuleKind::Enablement => Rule::Enablement(serde_json::from_value(v)?),
            RuleKind::AuthenticationContext => {
                Rule::AuthenticationContext(serde_json::from_value(v)?)
            }
            RuleKind::Approval => Rule::Approval(serde_json::from_value(v)?),
            RuleKind::Notification => Rule::Notification(serde_json::from_value(v)?),
        })
    }

    /// The rule as a JSON object, `@odata.type` first.
    pub(crate) fn to_fields(&self) -> Result<Map<String, Value>, serde_json::Error> {
        match self {
            Rule::Expiration(r) => with_odata_type(self.odata_type(), r),
            Rule::Enablement(r) => with_odata_type(self.odata_type(), r),
            Rule::AuthenticationContext(r) => with_odata_type(self.odata_type(), r),
            Rule::Approval(r) => with_odata_type(self.odata_type(), r),
            Rule::Notification(r) => with_odata_type(self.odata_type(), r),
            Rule::Unknown(m) => Ok(m.clone()),
        }
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_fields().map_err(S::Error::custom)?.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(d)?;
        let declared = map
            .get(ODATA_TYPE)
            .and_then(Value::as_str)
            .map(str::to_string);
        // The annotation names the type; without one, a well-known rule id does.
        let kind = match &declared {
            Some(t) => RuleKind::from_odata_type(t),
            None => map
                .get("id")
                .and_then(Value::as_str)
                .and_then(|id| RuleId::parse(id).spec())
                .map(|s| s.kind),
        };
        match kind {
            Some(kind) => {
                map.remove(ODATA_TYPE);
                Rule::from_fields(kind, map).map_err(D::Error::custom)
            }
            None => Ok(Rule::Unknown(map)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::target::{Caller, Level, Operation};
    use serde_json::json;

    #[test]
    fn reads_each_kind_and_writes_it_back_with_its_type_first() {
        let raw = json!([
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
             "id": "Expiration_EndUser_Assignment", "isExpirationRequired": true,
             "maximumDuration": "PT8H",
             "target": {"caller": "EndUser", "operations": ["all"], "level": "Assignment",
                        "inheritableSettings": [], "enforcedSettings": []}},
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
             "id": "Enablement_EndUser_Assignment",
             "enabledRules": ["MultiFactorAuthentication", "Justification"],
             "target": {"caller": "EndUser", "operations": ["All"], "level": "Assignment"}},
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
             "id": "AuthenticationContext_EndUser_Assignment", "isEnabled": true, "claimValue": "c7"},
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule",
             "id": "Notification_Admin_EndUser_Assignment", "notificationType": "Email",
             "recipientType": "Admin", "notificationLevel": "Critical",
             "isDefaultRecipientsEnabled": false, "notificationRecipients": ["sec@example.org"]},
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyFutureRule",
             "id": "Future_EndUser_Assignment", "knob": 1}
        ]);
        let rules: Vec<Rule> = serde_json::from_value(raw).unwrap();
        let Rule::Expiration(e) = &rules[0] else {
            panic!("{:?}", rules[0])
        };
        assert_eq!(e.maximum(), Some(Ok(TimeDelta::hours(8))));
        assert_eq!(e.target.caller, Some(Caller::EndUser));
        assert_eq!(e.target.level, Some(Level::Assignment));
        assert_eq!(e.target.operations, vec![Operation::All]);
        let Rule::Enablement(en) = &rules[1] else {
            panic!("{:?}", rules[1])
        };
        assert!(en.requires(&EnabledRule::MultiFactorAuthentication));
        assert!(!en.requires(&EnabledRule::Ticketing));
        let Rule::AuthenticationContext(ac) = &rules[2] else {
            panic!("{:?}", rules[2])
        };
        assert_eq!(
            ac.required_context().map(|c| c.map(|c| c.number())),
            Ok(Some(7))
        );
        assert_eq!(rules[3].kind(), Some(RuleKind::Notification));
        assert_eq!(rules[4].kind(), None);
        assert_eq!(rules[4].id(), "Future_EndUser_Assignment");

        let back = serde_json::to_value(&rules).unwrap();
        for (i, rule) in back.as_array().unwrap().iter().enumerate() {
            let first = rule.as_object().unwrap().keys().next().unwrap();
            assert_eq!(first, "@odata.type", "rule {i}");
        }
        assert_eq!(
            back[4],
            json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyFutureRule",
            "id": "Future_EndUser_Assignment", "knob": 1})
        );
        assert_eq!(back[0]["maximumDuration"], "PT8H");
        assert_eq!(back[2]["claimValue"], "c7");
        assert_eq!(
            back[3]["notificationRecipients"],
            json!(["sec@example.org"])
        );
    }

    #[test]
    fn a_rule_without_annotation_is_recognised_by_its_id() {
        let rule: Rule = serde_json::from_value(json!({
            "id": "Approval_EndUser_Assignment",
            "setting": {"isApprovalRequired": true}
        }))
        .unwrap();
        let Rule::Approval(a) = rule else {
            panic!("{rule:?}")
        };
        assert!(a.setting.is_approval_required);
    }

    #[test]
    fn disabled_context_rule_requires_nothing_and_enabled_one_needs_a_valid_claim() {
        let mut rule = AuthenticationContextRule {
            id: "AuthenticationContext_EndUser_Assignment".into(),
            claim_value: Some("".into()),
            ..Default::default()
        };
        assert_eq!(rule.required_context(), Ok(None));
        rule.is_enabled = true;
        assert!(rule.required_context().is_err());
        rule.claim_value = Some("c100".into());
        assert!(rule.required_context().is_err());
        rule.claim_value = Some("c1".into());
        assert_eq!(
            rule.required_context().map(|c| c.map(|c| c.number())),
            Ok(Some(1))
        );
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let raw = json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
            "id": "Expiration_Admin_Eligibility",
            "isExpirationRequired": false,
            "maximumDuration": "P365D",
            "target": {"caller": "Admin", "operations": ["All"], "level": "Eligibility",
                       "targetObjects": null, "@odata.type": "microsoft.graph.unifiedRoleManagementPolicyRuleTarget"},
            "ruleType": "RoleManagementPolicyExpirationRule"
        });
        let rule: Rule = serde_json::from_value(raw.clone()).unwrap();
        let back = serde_json::to_value(&rule).unwrap();
        assert_eq!(back["ruleType"], raw["ruleType"]);
        assert_eq!(back["target"]["targetObjects"], Value::Null);
        assert_eq!(back["target"]["@odata.type"], raw["target"]["@odata.type"]);
    }
}
