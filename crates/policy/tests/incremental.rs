//! An engine that follows changes ([`Engine::apply`]) decides exactly as one built afresh
//! ([`Engine::new`]) over the tenant with the same changes applied ([`TenantChange::apply_to`]).
//!
//! Tenants have a few users (a guest among them), nested groups (cycles allowed), active and
//! eligible role assignments, named locations, a custom strength and 1–5 policies reading all of
//! them. Changes touch every kind of object, with ids that exist and ids that do not, in either
//! case; a role change may carry an entry for another principal, which must be ignored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use policy::ids::PrincipalId;
use policy::{Engine, EvaluateRequest, SignIn, Tenant, TenantChange};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// `u4` is not in the generated tenant until a change creates it; `nobody` never is.
const USERS: [&str; 6] = ["u0", "u1", "u2", "guest", "u4", "nobody"];
/// `g3` is not in the generated tenant until a change creates it.
const GROUPS: [&str; 4] = ["g0", "g1", "g2", "g3"];
const ROLES: [&str; 2] = [
    "62e90394-69f5-4237-9190-012177145e10",
    "e8611ab8-c189-46e8-94e1-60213ab1f814",
];
const POLICIES: [&str; 6] = ["p0", "p1", "p2", "p3", "p4", "p5"];
const LOCATIONS: [&str; 2] = ["loc-a", "loc-b"];
const CUSTOM_STRENGTH: &str = "custom-s";
const CONTEXTS: [&str; 3] = ["c1", "c2", "c3"];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).single().unwrap()
}

/// Users and groups, as indices: users first.
fn principal(i: usize) -> &'static str {
    let i = i % (4 + GROUPS.len());
    if i < 4 {
        USERS[i]
    } else {
        GROUPS[i - 4]
    }
}

/// `id`, upper-cased when `upper`: ids are compared without regard to case.
fn cased(id: &str, upper: bool) -> String {
    if upper {
        id.to_ascii_uppercase()
    } else {
        id.to_string()
    }
}

fn user(id: &str, guest: bool) -> Value {
    if guest {
        json!({"id": id, "userType": "Guest"})
    } else {
        json!({"id": id})
    }
}

fn group(id: &str, members: &[usize]) -> Value {
    json!({"id": id, "members": members.iter().map(|&m| principal(m)).collect::<Vec<_>>()})
}

fn location(id: &str, range: usize, trusted: bool) -> Value {
    let cidr = ["203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24"][range % 3];
    json!({
        "@odata.type": "#microsoft.graph.ipNamedLocation",
        "id": id,
        "isTrusted": trusted,
        "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": cidr}]
    })
}

fn strength(combination: usize) -> Value {
    let combination = ["fido2", "password,softwareOath", "password,sms"][combination % 3];
    json!({
        "id": CUSTOM_STRENGTH,
        "displayName": "Custom",
        "policyType": "custom",
        "requirementsSatisfied": "mfa",
        "allowedCombinations": [combination]
    })
}

fn assignment(principal: &str, role: usize, active: bool, n: usize) -> Value {
    json!({
        "id": format!("ra-{}-{n}", principal.to_ascii_lowercase()),
        "principalId": principal,
        "roleDefinitionId": ROLES[role % ROLES.len()],
        "status": if active { "active" } else { "eligible" }
    })
}

/// A policy reading users, groups, roles, locations and strengths.
#[derive(Debug, Clone)]
struct PolicySpec {
    state: usize,
    include_users: Vec<usize>,
    exclude_users: Vec<usize>,
    include_groups: Vec<usize>,
    exclude_groups: Vec<usize>,
    include_roles: Vec<usize>,
    exclude_roles: Vec<usize>,
    target: usize,
    control: usize,
    locations: usize,
}

fn policy_spec() -> impl Strategy<Value = PolicySpec> {
    (
        0..3usize,
        vec(0..6usize, 0..3),
        vec(0..6usize, 0..2),
        vec(0..GROUPS.len(), 0..2),
        vec(0..GROUPS.len(), 0..2),
        vec(0..ROLES.len(), 0..2),
        vec(0..ROLES.len(), 0..2),
        0..4usize,
        0..5usize,
        0..4usize,
    )
        .prop_map(
            |(state, iu, eu, ig, eg, ir, er, target, control, locations)| PolicySpec {
                state,
                include_users: iu,
                exclude_users: eu,
                include_groups: ig,
                exclude_groups: eg,
                include_roles: ir,
                exclude_roles: er,
                target,
                control,
                locations,
            },
        )
}

impl PolicySpec {
    fn to_json(&self, id: &str) -> Value {
        // Users: the named ones, `All` and guests.
        let user_ids = |idx: &[usize]| -> Vec<&str> {
            let names = ["All", "u0", "u1", "guest", "u4", "GuestsOrExternalUsers"];
            idx.iter().map(|&i| names[i % names.len()]).collect()
        };
        let names = |list: &[&'static str], idx: &[usize]| -> Vec<&'static str> {
            idx.iter().map(|&i| list[i % list.len()]).collect()
        };
        let applications = match self.target {
            0 => json!({"includeApplications": ["All"]}),
            1 => json!({"includeApplications": ["app1"]}),
            2 => json!({"includeAuthenticationContextClassReferences": ["c1"]}),
            _ => json!({"includeUserActions": ["urn:user:registersecurityinfo"]}),
        };
        let mut conditions = json!({
            "users": {
                "includeUsers": user_ids(&self.include_users),
                "excludeUsers": user_ids(&self.exclude_users),
                "includeGroups": names(&GROUPS, &self.include_groups),
                "excludeGroups": names(&GROUPS, &self.exclude_groups),
                "includeRoles": names(&ROLES, &self.include_roles),
                "excludeRoles": names(&ROLES, &self.exclude_roles)
            },
            "applications": applications
        });
        match self.locations {
            1 => {
                conditions["locations"] =
                    json!({"includeLocations": ["All"], "excludeLocations": ["loc-a"]})
            }
            2 => conditions["locations"] = json!({"includeLocations": ["loc-b"]}),
            3 => conditions["locations"] = json!({"includeLocations": ["AllTrusted"]}),
            _ => {}
        }
        let grant = match self.control {
            0 => json!({"operator": "OR", "builtInControls": ["block"]}),
            1 => json!({"operator": "OR", "builtInControls": ["mfa"]}),
            2 => json!({"operator": "OR", "builtInControls": [],
                        "authenticationStrength": {"id": "00000000-0000-0000-0000-000000000004"}}),
            3 => json!({"operator": "OR", "builtInControls": [],
                        "authenticationStrength": {"id": CUSTOM_STRENGTH}}),
            _ => json!({"operator": "AND", "builtInControls": ["mfa", "compliantDevice"]}),
        };
        let state = ["enabled", "disabled", "enabledForReportingButNotEnforced"][self.state];
        json!({
            "id": id,
            "displayName": format!("Policy {id}"),
            "state": state,
            "conditions": conditions,
            "grantControls": grant
        })
    }
}

fn tenant() -> impl Strategy<Value = Tenant> {
    (
        any::<bool>(),
        vec(vec(0..8usize, 0..4), 3),
        vec((0..8usize, 0..ROLES.len(), any::<bool>()), 0..5),
        vec(policy_spec(), 1..=5),
        any::<bool>(),
        0..3usize,
    )
        .prop_map(
            |(u2_guest, members, assignments, policies, custom, combination)| {
                let mut strengths = Vec::new();
                if custom {
                    strengths.push(strength(combination));
                }
                let t = json!({
                    "users": [user("u0", false), user("u1", false), user("u2", u2_guest),
                              user("guest", true)],
                    "groups": members.iter().enumerate()
                        .map(|(g, m)| group(GROUPS[g], m)).collect::<Vec<_>>(),
                    "roleAssignments": assignments.iter().enumerate()
                        .map(|(n, &(p, r, a))| assignment(principal(p), r, a, n))
                        .collect::<Vec<_>>(),
                    "conditionalAccessPolicies": policies.iter().enumerate()
                        .map(|(i, p)| p.to_json(POLICIES[i])).collect::<Vec<_>>(),
                    "namedLocations": [location("loc-a", 0, true), location("loc-b", 1, false)],
                    "authenticationStrengthPolicies": strengths,
                    "authenticationContextClassReferences": [{"id": "c1"}, {"id": "c2"}]
                });
                serde_json::from_value(t).expect("tenant parses")
            },
        )
}

fn parse<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("object parses")
}

fn change() -> impl Strategy<Value = TenantChange> {
    prop_oneof![
        // The hot case, three times as likely as any other.
        3 => (
            0..8usize,
            any::<bool>(),
            vec((0..ROLES.len(), any::<bool>()), 0..3),
            proptest::option::of(0..8usize),
        )
            .prop_map(|(p, upper, roles, stray)| {
                let id = cased(principal(p), upper);
                let mut assignments: Vec<Value> = roles
                    .iter()
                    .enumerate()
                    .map(|(n, &(r, a))| assignment(&id, r, a, 10 + n))
                    .collect();
                if let Some(other) = stray.filter(|&o| principal(o) != principal(p)) {
                    assignments.push(assignment(principal(other), 0, true, 99));
                }
                TenantChange::RoleAssignmentsOf {
                    principal_id: PrincipalId::trusted(id),
                    assignments: parse(json!(assignments)),
                }
            }),
        1 => (0..5usize, any::<bool>(), any::<bool>())
            .prop_map(|(u, guest, upper)| TenantChange::UserUpserted(parse(user(
                &cased(USERS[u], upper),
                guest
            )))),
        1 => (0..5usize, any::<bool>())
            .prop_map(|(u, upper)| TenantChange::UserDeleted(cased(USERS[u], upper))),
        1 => (0..GROUPS.len(), vec(0..8usize, 0..4), any::<bool>()).prop_map(|(g, m, upper)| {
            TenantChange::GroupUpserted(parse(group(&cased(GROUPS[g], upper), &m)))
        }),
        1 => (0..GROUPS.len(), any::<bool>())
            .prop_map(|(g, upper)| TenantChange::GroupDeleted(cased(GROUPS[g], upper))),
        1 => (0..POLICIES.len(), policy_spec())
            .prop_map(|(i, p)| TenantChange::PolicyUpserted(Box::new(parse(p.to_json(POLICIES[i]))))),
        1 => (0..POLICIES.len(), any::<bool>())
            .prop_map(|(i, upper)| TenantChange::PolicyDeleted(cased(POLICIES[i], upper))),
        1 => (0..LOCATIONS.len(), 0..3usize, any::<bool>()).prop_map(|(l, r, trusted)| {
            TenantChange::NamedLocationUpserted(parse(location(LOCATIONS[l], r, trusted)))
        }),
        1 => (0..LOCATIONS.len()).prop_map(|l| TenantChange::NamedLocationDeleted(LOCATIONS[l].into())),
        1 => (0..3usize).prop_map(|c| TenantChange::StrengthUpserted(parse(strength(c)))),
        1 => Just(TenantChange::StrengthDeleted(CUSTOM_STRENGTH.into())),
        1 => (0..CONTEXTS.len())
            .prop_map(|c| TenantChange::ContextUpserted(parse(json!({"id": CONTEXTS[c]})))),
        1 => (0..CONTEXTS.len()).prop_map(|c| TenantChange::ContextDeleted(CONTEXTS[c].into())),
    ]
}

/// A sign-in: user, target, address and methods.
fn sign_in(user: &str, target: usize, ip: usize, methods: &[&str]) -> SignIn {
    let context = match target {
        0 => json!({"@odata.type": "#microsoft.graph.applicationContext",
                    "includeApplications": ["app1"]}),
        1 => json!({"@odata.type": "#microsoft.graph.applicationContext",
                    "includeApplications": ["app2"]}),
        2 => json!({"@odata.type": "#microsoft.graph.authContext",
                    "authenticationContextValue": "c1"}),
        _ => json!({"@odata.type": "#microsoft.graph.userActionContext",
                    "userAction": "registerSecurityInformation"}),
    };
    let at = now() - Duration::minutes(5);
    let ip = ["203.0.113.5", "198.51.100.7", "192.0.2.9"][ip % 3];
    let request = json!({
        "signInIdentity": {"userId": user},
        "signInContext": context,
        "signInConditions": {
            "clientAppType": "browser",
            "ipAddress": ip
        },
        "authenticationSession": {
            "transactionStartedAt": at,
            "methods": methods.iter()
                .map(|m| json!({"method": m, "performedAt": at})).collect::<Vec<_>>()
        }
    });
    let req: EvaluateRequest = serde_json::from_value(request).expect("request parses");
    req.to_sign_in().expect("valid sign-in")
}

/// Every sign-in the comparison tries.
fn sign_ins() -> Vec<SignIn> {
    let method_sets: [&[&str]; 3] = [
        &["password"],
        &["password", "softwareOath"],
        &["windowsHelloForBusiness"],
    ];
    let mut out = Vec::new();
    for user in USERS {
        for target in 0..4 {
            for (ip, methods) in method_sets.iter().enumerate() {
                out.push(sign_in(user, target, ip, methods));
            }
        }
    }
    out
}

/// Asserts that two engines answer every question alike.
fn assert_same(
    followed: &Engine,
    fresh: &Engine,
    sign_ins: &[SignIn],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(followed.tenant(), fresh.tenant());
    for i in 0..(4 + GROUPS.len()) {
        let p = principal(i);
        let groups = fresh.transitive_groups(p);
        prop_assert_eq!(&followed.transitive_groups(p), &groups, "groups of {}", p);
        prop_assert_eq!(
            followed.active_roles(p, &groups),
            fresh.active_roles(p, &groups),
            "roles of {}",
            p
        );
        prop_assert_eq!(
            followed.is_privileged(p),
            fresh.is_privileged(p),
            "privileged: {}",
            p
        );
    }
    for s in sign_ins {
        let all = followed.evaluate_all(s, now());
        prop_assert_eq!(&all, &fresh.evaluate_all(s, now()));
        let decided = followed.decide(s, now());
        prop_assert_eq!(&decided, &fresh.decide(s, now()));
        // What production runs: the decision with the sign-in log's entries (report-only
        // policies come from their own index, which a followed change must keep current too).
        prop_assert_eq!(
            &followed.decide_logged(s, now()),
            &fresh.decide_logged(s, now())
        );
        // The followed index agrees with evaluating every policy.
        if let (Ok(all), Ok(decided)) = (all, decided) {
            prop_assert_eq!(followed.decision(&all), decided);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn following_changes_decides_as_building_afresh(
        start in tenant(),
        changes in vec(change(), 1..12),
    ) {
        let sign_ins = sign_ins();
        let mut followed = Engine::new(start.clone());
        let mut tenant = start;
        for c in changes {
            c.clone().apply_to(&mut tenant);
            followed.apply(c);
        }
        let fresh = Engine::new(tenant);
        assert_same(&followed, &fresh, &sign_ins)?;
    }

    #[test]
    fn a_clone_keeps_its_snapshot_while_the_original_follows(
        start in tenant(),
        changes in vec(change(), 1..6),
    ) {
        let sign_ins = sign_ins();
        let mut followed = Engine::new(start.clone());
        let before = followed.clone();
        for c in changes {
            followed.apply(c);
        }
        assert_same(&before, &Engine::new(start), &sign_ins)?;
    }
}

#[test]
fn a_role_change_is_seen_at_once() {
    let tenant: Tenant = parse(json!({
        "users": [{"id": "u0"}],
        "conditionalAccessPolicies": [PolicySpec {
            state: 0, include_users: vec![], exclude_users: vec![], include_groups: vec![],
            exclude_groups: vec![], include_roles: vec![0], exclude_roles: vec![], target: 0,
            control: 0, locations: 0,
        }.to_json("p0")]
    }));
    let mut engine = Engine::new(tenant);
    let s = sign_in("u0", 0, 0, &["password"]);
    assert!(!engine.is_privileged("u0"));
    assert_eq!(
        engine.decide(&s, now()).unwrap().blocking_policies,
        Vec::<String>::new()
    );
    engine.apply(TenantChange::RoleAssignmentsOf {
        principal_id: PrincipalId::trusted("U0"),
        assignments: parse(json!([assignment("U0", 0, true, 1)])),
    });
    assert!(engine.is_privileged("u0"));
    let roles: BTreeSet<String> = engine
        .active_roles("u0", &Default::default())
        .into_iter()
        .collect();
    assert_eq!(roles, BTreeSet::from([ROLES[0].to_string()]));
    assert_eq!(
        engine.decide(&s, now()).unwrap().blocking_policies,
        vec!["p0".to_string()]
    );
    engine.apply(TenantChange::RoleAssignmentsOf {
        principal_id: PrincipalId::trusted("u0"),
        assignments: Vec::new(),
    });
    assert!(!engine.is_privileged("u0"));
    assert!(engine.tenant().role_assignments.is_empty());
    assert_eq!(
        engine.decide(&s, now()).unwrap().blocking_policies,
        Vec::<String>::new()
    );
}
