//! The life of activation requests over real HTTP, on both backends, one test per story:
//! approval (the request waits, the requester cannot approve it even as an approver, only an
//! approver of the stage — named, or a member of a nested approver group — decides, approval
//! activates), denial and cancellation, requests that wait too long (for an approver or for a
//! step-up) fail, and the holder ends an activation (not within five minutes of its start).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::graph::{
    administrator, assign, get, patch, post, rule_path, signed_in, single_user, token, APPROVALS,
    SECURITY_READER, WAITING_FOR_ME,
};
use common::Env;
use policy::directory::AssignmentStatus;
use serde_json::{json, Value};

const REQUESTS: &str = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests";

fn activation(principal: &str) -> Value {
    json!({
        "action": "selfActivate",
        "principalId": principal,
        "roleDefinitionId": SECURITY_READER,
        "directoryScopeId": "/",
        "justification": "quarterly access review",
        "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": "PT2H" } }
    })
}

fn deactivation() -> Value {
    json!({
        "action": "selfDeactivate",
        "roleDefinitionId": SECURITY_READER,
        "directoryScopeId": "/"
    })
}

fn decision(result: &str, justification: &str) -> Value {
    json!({ "reviewResult": result, "justification": justification })
}

/// The Security Reader role's settings, set by an active administrator through the API: a
/// justification and no MFA claim check; with `approvers` (Graph subject sets), one approval
/// stage that asks approvers to say why.
async fn settings(env: &Env, admin_token: &str, approvers: Option<Value>) {
    let (status, body) = patch(
        env,
        &rule_path("Enablement_EndUser_Assignment"),
        admin_token,
        json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
            "enabledRules": ["Justification"]
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let Some(approvers) = approvers else { return };
    let (status, body) = patch(
        env,
        &rule_path("Approval_EndUser_Assignment"),
        admin_token,
        json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
            "setting": {
                "@odata.type": "#microsoft.graph.approvalSettings",
                "isApprovalRequired": true,
                "isApprovalRequiredForExtension": false,
                "isRequestorJustificationRequired": true,
                "approvalMode": "SingleStage",
                "approvalStages": [{
                    "@odata.type": "#microsoft.graph.unifiedApprovalStage",
                    "approvalStageTimeOutInDays": 1,
                    "isApproverJustificationRequired": true,
                    "escalationTimeInMinutes": 0,
                    "isEscalationEnabled": false,
                    "primaryApprovers": approvers,
                    "escalationApprovers": []
                }]
            }
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

fn group_members(id: &str) -> Value {
    json!({ "@odata.type": "#microsoft.graph.groupMembers", "groupId": id })
}

async fn group(env: &Env, name: &str, members: &[&str]) -> store::Group {
    let group = store::Group::new(name, env.now());
    env.state.store.create_group(&group).await.unwrap();
    for m in members {
        env.state.store.add_member(&group.id, m).await.unwrap();
    }
    group
}

async fn active(env: &Env, user: &store::User) -> Vec<store::ScheduledAssignment> {
    env.state
        .store
        .list_scheduled_assignments(&store::AssignmentQuery {
            principal_id: Some(user.id.clone()),
            role_definition_id: Some(SECURITY_READER.into()),
            status: Some(AssignmentStatus::Active),
            in_force_at: Some(env.now()),
            request_id: None,
        })
        .await
        .unwrap()
}

fn step_path(id: &str, step: &str) -> String {
    format!("{APPROVALS}/{id}/steps/{step}")
}

async fn approval_required_the_request_waits_the_requester_cannot_approve_and_approval_activates(
    env: &Env,
) {
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (adele, adele_token) = signed_in(env, "adele@example.test").await;
    let (bob, bob_token) = signed_in(env, "bob@example.test").await;
    let (carol, carol_token) = signed_in(env, "carol@example.test").await;
    let (_, dave_token) = signed_in(env, "dave@example.test").await;
    // Carol approves through a group nested in the approver group; Adele is in it too.
    let inner = group(env, "Security leads", &[&carol.id]).await;
    let approvers = group(env, "PIM approvers", &[&inner.id, &adele.id]).await;
    settings(
        env,
        &admin,
        Some(json!([single_user(&bob.id), group_members(&approvers.id)])),
    )
    .await;
    assign(
        env,
        &adele.id,
        SECURITY_READER,
        AssignmentStatus::Eligible,
        None,
    )
    .await;

    // The request waits; nothing is active.
    let (status, request) = post(env, REQUESTS, &adele_token, activation(&adele.id)).await;
    assert_eq!(status, 201, "{request}");
    assert_eq!(request["status"], "PendingApproval");
    let id = request["id"].as_str().unwrap().to_string();
    assert_eq!(request["approvalId"], id.as_str());
    assert!(active(env, &adele).await.is_empty());

    // The requester sees her approval but it is not assigned to her, and she cannot approve it.
    let (status, approval) = get(env, &format!("{APPROVALS}/{id}"), &adele_token).await;
    assert_eq!(status, 200, "{approval}");
    assert_eq!(approval["steps"][0]["status"], "InProgress");
    assert_eq!(approval["steps"][0]["assignedToMe"], false);
    let (status, body) = patch(
        env,
        &step_path(&id, "1"),
        &adele_token,
        decision("Approve", "it is me"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "SelfApprovalNotAllowed");
    let (_, waiting) = get(env, &format!("{APPROVALS}/{WAITING_FOR_ME}"), &adele_token).await;
    assert_eq!(waiting["value"].as_array().unwrap().len(), 0, "{waiting}");

    // Someone who is no approver cannot see it, let alone decide.
    let (status, _) = get(env, &format!("{APPROVALS}/{id}"), &dave_token).await;
    assert_eq!(status, 404);
    let (status, _) = patch(
        env,
        &step_path(&id, "1"),
        &dave_token,
        decision("Approve", "x"),
    )
    .await;
    assert_eq!(status, 404);

    // Bob (named) and Carol (through the nested group) each find it waiting for them.
    for t in [&bob_token, &carol_token] {
        let (status, waiting) = get(env, &format!("{APPROVALS}/{WAITING_FOR_ME}"), t).await;
        assert_eq!(status, 200, "{waiting}");
        let value = waiting["value"].as_array().unwrap();
        assert_eq!(value.len(), 1, "{waiting}");
        assert_eq!(value[0]["id"], id.as_str());
        assert_eq!(value[0]["steps"][0]["assignedToMe"], true);
    }
    // The stage asks approvers to say why; there is no step 2; the body must be a decision.
    let (status, body) = patch(
        env,
        &step_path(&id, "1"),
        &bob_token,
        decision("Approve", " "),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("JustificationRequired"))
    );
    let (status, _) = patch(
        env,
        &step_path(&id, "2"),
        &bob_token,
        decision("Approve", "ok"),
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = patch(
        env,
        &step_path(&id, "1"),
        &bob_token,
        decision("Maybe", "ok"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = patch(env, &step_path(&id, "1"), &bob_token, json!("approve")).await;
    assert_eq!(status, 400, "{body}");
    assert!(active(env, &adele).await.is_empty());

    // Bob approves: the role is active, the request provisioned.
    let (status, body) = patch(
        env,
        &step_path(&id, "1"),
        &bob_token,
        decision("Approve", "review scheduled for today"),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (_, request) = get(env, &format!("{REQUESTS}/{id}"), &adele_token).await;
    assert_eq!(request["status"], "Provisioned", "{request}");
    let now_active = active(env, &adele).await;
    assert_eq!(now_active.len(), 1);
    assert_eq!(
        request["targetScheduleId"],
        now_active[0].assignment.id.as_str()
    );
    assert_eq!(now_active[0].request_id.as_deref(), Some(id.as_str()));
    let end = now_active[0].assignment.end_at.unwrap();
    assert_eq!(end - now_active[0].assignment.start_at, Duration::hours(2));

    // The step says who decided; nobody can decide again.
    let (_, approval) = get(env, &format!("{APPROVALS}/{id}"), &carol_token).await;
    let step = &approval["steps"][0];
    assert_eq!(step["status"], "Completed");
    assert_eq!(step["reviewResult"], "Approve");
    assert_eq!(step["reviewedBy"]["id"], bob.id.as_str());
    assert_eq!(step["justification"], "review scheduled for today");
    let (status, body) = patch(
        env,
        &step_path(&id, "1"),
        &carol_token,
        decision("Deny", "no"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("InvalidRequestState"))
    );

    // Audited: the refused self-approval, and the approval by Bob that activated the role.
    let audits = common::audits_in(env, Some("RoleManagement")).await;
    assert!(audits.iter().any(
        |a| a.entry.activity_display_name == "Approval decision refused"
            && a.entry.initiated_by["user"]["id"] == adele.id.as_str()
            && a.entry.result == store::AuditResult::Failure
    ));
    assert!(audits.iter().any(|a| a.entry.activity_display_name
        == "Add member to role completed (PIM activation approved)"
        && a.entry.initiated_by["user"]["id"] == bob.id.as_str()
        && a.entry.correlation_id.as_deref() == Some(id.as_str())));
    assert!(env
        .state
        .store
        .verify_audit_chain()
        .await
        .unwrap()
        .is_intact());
}

async fn a_denied_request_never_activates_and_a_canceled_one_cannot_be_approved(env: &Env) {
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (adele, adele_token) = signed_in(env, "adele@example.test").await;
    let (bob, bob_token) = signed_in(env, "bob@example.test").await;
    settings(env, &admin, Some(json!([single_user(&bob.id)]))).await;
    assign(
        env,
        &adele.id,
        SECURITY_READER,
        AssignmentStatus::Eligible,
        None,
    )
    .await;

    let (_, first) = post(env, REQUESTS, &adele_token, activation(&adele.id)).await;
    let first = first["id"].as_str().unwrap().to_string();
    let (status, body) = patch(
        env,
        &step_path(&first, "1"),
        &bob_token,
        decision("Deny", "not this week"),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (_, request) = get(env, &format!("{REQUESTS}/{first}"), &adele_token).await;
    assert_eq!(request["status"], "Denied");
    assert!(active(env, &adele).await.is_empty());
    let (_, approval) = get(env, &format!("{APPROVALS}/{first}"), &adele_token).await;
    assert_eq!(approval["steps"][0]["reviewResult"], "Deny");

    // Only the requester cancels, once; a canceled request cannot be approved.
    let (_, second) = post(env, REQUESTS, &adele_token, activation(&adele.id)).await;
    let second = second["id"].as_str().unwrap().to_string();
    let cancel = format!("{REQUESTS}/{second}/cancel");
    let (status, _) = post(env, &cancel, &bob_token, json!({})).await;
    assert_eq!(status, 404);
    let (status, body) = post(env, &cancel, &adele_token, json!({})).await;
    assert_eq!(status, 204, "{body}");
    let (_, request) = get(env, &format!("{REQUESTS}/{second}"), &adele_token).await;
    assert_eq!(request["status"], "Canceled");
    let (status, body) = post(env, &cancel, &adele_token, json!({})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = patch(
        env,
        &step_path(&second, "1"),
        &bob_token,
        decision("Approve", "ok"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("InvalidRequestState"))
    );
    assert!(active(env, &adele).await.is_empty());

    // The requester's own list shows both, newest first.
    let (status, mine) = get(
        env,
        &format!("{REQUESTS}/filterByCurrentUser(on='principal')"),
        &adele_token,
    )
    .await;
    assert_eq!(status, 200, "{mine}");
    let statuses: Vec<&str> = mine["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["Canceled", "Denied"]);
}

async fn requests_that_wait_too_long_fail(env: &Env) {
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (adele, adele_token) = signed_in(env, "adele@example.test").await;
    let (bob, _) = signed_in(env, "bob@example.test").await;
    settings(env, &admin, Some(json!([single_user(&bob.id)]))).await;
    assign(
        env,
        &adele.id,
        SECURITY_READER,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    let (_, waiting) = post(env, REQUESTS, &adele_token, activation(&adele.id)).await;
    let waiting = waiting["id"].as_str().unwrap().to_string();

    // Nearly a day: still waiting.
    env.state.clock.advance(Duration::hours(23));
    server::graph::activation::expire_due(&env.state)
        .await
        .unwrap();
    let request = env
        .state
        .store
        .get_schedule_request(&waiting)
        .await
        .unwrap();
    assert_eq!(request.status(), pim::Status::PendingApproval);

    // A day and a minute (the stage's timeout): failed, audited as a timeout; too late to approve.
    env.state.clock.advance(Duration::minutes(61));
    server::graph::activation::expire_due(&env.state)
        .await
        .unwrap();
    let request = env
        .state
        .store
        .get_schedule_request(&waiting)
        .await
        .unwrap();
    assert_eq!(request.status(), pim::Status::Failed);
    let bob_token = token(env, "bob@example.test").await;
    let (_, approval) = get(env, &format!("{APPROVALS}/{waiting}"), &bob_token).await;
    assert_eq!(approval["steps"][0]["status"], "Expired", "{approval}");
    let (status, _) = patch(
        env,
        &step_path(&waiting, "1"),
        &bob_token,
        decision("Approve", "late"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(common::audits_in(env, Some("RoleManagement"))
        .await
        .iter()
        .any(|a| a.entry.result == store::AuditResult::Timeout
            && a.entry.correlation_id.as_deref() == Some(waiting.as_str())));

    // A step-up asked for and never made: the request fails after fifteen minutes.
    let admin = token(env, "pra@example.test").await;
    env.policies(json!({
        "authenticationContextClassReferences": [{ "id": "c1", "displayName": "PIM", "isAvailable": true }]
    }))
    .await;
    let (status, body) = patch(
        env,
        &rule_path("AuthenticationContext_EndUser_Assignment"),
        &admin,
        json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
            "isEnabled": true,
            "claimValue": "c1"
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let adele_token = token(env, "adele@example.test").await;
    let (status, challenged) = post(env, REQUESTS, &adele_token, activation(&adele.id)).await;
    assert_eq!(status, 401, "{challenged}");
    let pending = challenged["error"]["innerError"]["requestId"]
        .as_str()
        .unwrap()
        .to_string();
    env.state.clock.advance(Duration::minutes(14));
    server::graph::activation::expire_due(&env.state)
        .await
        .unwrap();
    let r = env
        .state
        .store
        .get_schedule_request(&pending)
        .await
        .unwrap();
    assert_eq!(r.status(), pim::Status::PendingStepUp);
    env.state.clock.advance(Duration::minutes(2));
    server::graph::activation::expire_due(&env.state)
        .await
        .unwrap();
    let r = env
        .state
        .store
        .get_schedule_request(&pending)
        .await
        .unwrap();
    assert_eq!(r.status(), pim::Status::Failed);
    assert!(active(env, &adele).await.is_empty());
}

async fn the_holder_ends_an_activation_but_not_within_five_minutes_of_its_start(env: &Env) {
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (adele, adele_token) = signed_in(env, "adele@example.test").await;
    settings(env, &admin, None).await;
    assign(
        env,
        &adele.id,
        SECURITY_READER,
        AssignmentStatus::Eligible,
        None,
    )
    .await;

    // Nothing to end yet.
    let (status, body) = post(env, REQUESTS, &adele_token, deactivation()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["code"], "RoleAssignmentDoesNotExist",
        "{body}"
    );
    let (status, activated) = post(env, REQUESTS, &adele_token, activation(&adele.id)).await;
    assert_eq!(status, 201, "{activated}");
    assert_eq!(activated["status"], "Provisioned");
    // An activation ends soon, but it is not extended: its holder activates again.
    let (status, body) = post(
        env,
        REQUESTS,
        &adele_token,
        json!({
            "action": "selfExtend",
            "roleDefinitionId": SECURITY_READER,
            "directoryScopeId": "/",
            "justification": "longer please",
            "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": "P1D" } }
        }),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    env.state.clock.advance(Duration::minutes(4));
    let (status, body) = post(env, REQUESTS, &adele_token, deactivation()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "ActiveDurationTooShort", "{body}");
    assert_eq!(active(env, &adele).await.len(), 1);

    env.state.clock.advance(Duration::minutes(2));
    let (status, ended) = post(env, REQUESTS, &adele_token, deactivation()).await;
    assert_eq!(status, 201, "{ended}");
    assert_eq!(ended["status"], "Revoked");
    assert_eq!(ended["action"], "selfDeactivate");
    assert_eq!(ended["targetScheduleId"], activated["targetScheduleId"]);
    assert!(active(env, &adele).await.is_empty());
    let (_, first) = get(
        env,
        &format!("{REQUESTS}/{}", activated["id"].as_str().unwrap()),
        &adele_token,
    )
    .await;
    assert_eq!(first["status"], "Revoked");
    // Conditional Access no longer sees the role.
    let engine = env.state.engine().await.unwrap();
    assert!(engine
        .active_roles(&adele.id, &engine.transitive_groups(&adele.id))
        .is_empty());

    // Ending it again: nothing to end.
    let (status, body) = post(env, REQUESTS, &adele_token, deactivation()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["code"], "RoleAssignmentDoesNotExist",
        "{body}"
    );
}

async fn a_holder_asks_to_extend_and_an_administrator_decides(env: &Env) {
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (adele, adele_token) = signed_in(env, "adele@example.test").await;
    let (bob, bob_token) = signed_in(env, "bob@example.test").await;
    let in_days = |d: i64| Some(env.now() + Duration::days(d));
    assign(
        env,
        &adele.id,
        SECURITY_READER,
        AssignmentStatus::Eligible,
        in_days(10),
    )
    .await;
    assign(
        env,
        &bob.id,
        SECURITY_READER,
        AssignmentStatus::Eligible,
        in_days(20),
    )
    .await;
    let eligibility = "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests";
    let extend = |duration: &str| {
        json!({
            "action": "selfExtend",
            "roleDefinitionId": SECURITY_READER,
            "directoryScopeId": "/",
            "justification": "the audit project runs another month",
            "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": duration } }
        })
    };

    // Twenty days before its end is too early (fourteen at most); without a justification,
    // refused.
    let (status, body) = post(env, eligibility, &bob_token, extend("P30D")).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("14 days before"),
        "{body}"
    );
    let mut unjustified = extend("P30D");
    unjustified["justification"] = json!("");
    let (status, body) = post(env, eligibility, &adele_token, unjustified).await;
    assert_eq!(status, 400, "{body}");

    // Ten days before: recorded, waiting for an administrator.
    let (status, request) = post(env, eligibility, &adele_token, extend("P30D")).await;
    assert_eq!(status, 201, "{request}");
    assert_eq!(request["status"], "PendingAdminDecision");
    let id = request["id"].as_str().unwrap().to_string();
    assert_eq!(request["approvalId"], id.as_str());
    // A second one while it waits: refused, naming the first.
    let (status, body) = post(env, eligibility, &adele_token, extend("P20D")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["code"], "PendingRoleAssignmentRequest",
        "{body}"
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains(&id),
        "{body}"
    );

    // Administrators see it waiting for them; the holder and others do not decide it.
    let (_, waiting) = get(env, &format!("{APPROVALS}/{WAITING_FOR_ME}"), &admin).await;
    let value = waiting["value"].as_array().unwrap();
    assert_eq!(value.len(), 1, "{waiting}");
    assert_eq!(value[0]["steps"][0]["assignedToMe"], true);
    assert_eq!(
        value[0]["steps"][0]["displayName"],
        "Administrator's decision"
    );
    let (_, waiting) = get(env, &format!("{APPROVALS}/{WAITING_FOR_ME}"), &bob_token).await;
    assert!(waiting["value"].as_array().unwrap().is_empty());
    let (status, body) = patch(
        env,
        &step_path(&id, "1"),
        &adele_token,
        decision("Approve", "yes"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("SelfApprovalNotAllowed"))
    );
    let (status, _) = patch(
        env,
        &step_path(&id, "1"),
        &bob_token,
        decision("Approve", "yes"),
    )
    .await;
    assert_eq!(status, 404);

    // The administrator grants it: one eligibility, ending thirty days from now.
    let (status, body) = patch(
        env,
        &step_path(&id, "1"),
        &admin,
        decision("Approve", "project extended"),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (_, request) = get(env, &format!("{eligibility}/{id}"), &adele_token).await;
    assert_eq!(request["status"], "Provisioned", "{request}");
    let schedules = env
        .state
        .store
        .list_scheduled_assignments(&store::AssignmentQuery {
            principal_id: Some(adele.id.clone()),
            status: Some(AssignmentStatus::Eligible),
            in_force_at: Some(env.now()),
            ..store::AssignmentQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(schedules.len(), 1, "{schedules:?}");
    let end = schedules[0].assignment.end_at.unwrap();
    assert!((end - (env.now() + Duration::days(30))).num_seconds().abs() <= 1);
    assert_eq!(schedules[0].request_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        request["targetScheduleId"],
        schedules[0].assignment.id.as_str()
    );

    // Bob's, ten days before its end, unanswered: it fails after seven days.
    env.state.clock.advance(Duration::days(10));
    let bob_token = token(env, "bob@example.test").await;
    let (status, second) = post(env, eligibility, &bob_token, extend("P30D")).await;
    assert_eq!(status, 201, "{second}");
    let second = second["id"].as_str().unwrap().to_string();
    env.state
        .clock
        .advance(Duration::days(7) + Duration::minutes(1));
    server::graph::activation::expire_due(&env.state)
        .await
        .unwrap();
    let r = env.state.store.get_schedule_request(&second).await.unwrap();
    assert_eq!(r.status(), pim::Status::Failed);
}

async fn an_approval_cannot_activate_a_role_the_requester_lost_meanwhile(env: &Env) {
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (adele, adele_token) = signed_in(env, "adele@example.test").await;
    let (bob, bob_token) = signed_in(env, "bob@example.test").await;
    settings(env, &admin, Some(json!([single_user(&bob.id)]))).await;
    assign(
        env,
        &adele.id,
        SECURITY_READER,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    let (_, request) = post(env, REQUESTS, &adele_token, activation(&adele.id)).await;
    let id = request["id"].as_str().unwrap().to_string();
    // While it waits, an administrator ends her eligibility.
    let (status, body) = post(
        env,
        "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests",
        &admin,
        json!({
            "action": "adminRemove", "principalId": adele.id, "roleDefinitionId": SECURITY_READER,
            "directoryScopeId": "/", "justification": "moved to another team"
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = patch(
        env,
        &step_path(&id, "1"),
        &bob_token,
        decision("Approve", "ok"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("can no longer be granted") && message.contains("no eligible assignment"),
        "{message}"
    );
    assert!(active(env, &adele).await.is_empty());
    let r = env.state.store.get_schedule_request(&id).await.unwrap();
    assert_eq!(r.status(), pim::Status::PendingApproval);
    assert!(env
        .state
        .store
        .list_approval_decisions(&id)
        .await
        .unwrap()
        .is_empty());
}

/// Gives `principal` an active Security Reader assignment that ended two days ago.
async fn ended_two_days_ago(env: &Env, principal: &str) {
    env.state
        .store
        .assign_role(&store::RoleAssignment {
            id: store::new_id(),
            principal_id: policy::ids::PrincipalId::trusted(principal),
            role_definition_id: policy::ids::RoleId::trusted(SECURITY_READER),
            directory_scope_id: "/".into(),
            status: AssignmentStatus::Active,
            start_at: env.now() - Duration::days(9),
            end_at: Some(env.now() - Duration::days(2)),
        })
        .await
        .unwrap();
}

async fn an_ended_assignment_is_renewed_by_an_administrators_decision(env: &Env) {
    administrator(env, "pra@example.test").await;
    let (dave, _) = signed_in(env, "dave@example.test").await;
    // An active assignment that ended two days ago.
    ended_two_days_ago(env, &dave.id).await;
    let renew = |action: &str| {
        json!({
            "action": action,
            "roleDefinitionId": SECURITY_READER,
            "directoryScopeId": "/",
            "justification": "the review runs another week",
            "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": "P7D" } }
        })
    };
    let dave_token = token(env, "dave@example.test").await;
    // Extending what has ended: refused; renewing: waits for an administrator.
    let (status, body) = post(env, REQUESTS, &dave_token, renew("selfExtend")).await;
    assert_eq!(status, 400, "{body}");
    let (status, request) = post(env, REQUESTS, &dave_token, renew("selfRenew")).await;
    assert_eq!(status, 201, "{request}");
    assert_eq!(request["status"], "PendingAdminDecision");
    assert!(active(env, &dave).await.is_empty());
    let id = request["id"].as_str().unwrap().to_string();
    let admin = token(env, "pra@example.test").await;
    // Denied once…
    let (status, body) = patch(
        env,
        &step_path(&id, "1"),
        &admin,
        decision("Deny", "not now"),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (_, denied) = get(env, &format!("{REQUESTS}/{id}"), &dave_token).await;
    assert_eq!(denied["status"], "Denied");
    assert!(active(env, &dave).await.is_empty());
    // …granted the second time: active for seven days from now.
    let (_, request) = post(env, REQUESTS, &dave_token, renew("selfRenew")).await;
    let id = request["id"].as_str().unwrap().to_string();
    let (status, body) = patch(
        env,
        &step_path(&id, "1"),
        &admin,
        decision("Approve", "fine"),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let now_active = active(env, &dave).await;
    assert_eq!(now_active.len(), 1);
    let a = &now_active[0].assignment;
    assert!(
        (a.end_at.unwrap() - (env.now() + Duration::days(7)))
            .num_seconds()
            .abs()
            <= 1
    );
    assert_eq!(now_active[0].request_id.as_deref(), Some(id.as_str()));
    // An administrator granted it: it is an assignment, not an activation, so its holder
    // cannot end it with selfDeactivate (though it came from the holder's own request).
    let (status, body) = post(
        env,
        REQUESTS,
        &dave_token,
        json!({
            "action": "selfDeactivate",
            "roleDefinitionId": SECURITY_READER,
            "directoryScopeId": "/",
        }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("made by an administrator, not activated"),
        "{body}"
    );
    assert_eq!(active(env, &dave).await.len(), 1);
}

async fn an_undecided_stage_escalates_to_its_escalation_approvers(env: &Env) {
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (adele, adele_token) = signed_in(env, "adele@example.test").await;
    let (bob, _) = signed_in(env, "bob@example.test").await;
    let (carol, _) = signed_in(env, "carol@example.test").await;
    settings(env, &admin, None).await;
    let (status, body) = patch(
        env,
        &rule_path("Approval_EndUser_Assignment"),
        &admin,
        json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
            "setting": {
                "isApprovalRequired": true,
                "approvalMode": "SingleStage",
                "approvalStages": [{
                    "approvalStageTimeOutInDays": 1,
                    "isEscalationEnabled": true,
                    "escalationTimeInMinutes": 120,
                    "primaryApprovers": [single_user(&bob.id)],
                    "escalationApprovers": [single_user(&carol.id)]
                }]
            }
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assign(
        env,
        &adele.id,
        SECURITY_READER,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    let (_, request) = post(env, REQUESTS, &adele_token, activation(&adele.id)).await;
    let id = request["id"].as_str().unwrap().to_string();

    // Before the escalation time, Carol is not an approver.
    env.state.clock.advance(Duration::minutes(119));
    let carol_token = token(env, "carol@example.test").await;
    let (status, _) = patch(
        env,
        &step_path(&id, "1"),
        &carol_token,
        decision("Approve", "ok"),
    )
    .await;
    assert_eq!(status, 404, "not yet hers to see");
    // After it, she is, and her approval activates the role.
    env.state.clock.advance(Duration::minutes(2));
    let carol_token = token(env, "carol@example.test").await;
    let (_, waiting) = get(env, &format!("{APPROVALS}/{WAITING_FOR_ME}"), &carol_token).await;
    assert_eq!(waiting["value"].as_array().unwrap().len(), 1, "{waiting}");
    let (status, body) = patch(
        env,
        &step_path(&id, "1"),
        &carol_token,
        decision("Approve", "escalated"),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(active(env, &adele).await.len(), 1);
}

async fn a_request_waiting_for_an_administrator_can_be_withdrawn(env: &Env) {
    administrator(env, "pra@example.test").await;
    let (dave, _) = signed_in(env, "dave@example.test").await;
    // An active assignment that ended two days ago: its renewal waits for an administrator.
    ended_two_days_ago(env, &dave.id).await;
    let dave_token = token(env, "dave@example.test").await;
    let renew = json!({
        "action": "selfRenew",
        "roleDefinitionId": SECURITY_READER,
        "directoryScopeId": "/",
        "justification": "the review runs another week",
        "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": "P7D" } }
    });
    let (status, request) = post(env, REQUESTS, &dave_token, renew).await;
    assert_eq!(status, 201, "{request}");
    assert_eq!(request["status"], "PendingAdminDecision");
    let id = request["id"].as_str().unwrap().to_string();

    // The state machine lets the requester cancel a request that waits for a decision, of
    // approvers or of an administrator alike; an administrator cannot.
    let admin = token(env, "pra@example.test").await;
    let cancel = format!("{REQUESTS}/{id}/cancel");
    let (status, _) = post(env, &cancel, &admin, json!({})).await;
    assert_eq!(status, 404, "not the administrator's request to cancel");
    let (status, body) = post(env, &cancel, &dave_token, json!({})).await;
    assert_eq!(status, 204, "{body}");
    let (_, canceled) = get(env, &format!("{REQUESTS}/{id}"), &dave_token).await;
    assert_eq!(canceled["status"], "Canceled");

    // Nothing is left to decide.
    let (status, body) = patch(
        env,
        &step_path(&id, "1"),
        &admin,
        decision("Approve", "fine"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("InvalidRequestState")),
        "{body}"
    );
    assert!(active(env, &dave).await.is_empty());
}

async fn an_eligibility_extension_is_withdrawn_on_its_own_collection(env: &Env) {
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (erin, erin_token) = signed_in(env, "erin@example.test").await;
    let (_, frank_token) = signed_in(env, "frank@example.test").await;
    assign(
        env,
        &erin.id,
        SECURITY_READER,
        AssignmentStatus::Eligible,
        Some(env.now() + Duration::days(10)),
    )
    .await;
    let eligibility = "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests";
    let (status, request) = post(
        env,
        eligibility,
        &erin_token,
        json!({
            "action": "selfExtend",
            "roleDefinitionId": SECURITY_READER,
            "directoryScopeId": "/",
            "justification": "the audit runs another month",
            "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": "P30D" } }
        }),
    )
    .await;
    assert_eq!(status, 201, "{request}");
    let id = request["id"].as_str().unwrap().to_string();
    let cancel = format!("{eligibility}/{id}/cancel");
    // Not on the other collection, not by another user, not by an administrator; an id that
    // names nothing is not found.
    let (status, _) = post(
        env,
        &format!("{REQUESTS}/{id}/cancel"),
        &erin_token,
        json!({}),
    )
    .await;
    assert_eq!(status, 404);
    for token in [&frank_token, &admin] {
        let (status, body) = post(env, &cancel, token, json!({})).await;
        assert_eq!(status, 404, "{body}");
    }
    let (status, body) = post(
        env,
        &format!("{eligibility}/not-an-id/cancel"),
        &erin_token,
        json!({}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    // Its holder withdraws it, once.
    let (status, body) = post(env, &cancel, &erin_token, json!({})).await;
    assert_eq!(status, 204, "{body}");
    let (_, canceled) = get(env, &format!("{eligibility}/{id}"), &erin_token).await;
    assert_eq!(canceled["status"], "Canceled");
    let (status, body) = post(env, &cancel, &erin_token, json!({})).await;
    assert_eq!(status, 400, "{body}");
    let (_, waiting) = get(env, &format!("{APPROVALS}/{WAITING_FOR_ME}"), &admin).await;
    assert!(waiting["value"].as_array().unwrap().is_empty(), "{waiting}");
}

on_both_backends!(
    approval_required_the_request_waits_the_requester_cannot_approve_and_approval_activates,
    a_denied_request_never_activates_and_a_canceled_one_cannot_be_approved,
    requests_that_wait_too_long_fail,
    the_holder_ends_an_activation_but_not_within_five_minutes_of_its_start,
    a_holder_asks_to_extend_and_an_administrator_decides,
    an_approval_cannot_activate_a_role_the_requester_lost_meanwhile,
    an_ended_assignment_is_renewed_by_an_administrators_decision,
    an_undecided_stage_escalates_to_its_escalation_approvers,
    a_request_waiting_for_an_administrator_can_be_withdrawn,
    an_eligibility_extension_is_withdrawn_on_its_own_collection,
);
