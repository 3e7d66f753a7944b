//! One change to a tenant, for engines that follow the store incrementally.
//!
//! [`TenantChange::apply_to`] says what a change means for a plain [`Tenant`];
//! [`crate::Engine::apply`] makes the same change to a built engine without indexing the whole
//! tenant again, and must leave it deciding exactly as [`crate::Engine::new`] over the changed
//! tenant would (the property tests hold it to that).
//!
//! Ids are compared without regard to ASCII case, as the engine does; a tenant is assumed to hold
//! each id at most once per kind (the store's primary keys guarantee it).

use crate::conditional_access::ConditionalAccessPolicy;
use crate::context::AuthenticationContextClassReference;
use crate::directory::{Group, RoleAssignment, User};
use crate::ids::PrincipalId;
use crate::location::NamedLocation;
use crate::strength::AuthenticationStrengthPolicy;
use crate::tenant::Tenant;

/// A change to one object of a tenant (or to one principal's role assignments).
#[derive(Debug, Clone, PartialEq)]
pub enum TenantChange {
    /// The role assignments in force for one principal (a user or a group), active and eligible,
    /// are now exactly `assignments`; an empty list means it holds none. Entries naming another
    /// principal are ignored.
    RoleAssignmentsOf {
        /// The user or group.
        principal_id: PrincipalId,
        /// Its assignments in force.
        assignments: Vec<RoleAssignment>,
    },
    /// A user was created or changed.
    UserUpserted(User),
    /// A user was deleted (its group memberships and assignments are separate changes).
    UserDeleted(String),
    /// A group was created or changed, with its direct members.
    GroupUpserted(Group),
    /// A group was deleted.
    GroupDeleted(String),
    /// A Conditional Access policy was created or changed.
    PolicyUpserted(Box<ConditionalAccessPolicy>),
    /// A Conditional Access policy was deleted.
    PolicyDeleted(String),
    /// A named location was created or changed.
    NamedLocationUpserted(NamedLocation),
    /// A named location was deleted.
    NamedLocationDeleted(String),
    /// A custom authentication strength was created or changed.
    StrengthUpserted(AuthenticationStrengthPolicy),
    /// A custom authentication strength was deleted.
    StrengthDeleted(String),
    /// An authentication context was created or changed.
    ContextUpserted(AuthenticationContextClassReference),
    /// An authentication context was deleted.
    ContextDeleted(String),
}

impl TenantChange {
    /// Makes the change to `tenant`: an upsert replaces the object with the same id in place or,
    /// if there is none, adds it (policies and role assignments where their id sorts, as the
    /// store lists them; other objects at the end); a delete removes it.
    pub fn apply_to(self, tenant: &mut Tenant) {
        match self {
            TenantChange::RoleAssignmentsOf {
                principal_id,
                assignments,
            } => set_assignments_of(&mut tenant.role_assignments, &principal_id, assignments),
            TenantChange::UserUpserted(u) => upsert_last(&mut tenant.users, u, |u| &u.id),
            TenantChange::UserDeleted(id) => delete(&mut tenant.users, &id, |u| &u.id),
            TenantChange::GroupUpserted(g) => upsert_last(&mut tenant.groups, g, |g| &g.id),
            TenantChange::GroupDeleted(id) => delete(&mut tenant.groups, &id, |g| &g.id),
            TenantChange::PolicyUpserted(p) => {
                upsert_sorted(&mut tenant.conditional_access_policies, *p)
            }
            TenantChange::PolicyDeleted(id) => {
                delete(&mut tenant.conditional_access_policies, &id, |p| &p.id)
            }
            TenantChange::NamedLocationUpserted(l) => {
                upsert_last(&mut tenant.named_locations, l, |l| &l.id)
            }
            TenantChange::NamedLocationDeleted(id) => {
                delete(&mut tenant.named_locations, &id, |l| &l.id)
            }
            TenantChange::StrengthUpserted(s) => {
                upsert_last(&mut tenant.authentication_strength_policies, s, |s| &s.id)
            }
            TenantChange::StrengthDeleted(id) => {
                delete(&mut tenant.authentication_strength_policies, &id, |s| &s.id)
            }
            TenantChange::ContextUpserted(c) => upsert_last(
                &mut tenant.authentication_context_class_references,
                c,
                |c| &c.id,
            ),
            TenantChange::ContextDeleted(id) => delete(
                &mut tenant.authentication_context_class_references,
                &id,
                |c| &c.id,
            ),
        }
    }
}

/// The position of the object with this id.
pub(crate) fn position<T>(items: &[T], id: &str, id_of: impl Fn(&T) -> &String) -> Option<usize> {
    items.iter().position(|x| id_of(x).eq_ignore_ascii_case(id))
}

/// Replaces the object with the same id, or appends it.
pub(crate) fn upsert_last<T>(items: &mut Vec<T>, item: T, id_of: impl Fn(&T) -> &String) {
    match position(items, id_of(&item), &id_of) {
        Some(i) => items[i] = item,
        None => items.push(item),
    }
}

/// Replaces the policy with the same id, or inserts it where its id sorts (the store's order),
/// so that an engine that followed a creation lists policies as one built afresh does.
pub(crate) fn upsert_sorted(
    items: &mut Vec<ConditionalAccessPolicy>,
    item: ConditionalAccessPolicy,
) {
    match position(items, &item.id, |p| &p.id) {
        Some(i) => items[i] = item,
        None => {
            let at = items.partition_point(|p| p.id < item.id);
            items.insert(at, item);
        }
    }
}

/// Removes the objects with this id.
pub(crate) fn delete<T>(items: &mut Vec<T>, id: &str, id_of: impl Fn(&T) -> &String) {
    items.retain(|x| !id_of(x).eq_ignore_ascii_case(id));
}

/// Replaces every assignment of `principal_id` by those of `assignments` that name it, each
/// where its id sorts.
pub(crate) fn set_assignments_of(
    all: &mut Vec<RoleAssignment>,
    principal_id: &PrincipalId,
    assignments: Vec<RoleAssignment>,
) {
    // One pass over the assignments (not the users): the tenant keeps them in one list.
    all.retain(|a| a.principal_id != *principal_id);
    for a in assignments
        .into_iter()
        .filter(|a| a.principal_id == *principal_id)
    {
        let at = all.partition_point(|b| b.id < a.id);
        all.insert(at, a);
    }
}
