//! The directory's users as a service: reading them (anyone signed in, as in Entra), and
//! creating, changing and deleting them (User or Global Administrators).
//!
//! Two doors that make or remove administrators are guarded here. A user who holds or is
//! eligible for a directory role (directly or through a group) can be changed or deleted only by
//! an active Global Administrator: a User Administrator must not be able to disable, rename or
//! delete the admins above them. And a change that disables or deletes the last users eligible
//! for Global Administrator who could activate it goes through the lockout guard (refused unless
//! overridden, and then audited as forced).

use crate::authz::ManageUsers;
use crate::code::ErrorCode;
use crate::conditional_access::{AdminLockout, LockoutGuard};
use crate::posture::PostureError;
use crate::{Authorized, Caller, Core};
use policy::roles::BuiltInRole;
use policy::TenantChange;
use serde_json::Value;
use store::{PasswordCredential, StoreError, User, UserChange};

/// Why a user could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// No user has this id or sign-in name.
    #[error("User '{0}' does not exist.")]
    NotFound(String),
    /// The user has no method with this id in the collection named.
    #[error("Authentication method '{0}' does not exist.")]
    MethodNotFound(String),
    /// What Graph would refuse in the body, one sentence each.
    #[error("The user cannot be written: {}.", .0.join("; "))]
    Invalid(Vec<String>),
    /// Another user has this sign-in name.
    #[error("Another user already has the userPrincipalName '{0}'.")]
    Exists(String),
    /// The caller may not do this (the sentence says what it takes).
    #[error("{0}")]
    Denied(String),
    /// The user holds or may activate a role, and the caller is not a Global Administrator.
    #[error(
        "'{0}' holds or is eligible for a directory role: only an active Global Administrator \
         can change or delete them."
    )]
    PrivilegedTarget(String),
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

impl UserError {
    /// The Graph error code of a caller's mistake; `None` for an internal failure.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            UserError::NotFound(_) | UserError::MethodNotFound(_) => {
                Some(ErrorCode::ResourceNotFound)
            }
            UserError::Invalid(_) => Some(ErrorCode::BadRequest),
            UserError::Exists(_) => Some(ErrorCode::Conflict),
            UserError::PrivilegedTarget(_) | UserError::Denied(_) => {
                Some(ErrorCode::AuthorizationDenied)
            }
            UserError::Lockout(_) => Some(ErrorCode::ConditionalAccessLockout),
            UserError::Posture(_) | UserError::Store(_) => None,
        }
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Sign-in name.
    pub user_principal_name: String,
    /// Name shown to people.
    pub display_name: String,
    /// Whether the account may sign in.
    pub account_enabled: bool,
    /// The password's argon2id hash (PHC), hashed by the caller.
    pub password_phc: Option<String>,
}

/// The properties a `PATCH` may change.
const WRITABLE: &[&str] = &[
    "displayName",
    "accountEnabled",
    "userPrincipalName",
    "userType",
];

/// What is wrong with a sign-in name, if anything.
pub fn upn_problem(upn: &str) -> Option<String> {
    let ok = upn.len() <= 113
        && upn
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !upn.chars().any(|c| c.is_whitespace() || c.is_control());
    (!ok).then(|| format!("'{upn}' is not a userPrincipalName (name@domain)"))
}

/// What a change does to a user's access, for the lockout guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// They can still sign in.
    KeepsAccess,
    /// Their account is disabled.
    Disables,
    /// They are deleted.
    Deletes,
}

impl Core {
    /// Whether user `id` holds or may activate any directory role now or later, directly or
    /// through a group: read from the store, not the engine cache, which may trail a change
    /// made by another process by up to a second.
    pub async fn may_hold_a_role(&self, id: &str) -> Result<bool, StoreError> {
        let now = self.now();
        let mut principals = vec![id.to_string()];
        principals.extend(self.store.transitive_groups(id).await?);
        for p in principals {
            if self
                .store
                .list_role_assignments(Some(&p))
                .await?
                .iter()
                .any(|a| a.end_at.is_none_or(|end| end > now))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Every user, by sign-in name. Anyone signed in may read the directory.
    pub async fn users(&self, _caller: &Caller) -> Result<Vec<User>, StoreError> {
        self.store.list_users().await
    }

    /// The user with this id or sign-in name (as Graph's `/users/{id | userPrincipalName}`).
    pub async fn user(&self, _caller: &Caller, key: &str) -> Result<User, UserError> {
        self.find_user(key).await
    }

    async fn find_user(&self, key: &str) -> Result<User, UserError> {
        let found = if key.contains('@') {
            self.store.get_user_by_upn(key).await
        } else {
            self.store.get_user(key).await
        };
        match found {
            Ok(u) => Ok(u),
            Err(e) if e.is_not_found() => Err(UserError::NotFound(key.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates a user, with their password, audited.
    pub async fn create_user(
        &self,
        allowed: &Authorized<ManageUsers>,
        new: NewUser,
    ) -> Result<User, UserError> {
        let now = self.now();
        let mut problems = Vec::new();
        problems.extend(upn_problem(&new.user_principal_name));
        if new.display_name.trim().is_empty() {
            problems.push("displayName is required".into());
        }
        if !problems.is_empty() {
            return Err(UserError::Invalid(problems));
        }
        match self.store.get_user_by_upn(&new.user_principal_name).await {
            Ok(_) => return Err(UserError::Exists(new.user_principal_name)),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        let mut user = User::new(&new.user_principal_name, &new.display_name, now);
        user.account_enabled = new.account_enabled;
        let password = new.password_phc.map(|phc| PasswordCredential {
            user_id: user.id.clone(),
            phc,
            changed_at: now,
        });
        let audit = allowed
            .caller()
            .audit("UserManagement", "Add user", "Add", now)
            .target("User", &user.id, Some(&user.user_principal_name));
        let change = UserChange::Create {
            user: &user,
            password: password.as_ref(),
        };
        match self.store.write_user_audited(&change, &audit).await {
            Ok(()) => {}
            // Created by someone else between the check and the write.
            Err(StoreError::Conflict { .. }) => {
                return Err(UserError::Exists(user.user_principal_name))
            }
            Err(e) => return Err(e.into()),
        }
        self.tenant_changed();
        Ok(user)
    }

    /// Changes user `key` by `patch` (Graph's writable properties: `displayName`,
    /// `accountEnabled`, `userPrincipalName`, `userType`), audited, also when refused.
    pub async fn update_user(
        &self,
        allowed: &Authorized<ManageUsers>,
        key: &str,
        patch: &Value,
        guard: LockoutGuard,
    ) -> Result<User, UserError> {
        let now = self.now();
        let current = self.find_user(key).await?;
        let mut after = current.clone();
        let mut problems = Vec::new();
        for (name, value) in patch.as_object().into_iter().flatten() {
            if name.starts_with('@') {
                continue;
            }
            match (name.as_str(), value) {
                ("displayName", Value::String(v)) if !v.trim().is_empty() => {
                    after.display_name = v.clone()
                }
                ("accountEnabled", Value::Bool(v)) => after.account_enabled = *v,
                ("userPrincipalName", Value::String(v)) => match upn_problem(v) {
                    None => after.user_principal_name = v.clone(),
                    Some(p) => problems.push(p),
                },
                ("userType", Value::String(v)) if v == "Member" || v == "Guest" => {
                    after.user_type = v.clone()
                }
                (n, _) if WRITABLE.contains(&n) => {
                    problems.push(format!("'{n}' has a value it cannot take: {value}"))
                }
                (n, _) => problems.push(format!(
                    "'{n}' cannot be changed here; the writable properties are {}",
                    WRITABLE.join(", ")
                )),
            }
        }
        if !problems.is_empty() {
            return Err(UserError::Invalid(problems));
        }
        let mut audit = allowed
            .caller()
            .audit("UserManagement", "Update user", "Update", now)
            .target("User", &current.id, Some(&current.user_principal_name));
        // What changed, old → new, so that the log says what was done and not only who did it.
        for (name, old, new) in [
            (
                "displayName",
                current.display_name.clone(),
                after.display_name.clone(),
            ),
            (
                "accountEnabled",
                current.account_enabled.to_string(),
                after.account_enabled.to_string(),
            ),
            (
                "userPrincipalName",
                current.user_principal_name.clone(),
                after.user_principal_name.clone(),
            ),
            (
                "userType",
                current.user_type.clone(),
                after.user_type.clone(),
            ),
        ] {
            if old != new {
                audit = audit.detail(name, &format!("{old} → {new}"));
            }
        }
        let effect = if current.account_enabled && !after.account_enabled {
            Effect::Disables
        } else {
            Effect::KeepsAccess
        };
        let audit = self
            .guard_user_change(allowed, &current, audit, effect, guard)
            .await?;
        self.store
            .write_user_audited(&UserChange::Update(&after), &audit)
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => UserError::Exists(after.user_principal_name.clone()),
                e => e.into(),
            })?;
        self.tenant_changed();
        Ok(after)
    }

    /// Deletes user `key` with their credentials, sessions, memberships and role assignments,
    /// audited, also when refused.
    pub async fn delete_user(
        &self,
        allowed: &Authorized<ManageUsers>,
        key: &str,
        guard: LockoutGuard,
    ) -> Result<(), UserError> {
        let now = self.now();
        let current = self.find_user(key).await?;
        let audit = allowed
            .caller()
            .audit("UserManagement", "Delete user", "Delete", now)
            .target("User", &current.id, Some(&current.user_principal_name));
        let audit = self
            .guard_user_change(allowed, &current, audit, Effect::Deletes, guard)
            .await?;
        self.store
            .write_user_audited(&UserChange::Delete(&current.id), &audit)
            .await?;
        self.tenant_changed();
        Ok(())
    }

    /// Whether `caller` needs an active Global Administrator role to act on `target`: true when
    /// `target` holds or may activate a role and `caller` holds no active Global Administrator
    /// role (a User Administrator must not reach the admins above them).
    pub(crate) async fn needs_global_administrator(
        &self,
        caller: &Caller,
        target: &User,
    ) -> Result<bool, StoreError> {
        Ok(self.may_hold_a_role(&target.id).await?
            && !self
                .holds_active_role(&caller.id(), &[BuiltInRole::GlobalAdministrator])
                .await?)
    }

    /// The write-path form of [`Core::needs_global_administrator`]: `audit` back when `caller`
    /// may change `target`, else the refusal, audited.
    pub(crate) async fn guard_privileged_target(
        &self,
        caller: &Caller,
        target: &User,
        audit: store::AuditEntry,
    ) -> Result<store::AuditEntry, UserError> {
        if self.needs_global_administrator(caller, target).await? {
            let refused = UserError::PrivilegedTarget(target.user_principal_name.clone());
            self.audit_refusal(audit, &refused).await;
            return Err(refused);
        }
        Ok(audit)
    }

    /// The checks of a change to `current`: only a Global Administrator changes a user who
    /// holds or may activate a role; and disabling or deleting must not lock every eligible
    /// Global Administrator out, unless overridden. Returns the audit entry to write (marked
    /// when forced); a refusal is audited.
    async fn guard_user_change(
        &self,
        allowed: &Authorized<ManageUsers>,
        current: &User,
        audit: store::AuditEntry,
        effect: Effect,
        guard: LockoutGuard,
    ) -> Result<store::AuditEntry, UserError> {
        let audit = self
            .guard_privileged_target(allowed.caller(), current, audit)
            .await?;
        if effect == Effect::KeepsAccess {
            return Ok(audit);
        }
        let change = |after: &mut policy::Tenant| match effect {
            Effect::Disables => {
                if let Some(u) = after
                    .users
                    .iter_mut()
                    .find(|u| u.id.eq_ignore_ascii_case(&current.id))
                {
                    u.account_enabled = Some(false);
                }
            }
            Effect::Deletes => {
                TenantChange::UserDeleted(current.id.clone()).apply_to(after);
                after
                    .role_assignments
                    .retain(|a| a.principal_id != current.id);
            }
            Effect::KeepsAccess => {}
        };
        self.guard_tenant_change(audit, guard, change, UserError::Lockout)
            .await
    }
}
