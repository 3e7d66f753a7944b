//! Conditional Access policies as a service: reading them, and writing one (create, merge-patch,
//! delete) under the checks every face must make.
//!
//! A write is refused, audited and with nothing written, when it adds a value Graph does not
//! define or a number out of Entra's range ([`policy::api_write`]; what a tenant import kept is
//! not held against a write that leaves it alone), or a validation error the tenant did not have.
//!
//! **Lockout guard**: a change after which no user eligible for Global Administrator could
//! satisfy what activating it requires (the strengths of the enabled policies on its
//! authentication context, checked against the methods each has registered), while before it
//! some could, is refused unless the caller overrides the guard. The check and the write are
//! tied by the configuration's generation: a change that landed in between makes the write
//! retry against the new state. The guard itself is in `guard`.

use crate::authz::{ManageConditionalAccess, ReadConditionalAccess};
use crate::code::ErrorCode;
use crate::posture::PostureError;
use crate::{Authorized, Core};
use chrono::{DateTime, Utc};
use documents::fresh_document;
use policy::api_write::write_violations;
use policy::conditional_access::ConditionalAccessPolicy;
use policy::engine::Engine;
use policy::ids::PolicyId;
use policy::{Severity, Tenant};
use serde_json::Value;
use std::collections::BTreeSet;
use store::{AuditEntry, ConfigKind, StoreError};

pub mod contexts;
mod documents;
mod guard;
pub mod locations;
pub mod strengths;

pub use guard::AdminLockout;

/// A change to one policy.
#[derive(Debug, Clone)]
pub enum PolicyChange {
    /// A new policy from this Graph document (its id, timestamps and annotations are the
    /// service's to set).
    Create(Value),
    /// A JSON merge patch (RFC 7386) of the stored document.
    Patch(PolicyId, Value),
    /// Deleting the policy.
    Delete(PolicyId),
}

/// Whether the lockout guard may refuse the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockoutGuard {
    /// Refuse a change that would lock every eligible Global Administrator out.
    Enforce,
    /// Write it anyway (`?force=true`); the audit entry says so.
    Override,
}

/// A change as written.
#[derive(Debug, Clone)]
pub struct Written {
    /// The policy's id.
    pub id: String,
    /// The policy as stored (`None`: deleted).
    pub policy: Option<ConditionalAccessPolicy>,
}

/// Why a policy could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// No policy has this id.
    #[error("Conditional Access policy '{0}' does not exist.")]
    NotFound(String),
    /// A patch tried to change the policy's id.
    #[error("A policy's id cannot be changed.")]
    IdChanged,
    /// The document (after the patch) is not a policy.
    #[error("The body is not a conditionalAccessPolicy: {0}")]
    NotAPolicy(serde_json::Error),
    /// Values Graph does not define, or numbers out of Entra's range.
    #[error("The policy cannot be written: {}.", .0.join("; "))]
    RefusedValues(Vec<String>),
    /// Validation errors the tenant did not have before.
    #[error("The policy is not valid: {}.", .0.join("; "))]
    Invalid(Vec<String>),
    /// The policy names users, groups, roles, named locations or authentication contexts that
    /// do not exist (ones it named before are not held against it).
    #[error("The policy names what does not exist: {}.", .0.join("; "))]
    MissingReferences(Vec<String>),
    /// The change would lock every eligible Global Administrator out of activation.
    #[error(
        "After this change no user eligible for Global Administrator could activate it: its \
         activation requires authentication context {context}, and {}. Have them register a \
         method that satisfies it first (see /v1.0/portcullis/preflight?role=Global%20Administrator), \
         or send the change again with ?force=true.",
        .lacking.join("; ")
    )]
    Lockout {
        /// The context activating Global Administrator requires.
        context: String,
        /// Who cannot satisfy what, one sentence each.
        lacking: Vec<String>,
    },
    /// Other changes kept landing between the check and the write.
    #[error(
        "The Conditional Access configuration kept changing while this change was checked; \
         send it again."
    )]
    ConcurrentChange,
    /// A stored policy does not serialize (internal).
    #[error("a stored policy does not serialize: {0}")]
    Unrenderable(#[source] serde_json::Error),
    /// The lockout guard could not read what it checks (internal).
    #[error(transparent)]
    Posture(#[from] PostureError),
    /// The store failed (internal).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PolicyError {
    /// The Graph error code of a caller's mistake; `None` for an internal failure.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            PolicyError::NotFound(_) => Some(ErrorCode::ResourceNotFound),
            PolicyError::IdChanged
            | PolicyError::NotAPolicy(_)
            | PolicyError::RefusedValues(_)
            | PolicyError::Invalid(_)
            | PolicyError::MissingReferences(_) => Some(ErrorCode::BadRequest),
            PolicyError::Lockout { .. } => Some(ErrorCode::ConditionalAccessLockout),
            PolicyError::ConcurrentChange => Some(ErrorCode::ConcurrentChange),
            PolicyError::Unrenderable(_) | PolicyError::Posture(_) | PolicyError::Store(_) => None,
        }
    }
}

impl Core {
    /// Every Conditional Access policy, as stored.
    pub async fn conditional_access_policies(
        &self,
        _allowed: &Authorized<ReadConditionalAccess>,
    ) -> Result<Vec<ConditionalAccessPolicy>, PolicyError> {
        Ok(self.store.list_config(ConfigKind::Policy).await?)
    }

    /// One Conditional Access policy.
    pub async fn conditional_access_policy(
        &self,
        _allowed: &Authorized<ReadConditionalAccess>,
        id: &PolicyId,
    ) -> Result<ConditionalAccessPolicy, PolicyError> {
        self.stored_policy(id).await
    }

    async fn stored_policy(&self, id: &PolicyId) -> Result<ConditionalAccessPolicy, PolicyError> {
        self.store
            .find_config(ConfigKind::Policy, id.as_str())
            .await?
            .ok_or_else(|| PolicyError::NotFound(id.as_str().to_string()))
    }

    /// Applies `change` under the checks (values, validation, the lockout guard unless
    /// overridden), audited whether written or refused; tells the engine cache of the write.
    pub async fn write_conditional_access_policy(
        &self,
        allowed: &Authorized<ManageConditionalAccess>,
        change: PolicyChange,
        guard: LockoutGuard,
    ) -> Result<Written, PolicyError> {
        let now = self.now();
        let (activity, operation) = match &change {
            PolicyChange::Create(_) => ("Add conditional access policy", "Add"),
            PolicyChange::Patch(..) => ("Update conditional access policy", "Update"),
            PolicyChange::Delete(_) => ("Delete conditional access policy", "Delete"),
        };
        let new_id = store::new_id();
        for attempt in 0..documents::ATTEMPTS {
            if attempt > 0 {
                documents::back_off(attempt).await;
            }
            let generation = self.store.config_generation().await?;
            let before = self.store.load_tenant(now).await?;
            let (id, before_policy, after_policy) = match &change {
                PolicyChange::Create(body) => (
                    new_id.clone(),
                    None,
                    Some(created_policy(body, &new_id, now)?),
                ),
                PolicyChange::Patch(id, patch) => {
                    let current = self.stored_policy(id).await?;
                    let after = patched_policy(&current, patch, now)?;
                    (current.id.clone(), Some(current), Some(after))
                }
                PolicyChange::Delete(id) => {
                    let current = self.stored_policy(id).await?;
                    (current.id.clone(), Some(current), None)
                }
            };
            let after = with_change(&before, &id, after_policy.as_ref());
            let name = after_policy
                .as_ref()
                .map(|p| p.display_name.clone())
                .unwrap_or_default();
            let audit_entry = || {
                allowed
                    .caller()
                    .audit("Policy", activity, operation, now)
                    .target("Policy", &id, (!name.is_empty()).then_some(name.as_str()))
            };
            if let Err(refusal) = check_write(
                &before,
                &after,
                before_policy.as_ref(),
                after_policy.as_ref(),
            ) {
                return Err(self.refused(audit_entry(), refusal).await);
            }
            if let Some(p) = &after_policy {
                let missing = self
                    .new_missing_references(&before, before_policy.as_ref(), p)
                    .await?;
                if !missing.is_empty() {
                    return Err(self
                        .refused(audit_entry(), PolicyError::MissingReferences(missing))
                        .await);
                }
            }
            let enforced_after = after_policy
                .as_ref()
                .is_some_and(policy::posture::is_enforced);
            if enforced_after {
                if let Some(lockout) = self.admin_lockout(&before, &after, now).await? {
                    let lockout = PolicyError::Lockout {
                        context: lockout.context,
                        lacking: lockout.lacking,
                    };
                    match guard {
                        LockoutGuard::Override => {
                            tracing::warn!(policy = %id, by = %allowed.caller().user.user_principal_name, "lockout guard overridden with force=true");
                        }
                        LockoutGuard::Enforce => {
                            return Err(self.refused(audit_entry(), lockout).await);
                        }
                    }
                }
            }
            let mut audit = audit_entry();
            if guard == LockoutGuard::Override {
                audit = audit.detail("force", "true");
            }
            let written = self
                .store
                .write_config_checked(
                    ConfigKind::Policy,
                    &id,
                    after_policy.as_ref(),
                    generation,
                    &audit,
                )
                .await?;
            if written {
                self.tenant_changed();
                return Ok(Written {
                    id,
                    policy: after_policy,
                });
            }
        }
        Err(PolicyError::ConcurrentChange)
    }

    /// What `after` names that `tenant` does not hold, and `before` (the stored policy) did not
    /// already name: a write is not blamed for what an import put there.
    async fn new_missing_references(
        &self,
        tenant: &Tenant,
        before: Option<&ConditionalAccessPolicy>,
        after: &ConditionalAccessPolicy,
    ) -> Result<Vec<String>, PolicyError> {
        let roles: BTreeSet<String> = self
            .store
            .list_role_definitions()
            .await?
            .iter()
            .map(|d| d.id.to_ascii_lowercase())
            .collect();
        let known = |id: &str| roles.contains(&id.to_ascii_lowercase());
        let old = before
            .map(|b| policy::references::missing(b, tenant, &known))
            .unwrap_or_default();
        Ok(policy::references::missing(after, tenant, &known)
            .difference(&old)
            .map(ToString::to_string)
            .collect())
    }

    /// Records a refused write in the audit log, then returns the refusal.
    async fn refused(&self, entry: AuditEntry, error: PolicyError) -> PolicyError {
        self.audit_refusal(entry, &error).await;
        error
    }
}

fn parse(value: Value) -> Result<ConditionalAccessPolicy, PolicyError> {
    serde_json::from_value(value).map_err(PolicyError::NotAPolicy)
}

/// A new policy from a client's `body`, under the service's `id` and `createdDateTime`.
pub(crate) fn created_policy(
    body: &Value,
    id: &str,
    now: DateTime<Utc>,
) -> Result<ConditionalAccessPolicy, PolicyError> {
    parse(fresh_document(body, id, now, &[]))
}

/// `current` with the merge patch `patch` applied (its id kept, `modifiedDateTime` now).
pub(crate) fn patched_policy(
    current: &ConditionalAccessPolicy,
    patch: &Value,
    now: DateTime<Utc>,
) -> Result<ConditionalAccessPolicy, PolicyError> {
    if patch
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|given| !given.eq_ignore_ascii_case(&current.id))
    {
        return Err(PolicyError::IdChanged);
    }
    let mut document = serde_json::to_value(current).map_err(PolicyError::Unrenderable)?;
    policy::merge_patch::merge_patch(&mut document, patch);
    document["id"] = Value::String(current.id.clone());
    document["modifiedDateTime"] = Value::String(now.to_rfc3339());
    parse(document)
}

/// The checks of a write that read nothing from the store: no new refused value in the policy
/// written, no new validation error in the tenant `after` it.
pub(crate) fn check_write(
    before: &Tenant,
    after: &Tenant,
    before_policy: Option<&ConditionalAccessPolicy>,
    after_policy: Option<&ConditionalAccessPolicy>,
) -> Result<(), PolicyError> {
    if let Some(p) = after_policy {
        let refused_values = new_write_violations(before_policy, p);
        if !refused_values.is_empty() {
            return Err(PolicyError::RefusedValues(refused_values));
        }
    }
    let errors = new_errors(before, after);
    if !errors.is_empty() {
        return Err(PolicyError::Invalid(errors));
    }
    Ok(())
}

/// What the API refuses in `after` beyond what an import keeps (values Graph does not define,
/// numbers out of range; see [`policy::api_write`]) and `before` did not already carry: a
/// write is not blamed for what an import put there, but cannot add more of it.
fn new_write_violations(
    before: Option<&ConditionalAccessPolicy>,
    after: &ConditionalAccessPolicy,
) -> Vec<String> {
    let old: BTreeSet<String> = before
        .map(write_violations)
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    write_violations(after)
        .iter()
        .map(ToString::to_string)
        .filter(|v| !old.contains(v))
        .collect()
}

/// The tenant with `policy` in place of the one with its id (added if new), or without `id`.
pub(crate) fn with_change(
    tenant: &Tenant,
    id: &str,
    policy: Option<&ConditionalAccessPolicy>,
) -> Tenant {
    let mut after = tenant.clone();
    after
        .conditional_access_policies
        .retain(|p| !p.id.eq_ignore_ascii_case(id));
    if let Some(p) = policy {
        after.conditional_access_policies.push(p.clone());
    }
    after
}

/// The validation errors `after` has that `before` had not.
fn new_errors(before: &Tenant, after: &Tenant) -> Vec<String> {
    let errors = |t: &Tenant| -> BTreeSet<String> {
        policy::validate::validate(&Engine::new(t.clone()))
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.to_string())
            .collect()
    };
    let old = errors(before);
    errors(after)
        .into_iter()
        .filter(|e| !old.contains(e))
        .collect()
}
