//! The built-in directory roles Portcullis knows: one catalogue of their template ids, names and
//! whether Entra marks them privileged, so that authorization, posture and the store's seed read
//! the same list (the ids were once spelled out in four files).

use crate::ids::RoleId;

/// A built-in directory role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BuiltInRole {
    /// Global Administrator.
    GlobalAdministrator,
    /// Privileged Role Administrator.
    PrivilegedRoleAdministrator,
    /// Conditional Access Administrator.
    ConditionalAccessAdministrator,
    /// Security Administrator.
    SecurityAdministrator,
    /// Authentication Policy Administrator.
    AuthenticationPolicyAdministrator,
    /// Application Administrator.
    ApplicationAdministrator,
    /// User Administrator.
    UserAdministrator,
    /// Helpdesk Administrator.
    HelpdeskAdministrator,
    /// Security Reader.
    SecurityReader,
    /// Global Reader.
    GlobalReader,
}

impl BuiltInRole {
    /// Every built-in role, in the order of the store's seed.
    pub const ALL: [BuiltInRole; 10] = [
        BuiltInRole::GlobalAdministrator,
        BuiltInRole::PrivilegedRoleAdministrator,
        BuiltInRole::ConditionalAccessAdministrator,
        BuiltInRole::SecurityAdministrator,
        BuiltInRole::AuthenticationPolicyAdministrator,
        BuiltInRole::ApplicationAdministrator,
        BuiltInRole::UserAdministrator,
        BuiltInRole::HelpdeskAdministrator,
        BuiltInRole::SecurityReader,
        BuiltInRole::GlobalReader,
    ];

    /// The role's template id (lower case, as Graph spells it).
    pub const fn template_id(self) -> &'static str {
        match self {
            BuiltInRole::GlobalAdministrator => "62e90394-69f5-4237-9190-012177145e10",
            BuiltInRole::PrivilegedRoleAdministrator => "e8611ab8-c189-46e8-94e1-60213ab1f814",
            BuiltInRole::ConditionalAccessAdministrator => "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
            BuiltInRole::SecurityAdministrator => "194ae4cb-b126-40b2-bd5b-6091b380977d",
            BuiltInRole::AuthenticationPolicyAdministrator => {
                "0526716b-113d-4c15-b2c8-68e3c22b9f80"
            }
            BuiltInRole::ApplicationAdministrator => "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
            BuiltInRole::UserAdministrator => "fe930be7-5e62-47db-91af-98c3a49a38b1",
            BuiltInRole::HelpdeskAdministrator => "729827e3-9c14-49f7-bb1b-9608f156bbb8",
            BuiltInRole::SecurityReader => "5d6b6bb7-de71-4623-b4af-96380a352509",
            BuiltInRole::GlobalReader => "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        }
    }

    /// The role's display name.
    pub const fn display_name(self) -> &'static str {
        match self {
            BuiltInRole::GlobalAdministrator => "Global Administrator",
            BuiltInRole::PrivilegedRoleAdministrator => "Privileged Role Administrator",
            BuiltInRole::ConditionalAccessAdministrator => "Conditional Access Administrator",
            BuiltInRole::SecurityAdministrator => "Security Administrator",
            BuiltInRole::AuthenticationPolicyAdministrator => "Authentication Policy Administrator",
            BuiltInRole::ApplicationAdministrator => "Application Administrator",
            BuiltInRole::UserAdministrator => "User Administrator",
            BuiltInRole::HelpdeskAdministrator => "Helpdesk Administrator",
            BuiltInRole::SecurityReader => "Security Reader",
            BuiltInRole::GlobalReader => "Global Reader",
        }
    }

    /// Whether Entra marks the role privileged (`isPrivileged`): a role of these whose
    /// activation requires no authentication at all is an error, not a warning. The two
    /// readers are not.
    pub const fn is_privileged(self) -> bool {
        !matches!(
            self,
            BuiltInRole::SecurityReader | BuiltInRole::GlobalReader
        )
    }

    /// Whether the role can take over the tenant on its own (Global Administrator, Privileged
    /// Role Administrator): the roles the lockout rules and the lint treat as tier 0.
    pub const fn is_tier0(self) -> bool {
        matches!(
            self,
            BuiltInRole::GlobalAdministrator | BuiltInRole::PrivilegedRoleAdministrator
        )
    }

    /// The tier-0 role with this template id (in any case), if it is one.
    pub fn tier0(id: &str) -> Option<BuiltInRole> {
        Self::from_id(id).filter(|r| r.is_tier0())
    }

    /// The role's id as a typed id.
    pub fn id(self) -> RoleId {
        RoleId::trusted(self.template_id())
    }

    /// The built-in role with this template id (in any case).
    pub fn from_id(id: &str) -> Option<BuiltInRole> {
        let id = RoleId::parse(id).ok()?;
        Self::ALL.into_iter().find(|r| r.id() == id)
    }
}

impl std::fmt::Display for BuiltInRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.display_name())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn every_role_is_found_by_its_id_in_any_case() {
        for r in BuiltInRole::ALL {
            assert_eq!(BuiltInRole::from_id(r.template_id()), Some(r));
            assert_eq!(
                BuiltInRole::from_id(&r.template_id().to_ascii_uppercase()),
                Some(r)
            );
        }
        assert_eq!(
            BuiltInRole::from_id("00000000-0000-0000-0000-000000000000"),
            None
        );
    }

    #[test]
    fn the_store_seed_names_the_same_roles() {
        let seed = include_str!("../../store/migrations/0001_directory.sql");
        for r in BuiltInRole::ALL {
            assert!(
                seed.contains(&format!("('{}', '{}'", r.template_id(), r.display_name())),
                "{r} is not seeded as the catalogue says"
            );
        }
    }
}
