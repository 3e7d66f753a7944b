//! What the Graph API accepts, over real HTTP on both backends (issue 8, item 7): every number is
//! bounded where it comes in (`400` naming the field and its range, nothing written); a value
//! already stored out of range breaks no read or decision; Conditional Access writes refuse
//! values Graph does not define (a typo in a report-only policy must not enforce it); a body that
//! is not JSON is `415`; and a panic answers `500` instead of dropping the connection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::graph::{
    administrator, assign, call, get, holder, patch, post, rule_path, signed_in, single_user,
    token, APPROVALS, SECURITY_READER, WAITING_FOR_ME,
};
use common::Env;
use policy::directory::AssignmentStatus;
use serde_json::{json, Value};

const CA_ADMINISTRATOR: &str = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9";
const POLICIES: &str = "/v1.0/identity/conditionalAccess/policies";
const REQUESTS: &str = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests";
const ELIGIBILITY_REQUESTS: &str = "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests";
const APPROVAL_RULE: &str = "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule";

fn passes(user: &store::User) -> String {
    format!(
        "/v1.0/users/{}/authentication/temporaryAccessPassMethods",
        user.id
    )
}

/// Sends `body` exactly as given, with `content_type` (none: no header).
async fn raw(
    env: &Env,
    method: reqwest::Method,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut r = reqwest::Client::new()
        .request(method, format!("{}{path}", env.base))
        .bearer_auth(token)
        .body(body.to_string());
    if let Some(t) = content_type {
        r = r.header(reqwest::header::CONTENT_TYPE, t);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts a Graph error body with `status` whose message mentions each of `mentions`.
fn assert_refused(status: u16, body: &Value, expected: u16, mentions: &[&str], what: &str) {
    assert_eq!(status, expected, "{what}: {body}");
    let code = body["error"]["code"].as_str().unwrap_or("");
    assert!(!code.is_empty(), "{what}: no Graph error code in {body}");
    let message = body["error"]["message"].as_str().unwrap_or("");
    for m in mentions {
        assert!(message.contains(m), "{what}: '{m}' not in '{message}'");
    }
}

fn approval(days: Value, minutes: Value, primary: &str, escalation: &str) -> Value {
    json!({
        "@odata.type": APPROVAL_RULE,
        "setting": {
            "isApprovalRequired": true,
            "isRequestorJustificationRequired": true,
            "approvalMode": "SingleStage",
            "approvalStages": [{
                "approvalStageTimeOutInDays": days,
                "isApproverJustificationRequired": false,
                "escalationTimeInMinutes": minutes,
                "isEscalationEnabled": true,
                "primaryApprovers": [single_user(primary)],
                "escalationApprovers": [single_user(escalation)]
            }]
        }
    })
}

fn activation(principal: &str, duration: &str) -> Value {
    json!({
        "action": "selfActivate",
        "principalId": principal,
        "roleDefinitionId": SECURITY_READER,
        "directoryScopeId": "/",
        "justification": "quarterly access review",
        "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": duration } }
    })
}

async fn temporary_access_pass_lifetimes_are_bounded(env: &Env) {
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (adele, _) = signed_in(env, "adele@example.test").await;
    let (bob, _) = signed_in(env, "bob@example.test").await;

    // i64::MAX minutes used to overflow chrono and drop the connection.
    for minutes in [
        i64::MAX,
        i64::MIN,
        i64::MAX / 60_000 + 1,
        -1,
        0,
        9,
        481,
        1_000_000,
    ] {
        let (status, body) = post(
            env,
            &passes(&adele),
            &admin,
            json!({"lifetimeInMinutes": minutes}),
        )
        .await;
        assert_refused(
            status,
            &body,
            400,
            &["lifetimeInMinutes", "10", "480", &minutes.to_string()],
            &format!("lifetime {minutes}"),
        );
    }
    let (status, list) = get(env, &passes(&adele), &admin).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["value"], json!([]), "a refused pass was stored");

    // The bounds themselves are fine.
    let (status, body) = post(
        env,
        &passes(&adele),
        &admin,
        json!({"lifetimeInMinutes": 480}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["lifetimeInMinutes"], 480);
    // A start at the end of what RFC 3339 can write answers too (the pass ends in year 10000).
    let (status, body) = post(
        env,
        &passes(&bob),
        &admin,
        json!({"lifetimeInMinutes": 10, "startDateTime": "9999-12-31T23:59:59Z"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["lifetimeInMinutes"], 10);
    let (status, list) = get(env, &passes(&bob), &admin).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["value"][0]["methodUsabilityReason"], "NotYetValid");
}

async fn approval_stage_numbers_are_bounded(env: &Env) {
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (bob, _) = signed_in(env, "bob@example.test").await;
    let (carol, _) = signed_in(env, "carol@example.test").await;
    let rule = rule_path("Approval_EndUser_Assignment");
    let (status, before) = get(env, &rule, &admin).await;
    assert_eq!(status, 200, "{before}");

    // escalationTimeInMinutes i64::MAX used to be accepted (200), and then every read of the
    // role's approvals dropped the connection.
    let refused = [
        (json!(1), json!(i64::MAX), "escalationTimeInMinutes"),
        (json!(1), json!(i64::MIN), "escalationTimeInMinutes"),
        (json!(1), json!(-1), "escalationTimeInMinutes"),
        (json!(1), json!(1441), "escalationTimeInMinutes"),
        (json!(i64::MAX), json!(0), "approvalStageTimeOutInDays"),
        (json!(0), json!(0), "approvalStageTimeOutInDays"),
        (json!(366), json!(0), "approvalStageTimeOutInDays"),
    ];
    for (days, minutes, field) in refused {
        let (status, body) = patch(
            env,
            &rule,
            &admin,
            approval(days.clone(), minutes.clone(), &bob.id, &carol.id),
        )
        .await;
        let range = if field == "approvalStageTimeOutInDays" {
            "from 1 to 365"
        } else {
            "from 0 to 1440"
        };
        assert_refused(
            status,
            &body,
            400,
            &[field, range],
            &format!("{days} days, {minutes} minutes"),
        );
        assert_eq!(body["error"]["code"], "InvalidPolicyRule");
    }
    let (_, after) = get(env, &rule, &admin).await;
    assert_eq!(after, before, "a refused change changed the rule");

    // Durations too long to represent are refused where they come in, never overflowed.
    for duration in ["P999999999D", "PT9999999999999H", "PT9223372036854775807S"] {
        let (status, body) = patch(
            env,
            &rule_path("Expiration_Admin_Eligibility"),
            &admin,
            json!({
                "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
                "maximumDuration": duration
            }),
        )
        .await;
        assert_refused(status, &body, 400, &["maximumDuration"], duration);
    }
    let (status, body) = patch(
        env,
        &rule,
        &admin,
        approval(json!(1), json!(1440), &bob.id, &carol.id),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// A role whose stored settings carry numbers no write would accept any more (written straight
/// into the store, as an older version or a hand edit might have): reads, queues and decisions
/// answer, and what cannot be decided is refused with a Graph error.
async fn a_stored_out_of_range_escalation_breaks_no_read_or_decision(env: &Env) {
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (adele, adele_token) = signed_in(env, "adele@example.test").await;
    let (bob, _) = signed_in(env, "bob@example.test").await;
    let (carol, _) = signed_in(env, "carol@example.test").await;
    let (dave, _) = signed_in(env, "dave@example.test").await;
    let (status, body) = patch(
        env,
        &rule_path("Enablement_EndUser_Assignment"),
        &admin,
        json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
            "enabledRules": ["Justification"]
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = patch(
        env,
        &rule_path("Approval_EndUser_Assignment"),
        &admin,
        approval(json!(1), json!(60), &bob.id, &carol.id),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for user in [&adele, &dave] {
        assign(
            env,
            &user.id,
            SECURITY_READER,
            AssignmentStatus::Eligible,
            None,
        )
        .await;
    }
    let (status, request) = post(env, REQUESTS, &adele_token, activation(&adele.id, "PT1H")).await;
    assert_eq!(status, 201, "{request}");
    assert_eq!(request["status"], "PendingApproval");
    let id = request["id"].as_str().unwrap().to_string();

    // Poison the stored settings: both numbers of the stage at i64::MAX.
    let stored = env
        .state
        .store
        .get_role_policy(SECURITY_READER)
        .await
        .unwrap()
        .unwrap();
    let mut poisoned = stored.policy.clone();
    for rule in &mut poisoned.rules {
        if let pim::Rule::Approval(r) = rule {
            for stage in &mut r.setting.approval_stages {
                stage.escalation_time_in_minutes = i64::MAX;
                stage.approval_stage_time_out_in_days = i64::MAX;
            }
        }
    }
    env.state
        .store
        .put_role_policy(&poisoned, stored.version)
        .await
        .unwrap();
    // Past the escalation time the settings named before (60 minutes).
    env.state.clock.advance(Duration::minutes(90));
    let admin = token(env, "pra@example.test").await;
    let adele_token = token(env, "adele@example.test").await;
    let bob_token = token(env, "bob@example.test").await;
    let carol_token = token(env, "carol@example.test").await;
    let dave_token = token(env, "dave@example.test").await;

    // Reads answer: the approval, its steps, each approver's queue, the rule itself.
    let (status, body) = get(env, &format!("{APPROVALS}/{id}"), &adele_token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["steps"][0]["status"], "InProgress");
    let (status, body) = get(env, &format!("{APPROVALS}/{id}/steps"), &admin).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(env, &format!("{APPROVALS}/{id}/steps/1"), &bob_token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["assignedToMe"], true);
    let (status, queue) = get(env, &format!("{APPROVALS}/{WAITING_FOR_ME}"), &bob_token).await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["value"].as_array().unwrap().len(), 1, "{queue}");
    // An escalation time beyond representable time never comes.
    let (status, queue) = get(env, &format!("{APPROVALS}/{WAITING_FOR_ME}"), &carol_token).await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["value"], json!([]), "{queue}");
    let (status, body) = get(env, &rule_path("Approval_EndUser_Assignment"), &admin).await;
    assert_eq!(status, 200, "{body}");

    // Decisions answer: approving re-checks the settings, which are refused with a Graph error
    // naming the field; a new request is refused the same way.
    let (status, body) = patch(
        env,
        &format!("{APPROVALS}/{id}/steps/1"),
        &bob_token,
        json!({"reviewResult": "Approve", "justification": "ok"}),
    )
    .await;
    assert_refused(
        status,
        &body,
        400,
        &["approvalStageTimeOutInDays"],
        "approval",
    );
    let (status, body) = post(env, REQUESTS, &dave_token, activation(&dave.id, "PT1H")).await;
    assert_refused(
        status,
        &body,
        400,
        &["approvalStageTimeOutInDays"],
        "new request",
    );

    // The overdue job runs over it, and fails it once the longest stage timeout (365 days) is
    // over — also when the background job got there first.
    server::graph::activation::fail_overdue_requests(&env.state)
        .await
        .unwrap();
    let (_, body) = get(env, &format!("{APPROVALS}/{id}"), &adele_token).await;
    assert_eq!(body["steps"][0]["status"], "InProgress", "{body}");
    env.state.clock.advance(Duration::days(366));
    server::graph::activation::fail_overdue_requests(&env.state)
        .await
        .unwrap();
    let adele_token = token(env, "adele@example.test").await;
    let (status, body) = get(env, &format!("{APPROVALS}/{id}"), &adele_token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["steps"][0]["status"], "Expired", "{body}");
}

fn report_only_mfa() -> Value {
    json!({
        "displayName": "MFA for everyone (report-only)",
        "state": "enabledForReportingButNotEnforced",
        "conditions": {
            "users": { "includeUsers": ["All"] },
            "applications": { "includeApplications": ["All"] },
            "clientAppTypes": ["all"]
        },
        "grantControls": { "operator": "OR", "builtInControls": ["mfa"] }
    })
}

/// Deep-merges `patch` into `target` (objects key by key, anything else replaced).
fn merged(mut target: Value, patch: &Value) -> Value {
    policy::merge_patch::merge_patch(&mut target, patch);
    target
}

async fn conditional_access_writes_refuse_values_graph_does_not_define(env: &Env) {
    let (_, admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    let (status, created) = post(env, POLICIES, &admin, report_only_mfa()).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let one = format!("{POLICIES}/{id}");
    let (_, before) = get(env, &one, &admin).await;

    // Each change as a merge patch; posted, it is merged into a valid policy.
    let attacks = [
        (
            json!({"state": "bogus"}),
            vec!["state", "'bogus'", "enabledForReportingButNotEnforced"],
        ),
        (
            json!({"state": "enabledForReportingButNotEnforcd"}),
            vec!["state", "enabledForReportingButNotEnforcd", "disabled"],
        ),
        (
            json!({"grantControls": {"operator": "XOR"}}),
            vec!["grantControls.operator", "'XOR'", "AND, OR"],
        ),
        (
            json!({"grantControls": {"builtInControls": ["notAControl"]}}),
            vec![
                "grantControls.builtInControls",
                "'notAControl'",
                "compliantDevice",
            ],
        ),
        (
            json!({"conditions": {"clientAppTypes": ["browsers"]}}),
            vec![
                "conditions.clientAppTypes",
                "'browsers'",
                "mobileAppsAndDesktopClients",
            ],
        ),
        (
            json!({"conditions": {"platforms": {"includePlatforms": ["windows11"]}}}),
            vec![
                "conditions.platforms.includePlatforms",
                "'windows11'",
                "macOS",
            ],
        ),
        (
            json!({"conditions": {"signInRiskLevels": ["severe"]}}),
            vec!["conditions.signInRiskLevels", "'severe'", "high"],
        ),
        (
            json!({"sessionControls": {"signInFrequency": {"isEnabled": true, "type": "days", "value": 4_294_967_295_u32, "frequencyInterval": "timeBased"}}}),
            vec![
                "sessionControls.signInFrequency.value",
                "4294967295",
                "1 to 365 days",
            ],
        ),
        (
            json!({"sessionControls": {"signInFrequency": {"isEnabled": true, "type": "hours", "value": 24, "frequencyInterval": "timeBased"}}}),
            vec![
                "sessionControls.signInFrequency.value",
                "24",
                "1 to 23 hours",
            ],
        ),
        (
            json!({"sessionControls": {"signInFrequency": {"isEnabled": true, "type": "weeks", "value": 1}}}),
            vec![
                "sessionControls.signInFrequency.type",
                "'weeks'",
                "hours, days",
            ],
        ),
    ];
    for (change, mentions) in &attacks {
        let (status, body) = post(env, POLICIES, &admin, merged(report_only_mfa(), change)).await;
        assert_refused(status, &body, 400, mentions, &format!("POST {change}"));
        let (status, body) = patch(env, &one, &admin, change.clone()).await;
        assert_refused(status, &body, 400, mentions, &format!("PATCH {change}"));
    }
    let (_, after) = get(env, &one, &admin).await;
    assert_eq!(after, before, "a refused change changed the policy");
    let (_, all) = get(env, POLICIES, &admin).await;
    assert_eq!(
        all["value"].as_array().unwrap().len(),
        1,
        "a refused policy was created"
    );
    // Refusals are audited like any other refused change.
    let refusals = common::audits_in(env, Some("Policy"))
        .await
        .into_iter()
        .filter(|a| a.entry.result == store::AuditResult::Failure)
        .count();
    assert_eq!(refusals, 2 * attacks.len());

    // Graph reads members regardless of case; so do writes.
    let (status, body) = patch(
        env,
        &one,
        &admin,
        json!({"state": "DISABLED", "grantControls": {"operator": "and"}}),
    )
    .await;
    assert_eq!(status, 204, "{body}");

    // A tenant import keeps what it does not know (reported as not enforced); a later write
    // through the API that does not touch it is not blamed for it, one that adds another is.
    env.policies(json!({
        "conditionalAccessPolicies": [merged(report_only_mfa(), &json!({
            "id": "imported-1",
            "displayName": "From a newer Entra",
            "conditions": {"platforms": {"includePlatforms": ["windows11"]}}
        }))]
    }))
    .await;
    let imported = format!("{POLICIES}/imported-1");
    let (status, body) = patch(env, &imported, &admin, json!({"displayName": "Renamed"})).await;
    assert_eq!(status, 204, "{body}");
    let (_, kept) = get(env, &imported, &admin).await;
    assert_eq!(kept["displayName"], "Renamed");
    assert_eq!(
        kept["conditions"]["platforms"]["includePlatforms"],
        json!(["windows11"])
    );
    let (status, body) = patch(env, &imported, &admin, json!({"state": "bogus"})).await;
    assert_refused(
        status,
        &body,
        400,
        &["state", "'bogus'"],
        "PATCH of an import",
    );
    let (_, still) = get(env, &imported, &admin).await;
    assert_eq!(still, kept);
}

async fn graph_writes_refuse_a_body_that_is_not_json(env: &Env) {
    let (_, ca_admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (adele, adele_token) = signed_in(env, "adele@example.test").await;
    let (status, created) = post(env, POLICIES, &ca_admin, report_only_mfa()).await;
    assert_eq!(status, 201, "{created}");
    let one = format!("{POLICIES}/{}", created["id"].as_str().unwrap());
    let (_, policy_before) = get(env, &one, &ca_admin).await;
    let (_, rule_before) = get(env, &rule_path("Approval_EndUser_Assignment"), &admin).await;

    let post_m = reqwest::Method::POST;
    let patch_m = reqwest::Method::PATCH;
    let tap = passes(&adele);
    let step = format!("{APPROVALS}/{}/steps/1", store::new_id());
    let rule = rule_path("Approval_EndUser_Assignment");
    let routes: Vec<(reqwest::Method, &str, &str, Value)> = vec![
        (post_m.clone(), POLICIES, &ca_admin, report_only_mfa()),
        (
            patch_m.clone(),
            &one,
            &ca_admin,
            json!({"state": "disabled"}),
        ),
        (
            post_m.clone(),
            &tap,
            &admin,
            json!({"lifetimeInMinutes": 60}),
        ),
        (
            post_m.clone(),
            REQUESTS,
            &adele_token,
            activation(&adele.id, "PT1H"),
        ),
        (
            post_m.clone(),
            ELIGIBILITY_REQUESTS,
            &admin,
            json!({"action": "adminAssign", "principalId": adele.id, "roleDefinitionId": SECURITY_READER, "directoryScopeId": "/"}),
        ),
        (
            patch_m.clone(),
            &step,
            &adele_token,
            json!({"reviewResult": "Approve"}),
        ),
        (
            patch_m.clone(),
            &rule,
            &admin,
            json!({"@odata.type": APPROVAL_RULE, "setting": {"isApprovalRequired": false}}),
        ),
    ];
    for (method, path, token, body) in &routes {
        let text = body.to_string();
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("application/jsonp"),
            None,
        ] {
            let (status, answer) = raw(env, method.clone(), path, token, content_type, &text).await;
            assert_refused(
                status,
                &answer,
                415,
                &["application/json"],
                &format!("{method} {path} as {content_type:?}"),
            );
        }
        // Declared JSON but malformed: a Graph 400.
        let (status, answer) = raw(
            env,
            method.clone(),
            path,
            token,
            Some("application/json"),
            "{\"state\": ",
        )
        .await;
        assert_refused(
            status,
            &answer,
            400,
            &[],
            &format!("{method} {path} malformed"),
        );
    }
    let (_, policy_after) = get(env, &one, &ca_admin).await;
    assert_eq!(policy_after, policy_before);
    let (_, rule_after) = get(env, &rule_path("Approval_EndUser_Assignment"), &admin).await;
    assert_eq!(rule_after, rule_before);
    let (_, list) = get(env, &tap, &admin).await;
    assert_eq!(list["value"], json!([]));

    // JSON with parameters, or a JSON-based media type, is JSON.
    let (status, body) = raw(
        env,
        patch_m.clone(),
        &one,
        &ca_admin,
        Some("application/merge-patch+json"),
        r#"{"displayName": "Renamed"}"#,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = raw(
        env,
        post_m.clone(),
        &tap,
        &admin,
        Some("Application/JSON; charset=utf-8"),
        r#"{"lifetimeInMinutes": 60}"#,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // No body at all needs no type: a pass with the defaults.
    let (bob, _) = signed_in(env, "bob@example.test").await;
    let (status, body) = raw(env, post_m, &passes(&bob), &admin, None, "").await;
    assert_eq!(status, 201, "{body}");
}

/// Extreme numbers anywhere a number or a duration comes in: each answered, never a dropped
/// connection, and refused where out of range.
async fn extreme_numbers_are_answered_everywhere(env: &Env) {
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (adele, adele_token) = signed_in(env, "adele@example.test").await;
    assign(
        env,
        &adele.id,
        SECURITY_READER,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    for duration in [
        "P999999999D",
        "P99999999999W",
        "PT9999999999999H",
        "PT9223372036854775807M",
        "P99999D",
        "PT0S",
        "-PT1H",
        "P1Y",
    ] {
        let (status, body) =
            post(env, REQUESTS, &adele_token, activation(&adele.id, duration)).await;
        assert_refused(
            status,
            &body,
            400,
            &[],
            &format!("activation for {duration}"),
        );
        let (status, body) = post(
            env,
            ELIGIBILITY_REQUESTS,
            &admin,
            json!({
                "action": "adminAssign", "principalId": adele.id, "roleDefinitionId": SECURITY_READER,
                "directoryScopeId": "/", "justification": "on call",
                "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": duration}}
            }),
        )
        .await;
        assert_refused(
            status,
            &body,
            400,
            &[],
            &format!("eligibility for {duration}"),
        );
    }
    let far = json!({
        "action": "adminAssign", "principalId": adele.id, "roleDefinitionId": SECURITY_READER,
        "directoryScopeId": "/", "justification": "on call",
        "scheduleInfo": {"startDateTime": "9999-12-31T00:00:00Z",
                         "expiration": {"type": "afterDateTime", "endDateTime": "9999-12-31T23:59:59Z"}}
    });
    let (status, body) = post(env, ELIGIBILITY_REQUESTS, &admin, far).await;
    assert!(status < 500, "{status}: {body}");
    let schedules = "/v1.0/roleManagement/directory/roleEligibilitySchedules";
    for top in [
        "0",
        "1000",
        "-1",
        "18446744073709551616",
        "9223372036854775807",
    ] {
        let (status, body) = get(env, &format!("{schedules}?$top={top}"), &admin).await;
        assert_refused(status, &body, 400, &["$top", "999"], &format!("$top={top}"));
    }
    let (status, body) = get(
        env,
        &format!("{schedules}?$top=999&$skiptoken=18446744073709551615"),
        &admin,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"], json!([]));
    let (status, body) = call(
        env,
        reqwest::Method::GET,
        &format!("{APPROVALS}/{WAITING_FOR_ME}"),
        &adele_token,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// A panic in a handler is answered `500` with a Graph error, not a dropped connection: the
/// layer the service's router uses, around a route that panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_answered_not_dropped() {
    let app = axum::Router::new()
        .route(
            "/v1.0/boom",
            axum::routing::get(|| async {
                let items: Vec<u8> = Vec::new();
                // Index out of bounds: the kind of bug the layer is there for.
                format!("{}", items[usize::from(items.is_empty())])
            }),
        )
        .layer(server::catch_panics());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = tokio::spawn(async move { axum::serve(listener, app).await });
    for _ in 0..2 {
        let r = reqwest::get(format!("http://{addr}/v1.0/boom"))
            .await
            .unwrap();
        assert_eq!(r.status(), 500);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "InternalServerError", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("reference"), "{message}");
        assert!(
            !message.contains("index out of bounds"),
            "leaks the panic: {message}"
        );
    }
    served.abort();
}

on_both_backends!(
    temporary_access_pass_lifetimes_are_bounded,
    approval_stage_numbers_are_bounded,
    a_stored_out_of_range_escalation_breaks_no_read_or_decision,
    conditional_access_writes_refuse_values_graph_does_not_define,
    graph_writes_refuse_a_body_that_is_not_json,
    extreme_numbers_are_answered_everywhere,
);
