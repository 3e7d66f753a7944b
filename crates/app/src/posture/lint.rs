//! The lint of the whole posture: every role's settings, Conditional Access, and registering
//! security info.

use super::*;
use crate::authz::ReadConditionalAccess;
use crate::{Authorized, Core};
use policy::conditional_access::ConditionalAccessPolicy;
use policy::posture::{targets_context, PostureKind};

/// The contexts role activation requires, with the roles requiring each.
pub(super) fn context_uses(roles: &[RoleSettings]) -> Vec<ContextUse> {
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
pub(super) async fn weakly_registered(
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

/// Whether `finding` concerns `policy`: it names the policy, or a context the policy targets
/// (a context's findings name no single policy, but each policy on it is where the fix goes).
pub fn concerns(finding: &PostureFinding, policy: &ConditionalAccessPolicy) -> bool {
    finding
        .policy_id
        .as_deref()
        .is_some_and(|id| id.eq_ignore_ascii_case(&policy.id))
        || finding
            .context
            .as_deref()
            .is_some_and(|c| targets_context(policy, c))
}

impl Core {
    /// The Conditional Access findings of the posture lint (what `portcullis lint` reports
    /// under Conditional Access, without a break-glass designation), for the admin center's
    /// policy pages. They name policies and contexts, not users' methods, so a Conditional
    /// Access reader may see them.
    pub async fn conditional_access_findings(
        &self,
        _allowed: &Authorized<ReadConditionalAccess>,
    ) -> Result<Vec<PostureFinding>, PostureError> {
        let now = self.now();
        let roles = role_settings(&self.store, now).await?;
        // The engine the service keeps current, not a fresh read and copy of the tenant: the
        // policy list lints at every view.
        let engine = self.engine().await.map_err(read("the tenant"))?;
        Ok(
            lint_conditional_access_on(&engine, &[], &context_uses(&roles))
                .into_iter()
                .filter(|f| f.kind != PostureKind::NoBreakGlassDesignated)
                .collect(),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn finding(policy_id: Option<&str>, context: Option<&str>) -> PostureFinding {
        PostureFinding {
            severity: Severity::Warning,
            kind: PostureKind::ContextWithoutStrength,
            object: "x".into(),
            policy_id: policy_id.map(str::to_string),
            context: context.map(str::to_string),
            message: String::new(),
            fix: String::new(),
        }
    }

    #[test]
    fn a_finding_concerns_the_policy_it_names_or_whose_context_it_is_about() {
        let policy: ConditionalAccessPolicy = serde_json::from_value(json!({
            "id": "AbC-1", "state": "enabled",
            "conditions": { "applications": {
                "includeAuthenticationContextClassReferences": ["c1"] } }
        }))
        .unwrap();
        assert!(concerns(&finding(Some("abc-1"), None), &policy));
        assert!(concerns(&finding(None, Some("c1")), &policy));
        assert!(!concerns(&finding(Some("other"), Some("c2")), &policy));
        assert!(!concerns(&finding(None, None), &policy));
    }
}
