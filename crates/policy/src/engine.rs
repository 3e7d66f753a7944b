//! The Conditional Access engine: a tenant made ready for evaluation.
//!
//! Building an [`Engine`] resolves the directory (transitive groups, active roles), the strengths
//! (built-in, custom, and definitions carried inside exported policies) and an index of enforced
//! policies by target and principal, so that a decision reads only the policies that can apply.

use crate::conditional_access::{
    BuiltInControl, ConditionalAccessPolicy, FrequencyInterval, PolicyState,
    SignInFrequencyAuthenticationType, SigninFrequencyType,
};
use crate::directory::{AssignmentStatus, User};
use crate::index::PolicyIndex;
use crate::location::{LocationKind, NamedLocation};
use crate::outcome::{
    AppliedResult, Decision, DecisionResult, PolicyEvaluation, PolicyRequirements, Requirement,
    WhatIfReason,
};
use crate::serde_util::carries_configuration;
use crate::session::PerformedMethod;
use crate::signin::{user_action_key, SignIn, Target};
use crate::strength::{AuthenticationStrengthPolicy, MFA_STRENGTH_ID};
use crate::tenant::Tenant;
use crate::tri::Tri;
use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, HashSet};

mod incremental;

/// App group names Graph accepts in `includeApplications`; their members are not known here.
pub(crate) const APP_GROUPS: &[&str] = &["Office365", "MicrosoftAdminPortals"];

/// The id of the legacy "MFA trusted IPs" location, whose ranges live outside Graph's locations.
const MFA_TRUSTED_IPS: &str = "00000000-0000-0000-0000-000000000000";

/// Why a sign-in cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvaluateError {
    /// The user is not in the tenant.
    #[error("user '{0}' is not in the tenant")]
    UnknownUser(String),
}

/// A tenant prepared for evaluation.
///
/// [`Engine::apply`] follows a change without building it again; a clone is a full copy.
#[derive(Debug, Clone)]
pub struct Engine {
    tenant: Tenant,
    users: HashMap<String, usize>,
    groups: HashSet<String>,
    member_of: HashMap<String, Vec<String>>,
    active_roles: HashMap<String, Vec<String>>,
    /// Principals (users, groups; lower-case) holding or eligible for any role.
    role_holders: HashSet<String>,
    strengths: HashMap<String, AuthenticationStrengthPolicy>,
    locations: HashMap<String, usize>,
    index: PolicyIndex,
    /// Report-only policies by target and principal, for the sign-in log.
    report_only: PolicyIndex,
}

/// What the directory says about the signing-in user.
pub(crate) struct Principal<'e> {
    pub(crate) id: String,
    pub(crate) user: &'e User,
    pub(crate) groups: HashSet<String>,
    pub(crate) roles: HashSet<String>,
    /// The role being activated ([`SignIn::activating_role`], lower case): held for
    /// inclusion only.
    pub(crate) activating: Option<String>,
}

/// Which of a session's methods a policy may count.
struct Freshness {
    since: Option<DateTime<Utc>>,
    keep_first_factor: bool,
    reauthentication: bool,
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// `s` in lower case, borrowed when it already is (Graph ids almost always are).
pub(crate) fn lower_cow(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(s.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

impl Engine {
    /// Prepares `tenant` for evaluation.
    pub fn new(tenant: Tenant) -> Engine {
        let users = tenant
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (lower(&u.id), i))
            .collect();
        let groups: HashSet<String> = tenant.groups.iter().map(|g| lower(&g.id)).collect();
        let mut member_of: HashMap<String, Vec<String>> = HashMap::new();
        for g in &tenant.groups {
            for m in &g.members {
                member_of
                    .entry(lower(m.id()))
                    .or_default()
                    .push(lower(&g.id));
            }
        }
        // Principals holding or eligible for any role, for the provenance rule.
        let role_holders: HashSet<String> = tenant
            .role_assignments
            .iter()
            .map(|a| a.principal_id.canonical())
            .collect();
        let mut active_roles: HashMap<String, Vec<String>> = HashMap::new();
        for a in &tenant.role_assignments {
            if a.status == AssignmentStatus::Active {
                active_roles
                    .entry(a.principal_id.canonical())
                    .or_default()
                    .push(a.role_definition_id.canonical());
            }
        }
        let strengths = incremental::strengths_of(&tenant);
        let locations = incremental::locations_of(&tenant);
        let index = PolicyIndex::build(&tenant.conditional_access_policies, &groups);
        let report_only =
            PolicyIndex::build_report_only(&tenant.conditional_access_policies, &groups);
        Engine {
            tenant,
            users,
            groups,
            member_of,
            active_roles,
            role_holders,
            strengths,
            locations,
            index,
            report_only,
        }
    }

    /// The tenant the engine was built from.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// A strength by id: built-in, custom, or carried by an exported policy.
    pub fn strength(&self, id: &str) -> Option<&AuthenticationStrengthPolicy> {
        self.strengths.get(lower_cow(id).as_ref())
    }

    /// A named location by id.
    pub fn location(&self, id: &str) -> Option<&NamedLocation> {
        self.locations
            .get(lower_cow(id).as_ref())
            .map(|&i| &self.tenant.named_locations[i])
    }

    /// Whether the tenant holds a group with this id.
    pub fn has_group(&self, id: &str) -> bool {
        self.groups.contains(lower_cow(id).as_ref())
    }

    /// A user by id.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users
            .get(lower_cow(id).as_ref())
            .map(|&i| &self.tenant.users[i])
    }

    /// Every group the principal belongs to, directly or through nested groups.
    pub fn transitive_groups(&self, principal_id: &str) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut stack = vec![lower(principal_id)];
        while let Some(id) = stack.pop() {
            for parent in self.member_of.get(&id).into_iter().flatten() {
                if seen.insert(parent.clone()) {
                    stack.push(parent.clone());
                }
            }
        }
        seen
    }

    /// Whether the user holds or is eligible for a directory role, directly or through a group:
    /// the users whose phishing-resistant credentials must have a vouching provenance
    /// (DESIGN §8.5).
    pub fn is_privileged(&self, user_id: &str) -> bool {
        self.role_holders.contains(lower_cow(user_id).as_ref())
            || self
                .transitive_groups(user_id)
                .iter()
                .any(|g| self.role_holders.contains(g))
    }

    /// Roles (template ids, lower-case) the user holds actively, directly or through a group.
    pub fn active_roles(&self, user_id: &str, groups: &HashSet<String>) -> HashSet<String> {
        std::iter::once(lower(user_id))
            .chain(groups.iter().cloned())
            .filter_map(|p| self.active_roles.get(&p))
            .flatten()
            .cloned()
            .collect()
    }

    pub(crate) fn principal(&self, sign_in: &SignIn) -> Result<Principal<'_>, EvaluateError> {
        let user_id = sign_in.user_id.as_str();
        let user = self
            .user(user_id)
            .ok_or_else(|| EvaluateError::UnknownUser(user_id.into()))?;
        let groups = self.transitive_groups(user_id);
        let roles = self.active_roles(user_id, &groups);
        Ok(Principal {
            id: lower(user_id),
            user,
            groups,
            roles,
            activating: sign_in.activating_role.as_deref().map(lower),
        })
    }

    /// Evaluates every policy of the tenant (What-If), in tenant order.
    pub fn evaluate_all(
        &self,
        sign_in: &SignIn,
        at: DateTime<Utc>,
    ) -> Result<Vec<PolicyEvaluation>, EvaluateError> {
        let principal = self.principal(sign_in)?;
        Ok((0..self.tenant.conditional_access_policies.len())
            .map(|i| self.evaluate_policy(i, sign_in, &principal, at))
            .collect())
    }

    /// Decides the sign-in, reading only the enforced policies that can apply (via the index).
    pub fn decide(&self, sign_in: &SignIn, at: DateTime<Utc>) -> Result<Decision, EvaluateError> {
        let principal = self.principal(sign_in)?;
        let evaluations: Vec<PolicyEvaluation> = self
            .index
            .candidates(&sign_in.target, &principal)
            .into_iter()
            .map(|i| self.evaluate_policy(i, sign_in, &principal, at))
            .collect();
        Ok(self.decision_from(evaluations))
    }

    /// Decides the sign-in through the index, with every policy's result for the sign-in log.
    ///
    /// Only the indexes' candidates (enforced and report-only policies that may apply) and the
    /// disabled policies (which cost nothing) are evaluated. A policy the indexes rule out does
    /// not apply, so it gets the evaluation [`Engine::evaluate_all`] gives it by construction:
    /// `notApplied` (`reportOnlyNotApplied` when report-only), unsatisfied, nothing required.
    /// Its `reasons` and `unknown_conditions` are left empty (working them out is the cost the
    /// index saves): What-If, which shows them, reads [`Engine::evaluate_all`].
    pub fn decide_logged(
        &self,
        sign_in: &SignIn,
        at: DateTime<Utc>,
    ) -> Result<(Decision, Vec<PolicyEvaluation>), EvaluateError> {
        let principal = self.principal(sign_in)?;
        let policies = &self.tenant.conditional_access_policies;
        let mut candidate = vec![false; policies.len()];
        for i in self
            .index
            .candidates(&sign_in.target, &principal)
            .into_iter()
            .chain(self.report_only.candidates(&sign_in.target, &principal))
        {
            if let Some(c) = candidate.get_mut(i) {
                *c = true;
            }
        }
        let evaluations: Vec<PolicyEvaluation> = policies
            .iter()
            .zip(candidate)
            .enumerate()
            .map(|(i, (p, candidate))| {
                if candidate || p.state == PolicyState::Disabled {
                    self.evaluate_policy(i, sign_in, &principal, at)
                } else {
                    ruled_out(i, p)
                }
            })
            .collect();
        Ok((self.decision(&evaluations), evaluations))
    }

    /// The decision that a set of evaluations adds up to.
    ///
    /// Enforced policies only; any `block` wins; otherwise every applicable policy must be
    /// satisfied. A policy whose applicability could not be known counts as applying.
    pub fn decision(&self, evaluations: &[PolicyEvaluation]) -> Decision {
        self.decision_from(evaluations.iter().map(|e| PolicyEvaluation {
            any_of: e.any_of.clone(),
            reasons: Vec::new(),
            unknown_conditions: Vec::new(),
            ..*e
        }))
    }

    /// [`Engine::decision`], taking the evaluations by value so that requirements move.
    fn decision_from(&self, evaluations: impl IntoIterator<Item = PolicyEvaluation>) -> Decision {
        let policies = &self.tenant.conditional_access_policies;
        let mut d = Decision {
            result: DecisionResult::Grant,
            unsatisfied_policies: Vec::new(),
            blocking_policies: Vec::new(),
            requirements: Vec::new(),
            not_enough_information: Vec::new(),
        };
        for e in evaluations
            .into_iter()
            .filter(|e| e.enforced && e.applies != Tri::False)
        {
            let p = &policies[e.policy];
            if e.applies == Tri::Unknown {
                d.not_enough_information.push(p.id.clone());
            }
            if e.satisfied {
                continue;
            }
            d.unsatisfied_policies.push(p.id.clone());
            if !e.achievable() {
                d.blocking_policies.push(p.id.clone());
            }
            d.requirements.push(PolicyRequirements {
                policy_id: p.id.clone(),
                display_name: p.display_name.clone(),
                any_of: e.any_of,
            });
        }
        d.result = if !d.blocking_policies.is_empty() {
            DecisionResult::Block
        } else if !d.unsatisfied_policies.is_empty() {
            DecisionResult::Challenge
        } else {
            DecisionResult::Grant
        };
        d
    }

    pub(crate) fn evaluate_policy(
        &self,
        index: usize,
        sign_in: &SignIn,
        principal: &Principal<'_>,
        at: DateTime<Utc>,
    ) -> PolicyEvaluation {
        let policy = &self.tenant.conditional_access_policies[index];
        let (enforced, report_only) = match &policy.state {
            PolicyState::Enabled => (true, false),
            PolicyState::EnabledForReportingButNotEnforced => (false, true),
            PolicyState::Disabled => {
                return PolicyEvaluation {
                    policy: index,
                    applies: Tri::False,
                    reasons: vec![WhatIfReason::PolicyNotEnabled],
                    unknown_conditions: Vec::new(),
                    satisfied: false,
                    any_of: Vec::new(),
                    result: AppliedResult::NotEnabled,
                    enforced: false,
                }
            }
            // A state this version does not know is enforced: never silently off.
            PolicyState::Unknown(_) => (true, false),
        };

        let mut reasons = Vec::new();
        let mut unknown = Vec::new();
        let mut applies = Tri::True;
        for (reason, name, value) in self.conditions(policy, sign_in, principal) {
            match value {
                Tri::False => reasons.push(reason),
                Tri::Unknown => unknown.push(name.into_owned()),
                Tri::True => {}
            }
            applies = applies.and(value);
        }
        reasons.sort();
        reasons.dedup();
        if applies == Tri::Unknown {
            reasons = vec![WhatIfReason::NotEnoughInformation];
        }

        let (satisfied, any_of) = if applies == Tri::False {
            (false, Vec::new())
        } else {
            self.controls(policy, sign_in, at)
        };
        let achievable = any_of
            .iter()
            .any(|a| a.iter().all(Requirement::is_achievable));
        let result = match (applies, report_only, satisfied) {
            (Tri::False, false, _) => AppliedResult::NotApplied,
            (Tri::False, true, _) => AppliedResult::ReportOnlyNotApplied,
            (_, false, true) => AppliedResult::Success,
            (_, false, false) => AppliedResult::Failure,
            (_, true, true) => AppliedResult::ReportOnlySuccess,
            (_, true, false) if achievable => AppliedResult::ReportOnlyInterrupted,
            (_, true, false) => AppliedResult::ReportOnlyFailure,
        };
        PolicyEvaluation {
            policy: index,
            applies,
            reasons,
            unknown_conditions: unknown,
            satisfied,
            any_of,
            result,
            enforced,
        }
    }

    /// Every condition of the policy, with the reason it would give and its value.
    fn conditions(
        &self,
        policy: &ConditionalAccessPolicy,
        sign_in: &SignIn,
        principal: &Principal<'_>,
    ) -> Vec<(WhatIfReason, std::borrow::Cow<'static, str>, Tri)> {
        let c = &policy.conditions;
        let s = &sign_in.conditions;
        let mut out = vec![
            (
                WhatIfReason::Users,
                "users".into(),
                self.users_condition(policy, principal),
            ),
            (
                target_reason(&sign_in.target),
                "applications".into(),
                self.target_condition(policy, &sign_in.target),
            ),
        ];
        if let Some(ca) = &c.client_applications {
            if !ca.include_service_principals.is_empty() {
                out.push((
                    WhatIfReason::WorkloadIdentities,
                    "clientApplications".into(),
                    Tri::False,
                ));
            }
        }
        if let Some(p) = &c.platforms {
            if !p.include_platforms.is_empty() || !p.exclude_platforms.is_empty() {
                let v = match &s.device_platform {
                    Some(platform) => {
                        let inc = p.include_platforms.iter().any(|x| {
                            *x == crate::conditional_access::DevicePlatform::All || x == platform
                        });
                        let exc = p.exclude_platforms.contains(platform);
                        Tri::from(inc && !exc)
                    }
                    None if p.exclude_platforms.is_empty()
                        && p.include_platforms
                            .contains(&crate::conditional_access::DevicePlatform::All) =>
                    {
                        Tri::True
                    }
                    None => Tri::Unknown,
                };
                out.push((WhatIfReason::DevicePlatform, "platforms".into(), v));
            }
        }
        if !c.client_app_types.is_empty()
            && !c
                .client_app_types
                .contains(&crate::conditional_access::ClientAppType::All)
        {
            let v = s
                .client_app_type
                .as_ref()
                .map(|t| c.client_app_types.contains(t));
            out.push((
                WhatIfReason::ClientApps,
                "clientAppTypes".into(),
                Tri::from(v),
            ));
        }
        if let Some(l) = &c.locations {
            if !l.include_locations.is_empty() {
                let inc = Tri::any(
                    l.include_locations
                        .iter()
                        .map(|id| self.in_location(id, sign_in)),
                );
                let exc = Tri::any(
                    l.exclude_locations
                        .iter()
                        .map(|id| self.in_location(id, sign_in)),
                );
                out.push((
                    WhatIfReason::Location,
                    "locations".into(),
                    inc.and(exc.negated()),
                ));
            }
        }
        if !c.sign_in_risk_levels.is_empty() {
            let v = s
                .sign_in_risk_level
                .as_ref()
                .map(|r| c.sign_in_risk_levels.contains(r));
            out.push((
                WhatIfReason::SignInRisk,
                "signInRiskLevels".into(),
                Tri::from(v),
            ));
        }
        if !c.user_risk_levels.is_empty() {
            let v = s
                .user_risk_level
                .as_ref()
                .map(|r| c.user_risk_levels.contains(r));
            out.push((
                WhatIfReason::UserRisk,
                "userRiskLevels".into(),
                Tri::from(v),
            ));
        }
        if let Some(d) = &c.devices {
            if let Some(f) = &d.device_filter {
                let v = crate::device_filter::evaluate(f, s.device.as_ref());
                out.push((WhatIfReason::Devices, "devices.deviceFilter".into(), v));
            }
            for (k, v) in d.extra.iter().filter(|(k, v)| carries_configuration(k, v)) {
                let _ = v;
                out.push((
                    WhatIfReason::Devices,
                    format!("devices.{k}").into(),
                    Tri::Unknown,
                ));
            }
        }
        if let Some(f) = &c.authentication_flows {
            if !f.transfer_methods.0.is_empty() {
                let v = f.transfer_methods.0.contains(&s.transfer_method);
                out.push((
                    WhatIfReason::AuthenticationFlow,
                    "authenticationFlows".into(),
                    Tri::from(v),
                ));
            }
        }
        for (k, v) in c.extra.iter().filter(|(k, v)| carries_configuration(k, v)) {
            let _ = v;
            out.push((
                WhatIfReason::NotEnoughInformation,
                k.clone().into(),
                Tri::Unknown,
            ));
        }
        out
    }

    fn users_condition(&self, policy: &ConditionalAccessPolicy, p: &Principal<'_>) -> Tri {
        let Some(u) = &policy.conditions.users else {
            return Tri::False;
        };
        let guest = p.user.is_guest();
        let user_match = |ids: &[String]| {
            Tri::from(ids.iter().any(|id| {
                id.eq_ignore_ascii_case(&p.id)
                    || (guest && id.eq_ignore_ascii_case("GuestsOrExternalUsers"))
            }))
        };
        let group_match = |ids: &[String]| {
            Tri::any(ids.iter().map(|g| {
                let g = lower_cow(g);
                if p.groups.contains(g.as_ref()) {
                    Tri::True
                } else if self.groups.contains(g.as_ref()) {
                    Tri::False
                } else {
                    // A group the tenant does not hold: its members cannot be known.
                    Tri::Unknown
                }
            }))
        };
        let role_match =
            |ids: &[String]| Tri::from(ids.iter().any(|r| p.roles.contains(lower_cow(r).as_ref())));
        // The role being activated counts for inclusion only (see `SignIn::activating_role`).
        let activating_match = |ids: &[String]| {
            Tri::from(
                p.activating
                    .as_deref()
                    .is_some_and(|a| ids.iter().any(|r| lower_cow(r).as_ref() == a)),
            )
        };
        let guest_match = |g: &Option<crate::conditional_access::GuestsOrExternalUsers>| match g {
            Some(g) if guest && !g.guest_or_external_user_types.0.is_empty() => {
                match &p.user.guest_or_external_user_type {
                    Some(t) => Tri::from(g.guest_or_external_user_types.0.contains(t)),
                    None => Tri::Unknown,
                }
            }
            _ => Tri::False,
        };
        let all = Tri::from(
            u.include_users
                .iter()
                .any(|x| x.eq_ignore_ascii_case("All")),
        );
        let include = Tri::any([
            all,
            user_match(&u.include_users),
            group_match(&u.include_groups),
            role_match(&u.include_roles),
            activating_match(&u.include_roles),
            guest_match(&u.include_guests_or_external_users),
        ]);
        let exclude = Tri::any([
            user_match(&u.exclude_users),
            group_match(&u.exclude_groups),
            role_match(&u.exclude_roles),
            guest_match(&u.exclude_guests_or_external_users),
        ]);
        include.and(exclude.negated())
    }

    fn target_condition(&self, policy: &ConditionalAccessPolicy, target: &Target) -> Tri {
        let Some(a) = &policy.conditions.applications else {
            return Tri::False;
        };
        match target {
            Target::Applications(apps) => {
                let matches = |list: &[String], app: &str| {
                    Tri::any(list.iter().map(|entry| {
                        if entry.eq_ignore_ascii_case("All") || entry.eq_ignore_ascii_case(app) {
                            Tri::True
                        } else if APP_GROUPS.iter().any(|g| g.eq_ignore_ascii_case(entry)) {
                            Tri::Unknown
                        } else {
                            Tri::False
                        }
                    }))
                };
                let per_app = Tri::any(apps.iter().map(|app| {
                    matches(&a.include_applications, app)
                        .and(matches(&a.exclude_applications, app).negated())
                }));
                match &a.application_filter {
                    Some(f) if !f.rule.trim().is_empty() => per_app.and(Tri::Unknown),
                    _ => per_app,
                }
            }
            Target::UserAction(action) => {
                // Either spelling (`urn:user:registersecurityinfo` or Graph's
                // `registerSecurityInformation`) names the same action, as validation accepts.
                let action = user_action_key(action);
                Tri::from(
                    a.include_user_actions
                        .iter()
                        .any(|x| user_action_key(x) == action),
                )
            }
            Target::AuthenticationContext(ctx) => {
                let ctx = ctx.to_string();
                Tri::from(
                    a.include_authentication_context_class_references
                        .contains(&ctx),
                )
            }
        }
    }

    fn in_location(&self, id: &str, sign_in: &SignIn) -> Tri {
        let at = &sign_in.conditions.location;
        if id.eq_ignore_ascii_case("All") {
            return Tri::True;
        }
        if id.eq_ignore_ascii_case("AllTrusted") {
            return Tri::any(
                self.tenant
                    .named_locations
                    .iter()
                    .filter(|l| l.is_trusted == Some(true))
                    .map(|l| Tri::from(l.contains(at))),
            );
        }
        if id == MFA_TRUSTED_IPS {
            // The legacy "MFA trusted IPs": their ranges are not in Graph's named locations.
            return Tri::Unknown;
        }
        match self.location(id) {
            Some(l) if l.kind() != LocationKind::Other => Tri::from(l.contains(at)),
            _ => Tri::Unknown,
        }
    }

    fn freshness(
        &self,
        policy: &ConditionalAccessPolicy,
        sign_in: &SignIn,
        at: DateTime<Utc>,
    ) -> Freshness {
        let Some(f) = policy.sign_in_frequency() else {
            return Freshness {
                since: None,
                keep_first_factor: false,
                reauthentication: false,
            };
        };
        let every_time = sign_in.session.transaction_started_at.unwrap_or(at);
        let interval = match (&f.frequency_interval, &f.frequency_type, f.value) {
            (Some(FrequencyInterval::EveryTime), _, _) => None,
            (
                None | Some(FrequencyInterval::TimeBased),
                Some(SigninFrequencyType::Hours),
                Some(v),
            ) => Duration::try_hours(i64::from(v)),
            (
                None | Some(FrequencyInterval::TimeBased),
                Some(SigninFrequencyType::Days),
                Some(v),
            ) => Duration::try_days(i64::from(v)),
            // Malformed or unknown: the strictest reading.
            _ => None,
        };
        // A stored value may reach back before the earliest representable time (the API refuses
        // such values, an import keeps them): that is malformed too, so the strictest reading
        // again, rather than an overflow.
        let since = interval
            .and_then(|d| at.checked_sub_signed(d))
            .unwrap_or(every_time);
        let secondary_only = f.authentication_type
            == Some(SignInFrequencyAuthenticationType::SecondaryAuthentication);
        Freshness {
            since: Some(since),
            keep_first_factor: secondary_only,
            reauthentication: !secondary_only,
        }
    }

    /// Whether the policy's grant and session controls are met, and if not, the ways to meet them.
    fn controls(
        &self,
        policy: &ConditionalAccessPolicy,
        sign_in: &SignIn,
        at: DateTime<Utc>,
    ) -> (bool, Vec<Vec<Requirement>>) {
        let fresh = self.freshness(policy, sign_in, at);
        let counted: Vec<&PerformedMethod> = sign_in
            .session
            .methods_until(at)
            .filter(|m| {
                fresh.since.is_none_or(|s| m.performed_at >= s)
                    || (fresh.keep_first_factor && m.method.is_first_factor_only())
            })
            .collect();
        let claim_ok = sign_in
            .session
            .mfa_claimed_at
            .is_some_and(|t| t <= at && fresh.since.is_none_or(|s| t >= s));

        let mut controls: Vec<(Pending<'_>, bool)> = Vec::new();
        let grant = policy.grant_controls.as_ref();
        for c in grant
            .map(|g| g.built_in_controls.as_slice())
            .unwrap_or_default()
        {
            let device = sign_in.conditions.device.as_ref();
            let entry = match c {
                BuiltInControl::Block => (Pending::Ready(Requirement::Block), false),
                BuiltInControl::Mfa => {
                    let by_methods = self
                        .strength(MFA_STRENGTH_ID)
                        .is_some_and(|s| s.satisfied_by(counted.iter().copied()).is_some());
                    (
                        Pending::Ready(Requirement::Mfa {
                            performed_after: fresh.since,
                        }),
                        claim_ok || by_methods,
                    )
                }
                BuiltInControl::CompliantDevice => (
                    Pending::Control(c),
                    device.and_then(|d| d.is_compliant) == Some(true),
                ),
                BuiltInControl::DomainJoinedDevice => (
                    Pending::Control(c),
                    device
                        .and_then(|d| d.trust_type.as_deref())
                        .is_some_and(|t| t.eq_ignore_ascii_case("ServerAD")),
                ),
                BuiltInControl::Unknown(s) => (
                    Pending::Ready(Requirement::Control {
                        control: format!("{s} (not known to Portcullis)"),
                    }),
                    false,
                ),
                other => (
                    Pending::Ready(Requirement::Control {
                        control: format!("{other} (not evaluated by Portcullis)"),
                    }),
                    false,
                ),
            };
            controls.push(entry);
        }
        if let Some(g) = grant {
            for f in &g.custom_authentication_factors {
                controls.push((
                    Pending::Ready(Requirement::Control {
                        control: format!("customAuthenticationFactor {f}"),
                    }),
                    false,
                ));
            }
            for t in &g.terms_of_use {
                controls.push((
                    Pending::Ready(Requirement::Control {
                        control: format!("termsOfUse {t}"),
                    }),
                    false,
                ));
            }
            if let Some(s) = &g.authentication_strength {
                controls.push(match self.strength(&s.id) {
                    Some(def) => (
                        Pending::Strength(def, fresh.since),
                        def.satisfied_by(counted.iter().copied()).is_some(),
                    ),
                    None => (
                        Pending::Ready(Requirement::Control {
                            control: format!(
                                "authenticationStrength {} (not defined in the tenant)",
                                s.id
                            ),
                        }),
                        false,
                    ),
                });
            }
        }

        let grant_ok = if controls.is_empty() {
            true
        } else if grant.is_some_and(|g| g.is_or()) {
            controls.iter().any(|(_, ok)| *ok)
        } else {
            controls.iter().all(|(_, ok)| *ok)
        };
        let reauth_ok =
            !fresh.reauthentication || counted.iter().any(|m| m.method.can_be_primary());
        let reauth =
            fresh
                .since
                .filter(|_| !reauth_ok)
                .map(|since| Requirement::Reauthentication {
                    performed_after: since,
                });

        if grant_ok && reauth_ok {
            return (true, Vec::new());
        }
        let any_of = if grant_ok {
            vec![reauth.into_iter().collect()]
        } else if grant.is_some_and(|g| g.is_or()) {
            controls
                .into_iter()
                .map(|(r, _)| {
                    std::iter::once(r.into_requirement())
                        .chain(reauth.clone())
                        .collect()
                })
                .collect()
        } else {
            vec![controls
                .into_iter()
                .filter(|(_, ok)| !ok)
                .map(|(r, _)| r.into_requirement())
                .chain(reauth)
                .collect()]
        };
        (false, any_of)
    }
}

/// A requirement built only if the policy turns out unsatisfied.
enum Pending<'a> {
    Ready(Requirement),
    Control(&'a BuiltInControl),
    Strength(&'a AuthenticationStrengthPolicy, Option<DateTime<Utc>>),
}

impl Pending<'_> {
    fn into_requirement(self) -> Requirement {
        match self {
            Pending::Ready(r) => r,
            Pending::Control(c) => Requirement::Control {
                control: c.to_string(),
            },
            Pending::Strength(def, since) => Requirement::AuthenticationStrength {
                id: def.id.clone(),
                display_name: def.name().to_string(),
                performed_after: since,
            },
        }
    }
}

/// The evaluation of a policy that cannot apply (the index rules it out), as
/// [`Engine::evaluate_policy`] would give it but for the reasons, which are not worked out.
fn ruled_out(index: usize, policy: &ConditionalAccessPolicy) -> PolicyEvaluation {
    let report_only = policy.state == PolicyState::EnabledForReportingButNotEnforced;
    PolicyEvaluation {
        policy: index,
        applies: Tri::False,
        reasons: Vec::new(),
        unknown_conditions: Vec::new(),
        satisfied: false,
        any_of: Vec::new(),
        result: if report_only {
            AppliedResult::ReportOnlyNotApplied
        } else {
            AppliedResult::NotApplied
        },
        enforced: !report_only,
    }
}

fn target_reason(target: &Target) -> WhatIfReason {
    match target {
        Target::Applications(_) => WhatIfReason::Application,
        Target::UserAction(_) => WhatIfReason::UserActions,
        Target::AuthenticationContext(_) => WhatIfReason::AuthenticationContext,
    }
}
