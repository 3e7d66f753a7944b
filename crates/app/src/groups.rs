//! The directory's groups as a service: reading them and their direct members (anyone signed
//! in), creating and deleting groups and changing their membership (Global, User or Privileged
//! Role Administrators).
//!
//! A role-assignable group is a door to roles: whoever is added to it holds (or may activate)
//! the roles assigned to it. So creating, deleting or changing the membership of one also takes
//! an active Privileged Role or Global Administrator, as in Entra; and a role-assignable group
//! cannot hold other groups (Entra refuses nesting there too). Removing a member or deleting a
//! group that would leave no eligible Global Administrator able to activate goes through the
//! lockout guard.

use crate::authz::{ManageGroups, ManageRoles};
use crate::code::ErrorCode;
use crate::conditional_access::{AdminLockout, LockoutGuard};
use crate::posture::PostureError;
use crate::{Authorized, Caller, Core};
use policy::directory::MemberRef;
use policy::TenantChange;
use store::{AuditEntry, Group, GroupChange, StoreError};

/// Why a group could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// No group has this id.
    #[error("Group '{0}' does not exist.")]
    NotFound(String),
    /// No user or group has this id.
    #[error("No user or group has the id '{0}'.")]
    NoSuchMember(String),
    /// What Graph would refuse, one sentence each.
    #[error("The group cannot be written: {}.", .0.join("; "))]
    Invalid(Vec<String>),
    /// The group is role-assignable and the caller does not administer roles.
    #[error(
        "'{0}' is role-assignable: creating, deleting or changing the members of such a group \
         takes an active Privileged Role Administrator or Global Administrator."
    )]
    RoleAssignable(String),
    /// The change would lock every eligible Global Administrator out of activation.
    #[error("{0} Send the change again with ?force=true to make it anyway.")]
    Lockout(AdminLockout),
    /// The lockout guard could not read what it checks (internal).
    #[error(transparent)]
    Posture(#[from] PostureError),
    /// The store failed (internal).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl GroupError {
    /// The Graph error code of a caller's mistake; `None` for an internal failure.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            GroupError::NotFound(_) | GroupError::NoSuchMember(_) => {
                Some(ErrorCode::ResourceNotFound)
            }
            GroupError::Invalid(_) => Some(ErrorCode::BadRequest),
            GroupError::RoleAssignable(_) => Some(ErrorCode::AuthorizationDenied),
            GroupError::Lockout(_) => Some(ErrorCode::ConditionalAccessLockout),
            GroupError::Posture(_) | GroupError::Store(_) => None,
        }
    }
}

/// A direct member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    /// A user.
    User(store::User),
    /// A nested group.
    Group(Group),
}

impl Core {
    /// Every group, by name.
    pub async fn groups(&self, _caller: &Caller) -> Result<Vec<Group>, StoreError> {
        self.store.list_groups().await
    }

    /// One group.
    pub async fn group(&self, _caller: &Caller, id: &str) -> Result<Group, GroupError> {
        self.find_group(id).await
    }

    async fn find_group(&self, id: &str) -> Result<Group, GroupError> {
        match self.store.get_group(id).await {
            Ok(g) => Ok(g),
            Err(e) if e.is_not_found() => Err(GroupError::NotFound(id.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// A group's direct members, users and groups.
    pub async fn group_members(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<Vec<Member>, GroupError> {
        self.group(caller, id).await?;
        let mut members = Vec::new();
        for member in self.store.list_members(id).await? {
            match self.store.get_user(&member).await {
                Ok(u) => members.push(Member::User(u)),
                Err(e) if e.is_not_found() => match self.store.get_group(&member).await {
                    Ok(g) => members.push(Member::Group(g)),
                    // A member the directory does not hold (kept by an import): not listed.
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                },
                Err(e) => return Err(e.into()),
            }
        }
        Ok(members)
    }

    /// Refuses a change to a role-assignable group by a caller who does not administer roles
    /// (audited).
    async fn check_role_assignable(
        &self,
        allowed: &Authorized<ManageGroups>,
        group: &Group,
        audit: &AuditEntry,
    ) -> Result<(), GroupError> {
        if group.is_assignable_to_role && !self.may::<ManageRoles>(allowed.caller()).await? {
            let refused = GroupError::RoleAssignable(group.display_name.clone());
            self.audit_refusal(audit.clone(), &refused).await;
            return Err(refused);
        }
        Ok(())
    }

    /// Creates a group (`isAssignableToRole` only by those who administer roles), audited.
    pub async fn create_group(
        &self,
        allowed: &Authorized<ManageGroups>,
        display_name: &str,
        is_assignable_to_role: bool,
    ) -> Result<Group, GroupError> {
        if display_name.trim().is_empty() {
            return Err(GroupError::Invalid(vec!["displayName is required".into()]));
        }
        let now = self.now();
        let mut group = Group::new(display_name, now);
        group.is_assignable_to_role = is_assignable_to_role;
        let audit = allowed
            .caller()
            .audit("GroupManagement", "Add group", "Add", now)
            .target("Group", &group.id, Some(&group.display_name));
        self.check_role_assignable(allowed, &group, &audit).await?;
        self.store
            .write_group_audited(&GroupChange::Create(&group), &audit)
            .await?;
        self.tenant_changed();
        Ok(group)
    }

    /// Renames a group (a role-assignable one only by those who administer roles), audited
    /// with the old and the new name. A name changes no decision: the engine reads ids.
    pub async fn rename_group(
        &self,
        allowed: &Authorized<ManageGroups>,
        id: &str,
        display_name: &str,
    ) -> Result<Group, GroupError> {
        if display_name.trim().is_empty() {
            return Err(GroupError::Invalid(vec![
                "displayName cannot be empty".into()
            ]));
        }
        let now = self.now();
        let mut group = self.find_group(id).await?;
        let audit = allowed
            .caller()
            .audit("GroupManagement", "Update group", "Update", now)
            .target("Group", &group.id, Some(&group.display_name))
            .detail(
                "displayName",
                &format!("{} → {display_name}", group.display_name),
            );
        self.check_role_assignable(allowed, &group, &audit).await?;
        self.store
            .write_group_audited(
                &GroupChange::Rename {
                    group_id: &group.id,
                    display_name,
                },
                &audit,
            )
            .await?;
        self.tenant_changed();
        group.display_name = display_name.to_string();
        Ok(group)
    }

    /// Deletes a group, audited; guarded against a lockout unless `guard` overrides it.
    pub async fn delete_group(
        &self,
        allowed: &Authorized<ManageGroups>,
        id: &str,
        guard: LockoutGuard,
    ) -> Result<(), GroupError> {
        let now = self.now();
        let group = self.find_group(id).await?;
        let audit = allowed
            .caller()
            .audit("GroupManagement", "Delete group", "Delete", now)
            .target("Group", &group.id, Some(&group.display_name));
        self.check_role_assignable(allowed, &group, &audit).await?;
        let audit = self
            .guard_tenant_change(
                audit,
                guard,
                |t| {
                    TenantChange::GroupDeleted(group.id.clone()).apply_to(t);
                    t.role_assignments.retain(|a| a.principal_id != group.id);
                },
                GroupError::Lockout,
            )
            .await?;
        self.store
            .write_group_audited(&GroupChange::Delete(&group.id), &audit)
            .await?;
        self.tenant_changed();
        Ok(())
    }

    /// Makes `member_id` (a user or a group) a direct member of group `id`, audited.
    pub async fn add_group_member(
        &self,
        allowed: &Authorized<ManageGroups>,
        id: &str,
        member_id: &str,
    ) -> Result<(), GroupError> {
        let now = self.now();
        let group = self.find_group(id).await?;
        let audit = allowed
            .caller()
            .audit("GroupManagement", "Add member to group", "Assign", now)
            .target("Group", &group.id, Some(&group.display_name))
            .detail("memberId", member_id);
        self.check_role_assignable(allowed, &group, &audit).await?;
        let is_user = match self.store.get_user(member_id).await {
            Ok(_) => true,
            Err(e) if e.is_not_found() => false,
            Err(e) => return Err(e.into()),
        };
        if !is_user {
            match self.store.get_group(member_id).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {
                    return Err(GroupError::NoSuchMember(member_id.to_string()))
                }
                Err(e) => return Err(e.into()),
            }
            let mut problems = Vec::new();
            if member_id.eq_ignore_ascii_case(&group.id) {
                problems.push("a group cannot be a member of itself".to_string());
            }
            if group.is_assignable_to_role {
                problems.push("a role-assignable group cannot hold other groups".to_string());
            }
            if !problems.is_empty() {
                return Err(GroupError::Invalid(problems));
            }
        }
        self.store
            .write_group_audited(
                &GroupChange::AddMember {
                    group_id: &group.id,
                    member_id,
                },
                &audit,
            )
            .await?;
        self.tenant_changed();
        Ok(())
    }

    /// Removes direct member `member_id` from group `id`, audited; guarded against a lockout
    /// unless `guard` overrides it.
    pub async fn remove_group_member(
        &self,
        allowed: &Authorized<ManageGroups>,
        id: &str,
        member_id: &str,
        guard: LockoutGuard,
    ) -> Result<(), GroupError> {
        let now = self.now();
        let group = self.find_group(id).await?;
        let audit = allowed
            .caller()
            .audit(
                "GroupManagement",
                "Remove member from group",
                "Unassign",
                now,
            )
            .target("Group", &group.id, Some(&group.display_name))
            .detail("memberId", member_id);
        self.check_role_assignable(allowed, &group, &audit).await?;
        let audit = self
            .guard_tenant_change(
                audit,
                guard,
                |t| {
                    if let Some(g) = t
                        .groups
                        .iter_mut()
                        .find(|g| g.id.eq_ignore_ascii_case(&group.id))
                    {
                        g.members
                            .retain(|m: &MemberRef| !m.id().eq_ignore_ascii_case(member_id));
                    }
                },
                GroupError::Lockout,
            )
            .await?;
        match self
            .store
            .write_group_audited(
                &GroupChange::RemoveMember {
                    group_id: &group.id,
                    member_id,
                },
                &audit,
            )
            .await
        {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {
                return Err(GroupError::NoSuchMember(member_id.to_string()))
            }
            Err(e) => return Err(e.into()),
        }
        self.tenant_changed();
        Ok(())
    }
}
