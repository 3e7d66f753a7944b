//! Applying a [`TenantChange`] to a built engine: only what the change touches is indexed again.
//!
//! Costs: a principal's role assignments, O(that principal's assignments) plus one pass over the
//! tenant's assignment list (no hashing of users); a user, O(1) (a deletion shifts the later
//! users' positions, O(users) integer updates); a group, O(groups) to find it plus its members,
//! and the policy index again (O(policies)) when a group appears or disappears; a policy, a
//! strength or a location, O(policies + strengths + locations).

use super::{lower, Engine};
use crate::change::{delete, position, set_assignments_of, upsert_last, upsert_sorted};
use crate::directory::{AssignmentStatus, Group, RoleAssignment, User};
use crate::ids::PrincipalId;
use crate::index::PolicyIndex;
use crate::strength::{built_in_strengths, AuthenticationStrengthPolicy};
use crate::tenant::Tenant;
use crate::TenantChange;
use std::collections::HashMap;

/// Every strength an engine over `tenant` knows: built-in, then custom, then those carried by
/// exported policies (the first definition of an id wins).
pub(super) fn strengths_of(tenant: &Tenant) -> HashMap<String, AuthenticationStrengthPolicy> {
    let mut strengths: HashMap<String, AuthenticationStrengthPolicy> = built_in_strengths()
        .into_iter()
        .map(|s| (lower(&s.id), s))
        .collect();
    for s in &tenant.authentication_strength_policies {
        strengths.entry(lower(&s.id)).or_insert_with(|| s.clone());
    }
    // An export carries the definition of the strength it requires: use it when the tenant
    // does not define that id itself.
    for p in &tenant.conditional_access_policies {
        if let Some(s) = p
            .grant_controls
            .as_ref()
            .and_then(|g| g.authentication_strength.as_ref())
        {
            if s.is_defined() {
                strengths.entry(lower(&s.id)).or_insert_with(|| s.clone());
            }
        }
    }
    strengths
}

/// Named locations by lower-case id, to their position in `tenant`.
pub(super) fn locations_of(tenant: &Tenant) -> HashMap<String, usize> {
    tenant
        .named_locations
        .iter()
        .enumerate()
        .map(|(i, l)| (lower(&l.id), i))
        .collect()
}

impl Engine {
    /// Makes `change` to the engine: afterwards it decides as [`Engine::new`] over its tenant
    /// with the change applied ([`TenantChange::apply_to`]) would, without indexing the whole
    /// tenant again.
    pub fn apply(&mut self, change: TenantChange) {
        match change {
            TenantChange::RoleAssignmentsOf {
                principal_id,
                assignments,
            } => self.set_role_assignments(&principal_id, assignments),
            TenantChange::UserUpserted(u) => self.upsert_user(u),
            TenantChange::UserDeleted(id) => self.delete_user(&id),
            TenantChange::GroupUpserted(g) => self.upsert_group(g),
            TenantChange::GroupDeleted(id) => self.delete_group(&id),
            TenantChange::PolicyUpserted(p) => {
                upsert_sorted(&mut self.tenant.conditional_access_policies, *p);
                self.policies_changed();
            }
            TenantChange::PolicyDeleted(id) => {
                delete(&mut self.tenant.conditional_access_policies, &id, |p| &p.id);
                self.policies_changed();
            }
            TenantChange::NamedLocationUpserted(l) => {
                upsert_last(&mut self.tenant.named_locations, l, |l| &l.id);
                self.locations = locations_of(&self.tenant);
            }
            TenantChange::NamedLocationDeleted(id) => {
                delete(&mut self.tenant.named_locations, &id, |l| &l.id);
                self.locations = locations_of(&self.tenant);
            }
            TenantChange::StrengthUpserted(s) => {
                upsert_last(&mut self.tenant.authentication_strength_policies, s, |s| {
                    &s.id
                });
                self.strengths = strengths_of(&self.tenant);
            }
            TenantChange::StrengthDeleted(id) => {
                delete(
                    &mut self.tenant.authentication_strength_policies,
                    &id,
                    |s| &s.id,
                );
                self.strengths = strengths_of(&self.tenant);
            }
            // Contexts are read from the tenant where they are used: nothing is indexed.
            change @ (TenantChange::ContextUpserted(_) | TenantChange::ContextDeleted(_)) => {
                change.apply_to(&mut self.tenant)
            }
        }
    }

    /// The hot case (an activation, a deactivation, an expiry, an administrator's assignment):
    /// only this principal's entries of the role maps change.
    fn set_role_assignments(
        &mut self,
        principal_id: &PrincipalId,
        assignments: Vec<RoleAssignment>,
    ) {
        let key = principal_id.canonical();
        let mine = |a: &&RoleAssignment| a.principal_id == *principal_id;
        let active: Vec<String> = assignments
            .iter()
            .filter(mine)
            .filter(|a| a.status == AssignmentStatus::Active)
            .map(|a| a.role_definition_id.canonical())
            .collect();
        let holds_any = assignments.iter().any(|a| mine(&a));
        if active.is_empty() {
            self.active_roles.remove(&key);
        } else {
            self.active_roles.insert(key.clone(), active);
        }
        if holds_any {
            self.role_holders.insert(key);
        } else {
            self.role_holders.remove(&key);
        }
        set_assignments_of(&mut self.tenant.role_assignments, principal_id, assignments);
    }

    fn upsert_user(&mut self, user: User) {
        let key = lower(&user.id);
        match self.users.get(&key) {
            Some(&i) => self.tenant.users[i] = user,
            None => {
                self.users.insert(key, self.tenant.users.len());
                self.tenant.users.push(user);
            }
        }
    }

    fn delete_user(&mut self, id: &str) {
        let Some(i) = self.users.remove(&lower(id)) else {
            return;
        };
        self.tenant.users.remove(i);
        for j in self.users.values_mut().filter(|j| **j > i) {
            *j -= 1;
        }
    }

    fn upsert_group(&mut self, group: Group) {
        let key = lower(&group.id);
        let old = position(&self.tenant.groups, &group.id, |g| &g.id);
        if let Some(i) = old {
            self.forget_members(i, &key);
        }
        for m in &group.members {
            self.member_of
                .entry(lower(m.id()))
                .or_default()
                .push(key.clone());
        }
        match old {
            Some(i) => self.tenant.groups[i] = group,
            None => self.tenant.groups.push(group),
        }
        // Whether a policy's group is known decides how the index files it.
        if self.groups.insert(key) {
            self.reindex();
        }
    }

    fn delete_group(&mut self, id: &str) {
        let key = lower(id);
        if let Some(i) = position(&self.tenant.groups, id, |g| &g.id) {
            self.forget_members(i, &key);
            self.tenant.groups.remove(i);
        }
        if self.groups.remove(&key) {
            self.reindex();
        }
    }

    /// Removes the memberships that the group at position `i` (lower-case id `key`) lists.
    fn forget_members(&mut self, i: usize, key: &str) {
        for m in &self.tenant.groups[i].members {
            let member = lower(m.id());
            if let Some(parents) = self.member_of.get_mut(&member) {
                parents.retain(|g| g != key);
                if parents.is_empty() {
                    self.member_of.remove(&member);
                }
            }
        }
    }

    /// After a policy changed: the strengths it may carry, and the index.
    fn policies_changed(&mut self) {
        self.strengths = strengths_of(&self.tenant);
        self.reindex();
    }

    fn reindex(&mut self) {
        let policies = &self.tenant.conditional_access_policies;
        self.index = PolicyIndex::build(policies, &self.groups);
        // The sign-in log reads report-only policies through their own index.
        self.report_only = PolicyIndex::build_report_only(policies, &self.groups);
    }
}
