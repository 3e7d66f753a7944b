//! The lockout guard: whether a change would leave every user eligible for Global
//! Administrator unable to satisfy what activating it requires (the strengths of the enabled
//! policies on its authentication context, checked against the methods each has registered),
//! while before it some could.

use super::LockoutGuard;
use crate::posture::{methods_without, role_settings, PostureError};
use crate::Core;
use chrono::{DateTime, Utc};
use pim::RoleManagementPolicy;
use policy::directory::GLOBAL_ADMINISTRATOR;
use policy::posture::{eligible_users, preflight_activation};
use policy::roles::BuiltInRole;
use policy::Tenant;
use std::collections::BTreeSet;
use store::AuditEntry;

impl Core {
    /// The users eligible for Global Administrator who could activate it under `tenant` (and
    /// without the method `removed`, a user's id and the method's id), and who cannot satisfy
    /// what: all of them when its context has no strength to check.
    async fn able_global_admins(
        &self,
        tenant: &Tenant,
        removed: Option<(&str, &str)>,
        context: &str,
        now: DateTime<Utc>,
    ) -> Result<(BTreeSet<String>, Vec<String>), PostureError> {
        let eligible = eligible_users(tenant, GLOBAL_ADMINISTRATOR, &[]);
        let methods = methods_without(&self.store, &eligible, &|_| true, now, removed).await?;
        let all: BTreeSet<String> = eligible.iter().map(|u| u.id.clone()).collect();
        let Ok(preflight) = preflight_activation(
            tenant,
            context,
            Some(GLOBAL_ADMINISTRATOR),
            &eligible,
            &|id| methods.get(id).cloned().unwrap_or_default(),
        ) else {
            return Ok((all, Vec::new()));
        };
        let unable = preflight.unable_users();
        let lacking = preflight
            .policies
            .iter()
            .flat_map(|p| {
                p.report
                    .cannot
                    .iter()
                    .chain(&p.report.break_glass)
                    .filter(|r| !r.is_ready())
                    .map(move |r| {
                        format!(
                            "{} cannot satisfy '{}' of policy '{}' ({})",
                            r.user.user_principal_name,
                            p.report.strength_name,
                            p.policy_name,
                            r.advice
                                .as_deref()
                                .unwrap_or("no registrable method satisfies it")
                        )
                    })
            })
            .collect();
        Ok((all.difference(&unable).cloned().collect(), lacking))
    }

    /// The lockout the change from `before` to `after` would cause, if it would lock every
    /// Global Administrator out of activation while before it some could activate. Every write
    /// that can lock out (a policy, an import) asks this before it writes.
    pub async fn admin_lockout(
        &self,
        before: &Tenant,
        after: &Tenant,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminLockout>, PostureError> {
        self.admin_lockout_with(before, after, None, now).await
    }

    /// [`Core::admin_lockout`] for a change that also gives Global Administrator the settings
    /// `settings_after` (a rule change, an import of role settings): activation after the
    /// change requires the context those settings require, before it the one the stored
    /// settings require (if none, every eligible user could activate).
    pub(crate) async fn admin_lockout_with(
        &self,
        before: &Tenant,
        after: &Tenant,
        settings_after: Option<&RoleManagementPolicy>,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminLockout>, PostureError> {
        let context_before = self.global_admin_context(now).await?;
        let context_after = match settings_after {
            Some(policy) => policy
                .authentication_context()
                .and_then(|c| c.required_context().ok().flatten())
                .map(|c| c.to_string()),
            None => context_before.clone(),
        };
        self.lockout_between(
            Weighed::tenant(before, context_before.as_deref()),
            Weighed::tenant(after, context_after.as_deref()),
            now,
        )
        .await
    }

    /// The lockout that deleting the method `method_id` of user `user_id` would cause: a Global
    /// Administrator's last key that counts is a lockout like a policy that no key satisfies.
    pub(crate) async fn method_removal_lockout(
        &self,
        user_id: &str,
        method_id: &str,
    ) -> Result<Option<AdminLockout>, PostureError> {
        let now = self.now();
        let tenant = self.tenant_as_stored(now).await?;
        let context = self.global_admin_context(now).await?;
        let context = context.as_deref();
        let after = Weighed {
            removed: Some((user_id, method_id)),
            ..Weighed::tenant(&tenant, context)
        };
        self.lockout_between(Weighed::tenant(&tenant, context), after, now)
            .await
    }

    /// The tenant as stored now, for a guard that changes no tenant object.
    pub(crate) async fn tenant_as_stored(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Tenant, PostureError> {
        self.store
            .load_tenant(now)
            .await
            .map_err(|source| PostureError::Read {
                what: "the tenant",
                source,
            })
    }

    /// The context Global Administrator's activation requires now, as its settings say.
    async fn global_admin_context(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, PostureError> {
        let roles = role_settings(&self.store, now).await?;
        Ok(roles
            .iter()
            .find(|r| BuiltInRole::GlobalAdministrator.id() == r.definition.id)
            .and_then(|r| r.required_context())
            .map(|c| c.to_string()))
    }

    /// Who could activate Global Administrator in `w`: every eligible user when activation
    /// requires no context.
    async fn able(
        &self,
        w: &Weighed<'_>,
        now: DateTime<Utc>,
    ) -> Result<(BTreeSet<String>, Vec<String>), PostureError> {
        match w.context {
            Some(context) => {
                self.able_global_admins(w.tenant, w.removed, context, now)
                    .await
            }
            None => Ok((
                eligible_users(w.tenant, GLOBAL_ADMINISTRATOR, &[])
                    .into_iter()
                    .map(|u| u.id)
                    .collect(),
                Vec::new(),
            )),
        }
    }

    /// The lockout going from `before` to `after` would cause: none while someone could
    /// activate after, or nobody could before.
    async fn lockout_between(
        &self,
        before: Weighed<'_>,
        after: Weighed<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminLockout>, PostureError> {
        let Some(context) = after.context else {
            return Ok(None);
        };
        let (able_after, lacking) = self.able(&after, now).await?;
        if !able_after.is_empty() {
            return Ok(None);
        }
        let (able_before, _) = self.able(&before, now).await?;
        if able_before.is_empty() {
            return Ok(None);
        }
        Ok(Some(AdminLockout {
            context: context.to_string(),
            lacking,
        }))
    }
}

/// What the guard weighs on either side of a change: a tenant, a method as if gone, and the
/// context Global Administrator's activation requires.
struct Weighed<'a> {
    tenant: &'a Tenant,
    removed: Option<(&'a str, &'a str)>,
    context: Option<&'a str>,
}

impl<'a> Weighed<'a> {
    fn tenant(tenant: &'a Tenant, context: Option<&'a str>) -> Self {
        Weighed {
            tenant,
            removed: None,
            context,
        }
    }
}

/// A change would leave no user eligible for Global Administrator able to activate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminLockout {
    /// The context activating Global Administrator requires.
    pub context: String,
    /// Who cannot satisfy what, one sentence each.
    pub lacking: Vec<String>,
}

impl std::fmt::Display for AdminLockout {
    /// The refusal's first sentence; each face adds how to override it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "After this change no user eligible for Global Administrator could activate it: its \
             activation requires authentication context {}, and {}.",
            self.context,
            self.lacking.join("; ")
        )
    }
}

impl Core {
    /// The lockout guard on a change that `change` makes to the tenant as stored now: the
    /// audit entry to write (marked when forced), or the refusal `refuse` makes (audited). For
    /// the writes that are not tied to the configuration's generation (users, groups) and for
    /// a strength's check inside its generation-tied write.
    pub(crate) async fn guard_tenant_change<E>(
        &self,
        audit: AuditEntry,
        guard: LockoutGuard,
        change: impl FnOnce(&mut Tenant),
        refuse: impl FnOnce(AdminLockout) -> E,
    ) -> Result<AuditEntry, E>
    where
        E: std::fmt::Display + From<store::StoreError> + From<PostureError>,
    {
        let now = self.now();
        let before = self.store.load_tenant(now).await?;
        let mut after = before.clone();
        change(&mut after);
        let lockout = self.admin_lockout(&before, &after, now).await?;
        self.lockout_verdict(lockout, guard, audit, refuse).await
    }

    /// The lockout guard's verdict on a write about to be made with `audit`: no lockout, the
    /// entry as it is; a lockout the guard enforces, the refusal `refuse` makes of it, audited;
    /// an overridden one, the entry marked `force: true` (and a warning in the log).
    pub(crate) async fn lockout_verdict<E: std::fmt::Display>(
        &self,
        lockout: Option<AdminLockout>,
        guard: LockoutGuard,
        audit: AuditEntry,
        refuse: impl FnOnce(AdminLockout) -> E,
    ) -> Result<AuditEntry, E> {
        let Some(lockout) = lockout else {
            return Ok(audit);
        };
        match guard {
            LockoutGuard::Enforce => {
                let refused = refuse(lockout);
                self.audit_refusal(audit, &refused).await;
                Err(refused)
            }
            LockoutGuard::Override => {
                tracing::warn!(
                    activity = %audit.activity_display_name,
                    "lockout guard overridden with force"
                );
                Ok(audit.detail("force", "true"))
            }
        }
    }
}
