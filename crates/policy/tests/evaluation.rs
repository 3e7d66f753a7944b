//! Behaviour of the Conditional Access engine, one test per rule.
//!
//! Tenants and sign-ins are written as Graph JSON, evaluated through What-If at a fixed time, and
//! every evaluation also checks that the indexed decision (`Engine::decide`) agrees with the
//! decision over every policy (`Engine::decision(&Engine::evaluate_all(..))`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use policy::conditional_access::ConditionalAccessPolicy;
use policy::engine::EvaluateError;
use policy::signin::RequestError;
use policy::tri::Tri;
use policy::whatif::{WhatIfError, WhatIfPolicy};
use policy::{
    validate, AppliedResult, DecisionResult, Engine, EvaluateRequest, Finding, Requirement,
    Severity, Tenant, WhatIfResponse,
};
use serde_json::{json, Value};

const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
const MFA: &str = "00000000-0000-0000-0000-000000000002";
const PASSWORDLESS: &str = "00000000-0000-0000-0000-000000000003";
const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";
const YUBIKEY: &str = "cb69481e-8ff7-4039-93ec-0a2729a154a8";
const OTHER_KEY: &str = "ee882879-721c-4913-9775-3dfcce97072a";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The fixed evaluation time.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).single().unwrap()
}

fn minutes_ago(m: i64) -> DateTime<Utc> {
    now() - Duration::minutes(m)
}

/// Deep-merges `patch` into `target`: objects merge key by key, anything else replaces.
fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p,
    }
}

fn with(mut v: Value, patch: Value) -> Value {
    merge(&mut v, patch);
    v
}

/// An enabled policy for every user and every application.
fn policy(id: &str, grant: Value) -> Value {
    json!({
        "id": id,
        "displayName": format!("Policy {id}"),
        "state": "enabled",
        "conditions": {
            "users": {"includeUsers": ["All"]},
            "applications": {"includeApplications": ["All"]}
        },
        "grantControls": grant
    })
}

fn controls(operator: &str, built_in: &[&str]) -> Value {
    json!({"operator": operator, "builtInControls": built_in})
}

fn block() -> Value {
    controls("OR", &["block"])
}

fn mfa() -> Value {
    controls("OR", &["mfa"])
}

fn strength(id: &str) -> Value {
    json!({"operator": "OR", "builtInControls": [], "authenticationStrength": {"id": id}})
}

/// A tenant with users u1 and u2 and the given policies.
fn tenant(policies: Vec<Value>) -> Value {
    json!({
        "users": [{"id": "u1", "displayName": "Ada"}, {"id": "u2", "displayName": "Bob"}],
        "conditionalAccessPolicies": policies
    })
}

fn engine(t: &Value) -> Engine {
    let tenant: Tenant = serde_json::from_value(t.clone()).expect("tenant parses");
    Engine::new(tenant)
}

/// A session whose transaction started at `tx`, with the given methods.
fn session(tx: DateTime<Utc>, methods: &[(&str, DateTime<Utc>)]) -> Value {
    json!({
        "transactionStartedAt": tx,
        "methods": methods
            .iter()
            .map(|(m, at)| json!({"method": m, "performedAt": at}))
            .collect::<Vec<_>>()
    })
}

/// Password five minutes ago, nothing else.
fn password_only() -> Value {
    session(minutes_ago(5), &[("password", minutes_ago(5))])
}

/// Password and TOTP five minutes ago.
fn password_and_totp() -> Value {
    session(
        minutes_ago(5),
        &[
            ("password", minutes_ago(5)),
            ("softwareOath", minutes_ago(4)),
        ],
    )
}

fn app_context(app: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.applicationContext", "includeApplications": [app]})
}

fn auth_context(c: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.authContext", "authenticationContextValue": c})
}

fn user_action(a: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.userActionContext", "userAction": a})
}

/// A sign-in of `user` to `context` from a known, non-compliant Windows browser in Belgium.
fn request(user: &str, context: Value, session: Value) -> Value {
    json!({
        "signInIdentity": {"@odata.type": "#microsoft.graph.userSignIn", "userId": user},
        "signInContext": context,
        "signInConditions": {
            "devicePlatform": "windows",
            "clientAppType": "browser",
            "ipAddress": "203.0.113.5",
            "country": "BE",
            "signInRiskLevel": "none",
            "userRiskLevel": "none",
            "deviceInfo": {"isCompliant": false, "trustType": "AzureAD"}
        },
        "authenticationSession": session
    })
}

fn app_request(user: &str, session: Value) -> Value {
    request(user, app_context("app1"), session)
}

fn parse_request(r: &Value) -> EvaluateRequest {
    serde_json::from_value(r.clone()).expect("request parses")
}

/// What-If at the fixed time, after checking that the index and the full evaluation agree.
fn run(engine: &Engine, r: &Value) -> WhatIfResponse {
    run_at(engine, r, now())
}

fn run_at(engine: &Engine, r: &Value, at: DateTime<Utc>) -> WhatIfResponse {
    let req = parse_request(r);
    let sign_in = req.to_sign_in().expect("valid sign-in");
    let full = engine.decision(&engine.evaluate_all(&sign_in, at).expect("evaluates"));
    let indexed = engine.decide(&sign_in, at).expect("decides");
    assert_eq!(indexed, full, "indexed decision differs from the full one");
    let response = what_if(engine, &req, at).expect("what-if succeeds");
    assert_eq!(response.decision, full, "what-if decision differs");
    response
}

fn what_if(
    engine: &Engine,
    req: &EvaluateRequest,
    at: DateTime<Utc>,
) -> Result<WhatIfResponse, WhatIfError> {
    policy::what_if(engine, req, at)
}

fn find<'r>(response: &'r WhatIfResponse, id: &str) -> &'r WhatIfPolicy {
    response
        .value
        .iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("policy {id} not in the response"))
}

/// Asserts a policy's result, applicability and analysis reasons.
#[track_caller]
fn assert_policy(
    response: &WhatIfResponse,
    id: &str,
    result: AppliedResult,
    applies: bool,
    reasons: &str,
) {
    let p = find(response, id);
    assert_eq!(p.result, result, "{id}: result ({p:?})");
    assert_eq!(p.policy_applies, applies, "{id}: policyApplies ({p:?})");
    assert_eq!(p.analysis_reasons, reasons, "{id}: analysisReasons ({p:?})");
}

// ---------------------------------------------------------------------------------------------
// Users: inclusion and exclusion
// ---------------------------------------------------------------------------------------------

#[test]
fn excluded_user_wins_over_include_all() {
    let e = engine(&tenant(vec![with(
        policy("p1", block()),
        json!({"conditions": {"users": {"excludeUsers": ["u1"]}}}),
    )]));

    let r = run(&e, &app_request("u1", password_and_totp()));
    assert_policy(&r, "p1", AppliedResult::NotApplied, false, "users");
    assert_eq!(r.decision.result, DecisionResult::Grant);

    let r = run(&e, &app_request("u2", password_and_totp()));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Block);
    assert_eq!(r.decision.blocking_policies, vec!["p1".to_string()]);
}

#[test]
fn excluded_user_wins_over_explicit_inclusion() {
    let e = engine(&tenant(vec![with(
        policy("p1", block()),
        json!({"conditions": {"users": {"includeUsers": ["u1", "u2"], "excludeUsers": ["U1"]}}}),
    )]));
    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(&r, "p1", AppliedResult::NotApplied, false, "users");
    let r = run(&e, &app_request("u2", password_only()));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
}

#[test]
fn excluded_group_wins_through_nested_membership() {
    let mut t = tenant(vec![with(
        policy("p1", block()),
        json!({"conditions": {"users": {"excludeGroups": ["g-outer"]}}}),
    )]);
    t["groups"] = json!([
        {"id": "g-outer", "members": ["g-inner"]},
        {"id": "g-inner", "members": [{"id": "u1", "@odata.type": "#microsoft.graph.user"}]}
    ]);
    let e = engine(&t);

    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(&r, "p1", AppliedResult::NotApplied, false, "users");
    assert_eq!(r.decision.result, DecisionResult::Grant);

    let r = run(&e, &app_request("u2", password_only()));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Block);
}

#[test]
fn excluded_role_with_an_active_assignment_wins() {
    let mut t = tenant(vec![with(
        policy("p1", block()),
        json!({"conditions": {"users": {"includeUsers": ["u1", "u2"], "excludeRoles": [GLOBAL_ADMIN]}}}),
    )]);
    t["roleAssignments"] = json!([
        {"principalId": "u1", "roleDefinitionId": GLOBAL_ADMIN, "status": "active"}
    ]);
    let e = engine(&t);

    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(&r, "p1", AppliedResult::NotApplied, false, "users");
    assert_eq!(r.decision.result, DecisionResult::Grant);

    let r = run(&e, &app_request("u2", password_only()));
    assert_eq!(r.decision.result, DecisionResult::Block);
}

#[test]
fn role_assigned_to_a_group_counts_for_its_members() {
    let mut t = tenant(vec![with(
        policy("admins", mfa()),
        json!({"conditions": {"users": {"includeUsers": [], "includeRoles": [GLOBAL_ADMIN]}}}),
    )]);
    t["groups"] = json!([{"id": "g-admins", "isAssignableToRole": true, "members": ["u1"]}]);
    t["roleAssignments"] = json!([
        {"principalId": "g-admins", "roleDefinitionId": GLOBAL_ADMIN, "status": "active"}
    ]);
    let e = engine(&t);
    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(&r, "admins", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Challenge);
    let r = run(&e, &app_request("u2", password_only()));
    assert_policy(&r, "admins", AppliedResult::NotApplied, false, "users");
}

#[test]
fn eligible_role_assignment_counts_for_neither_include_nor_exclude_roles() {
    let policies = vec![
        with(
            policy("include-admins", block()),
            json!({"conditions": {"users": {"includeUsers": [], "includeRoles": [GLOBAL_ADMIN]}}}),
        ),
        with(
            policy("exclude-admins", mfa()),
            json!({"conditions": {"users": {"excludeRoles": [GLOBAL_ADMIN]}}}),
        ),
    ];
    let tenant_with = |status: &str| {
        let mut t = tenant(policies.clone());
        t["roleAssignments"] = json!([
            {"principalId": "u1", "roleDefinitionId": GLOBAL_ADMIN, "status": status}
        ]);
        engine(&t)
    };

    let eligible = tenant_with("eligible");
    let r = run(&eligible, &app_request("u1", password_only()));
    assert_policy(
        &r,
        "include-admins",
        AppliedResult::NotApplied,
        false,
        "users",
    );
    assert_policy(&r, "exclude-admins", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Challenge);

    // The same assignment, active: both role conditions now see it.
    let active = tenant_with("active");
    let r = run(&active, &app_request("u1", password_only()));
    assert_policy(&r, "include-admins", AppliedResult::Failure, true, "notSet");
    assert_policy(
        &r,
        "exclude-admins",
        AppliedResult::NotApplied,
        false,
        "users",
    );
    assert_eq!(r.decision.result, DecisionResult::Block);
}

#[test]
fn include_groups_is_transitive() {
    let mut t = tenant(vec![with(
        policy("p1", mfa()),
        json!({"conditions": {"users": {"includeUsers": [], "includeGroups": ["g1"]}}}),
    )]);
    t["groups"] = json!([
        {"id": "g1", "members": ["g2"]},
        {"id": "g2", "members": ["u1"]}
    ]);
    let e = engine(&t);

    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Challenge);

    let r = run(&e, &app_request("u2", password_only()));
    assert_policy(&r, "p1", AppliedResult::NotApplied, false, "users");
    assert_eq!(r.decision.result, DecisionResult::Grant);
}

#[test]
fn group_cycle_does_not_hang() {
    let mut t = tenant(vec![with(
        policy("p1", block()),
        json!({"conditions": {"users": {"includeUsers": [], "includeGroups": ["g1"]}}}),
    )]);
    t["groups"] = json!([
        {"id": "g1", "members": ["g2"]},
        {"id": "g2", "members": ["g3", "u1"]},
        {"id": "g3", "members": ["g1"]}
    ]);
    let e = engine(&t);

    let mut groups: Vec<String> = e.transitive_groups("u1").into_iter().collect();
    groups.sort();
    assert_eq!(groups, vec!["g1", "g2", "g3"]);
    assert!(e.transitive_groups("u2").is_empty());

    let r = run(&e, &app_request("u1", password_only()));
    assert_eq!(r.decision.result, DecisionResult::Block);
    let r = run(&e, &app_request("u2", password_only()));
    assert_policy(&r, "p1", AppliedResult::NotApplied, false, "users");
}

// ---------------------------------------------------------------------------------------------
// Combining policies
// ---------------------------------------------------------------------------------------------

#[test]
fn block_wins_over_everything() {
    let e = engine(&tenant(vec![
        policy("p-mfa", mfa()),
        policy("p-phish", strength(PHISHING_RESISTANT)),
        policy("p-block", block()),
    ]));
    // A session that satisfies every other policy.
    let s = session(
        minutes_ago(5),
        &[("password", minutes_ago(5)), ("fido2", minutes_ago(4))],
    );
    let r = run(&e, &app_request("u1", s));
    assert_policy(&r, "p-mfa", AppliedResult::Success, true, "notSet");
    assert_policy(&r, "p-phish", AppliedResult::Success, true, "notSet");
    assert_policy(&r, "p-block", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Block);
    assert_eq!(r.decision.blocking_policies, vec!["p-block".to_string()]);
    assert_eq!(r.decision.unsatisfied_policies, vec!["p-block".to_string()]);
    assert_eq!(r.decision.requirements.len(), 1);
    assert_eq!(
        r.decision.requirements[0].any_of,
        vec![vec![Requirement::Block]]
    );

    // Block also wins over a policy that would only challenge.
    let r = run(&e, &app_request("u1", password_only()));
    assert_eq!(r.decision.result, DecisionResult::Block);
    assert_eq!(
        r.decision.unsatisfied_policies,
        vec!["p-mfa".to_string(), "p-phish".into(), "p-block".into()]
    );
    assert_eq!(r.decision.blocking_policies, vec!["p-block".to_string()]);
}

#[test]
fn report_only_block_does_not_block() {
    let e = engine(&tenant(vec![
        with(
            policy("p-ro-block", block()),
            json!({"state": "enabledForReportingButNotEnforced"}),
        ),
        policy("p-mfa", mfa()),
    ]));
    let r = run(&e, &app_request("u1", password_and_totp()));
    assert_policy(
        &r,
        "p-ro-block",
        AppliedResult::ReportOnlyFailure,
        true,
        "notSet",
    );
    assert_policy(&r, "p-mfa", AppliedResult::Success, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Grant);
    assert!(r.decision.unsatisfied_policies.is_empty());
    assert!(r.decision.blocking_policies.is_empty());
}

#[test]
fn report_only_results_follow_graph() {
    let ro = json!({"state": "enabledForReportingButNotEnforced"});
    let e = engine(&tenant(vec![
        with(policy("ro-mfa", mfa()), ro.clone()),
        with(
            policy("ro-compliant", controls("OR", &["compliantDevice"])),
            ro.clone(),
        ),
        with(
            with(policy("ro-excluded", block()), ro),
            json!({"conditions": {"users": {"excludeUsers": ["u1"]}}}),
        ),
    ]));

    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(
        &r,
        "ro-mfa",
        AppliedResult::ReportOnlyInterrupted,
        true,
        "notSet",
    );
    assert_policy(
        &r,
        "ro-compliant",
        AppliedResult::ReportOnlyFailure,
        true,
        "notSet",
    );
    assert_policy(
        &r,
        "ro-excluded",
        AppliedResult::ReportOnlyNotApplied,
        false,
        "users",
    );
    assert_eq!(r.decision.result, DecisionResult::Grant);

    let r = run(&e, &app_request("u1", password_and_totp()));
    assert_policy(
        &r,
        "ro-mfa",
        AppliedResult::ReportOnlySuccess,
        true,
        "notSet",
    );
    // What the report-only policy would have asked is still reported.
    assert_eq!(
        find(&r, "ro-compliant").requirements,
        vec![vec![Requirement::Control {
            control: "compliantDevice".into()
        }]]
    );
}

#[test]
fn disabled_policies_are_not_enabled_and_never_decide() {
    let disabled = json!({"state": "disabled"});
    let e = engine(&tenant(vec![
        with(policy("off-block", block()), disabled.clone()),
        with(policy("off-mfa", mfa()), disabled),
    ]));
    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(
        &r,
        "off-block",
        AppliedResult::NotEnabled,
        false,
        "policyNotEnabled",
    );
    assert_policy(
        &r,
        "off-mfa",
        AppliedResult::NotEnabled,
        false,
        "policyNotEnabled",
    );
    assert!(find(&r, "off-block").requirements.is_empty());
    assert_eq!(r.decision.result, DecisionResult::Grant);
    assert!(r.decision.unsatisfied_policies.is_empty());
}

#[test]
fn every_applicable_enabled_policy_must_be_satisfied() {
    let e = engine(&tenant(vec![
        policy("p-mfa", mfa()),
        policy("p-phish", strength(PHISHING_RESISTANT)),
        with(
            policy("p-other-user", block()),
            json!({"conditions": {"users": {"includeUsers": ["u2"]}}}),
        ),
    ]));

    let r = run(&e, &app_request("u1", password_and_totp()));
    assert_policy(&r, "p-mfa", AppliedResult::Success, true, "notSet");
    assert_policy(&r, "p-phish", AppliedResult::Failure, true, "notSet");
    assert_policy(
        &r,
        "p-other-user",
        AppliedResult::NotApplied,
        false,
        "users",
    );
    assert_eq!(r.decision.result, DecisionResult::Challenge);
    assert_eq!(r.decision.unsatisfied_policies, vec!["p-phish".to_string()]);
    assert!(r.decision.blocking_policies.is_empty());
    assert_eq!(r.decision.requirements.len(), 1);
    assert_eq!(r.decision.requirements[0].policy_id, "p-phish");
    assert_eq!(r.decision.requirements[0].display_name, "Policy p-phish");

    let s = session(
        minutes_ago(5),
        &[("password", minutes_ago(5)), ("fido2", minutes_ago(4))],
    );
    let r = run(&e, &app_request("u1", s));
    assert_policy(&r, "p-phish", AppliedResult::Success, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Grant);
}

#[test]
fn or_within_a_policy_compliant_device_alone_grants() {
    let e = engine(&tenant(vec![policy(
        "p1",
        controls("OR", &["mfa", "compliantDevice"]),
    )]));

    let compliant = with(
        app_request("u1", password_only()),
        json!({"signInConditions": {"deviceInfo": {"isCompliant": true}}}),
    );
    let r = run(&e, &compliant);
    assert_policy(&r, "p1", AppliedResult::Success, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Grant);

    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Challenge);
    assert_eq!(
        find(&r, "p1").requirements,
        vec![
            vec![Requirement::Mfa {
                performed_after: None
            }],
            vec![Requirement::Control {
                control: "compliantDevice".into()
            }],
        ]
    );

    let r = run(&e, &app_request("u1", password_and_totp()));
    assert_eq!(r.decision.result, DecisionResult::Grant);
}

#[test]
fn and_within_a_policy_needs_every_control() {
    let e = engine(&tenant(vec![policy(
        "p1",
        controls("AND", &["mfa", "compliantDevice"]),
    )]));
    let compliant = json!({"signInConditions": {"deviceInfo": {"isCompliant": true}}});

    // Compliant device, no MFA: MFA is what is left, and the user can do it.
    let r = run(
        &e,
        &with(app_request("u1", password_only()), compliant.clone()),
    );
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Challenge);
    assert_eq!(
        find(&r, "p1").requirements,
        vec![vec![Requirement::Mfa {
            performed_after: None
        }]]
    );

    // MFA on a non-compliant device: no authentication helps.
    let r = run(&e, &app_request("u1", password_and_totp()));
    assert_eq!(r.decision.result, DecisionResult::Block);
    assert_eq!(
        find(&r, "p1").requirements,
        vec![vec![Requirement::Control {
            control: "compliantDevice".into()
        }]]
    );

    let r = run(&e, &with(app_request("u1", password_and_totp()), compliant));
    assert_policy(&r, "p1", AppliedResult::Success, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Grant);
}

// ---------------------------------------------------------------------------------------------
// mfa (claim check) versus authentication strength (method check)
// ---------------------------------------------------------------------------------------------

#[test]
fn mfa_is_a_claim_check() {
    let e = engine(&tenant(vec![policy("p1", mfa())]));

    // Methods performed hours ago, before the transaction: no sign-in frequency, so they count.
    let old = session(
        minutes_ago(1),
        &[
            ("password", minutes_ago(480)),
            ("softwareOath", minutes_ago(420)),
        ],
    );
    let r = run(&e, &app_request("u1", old));
    assert_policy(&r, "p1", AppliedResult::Success, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Grant);

    // An MFA claim asserted to the session, with no second method at all.
    let claimed = json!({
        "transactionStartedAt": minutes_ago(1),
        "methods": [{"method": "password", "performedAt": minutes_ago(300)}],
        "mfaClaimedAt": minutes_ago(300)
    });
    let r = run(&e, &app_request("u1", claimed));
    assert_policy(&r, "p1", AppliedResult::Success, true, "notSet");

    // A claim from the future is not evidence.
    let future = json!({
        "transactionStartedAt": minutes_ago(1),
        "methods": [{"method": "password", "performedAt": minutes_ago(5)}],
        "mfaClaimedAt": now() + Duration::minutes(5)
    });
    let r = run(&e, &app_request("u1", future));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");

    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Challenge);
    assert_eq!(
        find(&r, "p1").requirements,
        vec![vec![Requirement::Mfa {
            performed_after: None
        }]]
    );
}

/// One policy per built-in strength.
fn strength_tenant() -> Engine {
    engine(&tenant(vec![
        policy("s-mfa", strength(MFA)),
        policy("s-passwordless", strength(PASSWORDLESS)),
        policy("s-phish", strength(PHISHING_RESISTANT)),
    ]))
}

#[test]
fn mfa_claim_never_satisfies_an_authentication_strength() {
    let e = strength_tenant();
    let claimed = json!({
        "transactionStartedAt": minutes_ago(5),
        "methods": [{"method": "password", "performedAt": minutes_ago(5)}],
        "mfaClaimedAt": minutes_ago(4)
    });
    let r = run(&e, &app_request("u1", claimed));
    assert_policy(&r, "s-mfa", AppliedResult::Failure, true, "notSet");
    assert_policy(&r, "s-passwordless", AppliedResult::Failure, true, "notSet");
    assert_policy(&r, "s-phish", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Challenge);
    assert_eq!(
        find(&r, "s-mfa").requirements,
        vec![vec![Requirement::AuthenticationStrength {
            id: MFA.into(),
            display_name: "Multifactor authentication".into(),
            performed_after: None,
        }]]
    );
}

#[test]
fn password_and_totp_satisfy_the_mfa_strength_but_not_phishing_resistant() {
    let e = strength_tenant();
    let r = run(&e, &app_request("u1", password_and_totp()));
    assert_policy(&r, "s-mfa", AppliedResult::Success, true, "notSet");
    assert_policy(&r, "s-passwordless", AppliedResult::Failure, true, "notSet");
    assert_policy(&r, "s-phish", AppliedResult::Failure, true, "notSet");
    assert_eq!(
        r.decision.unsatisfied_policies,
        vec!["s-passwordless".to_string(), "s-phish".into()]
    );
    assert_eq!(
        find(&r, "s-phish").requirements,
        vec![vec![Requirement::AuthenticationStrength {
            id: PHISHING_RESISTANT.into(),
            display_name: "Phishing-resistant MFA".into(),
            performed_after: None,
        }]]
    );
}

#[test]
fn fido2_satisfies_every_built_in_strength() {
    let e = strength_tenant();
    let s = session(minutes_ago(5), &[("fido2", minutes_ago(4))]);
    let r = run(&e, &app_request("u1", s));
    for id in ["s-mfa", "s-passwordless", "s-phish"] {
        assert_policy(&r, id, AppliedResult::Success, true, "notSet");
    }
    assert_eq!(r.decision.result, DecisionResult::Grant);
}

#[test]
fn password_alone_satisfies_no_strength() {
    let e = strength_tenant();
    let r = run(&e, &app_request("u1", password_only()));
    for id in ["s-mfa", "s-passwordless", "s-phish"] {
        assert_policy(&r, id, AppliedResult::Failure, true, "notSet");
    }
    assert_eq!(r.decision.result, DecisionResult::Challenge);
}

#[test]
fn custom_strength_restricts_fido2_to_allowed_aaguids() {
    let mut t = tenant(vec![policy(
        "p-key",
        strength("a1b2c3d4-0000-4000-8000-000000000001"),
    )]);
    t["authenticationStrengthPolicies"] = json!([{
        "id": "a1b2c3d4-0000-4000-8000-000000000001",
        "displayName": "Company security keys",
        "policyType": "custom",
        "requirementsSatisfied": "mfa",
        "allowedCombinations": ["fido2"],
        "combinationConfigurations": [{
            "@odata.type": "#microsoft.graph.fido2CombinationConfiguration",
            "id": "cfg1",
            "appliesToCombinations": ["fido2"],
            "allowedAAGUIDs": [YUBIKEY.to_uppercase()]
        }]
    }]);
    let e = engine(&t);
    let key = |aaguid: Option<&str>| {
        let mut m = json!({"method": "fido2", "performedAt": minutes_ago(2)});
        if let Some(a) = aaguid {
            m["aaguid"] = json!(a);
        }
        app_request(
            "u1",
            json!({"transactionStartedAt": minutes_ago(3), "methods": [m]}),
        )
    };

    let r = run(&e, &key(Some(OTHER_KEY)));
    assert_policy(&r, "p-key", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Challenge);
    assert_eq!(
        find(&r, "p-key").requirements,
        vec![vec![Requirement::AuthenticationStrength {
            id: "a1b2c3d4-0000-4000-8000-000000000001".into(),
            display_name: "Company security keys".into(),
            performed_after: None,
        }]]
    );

    let r = run(&e, &key(None));
    assert_eq!(r.decision.result, DecisionResult::Challenge);

    let r = run(&e, &key(Some(YUBIKEY)));
    assert_policy(&r, "p-key", AppliedResult::Success, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Grant);
}

// ---------------------------------------------------------------------------------------------
// Sign-in frequency
// ---------------------------------------------------------------------------------------------

#[test]
fn time_based_sign_in_frequency_ages_out_old_methods() {
    let e = engine(&tenant(vec![with(
        policy("p1", mfa()),
        json!({"sessionControls": {"signInFrequency": {
            "isEnabled": true, "type": "hours", "value": 1,
            "frequencyInterval": "timeBased",
            "authenticationType": "primaryAndSecondaryAuthentication"
        }}}),
    )]));
    let window = now() - Duration::hours(1);

    let stale = session(
        minutes_ago(1),
        &[
            ("password", minutes_ago(120)),
            ("softwareOath", minutes_ago(119)),
        ],
    );
    let r = run(&e, &app_request("u1", stale));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Challenge);
    assert_eq!(
        find(&r, "p1").requirements,
        vec![vec![
            Requirement::Mfa {
                performed_after: Some(window)
            },
            Requirement::Reauthentication {
                performed_after: window
            },
        ]]
    );

    // An old MFA claim is aged out too.
    let stale_claim = json!({
        "transactionStartedAt": minutes_ago(1),
        "methods": [{"method": "password", "performedAt": minutes_ago(10)}],
        "mfaClaimedAt": minutes_ago(61)
    });
    let r = run(&e, &app_request("u1", stale_claim));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");

    let fresh = session(
        minutes_ago(1),
        &[
            ("password", minutes_ago(30)),
            ("softwareOath", minutes_ago(29)),
        ],
    );
    let r = run(&e, &app_request("u1", fresh));
    assert_policy(&r, "p1", AppliedResult::Success, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Grant);

    // Exactly at the edge of the window still counts.
    let edge = session(
        minutes_ago(1),
        &[
            ("password", minutes_ago(60)),
            ("softwareOath", minutes_ago(60)),
        ],
    );
    let r = run(&e, &app_request("u1", edge));
    assert_policy(&r, "p1", AppliedResult::Success, true, "notSet");
}

#[test]
fn time_based_sign_in_frequency_in_days() {
    let e = engine(&tenant(vec![with(
        policy("p1", controls("OR", &[])),
        json!({"sessionControls": {"signInFrequency": {
            "isEnabled": true, "type": "days", "value": 1, "frequencyInterval": "timeBased"
        }}}),
    )]));
    let r = run(
        &e,
        &app_request(
            "u1",
            session(minutes_ago(1), &[("password", minutes_ago(25 * 60))]),
        ),
    );
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert_eq!(
        find(&r, "p1").requirements,
        vec![vec![Requirement::Reauthentication {
            performed_after: now() - Duration::days(1)
        }]]
    );
    let r = run(
        &e,
        &app_request(
            "u1",
            session(minutes_ago(1), &[("password", minutes_ago(23 * 60))]),
        ),
    );
    assert_policy(&r, "p1", AppliedResult::Success, true, "notSet");
}

/// A frequency reaching back before the earliest representable time (the API refuses it; an
/// import keeps it) is malformed: read as every time, never an overflow.
#[test]
fn a_sign_in_frequency_beyond_representable_time_is_read_as_every_time() {
    for (unit, value) in [
        ("days", u32::MAX),
        ("days", 100_000_000),
        ("hours", u32::MAX),
    ] {
        let e = engine(&tenant(vec![with(
            policy("p1", controls("OR", &[])),
            json!({"sessionControls": {"signInFrequency": {
                "isEnabled": true, "type": unit, "value": value, "frequencyInterval": "timeBased"
            }}}),
        )]));
        let tx = minutes_ago(5);
        let r = run(
            &e,
            &app_request("u1", session(tx, &[("password", minutes_ago(6))])),
        );
        assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
        assert_eq!(
            find(&r, "p1").requirements,
            vec![vec![Requirement::Reauthentication {
                performed_after: tx
            }]],
            "{value} {unit}"
        );
        let r = run(
            &e,
            &app_request("u1", session(tx, &[("password", minutes_ago(4))])),
        );
        assert_policy(&r, "p1", AppliedResult::Success, true, "notSet");
        // Kept by an import, and said so.
        assert!(
            validate(&e).iter().any(|f| f.severity == Severity::Warning
                && f.field == "sessionControls.signInFrequency.value"
                && f.message.contains("treated as every time")),
            "{:?}",
            validate(&e)
        );
    }
}

#[test]
fn every_time_counts_only_methods_in_the_transaction() {
    let e = engine(&tenant(vec![with(
        policy("p1", mfa()),
        json!({"sessionControls": {"signInFrequency": {
            "isEnabled": true, "frequencyInterval": "everyTime",
            "authenticationType": "primaryAndSecondaryAuthentication"
        }}}),
    )]));
    let tx = minutes_ago(5);
    let before = tx - Duration::minutes(1);
    let after = tx + Duration::minutes(1);

    let r = run(
        &e,
        &app_request(
            "u1",
            session(tx, &[("password", before), ("softwareOath", before)]),
        ),
    );
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Challenge);
    assert_eq!(
        find(&r, "p1").requirements,
        vec![vec![
            Requirement::Mfa {
                performed_after: Some(tx)
            },
            Requirement::Reauthentication {
                performed_after: tx
            },
        ]]
    );

    // A claim made before the transaction does not count either.
    let claimed = json!({
        "transactionStartedAt": tx,
        "methods": [{"method": "password", "performedAt": after}],
        "mfaClaimedAt": before
    });
    let r = run(&e, &app_request("u1", claimed));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");

    let r = run(
        &e,
        &app_request(
            "u1",
            session(tx, &[("password", after), ("softwareOath", after)]),
        ),
    );
    assert_policy(&r, "p1", AppliedResult::Success, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Grant);

    // Performed exactly when the transaction started: in the transaction.
    let r = run(
        &e,
        &app_request("u1", session(tx, &[("password", tx), ("softwareOath", tx)])),
    );
    assert_policy(&r, "p1", AppliedResult::Success, true, "notSet");
}

/// The Portcullis guarantee: context c1 requires a phishing-resistant method performed in this
/// step-up.
#[test]
fn flagship_context_with_phishing_resistant_strength_every_time() {
    let mut t = tenant(vec![with(
        policy("p-c1", strength(PHISHING_RESISTANT)),
        json!({
            "conditions": {"applications": {
                "includeApplications": [],
                "includeAuthenticationContextClassReferences": ["c1"]
            }},
            "sessionControls": {"signInFrequency": {
                "isEnabled": true, "frequencyInterval": "everyTime",
                "authenticationType": "primaryAndSecondaryAuthentication"
            }}
        }),
    )]);
    t["authenticationContextClassReferences"] = json!([
        {"id": "c1", "displayName": "Activate privileged role", "isAvailable": true}
    ]);
    let e = engine(&t);
    let tx = minutes_ago(2);
    let step_up = |s: Value| request("u1", auth_context("c1"), s);
    let wanted = Requirement::AuthenticationStrength {
        id: PHISHING_RESISTANT.into(),
        display_name: "Phishing-resistant MFA".into(),
        performed_after: Some(tx),
    };

    // TOTP in the transaction: not phishing-resistant.
    let totp = session(
        tx,
        &[
            ("password", tx + Duration::seconds(30)),
            ("softwareOath", tx + Duration::seconds(60)),
        ],
    );
    let r = run(&e, &step_up(totp));
    assert_policy(&r, "p-c1", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Challenge);
    assert_eq!(find(&r, "p-c1").requirements, vec![vec![wanted.clone()]]);
    assert_eq!(
        r.decision.requirements[0].any_of,
        vec![vec![wanted.clone()]]
    );

    // A security key used before the request: not in this step-up.
    let early_key = session(tx, &[("fido2", tx - Duration::minutes(1))]);
    let r = run(&e, &step_up(early_key));
    assert_policy(&r, "p-c1", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Challenge);
    assert_eq!(
        find(&r, "p-c1").requirements,
        vec![vec![
            wanted,
            Requirement::Reauthentication {
                performed_after: tx
            }
        ]]
    );

    // The same key, in the step-up.
    let key = session(tx, &[("fido2", tx + Duration::seconds(20))]);
    let r = run(&e, &step_up(key));
    assert_policy(&r, "p-c1", AppliedResult::Success, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Grant);
    assert!(r.decision.requirements.is_empty());
}

#[test]
fn disabled_sign_in_frequency_is_ignored() {
    let e = engine(&tenant(vec![with(
        policy("p1", mfa()),
        json!({"sessionControls": {"signInFrequency": {
            "isEnabled": false, "frequencyInterval": "everyTime"
        }}}),
    )]));
    let old = session(
        minutes_ago(1),
        &[
            ("password", minutes_ago(600)),
            ("softwareOath", minutes_ago(600)),
        ],
    );
    let r = run(&e, &app_request("u1", old));
    assert_policy(&r, "p1", AppliedResult::Success, true, "notSet");
}

// ---------------------------------------------------------------------------------------------
// Conditions that cannot be known
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_named_location_is_not_enough_information_and_fails_closed() {
    let e = engine(&tenant(vec![with(
        policy("p1", block()),
        json!({"conditions": {"locations": {"includeLocations": ["loc-not-exported"]}}}),
    )]));
    let r = run(&e, &app_request("u1", password_and_totp()));
    assert_policy(
        &r,
        "p1",
        AppliedResult::Failure,
        true,
        "notEnoughInformation",
    );
    assert_eq!(
        find(&r, "p1").unknown_conditions,
        vec!["locations".to_string()]
    );
    assert_eq!(r.decision.result, DecisionResult::Block);
    assert_eq!(r.decision.not_enough_information, vec!["p1".to_string()]);
    assert_eq!(r.decision.blocking_policies, vec!["p1".to_string()]);
}

#[test]
fn unknown_condition_key_is_not_enough_information() {
    let unknown = json!({"conditions": {"insiderRiskLevels": "elevated"}});
    let e = engine(&tenant(vec![
        with(policy("p-block", block()), unknown.clone()),
        with(
            with(policy("p-ro", block()), unknown),
            json!({"state": "enabledForReportingButNotEnforced"}),
        ),
    ]));
    let r = run(&e, &app_request("u1", password_and_totp()));
    assert_policy(
        &r,
        "p-block",
        AppliedResult::Failure,
        true,
        "notEnoughInformation",
    );
    assert_eq!(
        find(&r, "p-block").unknown_conditions,
        vec!["insiderRiskLevels".to_string()]
    );
    assert_policy(
        &r,
        "p-ro",
        AppliedResult::ReportOnlyFailure,
        true,
        "notEnoughInformation",
    );
    assert_eq!(r.decision.result, DecisionResult::Block);
    // Only the enforced policy takes part in the decision.
    assert_eq!(
        r.decision.not_enough_information,
        vec!["p-block".to_string()]
    );
}

#[test]
fn annotations_and_empty_unknown_fields_are_not_conditions() {
    let e = engine(&tenant(vec![with(
        policy("p1", block()),
        json!({"conditions": {
            "@odata.type": "#microsoft.graph.conditionalAccessConditionSet",
            "times": null,
            "deviceStates": null,
            "insiderRiskLevels": null,
            "servicePrincipalRiskLevels": []
        }}),
    )]));
    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert!(r.decision.not_enough_information.is_empty());
}

#[test]
fn platform_condition_without_a_platform_is_not_enough_information() {
    let e = engine(&tenant(vec![with(
        policy("p1", block()),
        json!({"conditions": {"platforms": {"includePlatforms": ["windows"]}}}),
    )]));

    let unknown = with(
        app_request("u1", password_only()),
        json!({"signInConditions": {"devicePlatform": null}}),
    );
    let r = run(&e, &unknown);
    assert_policy(
        &r,
        "p1",
        AppliedResult::Failure,
        true,
        "notEnoughInformation",
    );
    assert_eq!(
        find(&r, "p1").unknown_conditions,
        vec!["platforms".to_string()]
    );
    assert_eq!(r.decision.result, DecisionResult::Block);
    assert_eq!(r.decision.not_enough_information, vec!["p1".to_string()]);

    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert!(r.decision.not_enough_information.is_empty());

    let android = with(
        app_request("u1", password_only()),
        json!({"signInConditions": {"devicePlatform": "android"}}),
    );
    let r = run(&e, &android);
    assert_policy(&r, "p1", AppliedResult::NotApplied, false, "devicePlatform");
    assert_eq!(r.decision.result, DecisionResult::Grant);
}

#[test]
fn a_definite_false_condition_wins_over_an_unknown_one() {
    let e = engine(&tenant(vec![with(
        policy("p1", block()),
        json!({"conditions": {
            "users": {"excludeUsers": ["u1"]},
            "locations": {"includeLocations": ["loc-not-exported"]},
            "insiderRiskLevels": "elevated"
        }}),
    )]));
    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(&r, "p1", AppliedResult::NotApplied, false, "users");
    assert_eq!(r.decision.result, DecisionResult::Grant);
    assert!(r.decision.not_enough_information.is_empty());

    let r = run(&e, &app_request("u2", password_only()));
    assert_policy(
        &r,
        "p1",
        AppliedResult::Failure,
        true,
        "notEnoughInformation",
    );
    assert_eq!(r.decision.result, DecisionResult::Block);
}

#[test]
fn group_missing_from_the_tenant_is_not_enough_information() {
    let e = engine(&tenant(vec![with(
        policy("p1", mfa()),
        json!({"conditions": {"users": {"includeUsers": [], "includeGroups": ["g-not-exported"]}}}),
    )]));
    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(
        &r,
        "p1",
        AppliedResult::Failure,
        true,
        "notEnoughInformation",
    );
    assert_eq!(r.decision.result, DecisionResult::Challenge);
    assert_eq!(r.decision.not_enough_information, vec!["p1".to_string()]);
}

// ---------------------------------------------------------------------------------------------
// Locations
// ---------------------------------------------------------------------------------------------

fn location_tenant(policies: Vec<Value>) -> Engine {
    let mut t = tenant(policies);
    t["namedLocations"] = json!([
        {
            "@odata.type": "#microsoft.graph.ipNamedLocation",
            "id": "loc-office",
            "displayName": "Office",
            "isTrusted": true,
            "ipRanges": [
                {"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24"}
            ]
        },
        {
            "@odata.type": "#microsoft.graph.ipNamedLocation",
            "id": "loc-partner",
            "displayName": "Partner",
            "isTrusted": false,
            "ipRanges": [
                {"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "198.51.100.0/25"}
            ]
        },
        {
            "@odata.type": "#microsoft.graph.countryNamedLocation",
            "id": "loc-benelux",
            "displayName": "Benelux",
            "countriesAndRegions": ["BE", "NL", "LU"],
            "includeUnknownCountriesAndRegions": false,
            "countryLookupMethod": "clientIpAddress"
        }
    ]);
    engine(&t)
}

fn from(ip: &str, country: &str) -> Value {
    with(
        app_request("u1", password_only()),
        json!({"signInConditions": {"ipAddress": ip, "country": country}}),
    )
}

#[test]
fn ip_named_location_matches_its_cidr_ranges() {
    let e = location_tenant(vec![with(
        policy("p1", block()),
        json!({"conditions": {"locations": {"includeLocations": ["loc-partner"]}}}),
    )]);
    let r = run(&e, &from("198.51.100.7", "BE"));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Block);

    // 198.51.100.128 is outside the /25.
    let r = run(&e, &from("198.51.100.128", "BE"));
    assert_policy(&r, "p1", AppliedResult::NotApplied, false, "location");
    assert_eq!(r.decision.result, DecisionResult::Grant);
}

#[test]
fn country_named_location_matches_the_country() {
    let e = location_tenant(vec![with(
        policy("p1", block()),
        json!({"conditions": {"locations": {"includeLocations": ["All"], "excludeLocations": ["loc-benelux"]}}}),
    )]);
    let r = run(&e, &from("192.0.2.10", "NL"));
    assert_policy(&r, "p1", AppliedResult::NotApplied, false, "location");
    let r = run(&e, &from("192.0.2.10", "FR"));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Block);
}

#[test]
fn all_trusted_means_the_trusted_named_locations() {
    let e = location_tenant(vec![with(
        policy("p-untrusted", mfa()),
        json!({"conditions": {"locations": {"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]}}}),
    )]);
    // Office (trusted): excluded.
    let r = run(&e, &from("203.0.113.9", "BE"));
    assert_policy(
        &r,
        "p-untrusted",
        AppliedResult::NotApplied,
        false,
        "location",
    );
    assert_eq!(r.decision.result, DecisionResult::Grant);
    // Partner (named, not trusted): included.
    let r = run(&e, &from("198.51.100.7", "BE"));
    assert_policy(&r, "p-untrusted", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Challenge);

    let e = location_tenant(vec![with(
        policy("p-trusted-only", block()),
        json!({"conditions": {"locations": {"includeLocations": ["AllTrusted"]}}}),
    )]);
    let r = run(&e, &from("203.0.113.9", "BE"));
    assert_eq!(r.decision.result, DecisionResult::Block);
    let r = run(&e, &from("192.0.2.1", "BE"));
    assert_policy(
        &r,
        "p-trusted-only",
        AppliedResult::NotApplied,
        false,
        "location",
    );
}

#[test]
fn excluded_location_wins_over_included_location() {
    let e = location_tenant(vec![with(
        policy("p1", block()),
        json!({"conditions": {"locations": {"includeLocations": ["loc-benelux"], "excludeLocations": ["loc-office"]}}}),
    )]);
    // In Belgium and in the office: excluded.
    let r = run(&e, &from("203.0.113.5", "BE"));
    assert_policy(&r, "p1", AppliedResult::NotApplied, false, "location");
    // In Belgium, not in the office.
    let r = run(&e, &from("192.0.2.5", "BE"));
    assert_eq!(r.decision.result, DecisionResult::Block);
    // Not in Belgium.
    let r = run(&e, &from("192.0.2.5", "DE"));
    assert_policy(&r, "p1", AppliedResult::NotApplied, false, "location");
}

// ---------------------------------------------------------------------------------------------
// Platforms, client apps, risk, authentication flows
// ---------------------------------------------------------------------------------------------

#[test]
fn platforms_include_all_exclude_ios() {
    let e = engine(&tenant(vec![with(
        policy("p1", block()),
        json!({"conditions": {"platforms": {"includePlatforms": ["all"], "excludePlatforms": ["iOS"]}}}),
    )]));
    let on = |platform: Value| {
        with(
            app_request("u1", password_only()),
            json!({"signInConditions": {"devicePlatform": platform}}),
        )
    };
    let r = run(&e, &on(json!("windows")));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Block);
    let r = run(&e, &on(json!("iOS")));
    assert_policy(&r, "p1", AppliedResult::NotApplied, false, "devicePlatform");
    assert_eq!(r.decision.result, DecisionResult::Grant);
    // The platform might be iOS: unknown, enforced as applying.
    let r = run(&e, &on(Value::Null));
    assert_policy(
        &r,
        "p1",
        AppliedResult::Failure,
        true,
        "notEnoughInformation",
    );
    assert_eq!(r.decision.result, DecisionResult::Block);
}

#[test]
fn platforms_include_all_alone_holds_without_a_platform() {
    let e = engine(&tenant(vec![with(
        policy("p1", block()),
        json!({"conditions": {"platforms": {"includePlatforms": ["all"]}}}),
    )]));
    let r = run(
        &e,
        &with(
            app_request("u1", password_only()),
            json!({"signInConditions": {"devicePlatform": null}}),
        ),
    );
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
}

#[test]
fn client_app_types_select_the_client() {
    let e = engine(&tenant(vec![with(
        policy("legacy", block()),
        json!({"conditions": {"clientAppTypes": ["exchangeActiveSync", "other"]}}),
    )]));
    let client = |t: Value| {
        with(
            app_request("u1", password_only()),
            json!({"signInConditions": {"clientAppType": t}}),
        )
    };
    let r = run(&e, &client(json!("browser")));
    assert_policy(&r, "legacy", AppliedResult::NotApplied, false, "clientApps");
    assert_eq!(r.decision.result, DecisionResult::Grant);
    let r = run(&e, &client(json!("other")));
    assert_policy(&r, "legacy", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Block);
    let r = run(&e, &client(Value::Null));
    assert_policy(
        &r,
        "legacy",
        AppliedResult::Failure,
        true,
        "notEnoughInformation",
    );
}

#[test]
fn sign_in_and_user_risk_levels() {
    let e = engine(&tenant(vec![
        with(
            policy("risky-sign-in", mfa()),
            json!({"conditions": {"signInRiskLevels": ["high", "medium"]}}),
        ),
        with(
            policy("risky-user", block()),
            json!({"conditions": {"userRiskLevels": ["high"]}}),
        ),
    ]));
    let risk = |sign_in: &str, user: &str| {
        with(
            app_request("u1", password_only()),
            json!({"signInConditions": {"signInRiskLevel": sign_in, "userRiskLevel": user}}),
        )
    };
    let r = run(&e, &risk("none", "none"));
    assert_policy(
        &r,
        "risky-sign-in",
        AppliedResult::NotApplied,
        false,
        "signInRisk",
    );
    assert_policy(
        &r,
        "risky-user",
        AppliedResult::NotApplied,
        false,
        "userRisk",
    );
    assert_eq!(r.decision.result, DecisionResult::Grant);

    let r = run(&e, &risk("medium", "low"));
    assert_policy(&r, "risky-sign-in", AppliedResult::Failure, true, "notSet");
    assert_policy(
        &r,
        "risky-user",
        AppliedResult::NotApplied,
        false,
        "userRisk",
    );
    assert_eq!(r.decision.result, DecisionResult::Challenge);

    let r = run(&e, &risk("low", "high"));
    assert_policy(
        &r,
        "risky-sign-in",
        AppliedResult::NotApplied,
        false,
        "signInRisk",
    );
    assert_eq!(r.decision.result, DecisionResult::Block);
}

#[test]
fn device_code_flow_condition_applies_only_to_device_code_sign_ins() {
    let e = engine(&tenant(vec![with(
        policy("no-device-code", block()),
        json!({"conditions": {"authenticationFlows": {"transferMethods": "deviceCodeFlow"}}}),
    )]));
    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(
        &r,
        "no-device-code",
        AppliedResult::NotApplied,
        false,
        "authenticationFlow",
    );
    assert_eq!(r.decision.result, DecisionResult::Grant);

    let flow = |m: &str| {
        with(
            app_request("u1", password_only()),
            json!({"signInConditions": {"authenticationFlow": {"transferMethod": m}}}),
        )
    };
    let r = run(&e, &flow("deviceCodeFlow"));
    assert_policy(&r, "no-device-code", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Block);
    let r = run(&e, &flow("authenticationTransfer"));
    assert_policy(
        &r,
        "no-device-code",
        AppliedResult::NotApplied,
        false,
        "authenticationFlow",
    );
}

// ---------------------------------------------------------------------------------------------
// Targets: applications, user actions, authentication contexts
// ---------------------------------------------------------------------------------------------

#[test]
fn user_action_policy_targets_only_that_action() {
    let e = engine(&tenant(vec![
        with(
            policy("p-register", strength(PHISHING_RESISTANT)),
            json!({"conditions": {"applications": {
                "includeApplications": [],
                "includeUserActions": ["urn:user:registersecurityinfo"]
            }}}),
        ),
        policy("p-apps", block()),
    ]));

    let r = run(
        &e,
        &request(
            "u1",
            user_action("registerSecurityInformation"),
            password_and_totp(),
        ),
    );
    assert_policy(&r, "p-register", AppliedResult::Failure, true, "notSet");
    assert_policy(
        &r,
        "p-apps",
        AppliedResult::NotApplied,
        false,
        "userActions",
    );
    assert_eq!(r.decision.result, DecisionResult::Challenge);

    let r = run(
        &e,
        &request(
            "u1",
            user_action("registerOrJoinDevices"),
            password_and_totp(),
        ),
    );
    assert_policy(
        &r,
        "p-register",
        AppliedResult::NotApplied,
        false,
        "userActions",
    );
    assert_eq!(r.decision.result, DecisionResult::Grant);

    let r = run(&e, &app_request("u1", password_and_totp()));
    assert_policy(
        &r,
        "p-register",
        AppliedResult::NotApplied,
        false,
        "application",
    );
    assert_policy(&r, "p-apps", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Block);
}

/// Validation accepts Graph's request spelling of a user action in a policy; evaluation must
/// then enforce it rather than silently never match.
#[test]
fn user_action_policy_written_with_the_graph_request_spelling_is_enforced() {
    let e = engine(&tenant(vec![with(
        policy("p-register", block()),
        json!({"conditions": {"applications": {
            "includeApplications": [],
            "includeUserActions": ["registerSecurityInformation"]
        }}}),
    )]));
    assert!(validate(&e).is_empty(), "{:#?}", validate(&e));
    let r = run(
        &e,
        &request(
            "u1",
            user_action("urn:user:registersecurityinfo"),
            password_only(),
        ),
    );
    assert_policy(&r, "p-register", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Block);
    let r = run(
        &e,
        &request("u1", user_action("registerOrJoinDevices"), password_only()),
    );
    assert_policy(
        &r,
        "p-register",
        AppliedResult::NotApplied,
        false,
        "userActions",
    );
}

#[test]
fn context_policy_and_application_policy_do_not_cross() {
    let e = engine(&tenant(vec![
        with(
            policy("p-c1", block()),
            json!({"conditions": {"applications": {
                "includeApplications": [],
                "includeAuthenticationContextClassReferences": ["c1"]
            }}}),
        ),
        with(
            policy("p-app1", mfa()),
            json!({"conditions": {"applications": {"includeApplications": ["app1"]}}}),
        ),
    ]));

    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(&r, "p-c1", AppliedResult::NotApplied, false, "application");
    assert_policy(&r, "p-app1", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Challenge);

    let r = run(&e, &request("u1", auth_context("c1"), password_only()));
    assert_policy(&r, "p-c1", AppliedResult::Failure, true, "notSet");
    assert_policy(
        &r,
        "p-app1",
        AppliedResult::NotApplied,
        false,
        "authenticationContext",
    );
    assert_eq!(r.decision.result, DecisionResult::Block);

    let r = run(&e, &request("u1", auth_context("c2"), password_only()));
    assert_policy(
        &r,
        "p-c1",
        AppliedResult::NotApplied,
        false,
        "authenticationContext",
    );
    assert_eq!(r.decision.result, DecisionResult::Grant);

    // Another application.
    let r = run(&e, &request("u1", app_context("app2"), password_only()));
    assert_policy(
        &r,
        "p-app1",
        AppliedResult::NotApplied,
        false,
        "application",
    );
}

#[test]
fn excluded_application_and_user_give_both_reasons() {
    let e = engine(&tenant(vec![with(
        policy("p1", block()),
        json!({"conditions": {
            "users": {"excludeUsers": ["u1"]},
            "applications": {"includeApplications": ["All"], "excludeApplications": ["app1"]}
        }}),
    )]));
    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(
        &r,
        "p1",
        AppliedResult::NotApplied,
        false,
        "users,application",
    );
    let r = run(&e, &request("u1", app_context("app2"), password_only()));
    assert_policy(&r, "p1", AppliedResult::NotApplied, false, "users");
    let r = run(&e, &request("u2", app_context("app2"), password_only()));
    assert_eq!(r.decision.result, DecisionResult::Block);
}

// ---------------------------------------------------------------------------------------------
// Controls and states Portcullis does not know
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_grant_control_alone_blocks() {
    let e = engine(&tenant(vec![policy(
        "p1",
        controls("OR", &["riskRemediation"]),
    )]));
    let r = run(&e, &app_request("u1", password_and_totp()));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Block);
    assert_eq!(
        find(&r, "p1").requirements,
        vec![vec![Requirement::Control {
            control: "riskRemediation (not known to Portcullis)".into()
        }]]
    );
}

#[test]
fn unknown_grant_control_ored_with_mfa_is_satisfiable_by_mfa() {
    let e = engine(&tenant(vec![policy(
        "p1",
        controls("OR", &["riskRemediation", "mfa"]),
    )]));
    let r = run(&e, &app_request("u1", password_only()));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Challenge);
    assert!(r.decision.blocking_policies.is_empty());

    let r = run(&e, &app_request("u1", password_and_totp()));
    assert_policy(&r, "p1", AppliedResult::Success, true, "notSet");
    assert_eq!(r.decision.result, DecisionResult::Grant);

    // With AND, the unknown control can never be met.
    let e = engine(&tenant(vec![policy(
        "p1",
        controls("AND", &["riskRemediation", "mfa"]),
    )]));
    let r = run(&e, &app_request("u1", password_and_totp()));
    assert_eq!(r.decision.result, DecisionResult::Block);
}

#[test]
fn unknown_policy_state_is_enforced() {
    let e = engine(&tenant(vec![with(
        policy("p1", block()),
        json!({"state": "enabledForSomethingNew"}),
    )]));
    let r = run(&e, &app_request("u1", password_and_totp()));
    assert_policy(&r, "p1", AppliedResult::Failure, true, "notSet");
    assert_eq!(find(&r, "p1").state.as_str(), "enabledForSomethingNew");
    assert_eq!(r.decision.result, DecisionResult::Block);
}

// ---------------------------------------------------------------------------------------------
// What-If request handling
// ---------------------------------------------------------------------------------------------

#[test]
fn applied_policies_only_lists_only_applying_policies() {
    let e = engine(&tenant(vec![
        policy("applies", mfa()),
        with(
            policy("excluded", block()),
            json!({"conditions": {"users": {"excludeUsers": ["u1"]}}}),
        ),
        with(policy("off", block()), json!({"state": "disabled"})),
        with(
            policy("unknown", mfa()),
            json!({"conditions": {"insiderRiskLevels": "elevated"}}),
        ),
        with(
            policy("report-only", mfa()),
            json!({"state": "enabledForReportingButNotEnforced"}),
        ),
    ]));
    let mut req = app_request("u1", password_only());
    let all = run(&e, &req);
    let ids = |r: &WhatIfResponse| r.value.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(&all),
        vec!["applies", "excluded", "off", "unknown", "report-only"]
    );

    req["appliedPoliciesOnly"] = json!(true);
    let applied = run(&e, &req);
    assert_eq!(ids(&applied), vec!["applies", "unknown", "report-only"]);
    assert!(applied.value.iter().all(|p| p.policy_applies));
    assert_eq!(applied.decision, all.decision);
}

#[test]
fn unknown_user_is_an_error() {
    let e = engine(&tenant(vec![policy("p1", mfa())]));
    let req = parse_request(&app_request("ghost", password_only()));
    assert_eq!(
        what_if(&e, &req, now()),
        Err(WhatIfError::Evaluate(EvaluateError::UnknownUser(
            "ghost".into()
        )))
    );
    let sign_in = req.to_sign_in().unwrap();
    assert_eq!(
        e.decide(&sign_in, now()),
        Err(EvaluateError::UnknownUser("ghost".into()))
    );
    assert!(e.evaluate_all(&sign_in, now()).is_err());
}

#[test]
fn bad_ip_address_is_an_error() {
    let e = engine(&tenant(vec![policy("p1", mfa())]));
    let req = parse_request(&with(
        app_request("u1", password_only()),
        json!({"signInConditions": {"ipAddress": "203.0.113.300"}}),
    ));
    assert_eq!(
        req.to_sign_in(),
        Err(RequestError::IpAddress("203.0.113.300".into()))
    );
    assert!(matches!(
        what_if(&e, &req, now()),
        Err(WhatIfError::Request(RequestError::IpAddress(_)))
    ));
}

#[test]
fn bad_authentication_context_is_an_error() {
    let e = engine(&tenant(vec![policy("p1", mfa())]));
    for bad in ["c100", "c0", "C1", ""] {
        let req = parse_request(&request("u1", auth_context(bad), password_only()));
        assert!(
            matches!(req.to_sign_in(), Err(RequestError::Context(_))),
            "{bad:?} accepted"
        );
        assert!(matches!(
            what_if(&e, &req, now()),
            Err(WhatIfError::Request(RequestError::Context(_)))
        ));
    }
    let req = parse_request(&request("u1", auth_context("c99"), password_only()));
    assert!(req.to_sign_in().is_ok());
}

#[test]
fn missing_user_and_unknown_user_action_are_errors() {
    let mut r = app_request("u1", password_only());
    r["signInIdentity"] = json!({});
    assert_eq!(
        parse_request(&r).to_sign_in(),
        Err(RequestError::MissingUser)
    );
    let r = request("u1", user_action("doSomethingElse"), password_only());
    assert!(matches!(
        parse_request(&r).to_sign_in(),
        Err(RequestError::UnknownValue { .. })
    ));
}

#[test]
fn methods_from_the_future_do_not_count() {
    let e = engine(&tenant(vec![policy("p1", strength(PHISHING_RESISTANT))]));
    let s = session(minutes_ago(5), &[("fido2", now() + Duration::minutes(1))]);
    let r = run(&e, &app_request("u1", s.clone()));
    assert_eq!(r.decision.result, DecisionResult::Challenge);
    // Evaluated two minutes later, the same session is granted.
    let r = run_at(&e, &app_request("u1", s), now() + Duration::minutes(2));
    assert_eq!(r.decision.result, DecisionResult::Grant);
}

#[test]
fn evaluate_all_reports_every_policy_in_tenant_order() {
    let e = engine(&tenant(vec![
        policy("a", mfa()),
        with(policy("b", block()), json!({"state": "disabled"})),
        with(
            policy("c", block()),
            json!({"conditions": {"insiderRiskLevels": "elevated"}}),
        ),
    ]));
    let sign_in = parse_request(&app_request("u1", password_only()))
        .to_sign_in()
        .unwrap();
    let evals = e.evaluate_all(&sign_in, now()).unwrap();
    assert_eq!(
        evals.iter().map(|x| x.policy).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(evals[0].applies, Tri::True);
    assert_eq!(evals[1].applies, Tri::False);
    assert_eq!(evals[2].applies, Tri::Unknown);
    assert!(evals[0].enforced && !evals[1].enforced && evals[2].enforced);
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn finding<'f>(findings: &'f [Finding], severity: Severity, field: &str) -> &'f Finding {
    findings
        .iter()
        .find(|f| f.severity == severity && f.field == field)
        .unwrap_or_else(|| panic!("no {severity:?} on {field} in {findings:#?}"))
}

fn findings_for(policies: Vec<Value>) -> Vec<Finding> {
    let mut t = tenant(policies);
    t["groups"] = json!([{"id": "g1", "members": ["u1"]}]);
    t["authenticationContextClassReferences"] = json!([{"id": "c1", "displayName": "Admin"}]);
    validate(&engine(&t))
}

#[test]
fn a_clean_tenant_has_no_findings() {
    let findings = findings_for(vec![
        policy("p-mfa", mfa()),
        with(
            policy("p-c1", strength(PHISHING_RESISTANT)),
            json!({"conditions": {
                "users": {"includeGroups": ["g1"]},
                "applications": {"includeApplications": [], "includeAuthenticationContextClassReferences": ["c1"]}
            }}),
        ),
    ]);
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn validate_mfa_with_strength_is_an_error_naming_the_policy() {
    let findings = findings_for(vec![policy(
        "p-both",
        json!({"operator": "OR", "builtInControls": ["mfa"], "authenticationStrength": {"id": MFA}}),
    )]);
    let f = finding(&findings, Severity::Error, "grantControls");
    assert!(f.object.contains("Policy p-both"), "{f:?}");
    assert!(f.object.contains("p-both"), "{f:?}");
    assert!(f.message.contains("mfa"), "{f:?}");
}

#[test]
fn validate_unknown_strength_is_an_error() {
    let findings = findings_for(vec![policy("p1", strength("not-a-strength"))]);
    let f = finding(
        &findings,
        Severity::Error,
        "grantControls.authenticationStrength",
    );
    assert!(f.message.contains("not-a-strength"), "{f:?}");
}

#[test]
fn validate_bad_context_id_is_an_error() {
    let findings = findings_for(vec![with(
        policy("p1", mfa()),
        json!({"conditions": {"applications": {
            "includeApplications": [],
            "includeAuthenticationContextClassReferences": ["c100"]
        }}}),
    )]);
    let f = finding(
        &findings,
        Severity::Error,
        "conditions.applications.includeAuthenticationContextClassReferences",
    );
    assert!(f.message.contains("c100"), "{f:?}");
}

#[test]
fn validate_applications_and_contexts_together_is_an_error() {
    let findings = findings_for(vec![with(
        policy("p1", mfa()),
        json!({"conditions": {"applications": {
            "includeApplications": ["All"],
            "includeAuthenticationContextClassReferences": ["c1"]
        }}}),
    )]);
    let f = finding(&findings, Severity::Error, "conditions.applications");
    assert!(f.object.contains("p1"), "{f:?}");
}

#[test]
fn validate_missing_group_is_a_warning() {
    let findings = findings_for(vec![with(
        policy("p1", mfa()),
        json!({"conditions": {"users": {"excludeGroups": ["g-gone"]}}}),
    )]);
    let f = finding(&findings, Severity::Warning, "conditions.users");
    assert!(f.message.contains("g-gone"), "{f:?}");
    assert!(
        findings.iter().all(|f| f.severity != Severity::Error),
        "{findings:#?}"
    );
}

#[test]
fn validate_compliant_device_is_not_enforced() {
    let findings = findings_for(vec![policy("p1", controls("OR", &["compliantDevice"]))]);
    let f = finding(
        &findings,
        Severity::NotEnforced,
        "grantControls.builtInControls",
    );
    assert!(f.message.contains("compliantDevice"), "{f:?}");
}

#[test]
fn validate_unknown_condition_is_not_enforced() {
    let findings = findings_for(vec![with(
        policy("p1", mfa()),
        json!({"conditions": {"insiderRiskLevels": "elevated"}}),
    )]);
    let f = finding(
        &findings,
        Severity::NotEnforced,
        "conditions.insiderRiskLevels",
    );
    assert!(f.message.contains("notEnoughInformation"), "{f:?}");
}

// ---------------------------------------------------------------------------------------------
// Round trip
// ---------------------------------------------------------------------------------------------

#[test]
fn round_trip_keeps_unknown_fields() {
    let original = json!({
        "@odata.type": "#microsoft.graph.conditionalAccessPolicy",
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#identity/conditionalAccess/policies/$entity",
        "id": "0f3c6f1e-8d2b-4a8b-9c1a-3a6c1c7d9e01",
        "templateId": "c7503427-338e-4c5e-902d-abe252abfb43",
        "displayName": "Require MFA for admins",
        "createdDateTime@odata.type": "#DateTimeOffset",
        "createdDateTime": "2024-05-01T08:00:00Z",
        "modifiedDateTime": null,
        "state": "enabled",
        "partialEnablementStrategy": null,
        "conditions": {
            "users": {
                "includeUsers": ["All"],
                "excludeUsers": [],
                "includeGroups": [],
                "excludeGroups": [],
                "includeRoles": [GLOBAL_ADMIN],
                "excludeRoles": [],
                "includeGuestsOrExternalUsers": null,
                "futureUserSetting": {"mode": "strict", "levels": [1, 2]}
            },
            "applications": {
                "includeApplications": ["All"],
                "excludeApplications": [],
                "includeUserActions": [],
                "includeAuthenticationContextClassReferences": [],
                "applicationFilter": null,
                "globalSecureAccess": {"enabled": true}
            },
            "clientAppTypes": ["all"],
            "times": null,
            "insiderRiskLevels": "elevated",
            "authenticationFlows": {"transferMethods": "deviceCodeFlow,authenticationTransfer"}
        },
        "grantControls": {
            "operator": "OR",
            "builtInControls": ["mfa"],
            "customAuthenticationFactors": [],
            "termsOfUse": [],
            "authenticationStrength@odata.context": "https://graph.microsoft.com/beta/$metadata#x",
            "authenticationStrength": null
        },
        "sessionControls": {
            "persistentBrowser": {"mode": "never", "isEnabled": true},
            "signInFrequency": {
                "isEnabled": true, "type": "hours", "value": 4,
                "frequencyInterval": "timeBased",
                "authenticationType": "primaryAndSecondaryAuthentication",
                "futureKnob": 7
            }
        }
    });
    let parsed: ConditionalAccessPolicy = serde_json::from_value(original.clone()).unwrap();
    assert_eq!(parsed.display_name, "Require MFA for admins");
    assert_eq!(
        parsed.conditions.users.as_ref().unwrap().include_roles,
        vec![GLOBAL_ADMIN]
    );

    let written = serde_json::to_value(&parsed).unwrap();
    for pointer in [
        "/@odata.type",
        "/@odata.context",
        "/templateId",
        "/createdDateTime@odata.type",
        "/createdDateTime",
        "/conditions/users/futureUserSetting",
        "/conditions/applications/globalSecureAccess",
        "/conditions/insiderRiskLevels",
        "/grantControls/authenticationStrength@odata.context",
        "/sessionControls/persistentBrowser",
        "/sessionControls/signInFrequency/futureKnob",
        "/conditions/authenticationFlows/transferMethods",
    ] {
        assert_eq!(
            written.pointer(pointer),
            original.pointer(pointer),
            "{pointer} not kept"
        );
    }

    let reparsed: ConditionalAccessPolicy = serde_json::from_value(written.clone()).unwrap();
    assert_eq!(reparsed, parsed);
    assert_eq!(serde_json::to_value(&reparsed).unwrap(), written);

    // A whole tenant survives too.
    let t = tenant(vec![original]);
    let tenant_parsed: Tenant = serde_json::from_value(t).unwrap();
    let tenant_written = serde_json::to_string(&tenant_parsed).unwrap();
    let tenant_reparsed: Tenant = serde_json::from_str(&tenant_written).unwrap();
    assert_eq!(tenant_reparsed, tenant_parsed);
}
