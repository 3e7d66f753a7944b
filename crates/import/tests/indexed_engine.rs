//! The real Entra exports in `shared/fixtures`, decided through the index as the sign-in
//! assessment does ([`Engine::decide_logged`]): for users of every kind the policies name
//! (members of their groups, holders of their roles, guests, the users they list, someone they
//! do not name), every application, user action and context they target, and a few sessions and
//! circumstances, the decision and the applied-policies log equal the full evaluation's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fixtures;
use policy::assessment::applied_policies;
use policy::conditional_access::{ClientAppType, DevicePlatform, RiskLevel};
use policy::context::ContextId;
use policy::directory::{MemberRef, RoleAssignment, User};
use policy::session::AuthenticationSession;
use policy::signin::{DeviceInfo, SignInConditions};
use policy::tri::Tri;
use policy::{Engine, PolicyEvaluation, SignIn, Target, Tenant};
use serde_json::json;
use std::collections::BTreeSet;

/// The sessions, at ten o'clock (times as the wire spells them: this crate does not depend on a
/// time library): a password a minute ago, a password and an app code ten hours ago, a key a
/// minute ago; each in a transaction that started five minutes ago.
const SESSIONS: [&str; 3] = [
    r#"{"transactionStartedAt": "2026-03-02T09:55:00Z",
        "methods": [{"method": "password", "performedAt": "2026-03-02T09:59:00Z"}]}"#,
    r#"{"transactionStartedAt": "2026-03-02T09:55:00Z",
        "methods": [{"method": "password", "performedAt": "2026-03-02T00:00:00Z"},
                    {"method": "softwareOath", "performedAt": "2026-03-02T00:10:00Z"}]}"#,
    r#"{"transactionStartedAt": "2026-03-02T09:55:00Z",
        "methods": [{"method": "fido2", "performedAt": "2026-03-02T09:59:00Z"}]}"#,
];

/// What the policies name.
#[derive(Default)]
struct Named {
    users: BTreeSet<String>,
    roles: BTreeSet<String>,
    apps: BTreeSet<String>,
    actions: BTreeSet<String>,
    contexts: BTreeSet<String>,
}

fn named(tenant: &Tenant) -> Named {
    let mut n = Named::default();
    for p in &tenant.conditional_access_policies {
        if let Some(u) = &p.conditions.users {
            n.users
                .extend(u.include_users.iter().chain(&u.exclude_users).cloned());
            n.roles
                .extend(u.include_roles.iter().chain(&u.exclude_roles).cloned());
        }
        if let Some(a) = &p.conditions.applications {
            n.apps.extend(
                a.include_applications
                    .iter()
                    .chain(&a.exclude_applications)
                    .cloned(),
            );
            n.actions.extend(a.include_user_actions.iter().cloned());
            n.contexts.extend(
                a.include_authentication_context_class_references
                    .iter()
                    .cloned(),
            );
        }
    }
    n
}

fn user(id: &str, guest_type: Option<&str>) -> User {
    let mut u = json!({"id": id});
    if let Some(t) = guest_type {
        u["userType"] = json!("Guest");
        if !t.is_empty() {
            u["guestOrExternalUserType"] = json!(t);
        }
    }
    serde_json::from_value(u).unwrap()
}

/// The tenant with a directory to sign in from: the users the policies list, a member of every
/// group, an active and an eligible holder of every role, a typed and an untyped guest, and an
/// ordinary member. Returns the users' ids.
fn populate(tenant: &mut Tenant) -> Vec<String> {
    let named = named(tenant);
    let mut users: Vec<User> = named
        .users
        .iter()
        .filter(|id| {
            !["All", "None", "GuestsOrExternalUsers"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(id))
        })
        .map(|id| user(id, None))
        .collect();
    users.push(user("member", None));
    users.push(user("guest", Some("b2bCollaborationGuest")));
    users.push(user("guest-untyped", Some("")));
    for (i, g) in tenant.groups.iter_mut().enumerate() {
        let id = format!("in-group-{i}");
        g.members.push(MemberRef::Id(id.clone()));
        users.push(user(&id, None));
    }
    // A guest who is in the first group too (the break-glass or exclusion groups of the exports).
    if let Some(g) = tenant.groups.first_mut() {
        g.members.push(MemberRef::Id("guest".into()));
    }
    for (i, role) in named.roles.iter().enumerate() {
        for (status, prefix) in [("active", "admin"), ("eligible", "eligible")] {
            let id = format!("{prefix}-{i}");
            users.push(user(&id, None));
            let a: RoleAssignment = serde_json::from_value(json!({
                "principalId": id,
                "roleDefinitionId": role,
                "status": status
            }))
            .unwrap();
            tenant.role_assignments.push(a);
        }
    }
    let ids = users.iter().map(|u| u.id.clone()).collect();
    tenant.users.extend(users);
    ids
}

fn targets(tenant: &Tenant) -> Vec<Target> {
    let named = named(tenant);
    let mut out: Vec<Target> = named
        .apps
        .iter()
        .filter(|a| !a.eq_ignore_ascii_case("All") && !a.eq_ignore_ascii_case("None"))
        .map(|a| Target::Applications(vec![a.clone()]))
        .collect();
    out.push(Target::Applications(vec!["some-other-app".into()]));
    out.extend(named.actions.iter().map(|a| Target::UserAction(a.clone())));
    out.push(Target::UserAction("urn:user:registersecurityinfo".into()));
    out.push(Target::UserAction("registerSecurityInformation".into()));
    out.extend(
        named
            .contexts
            .iter()
            .chain(&["c1".to_string(), "c2".to_string()])
            .filter_map(|c| ContextId::parse(c).ok())
            .map(Target::AuthenticationContext),
    );
    out
}

fn conditions() -> Vec<SignInConditions> {
    let mut browser = SignInConditions {
        client_app_type: Some(ClientAppType::Browser),
        ..SignInConditions::default()
    };
    browser.location.ip_address = Some("203.0.113.5".parse().unwrap());
    let managed = SignInConditions {
        device_platform: Some(DevicePlatform::Windows),
        device: Some(DeviceInfo {
            is_compliant: Some(true),
            ..DeviceInfo::default()
        }),
        ..browser.clone()
    };
    let risky = SignInConditions {
        device_platform: Some(DevicePlatform::Ios),
        client_app_type: Some(ClientAppType::MobileAppsAndDesktopClients),
        sign_in_risk_level: Some(RiskLevel::High),
        user_risk_level: Some(RiskLevel::Medium),
        ..SignInConditions::default()
    };
    vec![browser, managed, risky]
}

fn sessions() -> Vec<AuthenticationSession> {
    SESSIONS
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect()
}

fn without_reasons(e: &PolicyEvaluation) -> PolicyEvaluation {
    PolicyEvaluation {
        reasons: Vec::new(),
        unknown_conditions: Vec::new(),
        ..e.clone()
    }
}

/// Decides every sign-in both ways; returns how many were compared.
fn compare(mut tenant: Tenant) -> usize {
    let users = populate(&mut tenant);
    let targets = targets(&tenant);
    let engine = Engine::new(tenant);
    let now = serde_json::from_value(json!("2026-03-02T10:00:00Z")).unwrap();
    let mut compared = 0;
    let conditions = conditions();
    let sessions = sessions();
    for (u, user) in users
        .iter()
        .map(String::as_str)
        .chain(["not-in-tenant"])
        .enumerate()
    {
        for (t, target) in targets.iter().enumerate() {
            // Every user and target once, the circumstances and sessions taking turns (all of
            // them for every pair would take minutes without telling more).
            let sign_in = SignIn {
                user_id: user.to_string(),
                target: target.clone(),
                conditions: conditions[(u + t) % conditions.len()].clone(),
                session: sessions[(u / conditions.len() + t) % sessions.len()].clone(),
                activating_role: None,
            };
            let full = engine.evaluate_all(&sign_in, now);
            let indexed = engine.decide_logged(&sign_in, now);
            let (full, (decision, logged)) = match (full, indexed) {
                (Ok(f), Ok(i)) => (f, i),
                (f, i) => {
                    assert_eq!(f.err(), i.err(), "{sign_in:?}");
                    continue;
                }
            };
            assert_eq!(decision, engine.decision(&full), "{sign_in:?}");
            for (f, l) in full.iter().zip(&logged) {
                if f != l {
                    assert_eq!(f.applies, Tri::False, "{sign_in:?}: {f:?}");
                    assert_eq!(&without_reasons(f), l, "{sign_in:?}");
                }
            }
            assert_eq!(
                applied_policies(&engine, &full, "application"),
                applied_policies(&engine, &logged, "application"),
                "{sign_in:?}"
            );
            compared += 1;
        }
    }
    compared
}

#[test]
fn the_exports_decide_the_same_through_the_index() {
    // Both folders in one tenant: 72 policies, 36 groups.
    let all = import::load(&fixtures()).unwrap();
    assert_eq!(all.tenant.conditional_access_policies.len(), 72);
    let compared = compare(all.tenant);
    assert!(compared > 1000, "only {compared} sign-ins compared");
}
