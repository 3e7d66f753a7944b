//! The sign-in assessment decides through the index ([`Engine::decide_logged`]): over generated
//! tenants and sign-ins, its decision and the applied-policies log equal those of the full path
//! (every policy evaluated with [`Engine::evaluate_all`]).
//!
//! Tenants have members, guests (typed and untyped), a user whose id is spelt in capitals, nested
//! groups (cycles allowed, one group referenced but absent), active and eligible role
//! assignments (direct and through groups), and 1–14 policies in every state (an unknown one
//! too) over applications, app groups, user actions (both spellings), one or two contexts,
//! users, groups, roles, guests, `All` and `None`, include and exclude, with grant controls,
//! strengths (one undefined), sign-in frequencies, platform, client-app and risk conditions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::{now, pick};
use policy::assessment::applied_policies;
use policy::conditional_access::{ClientAppType, DevicePlatform, RiskLevel};
use policy::context::ContextId;
use policy::method::AuthenticationMethodMode as Mode;
use policy::session::{AuthenticationSession, PerformedMethod};
use policy::signin::{DeviceInfo, SignInConditions};
use policy::tri::Tri;
use policy::{Engine, PolicyEvaluation, SignIn, Target, Tenant};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{json, Value};

/// Users of the tenant; the last one signs in but is not in it.
const USERS: [&str; 6] = ["u0", "u1", "U2", "guest", "guest-untyped", "nobody"];
/// How policies name users: ids in either case, and Graph's keywords.
const USER_REFS: [&str; 7] = [
    "u0",
    "U1",
    "u2",
    "guest",
    "All",
    "None",
    "GuestsOrExternalUsers",
];
/// The last one is not in the tenant; `G1` names `g1` in capitals.
const GROUPS: [&str; 4] = ["g0", "g1", "g2", "g3"];
const GROUP_REFS: [&str; 6] = ["g0", "G1", "g2", "g3", "g-missing", "g1"];
const ROLES: [&str; 2] = [
    "62e90394-69f5-4237-9190-012177145e10",
    "E8611AB8-C189-46E8-94E1-60213AB1F814",
];
const STATES: [&str; 4] = [
    "enabled",
    "disabled",
    "enabledForReportingButNotEnforced",
    "somethingNew",
];
const CONTROLS: [&str; 4] = ["block", "mfa", "compliantDevice", "domainJoinedDevice"];
const STRENGTHS: [&str; 4] = [
    "00000000-0000-0000-0000-000000000002",
    "00000000-0000-0000-0000-000000000003",
    "00000000-0000-0000-0000-000000000004",
    "11111111-0000-0000-0000-00000000dead",
];
const METHODS: [Mode; 8] = [
    Mode::Password,
    Mode::SoftwareOath,
    Mode::Sms,
    Mode::MicrosoftAuthenticatorPush,
    Mode::Fido2,
    Mode::WindowsHelloForBusiness,
    Mode::X509CertificateMultiFactor,
    Mode::TemporaryAccessPassOneTime,
];

#[derive(Debug, Clone)]
struct PolicySpec {
    state: usize,
    users: [Vec<usize>; 2],
    groups: [Vec<usize>; 2],
    roles: [Vec<usize>; 2],
    /// Include / exclude guests by type: none, b2b guests, internal guests.
    guests: [usize; 2],
    target: usize,
    controls: Vec<usize>,
    and: bool,
    strength: Option<usize>,
    frequency: usize,
    other: usize,
}

fn policy_spec() -> impl Strategy<Value = PolicySpec> {
    (
        (
            0..STATES.len(),
            [vec(0..USER_REFS.len(), 0..3), vec(0..USER_REFS.len(), 0..2)],
            [
                vec(0..GROUP_REFS.len(), 0..3),
                vec(0..GROUP_REFS.len(), 0..2),
            ],
            [vec(0..ROLES.len(), 0..2), vec(0..ROLES.len(), 0..2)],
            [0..3usize, 0..3usize],
        ),
        (
            0..12usize,
            vec(0..CONTROLS.len(), 0..3),
            any::<bool>(),
            proptest::option::of(0..STRENGTHS.len()),
            0..5usize,
            0..6usize,
        ),
    )
        .prop_map(
            |(
                (state, users, groups, roles, guests),
                (target, controls, and, strength, frequency, other),
            )| PolicySpec {
                state,
                users,
                groups,
                roles,
                guests,
                target,
                controls,
                and,
                strength,
                frequency,
                other,
            },
        )
}

fn guests(kind: usize) -> Value {
    match kind {
        1 => json!({"guestOrExternalUserTypes": "b2bCollaborationGuest,otherExternalUser",
                    "externalTenants": {"membershipKind": "all"}}),
        2 => json!({"guestOrExternalUserTypes": "internalGuest"}),
        _ => Value::Null,
    }
}

impl PolicySpec {
    fn to_json(&self, id: &str) -> Value {
        let applications = match self.target {
            0 => json!({"includeApplications": ["All"]}),
            1 => json!({"includeApplications": ["app1"]}),
            2 => json!({"includeApplications": ["All"], "excludeApplications": ["app2"]}),
            3 => json!({"includeApplications": ["Office365"]}),
            4 => json!({"includeApplications": ["APP2", "app1"]}),
            5 => json!({"includeApplications": ["None"]}),
            6 => json!({"includeAuthenticationContextClassReferences": ["c1"]}),
            7 => json!({"includeAuthenticationContextClassReferences": ["c2", "c1"]}),
            8 => json!({"includeUserActions": ["urn:user:registersecurityinfo"]}),
            9 => json!({"includeUserActions": ["registerSecurityInformation"]}),
            10 => json!({"includeUserActions": ["urn:user:registerdevice"]}),
            _ => json!({"includeApplications": ["app1"],
                        "applicationFilter": {"mode": "include", "rule": "CustomSecurityAttribute.x -eq \"y\""}}),
        };
        let mut conditions = json!({
            "users": {
                "includeUsers": pick(&USER_REFS, &self.users[0]),
                "excludeUsers": pick(&USER_REFS, &self.users[1]),
                "includeGroups": pick(&GROUP_REFS, &self.groups[0]),
                "excludeGroups": pick(&GROUP_REFS, &self.groups[1]),
                "includeRoles": pick(&ROLES, &self.roles[0]),
                "excludeRoles": pick(&ROLES, &self.roles[1]),
                "includeGuestsOrExternalUsers": guests(self.guests[0]),
                "excludeGuestsOrExternalUsers": guests(self.guests[1]),
            },
            "applications": applications
        });
        match self.other {
            1 => conditions["platforms"] = json!({"includePlatforms": ["windows"]}),
            2 => {
                conditions["platforms"] =
                    json!({"includePlatforms": ["all"], "excludePlatforms": ["iOS"]})
            }
            3 => conditions["clientAppTypes"] = json!(["mobileAppsAndDesktopClients"]),
            4 => conditions["signInRiskLevels"] = json!(["high"]),
            _ => {}
        }
        let mut grant = json!({
            "operator": if self.and { "AND" } else { "OR" },
            "builtInControls": pick(&CONTROLS, &self.controls)
        });
        if let Some(s) = self.strength {
            grant["authenticationStrength"] = json!({"id": STRENGTHS[s]});
        }
        common::policy_json(id, STATES[self.state], conditions, grant, self.frequency)
    }
}

#[derive(Debug, Clone)]
struct World {
    /// `members[g]`: indices into USERS (< 6) or groups (6 + group index).
    members: Vec<Vec<usize>>,
    /// (principal: user < 6 or 6 + group, role, active?)
    assignments: Vec<(usize, usize, bool)>,
    policies: Vec<PolicySpec>,
}

fn principal(i: usize) -> &'static str {
    if i < USERS.len() {
        USERS[i]
    } else {
        GROUPS[(i - USERS.len()) % GROUPS.len()]
    }
}

fn world() -> impl Strategy<Value = World> {
    let principals = USERS.len() + GROUPS.len();
    (
        vec(vec(0..principals, 0..4), GROUPS.len()),
        vec((0..principals, 0..ROLES.len(), any::<bool>()), 0..5),
        vec(policy_spec(), 1..=14),
    )
        .prop_map(|(members, assignments, policies)| World {
            members,
            assignments,
            policies,
        })
}

impl World {
    fn engine(&self) -> Engine {
        let policies: Vec<Value> = self
            .policies
            .iter()
            .enumerate()
            .map(|(i, p)| p.to_json(&format!("p{i}")))
            .collect();
        let tenant = json!({
            "users": [
                {"id": "u0"}, {"id": "u1"}, {"id": "U2"},
                {"id": "guest", "userType": "Guest", "guestOrExternalUserType": "b2bCollaborationGuest"},
                {"id": "guest-untyped", "userType": "Guest"}
            ],
            "groups": self.members.iter().enumerate().map(|(g, m)| json!({
                "id": GROUPS[g],
                "members": m.iter().map(|&i| principal(i)).collect::<Vec<_>>()
            })).collect::<Vec<_>>(),
            "roleAssignments": self.assignments.iter().map(|&(p, r, active)| json!({
                "principalId": principal(p),
                "roleDefinitionId": ROLES[r].to_ascii_lowercase(),
                "status": if active { "active" } else { "eligible" }
            })).collect::<Vec<_>>(),
            "authenticationContextClassReferences": [{"id": "c1"}, {"id": "c2"}],
            "conditionalAccessPolicies": policies
        });
        let tenant: Tenant = serde_json::from_value(tenant).expect("tenant parses");
        Engine::new(tenant)
    }
}

#[derive(Debug, Clone)]
struct SignInSpec {
    user: usize,
    target: usize,
    platform: usize,
    client: usize,
    risk: bool,
    compliant: Option<bool>,
    transaction: i64,
    methods: Vec<(usize, i64)>,
    claim: Option<i64>,
}

fn sign_in_spec() -> impl Strategy<Value = SignInSpec> {
    (
        (
            0..USERS.len(),
            0..10usize,
            0..4usize,
            0..3usize,
            any::<bool>(),
        ),
        (
            proptest::option::of(any::<bool>()),
            0..180i64,
            vec((0..METHODS.len(), -10..3000i64), 0..4),
            proptest::option::of(-10..3000i64),
        ),
    )
        .prop_map(
            |((user, target, platform, client, risk), (compliant, transaction, methods, claim))| {
                SignInSpec {
                    user,
                    target,
                    platform,
                    client,
                    risk,
                    compliant,
                    transaction,
                    methods,
                    claim,
                }
            },
        )
}

fn context(id: &str) -> Target {
    Target::AuthenticationContext(ContextId::parse(id).unwrap())
}

impl SignInSpec {
    fn sign_in(&self) -> SignIn {
        let apps = |a: &[&str]| Target::Applications(a.iter().map(|s| s.to_string()).collect());
        let target = match self.target {
            0 => apps(&["app1"]),
            1 => apps(&["app2"]),
            2 => apps(&["App1", "app3"]),
            3 => apps(&["Office365"]),
            4 => context("c1"),
            5 => context("c2"),
            6 => context("c3"),
            7 => Target::UserAction("registerSecurityInformation".into()),
            8 => Target::UserAction("urn:user:registersecurityinfo".into()),
            _ => Target::UserAction("urn:user:registerdevice".into()),
        };
        let conditions = SignInConditions {
            device_platform: match self.platform {
                0 => None,
                1 => Some(DevicePlatform::Windows),
                2 => Some(DevicePlatform::Ios),
                _ => Some(DevicePlatform::Android),
            },
            client_app_type: match self.client {
                0 => None,
                1 => Some(ClientAppType::Browser),
                _ => Some(ClientAppType::MobileAppsAndDesktopClients),
            },
            sign_in_risk_level: self.risk.then_some(RiskLevel::High),
            device: self.compliant.map(|c| DeviceInfo {
                is_compliant: Some(c),
                ..DeviceInfo::default()
            }),
            ..SignInConditions::default()
        };
        SignIn {
            user_id: USERS[self.user].to_string(),
            target,
            conditions,
            session: AuthenticationSession {
                transaction_started_at: Some(now() - Duration::minutes(self.transaction)),
                methods: self
                    .methods
                    .iter()
                    .map(|&(m, ago)| {
                        PerformedMethod::new(METHODS[m].clone(), now() - Duration::minutes(ago))
                    })
                    .collect(),
                mfa_claimed_at: self.claim.map(|c| now() - Duration::minutes(c)),
            },
            activating_role: None,
        }
    }
}

/// The evaluation without what the indexed path does not work out for a policy it rules out.
fn without_reasons(e: &PolicyEvaluation) -> PolicyEvaluation {
    PolicyEvaluation {
        reasons: Vec::new(),
        unknown_conditions: Vec::new(),
        ..e.clone()
    }
}

/// Checks that the indexed path agrees with the full one on `sign_in`: the same decision (as
/// [`Engine::decide`] gives too), the same evaluation for every policy (but the reasons of those
/// ruled out, which do not apply), and the same applied-policies log.
fn indexed_agrees(engine: &Engine, sign_in: &SignIn) -> Result<(), TestCaseError> {
    let full = engine.evaluate_all(sign_in, now());
    let indexed = engine.decide_logged(sign_in, now());
    let (full, (decision, logged)) = match (full, indexed) {
        (Ok(full), Ok(indexed)) => (full, indexed),
        (full, indexed) => {
            prop_assert_eq!(full.err(), indexed.err());
            return Ok(());
        }
    };
    prop_assert_eq!(&decision, &engine.decision(&full));
    prop_assert_eq!(&decision, &engine.decide(sign_in, now()).unwrap());
    prop_assert_eq!(full.len(), logged.len());
    for (f, l) in full.iter().zip(&logged) {
        if l != f {
            // Only a policy the index ruled out may differ, and only in its reasons.
            prop_assert_eq!(
                f.applies,
                Tri::False,
                "policy {} applies: {:?}",
                f.policy,
                f
            );
            prop_assert_eq!(&without_reasons(f), l);
        }
    }
    prop_assert_eq!(
        applied_policies(engine, &full, "application"),
        applied_policies(engine, &logged, "application")
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn indexed_decision_and_log_equal_the_full_evaluation(w in world(), s in sign_in_spec()) {
        indexed_agrees(&w.engine(), &s.sign_in())?;
    }
}
