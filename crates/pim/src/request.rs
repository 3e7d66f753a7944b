//! Graph `unifiedRoleAssignmentScheduleRequest` and `unifiedRoleEligibilityScheduleRequest`:
//! one shape for both, told apart by [`ScheduleKind`].

use crate::enums::graph_enum;
use crate::iso8601::{parse_duration, DurationError};
use chrono::{DateTime, TimeDelta, Utc};
use policy::Extra;
use serde::{Deserialize, Serialize};

graph_enum! {
    /// What a request asks for.
    pub enum Action {
        /// An administrator assigns the role.
        AdminAssign = "adminAssign",
        /// An administrator changes an assignment.
        AdminUpdate = "adminUpdate",
        /// An administrator removes an assignment.
        AdminRemove = "adminRemove",
        /// The principal activates an eligible assignment.
        SelfActivate = "selfActivate",
        /// The principal ends their activation.
        SelfDeactivate = "selfDeactivate",
        /// An administrator extends an expiring assignment.
        AdminExtend = "adminExtend",
        /// An administrator renews an expired assignment.
        AdminRenew = "adminRenew",
        /// The principal asks to extend an expiring assignment.
        SelfExtend = "selfExtend",
        /// The principal asks to renew an expired assignment.
        SelfRenew = "selfRenew",
    }
}

impl Action {
    /// Whether the principal acts on their own assignment.
    pub fn is_self(&self) -> bool {
        matches!(
            self,
            Action::SelfActivate | Action::SelfDeactivate | Action::SelfExtend | Action::SelfRenew
        )
    }

    /// Whether an administrator acts on someone's assignment.
    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Action::AdminAssign
                | Action::AdminUpdate
                | Action::AdminRemove
                | Action::AdminExtend
                | Action::AdminRenew
        )
    }
}

graph_enum! {
    /// Where a request (or schedule) stands. Graph's values, plus Portcullis' `PendingStepUp`.
    pub enum Status {
        /// Canceled by the requester.
        Canceled = "Canceled",
        /// Denied by an approver or administrator.
        Denied = "Denied",
        /// Failed (step-up or approval not done in time, or an error).
        Failed = "Failed",
        /// Granted; the assignment is being made.
        Granted = "Granted",
        /// Waiting for an administrator (self-extend, self-renew).
        PendingAdminDecision = "PendingAdminDecision",
        /// Waiting for approvers.
        PendingApproval = "PendingApproval",
        /// Granted, waiting to be provisioned.
        PendingProvisioning = "PendingProvisioning",
        /// Waiting for its schedule to be created.
        PendingScheduleCreation = "PendingScheduleCreation",
        /// In force.
        Provisioned = "Provisioned",
        /// Ended (deactivated, removed or expired).
        Revoked = "Revoked",
        /// Its schedule exists (a future start).
        ScheduleCreated = "ScheduleCreated",
        /// Portcullis: recorded, waiting for a fresh step-up bound to this request.
        PendingStepUp = "PendingStepUp",
    }
}

impl Status {
    /// Whether nothing more can happen to a request in this status.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Status::Canceled | Status::Denied | Status::Failed | Status::Revoked
        )
    }

    /// Whether the request waits for someone (the requester's step-up, approvers, an admin).
    pub fn is_pending_decision(&self) -> bool {
        matches!(
            self,
            Status::PendingStepUp | Status::PendingApproval | Status::PendingAdminDecision
        )
    }
}

graph_enum! {
    /// How a requested schedule ends.
    pub enum ExpirationType {
        /// Not said.
        NotSpecified = "notSpecified",
        /// Never.
        NoExpiration = "noExpiration",
        /// At `endDateTime`.
        AfterDateTime = "afterDateTime",
        /// After `duration`.
        AfterDuration = "afterDuration",
    }
}

/// Graph `expirationPattern`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpirationPattern {
    /// `noExpiration`, `afterDateTime`, `afterDuration` or `notSpecified`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ExpirationType>,
    /// End, for `afterDateTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<DateTime<Utc>>,
    /// ISO 8601 duration, for `afterDuration`; kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ExpirationPattern {
    /// The type, inferred when absent: a duration means `afterDuration`, an end
    /// `afterDateTime`, neither `notSpecified`.
    pub fn effective_kind(&self) -> ExpirationType {
        match &self.kind {
            Some(k) => k.clone(),
            None if self.duration.is_some() => ExpirationType::AfterDuration,
            None if self.end_date_time.is_some() => ExpirationType::AfterDateTime,
            None => ExpirationType::NotSpecified,
        }
    }

    /// The duration, parsed; `None` when absent.
    pub fn parsed_duration(&self) -> Option<Result<TimeDelta, DurationError>> {
        self.duration.as_deref().map(parse_duration)
    }
}

/// Graph `requestSchedule`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestSchedule {
    /// Start; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<DateTime<Utc>>,
    /// How it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<ExpirationPattern>,
    /// Recurrence; Graph does not support it for roles, and neither does Portcullis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<serde_json::Value>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `ticketInfo`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketInfo {
    /// The ticket's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_number: Option<String>,
    /// The system the ticket lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_system: Option<String>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Whether a request (or schedule) concerns active assignments or eligibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduleKind {
    /// `roleAssignmentScheduleRequests`: active assignments and activations.
    Assignment,
    /// `roleEligibilityScheduleRequests`: eligible assignments.
    Eligibility,
}

impl std::fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

impl ScheduleKind {
    /// The request's `@odata.type`.
    pub fn request_odata_type(self) -> &'static str {
        match self {
            ScheduleKind::Assignment => "#microsoft.graph.unifiedRoleAssignmentScheduleRequest",
            ScheduleKind::Eligibility => "#microsoft.graph.unifiedRoleEligibilityScheduleRequest",
        }
    }

    /// Words for messages: "active assignment" or "eligible assignment".
    pub fn describe(self) -> &'static str {
        match self {
            ScheduleKind::Assignment => "active assignment",
            ScheduleKind::Eligibility => "eligible assignment",
        }
    }
}

/// Graph `unifiedRoleAssignmentScheduleRequest` / `unifiedRoleEligibilityScheduleRequest`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRequest {
    /// Request id; set by the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What is asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// Who gets (or has) the role.
    #[serde(default)]
    pub principal_id: String,
    /// The role's template id.
    #[serde(default)]
    pub role_definition_id: String,
    /// `/` for the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_scope_id: Option<String>,
    /// App scope; Portcullis does not use app scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_scope_id: Option<String>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// The ticket, when the role requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_info: Option<TicketInfo>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_info: Option<RequestSchedule>,
    /// Check only; create nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_validation_only: Option<bool>,
    /// Where the request stands; set by the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Created; set by the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date_time: Option<DateTime<Utc>>,
    /// Completed; set by the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_date_time: Option<DateTime<Utc>>,
    /// Who created it (Graph `identitySet`); set by the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<serde_json::Value>,
    /// The approval, when one is needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
    /// The schedule the request created or acts on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_schedule_id: Option<String>,
    /// Free text, unused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
    /// Fields Portcullis does not use (`@odata.type`, …), kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ScheduleRequest {
    /// The action, or `Unknown("")` when the body had none.
    pub fn action(&self) -> Action {
        self.action
            .clone()
            .unwrap_or_else(|| Action::Unknown(String::new()))
    }

    /// The requested expiration, if any.
    pub fn expiration(&self) -> Option<&ExpirationPattern> {
        self.schedule_info.as_ref()?.expiration.as_ref()
    }

    /// Whether the caller only wants the request checked.
    pub fn validation_only(&self) -> bool {
        self.is_validation_only.unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn reads_the_activation_body_of_design_6() {
        let body = json!({
            "action": "selfActivate",
            "principalId": "071cc716-8147-4397-a5ba-b2105951cc0b",
            "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10",
            "directoryScopeId": "/",
            "justification": "Incident 42",
            "ticketInfo": {"ticketNumber": "CONTOSO:42", "ticketSystem": "Jira"},
            "scheduleInfo": {
                "startDateTime": "2026-11-21T09:30:00.000Z",
                "expiration": {"type": "AfterDuration", "duration": "PT2H"}
            },
            "isValidationOnly": false
        });
        let r: ScheduleRequest = serde_json::from_value(body).unwrap();
        assert_eq!(r.action(), Action::SelfActivate);
        assert!(r.action().is_self() && !r.action().is_admin());
        let exp = r.expiration().unwrap();
        assert_eq!(exp.effective_kind(), ExpirationType::AfterDuration);
        assert_eq!(exp.parsed_duration(), Some(Ok(TimeDelta::hours(2))));
        assert_eq!(
            r.schedule_info.as_ref().unwrap().start_date_time,
            Some(Utc.with_ymd_and_hms(2026, 11, 21, 9, 30, 0).unwrap())
        );
        assert!(!r.validation_only());
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back["action"], "selfActivate");
        assert_eq!(back["scheduleInfo"]["expiration"]["type"], "afterDuration");
        assert_eq!(back["ticketInfo"]["ticketSystem"], "Jira");
    }

    #[test]
    fn keeps_unknown_actions_statuses_and_fields() {
        let r: ScheduleRequest = serde_json::from_value(json!({
            "@odata.type": "#microsoft.graph.unifiedRoleEligibilityScheduleRequest",
            "action": "unknownFutureValue",
            "status": "PendingExternalProvisioning",
            "principalId": "p", "roleDefinitionId": "r",
            "scheduleInfo": {"expiration": {"endDateTime": "2027-01-01T00:00:00+02:00"}}
        }))
        .unwrap();
        assert!(!r.action().is_known());
        assert!(!r.status.as_ref().unwrap().is_known());
        let exp = r.expiration().unwrap();
        assert_eq!(exp.effective_kind(), ExpirationType::AfterDateTime);
        assert_eq!(
            exp.end_date_time,
            Some(Utc.with_ymd_and_hms(2026, 12, 31, 22, 0, 0).unwrap())
        );
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(
            back["@odata.type"],
            "#microsoft.graph.unifiedRoleEligibilityScheduleRequest"
        );
        assert_eq!(back["status"], "PendingExternalProvisioning");
    }

    #[test]
    fn statuses_include_portcullis_step_up() {
        assert_eq!(Status::parse("PendingStepUp"), Status::PendingStepUp);
        assert_eq!(Status::KNOWN.len(), 12);
        assert!(Status::PendingStepUp.is_pending_decision());
        for s in [
            Status::Canceled,
            Status::Denied,
            Status::Failed,
            Status::Revoked,
        ] {
            assert!(s.is_final(), "{s}");
        }
        assert!(!Status::Provisioned.is_final());
        assert!(!Status::Granted.is_final());
    }
}
