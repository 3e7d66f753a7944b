//! Who calls, and what they may do, as types.
//!
//! A [`Caller`] is an authenticated, enabled user: the faces make one from a bearer token or a
//! browser session. A privileged service takes an [`Authorized<P>`] for its permission `P`; the
//! only way to get one is [`Core::authorize`], which checks the caller's *active* roles now.
//! A face that forgets the check does not compile, because it has nothing to pass.
//!
//! Eligibility is never enough: administrators use PIM themselves, and activate before they
//! administer.

use crate::Core;
use policy::directory::AssignmentStatus;
use policy::ids::UserId;
use policy::roles::BuiltInRole;
use std::marker::PhantomData;
use store::{AssignmentQuery, AuditEntry, StoreError, User};

/// An authenticated caller whose account is enabled.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: User,
}

impl Caller {
    /// The caller as the user the faces authenticated.
    pub fn new(user: User) -> Caller {
        Caller { user }
    }

    /// The caller's id.
    pub fn id(&self) -> UserId {
        UserId::trusted(self.user.id.clone())
    }

    /// An audit entry for something the caller did (category `RoleManagement` unless changed).
    pub fn audit(
        &self,
        category: &str,
        activity: &str,
        operation_type: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> AuditEntry {
        AuditEntry::new(category, activity, operation_type, at)
            .by_user(&self.user.id, Some(&self.user.user_principal_name))
    }
}

/// A permission: the active roles that grant it, and the sentence of a refusal.
pub trait Permission {
    /// Roles whose active holders have the permission.
    const ROLES: &'static [BuiltInRole];
    /// What the permission allows, as the subject of a sentence ("Administering roles").
    const WHAT: &'static str;
    /// The roles in words, for the refusal.
    const ROLE_NAMES: &'static str;
}

/// Administering PIM: role settings, eligible and active assignments, decisions on extensions
/// and renewals, temporary access passes, lint and pre-flight.
#[derive(Debug, Clone, Copy)]
pub struct ManageRoles;

impl Permission for ManageRoles {
    const ROLES: &'static [BuiltInRole] = &[
        BuiltInRole::PrivilegedRoleAdministrator,
        BuiltInRole::GlobalAdministrator,
    ];
    const WHAT: &'static str = "Administering roles";
    const ROLE_NAMES: &'static str = "Privileged Role Administrator or Global Administrator";
}

/// Reading Conditional Access policies.
#[derive(Debug, Clone, Copy)]
pub struct ReadConditionalAccess;

impl Permission for ReadConditionalAccess {
    const ROLES: &'static [BuiltInRole] = &[
        BuiltInRole::GlobalAdministrator,
        BuiltInRole::ConditionalAccessAdministrator,
        BuiltInRole::SecurityAdministrator,
        BuiltInRole::PrivilegedRoleAdministrator,
        BuiltInRole::SecurityReader,
        BuiltInRole::GlobalReader,
    ];
    const WHAT: &'static str = "Reading Conditional Access policies";
    const ROLE_NAMES: &'static str = "Global, Conditional Access, Security or Privileged Role \
                                      Administrator, or Security or Global Reader";
}

/// Creating, changing and deleting Conditional Access policies.
#[derive(Debug, Clone, Copy)]
pub struct ManageConditionalAccess;

impl Permission for ManageConditionalAccess {
    const ROLES: &'static [BuiltInRole] = &[
        BuiltInRole::GlobalAdministrator,
        BuiltInRole::ConditionalAccessAdministrator,
        BuiltInRole::SecurityAdministrator,
    ];
    const WHAT: &'static str = "Changing Conditional Access policies";
    const ROLE_NAMES: &'static str = "Global, Conditional Access or Security Administrator";
}

/// Creating, changing and deleting users (changing those who hold or may activate a role
/// also needs an active Global Administrator: see `crate::users`).
#[derive(Debug, Clone, Copy)]
pub struct ManageUsers;

impl Permission for ManageUsers {
    const ROLES: &'static [BuiltInRole] = &[
        BuiltInRole::GlobalAdministrator,
        BuiltInRole::UserAdministrator,
    ];
    const WHAT: &'static str = "Managing users";
    const ROLE_NAMES: &'static str = "Global or User Administrator";
}

/// Creating and deleting groups and changing their members (a role-assignable group also takes
/// [`ManageRoles`]: see `crate::groups`).
#[derive(Debug, Clone, Copy)]
pub struct ManageGroups;

impl Permission for ManageGroups {
    const ROLES: &'static [BuiltInRole] = &[
        BuiltInRole::GlobalAdministrator,
        BuiltInRole::UserAdministrator,
        BuiltInRole::PrivilegedRoleAdministrator,
    ];
    const WHAT: &'static str = "Managing groups";
    const ROLE_NAMES: &'static str = "Global, User or Privileged Role Administrator";
}

/// Reading the sign-in log and the audit log.
#[derive(Debug, Clone, Copy)]
pub struct ReadAuditLogs;

impl Permission for ReadAuditLogs {
    const ROLES: &'static [BuiltInRole] = &[
        BuiltInRole::GlobalAdministrator,
        BuiltInRole::SecurityAdministrator,
        BuiltInRole::SecurityReader,
        BuiltInRole::GlobalReader,
    ];
    const WHAT: &'static str = "Reading the sign-in and audit logs";
    const ROLE_NAMES: &'static str =
        "Global or Security Administrator, or Security or Global Reader";
}

/// Proof that the caller held a role granting `P` when the check was made. Only
/// [`Core::authorize`] makes one; it cannot be built, cloned into another permission, or
/// deserialized elsewhere:
///
/// ```compile_fail
/// // A face cannot make a permission without the check: the fields are private.
/// fn forge(caller: app::Caller) -> app::Authorized<app::authz::ManageRoles> {
///     app::Authorized { caller, _permission: std::marker::PhantomData }
/// }
/// ```
///
/// ```compile_fail
/// // Nor turn one permission into another.
/// fn widen(
///     a: app::Authorized<app::authz::ReadConditionalAccess>,
/// ) -> app::Authorized<app::authz::ManageConditionalAccess> {
///     a
/// }
/// ```
#[derive(Debug)]
pub struct Authorized<P: Permission> {
    caller: Caller,
    _permission: PhantomData<P>,
}

impl<P: Permission> Authorized<P> {
    /// Who was authorized.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }
}

/// The caller lacks the permission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Denied {
    /// The sentence for the caller: which roles are needed, and that an eligible administrator
    /// must activate first.
    pub message: String,
}

/// Why an authorization check did not produce a permission.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// The caller lacks it.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Core {
    /// Checks that `caller` actively holds, now, one of the roles granting `P` (directly or
    /// through a group).
    pub async fn authorize<P: Permission>(
        &self,
        caller: &Caller,
    ) -> Result<Authorized<P>, AuthorizeError> {
        if self.holds_active_role(&caller.id(), P::ROLES).await? {
            Ok(Authorized {
                caller: caller.clone(),
                _permission: PhantomData,
            })
        } else {
            Err(Denied {
                message: denial::<P>(),
            }
            .into())
        }
    }

    /// Whether `caller` would be authorized for `P` (to show or hide what a page offers; a
    /// change still needs [`Core::authorize`]).
    pub async fn may<P: Permission>(&self, caller: &Caller) -> Result<bool, StoreError> {
        self.holds_active_role(&caller.id(), P::ROLES).await
    }

    /// The built-in roles the caller holds actively now, read once, to show what several
    /// permissions would allow (a page's navigation); a change still needs
    /// [`Core::authorize`].
    pub async fn active_roles(&self, caller: &Caller) -> Result<ActiveRoles, StoreError> {
        Ok(ActiveRoles(
            self.active_roles_among(&caller.id(), &BuiltInRole::ALL)
                .await?,
        ))
    }

    /// Whether `user` holds one of `roles` actively now, directly or through a group.
    pub async fn holds_active_role(
        &self,
        user: &UserId,
        roles: &[BuiltInRole],
    ) -> Result<bool, StoreError> {
        Ok(!self.active_roles_among(user, roles).await?.is_empty())
    }

    /// Which of `roles` `user` holds actively now, directly or through a group.
    pub async fn active_roles_among(
        &self,
        user: &UserId,
        roles: &[BuiltInRole],
    ) -> Result<Vec<BuiltInRole>, StoreError> {
        let now = self.now();
        let mut principals = vec![user.as_str().to_string()];
        principals.extend(self.store.transitive_groups(user.as_str()).await?);
        let mut held = Vec::new();
        for principal in principals {
            let active = self
                .store
                .list_scheduled_assignments(&AssignmentQuery {
                    principal_id: Some(principal),
                    status: Some(AssignmentStatus::Active),
                    in_force_at: Some(now),
                    ..AssignmentQuery::default()
                })
                .await?;
            for role in active
                .iter()
                .filter_map(|s| BuiltInRole::from_id(s.assignment.role_definition_id.as_str()))
            {
                if roles.contains(&role) && !held.contains(&role) {
                    held.push(role);
                }
            }
        }
        Ok(held)
    }

    /// The authentication contexts a write under `P` re-proves: those the activation settings
    /// of the caller's active roles granting `P` require. An administrator who activated Global
    /// Administrator behind a phishing-resistant context re-proves that context, not merely a
    /// password, before the admin center changes anything in their name.
    pub async fn reauthentication_contexts<P: Permission>(
        &self,
        caller: &Caller,
    ) -> Result<Vec<String>, StoreError> {
        self.reauthentication_contexts_of(caller, P::ROLES).await
    }

    /// The contexts the activation settings of the caller's active roles among `roles` require
    /// (each once): [`Core::reauthentication_contexts`] for several permissions in one read.
    pub async fn reauthentication_contexts_of(
        &self,
        caller: &Caller,
        roles: &[BuiltInRole],
    ) -> Result<Vec<String>, StoreError> {
        let mut contexts = Vec::new();
        for role in self.active_roles_among(&caller.id(), roles).await? {
            let settings = self.role_settings(role.id().as_str()).await?;
            let required = settings
                .policy
                .authentication_context()
                .and_then(|r| r.required_context().ok().flatten());
            if let Some(context) = required.map(|c| c.to_string()) {
                if !contexts.contains(&context) {
                    contexts.push(context);
                }
            }
        }
        Ok(contexts)
    }
}

/// The built-in roles a caller held actively when read ([`Core::active_roles`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActiveRoles(Vec<BuiltInRole>);

impl ActiveRoles {
    /// Whether these roles grant `P` (what [`Core::may`] answers, without reading again).
    pub fn allow<P: Permission>(&self) -> bool {
        self.0.iter().any(|r| P::ROLES.contains(r))
    }
}

/// The refusal's sentence for `P`.
pub fn denial<P: Permission>() -> String {
    format!(
        "{} requires an active {} assignment, and the caller has none in force now. An \
         administrator who is only eligible for one of these roles must activate it first \
         (selfActivate at /v1.0/roleManagement/directory/roleAssignmentScheduleRequests), then \
         send this request again.",
        P::WHAT,
        P::ROLE_NAMES
    )
}
