//! The pure sign-in assessment: which methods count, the first factor, the security-info floor,
//! requested contexts (with the fallback for a context no enabled policy targets), acr
//! alternatives, a PIM step-up's fresh methods, and the applied-policies log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use policy::assessment::{
    assess, AcrRequest, Assessment, AssessmentRequest, SessionEvent, SignInState, Verdict,
};
use policy::method::AuthenticationMethodMode as Mode;
use policy::registration::{Floor, ProofMethod};
use policy::session::PerformedMethod;
use policy::signin::SignInConditions;
use policy::{Engine, Tenant};
use serde_json::{json, Value};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).single().unwrap()
}

/// A transaction that started five minutes ago.
fn started() -> DateTime<Utc> {
    now() - Duration::minutes(5)
}

fn engine(policies: Value) -> Engine {
    let tenant: Tenant = serde_json::from_value(json!({
        "users": [{"id": "u1"}],
        "authenticationContextClassReferences": [{"id": "c1"}, {"id": "c5"}],
        "conditionalAccessPolicies": policies
    }))
    .unwrap();
    Engine::new(tenant)
}

fn event(method: Mode, minutes_ago: i64) -> SessionEvent {
    let at = now() - Duration::minutes(minutes_ago);
    SessionEvent {
        performed: PerformedMethod::new(method.clone(), at),
        proof: ProofMethod {
            method,
            performed_at: at,
            credential_id: None,
            registration: None,
        },
    }
}

fn request() -> AssessmentRequest {
    AssessmentRequest {
        client_id: "app1".into(),
        ..AssessmentRequest::default()
    }
}

fn run(
    engine: &Engine,
    request: &AssessmentRequest,
    events: &[SessionEvent],
    floor: Option<Floor>,
) -> Assessment {
    let state = SignInState {
        user_id: "u1",
        events,
        transaction_started_at: started(),
        conditions: SignInConditions::default(),
        floor,
    };
    assess(engine, request, &state, now()).unwrap()
}

fn reasons(verdict: &Verdict) -> Vec<String> {
    match verdict {
        Verdict::Challenge(needs) => needs.iter().map(|n| n.reason.clone()).collect(),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

fn policy(id: &str, state: &str, applications: Value, grant: Value) -> Value {
    json!({
        "id": id,
        "displayName": id,
        "state": state,
        "conditions": {"users": {"includeUsers": ["All"]}, "applications": applications},
        "grantControls": grant
    })
}

#[test]
fn nothing_is_evaluated_before_a_first_factor() {
    let e = engine(json!([policy(
        "p1",
        "enabled",
        json!({"includeApplications": ["All"]}),
        json!({"operator": "OR", "builtInControls": ["mfa"]})
    )]));
    let a = run(&e, &request(), &[event(Mode::SoftwareOath, 1)], None);
    assert_eq!(reasons(&a.verdict), vec!["Sign in."]);
    assert_eq!(a.applied_policies, json!([]));
}

#[test]
fn a_password_grants_pwd_when_nothing_asks_more() {
    let e = engine(json!([]));
    let a = run(&e, &request(), &[event(Mode::Password, 1)], None);
    let Verdict::Grant(g) = a.verdict else {
        panic!("{:?}", a.verdict)
    };
    assert_eq!(g.acr, "pwd");
    assert_eq!(g.amr, vec!["pwd"]);
    assert_eq!(g.methods, vec!["password"]);
    assert_eq!(g.auth_time, now() - Duration::minutes(1));
}

#[test]
fn a_context_no_enabled_policy_targets_falls_back_to_mfa() {
    // Report-only and disabled policies on c5 do not count as targeting it.
    let e = engine(json!([
        policy(
            "report",
            "enabledForReportingButNotEnforced",
            json!({"includeAuthenticationContextClassReferences": ["c5"]}),
            json!({"operator": "OR", "builtInControls": ["block"]})
        ),
        policy(
            "off",
            "disabled",
            json!({"includeAuthenticationContextClassReferences": ["c5"]}),
            json!({"operator": "OR", "builtInControls": ["block"]})
        ),
    ]));
    let r = AssessmentRequest {
        contexts: vec!["c5".into()],
        ..request()
    };
    let a = run(&e, &r, &[event(Mode::Password, 1)], None);
    assert_eq!(
        reasons(&a.verdict),
        vec![
            "Authentication context c5 is targeted by no enabled policy, so multifactor \
             authentication is required."
        ]
    );
    let log = a.applied_policies.as_array().unwrap();
    // The application's log: the report-only policy (not applied), never the disabled one;
    // then the fallback.
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["id"], "report");
    assert_eq!(log[0]["result"], "reportOnlyNotApplied");
    assert_eq!(log[1]["id"], Value::Null);
    assert_eq!(log[1]["result"], "failure");

    let a = run(
        &e,
        &r,
        &[event(Mode::Password, 2), event(Mode::SoftwareOath, 1)],
        None,
    );
    let Verdict::Grant(g) = a.verdict else {
        panic!("{:?}", a.verdict)
    };
    assert_eq!(g.acrs, vec!["c5"]);
    assert_eq!(g.acr, "mfa");
    assert_eq!(a.applied_policies[1]["result"], "success");
}

#[test]
fn a_max_age_beyond_any_duration_is_no_reason_to_sign_in_again() {
    let e = engine(json!([]));
    let r = AssessmentRequest {
        max_age: Some(i64::MAX),
        ..request()
    };
    let a = run(&e, &r, &[event(Mode::Password, 60)], None);
    assert!(matches!(a.verdict, Verdict::Grant(_)), "{:?}", a.verdict);
    // A max_age the session's authentication exceeds asks for a new one.
    let r = AssessmentRequest {
        max_age: Some(60),
        ..request()
    };
    let a = run(&e, &r, &[event(Mode::Password, 60)], None);
    assert_eq!(
        reasons(&a.verdict),
        vec!["The application asks you to sign in again."]
    );
}

#[test]
fn prompt_login_counts_only_this_transaction() {
    let e = engine(json!([]));
    let r = AssessmentRequest {
        prompt_login: true,
        ..request()
    };
    let a = run(&e, &r, &[event(Mode::Password, 30)], None);
    assert_eq!(
        reasons(&a.verdict),
        vec!["The application asks you to sign in again."]
    );
    let a = run(&e, &r, &[event(Mode::Password, 1)], None);
    assert!(matches!(a.verdict, Verdict::Grant(_)), "{:?}", a.verdict);
}

#[test]
fn a_step_up_counts_only_its_own_methods_for_a_strength() {
    let e = engine(json!([policy(
        "strong",
        "enabled",
        json!({"includeAuthenticationContextClassReferences": ["c1"]}),
        json!({"operator": "OR", "builtInControls": [],
               "authenticationStrength": {"id": "00000000-0000-0000-0000-000000000004"}})
    )]));
    // A key used before the transaction started.
    let events = [event(Mode::Fido2, 30)];
    let r = AssessmentRequest {
        contexts: vec!["c1".into()],
        ..request()
    };
    assert!(matches!(
        run(&e, &r, &events, None).verdict,
        Verdict::Grant(_)
    ));
    let step_up = AssessmentRequest {
        step_up: Some("role".into()),
        ..r
    };
    let a = run(&e, &step_up, &events, None);
    assert_eq!(reasons(&a.verdict).len(), 1, "{:?}", a.verdict);
    let a = run(&e, &step_up, &[event(Mode::Fido2, 1)], None);
    let Verdict::Grant(g) = a.verdict else {
        panic!("{:?}", a.verdict)
    };
    assert_eq!((g.acr.as_str(), g.acrs), ("phr", vec!["c1".to_string()]));
}

#[test]
fn acr_alternatives_take_the_first_met_and_ask_for_the_first() {
    let e = engine(json!([]));
    let r = AssessmentRequest {
        acr: vec![AcrRequest::PhishingResistant, AcrRequest::Mfa],
        ..request()
    };
    let a = run(
        &e,
        &r,
        &[event(Mode::Password, 2), event(Mode::Sms, 1)],
        None,
    );
    let Verdict::Grant(g) = a.verdict else {
        panic!("{:?}", a.verdict)
    };
    assert_eq!(g.acr, "mfa");
    let a = run(&e, &r, &[event(Mode::Password, 2)], None);
    assert_eq!(
        reasons(&a.verdict),
        vec!["The application asks for phishing-resistant authentication."]
    );
}

#[test]
fn security_info_needs_a_fresh_proof() {
    let e = engine(json!([]));
    let r = AssessmentRequest {
        user_action: Some(policy::assessment::REGISTER_SECURITY_INFO.into()),
        ..request()
    };
    let a = run(&e, &r, &[event(Mode::Password, 30)], Some(Floor::Password));
    assert_eq!(
        reasons(&a.verdict),
        vec!["Security info needs a fresh sign-in."]
    );
    let a = run(&e, &r, &[event(Mode::Password, 1)], Some(Floor::Password));
    assert!(matches!(a.verdict, Verdict::Grant(_)), "{:?}", a.verdict);
}

/// Application Administrator's role template id.
const APP_ADMIN: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";

#[test]
fn a_step_up_counts_the_role_it_activates_for_the_policies_that_include_it() {
    // The seed's policy: for the role's members, on the role's context, phishing-resistant
    // every time. The user is not a member yet: the activation is what makes them one.
    let e = engine(json!([{
        "id": "tier0",
        "displayName": "Tier 0 Role Activation",
        "state": "enabled",
        "conditions": {
            "users": {"includeRoles": [APP_ADMIN.to_uppercase()]},
            "applications": {"includeAuthenticationContextClassReferences": ["c1"]}
        },
        "grantControls": {"operator": "OR", "builtInControls": [],
            "authenticationStrength": {"id": "00000000-0000-0000-0000-000000000004"}},
        "sessionControls": {"signInFrequency": {"isEnabled": true,
            "frequencyInterval": "everyTime", "authenticationType": "primaryAndSecondaryAuthentication"}}
    }]));
    let password_and_code = [event(Mode::Password, 1), event(Mode::SoftwareOath, 1)];
    let on_c1 = AssessmentRequest {
        contexts: vec!["c1".into()],
        ..request()
    };
    // Not a step-up: the policy is for the role's members, and the user holds no role.
    assert!(matches!(
        run(&e, &on_c1, &password_and_code, None).verdict,
        Verdict::Grant(_)
    ));
    // The step-up of an activation of the role: the policy applies, a code is not enough.
    let step_up = AssessmentRequest {
        step_up: Some(APP_ADMIN.into()),
        ..on_c1.clone()
    };
    let a = run(&e, &step_up, &password_and_code, None);
    assert_eq!(reasons(&a.verdict).len(), 1, "{:?}", a.verdict);
    assert!(
        a.applied_policies
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "tier0" && p["result"] == "failure"),
        "{}",
        a.applied_policies
    );
    // The step-up of another role: not this policy's members.
    let other = AssessmentRequest {
        step_up: Some("62e90394-69f5-4237-9190-012177145e10".into()),
        ..on_c1.clone()
    };
    assert!(matches!(
        run(&e, &other, &password_and_code, None).verdict,
        Verdict::Grant(_)
    ));
    // With a key in this transaction, it is satisfied.
    let a = run(
        &e,
        &step_up,
        &[event(Mode::Password, 1), event(Mode::Fido2, 1)],
        None,
    );
    let Verdict::Grant(g) = a.verdict else {
        panic!("{:?}", a.verdict)
    };
    assert_eq!((g.acr.as_str(), g.acrs), ("phr", vec!["c1".to_string()]));
}

#[test]
fn the_role_a_step_up_activates_never_lifts_an_exclusion_it_is_not_held_for() {
    // A policy for everyone but the role's holders: the activation does not make the user one
    // of the excluded yet, so the policy still applies to the step-up.
    let e = engine(json!([{
        "id": "others",
        "displayName": "Everyone else on c1",
        "state": "enabled",
        "conditions": {
            "users": {"includeUsers": ["All"], "excludeRoles": [APP_ADMIN]},
            "applications": {"includeAuthenticationContextClassReferences": ["c1"]}
        },
        "grantControls": {"operator": "OR", "builtInControls": ["block"]}
    }]));
    let step_up = AssessmentRequest {
        contexts: vec!["c1".into()],
        step_up: Some(APP_ADMIN.into()),
        ..request()
    };
    let a = run(&e, &step_up, &[event(Mode::Password, 1)], None);
    assert!(matches!(a.verdict, Verdict::Block(_)), "{:?}", a.verdict);
}

#[test]
fn a_step_up_on_a_context_no_policy_targets_asks_for_mfa_made_in_it() {
    // Mid-rollout: the context's policy is report-only, so the fallback (MFA) applies. An MFA
    // of the session made before the step-up proves nothing about the request.
    let e = engine(json!([policy(
        "pilot",
        "enabledForReportingButNotEnforced",
        json!({"includeAuthenticationContextClassReferences": ["c1"]}),
        json!({"operator": "OR", "builtInControls": [],
               "authenticationStrength": {"id": "00000000-0000-0000-0000-000000000004"}})
    )]));
    let earlier_mfa = [event(Mode::Password, 30), event(Mode::SoftwareOath, 30)];
    let on_c1 = AssessmentRequest {
        contexts: vec!["c1".into()],
        ..request()
    };
    // An ordinary request for c1: the session's MFA satisfies the fallback (a claim check).
    assert!(matches!(
        run(&e, &on_c1, &earlier_mfa, None).verdict,
        Verdict::Grant(_)
    ));
    // The step-up: a second factor of this transaction is asked for.
    let step_up = AssessmentRequest {
        step_up: Some(APP_ADMIN.into()),
        ..on_c1
    };
    let a = run(&e, &step_up, &earlier_mfa, None);
    let Verdict::Challenge(needs) = &a.verdict else {
        panic!("{:?}", a.verdict)
    };
    assert_eq!(needs.len(), 1, "{needs:?}");
    assert_eq!(needs[0].performed_after, Some(started()));
    // Made in it: satisfied.
    let fresh = [event(Mode::Password, 30), event(Mode::SoftwareOath, 1)];
    assert!(matches!(
        run(&e, &step_up, &fresh, None).verdict,
        Verdict::Grant(_)
    ));
}
