//! The lockout pre-flight of a role's activation or of a policy: who is targeted yet has no
//! registered method that satisfies what is required.

use super::*;

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
            let preflight = preflight_activation(
                &tenant,
                &context.to_string(),
                Some(&role.definition.id),
                &eligible,
                &|id| methods.get(id).cloned().unwrap_or_default(),
            )
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
