//! The posture checks that read the store: the lint of role settings and Conditional Access, and
//! the lockout pre-flight of a role's activation or of a policy. One implementation serves
//! `portcullis lint` / `portcullis preflight` and the API (`/v1.0/portcullis/lint`,
//! `/v1.0/portcullis/preflight`); the rules themselves are pure (`pim::lint_role_policy`,
//! `policy::posture`).

use chrono::{DateTime, Utc};
use pim::{lint_role_policy, EnabledRule, RoleManagementPolicy, RoleRef, RuleId};
use policy::context::ContextId;
use policy::posture::{
    eligible_users, eligible_users_on, lint_conditional_access, lint_conditional_access_on,
    lint_registration, policy_strength, policy_targets, policy_targets_on, preflight_activation,
    preflight_policy, ActivationPreflight, ContextUse, PolicyPreflight, PostureFinding,
    PreflightError, RegisteredMethod, TargetUser, WeaklyRegistered,
};
use policy::registration::weaker_than_its_kind;
use policy::{Severity, Tenant};
use serde_json::{json, Value};
use std::collections::HashMap;
use store::{RoleDefinition, Store, StoreError};

mod lint;
mod preflight;
pub mod rollout;
pub use lint::{concerns, lint, LintReport};
pub use preflight::{preflight, Preflight, Subject};

/// Why a posture check could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PostureError {
    /// The store could not be read.
    #[error("cannot read {what}")]
    Read {
        /// What was being read.
        what: &'static str,
        /// Why not.
        #[source]
        source: StoreError,
    },
    /// A break-glass designation names nobody.
    #[error("--break-glass '{0}' is neither a user's sign-in name nor the id of a user or group")]
    UnknownBreakGlass(String),
    /// No role has this id or name.
    #[error("no role is named or has the id '{wanted}'; the roles are {names}")]
    UnknownRole {
        /// What was asked for.
        wanted: String,
        /// The roles there are, comma-separated.
        names: String,
    },
    /// The role's settings name a context that is not c1…c99.
    #[error("the settings of role '{role}' are invalid: {detail}")]
    InvalidSettings {
        /// The role's name.
        role: String,
        /// What is wrong.
        detail: String,
    },
    /// The role's activation requires no context, so there is no strength to check.
    #[error(
        "role '{role}' requires no {}, so there is no strength to pre-flight; require a context \
         whose policy demands a strength (see portcullis lint)",
        if *.mfa {
            "authentication context at activation: activation is then an MFA claim check (any \
             MFA in the session, however old, satisfies it)"
        } else {
            "authentication at activation (neither MFA nor an authentication context)"
        }
    )]
    NoContext {
        /// The role's name.
        role: String,
        /// Whether activation requires the MFA claim.
        mfa: bool,
    },
    /// The role's context has no strength to check.
    #[error("role '{role}' requires context {context}, but {reason}")]
    ContextPreflight {
        /// The role's name.
        role: String,
        /// The context.
        context: String,
        /// Why there is nothing to check.
        reason: PreflightError,
    },
    /// A policy pre-flight could not be made.
    #[error(transparent)]
    Policy(#[from] PreflightError),
}

impl PostureError {
    /// Whether the input named something that does not exist (an unknown role, policy or
    /// break-glass account), as opposed to a subject with nothing to check or a store failure.
    pub fn is_unknown_subject(&self) -> bool {
        matches!(
            self,
            PostureError::UnknownBreakGlass(_)
                | PostureError::UnknownRole { .. }
                | PostureError::Policy(PreflightError::UnknownPolicy(_))
        )
    }

    /// Whether the store failed (an internal error, not the caller's).
    pub fn is_store_failure(&self) -> bool {
        matches!(self, PostureError::Read { .. })
    }
}

fn read(what: &'static str) -> impl FnOnce(StoreError) -> PostureError {
    move |source| PostureError::Read { what, source }
}

/// A role with the settings that govern it.
#[derive(Debug, Clone)]
pub struct RoleSettings {
    /// The role.
    pub definition: RoleDefinition,
    /// Its settings.
    pub policy: RoleManagementPolicy,
    /// Whether they are stored (otherwise they are the defaults).
    pub stored: bool,
}

impl RoleSettings {
    /// The role as the lint names it.
    pub fn role_ref(&self) -> RoleRef {
        RoleRef {
            id: self.definition.id.clone(),
            display_name: Some(self.definition.display_name.clone()),
            is_privileged: policy::roles::BuiltInRole::from_id(&self.definition.id)
                .is_some_and(|r| r.is_privileged()),
        }
    }

    /// The context activation requires, if the rule is enabled with a valid one.
    pub fn required_context(&self) -> Option<ContextId> {
        self.policy
            .authentication_context()
            .and_then(|c| c.required_context().ok().flatten())
    }

    /// Whether activation requires MultiFactorAuthentication (an MFA claim).
    pub fn requires_mfa(&self) -> bool {
        self.policy
            .enablement(&RuleId::EnablementEndUserAssignment)
            .is_some_and(|e| e.requires(&EnabledRule::MultiFactorAuthentication))
    }

    /// What activation requires, in a few words.
    pub fn activation_summary(&self) -> String {
        match (
            self.policy
                .authentication_context()
                .filter(|c| c.is_enabled),
            self.requires_mfa(),
        ) {
            (Some(c), _) => match c.required_context() {
                Ok(Some(id)) => format!("activation requires context {id}"),
                _ => format!(
                    "activation requires context '{}', which is not c1 to c99",
                    c.claim_value.as_deref().unwrap_or("")
                ),
            },
            (None, true) => "activation requires an MFA claim".to_string(),
            (None, false) => "activation requires no authentication".to_string(),
        }
    }
}

/// Every role with its settings: the stored ones, or the defaults.
pub async fn role_settings(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Vec<RoleSettings>, PostureError> {
    let definitions = store
        .list_role_definitions()
        .await
        .map_err(read("the role definitions"))?;
    let stored = store
        .list_role_policies()
        .await
        .map_err(read("the role settings"))?;
    Ok(definitions
        .into_iter()
        .map(|definition| {
            match stored
                .iter()
                .find(|s| s.role_definition_id.eq_ignore_ascii_case(&definition.id))
            {
                Some(s) => RoleSettings {
                    policy: s.policy.clone(),
                    stored: true,
                    definition,
                },
                None => RoleSettings {
                    policy: RoleManagementPolicy::default_for(&definition.id, now),
                    stored: false,
                    definition,
                },
            }
        })
        .collect())
}

/// The ids of the break-glass accounts and groups given as sign-in names or ids.
pub fn resolve_break_glass(tenant: &Tenant, given: &[String]) -> Result<Vec<String>, PostureError> {
    let mut ids: Vec<String> = Vec::new();
    for g in given {
        let g = g.trim();
        let user = tenant.users.iter().find(|u| {
            u.id.eq_ignore_ascii_case(g)
                || u.user_principal_name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(g))
        });
        let id = match user {
            Some(u) => u.id.clone(),
            None => match tenant.groups.iter().find(|x| x.id.eq_ignore_ascii_case(g)) {
                Some(group) => group.id.clone(),
                None => return Err(PostureError::UnknownBreakGlass(g.to_string())),
            },
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// The methods of each user, by id, as the pre-flight reads them. `privileged` says which users
/// hold or are eligible for a directory role: their phishing-resistant credentials count only
/// with a vouching provenance, unless the tenant relaxed the rule (DESIGN §8.5).
pub async fn methods_of(
    store: &Store,
    users: &[TargetUser],
    privileged: &(dyn Fn(&str) -> bool + Sync),
    now: DateTime<Utc>,
) -> Result<HashMap<String, Vec<RegisteredMethod>>, PostureError> {
    methods_without(store, users, privileged, now, None).await
}

/// As [`methods_of`], as if the method `removed` (a user's id, the method's id) were gone: what
/// the lockout guard weighs before an administrator deletes a method.
pub async fn methods_without(
    store: &Store,
    users: &[TargetUser],
    privileged: &(dyn Fn(&str) -> bool + Sync),
    now: DateTime<Utc>,
    removed: Option<(&str, &str)>,
) -> Result<HashMap<String, Vec<RegisteredMethod>>, PostureError> {
    let relaxed = store
        .registration_provenance_relaxed()
        .await
        .map_err(read("the tenant settings"))?;
    let mut methods = HashMap::new();
    for u in users {
        let listed = store
            .list_methods(&u.id, now)
            .await
            .map_err(read("a user's registered methods"))?;
        let registered = listed
            .into_iter()
            .filter(|m| {
                removed.is_none_or(|(user, id)| !(u.id.eq_ignore_ascii_case(user) && m.id == id))
            })
            .map(|m| {
                let registration = m.registration();
                RegisteredMethod {
                    registered_under_weaker_proof: weaker_than_its_kind(
                        &m.method,
                        registration.as_ref(),
                        privileged(&u.id),
                        relaxed,
                    ),
                    method: m.method,
                    aaguid: m.aaguid,
                    label: m.label,
                    provenance: m.provenance,
                }
            })
            .collect();
        methods.insert(u.id.clone(), registered);
    }
    Ok(methods)
}
