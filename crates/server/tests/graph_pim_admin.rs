//! Role administration over real HTTP, on both backends: role settings read by anyone signed in
//! and changed rule by rule only by an *active* Privileged Role Administrator or Global
//! Administrator (an eligible one must activate first), malformed changes refused with nothing
//! changed, the `$filter` of policy assignments, and eligibility made and ended by
//! `adminAssign`/`adminRemove`, seen by the principal through `filterByCurrentUser` (directly, or
//! through a role-assignable group).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::graph::{administrator, assign, get, patch, post, signed_in};
use common::Env;
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR};
use serde_json::{json, Value};

const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
const EXPIRATION_RULE: &str = "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule";
const ELIGIBILITY_REQUESTS: &str = "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests";
const MINE: &str = "filterByCurrentUser(on='principal')";

fn policy_path(role: &str) -> String {
    format!("/v1.0/policies/roleManagementPolicies/DirectoryRole_{role}")
}

fn rule_path(role: &str, rule: &str) -> String {
    format!("{}/rules/{rule}", policy_path(role))
}

fn two_hours() -> Value {
    json!({
        "@odata.type": EXPIRATION_RULE,
        "id": "Expiration_EndUser_Assignment",
        "isExpirationRequired": true,
        "maximumDuration": "PT2H"
    })
}

fn by(record: &store::AuditRecord) -> &str {
    record.entry.initiated_by["user"]["id"]
        .as_str()
        .unwrap_or("")
}

async fn an_active_role_administrator_changes_a_rule_and_it_is_audited(env: &Env) {
    let (admin, token) = administrator(env, "pra@example.test").await;
    let rule = rule_path(GLOBAL_ADMINISTRATOR, "Expiration_EndUser_Assignment");

    let (status, policy) = get(
        env,
        &format!("{}?$expand=rules", policy_path(GLOBAL_ADMINISTRATOR)),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{policy}");
    assert_eq!(
        policy["id"],
        format!("DirectoryRole_{GLOBAL_ADMINISTRATOR}")
    );
    assert_eq!(policy["scopeType"], "DirectoryRole");
    assert_eq!(policy["rules"].as_array().unwrap().len(), 17);
    let (status, rules) = get(
        env,
        &format!("{}/rules", policy_path(GLOBAL_ADMINISTRATOR)),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(rules["value"].as_array().unwrap().len(), 17);
    let (status, before) = get(env, &rule, &token).await;
    assert_eq!(status, 200);
    assert_eq!(before["@odata.type"], EXPIRATION_RULE);
    assert_eq!(before["maximumDuration"], "PT8H");

    let (status, changed) = patch(env, &rule, &token, two_hours()).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["maximumDuration"], "PT2H");
    assert_eq!(changed["isExpirationRequired"], true);
    assert_eq!(changed["target"]["caller"], "EndUser", "the target is kept");

    // The next reads show it, with who changed the settings.
    let (_, after) = get(env, &rule, &token).await;
    assert_eq!(after["maximumDuration"], "PT2H");
    let (_, policy) = get(env, &policy_path(GLOBAL_ADMINISTRATOR), &token).await;
    assert_eq!(policy["lastModifiedBy"]["id"], admin.id.as_str());
    let stored = env
        .state
        .store
        .get_role_policy(GLOBAL_ADMINISTRATOR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 1);
    // Another role is untouched.
    let (_, other) = get(
        env,
        &rule_path(SECURITY_READER, "Expiration_EndUser_Assignment"),
        &token,
    )
    .await;
    assert_eq!(other["maximumDuration"], "PT8H");

    // A second change builds on the first (version 2).
    let (status, _) = patch(
        env,
        &rule_path(GLOBAL_ADMINISTRATOR, "Enablement_EndUser_Assignment"),
        &token,
        json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
            "enabledRules": ["Justification", "Ticketing"]
        }),
    )
    .await;
    assert_eq!(status, 200);
    let stored = env
        .state
        .store
        .get_role_policy(GLOBAL_ADMINISTRATOR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 2);
    let (_, after) = get(env, &rule, &token).await;
    assert_eq!(after["maximumDuration"], "PT2H");

    let changes: Vec<_> = common::audits_in(env, Some("RoleManagement"))
        .await
        .into_iter()
        .filter(|a| a.entry.activity_display_name == "Update role setting in PIM")
        .collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(changes
        .iter()
        .all(|a| a.entry.result == store::AuditResult::Success && by(a) == admin.id));
    assert!(changes.iter().any(|a| a
        .entry
        .additional_details
        .to_string()
        .contains("Expiration_EndUser_Assignment")));
    assert!(env
        .state
        .store
        .verify_audit_chain()
        .await
        .unwrap()
        .is_intact());

    // The administrator's own active role is listed as theirs, assigned directly.
    let (status, mine) = get(
        env,
        &format!("/v1.0/roleManagement/directory/roleAssignmentScheduleInstances/{MINE}"),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{mine}");
    let mine = mine["value"].as_array().unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["roleDefinitionId"], PRIVILEGED_ROLE_ADMINISTRATOR);
    assert_eq!(mine[0]["assignmentType"], "Assigned");
    assert_eq!(mine[0]["memberType"], "Direct");
}

async fn an_eligible_administrator_must_activate_before_changing_settings(env: &Env) {
    let (user, token) = signed_in(env, "eligible-pra@example.test").await;
    assign(
        env,
        &user.id,
        PRIVILEGED_ROLE_ADMINISTRATOR,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    // An activation that ended an hour ago does not count either.
    assign(
        env,
        &user.id,
        GLOBAL_ADMINISTRATOR,
        AssignmentStatus::Active,
        Some(env.now() - Duration::hours(1)),
    )
    .await;
    let rule = rule_path(GLOBAL_ADMINISTRATOR, "Expiration_EndUser_Assignment");

    // Reading is allowed; changing is not.
    let (status, _) = get(env, &rule, &token).await;
    assert_eq!(status, 200);
    let (status, body) = patch(env, &rule, &token, two_hours()).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Privileged Role Administrator")
            && message.contains("Global Administrator")
            && message.contains("activate"),
        "{message}"
    );
    let (_, after) = get(env, &rule, &token).await;
    assert_eq!(after["maximumDuration"], "PT8H");
    assert!(env
        .state
        .store
        .get_role_policy(GLOBAL_ADMINISTRATOR)
        .await
        .unwrap()
        .is_none());
    let refusals: Vec<_> = common::audits_in(env, Some("RoleManagement"))
        .await
        .into_iter()
        .filter(|a| a.entry.result == store::AuditResult::Failure && by(a) == user.id)
        .collect();
    assert_eq!(refusals.len(), 1, "{refusals:?}");

    // Nor may they assign eligibility or list everyone's schedules.
    let (status, _) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &token,
        json!({"action": "adminAssign", "principalId": user.id, "roleDefinitionId": SECURITY_READER,
               "directoryScopeId": "/"}),
    )
    .await;
    assert_eq!(status, 403);
    for list in [
        "roleEligibilitySchedules",
        "roleAssignmentSchedules",
        "roleEligibilityScheduleInstances",
        "roleAssignmentScheduleInstances",
        "roleEligibilityScheduleRequests",
    ] {
        let (status, body) = get(
            env,
            &format!("/v1.0/roleManagement/directory/{list}"),
            &token,
        )
        .await;
        assert_eq!(status, 403, "{list}: {body}");
    }

    // Active Global Administrator through a role-assignable group: now they may.
    let mut group = store::Group::new("Tier 0 admins", env.now());
    group.is_assignable_to_role = true;
    env.state.store.create_group(&group).await.unwrap();
    env.state
        .store
        .add_member(&group.id, &user.id)
        .await
        .unwrap();
    assign(
        env,
        &group.id,
        GLOBAL_ADMINISTRATOR,
        AssignmentStatus::Active,
        Some(env.now() + Duration::hours(1)),
    )
    .await;
    let (status, body) = patch(env, &rule, &token, two_hours()).await;
    assert_eq!(status, 200, "{body}");
}

async fn malformed_rule_changes_are_refused_and_change_nothing(env: &Env) {
    let (_, token) = administrator(env, "pra@example.test").await;
    let rule = rule_path(GLOBAL_ADMINISTRATOR, "Expiration_EndUser_Assignment");
    let cases = [
        (
            json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
                   "maximumDuration": "PT2H"}),
            "InvalidPolicyRule",
            "unifiedRoleManagementPolicyEnablementRule",
        ),
        (
            json!({"maximumDuration": "PT2H"}),
            "InvalidPolicyRule",
            "@odata.type",
        ),
        (
            json!({"@odata.type": EXPIRATION_RULE, "maximumduration": "PT2H"}),
            "InvalidPolicyRule",
            "maximumduration",
        ),
        (
            json!({"@odata.type": EXPIRATION_RULE, "maximumDuration": "PT2X"}),
            "InvalidPolicyRule",
            "maximumDuration",
        ),
        (
            json!({"@odata.type": EXPIRATION_RULE, "maximumDuration": "PT0H"}),
            "InvalidPolicyRule",
            "longer than zero",
        ),
        (
            json!({"@odata.type": EXPIRATION_RULE, "id": "Expiration_Admin_Assignment",
                   "maximumDuration": "PT2H"}),
            "InvalidPolicyRule",
            "Expiration_Admin_Assignment",
        ),
        (json!(["PT2H"]), "BadRequest", "JSON object"),
    ];
    for (body, code, mentions) in cases {
        let (status, answer) = patch(env, &rule, &token, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{body}: {message}");
    }
    // Not JSON at all.
    let r = reqwest::Client::new()
        .patch(format!("{}{rule}", env.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{maximumDuration: PT2H")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Unknown rule, unknown policy, policy of an unknown role.
    for path in [
        rule_path(GLOBAL_ADMINISTRATOR, "Expiration_EndUser_Nothing"),
        "/v1.0/policies/roleManagementPolicies/Foo_1/rules/Expiration_EndUser_Assignment".into(),
        rule_path("no-such-role", "Expiration_EndUser_Assignment"),
    ] {
        let (status, answer) = patch(env, &path, &token, two_hours()).await;
        assert_eq!(status, 404, "{path}: {answer}");
    }
    let (status, _) = get(env, &policy_path("no-such-role"), &token).await;
    assert_eq!(status, 404);
    let (status, _) = get(
        env,
        &rule_path(GLOBAL_ADMINISTRATOR, "Nope_EndUser_Assignment"),
        &token,
    )
    .await;
    assert_eq!(status, 404);

    // Nothing changed.
    let (_, after) = get(env, &rule, &token).await;
    assert_eq!(after["maximumDuration"], "PT8H");
    assert!(env
        .state
        .store
        .get_role_policy(GLOBAL_ADMINISTRATOR)
        .await
        .unwrap()
        .is_none());
    assert!(!common::audits_in(env, Some("RoleManagement"))
        .await
        .iter()
        .any(|a| a.entry.result == store::AuditResult::Success));
}

async fn policy_assignments_filter_and_page(env: &Env) {
    // Anyone signed in may read role settings.
    let (_, token) = signed_in(env, "reader@example.test").await;
    let base = "/v1.0/policies/roleManagementPolicyAssignments";
    let filter = format!(
        "{base}?$filter=scopeId eq '/' and scopeType eq 'DirectoryRole' and roleDefinitionId eq '{GLOBAL_ADMINISTRATOR}'"
    );
    let (status, body) = get(env, &filter, &token).await;
    assert_eq!(status, 200, "{body}");
    let value = body["value"].as_array().unwrap();
    assert_eq!(value.len(), 1, "{body}");
    let policy_id = format!("DirectoryRole_{GLOBAL_ADMINISTRATOR}");
    assert_eq!(value[0]["policyId"], policy_id.as_str());
    assert_eq!(value[0]["roleDefinitionId"], GLOBAL_ADMINISTRATOR);
    assert_eq!(
        value[0]["id"],
        format!("{policy_id}_{GLOBAL_ADMINISTRATOR}")
    );
    assert!(value[0].get("policy").is_none());
    // $expand=policy embeds the settings; the policy it names is readable.
    let (_, body) = get(
        env,
        &format!("{filter}&$expand=policy($expand=rules)"),
        &token,
    )
    .await;
    assert_eq!(
        body["value"][0]["policy"]["rules"]
            .as_array()
            .unwrap()
            .len(),
        17
    );
    let (status, _) = get(
        env,
        &format!("/v1.0/policies/roleManagementPolicies/{policy_id}"),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    // Another scope matches nothing; without the role, every role's assignment.
    let (_, body) = get(
        env,
        &format!(
            "{base}?$filter=scopeId eq '/administrativeUnits/x' and scopeType eq 'DirectoryRole'"
        ),
        &token,
    )
    .await;
    assert_eq!(body["value"].as_array().unwrap().len(), 0);
    let (_, all) = get(
        env,
        &format!("{base}?$filter=scopeId eq '/' and scopeType eq 'DirectoryRole'"),
        &token,
    )
    .await;
    let all: Vec<String> = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all.len(), 10);

    // Paged by 3: four pages, the same ten, in order, each link keeping the filter.
    let mut next = Some(format!(
        "{base}?$filter=scopeId eq '/' and scopeType eq 'DirectoryRole'&$top=3"
    ));
    let mut paged = Vec::new();
    let mut pages = 0;
    while let Some(link) = next {
        let (status, body) = get(env, &link, &token).await;
        assert_eq!(status, 200, "{link}: {body}");
        let items = body["value"].as_array().unwrap();
        assert!(items.len() <= 3);
        paged.extend(items.iter().map(|a| a["id"].as_str().unwrap().to_string()));
        next = body["@odata.nextLink"].as_str().map(str::to_string);
        if let Some(link) = &next {
            assert!(link.starts_with(&env.base), "{link}");
            assert!(link.contains("filter"), "{link}");
        }
        pages += 1;
        assert!(pages <= 4, "too many pages");
    }
    assert_eq!(pages, 4);
    assert_eq!(paged, all);

    // Refused: unknown properties (named), unsupported operators and options.
    let (status, body) = get(
        env,
        &format!("{base}?$filter=scopeId eq '/' and colour eq 'red' and size eq 'L'"),
        &token,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "BadRequest");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("colour, size") && message.contains("roleDefinitionId"),
        "{message}"
    );
    for bad in [
        "$filter=scopeId ne '/'",
        "$filter=scopeId eq '/' or scopeType eq 'DirectoryRole'",
        "$filter=roleDefinitionId eq 62e90394",
        "$filter=scopeId eq '/",
        "$select=*",
        "$orderby=id",
        "$top=0",
        "$expand=rules",
    ] {
        let (status, body) = get(env, &format!("{base}?{bad}"), &token).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "BadRequest", "{bad}");
    }
}

fn assign_body(principal: &str, role: &str, expiration: Value) -> Value {
    json!({
        "action": "adminAssign",
        "principalId": principal,
        "roleDefinitionId": role,
        "directoryScopeId": "/",
        "justification": "joins the on-call rotation",
        "scheduleInfo": { "expiration": expiration }
    })
}

fn remove_body(principal: &str, role: &str) -> Value {
    json!({
        "action": "adminRemove",
        "principalId": principal,
        "roleDefinitionId": role,
        "directoryScopeId": "/",
        "justification": "left the rotation"
    })
}

async fn mine(env: &Env, collection: &str, token: &str) -> Vec<Value> {
    let (status, body) = get(
        env,
        &format!("/v1.0/roleManagement/directory/{collection}/{MINE}"),
        token,
    )
    .await;
    assert_eq!(status, 200, "{collection}: {body}");
    body["value"].as_array().unwrap().clone()
}

async fn admin_assign_makes_a_user_eligible_and_admin_remove_ends_it(env: &Env) {
    let (admin, admin_token) = administrator(env, "pra@example.test").await;
    let (bob, bob_token) = signed_in(env, "bob@example.test").await;
    assert!(mine(env, "roleEligibilitySchedules", &bob_token)
        .await
        .is_empty());

    let thirty_days = json!({"type": "afterDuration", "duration": "P30D"});
    let (status, created) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &admin_token,
        assign_body(&bob.id, GLOBAL_ADMINISTRATOR, thirty_days.clone()),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "Provisioned");
    assert_eq!(created["action"], "adminAssign");
    assert_eq!(created["principalId"], bob.id.as_str());
    assert_eq!(created["createdBy"]["user"]["id"], admin.id.as_str());
    let request_id = created["id"].as_str().unwrap().to_string();
    let schedule_id = created["targetScheduleId"].as_str().unwrap().to_string();

    // Bob sees it as his, directly; an instance in force now; his request.
    let schedules = mine(env, "roleEligibilitySchedules", &bob_token).await;
    assert_eq!(schedules.len(), 1, "{schedules:?}");
    let s = &schedules[0];
    assert_eq!(s["id"], schedule_id.as_str());
    assert_eq!(s["principalId"], bob.id.as_str());
    assert_eq!(s["roleDefinitionId"], GLOBAL_ADMINISTRATOR);
    assert_eq!(s["directoryScopeId"], "/");
    assert_eq!(s["memberType"], "Direct");
    assert_eq!(s["status"], "Provisioned");
    assert_eq!(s["createdUsing"], request_id.as_str());
    assert_eq!(s["scheduleInfo"]["expiration"]["type"], "afterDateTime");
    let start =
        chrono::DateTime::parse_from_rfc3339(s["scheduleInfo"]["startDateTime"].as_str().unwrap())
            .unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(
        s["scheduleInfo"]["expiration"]["endDateTime"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(end - start, Duration::days(30));
    assert!(s.get("assignmentType").is_none());
    let instances = mine(env, "roleEligibilityScheduleInstances", &bob_token).await;
    assert_eq!(instances.len(), 1);
    assert_eq!(
        instances[0]["roleEligibilityScheduleId"],
        schedule_id.as_str()
    );
    assert_eq!(instances[0]["memberType"], "Direct");
    let (status, requests) = get(env, &format!("{ELIGIBILITY_REQUESTS}/{MINE}"), &bob_token).await;
    assert_eq!(status, 200);
    assert_eq!(requests["value"][0]["id"], request_id.as_str());
    // Not the administrator's: their filtered lists do not show it.
    assert!(mine(env, "roleEligibilitySchedules", &admin_token)
        .await
        .is_empty());
    // Bob may not list everyone's; the administrator may, and filter.
    let (status, _) = get(
        env,
        "/v1.0/roleManagement/directory/roleEligibilitySchedules",
        &bob_token,
    )
    .await;
    assert_eq!(status, 403);
    let (status, all) = get(
        env,
        &format!(
            "/v1.0/roleManagement/directory/roleEligibilitySchedules?$filter=principalId eq '{}'",
            bob.id
        ),
        &admin_token,
    )
    .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["value"].as_array().unwrap().len(), 1);
    assert_eq!(all["value"][0]["id"], schedule_id.as_str());
    let (status, _) = get(
        env,
        "/v1.0/roleManagement/directory/roleEligibilitySchedules?$filter=colour eq 'red'",
        &admin_token,
    )
    .await;
    assert_eq!(status, 400);
    // By id: the administrator and Bob; one instance, not schedules of others.
    let (status, one) = get(
        env,
        &format!("/v1.0/roleManagement/directory/roleEligibilitySchedules/{schedule_id}"),
        &bob_token,
    )
    .await;
    assert_eq!((status, one["id"].as_str()), (200, Some(&*schedule_id)));
    // And the store agrees: an eligible assignment in force, made by the request.
    let scheduled = env
        .state
        .store
        .get_scheduled_assignment(&schedule_id)
        .await
        .unwrap();
    assert_eq!(scheduled.assignment.status, AssignmentStatus::Eligible);
    assert_eq!(scheduled.request_id.as_deref(), Some(&*request_id));
    let audited: Vec<_> = common::audits_in(env, Some("RoleManagement"))
        .await
        .into_iter()
        .filter(|a| a.entry.correlation_id.as_deref() == Some(&*request_id))
        .collect();
    assert_eq!(audited.len(), 1);
    assert_eq!(
        audited[0].entry.activity_display_name,
        "Add eligible member to role in PIM completed (timebound)"
    );

    // Twice: refused. Permanent eligibility: refused by Expiration_Admin_Eligibility.
    let (status, body) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &admin_token,
        assign_body(&bob.id, GLOBAL_ADMINISTRATOR, thirty_days),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "RoleAssignmentExists");
    let (status, body) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &admin_token,
        assign_body(&bob.id, SECURITY_READER, json!({"type": "noExpiration"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["code"],
        "RoleAssignmentRequestPolicyValidationFailed"
    );
    assert_eq!(
        mine(env, "roleEligibilitySchedules", &bob_token)
            .await
            .len(),
        1
    );

    // Removed: gone from Bob's lists, the request that made it revoked.
    let (status, removed) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &admin_token,
        remove_body(&bob.id, GLOBAL_ADMINISTRATOR),
    )
    .await;
    assert_eq!(status, 201, "{removed}");
    assert_eq!(removed["action"], "adminRemove");
    assert_eq!(removed["status"], "Revoked");
    assert_eq!(removed["targetScheduleId"], schedule_id.as_str());
    assert!(mine(env, "roleEligibilitySchedules", &bob_token)
        .await
        .is_empty());
    assert!(mine(env, "roleEligibilityScheduleInstances", &bob_token)
        .await
        .is_empty());
    let (status, first) = get(
        env,
        &format!("{ELIGIBILITY_REQUESTS}/{request_id}"),
        &admin_token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(first["status"], "Revoked");
    // The request by id: Bob reads his own (with its OData context); a user who neither made
    // it, nor is its principal, nor administers roles does not find it.
    let (status, own) = get(
        env,
        &format!("{ELIGIBILITY_REQUESTS}/{request_id}"),
        &bob_token,
    )
    .await;
    assert_eq!((status, own["id"].as_str()), (200, Some(&*request_id)));
    assert!(own["@odata.context"]
        .as_str()
        .is_some_and(|c| c.ends_with("roleEligibilityScheduleRequests/$entity")));
    let (_, carol_token) = signed_in(env, "carol@example.test").await;
    let (status, body) = get(
        env,
        &format!("{ELIGIBILITY_REQUESTS}/{request_id}"),
        &carol_token,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "Request_ResourceNotFound");
    let (status, body) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &admin_token,
        remove_body(&bob.id, GLOBAL_ADMINISTRATOR),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "RoleAssignmentDoesNotExist");
    let (_, requests) = get(env, &format!("{ELIGIBILITY_REQUESTS}/{MINE}"), &bob_token).await;
    assert_eq!(requests["value"].as_array().unwrap().len(), 2);
}

async fn group_eligibility_is_listed_with_member_type_group(env: &Env) {
    let (_, admin_token) = administrator(env, "pra@example.test").await;
    let (carol, carol_token) = signed_in(env, "carol@example.test").await;
    let mut group = store::Group::new("Security on-call", env.now());
    group.is_assignable_to_role = true;
    env.state.store.create_group(&group).await.unwrap();
    env.state
        .store
        .add_member(&group.id, &carol.id)
        .await
        .unwrap();
    let plain = store::Group::new("Everyone", env.now());
    env.state.store.create_group(&plain).await.unwrap();

    let week = json!({"type": "afterDuration", "duration": "P7D"});
    let (status, body) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &admin_token,
        assign_body(&plain.id, SECURITY_READER, week.clone()),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("role-assignable"));
    let (status, body) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &admin_token,
        assign_body("no-such-principal", SECURITY_READER, week.clone()),
    )
    .await;
    assert_eq!(status, 404, "{body}");

    let (status, created) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &admin_token,
        assign_body(&group.id, SECURITY_READER, week),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let schedule_id = created["targetScheduleId"].as_str().unwrap();

    // Carol holds it through the group.
    let schedules = mine(env, "roleEligibilitySchedules", &carol_token).await;
    assert_eq!(schedules.len(), 1, "{schedules:?}");
    assert_eq!(schedules[0]["id"], schedule_id);
    assert_eq!(schedules[0]["memberType"], "Group");
    assert_eq!(schedules[0]["principalId"], carol.id.as_str());
    let instances = mine(env, "roleEligibilityScheduleInstances", &carol_token).await;
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0]["memberType"], "Group");
    assert_eq!(instances[0]["roleEligibilityScheduleId"], schedule_id);
    // The administrators' view shows the group as the holder.
    let (_, all) = get(
        env,
        "/v1.0/roleManagement/directory/roleEligibilitySchedules",
        &admin_token,
    )
    .await;
    let all = all["value"].as_array().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["principalId"], group.id.as_str());
    assert_eq!(all[0]["memberType"], "Direct");

    // A direct eligibility of her own is listed beside it as Direct.
    env.state
        .store
        .assign_role(&store::RoleAssignment {
            id: store::new_id(),
            principal_id: policy::ids::PrincipalId::trusted(carol.id.clone()),
            role_definition_id: policy::ids::RoleId::trusted(GLOBAL_ADMINISTRATOR),
            directory_scope_id: "/".into(),
            status: AssignmentStatus::Eligible,
            start_at: env.now() + Duration::days(2),
            end_at: None,
        })
        .await
        .unwrap();
    let schedules = mine(env, "roleEligibilitySchedules", &carol_token).await;
    let mut kinds: Vec<&str> = schedules
        .iter()
        .map(|s| s["memberType"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["Direct", "Group"]);
    // The direct one starts in two days: a schedule, not yet an instance.
    assert_eq!(
        mine(env, "roleEligibilityScheduleInstances", &carol_token)
            .await
            .len(),
        1
    );

    // Removing the group's eligibility ends hers.
    let (status, _) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &admin_token,
        remove_body(&group.id, SECURITY_READER),
    )
    .await;
    assert_eq!(status, 201);
    let schedules = mine(env, "roleEligibilitySchedules", &carol_token).await;
    assert_eq!(schedules.len(), 1);
    assert_eq!(schedules[0]["memberType"], "Direct");
}

async fn settings_and_eligibility_from_the_api_govern_activation(env: &Env) {
    let (_, admin_token) = administrator(env, "pra@example.test").await;
    let (dave, dave_token) = signed_in(env, "dave@example.test").await;
    let activate = |duration: &str| {
        json!({
            "action": "selfActivate",
            "principalId": dave.id,
            "roleDefinitionId": SECURITY_READER,
            "directoryScopeId": "/",
            "justification": "quarterly access review",
            "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": duration } }
        })
    };
    let activations = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests";
    // Not eligible yet.
    let (status, body) = post(env, activations, &dave_token, activate("PT1H")).await;
    assert_eq!(status, 400, "{body}");

    // The administrator: eligibility for Dave; activation at most two hours, with a
    // justification and no MFA claim check.
    let (status, body) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &admin_token,
        assign_body(
            &dave.id,
            SECURITY_READER,
            json!({"type": "afterDuration", "duration": "P7D"}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = patch(
        env,
        &rule_path(SECURITY_READER, "Expiration_EndUser_Assignment"),
        &admin_token,
        two_hours(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = patch(
        env,
        &rule_path(SECURITY_READER, "Enablement_EndUser_Assignment"),
        &admin_token,
        json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
            "enabledRules": ["Justification"]
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Three hours: refused by the new maximum; one hour: activated.
    let (status, body) = post(env, activations, &dave_token, activate("PT3H")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["code"],
        "RoleAssignmentRequestPolicyValidationFailed"
    );
    let (status, activated) = post(env, activations, &dave_token, activate("PT1H")).await;
    assert_eq!(status, 201, "{activated}");
    assert_eq!(activated["status"], "Provisioned");

    // Dave's active role: an activated schedule and instance made by that request.
    let schedules = mine(env, "roleAssignmentSchedules", &dave_token).await;
    assert_eq!(schedules.len(), 1, "{schedules:?}");
    assert_eq!(schedules[0]["assignmentType"], "Activated");
    assert_eq!(schedules[0]["createdUsing"], activated["id"]);
    assert_eq!(schedules[0]["id"], activated["targetScheduleId"]);
    let instances = mine(env, "roleAssignmentScheduleInstances", &dave_token).await;
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0]["assignmentType"], "Activated");
    assert_eq!(
        instances[0]["roleAssignmentScheduleId"],
        activated["targetScheduleId"]
    );
    // The administrators' view lists it with their own assigned role.
    let (status, all) = get(
        env,
        "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances?$filter=assignmentType eq 'Activated'",
        &admin_token,
    )
    .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["value"].as_array().unwrap().len(), 1);
    assert_eq!(all["value"][0]["principalId"], dave.id.as_str());
}

async fn concurrent_rule_changes_lose_nothing(env: &Env) {
    let (_, token) = administrator(env, "pra@example.test").await;
    // A role may require only a context the tenant defines.
    env.policies(json!({
        "authenticationContextClassReferences": [{ "id": "c1", "displayName": "PIM", "isAvailable": true }]
    }))
    .await;
    let expiration = |rule: &str, duration: &str| {
        (
            rule.to_string(),
            json!({"@odata.type": EXPIRATION_RULE, "maximumDuration": duration}),
        )
    };
    let changes = vec![
        expiration("Expiration_EndUser_Assignment", "PT2H"),
        expiration("Expiration_Admin_Eligibility", "P90D"),
        expiration("Expiration_Admin_Assignment", "P30D"),
        (
            "Enablement_EndUser_Assignment".to_string(),
            json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
                   "enabledRules": ["Justification"]}),
        ),
        (
            "AuthenticationContext_EndUser_Assignment".to_string(),
            json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
                   "isEnabled": true, "claimValue": "c1"}),
        ),
    ];
    let tasks: Vec<_> = changes
        .iter()
        .cloned()
        .map(|(rule, body)| {
            let url = format!("{}{}", env.base, rule_path(GLOBAL_ADMINISTRATOR, &rule));
            let token = token.clone();
            tokio::spawn(async move {
                let r = reqwest::Client::new()
                    .patch(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut applied = Vec::new();
    for (task, (rule, body)) in tasks.into_iter().zip(&changes) {
        let (status, answer) = task.await.unwrap();
        match status {
            200 => applied.push((rule.clone(), body.clone())),
            409 => assert_eq!(answer["error"]["code"], "Conflict"),
            other => panic!("{rule}: {other} {answer}"),
        }
    }
    assert!(!applied.is_empty());
    // Every change answered 200 is in the settings; one version per change.
    let stored = env
        .state
        .store
        .get_role_policy(GLOBAL_ADMINISTRATOR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, applied.len() as u64);
    let (_, policy) = get(env, &policy_path(GLOBAL_ADMINISTRATOR), &token).await;
    for (rule, body) in &applied {
        let found = policy["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == rule.as_str())
            .unwrap();
        for (key, value) in body.as_object().unwrap() {
            if !key.starts_with('@') {
                assert_eq!(&found[key], value, "{rule}.{key} lost");
            }
        }
    }
    let successes = common::audits_in(env, Some("RoleManagement"))
        .await
        .into_iter()
        .filter(|a| a.entry.result == store::AuditResult::Success)
        .count();
    assert_eq!(successes, applied.len());
}

fn admin_body(action: &str, principal: &str, role: &str, duration: &str) -> Value {
    json!({
        "action": action,
        "principalId": principal,
        "roleDefinitionId": role,
        "directoryScopeId": "/",
        "justification": "covering for the on-call lead",
        "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": duration } }
    })
}

async fn administrators_assign_extend_update_remove_and_renew_active_assignments(env: &Env) {
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (dave, dave_token) = signed_in(env, "dave@example.test").await;
    let requests = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests";
    let in_force = |schedules: &[Value]| -> Vec<(String, String)> {
        schedules
            .iter()
            .map(|s| {
                (
                    s["assignmentType"].as_str().unwrap_or("").to_string(),
                    s["scheduleInfo"]["expiration"]["endDateTime"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .collect()
    };
    let end_in = |days: i64| (env.now() + Duration::days(days)).timestamp();
    let ends = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(
            v["scheduleInfo"]["expiration"]["endDateTime"]
                .as_str()
                .unwrap(),
        )
        .unwrap()
        .timestamp()
    };

    // Only an active administrator assigns; then Dave holds Security Reader, assigned.
    let (status, _) = post(
        env,
        requests,
        &dave_token,
        admin_body("adminAssign", &dave.id, SECURITY_READER, "P1D"),
    )
    .await;
    assert_eq!(status, 403);
    let (status, assigned) = post(
        env,
        requests,
        &admin,
        admin_body("adminAssign", &dave.id, SECURITY_READER, "P1D"),
    )
    .await;
    assert_eq!(status, 201, "{assigned}");
    assert_eq!(assigned["status"], "Provisioned");
    let schedules = mine(env, "roleAssignmentSchedules", &dave_token).await;
    assert_eq!(schedules.len(), 1, "{schedules:?}");
    assert_eq!(in_force(&schedules)[0].0, "Assigned");
    assert!((ends(&schedules[0]) - end_in(1)).abs() <= 1);
    // Twice: refused. Longer than Expiration_Admin_Assignment (180 days): refused.
    let (status, body) = post(
        env,
        requests,
        &admin,
        admin_body("adminAssign", &dave.id, SECURITY_READER, "P1D"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("RoleAssignmentExists"))
    );

    // Extended to three days, then updated to two: one schedule in force each time.
    let (status, body) = post(
        env,
        requests,
        &admin,
        admin_body("adminExtend", &dave.id, SECURITY_READER, "P3D"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let schedules = mine(env, "roleAssignmentSchedules", &dave_token).await;
    assert_eq!(schedules.len(), 1, "{schedules:?}");
    assert!((ends(&schedules[0]) - end_in(3)).abs() <= 1);
    let (status, body) = post(
        env,
        requests,
        &admin,
        admin_body("adminUpdate", &dave.id, SECURITY_READER, "P200D"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("RoleAssignmentRequestPolicyValidationFailed")),
        "{body}"
    );
    let (status, body) = post(
        env,
        requests,
        &admin,
        admin_body("adminUpdate", &dave.id, SECURITY_READER, "P2D"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let schedules = mine(env, "roleAssignmentSchedules", &dave_token).await;
    assert_eq!(schedules.len(), 1, "{schedules:?}");
    assert!((ends(&schedules[0]) - end_in(2)).abs() <= 1);
    // Renewing what has not ended: refused.
    let (status, _) = post(
        env,
        requests,
        &admin,
        admin_body("adminRenew", &dave.id, SECURITY_READER, "P1D"),
    )
    .await;
    assert_eq!(status, 400);

    // Removed: nothing in force; renewed: in force again.
    let (status, removed) = post(
        env,
        requests,
        &admin,
        admin_body("adminRemove", &dave.id, SECURITY_READER, "P1D"),
    )
    .await;
    assert_eq!(
        (status, removed["status"].as_str()),
        (201, Some("Revoked")),
        "{removed}"
    );
    assert!(mine(env, "roleAssignmentSchedules", &dave_token)
        .await
        .is_empty());
    let (status, body) = post(
        env,
        requests,
        &admin,
        admin_body("adminExtend", &dave.id, SECURITY_READER, "P3D"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("RoleAssignmentDoesNotExist")),
        "{body}"
    );
    let (status, body) = post(
        env,
        requests,
        &admin,
        admin_body("adminRenew", &dave.id, SECURITY_READER, "P1D"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        mine(env, "roleAssignmentSchedules", &dave_token)
            .await
            .len(),
        1
    );

    // Conditional Access sees the role (includeRoles reads active assignments).
    let engine = env.state.engine().await.unwrap();
    assert!(engine
        .active_roles(&dave.id, &engine.transitive_groups(&dave.id))
        .iter()
        .any(|r| r.eq_ignore_ascii_case(SECURITY_READER)));

    // The administrators' list shows the six requests made, with $filter; Dave may not list.
    let (status, all) = get(
        env,
        &format!("{requests}?$filter=principalId eq '{}'", dave.id),
        &admin,
    )
    .await;
    assert_eq!(status, 200, "{all}");
    let actions: Vec<&str> = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "adminRenew",
            "adminRemove",
            "adminUpdate",
            "adminExtend",
            "adminAssign"
        ]
    );
    let (status, _) = get(env, requests, &dave_token).await;
    assert_eq!(status, 403);
    // An administrator reads any request; Dave his own.
    let id = assigned["id"].as_str().unwrap();
    let (status, _) = get(env, &format!("{requests}/{id}"), &admin).await;
    assert_eq!(status, 200);
    let (status, _) = get(env, &format!("{requests}/{id}"), &dave_token).await;
    assert_eq!(status, 200);

    // Eligibility takes the same actions: extend an eligibility.
    let (status, body) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &admin,
        admin_body("adminAssign", &dave.id, GLOBAL_ADMINISTRATOR, "P7D"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &admin,
        admin_body("adminExtend", &dave.id, GLOBAL_ADMINISTRATOR, "P30D"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let eligible = mine(env, "roleEligibilitySchedules", &dave_token).await;
    assert_eq!(eligible.len(), 1, "{eligible:?}");
    assert!((ends(&eligible[0]) - end_in(30)).abs() <= 1);
    // Self-extension is not there yet, and says so.
    let (status, body) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &dave_token,
        admin_body("selfExtend", &dave.id, GLOBAL_ADMINISTRATOR, "P30D"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

async fn preflight_and_lint_refuse_what_they_cannot_check(env: &Env) {
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (_, dave) = signed_in(env, "dave@example.test").await;
    let cases = [
        // Neither or both subjects, an unknown parameter, a parameter twice.
        ("/v1.0/portcullis/preflight", 400, "BadRequest"),
        (
            "/v1.0/portcullis/preflight?role=x&policy=y",
            400,
            "BadRequest",
        ),
        (
            "/v1.0/portcullis/preflight?role=x&color=red",
            400,
            "BadRequest",
        ),
        (
            "/v1.0/portcullis/preflight?role=x&role=y",
            400,
            "BadRequest",
        ),
        // Nothing by that name.
        (
            "/v1.0/portcullis/preflight?role=Chief%20Wizard",
            404,
            "Request_ResourceNotFound",
        ),
        (
            "/v1.0/portcullis/preflight?policy=no-such-policy",
            404,
            "Request_ResourceNotFound",
        ),
        (
            "/v1.0/portcullis/lint?breakGlass=ghost@example.test",
            404,
            "Request_ResourceNotFound",
        ),
        // Global Administrator's default settings: an MFA claim check, no strength to check.
        (
            "/v1.0/portcullis/preflight?role=Global%20Administrator",
            400,
            "NothingToPreflight",
        ),
    ];
    for (path, status, code) in cases {
        let (got, body) = get(env, path, &admin).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
    }
    let (_, body) = get(
        env,
        "/v1.0/portcullis/preflight?role=Global%20Administrator",
        &admin,
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MFA claim check"),
        "{body}"
    );
    // Only active administrators: the answers name users and their methods.
    for path in ["/v1.0/portcullis/lint", "/v1.0/portcullis/preflight?role=x"] {
        let (status, _) = get(env, path, &dave).await;
        assert_eq!(status, 403, "{path}");
    }
    let (status, lint) = get(
        env,
        "/v1.0/portcullis/lint?breakGlass=pra@example.test",
        &admin,
    )
    .await;
    assert_eq!(status, 200, "{lint}");
    assert_eq!(lint["breakGlass"].as_array().unwrap().len(), 1);
    assert_eq!(lint["roles"].as_array().unwrap().len(), 10);
}

on_both_backends!(
    an_active_role_administrator_changes_a_rule_and_it_is_audited,
    an_eligible_administrator_must_activate_before_changing_settings,
    malformed_rule_changes_are_refused_and_change_nothing,
    policy_assignments_filter_and_page,
    admin_assign_makes_a_user_eligible_and_admin_remove_ends_it,
    group_eligibility_is_listed_with_member_type_group,
    settings_and_eligibility_from_the_api_govern_activation,
    concurrent_rule_changes_lose_nothing,
    preflight_and_lint_refuse_what_they_cannot_check,
    administrators_assign_extend_update_remove_and_renew_active_assignments,
    removing_the_last_able_global_administrators_eligibility_is_guarded,
);

/// Ending an eligibility is a write that can lock out: with Global Administrator's activation
/// behind a phishing-resistant context, removing the eligibility of the only eligible user with a
/// key that counts is refused (`409`) unless forced — while another able one remains, it passes.
async fn removing_the_last_able_global_administrators_eligibility_is_guarded(env: &Env) {
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (adele, _) = signed_in(env, "adele@example.test").await;
    let (bruno, _) = signed_in(env, "bruno@example.test").await;
    let (carla, _) = signed_in(env, "carla@example.test").await;
    for user in [&adele, &bruno, &carla] {
        assign(
            env,
            &user.id,
            GLOBAL_ADMINISTRATOR,
            AssignmentStatus::Eligible,
            None,
        )
        .await;
    }
    // Adele and Bruno have keys that count; Carla has only a password.
    common::passkey(env, &adele).await;
    common::passkey(env, &bruno).await;
    env.policies(common::pim::context_policy(
        "c1",
        json!({"operator": "OR",
               "authenticationStrength": {"id": "00000000-0000-0000-0000-000000000004"}}),
    ))
    .await;
    common::pim::require_context(env, GLOBAL_ADMINISTRATOR, "c1").await;

    // Bruno remains able: removing Adele passes.
    let (status, body) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &admin,
        remove_body(&adele.id, GLOBAL_ADMINISTRATOR),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // Bruno is the last able one (Carla cannot satisfy c1): refused, still eligible.
    let (status, refused) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &admin,
        remove_body(&bruno.id, GLOBAL_ADMINISTRATOR),
    )
    .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "ConditionalAccessLockout");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("carla@example.test"), "{message}");
    let eligible = env
        .state
        .store
        .list_scheduled_assignments(&store::AssignmentQuery {
            principal_id: Some(bruno.id.clone()),
            status: Some(AssignmentStatus::Eligible),
            ..store::AssignmentQuery::default()
        })
        .await
        .unwrap();
    assert!(eligible
        .iter()
        .any(|s| s.closed_at.is_none() && s.assignment.end_at.is_none_or(|e| e > env.now())));
    // Removing Carla (who cannot activate anyway) passes.
    let (status, body) = post(
        env,
        ELIGIBILITY_REQUESTS,
        &admin,
        remove_body(&carla.id, GLOBAL_ADMINISTRATOR),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // Forced: done, and the force is on record.
    let (status, body) = post(
        env,
        &format!("{ELIGIBILITY_REQUESTS}?force=true"),
        &admin,
        remove_body(&bruno.id, GLOBAL_ADMINISTRATOR),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(common::audits_in(env, Some("RoleManagement"))
        .await
        .iter()
        .any(|a| a.entry.result == store::AuditResult::Success
            && a.entry.additional_details.to_string().contains("force")));
}
