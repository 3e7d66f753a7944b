//! Invariants of the Conditional Access engine over generated tenants and sessions.
//!
//! Tenants have a few users (one a guest), nested groups (cycles allowed), active and eligible
//! role assignments, and 1–12 policies with random states, principals, targets, grant controls
//! and sign-in frequencies. Sign-ins have random targets, devices and sessions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::{now, pick};
use policy::tri::Tri;
use policy::{AppliedResult, Decision, DecisionResult, Engine, EvaluateRequest, SignIn, Tenant};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{json, Value};

const USERS: [&str; 4] = ["u0", "u1", "u2", "guest"];
/// The last one is not in the tenant.
const GROUPS: [&str; 5] = ["g0", "g1", "g2", "g3", "g-missing"];
const ROLES: [&str; 2] = [
    "62e90394-69f5-4237-9190-012177145e10",
    "e8611ab8-c189-46e8-94e1-60213ab1f814",
];
const STRENGTHS: [&str; 3] = [
    "00000000-0000-0000-0000-000000000002",
    "00000000-0000-0000-0000-000000000003",
    "00000000-0000-0000-0000-000000000004",
];
const CONTROLS: [&str; 3] = ["block", "mfa", "compliantDevice"];
const STATES: [&str; 3] = ["enabled", "disabled", "enabledForReportingButNotEnforced"];
const METHODS: [&str; 7] = [
    "password",
    "softwareOath",
    "sms",
    "microsoftAuthenticatorPush",
    "fido2",
    "windowsHelloForBusiness",
    "x509CertificateMultiFactor",
];

#[derive(Debug, Clone)]
struct PolicySpec {
    state: usize,
    include_all: bool,
    include_users: Vec<usize>,
    exclude_users: Vec<usize>,
    include_groups: Vec<usize>,
    exclude_groups: Vec<usize>,
    include_roles: Vec<usize>,
    exclude_roles: Vec<usize>,
    target: usize,
    controls: Vec<usize>,
    and: bool,
    strength: Option<usize>,
    frequency: usize,
    platform: usize,
}

fn policy_spec() -> impl Strategy<Value = PolicySpec> {
    (
        (
            0..STATES.len(),
            any::<bool>(),
            vec(0..USERS.len(), 0..3),
            vec(0..USERS.len(), 0..2),
            vec(0..GROUPS.len(), 0..2),
            vec(0..GROUPS.len(), 0..2),
            vec(0..ROLES.len(), 0..2),
            vec(0..ROLES.len(), 0..2),
        ),
        (
            0..7usize,
            vec(0..CONTROLS.len(), 0..3),
            any::<bool>(),
            proptest::option::of(0..STRENGTHS.len()),
            0..5usize,
            0..4usize,
        ),
    )
        .prop_map(
            |(
                (state, include_all, iu, eu, ig, eg, ir, er),
                (target, controls, and, strength, frequency, platform),
            )| PolicySpec {
                state,
                include_all,
                include_users: iu,
                exclude_users: eu,
                include_groups: ig,
                exclude_groups: eg,
                include_roles: ir,
                exclude_roles: er,
                target,
                controls,
                and,
                strength,
                frequency,
                platform,
            },
        )
}

impl PolicySpec {
    fn controls(&self) -> Vec<&'static str> {
        pick(&CONTROLS, &self.controls)
    }

    fn to_json(&self, id: &str) -> Value {
        let mut include_users = pick(&USERS, &self.include_users);
        if self.include_all {
            include_users.push("All");
        }
        let applications = match self.target {
            0 => json!({"includeApplications": ["All"]}),
            1 => json!({"includeApplications": ["app1"]}),
            2 => json!({"includeApplications": ["All"], "excludeApplications": ["app2"]}),
            3 => json!({"includeAuthenticationContextClassReferences": ["c1"]}),
            4 => json!({"includeAuthenticationContextClassReferences": ["c2"]}),
            5 => json!({"includeUserActions": ["urn:user:registersecurityinfo"]}),
            _ => json!({"includeUserActions": ["registerSecurityInformation"]}),
        };
        let mut conditions = json!({
            "users": {
                "includeUsers": include_users,
                "excludeUsers": pick(&USERS, &self.exclude_users),
                "includeGroups": pick(&GROUPS, &self.include_groups),
                "excludeGroups": pick(&GROUPS, &self.exclude_groups),
                "includeRoles": pick(&ROLES, &self.include_roles),
                "excludeRoles": pick(&ROLES, &self.exclude_roles)
            },
            "applications": applications
        });
        match self.platform {
            1 => conditions["platforms"] = json!({"includePlatforms": ["windows"]}),
            2 => {
                conditions["platforms"] =
                    json!({"includePlatforms": ["all"], "excludePlatforms": ["iOS"]})
            }
            _ => {}
        }
        let mut grant = json!({
            "operator": if self.and { "AND" } else { "OR" },
            "builtInControls": self.controls()
        });
        if let Some(s) = self.strength {
            grant["authenticationStrength"] = json!({"id": STRENGTHS[s]});
        }
        common::policy_json(id, STATES[self.state], conditions, grant, self.frequency)
    }

    /// Whether a fresh phishing-resistant method alone meets the grant controls.
    fn met_by_fresh_fido2(&self) -> bool {
        let mut met: Vec<bool> = self.controls().iter().map(|c| *c == "mfa").collect();
        if self.strength.is_some() {
            met.push(true);
        }
        if met.is_empty() {
            return true;
        }
        if self.and {
            met.iter().all(|m| *m)
        } else {
            met.iter().any(|m| *m)
        }
    }
}

#[derive(Debug, Clone)]
struct World {
    /// `members[g]`: indices into USERS (< 4) or groups (4 + group index).
    members: Vec<Vec<usize>>,
    /// (principal: user < 4 or 4 + group, role, active?)
    assignments: Vec<(usize, usize, bool)>,
    policies: Vec<PolicySpec>,
}

fn world() -> impl Strategy<Value = World> {
    (
        vec(vec(0..8usize, 0..4), 4),
        vec((0..8usize, 0..ROLES.len(), any::<bool>()), 0..4),
        vec(policy_spec(), 1..=12),
    )
        .prop_map(|(members, assignments, policies)| World {
            members,
            assignments,
            policies,
        })
}

fn principal(i: usize) -> &'static str {
    if i < 4 {
        USERS[i]
    } else {
        GROUPS[i - 4]
    }
}

impl World {
    fn tenant_json(&self, policies: &[Value]) -> Value {
        json!({
            "users": [
                {"id": "u0"}, {"id": "u1"}, {"id": "u2"},
                {"id": "guest", "userType": "Guest"}
            ],
            "groups": self.members.iter().enumerate().map(|(g, m)| json!({
                "id": GROUPS[g],
                "members": m.iter().map(|&i| principal(i)).collect::<Vec<_>>()
            })).collect::<Vec<_>>(),
            "roleAssignments": self.assignments.iter().map(|&(p, r, active)| json!({
                "principalId": principal(p),
                "roleDefinitionId": ROLES[r],
                "status": if active { "active" } else { "eligible" }
            })).collect::<Vec<_>>(),
            "authenticationContextClassReferences": [{"id": "c1"}, {"id": "c2"}],
            "conditionalAccessPolicies": policies
        })
    }

    fn policy_json(&self) -> Vec<Value> {
        self.policies
            .iter()
            .enumerate()
            .map(|(i, p)| p.to_json(&format!("p{i}")))
            .collect()
    }

    fn engine_with(&self, policies: &[Value]) -> Engine {
        let tenant: Tenant =
            serde_json::from_value(self.tenant_json(policies)).expect("tenant parses");
        Engine::new(tenant)
    }

    fn engine(&self) -> Engine {
        self.engine_with(&self.policy_json())
    }
}

#[derive(Debug, Clone)]
struct SignInSpec {
    user: usize,
    target: usize,
    platform: usize,
    compliant: Option<bool>,
    /// Minutes before now that the transaction started.
    transaction: i64,
    /// (method, minutes before now); negative is in the future.
    methods: Vec<(usize, i64)>,
    claim: Option<i64>,
}

fn sign_in_spec() -> impl Strategy<Value = SignInSpec> {
    (
        0..USERS.len(),
        0..5usize,
        0..4usize,
        proptest::option::of(any::<bool>()),
        0..180i64,
        vec((0..METHODS.len(), -10..3000i64), 0..4),
        proptest::option::of(-10..3000i64),
    )
        .prop_map(
            |(user, target, platform, compliant, transaction, methods, claim)| SignInSpec {
                user,
                target,
                platform,
                compliant,
                transaction,
                methods,
                claim,
            },
        )
}

impl SignInSpec {
    fn request(&self, extra_methods: &[Value]) -> Value {
        let context = match self.target {
            0 => json!({"@odata.type": "#microsoft.graph.applicationContext",
                        "includeApplications": ["app1"]}),
            1 => json!({"@odata.type": "#microsoft.graph.applicationContext",
                        "includeApplications": ["app2"]}),
            2 => json!({"@odata.type": "#microsoft.graph.authContext",
                        "authenticationContextValue": "c1"}),
            3 => json!({"@odata.type": "#microsoft.graph.authContext",
                        "authenticationContextValue": "c2"}),
            _ => json!({"@odata.type": "#microsoft.graph.userActionContext",
                        "userAction": "registerSecurityInformation"}),
        };
        let platform = match self.platform {
            0 => Value::Null,
            1 => json!("windows"),
            2 => json!("iOS"),
            _ => json!("android"),
        };
        let device = self.compliant.map(|c| json!({"isCompliant": c}));
        let mut methods: Vec<Value> = self
            .methods
            .iter()
            .map(|&(m, ago)| {
                json!({"method": METHODS[m], "performedAt": now() - Duration::minutes(ago)})
            })
            .collect();
        methods.extend(extra_methods.iter().cloned());
        let mut session = json!({
            "transactionStartedAt": now() - Duration::minutes(self.transaction),
            "methods": methods
        });
        if let Some(c) = self.claim {
            session["mfaClaimedAt"] = json!(now() - Duration::minutes(c));
        }
        json!({
            "signInIdentity": {"userId": USERS[self.user]},
            "signInContext": context,
            "signInConditions": {
                "devicePlatform": platform,
                "clientAppType": "browser",
                "ipAddress": "203.0.113.5",
                "deviceInfo": device
            },
            "authenticationSession": session
        })
    }

    fn sign_in(&self, extra_methods: &[Value]) -> SignIn {
        let req: EvaluateRequest =
            serde_json::from_value(self.request(extra_methods)).expect("request parses");
        req.to_sign_in().expect("valid sign-in")
    }
}

/// The decision through the index, after checking it equals the decision over every policy.
fn decide(engine: &Engine, sign_in: &SignIn) -> Decision {
    let full = engine.decision(&engine.evaluate_all(sign_in, now()).unwrap());
    let indexed = engine.decide(sign_in, now()).unwrap();
    assert_eq!(indexed, full, "index and full evaluation disagree");
    indexed
}

fn rank(r: DecisionResult) -> u8 {
    match r {
        DecisionResult::Grant => 0,
        DecisionResult::Challenge => 1,
        DecisionResult::Block => 2,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn index_agrees_with_full_evaluation(w in world(), s in sign_in_spec()) {
        let e = w.engine();
        let sign_in = s.sign_in(&[]);
        let full = e.decision(&e.evaluate_all(&sign_in, now()).unwrap());
        let indexed = e.decide(&sign_in, now()).unwrap();
        prop_assert_eq!(&indexed, &full);
        // What-If says the same.
        let req: EvaluateRequest = serde_json::from_value(s.request(&[])).unwrap();
        let response = policy::what_if(&e, &req, now()).unwrap();
        prop_assert_eq!(&response.decision, &full);
    }

    #[test]
    fn excluding_the_user_means_the_policy_does_not_apply(
        w in world(),
        s in sign_in_spec(),
        which in any::<prop::sample::Index>(),
        upper in any::<bool>(),
    ) {
        let mut policies = w.policy_json();
        let i = which.index(policies.len());
        let user = USERS[s.user];
        let excluded = if upper { user.to_uppercase() } else { user.to_string() };
        policies[i]["conditions"]["users"]["excludeUsers"]
            .as_array_mut()
            .unwrap()
            .push(json!(excluded));
        let e = w.engine_with(&policies);
        let sign_in = s.sign_in(&[]);
        let evals = e.evaluate_all(&sign_in, now()).unwrap();
        let ev = &evals[i];
        prop_assert_eq!(ev.applies, Tri::False);
        prop_assert!(matches!(
            ev.result,
            AppliedResult::NotApplied | AppliedResult::ReportOnlyNotApplied | AppliedResult::NotEnabled
        ), "{:?}", ev.result);
        prop_assert!(ev.any_of.is_empty());
        let id = format!("p{i}");
        let d = decide(&e, &sign_in);
        prop_assert!(!d.unsatisfied_policies.contains(&id));
        prop_assert!(!d.not_enough_information.contains(&id));
    }

    #[test]
    fn adding_an_enabled_policy_never_loosens_the_decision(
        w in world(),
        s in sign_in_spec(),
        extra in policy_spec(),
    ) {
        let e = w.engine();
        let sign_in = s.sign_in(&[]);
        let before = decide(&e, &sign_in);

        let mut policies = w.policy_json();
        let mut added = extra.to_json("p-added");
        added["state"] = json!("enabled");
        policies.push(added);
        let after = decide(&w.engine_with(&policies), &sign_in);

        prop_assert!(
            rank(after.result) >= rank(before.result),
            "{:?} became {:?}", before.result, after.result
        );
        if before.result != DecisionResult::Grant {
            prop_assert_ne!(after.result, DecisionResult::Grant);
        }
        // Whatever was unsatisfied stays unsatisfied.
        for id in &before.unsatisfied_policies {
            prop_assert!(after.unsatisfied_policies.contains(id));
        }
    }

    #[test]
    fn disabled_and_report_only_policies_never_change_the_decision(
        w in world(),
        s in sign_in_spec(),
    ) {
        let sign_in = s.sign_in(&[]);
        let all = decide(&w.engine(), &sign_in);
        let enabled_only: Vec<Value> = w
            .policy_json()
            .into_iter()
            .filter(|p| p["state"] == json!("enabled"))
            .collect();
        let without = decide(&w.engine_with(&enabled_only), &sign_in);
        prop_assert_eq!(all, without);
    }

    #[test]
    fn fresh_fido2_meets_every_built_in_strength_whatever_the_frequency(
        w in world(),
        s in sign_in_spec(),
        transaction in 0..30i64,
        into in 0..=30i64,
    ) {
        // The transaction started at most 30 minutes ago; the key was used in it, by now.
        let mut s = s;
        s.transaction = transaction;
        let started = now() - Duration::minutes(transaction);
        let performed = started + Duration::minutes(into.min(transaction));
        let key = json!({"method": "fido2", "performedAt": performed});
        let e = w.engine();
        let sign_in = s.sign_in(&[key]);
        prop_assert_eq!(sign_in.session.transaction_started_at, Some(started));
        let evals = e.evaluate_all(&sign_in, now()).unwrap();
        for (ev, spec) in evals.iter().zip(&w.policies) {
            if ev.applies == Tri::False || !spec.met_by_fresh_fido2() {
                continue;
            }
            prop_assert!(
                ev.satisfied,
                "policy {} not satisfied by a fresh key: {:?} / {:?}", ev.policy, spec, ev.any_of
            );
        }
        // So nothing is left that authenticating could fix: grant, or block on a control no
        // method meets.
        let d = decide(&e, &sign_in);
        prop_assert_ne!(d.result, DecisionResult::Challenge, "{:?}", d.requirements);
    }
}
