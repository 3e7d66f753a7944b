//! The 17 fixed rule ids of a role management policy and what each one fixes: its Graph type,
//! its caller and level, and (for notifications) its recipient.

use crate::enums::graph_enum;
use crate::rules::RecipientType;
use crate::serde_util::same_odata_type;
use crate::target::{Caller, Level};

graph_enum! {
    /// A rule id. Entra gives every role management policy the same 17 rules, in this order.
    pub enum RuleId {
        /// How long an eligible assignment may last.
        ExpirationAdminEligibility = "Expiration_Admin_Eligibility",
        /// What an administrator must provide to make someone eligible.
        EnablementAdminEligibility = "Enablement_Admin_Eligibility",
        /// Notify administrators when someone is made eligible.
        NotificationAdminAdminEligibility = "Notification_Admin_Admin_Eligibility",
        /// Notify the assignee when they are made eligible.
        NotificationRequestorAdminEligibility = "Notification_Requestor_Admin_Eligibility",
        /// Notify approvers when someone is made eligible.
        NotificationApproverAdminEligibility = "Notification_Approver_Admin_Eligibility",
        /// How long an active assignment made by an administrator may last.
        ExpirationAdminAssignment = "Expiration_Admin_Assignment",
        /// What an administrator must provide to assign the role actively.
        EnablementAdminAssignment = "Enablement_Admin_Assignment",
        /// Notify administrators of an active assignment.
        NotificationAdminAdminAssignment = "Notification_Admin_Admin_Assignment",
        /// Notify the assignee of an active assignment.
        NotificationRequestorAdminAssignment = "Notification_Requestor_Admin_Assignment",
        /// Notify approvers of an active assignment.
        NotificationApproverAdminAssignment = "Notification_Approver_Admin_Assignment",
        /// How long an activation may last.
        ExpirationEndUserAssignment = "Expiration_EndUser_Assignment",
        /// What an activation requires: MFA, justification, ticket.
        EnablementEndUserAssignment = "Enablement_EndUser_Assignment",
        /// Whether an activation needs approval, and from whom.
        ApprovalEndUserAssignment = "Approval_EndUser_Assignment",
        /// Which authentication context an activation requires.
        AuthenticationContextEndUserAssignment = "AuthenticationContext_EndUser_Assignment",
        /// Notify administrators of an activation.
        NotificationAdminEndUserAssignment = "Notification_Admin_EndUser_Assignment",
        /// Notify the requester of their activation.
        NotificationRequestorEndUserAssignment = "Notification_Requestor_EndUser_Assignment",
        /// Notify approvers of an activation.
        NotificationApproverEndUserAssignment = "Notification_Approver_EndUser_Assignment",
    }
}

/// The five derived types of `unifiedRoleManagementPolicyRule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// `unifiedRoleManagementPolicyExpirationRule`.
    Expiration,
    /// `unifiedRoleManagementPolicyEnablementRule`.
    Enablement,
    /// `unifiedRoleManagementPolicyAuthenticationContextRule`.
    AuthenticationContext,
    /// `unifiedRoleManagementPolicyApprovalRule`.
    Approval,
    /// `unifiedRoleManagementPolicyNotificationRule`.
    Notification,
}

impl RuleKind {
    /// Every kind.
    pub const ALL: [RuleKind; 5] = [
        RuleKind::Expiration,
        RuleKind::Enablement,
        RuleKind::AuthenticationContext,
        RuleKind::Approval,
        RuleKind::Notification,
    ];

    /// The `@odata.type` Graph writes for this kind.
    pub fn odata_type(self) -> &'static str {
        match self {
            RuleKind::Expiration => "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
            RuleKind::Enablement => "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
            RuleKind::AuthenticationContext => {
                "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule"
            }
            RuleKind::Approval => "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
            RuleKind::Notification => {
                "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule"
            }
        }
    }

    /// The kind an `@odata.type` names (with or without `#`, any case), if any.
    pub fn from_odata_type(s: &str) -> Option<RuleKind> {
        RuleKind::ALL
            .into_iter()
            .find(|k| same_odata_type(k.odata_type(), s))
    }
}

/// What a rule id fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    /// The rule's type.
    pub kind: RuleKind,
    /// The target's caller.
    pub caller: Caller,
    /// The target's level.
    pub level: Level,
    /// For notification rules, whom they notify.
    pub recipient: Option<RecipientType>,
}

impl RuleId {
    /// What this id fixes; `None` for an id Portcullis does not know.
    pub fn spec(&self) -> Option<RuleSpec> {
        use RuleId::*;
        let (kind, caller, level, recipient) = match self {
            ExpirationAdminEligibility => (
                RuleKind::Expiration,
                Caller::Admin,
                Level::Eligibility,
                None,
            ),
            EnablementAdminEligibility => (
                RuleKind::Enablement,
                Caller::Admin,
                Level::Eligibility,
                None,
            ),
            NotificationAdminAdminEligibility => (
                RuleKind::Notification,
                Caller::Admin,
                Level::Eligibility,
                Some(RecipientType::Admin),
            ),
            NotificationRequestorAdminEligibility => (
                RuleKind::Notification,
                Caller::Admin,
                Level::Eligibility,
                Some(RecipientType::Requestor),
            ),
            NotificationApproverAdminEligibility => (
                RuleKind::Notification,
                Caller::Admin,
                Level::Eligibility,
                Some(RecipientType::Approver),
            ),
            ExpirationAdminAssignment => {
                (RuleKind::Expiration, Caller::Admin, Level::Assignment, None)
            }
            EnablementAdminAssignment => {
                (RuleKind::Enablement, Caller::Admin, Level::Assignment, None)
            }
            NotificationAdminAdminAssignment => (
                RuleKind::Notification,
                Caller::Admin,
                Level::Assignment,
                Some(RecipientType::Admin),
            ),
            NotificationRequestorAdminAssignment => (
                RuleKind::Notification,
                Caller::Admin,
                Level::Assignment,
                Some(RecipientType::Requestor),
            ),
            NotificationApproverAdminAssignment => (
                RuleKind::Notification,
                Caller::Admin,
                Level::Assignment,
                Some(RecipientType::Approver),
            ),
            ExpirationEndUserAssignment => (
                RuleKind::Expiration,
                Caller::EndUser,
                Level::Assignment,
                None,
            ),
            EnablementEndUserAssignment => (
                RuleKind::Enablement,
                Caller::EndUser,
                Level::Assignment,
                None,
            ),
            ApprovalEndUserAssignment => {
                (RuleKind::Approval, Caller::EndUser, Level::Assignment, None)
            }
            AuthenticationContextEndUserAssignment => (
                RuleKind::AuthenticationContext,
                Caller::EndUser,
                Level::Assignment,
                None,
            ),
            NotificationAdminEndUserAssignment => (
                RuleKind::Notification,
                Caller::EndUser,
                Level::Assignment,
                Some(RecipientType::Admin),
            ),
            NotificationRequestorEndUserAssignment => (
                RuleKind::Notification,
                Caller::EndUser,
                Level::Assignment,
                Some(RecipientType::Requestor),
            ),
            NotificationApproverEndUserAssignment => (
                RuleKind::Notification,
                Caller::EndUser,
                Level::Assignment,
                Some(RecipientType::Approver),
            ),
            Unknown(_) => return None,
        };
        Some(RuleSpec {
            kind,
            caller,
            level,
            recipient,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn there_are_seventeen_rules_each_with_a_spec() {
        assert_eq!(RuleId::KNOWN.len(), 17);
        for id in RuleId::KNOWN {
            let spec = id.spec().unwrap_or_else(|| panic!("{id} has no spec"));
            // The id spells its kind, caller and level: Kind_[Recipient_]Caller_Level.
            let parts: Vec<&str> = id.as_str().split('_').collect();
            assert_eq!(parts.last().copied(), Some(spec.level.as_str()), "{id}");
            assert_eq!(parts[parts.len() - 2], spec.caller.as_str(), "{id}");
            let kind_word = match spec.kind {
                RuleKind::Expiration => "Expiration",
                RuleKind::Enablement => "Enablement",
                RuleKind::AuthenticationContext => "AuthenticationContext",
                RuleKind::Approval => "Approval",
                RuleKind::Notification => "Notification",
            };
            assert_eq!(parts[0], kind_word, "{id}");
            assert_eq!(
                spec.recipient.is_some(),
                spec.kind == RuleKind::Notification
            );
            if let Some(r) = spec.recipient {
                assert_eq!(parts[1], r.as_str(), "{id}");
            }
        }
        assert_eq!(RuleId::parse("Expiration_Admin_Everything").spec(), None);
    }

    #[test]
    fn kinds_round_trip_through_odata_type_in_any_spelling() {
        for kind in RuleKind::ALL {
            assert_eq!(RuleKind::from_odata_type(kind.odata_type()), Some(kind));
            let bare = kind
                .odata_type()
                .trim_start_matches('#')
                .to_ascii_uppercase();
            assert_eq!(RuleKind::from_odata_type(&bare), Some(kind));
        }
        assert_eq!(
            RuleKind::from_odata_type("#microsoft.graph.unifiedRoleManagementPolicyRule"),
            None
        );
    }
}
