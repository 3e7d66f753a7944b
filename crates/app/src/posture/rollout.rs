//! Rollout readiness: for each role whose activation requires an authentication context, and
//! each Conditional Access policy on that context whatever its state (checking before a policy
//! is switched on is the point), who among the role's eligible users can satisfy the policy's
//! strength, what the lint says about both, and whether a named eligible user has run the
//! whole chain — an activation whose step-up was made with methods that satisfy the strength,
//! after the policy's last change. Nothing new is stored: the pilot is read from the activation
//! records and the sign-in log.

use super::lint::context_uses;
use super::*;
use crate::authz::ManageRoles;
use crate::{Authorized, Core};
use pim::{Action, Status};
use policy::conditional_access::ConditionalAccessPolicy;
use policy::posture::{preflight_strength, targets_context, PreflightReport};
use store::{ScheduleRequestQuery, SignInQuery, SignInResult};

/// One policy on a role's context, as its rollout stands.
#[derive(Debug, Clone)]
pub struct PolicyRollout {
    /// The policy's id.
    pub policy_id: String,
    /// Its name.
    pub policy_name: String,
    /// Its state (`enabled`, `enabledForReportingButNotEnforced`, `disabled`).
    pub state: String,
    /// When it last changed, if known.
    pub changed_at: Option<DateTime<Utc>>,
    /// The role's eligible users against the policy's strength; why not, when the policy
    /// requires no strength (or an unknown one).
    pub registration: Result<PreflightReport, String>,
    /// The lint's findings on the policy or its context.
    pub findings: Vec<PostureFinding>,
}

impl PolicyRollout {
    /// Whether it is enforced already.
    pub fn is_on(&self) -> bool {
        self.state == "enabled"
    }

    /// (a): every eligible user the policy applies to (break-glass accounts apart) can satisfy
    /// its strength, and it applies to someone.
    pub fn registration_ready(&self) -> bool {
        self.registration
            .as_ref()
            .is_ok_and(|r| r.cannot.is_empty() && !r.can.is_empty())
    }

    /// (b): no error among the lint's findings on the policy or its context.
    pub fn lint_clean(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// A role whose activation requires a context, and the policies on it.
#[derive(Debug, Clone)]
pub struct RoleRollout {
    /// The role's id.
    pub role_id: String,
    /// Its name.
    pub role_name: String,
    /// The context its activation requires.
    pub context: String,
    /// The lint's findings on the role's settings.
    pub findings: Vec<pim::Finding>,
    /// The policies targeting the context, in tenant order.
    pub policies: Vec<PolicyRollout>,
}

/// The rollout of every role whose activation requires a context.
pub async fn rollout(
    core: &Core,
    _allowed: &Authorized<ManageRoles>,
) -> Result<Vec<RoleRollout>, PostureError> {
    let now = core.now();
    let roles = role_settings(&core.store, now).await?;
    if roles.iter().all(|r| r.required_context().is_none()) {
        return Ok(Vec::new());
    }
    // Over the engine the service keeps current, and with only the lint's parts the page
    // shows (the roles' settings and Conditional Access): reading and copying a large tenant
    // several times at every view cost seconds at 100,000 users.
    let engine = core.engine().await.map_err(read("the tenant"))?;
    let tenant = engine.tenant();
    let ca_findings = lint_conditional_access_on(&engine, &[], &context_uses(&roles));
    let mut out = Vec::new();
    for role in &roles {
        let Some(context) = role.required_context() else {
            continue;
        };
        let findings = lint_role_policy(&role.role_ref(), &role.policy);
        let context = context.to_string();
        let eligible = eligible_users_on(&engine, &role.definition.id, &[]);
        let methods = methods_of(&core.store, &eligible, &|_| true, now).await?;
        let mut policies = Vec::new();
        for p in tenant
            .conditional_access_policies
            .iter()
            .filter(|p| targets_context(p, &context))
        {
            let registration = match policy_strength(tenant, &p.id) {
                Ok((_, strength)) => {
                    let applies: Vec<String> = policy_targets_on(&engine, p, &[])
                        .into_iter()
                        .map(|t| t.id)
                        .collect();
                    let targets: Vec<TargetUser> = eligible
                        .iter()
                        .filter(|u| applies.iter().any(|a| a.eq_ignore_ascii_case(&u.id)))
                        .cloned()
                        .collect();
                    Ok(preflight_strength(&strength, &targets, &|id| {
                        methods.get(id).cloned().unwrap_or_default()
                    }))
                }
                Err(e) => Err(e.to_string()),
            };
            policies.push(PolicyRollout {
                policy_id: p.id.clone(),
                policy_name: p.name().to_string(),
                state: p.state.to_string(),
                changed_at: changed_at(p),
                registration,
                findings: ca_findings
                    .iter()
                    .filter(|f| {
                        f.policy_id
                            .as_deref()
                            .is_some_and(|id| id.eq_ignore_ascii_case(&p.id))
                            || f.context
                                .as_deref()
                                .is_some_and(|c| c.eq_ignore_ascii_case(&context))
                    })
                    .cloned()
                    .collect(),
            });
        }
        out.push(RoleRollout {
            role_id: role.definition.id.clone(),
            role_name: role.definition.display_name.clone(),
            context,
            findings,
            policies,
        });
    }
    Ok(out)
}

/// When the policy last changed (its modification, else its creation).
fn changed_at(p: &ConditionalAccessPolicy) -> Option<DateTime<Utc>> {
    p.modified_date_time
        .as_deref()
        .or(p.created_date_time.as_deref())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Whether the pilot passed, and what the records show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pilot {
    /// The pilot's sign-in name.
    pub user: String,
    /// Whether the full chain ran after the policy's last change.
    pub passed: bool,
    /// What the records show, in a sentence.
    pub detail: String,
}

/// Whether `user` (sign-in name or id), eligible for the role of `role`, has activated it
/// with a step-up whose methods satisfy the strength of `policy`, after the policy's last
/// change: a provisioned self-activation created after it, and a successful sign-in of the
/// user between the request's creation and its completion whose methods make one of the
/// strength's combinations. Read from the records; nothing is stored.
pub async fn pilot(
    core: &Core,
    _allowed: &Authorized<ManageRoles>,
    role: &RoleRollout,
    policy: &PolicyRollout,
    user: &str,
) -> Result<Pilot, PostureError> {
    let engine = core.engine().await.map_err(read("the tenant"))?;
    let tenant = engine.tenant();
    let not = |detail: String| Pilot {
        user: user.to_string(),
        passed: false,
        detail,
    };
    let Some(found) = tenant.users.iter().find(|u| {
        u.id.eq_ignore_ascii_case(user)
            || u.user_principal_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(user))
    }) else {
        return Ok(not(format!("No user is named '{user}'.")));
    };
    let upn = found
        .user_principal_name
        .clone()
        .unwrap_or_else(|| found.id.clone());
    let not = |detail: String| Pilot {
        user: upn.clone(),
        passed: false,
        detail,
    };
    let eligible = eligible_users_on(&engine, &role.role_id, &[]);
    if !eligible
        .iter()
        .any(|u| u.id.eq_ignore_ascii_case(&found.id))
    {
        return Ok(not(format!(
            "{upn} is not eligible for {}: choose one of its eligible administrators.",
            role.role_name
        )));
    }
    let strength = match policy_strength(tenant, &policy.policy_id) {
        Ok((_, s)) => s,
        Err(e) => return Ok(not(e.to_string())),
    };
    let since = policy.changed_at.unwrap_or(DateTime::<Utc>::MIN_UTC);
    let requests = core
        .store
        .list_schedule_requests(&ScheduleRequestQuery {
            principal_id: Some(found.id.clone()),
            role_definition_id: Some(role.role_id.clone()),
            ..ScheduleRequestQuery::default()
        })
        .await
        .map_err(read("the activation requests"))?;
    let activations: Vec<_> = requests
        .iter()
        .filter(|r| r.request.action() == Action::SelfActivate)
        .filter(|r| r.status() == Status::Provisioned)
        .filter(|r| r.request.created_date_time.is_some_and(|c| c >= since))
        .collect();
    if activations.is_empty() {
        return Ok(not(format!(
            "{upn} has not activated {} since the policy last changed: ask them to activate it \
             in My roles, with the step-up.",
            role.role_name
        )));
    }
    let sign_ins = core
        .store
        .query_signins(&SignInQuery {
            user_id: Some(found.id.clone()),
            since: Some(since),
            result: Some(SignInResult::Success),
            ..SignInQuery::default()
        })
        .await
        .map_err(read("the sign-in log"))?;
    let mut used = Vec::new();
    for a in &activations {
        let Some(created) = a.request.created_date_time else {
            continue;
        };
        for s in sign_ins
            .iter()
            .filter(|s| s.created_at >= created && s.created_at <= a.updated_at)
        {
            let methods: Vec<policy::method::AuthenticationMethodMode> = s
                .methods
                .iter()
                .map(|m| policy::method::AuthenticationMethodMode::parse(m))
                .collect();
            let satisfied = strength.allowed_combinations.iter().find(|c| {
                c.modes()
                    .all(|mode| mode.is_known() && methods.contains(mode))
            });
            if let Some(combination) = satisfied {
                return Ok(Pilot {
                    user: upn.clone(),
                    passed: true,
                    detail: format!(
                        "{upn} activated {} on {} with a step-up by {combination}, which \
                         satisfies {}.",
                        role.role_name,
                        s.created_at.format("%Y-%m-%d %H:%M UTC"),
                        strength.name()
                    ),
                });
            }
            used.push(s.methods.join(" + "));
        }
    }
    Ok(not(if used.is_empty() {
        format!(
            "{upn} activated {} since the policy last changed, but no step-up sign-in is \
             recorded for it.",
            role.role_name
        )
    } else {
        format!(
            "{upn} activated {}, but the step-up was made with {}, which does not satisfy {}: \
             have them sign in with a method that does, then activate again.",
            role.role_name,
            used.join("; "),
            strength.name()
        )
    }))
}
