//! Graph schedules (`unifiedRoleAssignmentSchedule`, `unifiedRoleEligibilitySchedule`) and
//! their instances: what a granted request becomes.

use crate::enums::graph_enum;
use crate::request::{RequestSchedule, Status};
use chrono::{DateTime, Utc};
use policy::Extra;
use serde::{Deserialize, Serialize};

graph_enum! {
    /// How an active assignment came to be.
    pub enum AssignmentType {
        /// Assigned by an administrator.
        Assigned = "Assigned",
        /// Activated by the principal from an eligible assignment.
        Activated = "Activated",
    }
}

graph_enum! {
    /// How the principal holds the assignment.
    pub enum MemberType {
        /// Inherited from a parent scope.
        Inherited = "Inherited",
        /// Directly.
        Direct = "Direct",
        /// Through a role-assignable group.
        Group = "Group",
    }
}

/// Graph `unifiedRoleAssignmentSchedule` and `unifiedRoleEligibilitySchedule` (the latter has no
/// `assignmentType`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleSchedule {
    /// Schedule id.
    #[serde(default)]
    pub id: String,
    /// Who holds the role.
    #[serde(default)]
    pub principal_id: String,
    /// The role's template id.
    #[serde(default)]
    pub role_definition_id: String,
    /// `/` for the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_scope_id: Option<String>,
    /// App scope, unused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_scope_id: Option<String>,
    /// The request that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_using: Option<String>,
    /// Created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date_time: Option<DateTime<Utc>>,
    /// Last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_date_time: Option<DateTime<Utc>>,
    /// Where it stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_info: Option<RequestSchedule>,
    /// `Assigned` or `Activated` (active assignments only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_type: Option<AssignmentType>,
    /// `Direct`, `Group` or `Inherited`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_type: Option<MemberType>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `unifiedRoleAssignmentScheduleInstance` and `unifiedRoleEligibilityScheduleInstance`:
/// one concrete period in which the principal holds (or may activate) the role.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleScheduleInstance {
    /// Instance id.
    #[serde(default)]
    pub id: String,
    /// Who holds the role.
    #[serde(default)]
    pub principal_id: String,
    /// The role's template id.
    #[serde(default)]
    pub role_definition_id: String,
    /// `/` for the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_scope_id: Option<String>,
    /// App scope, unused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_scope_id: Option<String>,
    /// Start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<DateTime<Utc>>,
    /// End; none for a permanent assignment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<DateTime<Utc>>,
    /// `Assigned` or `Activated` (active assignments only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_type: Option<AssignmentType>,
    /// `Direct`, `Group` or `Inherited`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_type: Option<MemberType>,
    /// The role assignment in the directory (active instances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_assignment_origin_id: Option<String>,
    /// The schedule (active instances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_assignment_schedule_id: Option<String>,
    /// The schedule (eligible instances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_eligibility_schedule_id: Option<String>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

impl RoleScheduleInstance {
    /// Whether the instance is in force at `now`: started, and not ended (the end is exclusive).
    pub fn is_current(&self, now: DateTime<Utc>) -> bool {
        self.start_date_time.is_none_or(|s| s <= now) && self.end_date_time.is_none_or(|e| now < e)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn an_instance_is_current_between_start_and_end() {
        let i: RoleScheduleInstance = serde_json::from_value(json!({
            "id": "i", "principalId": "p", "roleDefinitionId": "r",
            "startDateTime": "2026-01-01T08:00:00Z", "endDateTime": "2026-01-01T16:00:00Z",
            "assignmentType": "Activated", "memberType": "Direct",
            "roleAssignmentScheduleId": "s"
        }))
        .unwrap();
        let at = |h| Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap();
        assert!(!i.is_current(at(7)));
        assert!(i.is_current(at(8)));
        assert!(i.is_current(at(15)));
        assert!(!i.is_current(at(16)));
        assert_eq!(i.assignment_type, Some(AssignmentType::Activated));
        let back = serde_json::to_value(&i).unwrap();
        assert_eq!(back["roleAssignmentScheduleId"], "s");
        assert_eq!(back["memberType"], "Direct");
    }

    #[test]
    fn a_schedule_keeps_its_request_and_status() {
        let s: RoleSchedule = serde_json::from_value(json!({
            "id": "s", "principalId": "p", "roleDefinitionId": "r", "directoryScopeId": "/",
            "createdUsing": "req-1", "status": "Provisioned",
            "scheduleInfo": {"startDateTime": "2026-01-01T08:00:00Z",
                             "expiration": {"type": "afterDuration", "duration": "PT8H"}},
            "memberType": "Group", "somethingNew": true
        }))
        .unwrap();
        assert_eq!(s.status, Some(Status::Provisioned));
        assert_eq!(s.member_type, Some(MemberType::Group));
        assert_eq!(s.extra.get("somethingNew"), Some(&json!(true)));
    }
}
