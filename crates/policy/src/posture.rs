//! Posture: where a tenant's Conditional Access configuration is weaker than it looks (the lint),
//! and who a required authentication strength would lock out (the pre-flight).
//!
//! Pure, like the rest of the crate: the caller gathers the tenant, the contexts PIM activation
//! requires, the designated break-glass accounts and every user's registered methods.
//!
//! The lint flags, for enforced policies (`enabled`, or a state this version does not know):
//! - a context whose policies require no authentication strength: with only `mfa` it is a claim
//!   check (any MFA, even an earlier one, satisfies it); with a sign-in frequency of every time the
//!   MFA must be fresh but may still be a phishable one-time code;
//! - a context no policy targets: it falls back to requiring MFA, as Entra does;
//! - SMS or voice allowed for privileged access: a policy that targets directory roles, or a
//!   context PIM activation requires, and whose grant is `mfa` or a strength allowing
//!   `sms`/`voice`;
//! - a policy that applies to a break-glass account and does not exclude it.
//!
//! The pre-flight checks, for each targeted user, whether some allowed combination of the
//! strength is made only of methods the user has registered (with the strength's FIDO2 and
//! certificate configurations applied), and says what the others have and what to register.

use crate::conditional_access::{BuiltInControl, ConditionalAccessPolicy, PolicyState};
use crate::context::ContextId;
use crate::directory::AssignmentStatus;
use crate::engine::Engine;
use crate::method::{AuthenticationMethodMode, MethodCombination};
use crate::registration::Provenance;
use crate::roles::BuiltInRole;
use crate::session::PerformedMethod;
use crate::strength::{built_in_strengths, AuthenticationStrengthPolicy};
use crate::tenant::Tenant;
use crate::tri::Tri;
use crate::validate::Severity;
use chrono::DateTime;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

// ---------------------------------------------------------------------------------------------
// Lint

/// What a posture finding is about; a stable name for tools and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PostureKind {
    /// A context whose enforced policies require no authentication strength.
    ContextWithoutStrength,
    /// A context no enforced policy targets: it falls back to requiring MFA.
    ContextNotTargeted,
    /// SMS or voice codes are allowed for privileged access.
    TelephonyForPrivilegedAccess,
    /// An enforced policy applies to a break-glass account.
    NoBreakGlassExclusion,
    /// No break-glass account was designated, so exclusions cannot be checked.
    NoBreakGlassDesignated,
    /// No enforced policy on registering security info covers every privileged user.
    RegistrationNotGoverned,
    /// The tenant relaxed the registration-provenance rule.
    RegistrationProvenanceRelaxed,
    /// A privileged user's phishing-resistant credentials were all registered under a weaker
    /// proof: none counts for a phishing-resistant strength.
    WeaklyRegisteredCredential,
}

/// One posture finding about the Conditional Access configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostureFinding {
    /// Error, warning or not enforced (the posture lint gives warnings).
    pub severity: Severity,
    /// What it is about.
    pub kind: PostureKind,
    /// The object, e.g. `authenticationContext c2 'Sensitive actions'` or
    /// `conditionalAccessPolicy 'CA001' (id)`.
    pub object: String,
    /// The policy concerned, if the finding is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// The context concerned, if the finding is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl std::fmt::Display for PostureFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}: {}; fix: {}",
            severity_name(self.severity),
            self.object,
            self.message,
            self.fix
        )
    }
}

/// The lower-case name of a severity, as findings print it.
pub fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::NotEnforced => "not enforced",
    }
}

/// An authentication context that PIM activation requires, and the roles that require it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextUse {
    /// The context id (`c1`…`c99`).
    pub context: String,
    /// The roles whose activation requires it, as shown to people.
    pub roles: Vec<String>,
}

/// Whether Conditional Access enforces the policy: `enabled`, or a state this version does not
/// know (never silently off). Report-only and disabled policies are not enforced.
pub fn is_enforced(policy: &ConditionalAccessPolicy) -> bool {
    !matches!(
        policy.state,
        PolicyState::Disabled | PolicyState::EnabledForReportingButNotEnforced
    )
}

/// Whether the policy targets authentication context `context`.
pub fn targets_context(policy: &ConditionalAccessPolicy, context: &str) -> bool {
    policy.conditions.applications.as_ref().is_some_and(|a| {
        a.include_authentication_context_class_references
            .iter()
            .any(|c| c.eq_ignore_ascii_case(context))
    })
}

/// The enforced policies that target `context`, in tenant order.
pub fn policies_targeting_context<'t>(
    tenant: &'t Tenant,
    context: &str,
) -> Vec<&'t ConditionalAccessPolicy> {
    tenant
        .conditional_access_policies
        .iter()
        .filter(|p| is_enforced(p) && targets_context(p, context))
        .collect()
}

/// `conditionalAccessPolicy 'name' (id)`.
pub fn describe_policy(policy: &ConditionalAccessPolicy) -> String {
    if policy.display_name.is_empty() {
        format!("conditionalAccessPolicy ({})", policy.id)
    } else {
        format!(
            "conditionalAccessPolicy '{}' ({})",
            policy.display_name, policy.id
        )
    }
}

fn has_control(policy: &ConditionalAccessPolicy, control: &BuiltInControl) -> bool {
    policy
        .grant_controls
        .as_ref()
        .is_some_and(|g| g.built_in_controls.contains(control))
}

fn strength_id_of(policy: &ConditionalAccessPolicy) -> Option<&str> {
    policy
        .grant_controls
        .as_ref()?
        .authentication_strength
        .as_ref()
        .map(|s| s.id.as_str())
}

fn is_every_time(policy: &ConditionalAccessPolicy) -> bool {
    policy.sign_in_frequency().is_some_and(|f| {
        matches!(
            f.frequency_interval,
            Some(crate::conditional_access::FrequencyInterval::EveryTime)
        )
    })
}

fn quoted_names(policies: &[&ConditionalAccessPolicy]) -> String {
    policies
        .iter()
        .map(|p| format!("'{}'", p.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The contexts to look at: those the tenant defines, those policies target, those PIM requires;
/// valid ids only (validation reports the others), in numeric order.
fn contexts_in_play(tenant: &Tenant, pim_contexts: &[ContextUse]) -> Vec<ContextId> {
    let mut ids: BTreeSet<ContextId> = BTreeSet::new();
    let defined = tenant
        .authentication_context_class_references
        .iter()
        .map(|c| c.id.as_str());
    let targeted = tenant.conditional_access_policies.iter().flat_map(|p| {
        p.conditions
            .applications
            .iter()
            .flat_map(|a| a.include_authentication_context_class_references.iter())
            .map(String::as_str)
    });
    let required = pim_contexts.iter().map(|c| c.context.as_str());
    for id in defined.chain(targeted).chain(required) {
        if let Ok(id) = ContextId::parse(id) {
            ids.insert(id);
        }
    }
    ids.into_iter().collect()
}

fn describe_context(tenant: &Tenant, context: &str) -> String {
    let name = tenant
        .authentication_context_class_references
        .iter()
        .find(|c| c.id.eq_ignore_ascii_case(context))
        .and_then(|c| c.display_name.as_deref())
        .filter(|n| !n.is_empty());
    match name {
        Some(n) => format!("authenticationContext {context} '{n}'"),
        None => format!("authenticationContext {context}"),
    }
}

fn used_by_note(pim_contexts: &[ContextUse], context: &str) -> String {
    let roles: Vec<&str> = pim_contexts
        .iter()
        .filter(|c| c.context.eq_ignore_ascii_case(context))
        .flat_map(|c| c.roles.iter().map(String::as_str))
        .collect();
    if roles.is_empty() {
        String::new()
    } else {
        format!(" (PIM activation of {} requires it)", roles.join(", "))
    }
}

const STRONG_FIX: &str = "require the Phishing-resistant MFA authentication strength \
     (00000000-0000-0000-0000-000000000004) with sign-in frequency every time";

/// Lints the Conditional Access posture of `tenant`.
///
/// `break_glass` holds the ids of the break-glass users or groups (empty: none designated, which
/// is itself a finding); `pim_contexts` the contexts PIM activation requires, which make the
/// policies targeting them privileged.
pub fn lint_conditional_access(
    tenant: &Tenant,
    break_glass: &[String],
    pim_contexts: &[ContextUse],
) -> Vec<PostureFinding> {
    lint_conditional_access_on(&Engine::new(tenant.clone()), break_glass, pim_contexts)
}

/// [`lint_conditional_access`] over an engine already built (the service's cached one), rather
/// than one built over a copy of the tenant at every call: the admin center's policy list lints
/// at every view.
pub fn lint_conditional_access_on(
    engine: &Engine,
    break_glass: &[String],
    pim_contexts: &[ContextUse],
) -> Vec<PostureFinding> {
    let tenant = engine.tenant();
    let mut findings = Vec::new();

    // Contexts.
    for id in contexts_in_play(tenant, pim_contexts) {
        let context = id.to_string();
        let object = describe_context(tenant, &context);
        let used_by = used_by_note(pim_contexts, &context);
        let targeting = policies_targeting_context(tenant, &context);
        if targeting.is_empty() {
            findings.push(PostureFinding {
                severity: Severity::Warning,
                kind: PostureKind::ContextNotTargeted,
                object,
                policy_id: None,
                context: Some(context.clone()),
                message: format!(
                    "no enabled Conditional Access policy targets {context}{used_by}: it falls \
                     back to requiring MFA, a claim check that any earlier MFA in the session \
                     satisfies"
                ),
                fix: format!("target {context} with an enabled policy that {STRONG_FIX}"),
            });
            continue;
        }
        let strong = targeting.iter().any(|p| strength_id_of(p).is_some());
        let blocked = targeting
            .iter()
            .any(|p| has_control(p, &BuiltInControl::Block));
        if strong || blocked {
            continue;
        }
        let with_mfa: Vec<&ConditionalAccessPolicy> = targeting
            .iter()
            .copied()
            .filter(|p| has_control(p, &BuiltInControl::Mfa))
            .collect();
        let fresh = with_mfa.iter().any(|p| is_every_time(p));
        let names = quoted_names(&targeting);
        let message = if with_mfa.is_empty() {
            format!(
                "no authentication strength and no MFA: stepping up to {context}{used_by} proves \
                 nothing beyond the sign-in (policies: {names})"
            )
        } else if fresh {
            format!(
                "no authentication strength: any MFA performed in the step-up satisfies \
                 {context}{used_by}, including a phishable one-time code by SMS, voice or an \
                 authenticator app (policies: {names})"
            )
        } else {
            format!(
                "claim check: any MFA, even one made earlier elsewhere, satisfies \
                 {context}{used_by} (policies: {names})"
            )
        };
        findings.push(PostureFinding {
            severity: Severity::Warning,
            kind: PostureKind::ContextWithoutStrength,
            object,
            policy_id: None,
            context: Some(context.clone()),
            message,
            fix: format!("in {names}, {STRONG_FIX}, instead of 'mfa'"),
        });
    }

    // SMS and voice for privileged access.
    let privileged_contexts: Vec<&str> = pim_contexts.iter().map(|c| c.context.as_str()).collect();
    for p in tenant
        .conditional_access_policies
        .iter()
        .filter(|p| is_enforced(p))
    {
        if has_control(p, &BuiltInControl::Block) {
            continue;
        }
        let roles = p
            .conditions
            .users
            .as_ref()
            .map(|u| u.include_roles.as_slice())
            .unwrap_or_default();
        let contexts: Vec<&str> = privileged_contexts
            .iter()
            .copied()
            .filter(|c| targets_context(p, c))
            .collect();
        if roles.is_empty() && contexts.is_empty() {
            continue;
        }
        let how = if has_control(p, &BuiltInControl::Mfa) {
            Some("its 'mfa' control is met by a password and an SMS or voice code".to_string())
        } else {
            strength_id_of(p)
                .and_then(|id| engine.strength(id))
                .filter(|s| s.allows_telephony())
                .map(|s| {
                    let combos: Vec<String> = s
                        .allowed_combinations
                        .iter()
                        .filter(|c| {
                            c.contains(&AuthenticationMethodMode::Sms)
                                || c.contains(&AuthenticationMethodMode::Voice)
                        })
                        .map(ToString::to_string)
                        .collect();
                    format!(
                        "its strength '{}' allows {}",
                        s.name(),
                        combos.join(" and ")
                    )
                })
        };
        let Some(how) = how else {
            continue;
        };
        let mut whom = Vec::new();
        if !roles.is_empty() {
            let names: Vec<String> = roles.iter().map(|r| role_name(r)).collect();
            whom.push(format!("directory roles {}", names.join(", ")));
        }
        for c in &contexts {
            whom.push(format!("context {c}{}", used_by_note(pim_contexts, c)));
        }
        findings.push(PostureFinding {
            severity: Severity::Warning,
            kind: PostureKind::TelephonyForPrivilegedAccess,
            object: describe_policy(p),
            policy_id: Some(p.id.clone()),
            context: contexts.first().map(|c| c.to_string()),
            message: format!(
                "SMS/voice allowed for privileged access: the policy covers {} and {how}; codes \
                 sent by SMS or voice can be phished or intercepted (SIM swap)",
                whom.join(" and ")
            ),
            fix: "require the Phishing-resistant MFA strength (or a custom strength without sms \
                  and voice) instead"
                .to_string(),
        });
    }

    // Break-glass exclusions.
    if break_glass.is_empty() {
        findings.push(PostureFinding {
            severity: Severity::Warning,
            kind: PostureKind::NoBreakGlassDesignated,
            object: "tenant".to_string(),
            policy_id: None,
            context: None,
            message: "no break-glass accounts designated: whether every enabled policy excludes \
                      an emergency account cannot be checked"
                .to_string(),
            fix: "keep one or two emergency accounts (or a group of them) excluded from every \
                  policy, and designate them to the lint"
                .to_string(),
        });
    } else {
        let dir = Directory::new(engine);
        for p in tenant
            .conditional_access_policies
            .iter()
            .filter(|p| is_enforced(p))
        {
            let covered: Vec<&String> = break_glass
                .iter()
                .filter(|bg| dir.covers_principal(p, bg))
                .collect();
            if covered.is_empty() {
                continue;
            }
            let names: Vec<String> = covered.iter().map(|id| dir.principal_name(id)).collect();
            let message = if covered.len() == break_glass.len() {
                format!(
                    "excludes no break-glass account: it applies to {}; a mistake in it, or an \
                     outage of a method it requires, can lock every administrator out",
                    names.join(", ")
                )
            } else {
                format!(
                    "does not exclude break-glass account {}: a mistake in it, or an outage of a \
                     method it requires, can lock that account out",
                    names.join(", ")
                )
            };
            findings.push(PostureFinding {
                severity: Severity::Warning,
                kind: PostureKind::NoBreakGlassExclusion,
                object: describe_policy(p),
                policy_id: Some(p.id.clone()),
                context: None,
                message,
                fix: "add the break-glass group to conditions.users.excludeGroups (or the \
                      accounts to excludeUsers)"
                    .to_string(),
            });
        }
    }
    findings
}

/// A privileged user whose phishing-resistant credentials were all registered under a weaker
/// proof, with those credentials described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeaklyRegistered {
    /// The user's sign-in name.
    pub user_principal_name: String,
    /// Each credential, with how it was registered ("'YubiKey' (registered with a password
    /// only …)").
    pub credentials: Vec<String>,
}

/// The lint of security-info registration (DESIGN §8.5): whether an enforced policy on
/// `urn:user:registersecurityinfo` covers every privileged user (the built-in floor applies
/// regardless; a policy lets the tenant demand more, e.g. a trusted location or a compliant
/// device), whether the tenant relaxed the provenance rule, and which privileged users hold only
/// weakly registered phishing-resistant credentials.
pub fn lint_registration(
    tenant: &Tenant,
    relaxed: bool,
    weakly_registered: &[WeaklyRegistered],
) -> Vec<PostureFinding> {
    const ACTION: &str = "urn:user:registersecurityinfo";
    let engine = Engine::new(tenant.clone());
    let mut findings = Vec::new();
    let privileged: Vec<&str> = tenant
        .users
        .iter()
        .filter(|u| u.account_enabled != Some(false) && engine.is_privileged(&u.id))
        .map(|u| u.id.as_str())
        .collect();
    if !privileged.is_empty() {
        let governing: Vec<&ConditionalAccessPolicy> = tenant
            .conditional_access_policies
            .iter()
            .filter(|p| is_enforced(p))
            .filter(|p| {
                p.conditions.applications.as_ref().is_some_and(|a| {
                    a.include_user_actions
                        .iter()
                        .any(|x| x.eq_ignore_ascii_case(ACTION))
                })
            })
            .collect();
        let covered: HashSet<String> = governing
            .iter()
            .flat_map(|p| policy_targets(tenant, p, &[]))
            .map(|t| t.id.to_ascii_lowercase())
            .collect();
        let uncovered: Vec<String> = privileged
            .iter()
            .filter(|id| !covered.contains(&id.to_ascii_lowercase()))
            .map(|id| {
                engine
                    .user(id)
                    .and_then(|u| u.user_principal_name.clone())
                    .unwrap_or_else(|| id.to_string())
            })
            .collect();
        if !uncovered.is_empty() {
            findings.push(PostureFinding {
                severity: Severity::Warning,
                kind: PostureKind::RegistrationNotGoverned,
                object: format!("user action {ACTION}"),
                policy_id: None,
                context: None,
                message: format!(
                    "no enabled Conditional Access policy on registering security info covers \
                     the privileged users {}: only the built-in floor (a fresh proof with one of \
                     their methods, or a temporary access pass) guards how their keys are made",
                    uncovered.join(", ")
                ),
                fix: format!(
                    "add an enabled policy with includeUserActions [\"{ACTION}\"] for the \
                     privileged roles or their groups (e.g. requiring a trusted location or a \
                     compliant device), excluding the break-glass accounts"
                ),
            });
        }
    }
    if relaxed {
        findings.push(PostureFinding {
            severity: Severity::Warning,
            kind: PostureKind::RegistrationProvenanceRelaxed,
            object: "tenant setting registrationProvenance".into(),
            policy_id: None,
            context: None,
            message: "the registration-provenance rule is relaxed: a privileged user's passkey \
                      added with a password alone, or with a relayed one-time code, satisfies \
                      phishing-resistant strengths"
                .into(),
            fix: "set it back to enforced (portcullis settings set registrationProvenance \
                  enforced) after onboarding administrators with temporary access passes"
                .into(),
        });
    }
    for w in weakly_registered {
        findings.push(PostureFinding {
            severity: Severity::Warning,
            kind: PostureKind::WeaklyRegisteredCredential,
            object: format!("user {}", w.user_principal_name),
            policy_id: None,
            context: None,
            message: format!(
                "holds or is eligible for a directory role, and none of their phishing-resistant \
                 credentials counts for a phishing-resistant strength: {}",
                w.credentials.join("; ")
            ),
            fix: "issue them a temporary access pass and have them register a key with it (then \
                  remove the weakly registered ones)"
                .into(),
        });
    }
    findings
}

fn role_name(id: &str) -> String {
    match BuiltInRole::tier0(id) {
        Some(role) => format!("{} ({id})", role.display_name()),
        None => id.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// The directory, as the lint and the pre-flight read it

/// Users, groups and roles, for deciding whom a policy's users condition takes in.
struct Directory<'e> {
    engine: &'e Engine,
    members: HashMap<String, Vec<String>>,
    eligible: HashMap<String, Vec<String>>,
}

impl<'e> Directory<'e> {
    fn new(engine: &'e Engine) -> Self {
        let t = engine.tenant();
        let members = t
            .groups
            .iter()
            .map(|g| {
                (
                    g.id.to_ascii_lowercase(),
                    g.members
                        .iter()
                        .map(|m| m.id().to_ascii_lowercase())
                        .collect(),
                )
            })
            .collect();
        let mut eligible: HashMap<String, Vec<String>> = HashMap::new();
        for a in &t.role_assignments {
            if a.status == AssignmentStatus::Eligible {
                eligible
                    .entry(a.principal_id.canonical())
                    .or_default()
                    .push(a.role_definition_id.canonical());
            }
        }
        Directory {
            engine,
            members,
            eligible,
        }
    }

    fn is_group(&self, id: &str) -> bool {
        self.engine.has_group(id)
    }

    /// Every user in group `id`, through nested groups; a cycle ends the walk.
    fn member_users(&self, id: &str) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut users = BTreeSet::new();
        let mut stack = vec![id.to_ascii_lowercase()];
        while let Some(g) = stack.pop() {
            if !seen.insert(g.clone()) {
                continue;
            }
            for m in self.members.get(&g).into_iter().flatten() {
                if self.members.contains_key(m) {
                    stack.push(m.clone());
                } else {
                    users.insert(m.clone());
                }
            }
        }
        users.into_iter().collect()
    }

    /// Roles the user is eligible for, directly or through a group.
    fn eligible_roles(&self, user_id: &str, groups: &HashSet<String>) -> HashSet<String> {
        std::iter::once(user_id.to_ascii_lowercase())
            .chain(groups.iter().cloned())
            .filter_map(|p| self.eligible.get(&p))
            .flatten()
            .cloned()
            .collect()
    }

    /// A user's sign-in name or a group's name, with the id.
    fn principal_name(&self, id: &str) -> String {
        if let Some(u) = self.engine.user(id) {
            return u
                .user_principal_name
                .clone()
                .unwrap_or_else(|| id.to_string());
        }
        let group = self
            .engine
            .tenant()
            .groups
            .iter()
            .find(|g| g.id.eq_ignore_ascii_case(id));
        match group.and_then(|g| g.display_name.as_deref()) {
            Some(name) => format!("group '{name}'"),
            None => id.to_string(),
        }
    }

    /// Whether the policy's users condition takes in the user, and through what. With
    /// `with_eligible`, roles the user may activate count as held (what the policy will do once
    /// they are active). `activating` is the role whose activation's step-up is evaluated: it
    /// counts as held for inclusion only, as the engine counts it
    /// ([`crate::signin::SignIn::activating_role`]). A group the tenant does not hold makes the
    /// answer unknown.
    fn users_condition(
        &self,
        policy: &ConditionalAccessPolicy,
        user_id: &str,
        with_eligible: bool,
        activating: Option<&str>,
    ) -> (Tri, Vec<String>) {
        let Some(u) = &policy.conditions.users else {
            return (Tri::False, Vec::new());
        };
        let groups = self.engine.transitive_groups(user_id);
        let active = self.engine.active_roles(user_id, &groups);
        let eligible = if with_eligible {
            self.eligible_roles(user_id, &groups)
        } else {
            HashSet::new()
        };
        let user = self.engine.user(user_id);
        let guest = user.is_some_and(|u| u.is_guest());
        let mut via = Vec::new();

        let user_match = |ids: &[String], via: &mut Vec<String>, all: bool| {
            let mut t = Tri::False;
            for id in ids {
                if all && id.eq_ignore_ascii_case("All") {
                    via.push("all users".to_string());
                    t = Tri::True;
                } else if id.eq_ignore_ascii_case(user_id) {
                    via.push("named".to_string());
                    t = Tri::True;
                } else if guest && id.eq_ignore_ascii_case("GuestsOrExternalUsers") {
                    via.push("guests".to_string());
                    t = Tri::True;
                }
            }
            t
        };
        let group_match = |ids: &[String], via: &mut Vec<String>| {
            Tri::any(ids.iter().map(|g| {
                let g = g.to_ascii_lowercase();
                if groups.contains(&g) {
                    via.push(format!("member of {}", self.principal_name(&g)));
                    Tri::True
                } else if self.is_group(&g) {
                    Tri::False
                } else {
                    via.push(format!("maybe a member of group {g} (not in the tenant)"));
                    Tri::Unknown
                }
            }))
        };
        let role_match = |ids: &[String], via: &mut Vec<String>| {
            let mut t = Tri::False;
            for r in ids {
                let r = r.to_ascii_lowercase();
                if active.contains(&r) {
                    via.push(format!("active {}", role_name(&r)));
                    t = Tri::True;
                } else if eligible.contains(&r) {
                    via.push(format!("eligible {} (once activated)", role_name(&r)));
                    t = Tri::True;
                }
            }
            t
        };
        let activating_match = |ids: &[String], via: &mut Vec<String>| {
            let hit = activating.and_then(|a| ids.iter().find(|r| r.eq_ignore_ascii_case(a)));
            match hit {
                Some(r) => {
                    via.push(format!("activating {}", role_name(&r.to_ascii_lowercase())));
                    Tri::True
                }
                None => Tri::False,
            }
        };
        let guest_match = |g: &Option<crate::conditional_access::GuestsOrExternalUsers>| match g {
            Some(g) if guest && !g.guest_or_external_user_types.0.is_empty() => {
                match user.and_then(|u| u.guest_or_external_user_type.as_ref()) {
                    Some(t) => Tri::from(g.guest_or_external_user_types.0.contains(t)),
                    None => Tri::Unknown,
                }
            }
            _ => Tri::False,
        };
        let include = Tri::any([
            user_match(&u.include_users, &mut via, true),
            group_match(&u.include_groups, &mut via),
            role_match(&u.include_roles, &mut via),
            activating_match(&u.include_roles, &mut via),
            guest_match(&u.include_guests_or_external_users),
        ]);
        let mut ignored = Vec::new();
        let exclude = Tri::any([
            user_match(&u.exclude_users, &mut ignored, false),
            group_match(&u.exclude_groups, &mut ignored),
            role_match(&u.exclude_roles, &mut ignored),
            guest_match(&u.exclude_guests_or_external_users),
        ]);
        (include.and(exclude.negated()), via)
    }

    /// Whether the policy applies to the break-glass principal `id` (a user, or any user of a
    /// group) without excluding it. An empty group counts as covered unless the group itself
    /// (or a group it belongs to) is excluded.
    fn covers_principal(&self, policy: &ConditionalAccessPolicy, id: &str) -> bool {
        if self.is_group(id) {
            let users = self.member_users(id);
            if users.is_empty() {
                let Some(u) = &policy.conditions.users else {
                    return false;
                };
                let mut groups = self.engine.transitive_groups(id);
                groups.insert(id.to_ascii_lowercase());
                let excluded = u
                    .exclude_groups
                    .iter()
                    .any(|g| groups.contains(&g.to_ascii_lowercase()));
                let included = u
                    .include_users
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case("All"))
                    || u.include_groups
                        .iter()
                        .any(|g| groups.contains(&g.to_ascii_lowercase()));
                return included && !excluded;
            }
            return users
                .iter()
                .any(|user| self.users_condition(policy, user, false, None).0 != Tri::False);
        }
        self.users_condition(policy, id, false, None).0 != Tri::False
    }

    fn is_break_glass(&self, user_id: &str, break_glass: &[String]) -> bool {
        let groups = self.engine.transitive_groups(user_id);
        break_glass
            .iter()
            .any(|bg| bg.eq_ignore_ascii_case(user_id) || groups.contains(&bg.to_ascii_lowercase()))
    }

    fn target_user(&self, id: &str, via: Vec<String>, break_glass: &[String]) -> TargetUser {
        let user = self.engine.user(id);
        TargetUser {
            id: user.map_or_else(|| id.to_string(), |u| u.id.clone()),
            user_principal_name: user
                .and_then(|u| u.user_principal_name.clone())
                .unwrap_or_else(|| id.to_string()),
            display_name: user.and_then(|u| u.display_name.clone()),
            is_break_glass: self.is_break_glass(id, break_glass),
            via,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pre-flight

/// A method a user has registered, by Graph method mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredMethod {
    /// The Graph method mode it satisfies.
    pub method: AuthenticationMethodMode,
    /// The authenticator model, for FIDO2 and platform authenticators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aaguid: Option<String>,
    /// What to show: a label, an address, an authenticator name.
    pub label: String,
    /// How it was registered, for credentials that keep it (passkeys, security keys, apps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// A phishing-resistant credential of a privileged user registered under a weaker proof: it
    /// satisfies no phishing-resistant strength (DESIGN §8.5).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub registered_under_weaker_proof: bool,
}

impl RegisteredMethod {
    /// A method with no authenticator details.
    pub fn new(method: AuthenticationMethodMode, label: &str) -> Self {
        RegisteredMethod {
            method,
            aaguid: None,
            label: label.to_string(),
            provenance: None,
            registered_under_weaker_proof: false,
        }
    }

    fn as_performed(&self) -> PerformedMethod {
        PerformedMethod {
            aaguid: self.aaguid.clone(),
            registered_under_weaker_proof: self.registered_under_weaker_proof,
            ..PerformedMethod::new(self.method.clone(), DateTime::UNIX_EPOCH)
        }
    }
}

/// A user a policy (or an activation) targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetUser {
    /// Object id.
    pub id: String,
    /// Sign-in name (the id when unknown).
    pub user_principal_name: String,
    /// Name shown to people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Whether the user is a designated break-glass account (shown apart).
    pub is_break_glass: bool,
    /// How the user is targeted (`all users`, `member of group 'Admins'`, `eligible directly`…).
    pub via: Vec<String>,
}

/// What a user lacks for one allowed combination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Shortfall {
    /// The combination.
    pub combination: MethodCombination,
    /// Its modes the user has no usable registered method for.
    pub missing: Vec<AuthenticationMethodMode>,
    /// Why a registered method does not count, when one of that mode is registered (a security
    /// key of a model the strength does not allow, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Whether one user can satisfy the strength with what they have registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserReadiness {
    /// The user.
    pub user: TargetUser,
    /// What the user has registered.
    pub registered: Vec<RegisteredMethod>,
    /// The combination the user's methods satisfy, if any.
    pub satisfied_by: Option<MethodCombination>,
    /// For a user who cannot: the nearest combinations Portcullis can register, fewest missing
    /// methods first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shortfalls: Vec<Shortfall>,
    /// For a user who cannot: what to do, in a sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

impl UserReadiness {
    /// Whether the user can satisfy the strength.
    pub fn is_ready(&self) -> bool {
        self.satisfied_by.is_some()
    }
}

/// Who, among the targeted users, can satisfy a strength.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreflightReport {
    /// The strength's id.
    pub strength_id: String,
    /// The strength's name.
    pub strength_name: String,
    /// Its allowed combinations, any one of which satisfies it.
    pub allowed_combinations: Vec<MethodCombination>,
    /// Targeted users (not break-glass) who cannot satisfy it.
    pub cannot: Vec<UserReadiness>,
    /// Targeted users (not break-glass) who can.
    pub can: Vec<UserReadiness>,
    /// Targeted break-glass accounts, shown apart, able or not.
    pub break_glass: Vec<UserReadiness>,
}

impl PreflightReport {
    /// Whether every targeted user, break-glass accounts included, can satisfy the strength.
    pub fn everyone_can(&self) -> bool {
        self.cannot.is_empty() && self.break_glass.iter().all(UserReadiness::is_ready)
    }

    /// How many targeted users there are.
    pub fn targeted(&self) -> usize {
        self.cannot.len() + self.can.len() + self.break_glass.len()
    }

    /// How many targeted users (break-glass accounts included) cannot satisfy the strength.
    pub fn unable(&self) -> usize {
        self.cannot.len() + self.break_glass.iter().filter(|r| !r.is_ready()).count()
    }
}

/// Why a pre-flight cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreflightError {
    /// The strength is neither built in, nor in the tenant, nor carried by a policy.
    #[error("authentication strength '{0}' is neither built in nor defined in the tenant")]
    UnknownStrength(String),
    /// No policy has this id.
    #[error("there is no Conditional Access policy '{0}'")]
    UnknownPolicy(String),
    /// The policy requires no authentication strength.
    #[error(
        "{policy} requires no authentication strength{controls}: there is no strength to \
         pre-flight ('mfa' is a claim check: any MFA in the session satisfies it)"
    )]
    PolicyWithoutStrength {
        /// The policy, described.
        policy: String,
        /// ` (grant controls: …)` or empty.
        controls: String,
    },
    /// No enforced policy targets the context.
    #[error(
        "no enabled Conditional Access policy targets {0}: activation falls back to MFA, a claim \
         check (any MFA in the session satisfies it), so there is no strength to pre-flight"
    )]
    ContextNotTargeted(String),
    /// The policies targeting the context require no strength.
    #[error(
        "the policies targeting {context} ({policies}) require no authentication strength: \
         activation is then an MFA check (a claim check unless the sign-in frequency is every \
         time), so there is no strength to pre-flight"
    )]
    ContextWithoutStrength {
        /// The context.
        context: String,
        /// The policies, named.
        policies: String,
    },
}

/// The strength `id`: a custom one of the tenant, a built-in, or the definition an exported
/// policy carries.
pub fn find_strength(tenant: &Tenant, id: &str) -> Option<AuthenticationStrengthPolicy> {
    let custom = tenant
        .authentication_strength_policies
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(id))
        .cloned();
    custom
        .or_else(|| {
            built_in_strengths()
                .into_iter()
                .find(|s| s.id.eq_ignore_ascii_case(id))
        })
        .or_else(|| {
            tenant
                .conditional_access_policies
                .iter()
                .filter_map(|p| p.grant_controls.as_ref()?.authentication_strength.as_ref())
                .find(|s| s.id.eq_ignore_ascii_case(id) && s.is_defined())
                .cloned()
        })
}

/// Modes a user can register in Portcullis (security info), which advice may suggest.
fn registrable(mode: &AuthenticationMethodMode) -> bool {
    use AuthenticationMethodMode as M;
    matches!(
        mode,
        M::Password
            | M::SoftwareOath
            | M::Sms
            | M::Voice
            | M::Email
            | M::Fido2
            | M::WindowsHelloForBusiness
    )
}

/// Which modes to suggest first: phishing-resistant, then app codes, then phone codes.
fn preference(mode: &AuthenticationMethodMode) -> u8 {
    use AuthenticationMethodMode as M;
    match mode {
        M::Fido2 => 0,
        M::WindowsHelloForBusiness => 1,
        M::SoftwareOath => 2,
        M::Password => 3,
        M::Email => 4,
        M::Sms => 5,
        M::Voice => 6,
        _ => 9,
    }
}

/// How a mode is named to people.
pub fn friendly_name(mode: &AuthenticationMethodMode) -> String {
    use AuthenticationMethodMode as M;
    let s = match mode {
        M::Password => "a password",
        M::Fido2 => "a passkey or security key",
        M::WindowsHelloForBusiness => "a platform authenticator (Windows Hello, Touch ID)",
        M::SoftwareOath => "an authenticator app",
        M::HardwareOath => "an OATH hardware token",
        M::Sms => "a mobile phone for SMS codes",
        M::Voice => "a phone for voice calls",
        M::Email => "an e-mail address for codes",
        M::X509CertificateMultiFactor => "a multifactor client certificate",
        M::TemporaryAccessPassOneTime | M::TemporaryAccessPassMultiUse => "a temporary access pass",
        other => return format!("a {other} method"),
    };
    s.to_string()
}

/// Pre-flight of one strength over `targets`: for each user, whether some allowed combination is
/// made only of modes the user has registered (the strength's configurations applied, e.g. the
/// FIDO2 models it allows), and, for those who cannot, what they have and what would do.
pub fn preflight(
    tenant: &Tenant,
    strength_id: &str,
    targets: &[TargetUser],
    methods_of: &dyn Fn(&str) -> Vec<RegisteredMethod>,
) -> Result<PreflightReport, PreflightError> {
    let strength = find_strength(tenant, strength_id)
        .ok_or_else(|| PreflightError::UnknownStrength(strength_id.to_string()))?;
    Ok(preflight_strength(&strength, targets, methods_of))
}

/// [`preflight`] with the strength's definition at hand.
pub fn preflight_strength(
    strength: &AuthenticationStrengthPolicy,
    targets: &[TargetUser],
    methods_of: &dyn Fn(&str) -> Vec<RegisteredMethod>,
) -> PreflightReport {
    let mut report = PreflightReport {
        strength_id: strength.id.clone(),
        strength_name: strength.name().to_string(),
        allowed_combinations: strength.allowed_combinations.clone(),
        cannot: Vec::new(),
        can: Vec::new(),
        break_glass: Vec::new(),
    };
    for user in targets {
        let readiness = readiness(strength, user, methods_of(&user.id));
        if user.is_break_glass {
            report.break_glass.push(readiness);
        } else if readiness.is_ready() {
            report.can.push(readiness);
        } else {
            report.cannot.push(readiness);
        }
    }
    report
}

fn readiness(
    strength: &AuthenticationStrengthPolicy,
    user: &TargetUser,
    registered: Vec<RegisteredMethod>,
) -> UserReadiness {
    let performed: Vec<PerformedMethod> = registered
        .iter()
        .map(RegisteredMethod::as_performed)
        .collect();
    let satisfied_by = strength.satisfied_by(&performed).cloned();
    let mut shortfalls = Vec::new();
    let mut advice = None;
    if satisfied_by.is_none() {
        shortfalls = nearest_shortfalls(strength, &registered);
        advice = Some(advise(user, &shortfalls, strength));
        let weak: Vec<&str> = registered
            .iter()
            .filter(|r| r.registered_under_weaker_proof)
            .map(|r| r.label.as_str())
            .collect();
        if !user.is_break_glass && !weak.is_empty() && strength.allows_only_phishing_resistant() {
            advice = Some(format!(
                "ask an administrator for a temporary access pass to register a key that counts \
                 ('{}' was registered under a weaker proof and does not count for a \
                 phishing-resistant strength)",
                weak.join("', '")
            ));
        }
    }
    UserReadiness {
        user: user.clone(),
        registered,
        satisfied_by,
        shortfalls,
        advice,
    }
}

/// The combinations that can be completed by registering methods in Portcullis, fewest missing
/// first (at most three).
fn nearest_shortfalls(
    strength: &AuthenticationStrengthPolicy,
    registered: &[RegisteredMethod],
) -> Vec<Shortfall> {
    let mut all: Vec<Shortfall> = strength
        .allowed_combinations
        .iter()
        .filter(|c| c.modes().all(registrable))
        .map(|c| {
            let configured: Vec<_> = strength
                .combination_configurations
                .iter()
                .filter(|cfg| cfg.applies_to_combinations.contains(c))
                .collect();
            let mut missing = Vec::new();
            let mut note = None;
            for mode in c.modes() {
                let of_mode: Vec<&RegisteredMethod> =
                    registered.iter().filter(|r| &r.method == mode).collect();
                if of_mode.is_empty() {
                    missing.push(mode.clone());
                    continue;
                }
                // Registered: does the strength's configuration admit one of them?
                let single = AuthenticationStrengthPolicy {
                    allowed_combinations: vec![c.clone()],
                    combination_configurations: configured.iter().map(|x| (*x).clone()).collect(),
                    ..AuthenticationStrengthPolicy::default()
                };
                let mut trial: Vec<PerformedMethod> =
                    of_mode.iter().map(|r| r.as_performed()).collect();
                trial.extend(
                    c.modes()
                        .filter(|m| *m != mode)
                        .map(|m| PerformedMethod::new(m.clone(), DateTime::UNIX_EPOCH)),
                );
                if single.satisfied_by(&trial).is_none() {
                    missing.push(mode.clone());
                    let weak: Vec<&&RegisteredMethod> = of_mode
                        .iter()
                        .filter(|r| r.registered_under_weaker_proof)
                        .collect();
                    if !weak.is_empty() && single.allows_only_phishing_resistant() {
                        let labels: Vec<String> = weak
                            .iter()
                            .map(|r| {
                                let how = r
                                    .provenance
                                    .as_ref()
                                    .map(|p| p.proof.describe())
                                    .unwrap_or("an unrecorded proof");
                                format!("'{}' (registered with {how})", r.label)
                            })
                            .collect();
                        note = Some(format!(
                            "{} {} not count: a privileged user's phishing-resistant \
                             credential counts only when registered with a phishing-resistant \
                             credential or a temporary access pass from an administrator",
                            labels.join(", "),
                            if labels.len() == 1 { "does" } else { "do" }
                        ));
                        continue;
                    }
                    let labels: Vec<String> = of_mode
                        .iter()
                        .map(|r| match &r.aaguid {
                            Some(a) => format!("'{}' (AAGUID {a})", r.label),
                            None => format!("'{}' (model unknown)", r.label),
                        })
                        .collect();
                    note = Some(format!(
                        "{} {} not of a model the strength allows",
                        labels.join(", "),
                        if labels.len() == 1 { "is" } else { "are" }
                    ));
                }
            }
            Shortfall {
                combination: c.clone(),
                missing,
                note,
            }
        })
        .collect();
    all.sort_by_key(|s| {
        (
            s.missing.len(),
            s.missing.iter().map(preference).max().unwrap_or(0),
        )
    });
    all.truncate(3);
    all
}

fn advise(
    user: &TargetUser,
    shortfalls: &[Shortfall],
    strength: &AuthenticationStrengthPolicy,
) -> String {
    if user.is_break_glass {
        return "a break-glass account should not depend on this strength: exclude it from the \
                policy (or give it a method that satisfies it, kept in a safe)"
            .to_string();
    }
    let Some(best) = shortfalls.first() else {
        let allowed: Vec<String> = strength
            .allowed_combinations
            .iter()
            .map(ToString::to_string)
            .collect();
        return format!(
            "no method Portcullis can register satisfies '{}' (allowed: {})",
            strength.name(),
            allowed.join(" | ")
        );
    };
    let fewest = best.missing.len();
    let mut options: Vec<String> = Vec::new();
    for s in shortfalls.iter().filter(|s| s.missing.len() == fewest) {
        let text = s
            .missing
            .iter()
            .map(friendly_name)
            .collect::<Vec<_>>()
            .join(" and ");
        if !options.contains(&text) {
            options.push(text);
        }
    }
    let webauthn = shortfalls
        .iter()
        .filter(|s| s.missing.len() == fewest)
        .flat_map(|s| s.missing.iter())
        .any(|m| {
            matches!(
                m,
                AuthenticationMethodMode::Fido2 | AuthenticationMethodMode::WindowsHelloForBusiness
            )
        });
    // A passkey can live on a platform authenticator too: name the platform one only when a
    // passkey would not do.
    let passkey = friendly_name(&AuthenticationMethodMode::Fido2);
    let platform = friendly_name(&AuthenticationMethodMode::WindowsHelloForBusiness);
    if options.contains(&passkey) {
        options.retain(|o| *o != platform);
    }
    let mut advice = format!("register {}", options.join(", or "));
    if webauthn {
        advice.push_str("; ask an administrator for a temporary access pass");
    }
    advice
}

/// The users a policy's users condition takes in, in tenant order (disabled accounts left out),
/// with how; users eligible for an included role count (they are targeted once they activate
/// it). A user in a group the tenant does not hold counts, and says so.
pub fn policy_targets(
    tenant: &Tenant,
    policy: &ConditionalAccessPolicy,
    break_glass: &[String],
) -> Vec<TargetUser> {
    policy_targets_on(&Engine::new(tenant.clone()), policy, break_glass)
}

/// [`policy_targets`] over an engine already built (the service's cached one).
pub fn policy_targets_on(
    engine: &Engine,
    policy: &ConditionalAccessPolicy,
    break_glass: &[String],
) -> Vec<TargetUser> {
    let tenant = engine.tenant();
    let dir = Directory::new(engine);
    tenant
        .users
        .iter()
        .filter(|u| u.account_enabled != Some(false))
        .filter_map(|u| {
            let (t, via) = dir.users_condition(policy, &u.id, true, None);
            (t != Tri::False).then(|| dir.target_user(&u.id, via, break_glass))
        })
        .collect()
}

/// The users eligible for role `role_id` now, directly or through (nested) groups, with how; the
/// tenant's role assignments are those in force. Disabled accounts are left out.
pub fn eligible_users(tenant: &Tenant, role_id: &str, break_glass: &[String]) -> Vec<TargetUser> {
    eligible_users_on(&Engine::new(tenant.clone()), role_id, break_glass)
}

/// [`eligible_users`] over an engine already built (the service's cached one).
pub fn eligible_users_on(
    engine: &Engine,
    role_id: &str,
    break_glass: &[String],
) -> Vec<TargetUser> {
    let tenant = engine.tenant();
    let dir = Directory::new(engine);
    let mut via: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in tenant
        .role_assignments
        .iter()
        .filter(|a| a.status == AssignmentStatus::Eligible && a.role_definition_id.is(role_id))
    {
        if dir.is_group(a.principal_id.as_str()) {
            let how = format!(
                "eligible via {}",
                dir.principal_name(a.principal_id.as_str())
            );
            for user in dir.member_users(a.principal_id.as_str()) {
                via.entry(user).or_default().push(how.clone());
            }
        } else {
            via.entry(a.principal_id.canonical())
                .or_default()
                .push("eligible directly".to_string());
        }
    }
    let order: HashMap<String, usize> = tenant
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.to_ascii_lowercase(), i))
        .collect();
    let mut users: Vec<(String, Vec<String>)> = via
        .into_iter()
        .filter(|(id, _)| {
            engine
                .user(id)
                .is_none_or(|u| u.account_enabled != Some(false))
        })
        .collect();
    users.sort_by_key(|(id, _)| order.get(id).copied().unwrap_or(usize::MAX));
    users
        .into_iter()
        .map(|(id, how)| dir.target_user(&id, how, break_glass))
        .collect()
}

/// One policy's part of an activation pre-flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyPreflight {
    /// The policy's id.
    pub policy_id: String,
    /// Its name.
    pub policy_name: String,
    /// Its state.
    pub state: String,
    /// Whether its sign-in frequency is every time.
    pub every_time: bool,
    /// Who among the users it targets can satisfy its strength.
    pub report: PreflightReport,
}

/// The pre-flight of activating a role that requires context `context`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivationPreflight {
    /// The context.
    pub context: String,
    /// Its name, if the tenant defines it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_name: Option<String>,
    /// The enforced policies targeting the context that require a strength, each with the
    /// eligible users it applies to.
    pub policies: Vec<PolicyPreflight>,
    /// Enforced policies targeting the context that require no strength (they add an MFA
    /// check, not a method check).
    pub without_strength: Vec<String>,
    /// Eligible users to whom none of the strength policies applies (excluded from them): their
    /// activation needs no strength.
    pub uncovered: Vec<TargetUser>,
}

impl ActivationPreflight {
    /// Whether every eligible user a strength applies to can satisfy it.
    pub fn everyone_can(&self) -> bool {
        self.policies.iter().all(|p| p.report.everyone_can())
    }

    /// Eligible users (ids) who cannot satisfy some strength that applies to them.
    pub fn unable_users(&self) -> BTreeSet<String> {
        self.policies
            .iter()
            .flat_map(|p| p.report.cannot.iter().chain(&p.report.break_glass))
            .filter(|r| !r.is_ready())
            .map(|r| r.user.id.clone())
            .collect()
    }
}

/// Pre-flight of an activation of `role` (when known) that requires `context`, for the
/// `eligible` users: the enforced policies targeting the context, and for each one that
/// requires a strength, whether the eligible users it applies to can satisfy it. A policy that
/// includes `role` applies to them, as it does at their step-up.
pub fn preflight_activation(
    tenant: &Tenant,
    context: &str,
    role: Option<&str>,
    eligible: &[TargetUser],
    methods_of: &dyn Fn(&str) -> Vec<RegisteredMethod>,
) -> Result<ActivationPreflight, PreflightError> {
    preflight_activation_on(
        &Engine::new(tenant.clone()),
        context,
        role,
        eligible,
        methods_of,
    )
}

/// [`preflight_activation`] over an engine already built (the service's cached one), rather
/// than one built over a copy of the tenant at every call.
pub fn preflight_activation_on(
    engine: &Engine,
    context: &str,
    role: Option<&str>,
    eligible: &[TargetUser],
    methods_of: &dyn Fn(&str) -> Vec<RegisteredMethod>,
) -> Result<ActivationPreflight, PreflightError> {
    let tenant = engine.tenant();
    let targeting = policies_targeting_context(tenant, context);
    if targeting.is_empty() {
        return Err(PreflightError::ContextNotTargeted(context.to_string()));
    }
    let (strong, weak): (Vec<_>, Vec<_>) = targeting
        .iter()
        .copied()
        .partition(|p| strength_id_of(p).is_some());
    if strong.is_empty() {
        return Err(PreflightError::ContextWithoutStrength {
            context: context.to_string(),
            policies: quoted_names(&targeting),
        });
    }
    let dir = Directory::new(engine);
    let mut covered: HashSet<String> = HashSet::new();
    let mut policies = Vec::new();
    for p in strong {
        let id = strength_id_of(p).unwrap_or_default();
        let strength = find_strength(tenant, id)
            .ok_or_else(|| PreflightError::UnknownStrength(id.to_string()))?;
        let targets: Vec<TargetUser> = eligible
            .iter()
            .filter(|u| dir.users_condition(p, &u.id, false, role).0 != Tri::False)
            .cloned()
            .collect();
        covered.extend(targets.iter().map(|u| u.id.clone()));
        policies.push(PolicyPreflight {
            policy_id: p.id.clone(),
            policy_name: p.name().to_string(),
            state: p.state.to_string(),
            every_time: is_every_time(p),
            report: preflight_strength(&strength, &targets, methods_of),
        });
    }
    Ok(ActivationPreflight {
        context: context.to_string(),
        context_name: tenant
            .authentication_context_class_references
            .iter()
            .find(|c| c.id.eq_ignore_ascii_case(context))
            .and_then(|c| c.display_name.clone()),
        policies,
        without_strength: weak.iter().map(|p| describe_policy(p)).collect(),
        uncovered: eligible
            .iter()
            .filter(|u| !covered.contains(&u.id))
            .cloned()
            .collect(),
    })
}

/// The policy `policy_id` (whatever its state) and the strength it requires; an error when there
/// is no such policy, it requires no strength, or the strength is not known.
pub fn policy_strength<'t>(
    tenant: &'t Tenant,
    policy_id: &str,
) -> Result<(&'t ConditionalAccessPolicy, AuthenticationStrengthPolicy), PreflightError> {
    let p = tenant
        .conditional_access_policies
        .iter()
        .find(|p| p.id.eq_ignore_ascii_case(policy_id))
        .ok_or_else(|| PreflightError::UnknownPolicy(policy_id.to_string()))?;
    let Some(id) = strength_id_of(p) else {
        let controls: Vec<String> = p
            .grant_controls
            .iter()
            .flat_map(|g| g.built_in_controls.iter().map(ToString::to_string))
            .collect();
        return Err(PreflightError::PolicyWithoutStrength {
            policy: describe_policy(p),
            controls: if controls.is_empty() {
                String::new()
            } else {
                format!(" (grant controls: {})", controls.join(", "))
            },
        });
    };
    let strength =
        find_strength(tenant, id).ok_or_else(|| PreflightError::UnknownStrength(id.to_string()))?;
    Ok((p, strength))
}

/// Pre-flight of one policy (whatever its state: checking before enabling is the point): its
/// strength over the users it targets ([`policy_targets`]).
pub fn preflight_policy(
    tenant: &Tenant,
    policy_id: &str,
    break_glass: &[String],
    methods_of: &dyn Fn(&str) -> Vec<RegisteredMethod>,
) -> Result<PolicyPreflight, PreflightError> {
    let (p, strength) = policy_strength(tenant, policy_id)?;
    let targets = policy_targets(tenant, p, break_glass);
    Ok(PolicyPreflight {
        policy_id: p.id.clone(),
        policy_name: p.name().to_string(),
        state: p.state.to_string(),
        every_time: is_every_time(p),
        report: preflight_strength(&strength, &targets, methods_of),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::strength::{MFA_STRENGTH_ID, PHISHING_RESISTANT_MFA_STRENGTH_ID};
    use serde_json::json;

    const GA: &str = crate::directory::GLOBAL_ADMINISTRATOR;
    const BG_GROUP: &str = "b0000000-0000-4000-8000-0000000000bb";

    /// A demo-like tenant: adele (eligible GA via group "Admins"), bob (eligible GA directly),
    /// carol (ordinary), breakglass (active GA, in the break-glass group); CA001 mfa for all,
    /// CA010 phishing-resistant every time for c1, CA020 mfa for c2, c3 defined but untargeted.
    fn tenant() -> Tenant {
        serde_json::from_value(json!({
            "users": [
                {"id": "u-adele", "userPrincipalName": "adele@x.test", "displayName": "Adele"},
                {"id": "u-bob", "userPrincipalName": "bob@x.test"},
                {"id": "u-carol", "userPrincipalName": "carol@x.test"},
                {"id": "u-bg", "userPrincipalName": "breakglass@x.test"},
                {"id": "u-off", "userPrincipalName": "off@x.test", "accountEnabled": false}
            ],
            "groups": [
                {"id": "g-admins", "displayName": "Admins", "members": ["u-adele", "u-off"]},
                {"id": BG_GROUP, "displayName": "Break-glass", "members": ["u-bg"]}
            ],
            "roleAssignments": [
                {"principalId": "g-admins", "roleDefinitionId": GA, "status": "eligible"},
                {"principalId": "u-bob", "roleDefinitionId": GA, "status": "eligible"},
                {"principalId": "u-bg", "roleDefinitionId": GA, "status": "active"}
            ],
            "authenticationContextClassReferences": [
                {"id": "c1", "displayName": "PIM activation"},
                {"id": "c2", "displayName": "Sensitive"},
                {"id": "c3", "displayName": "Unused"}
            ],
            "conditionalAccessPolicies": [
                {"id": "ca001", "displayName": "CA001 MFA", "state": "enabled",
                 "conditions": {"users": {"includeUsers": ["All"], "excludeGroups": [BG_GROUP]},
                                "applications": {"includeApplications": ["All"]}},
                 "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}},
                {"id": "ca010", "displayName": "CA010 PIM", "state": "enabled",
                 "conditions": {"users": {"includeUsers": ["All"], "excludeGroups": [BG_GROUP]},
                                "applications": {"includeAuthenticationContextClassReferences": ["c1"]}},
                 "grantControls": {"authenticationStrength": {"id": PHISHING_RESISTANT_MFA_STRENGTH_ID}},
                 "sessionControls": {"signInFrequency": {"isEnabled": true, "frequencyInterval": "everyTime"}}},
                {"id": "ca020", "displayName": "CA020 Sensitive", "state": "enabled",
                 "conditions": {"users": {"includeUsers": ["All"]},
                                "applications": {"includeAuthenticationContextClassReferences": ["c2"]}},
                 "grantControls": {"builtInControls": ["mfa"]}},
                {"id": "ca030", "displayName": "CA030 Admins", "state": "enabled",
                 "conditions": {"users": {"includeRoles": [GA], "excludeGroups": [BG_GROUP]},
                                "applications": {"includeApplications": ["All"]}},
                 "grantControls": {"authenticationStrength": {"id": MFA_STRENGTH_ID}}},
                {"id": "ca099", "displayName": "CA099 Off", "state": "disabled",
                 "conditions": {"users": {"includeUsers": ["All"]},
                                "applications": {"includeAuthenticationContextClassReferences": ["c3"]}},
                 "grantControls": {"builtInControls": ["block"]}}
            ]
        }))
        .unwrap()
    }

    fn pim_c1() -> Vec<ContextUse> {
        vec![ContextUse {
            context: "c1".into(),
            roles: vec!["Global Administrator".into()],
        }]
    }

    fn of_kind(f: &[PostureFinding], kind: PostureKind) -> Vec<&PostureFinding> {
        f.iter().filter(|x| x.kind == kind).collect()
    }

    #[test]
    fn contexts_without_strength_or_policy_are_flagged() {
        let f = lint_conditional_access(&tenant(), &[BG_GROUP.into()], &pim_c1());
        let weak = of_kind(&f, PostureKind::ContextWithoutStrength);
        assert_eq!(weak.len(), 1, "{f:#?}");
        assert_eq!(weak[0].context.as_deref(), Some("c2"));
        assert!(
            weak[0]
                .message
                .starts_with("claim check: any MFA, even one made earlier elsewhere, satisfies c2"),
            "{}",
            weak[0].message
        );
        assert!(weak[0].message.contains("'CA020 Sensitive'"));
        assert!(weak[0].fix.contains("Phishing-resistant"));
        let untargeted = of_kind(&f, PostureKind::ContextNotTargeted);
        assert_eq!(untargeted.len(), 1);
        assert_eq!(untargeted[0].context.as_deref(), Some("c3"));
        assert!(untargeted[0]
            .message
            .contains("falls back to requiring MFA"));
        assert!(f.iter().all(|x| x.severity == Severity::Warning));
    }

    #[test]
    fn every_time_mfa_is_fresh_but_still_phishable() {
        let mut t = tenant();
        t.conditional_access_policies[2].session_controls = serde_json::from_value(json!(
            {"signInFrequency": {"isEnabled": true, "frequencyInterval": "everyTime"}}
        ))
        .unwrap();
        let f = lint_conditional_access(&t, &[BG_GROUP.into()], &pim_c1());
        let weak = of_kind(&f, PostureKind::ContextWithoutStrength);
        assert!(
            weak[0]
                .message
                .starts_with("no authentication strength: any MFA performed in the step-up"),
            "{}",
            weak[0].message
        );
    }

    #[test]
    fn telephony_is_flagged_for_roles_and_pim_contexts_only() {
        let mut t = tenant();
        let f = lint_conditional_access(&t, &[BG_GROUP.into()], &pim_c1());
        let tel = of_kind(&f, PostureKind::TelephonyForPrivilegedAccess);
        // CA030 targets Global Administrator with the MFA strength, which allows password,sms.
        assert_eq!(tel.len(), 1, "{f:#?}");
        assert_eq!(tel[0].policy_id.as_deref(), Some("ca030"));
        assert!(tel[0]
            .message
            .starts_with("SMS/voice allowed for privileged access"));
        assert!(
            tel[0].message.contains("password,sms"),
            "{}",
            tel[0].message
        );
        // c2 becomes a PIM context: CA020's plain mfa is flagged too.
        let mut uses = pim_c1();
        uses.push(ContextUse {
            context: "c2".into(),
            roles: vec!["User Administrator".into()],
        });
        let f = lint_conditional_access(&t, &[BG_GROUP.into()], &uses);
        let tel = of_kind(&f, PostureKind::TelephonyForPrivilegedAccess);
        assert_eq!(tel.len(), 2);
        assert_eq!(tel[0].policy_id.as_deref(), Some("ca020"));
        assert!(
            tel[0].message.contains("'mfa' control"),
            "{}",
            tel[0].message
        );
        assert!(tel[0].message.contains("User Administrator"));
        // Phishing-resistant for the role: nothing to say.
        t.conditional_access_policies[3].grant_controls = serde_json::from_value(json!(
            {"authenticationStrength": {"id": PHISHING_RESISTANT_MFA_STRENGTH_ID}}
        ))
        .unwrap();
        let f = lint_conditional_access(&t, &[BG_GROUP.into()], &pim_c1());
        assert!(of_kind(&f, PostureKind::TelephonyForPrivilegedAccess).is_empty());
    }

    #[test]
    fn break_glass_exclusions() {
        let t = tenant();
        let f = lint_conditional_access(&t, &[], &pim_c1());
        let none = of_kind(&f, PostureKind::NoBreakGlassDesignated);
        assert_eq!(none.len(), 1);
        assert!(none[0]
            .message
            .starts_with("no break-glass accounts designated"));
        assert!(of_kind(&f, PostureKind::NoBreakGlassExclusion).is_empty());

        // By group: only CA020 (no exclusion) applies to it; CA099 is disabled.
        let f = lint_conditional_access(&t, &[BG_GROUP.into()], &pim_c1());
        let missing = of_kind(&f, PostureKind::NoBreakGlassExclusion);
        assert_eq!(missing.len(), 1, "{f:#?}");
        assert_eq!(missing[0].policy_id.as_deref(), Some("ca020"));
        assert!(missing[0].message.contains("group 'Break-glass'"));
        // By user: the same (the user is excluded through the group elsewhere).
        let f = lint_conditional_access(&t, &["u-bg".into()], &pim_c1());
        let missing = of_kind(&f, PostureKind::NoBreakGlassExclusion);
        assert_eq!(missing.len(), 1);
        assert!(missing[0].message.contains("breakglass@x.test"));
        // Two accounts, one excluded nowhere: every enforced policy covers carol.
        let f = lint_conditional_access(&t, &["u-bg".into(), "u-carol".into()], &pim_c1());
        let missing = of_kind(&f, PostureKind::NoBreakGlassExclusion);
        // CA001, CA010, CA020 (both) — CA030 targets the GA role, which carol does not hold.
        assert_eq!(missing.len(), 3, "{f:#?}");
        assert!(missing[0]
            .message
            .starts_with("does not exclude break-glass account carol"));
        assert!(missing[2]
            .message
            .starts_with("excludes no break-glass account"));
    }

    fn methods(user: &str) -> Vec<RegisteredMethod> {
        use AuthenticationMethodMode as M;
        match user {
            "u-adele" => vec![
                RegisteredMethod::new(M::Password, "Password"),
                RegisteredMethod::new(M::SoftwareOath, "Authenticator"),
            ],
            "u-bob" => vec![
                RegisteredMethod::new(M::Password, "Password"),
                RegisteredMethod {
                    aaguid: Some("cb69481e-8ff7-4039-93ec-0a2729a154a8".into()),
                    ..RegisteredMethod::new(M::Fido2, "YubiKey")
                },
            ],
            "u-bg" => vec![RegisteredMethod::new(M::Password, "Password")],
            _ => Vec::new(),
        }
    }

    #[test]
    fn eligible_users_come_directly_and_through_groups() {
        let users = eligible_users(&tenant(), GA, &[BG_GROUP.into()]);
        let got: Vec<(&str, &[String])> = users
            .iter()
            .map(|u| (u.user_principal_name.as_str(), u.via.as_slice()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "adele@x.test",
                    &["eligible via group 'Admins'".to_string()][..]
                ),
                ("bob@x.test", &["eligible directly".to_string()][..]),
            ],
            "the disabled member and the active break-glass account are not eligible users"
        );
    }

    #[test]
    fn activation_preflight_lists_who_cannot_and_what_to_register() {
        let t = tenant();
        let eligible = eligible_users(&t, GA, &[BG_GROUP.into()]);
        let p = preflight_activation(&t, "c1", None, &eligible, &methods).unwrap();
        assert_eq!(p.policies.len(), 1);
        assert!(p.uncovered.is_empty());
        let r = &p.policies[0].report;
        assert_eq!(r.strength_id, PHISHING_RESISTANT_MFA_STRENGTH_ID);
        assert_eq!(r.cannot.len(), 1);
        let adele = &r.cannot[0];
        assert_eq!(adele.user.user_principal_name, "adele@x.test");
        assert_eq!(adele.registered.len(), 2);
        assert_eq!(
            adele.advice.as_deref(),
            Some("register a passkey or security key; ask an administrator for a temporary access pass")
        );
        assert_eq!(adele.shortfalls[0].combination.to_string(), "fido2");
        assert_eq!(r.can.len(), 1);
        assert_eq!(r.can[0].user.user_principal_name, "bob@x.test");
        assert_eq!(
            r.can[0]
                .satisfied_by
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("fido2")
        );
        assert!(!p.everyone_can());
        assert_eq!(
            p.unable_users().into_iter().collect::<Vec<_>>(),
            vec!["u-adele"]
        );
    }

    #[test]
    fn activation_preflight_counts_the_role_activated_as_its_step_up_does() {
        // The c1 policy for the role's members only: the eligible are not members yet.
        let mut t = tenant();
        let policy =
            t.conditional_access_policies
                .iter_mut()
                .find(|p| {
                    p.conditions.applications.as_ref().is_some_and(|a| {
                        a.include_authentication_context_class_references == ["c1"]
                    })
                })
                .unwrap();
        let users = policy.conditions.users.get_or_insert_with(Default::default);
        users.include_users.clear();
        users.include_groups.clear();
        users.include_roles = vec![GA.to_string()];
        let eligible = eligible_users(&t, GA, &[BG_GROUP.into()]);
        // Without the role: nobody is covered, which is what made the seed's policy a gap.
        let p = preflight_activation(&t, "c1", None, &eligible, &methods).unwrap();
        assert_eq!(p.uncovered.len(), 2, "{p:#?}");
        // Activating the role: both covered, Adele cannot, Bob can — as at their step-up.
        let p = preflight_activation(&t, "c1", Some(GA), &eligible, &methods).unwrap();
        assert!(p.uncovered.is_empty(), "{p:#?}");
        let r = &p.policies[0].report;
        assert_eq!(r.cannot.len(), 1);
        assert_eq!(r.cannot[0].user.user_principal_name, "adele@x.test");
        assert_eq!(r.can.len(), 1);
        assert_eq!(r.can[0].user.user_principal_name, "bob@x.test");
    }

    #[test]
    fn activation_preflight_refuses_weak_or_untargeted_contexts() {
        let t = tenant();
        let e = preflight_activation(&t, "c2", None, &[], &methods).unwrap_err();
        assert!(matches!(e, PreflightError::ContextWithoutStrength { .. }));
        assert!(e.to_string().contains("MFA check"), "{e}");
        let e = preflight_activation(&t, "c3", None, &[], &methods).unwrap_err();
        assert_eq!(e, PreflightError::ContextNotTargeted("c3".into()));
        assert!(e.to_string().contains("claim check"));
    }

    #[test]
    fn policy_preflight_counts_all_users_and_shows_break_glass_apart() {
        let mut t = tenant();
        // CA020 with the phishing-resistant strength, no exclusion.
        t.conditional_access_policies[2].grant_controls = serde_json::from_value(json!(
            {"authenticationStrength": {"id": PHISHING_RESISTANT_MFA_STRENGTH_ID}}
        ))
        .unwrap();
        let p = preflight_policy(&t, "ca020", &[BG_GROUP.into()], &methods).unwrap();
        let r = &p.report;
        let names = |v: &[UserReadiness]| -> Vec<String> {
            v.iter()
                .map(|r| r.user.user_principal_name.clone())
                .collect()
        };
        assert_eq!(names(&r.cannot), vec!["adele@x.test", "carol@x.test"]);
        assert_eq!(names(&r.can), vec!["bob@x.test"]);
        assert_eq!(names(&r.break_glass), vec!["breakglass@x.test"]);
        assert!(r.break_glass[0]
            .advice
            .as_deref()
            .unwrap()
            .contains("exclude it"));
        assert_eq!(r.targeted(), 4);
        assert_eq!(r.unable(), 3);
        assert_eq!(r.cannot[0].user.via, vec!["all users"]);

        let e = preflight_policy(&t, "ca001", &[], &methods).unwrap_err();
        assert!(e.to_string().contains("(grant controls: mfa)"), "{e}");
        assert!(matches!(
            preflight_policy(&t, "nope", &[], &methods),
            Err(PreflightError::UnknownPolicy(_))
        ));
    }

    #[test]
    fn role_policies_include_eligible_holders() {
        let t = tenant();
        let ca030 = &t.conditional_access_policies[3];
        let targets = policy_targets(&t, ca030, &[BG_GROUP.into()]);
        let got: Vec<(&str, Vec<String>)> = targets
            .iter()
            .map(|u| (u.user_principal_name.as_str(), u.via.clone()))
            .collect();
        let ga = format!("eligible Global Administrator ({GA}) (once activated)");
        assert_eq!(
            got,
            vec![("adele@x.test", vec![ga.clone()]), ("bob@x.test", vec![ga])]
        );
    }

    #[test]
    fn combinations_need_every_mode_and_allowed_models() {
        use AuthenticationMethodMode as M;
        let strength: AuthenticationStrengthPolicy = serde_json::from_value(json!({
            "id": "custom",
            "displayName": "Key or app",
            "allowedCombinations": ["fido2", "password,softwareOath"],
            "combinationConfigurations": [{
                "@odata.type": "#microsoft.graph.fido2CombinationConfiguration",
                "appliesToCombinations": ["fido2"],
                "allowedAAGUIDs": ["cb69481e-8ff7-4039-93ec-0a2729a154a8"]
            }]
        }))
        .unwrap();
        let user = |id: &str| TargetUser {
            id: id.into(),
            user_principal_name: id.into(),
            display_name: None,
            is_break_glass: false,
            via: Vec::new(),
        };
        let of = |id: &str| -> Vec<RegisteredMethod> {
            match id {
                "app-only" => vec![RegisteredMethod::new(M::SoftwareOath, "app")],
                "both" => vec![
                    RegisteredMethod::new(M::Password, "pw"),
                    RegisteredMethod::new(M::SoftwareOath, "app"),
                ],
                "other-key" => vec![RegisteredMethod {
                    aaguid: Some("00000000-0000-0000-0000-000000000001".into()),
                    ..RegisteredMethod::new(M::Fido2, "Cheap key")
                }],
                _ => Vec::new(),
            }
        };
        let r = preflight_strength(
            &strength,
            &[user("app-only"), user("both"), user("other-key")],
            &of,
        );
        assert_eq!(r.can.len(), 1);
        assert_eq!(r.can[0].user.id, "both");
        let app_only = &r.cannot[0];
        // One method short either way: the phishing-resistant one first.
        assert_eq!(app_only.shortfalls[0].combination.to_string(), "fido2");
        assert_eq!(
            app_only.shortfalls[1].combination.to_string(),
            "password,softwareOath"
        );
        assert_eq!(app_only.shortfalls[1].missing, vec![M::Password]);
        assert_eq!(
            app_only.advice.as_deref(),
            Some(
                "register a passkey or security key, or a password; ask an administrator for a \
                 temporary access pass"
            )
        );
        let other = &r.cannot[1];
        let key = other
            .shortfalls
            .iter()
            .find(|s| s.combination.to_string() == "fido2")
            .unwrap();
        assert_eq!(key.missing, vec![M::Fido2]);
        assert!(
            key.note.as_deref().unwrap().contains("'Cheap key'"),
            "{key:?}"
        );

        let mut t = Tenant::default();
        assert!(matches!(
            preflight(&t, "custom", &[], &of),
            Err(PreflightError::UnknownStrength(_))
        ));
        t.authentication_strength_policies.push(strength);
        assert_eq!(preflight(&t, "custom", &[], &of).unwrap().targeted(), 0);
    }
}
