//! Graph `approvalSettings`, `unifiedApprovalStage` and the approvers they name (`singleUser`,
//! `groupMembers`).

use crate::enums::graph_enum;
use crate::serde_util::{nullable, with_odata_type, ODATA_TYPE};
use policy::Extra;
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

graph_enum! {
    /// How approval stages combine.
    pub enum ApprovalMode {
        /// One stage.
        SingleStage = "SingleStage",
        /// Stages one after the other.
        Serial = "Serial",
        /// Stages at the same time.
        Parallel = "Parallel",
        /// No approval (used when approval is not required).
        NoApproval = "NoApproval",
    }
}

/// Graph `approvalSettings`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalSettings {
    /// Whether an activation waits for an approver.
    #[serde(default)]
    pub is_approval_required: bool,
    /// Whether extending an assignment waits for an approver.
    #[serde(default)]
    pub is_approval_required_for_extension: bool,
    /// Whether a request that needs approval must carry a justification.
    #[serde(default)]
    pub is_requestor_justification_required: bool,
    /// `SingleStage`, `Serial`, `Parallel` or `NoApproval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_mode: Option<ApprovalMode>,
    /// The stages, in order.
    #[serde(default, deserialize_with = "nullable")]
    pub approval_stages: Vec<ApprovalStage>,
    /// Fields Portcullis does not use (`@odata.type`, …), kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `unifiedApprovalStage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalStage {
    /// Days a request may wait at this stage before it fails.
    #[serde(default = "one_day")]
    pub approval_stage_time_out_in_days: i64,
    /// Whether an approver must say why.
    #[serde(default)]
    pub is_approver_justification_required: bool,
    /// Minutes before escalation.
    #[serde(default)]
    pub escalation_time_in_minutes: i64,
    /// Whether the stage escalates.
    #[serde(default)]
    pub is_escalation_enabled: bool,
    /// Who may decide at this stage.
    #[serde(default, deserialize_with = "nullable")]
    pub primary_approvers: Vec<SubjectSet>,
    /// Who decides after escalation.
    #[serde(default, deserialize_with = "nullable")]
    pub escalation_approvers: Vec<SubjectSet>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

fn one_day() -> i64 {
    1
}

impl ApprovalStage {
    /// A one-day stage decided by `approvers`, approver justification required (Entra's default).
    pub fn new(approvers: Vec<SubjectSet>) -> Self {
        ApprovalStage {
            approval_stage_time_out_in_days: 1,
            is_approver_justification_required: true,
            escalation_time_in_minutes: 0,
            is_escalation_enabled: false,
            primary_approvers: approvers,
            escalation_approvers: Vec::new(),
            extra: Extra::new(),
        }
    }
}

/// A user who may approve.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SingleUser {
    /// The user's id.
    #[serde(default)]
    pub user_id: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The members of a group, any of whom may approve.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMembers {
    /// The group's id; its members are resolved by the server (transitively).
    #[serde(default)]
    pub group_id: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `subjectSet`: who may approve. PIM for roles uses users and groups; other subject sets
/// (`requestorManager`, sponsors, …) are kept but cannot decide anything in Portcullis.
#[derive(Debug, Clone, PartialEq)]
pub enum SubjectSet {
    /// `#microsoft.graph.singleUser`.
    SingleUser(SingleUser),
    /// `#microsoft.graph.groupMembers`.
    GroupMembers(GroupMembers),
    /// Any other subject set, kept verbatim.
    Other(Map<String, Value>),
}

const SINGLE_USER: &str = "#microsoft.graph.singleUser";
const GROUP_MEMBERS: &str = "#microsoft.graph.groupMembers";

impl SubjectSet {
    /// A single user.
    pub fn user(id: impl Into<String>) -> Self {
        SubjectSet::SingleUser(SingleUser {
            user_id: id.into(),
            ..SingleUser::default()
        })
    }

    /// The members of a group.
    pub fn group(id: impl Into<String>) -> Self {
        SubjectSet::GroupMembers(GroupMembers {
            group_id: id.into(),
            ..GroupMembers::default()
        })
    }

    /// The `@odata.type` of this subject set.
    pub fn odata_type(&self) -> &str {
        match self {
            SubjectSet::SingleUser(_) => SINGLE_USER,
            SubjectSet::GroupMembers(_) => GROUP_MEMBERS,
            SubjectSet::Other(m) => m.get(ODATA_TYPE).and_then(Value::as_str).unwrap_or(""),
        }
    }
}

impl Serialize for SubjectSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let map = match self {
            SubjectSet::SingleUser(u) => {
                with_odata_type(SINGLE_USER, u).map_err(S::Error::custom)?
            }
            SubjectSet::GroupMembers(g) => {
                with_odata_type(GROUP_MEMBERS, g).map_err(S::Error::custom)?
            }
            SubjectSet::Other(m) => m.clone(),
        };
        map.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SubjectSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(d)?;
        let declared = map
            .get(ODATA_TYPE)
            .and_then(Value::as_str)
            .map(str::to_string);
        let is = |t: &str| {
            declared
                .as_deref()
                .is_some_and(|d| crate::serde_util::same_odata_type(d, t))
        };
        // Without an annotation, the id field says what the subject set is.
        let user = is(SINGLE_USER) || (declared.is_none() && map.contains_key("userId"));
        let group = is(GROUP_MEMBERS) || (declared.is_none() && map.contains_key("groupId"));
        if user || group {
            map.remove(ODATA_TYPE);
            let value = Value::Object(map);
            return if user {
                serde_json::from_value(value)
                    .map(SubjectSet::SingleUser)
                    .map_err(D::Error::custom)
            } else {
                serde_json::from_value(value)
                    .map(SubjectSet::GroupMembers)
                    .map_err(D::Error::custom)
            };
        }
        Ok(SubjectSet::Other(map))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn approvers_read_and_write_with_their_odata_type() {
        let raw = json!([
            {"@odata.type": "#microsoft.graph.singleUser", "userId": "u1", "isBackup": false},
            {"@odata.type": "microsoft.graph.groupMembers", "groupId": "g1"},
            {"userId": "u2"},
            {"@odata.type": "#microsoft.graph.requestorManager", "managerLevel": 1}
        ]);
        let sets: Vec<SubjectSet> = serde_json::from_value(raw).unwrap();
        assert!(matches!(&sets[0], SubjectSet::SingleUser(u) if u.user_id == "u1"));
        assert!(matches!(&sets[1], SubjectSet::GroupMembers(g) if g.group_id == "g1"));
        assert!(matches!(&sets[2], SubjectSet::SingleUser(u) if u.user_id == "u2"));
        assert_eq!(sets[3].odata_type(), "#microsoft.graph.requestorManager");
        let back = serde_json::to_value(&sets).unwrap();
        assert_eq!(
            back,
            json!([
                {"@odata.type": "#microsoft.graph.singleUser", "userId": "u1", "isBackup": false},
                {"@odata.type": "#microsoft.graph.groupMembers", "groupId": "g1"},
                {"@odata.type": "#microsoft.graph.singleUser", "userId": "u2"},
                {"@odata.type": "#microsoft.graph.requestorManager", "managerLevel": 1}
            ])
        );
    }

    #[test]
    fn settings_read_nulls_as_empty_and_keep_unknown_fields() {
        let raw = json!({
            "@odata.type": "microsoft.graph.approvalSettings",
            "isApprovalRequired": true,
            "approvalMode": "SingleStage",
            "approvalStages": [{"primaryApprovers": null, "escalationApprovers": null}],
            "futureField": 3
        });
        let s: ApprovalSettings = serde_json::from_value(raw).unwrap();
        assert!(s.is_approval_required);
        assert_eq!(s.approval_mode, Some(ApprovalMode::SingleStage));
        assert_eq!(s.approval_stages[0].approval_stage_time_out_in_days, 1);
        assert!(s.approval_stages[0].primary_approvers.is_empty());
        assert_eq!(s.extra.get("futureField"), Some(&json!(3)));
        let back = serde_json::to_value(&s).unwrap();
        assert_eq!(back["@odata.type"], "microsoft.graph.approvalSettings");
        assert_eq!(back["futureField"], 3);
    }
}
