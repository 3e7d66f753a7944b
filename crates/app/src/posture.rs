//! The posture checks that read the store: the lint of role settings and Conditional Access, and
//! the lockout pre-flight of a role's activation or of a policy. One implementation serves
//! `portcullis lint` / `portcullis preflight` and the API (`/v1.0/portcullis/lint`,
//! `/v1.0/portcullis/preflight`); the rules themselves are pure (`pim::lint_role_policy`,
//! `policy::posture`).

use chrono::{DateTime, Utc};
use pim::{lint_role_policy, EnabledRule, RoleManagementPolicy, RoleRef, RuleId};
use policy::context::ContextId;
use policy::posture::{
    eligible_users, lint_conditional_access, lint_registration, policy_strength, policy_targets,
    preflight_activation, preflight_policy, ActivationPreflight, ContextUse, PolicyPreflight,
    PostureFinding, PreflightError, RegisteredMethod, TargetUser, WeaklyRegistered,
};
use policy::registration::weaker_than_its_kind;
use policy::{Severity, Tenant};
use serde_json::{json, Value};
use std::collections::HashMap;
use store::{RoleDefinition, Store, StoreError};

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

/// The contexts role activation requires, with the roles requiring each.
fn context_uses(roles: &[RoleSettings]) -> Vec<ContextUse> {
    let mut uses: Vec<ContextUse> = Vec::new();
    for r in roles {
        let Some(context) = r.required_context().map(|c| c.to_string()) else {
            continue;
        };
        let name = r.definition.display_name.clone();
        match uses.iter_mut().find(|u| u.context == context) {
            Some(u) => u.roles.push(name),
            None => uses.push(ContextUse {
                context,
                roles: vec![name],
            }),
        }
    }
    uses
}

/// The lint of the whole posture.
#[derive(Debug, Clone)]
pub struct LintReport {
    /// Every role with its settings.
    pub roles: Vec<RoleSettings>,
    /// The findings of each role's settings, in the order of `roles`.
    pub role_findings: Vec<Vec<pim::Finding>>,
    /// The findings on Conditional Access.
    pub ca_findings: Vec<PostureFinding>,
    /// The findings on registering security info (provenance, the policy on registration).
    pub registration_findings: Vec<PostureFinding>,
    /// The break-glass accounts and groups, by id.
    pub break_glass: Vec<String>,
    /// How many policies, contexts the tenant holds.
    pub policies: usize,
    /// How many authentication contexts the tenant defines.
    pub contexts: usize,
}

impl LintReport {
    /// How many findings there are of each severity: errors, warnings, not enforced.
    pub fn counts(&self) -> (usize, usize, usize) {
        let (mut errors, mut warnings, mut not_enforced) = (0, 0, 0);
        let severities = self
            .role_findings
            .iter()
            .flatten()
            .map(|f| f.severity)
            .chain(self.ca_findings.iter().map(|f| f.severity))
            .chain(self.registration_findings.iter().map(|f| f.severity));
        for s in severities {
            match s {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
                Severity::NotEnforced => not_enforced += 1,
            }
        }
        (errors, warnings, not_enforced)
    }

    /// The report as JSON (`portcullis lint --json`, the API).
    pub fn to_json(&self) -> Value {
        let roles: Vec<Value> = self
            .roles
            .iter()
            .zip(&self.role_findings)
            .map(|(r, findings)| {
                json!({
                    "roleDefinitionId": r.definition.id,
                    "displayName": r.definition.display_name,
                    "settings": if r.stored { "stored" } else { "default" },
                    "activation": {
                        "authenticationContext": r.required_context().map(|c| c.to_string()),
                        "multiFactorAuthentication": r.requires_mfa(),
                    },
                    "findings": findings,
                })
            })
            .collect();
        let (errors, warnings, not_enforced) = self.counts();
        json!({
            "roles": roles,
            "conditionalAccess": self.ca_findings,
            "registration": self.registration_findings,
            "breakGlass": self.break_glass,
            "errors": errors,
            "warnings": warnings,
            "notEnforced": not_enforced,
        })
    }
}

/// Lints every role's settings and the tenant's Conditional Access, with `break_glass` (sign-in
/// names or ids) as the break-glass accounts.
pub async fn lint(
    store: &Store,
    break_glass: &[String],
    now: DateTime<Utc>,
) -> Result<LintReport, PostureError> {
    let roles = role_settings(store, now).await?;
    let tenant = store.load_tenant(now).await.map_err(read("the tenant"))?;
    let break_glass = resolve_break_glass(&tenant, break_glass)?;
    let uses = context_uses(&roles);
    let role_findings = roles
        .iter()
        .map(|r| lint_role_policy(&r.role_ref(), &r.policy))
        .collect();
    let ca_findings = lint_conditional_access(&tenant, &break_glass, &uses);
    let registration_findings = lint_registration(
        &tenant,
        store
            .registration_provenance_relaxed()
            .await
            .map_err(read("the tenant settings"))?,
        &weakly_registered(store, &tenant, now).await?,
    );
    Ok(LintReport {
        roles,
        role_findings,
        ca_findings,
        registration_findings,
        break_glass,
        policies: tenant.conditional_access_policies.len(),
        contexts: tenant.authentication_context_class_references.len(),
    })
}

/// The privileged users (holding or eligible for a directory role) whose phishing-resistant
/// credentials all have a provenance that does not vouch for them. The rule itself, not the
/// tenant's relaxation of it: the lint reports both.
async fn weakly_registered(
    store: &Store,
    tenant: &Tenant,
    now: DateTime<Utc>,
) -> Result<Vec<WeaklyRegistered>, PostureError> {
    let engine = policy::Engine::new(tenant.clone());
    let mut found = Vec::new();
    for user in tenant
        .users
        .iter()
        .filter(|u| u.account_enabled != Some(false) && engine.is_privileged(&u.id))
    {
        let methods = store
            .list_methods(&user.id, now)
            .await
            .map_err(read("a user's registered methods"))?;
        let strong: Vec<&store::MethodSummary> = methods
            .iter()
            .filter(|m| m.method.is_phishing_resistant())
            .collect();
        let weak: Vec<&&store::MethodSummary> = strong
            .iter()
            .filter(|m| weaker_than_its_kind(&m.method, m.registration().as_ref(), true, false))
            .collect();
        if !strong.is_empty() && weak.len() == strong.len() {
            found.push(WeaklyRegistered {
                user_principal_name: user
                    .user_principal_name
                    .clone()
                    .unwrap_or_else(|| user.id.clone()),
                credentials: weak
                    .iter()
                    .map(|m| {
                        let how = m.provenance.as_ref().map_or_else(
                            || "registered before provenance was kept".to_string(),
                            policy::registration::Provenance::describe,
                        );
                        format!("'{}' ({how})", m.label)
                    })
                    .collect(),
            });
        }
    }
    Ok(found)
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

/// What to pre-flight.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A role, by template id or name.
    Role(&'a str),
    /// A Conditional Access policy, by id.
    Policy(&'a str),
}

/// A pre-flight's result.
#[derive(Debug, Clone)]
pub enum Preflight {
    /// Of a role's activation.
    Role {
        /// The role's id.
        id: String,
        /// Its name.
        name: String,
        /// How many users are eligible for it.
        eligible: usize,
        /// The pre-flight of its context.
        preflight: ActivationPreflight,
    },
    /// Of a policy.
    Policy(PolicyPreflight),
}

impl Preflight {
    /// Whether every targeted user can satisfy what is required.
    pub fn everyone_can(&self) -> bool {
        match self {
            Preflight::Role { preflight, .. } => preflight.everyone_can(),
            Preflight::Policy(p) => p.report.everyone_can(),
        }
    }

    /// The result as JSON (`portcullis preflight --json`, the API).
    pub fn to_json(&self) -> Value {
        let everyone_can = self.everyone_can();
        match self {
            Preflight::Role {
                id,
                name,
                eligible,
                preflight,
            } => json!({
                "role": {"id": id, "displayName": name},
                "eligibleUsers": eligible,
                "activation": preflight,
                "everyoneCan": everyone_can,
            }),
            Preflight::Policy(p) => json!({
                "policy": p,
                "everyoneCan": everyone_can,
            }),
        }
    }
}

/// Pre-flights `subject` over the tenant the store holds, with `break_glass` (sign-in names or
/// ids) as the break-glass accounts: for a role, the context its activation requires, checked
/// for every eligible user; for a policy, its strength, checked for every user it includes.
pub async fn preflight(
    store: &Store,
    subject: Subject<'_>,
    break_glass: &[String],
    now: DateTime<Utc>,
) -> Result<Preflight, PostureError> {
    let tenant = store.load_tenant(now).await.map_err(read("the tenant"))?;
    let break_glass = resolve_break_glass(&tenant, break_glass)?;
    match subject {
        Subject::Role(wanted) => {
            let roles = role_settings(store, now).await?;
            let Some(role) = roles.iter().find(|r| {
                r.definition.id.eq_ignore_ascii_case(wanted)
                    || r.definition.display_name.eq_ignore_ascii_case(wanted)
            }) else {
                let names: Vec<&str> = roles
                    .iter()
                    .map(|r| r.definition.display_name.as_str())
                    .collect();
                return Err(PostureError::UnknownRole {
                    wanted: wanted.to_string(),
                    names: names.join(", "),
                });
            };
            let name = role.definition.display_name.clone();
            let context = match role.policy.authentication_context() {
                Some(rule) => {
                    rule.required_context()
                        .map_err(|e| PostureError::InvalidSettings {
                            role: name.clone(),
                            detail: e.to_string(),
                        })?
                }
                None => None,
            };
            let Some(context) = context else {
                return Err(PostureError::NoContext {
                    role: name,
                    mfa: role.requires_mfa(),
                });
            };
            let eligible = eligible_users(&tenant, &role.definition.id, &break_glass);
            // Eligible users are privileged by definition.
            let methods = methods_of(store, &eligible, &|_| true, now).await?;
            let preflight = preflight_activation(&tenant, &context.to_string(), &eligible, &|id| {
                methods.get(id).cloned().unwrap_or_default()
            })
            .map_err(|reason| PostureError::ContextPreflight {
                role: name.clone(),
                context: context.to_string(),
                reason,
            })?;
            Ok(Preflight::Role {
                id: role.definition.id.clone(),
                name,
                eligible: eligible.len(),
                preflight,
            })
        }
        Subject::Policy(id) => {
            let (policy, _) = policy_strength(&tenant, id)?;
            let targets = policy_targets(&tenant, policy, &break_glass);
            let engine = policy::Engine::new(tenant.clone());
            let methods = methods_of(store, &targets, &|id| engine.is_privileged(id), now).await?;
            Ok(Preflight::Policy(preflight_policy(
                &tenant,
                id,
                &break_glass,
                &|id| methods.get(id).cloned().unwrap_or_default(),
            )?))
        }
    }
}
