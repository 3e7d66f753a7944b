//! What Microsoft's Graph SDKs send and read, over raw HTTP: the regressions that
//! `graph_sdk.rs` (the Python SDK itself) found, each pinned here without Python. Paths with a
//! doubled slash after `/v1.0` (the SDK's base URL ends with `/`), Graph error bodies for a path
//! nothing serves and a method a path does not take (the SDK cannot parse an empty 404 or 405),
//! `$select` on collections, `status.errorCode` in the sign-in log, and bodies as the SDK
//! serializes its models (`@odata.type` on objects, only the properties set) and as a client
//! that writes every property sends them (`null` for the unset ones), which Graph accepts alike.
//! Every test runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::graph::{administrator, get, holder, patch, post, signed_in, SECURITY_READER};
use common::Env;
use serde_json::{json, Value};

on_both_backends!(
    doubled_slashes_after_the_version_reach_their_routes,
    select_keeps_the_named_properties_of_a_collection,
    sign_in_status_carries_graph_error_codes,
    bodies_as_the_sdk_and_every_property_clients_send_them,
);

const CONTEXTS: &str = "/v1.0/identity/conditionalAccess/authenticationContextClassReferences";
const CA_ADMINISTRATOR: &str = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9";
const APPLICATION_ADMINISTRATOR: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";
const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";

async fn doubled_slashes_after_the_version_reach_their_routes(env: &Env) {
    let (_, admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    signed_in(env, "adele@example.test").await;

    // The Python SDK's spelling of a request (base URL `…/v1.0/` + `/users`).
    let (status, users) = get(env, "/v1.0//users?$top=1", &admin).await;
    assert_eq!(status, 200, "{users}");
    assert_eq!(users["value"].as_array().unwrap().len(), 1);
    // The next link names the route, with one slash.
    let next = users["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("{}/v1.0/users?", env.base)),
        "{next}"
    );
    let (status, created) = post(
        env,
        "/v1.0//identity/conditionalAccess//authenticationContextClassReferences",
        &admin,
        json!({"id": "c1", "displayName": "Tier 0", "isAvailable": true}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, read) = get(env, &format!("/v1.0///{}/c1", &CONTEXTS[6..]), &admin).await;
    assert_eq!((status, read["id"].as_str()), (200, Some("c1")), "{read}");

    // Only a run of slashes is taken as one: no other path is made up, and nothing outside
    // /v1.0 is rewritten.
    for path in [
        "/v1.0//no-such-collection",
        "/v1.1//users",
        "/v1.0x//users",
        "//v1.0x/users",
    ] {
        let (status, body) = get(env, path, &admin).await;
        assert_eq!(status, 404, "{path}");
        // In Graph's error shape under /v1.0 (an SDK parses it), not elsewhere.
        if path.starts_with("/v1.0/") {
            assert_eq!(
                body["error"]["code"], "Request_ResourceNotFound",
                "{path}: {body}"
            );
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .ends_with("GET /v1.0/no-such-collection."),
                "{body}"
            );
        }
    }
    // A route that exists still answers, whatever the catch-all: a POST nobody serves too.
    let (status, body) = post(
        env,
        "/v1.0/users/adele@example.test/nothing",
        &admin,
        json!({}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("Request_ResourceNotFound")),
        "{body}"
    );
    // A method the path does not take: 405 in Graph's shape, with what it takes.
    let r = reqwest::Client::new()
        .delete(format!("{}/v1.0//users", env.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let allow = r.headers()["allow"].to_str().unwrap().to_string();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Request_BadRequest", "{body}");
    assert_eq!(
        body["error"]["message"],
        "/v1.0/users does not take DELETE."
    );
    // Still authenticated like any request.
    let (status, body) = get(env, "/v1.0//users", "not-a-token").await;
    assert_eq!(status, 401, "{body}");
}

async fn select_keeps_the_named_properties_of_a_collection(env: &Env) {
    let (_, admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    signed_in(env, "adele@example.test").await;

    let (status, users) = get(
        env,
        "/v1.0/users?$select=id,userPrincipalName&$filter=accountEnabled eq true&$count=true",
        &admin,
    )
    .await;
    assert_eq!(status, 200, "{users}");
    assert_eq!(users["@odata.count"], 2);
    for user in users["value"].as_array().unwrap() {
        let mut keys: Vec<&String> = user.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["id", "userPrincipalName"], "{user}");
    }
    // A collection with $expand keeps what it expands.
    let (status, assignments) = get(
        env,
        &format!(
            "/v1.0/policies/roleManagementPolicyAssignments?$filter=scopeId eq '/' and \
             scopeType eq 'DirectoryRole' and roleDefinitionId eq '{APPLICATION_ADMINISTRATOR}'\
             &$select=policyId&$expand=policy($expand=rules)"
        ),
        &admin,
    )
    .await;
    assert_eq!(status, 200, "{assignments}");
    let one = &assignments["value"][0];
    assert_eq!(
        one["policyId"],
        format!("DirectoryRole_{APPLICATION_ADMINISTRATOR}")
    );
    assert!(one["policy"]["rules"].is_array(), "{one}");
    assert!(one.get("roleDefinitionId").is_none(), "{one}");

    for bad in [
        "/v1.0/users?$select=*",
        "/v1.0/users?$select=manager/id",
        "/v1.0/users?$select=",
    ] {
        let (status, body) = get(env, bad, &admin).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("BadRequest")),
            "{bad}: {body}"
        );
    }
    // One user: $select is not taken there yet, and says so rather than answering everything.
    let (status, body) = get(env, "/v1.0/users/adele@example.test?$select=id", &admin).await;
    assert_eq!(status, 400, "{body}");
}

async fn sign_in_status_carries_graph_error_codes(env: &Env) {
    let (_, reader) = holder(env, "reader@example.test", SECURITY_READER).await;
    let record = |id: &str, result: store::SignInResult, applied: Value| store::SignInRecord {
        id: id.into(),
        created_at: env.now(),
        user_id: None,
        user_principal_name: "adele@example.test".into(),
        client_id: Some("app".into()),
        ip: Some("203.0.113.9".into()),
        result,
        failure_reason: None,
        methods: vec![],
        applied_policies: applied,
        session_id: None,
        additional_details: None,
    };
    let policy = |result: &str| json!([{"id": "p", "displayName": "P", "result": result}]);
    for (id, result, applied, code) in [
        (
            "ok",
            store::SignInResult::Success,
            policy("success"),
            json!(0),
        ),
        (
            "more-proof",
            store::SignInResult::Interrupted,
            policy("failure"),
            json!(50074),
        ),
        (
            "blocked",
            store::SignInResult::Failure,
            policy("failure"),
            json!(53003),
        ),
        (
            "wrong-password",
            store::SignInResult::Failure,
            json!([]),
            Value::Null,
        ),
        (
            "report-only",
            store::SignInResult::Failure,
            policy("reportOnlyFailure"),
            Value::Null,
        ),
    ] {
        env.state
            .store
            .append_signin(&record(id, result, applied))
            .await
            .unwrap();
        let (status, body) = get(env, &format!("/v1.0/auditLogs/signIns/{id}"), &reader).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"]["errorCode"], code, "{id}: {body}");
        assert!(body["status"].get("errorCode").is_some(), "{body}");
    }
}

/// Step 2's rule and step 3's policy, as the SDK serializes its models and as a client sends
/// them that writes every property (`null` where unset), the way Microsoft's documentation
/// shows the rule (with its `id` and `target`).
async fn bodies_as_the_sdk_and_every_property_clients_send_them(env: &Env) {
    let (_, ca_admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    let (_, role_admin) = administrator(env, "pra@example.test").await;

    let (status, body) = post(
        env,
        CONTEXTS,
        &ca_admin,
        json!({
            "@odata.type": "#microsoft.graph.authenticationContextClassReference",
            "id": "c1", "displayName": "Tier 0 Role Activation (Sign-in Everytime)",
            "description": null, "isAvailable": true
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    let rule = format!(
        "/v1.0/policies/roleManagementPolicies/DirectoryRole_{APPLICATION_ADMINISTRATOR}/rules/AuthenticationContext_EndUser_Assignment"
    );
    let (status, body) = patch(
        env,
        &rule,
        &role_admin,
        json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
            "id": "AuthenticationContext_EndUser_Assignment",
            "isEnabled": true,
            "claimValue": "c1",
            "target": {
                "@odata.type": "microsoft.graph.unifiedRoleManagementPolicyRuleTarget",
                "caller": "EndUser", "operations": ["All"], "level": "Assignment",
                "inheritableSettings": [], "enforcedSettings": []
            }
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["claimValue"], "c1");

    // The policy as the SDK sends it: `@odata.type` on the policy and on the sign-in frequency,
    // none on the strength, only what was set.
    let sdk = json!({
        "@odata.type": "#microsoft.graph.conditionalAccessPolicy",
        "conditions": {
            "applications": {"includeAuthenticationContextClassReferences": ["c1"]},
            "clientAppTypes": ["all"],
            "users": {"includeRoles": [APPLICATION_ADMINISTRATOR]}
        },
        "displayName": "Tier 0 Role Activation",
        "grantControls": {"authenticationStrength": {"id": PHISHING_RESISTANT}, "operator": "OR"},
        "sessionControls": {"signInFrequency": {
            "isEnabled": true,
            "@odata.type": "#microsoft.graph.signInFrequencySessionControl",
            "authenticationType": "primaryAndSecondaryAuthentication",
            "frequencyInterval": "everyTime"
        }},
        "state": "enabled"
    });
    let (status, body) = post(
        env,
        "/v1.0/identity/conditionalAccess/policies",
        &ca_admin,
        sdk,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["grantControls"]["authenticationStrength"]["id"],
        PHISHING_RESISTANT
    );

    // Every property written, the unset ones null, typed objects annotated.
    let full = json!({
        "@odata.type": "#microsoft.graph.conditionalAccessPolicy",
        "id": null, "createdDateTime": null, "modifiedDateTime": null, "templateId": null,
        "description": null,
        "displayName": "Tier 0 Role Activation (every property)",
        "state": "enabled",
        "conditions": {
            "@odata.type": "#microsoft.graph.conditionalAccessConditionSet",
            "applications": {
                "@odata.type": "#microsoft.graph.conditionalAccessApplications",
                "includeApplications": [], "excludeApplications": [], "includeUserActions": [],
                "includeAuthenticationContextClassReferences": ["c1"], "applicationFilter": null
            },
            "users": {
                "@odata.type": "#microsoft.graph.conditionalAccessUsers",
                "includeUsers": [], "excludeUsers": [], "includeGroups": [], "excludeGroups": [],
                "includeRoles": [APPLICATION_ADMINISTRATOR], "excludeRoles": [],
                "includeGuestsOrExternalUsers": null, "excludeGuestsOrExternalUsers": null
            },
            "clientApplications": null, "clientAppTypes": ["all"], "devices": null,
            "locations": null, "platforms": null, "servicePrincipalRiskLevels": [],
            "signInRiskLevels": [], "userRiskLevels": [], "insiderRiskLevels": null
        },
        "grantControls": {
            "@odata.type": "#microsoft.graph.conditionalAccessGrantControls",
            "operator": "OR", "builtInControls": [], "customAuthenticationFactors": [],
            "termsOfUse": [],
            "authenticationStrength": {
                "@odata.type": "#microsoft.graph.authenticationStrengthPolicy",
                "id": PHISHING_RESISTANT
            }
        },
        "sessionControls": {
            "@odata.type": "#microsoft.graph.conditionalAccessSessionControls",
            "applicationEnforcedRestrictions": null, "cloudAppSecurity": null,
            "disableResilienceDefaults": null, "persistentBrowser": null,
            "signInFrequency": {
                "@odata.type": "#microsoft.graph.signInFrequencySessionControl",
                "isEnabled": true, "type": null, "value": null,
                "frequencyInterval": "everyTime",
                "authenticationType": "primaryAndSecondaryAuthentication"
            }
        }
    });
    let (status, body) = post(
        env,
        "/v1.0/identity/conditionalAccess/policies",
        &ca_admin,
        full,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["conditions"]["users"]["includeRoles"],
        json!([APPLICATION_ADMINISTRATOR])
    );
    assert_eq!(
        body["sessionControls"]["signInFrequency"]["frequencyInterval"],
        "everyTime"
    );
}
