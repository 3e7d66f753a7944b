//! Users, groups (nested) and directory role assignments, as Graph shapes them.

use crate::enums::graph_enum;
use crate::ids::{PrincipalId, RoleId};
use crate::serde_util::{nullable, Extra};
use serde::{Deserialize, Serialize};

/// Graph `user` (the fields Conditional Access reads).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Object id.
    #[serde(default)]
    pub id: String,
    /// Sign-in name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    /// Name shown to people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Whether the account may sign in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    /// `Member` or `Guest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    /// Portcullis extension: the Graph guest or external user type of a guest
    /// (`b2bCollaborationGuest`, `internalGuest`, …), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_or_external_user_type: Option<GuestOrExternalUserType>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

impl User {
    /// Whether the user is a guest or external user.
    pub fn is_guest(&self) -> bool {
        self.user_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("guest"))
            || self
                .guest_or_external_user_type
                .as_ref()
                .is_some_and(|t| *t != GuestOrExternalUserType::None)
    }
}

graph_enum! {
    /// Graph `conditionalAccessGuestOrExternalUserTypes` members.
    pub enum GuestOrExternalUserType {
        /// Not a guest.
        None = "none",
        /// Local guest (userType Guest, home tenant here).
        InternalGuest = "internalGuest",
        /// B2B collaboration guest.
        B2bCollaborationGuest = "b2bCollaborationGuest",
        /// B2B collaboration member.
        B2bCollaborationMember = "b2bCollaborationMember",
        /// B2B direct connect user.
        B2bDirectConnectUser = "b2bDirectConnectUser",
        /// Any other external user.
        OtherExternalUser = "otherExternalUser",
        /// Service provider (GDAP / CSP).
        ServiceProvider = "serviceProvider",
    }
}

/// A member of a group: an id, or an object carrying one (`{"id": …}`, as Graph expands it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MemberRef {
    /// A bare id.
    Id(String),
    /// An expanded directory object.
    Object {
        /// The member's id.
        id: String,
        /// Everything else, kept.
        #[serde(flatten)]
        extra: Extra,
    },
}

impl MemberRef {
    /// The member's id.
    pub fn id(&self) -> &str {
        match self {
            MemberRef::Id(id) | MemberRef::Object { id, .. } => id,
        }
    }
}

/// Graph `group`, with its direct members (users or groups).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Object id.
    #[serde(default)]
    pub id: String,
    /// Name shown to administrators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Whether roles can be assigned to the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_assignable_to_role: Option<bool>,
    /// Direct members: user or group ids.
    #[serde(default, deserialize_with = "nullable")]
    pub members: Vec<MemberRef>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

graph_enum! {
    /// Whether a role assignment is in force now or may be activated.
    pub enum AssignmentStatus {
        /// In force: Conditional Access `includeRoles` sees it.
        Active = "active",
        /// May be activated through PIM; not in force.
        Eligible = "eligible",
    }
}

/// A directory role assignment: `principalId` holds `roleDefinitionId` (a role template id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    /// Assignment id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The user or (role-assignable) group.
    pub principal_id: PrincipalId,
    /// The role's template id.
    pub role_definition_id: RoleId,
    /// Scope; `/` for the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_scope_id: Option<String>,
    /// `active` or `eligible`; an assignment with no status is active, as Graph's
    /// `unifiedRoleAssignment` is.
    #[serde(default = "active")]
    pub status: AssignmentStatus,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

fn active() -> AssignmentStatus {
    AssignmentStatus::Active
}

/// Role template id of Global Administrator.
pub const GLOBAL_ADMINISTRATOR: &str = crate::roles::BuiltInRole::GlobalAdministrator.template_id();
/// Role template id of Privileged Role Administrator.
pub const PRIVILEGED_ROLE_ADMINISTRATOR: &str =
    crate::roles::BuiltInRole::PrivilegedRoleAdministrator.template_id();
