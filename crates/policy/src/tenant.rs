//! A tenant: the directory and Conditional Access configuration an evaluation reads.

use crate::conditional_access::ConditionalAccessPolicy;
use crate::context::AuthenticationContextClassReference;
use crate::directory::{Group, RoleAssignment, User};
use crate::location::NamedLocation;
use crate::serde_util::nullable;
use crate::strength::AuthenticationStrengthPolicy;
use serde::{Deserialize, Serialize};

/// Everything Conditional Access reads, in the one-document tenant format.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    /// Users.
    #[serde(default, deserialize_with = "nullable")]
    pub users: Vec<User>,
    /// Groups with their direct members.
    #[serde(default, deserialize_with = "nullable")]
    pub groups: Vec<Group>,
    /// Directory role assignments, active and eligible.
    #[serde(default, deserialize_with = "nullable")]
    pub role_assignments: Vec<RoleAssignment>,
    /// Conditional Access policies.
    #[serde(default, deserialize_with = "nullable")]
    pub conditional_access_policies: Vec<ConditionalAccessPolicy>,
    /// Named locations.
    #[serde(default, deserialize_with = "nullable")]
    pub named_locations: Vec<NamedLocation>,
    /// Custom authentication strengths (the built-ins are always present).
    #[serde(default, deserialize_with = "nullable")]
    pub authentication_strength_policies: Vec<AuthenticationStrengthPolicy>,
    /// Authentication contexts.
    #[serde(default, deserialize_with = "nullable")]
    pub authentication_context_class_references: Vec<AuthenticationContextClassReference>,
}

/// The top-level keys of the one-document format, to recognise such a document.
pub const TENANT_KEYS: &[&str] = &[
    "users",
    "groups",
    "roleAssignments",
    "conditionalAccessPolicies",
    "namedLocations",
    "authenticationStrengthPolicies",
    "authenticationContextClassReferences",
];

impl Tenant {
    /// Appends everything `other` holds.
    pub fn merge(&mut self, other: Tenant) {
        self.users.extend(other.users);
        self.groups.extend(other.groups);
        self.role_assignments.extend(other.role_assignments);
        self.conditional_access_policies
            .extend(other.conditional_access_policies);
        self.named_locations.extend(other.named_locations);
        self.authentication_strength_policies
            .extend(other.authentication_strength_policies);
        self.authentication_context_class_references
            .extend(other.authentication_context_class_references);
    }
}
