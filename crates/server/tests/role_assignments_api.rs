//! `/v1.0/roleManagement/directory/roleAssignments` over HTTP: a direct (permanent, active)
//! assignment goes through the role's PIM rules — refused while the settings require active
//! assignments to expire or to carry a justification, made once they allow it —, gives the
//! role at once, is listed and read, and ends on `DELETE`. Only an active role administrator
//! uses the collection; what is malformed or names nothing is refused and changes nothing.
//! Every test runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::graph::{administrator, delete, get, patch, post, rule_path, signed_in};
use common::{audits_named, Env};
use serde_json::{json, Value};

on_both_backends!(
    a_direct_assignment_follows_the_roles_rules_and_ends_on_delete,
    only_role_administrators_use_it_and_bad_input_changes_nothing,
);

const ASSIGNMENTS: &str = "/v1.0/roleManagement/directory/roleAssignments";
/// Security Reader: reads Conditional Access policies, so holding it shows at once.
const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
const POLICIES: &str = "/v1.0/identity/conditionalAccess/policies";

fn direct(principal: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.unifiedRoleAssignment",
        "principalId": principal,
        "roleDefinitionId": SECURITY_READER,
        "directoryScopeId": "/",
    })
}

async fn listed_for(env: &Env, token: &str, principal: &str) -> Vec<Value> {
    let (status, list) = get(
        env,
        &format!("{ASSIGNMENTS}?$filter=principalId eq '{principal}'"),
        token,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    list["value"].as_array().unwrap().clone()
}

async fn a_direct_assignment_follows_the_roles_rules_and_ends_on_delete(env: &Env) {
    let (admin, token) = administrator(env, "pra@example.test").await;
    let (uma, uma_token) = signed_in(env, "uma@example.test").await;
    assert_eq!(get(env, POLICIES, &uma_token).await.0, 403);

    // The built-in settings require active assignments to expire (and a justification): a
    // permanent one through this door is refused like any other, naming the rule.
    let (status, refused) = post(env, ASSIGNMENTS, &token, direct(&uma.id)).await;
    assert_eq!(status, 400, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Expiration_Admin_Assignment") || message.contains("expir"),
        "{message}"
    );
    assert!(listed_for(env, &token, &uma.id).await.is_empty());
    assert_eq!(get(env, POLICIES, &uma_token).await.0, 403);
    assert!(!audits_named(env, "Add member to role in PIM refused")
        .await
        .is_empty());

    // Settings that allow permanent active assignments without a justification.
    for (rule, body) in [
        (
            "Expiration_Admin_Assignment",
            json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
                   "isExpirationRequired": false, "maximumDuration": "P180D"}),
        ),
        (
            "Enablement_Admin_Assignment",
            json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
                   "enabledRules": []}),
        ),
    ] {
        let (status, answer) = patch(env, &rule_path(rule), &token, body).await;
        assert_eq!(status, 200, "{rule}: {answer}");
    }

    let (status, made) = post(env, ASSIGNMENTS, &token, direct(&uma.id)).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["principalId"], uma.id.as_str());
    assert_eq!(made["roleDefinitionId"], SECURITY_READER);
    assert_eq!(made["directoryScopeId"], "/");
    let id = made["id"].as_str().unwrap().to_string();
    assert!(made["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("roleAssignments/$entity"));
    // In force at once: the same token now reads what the role allows.
    assert_eq!(get(env, POLICIES, &uma_token).await.0, 200);
    let listed = listed_for(env, &token, &uma.id).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], id.as_str());
    let (status, one) = get(env, &format!("{ASSIGNMENTS}/{}", id.to_uppercase()), &token).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["principalId"], uma.id.as_str());
    // The administrator's own assignment is listed too.
    assert_eq!(listed_for(env, &token, &admin.id).await.len(), 1);
    let permanent = audits_named(env, "Add member to role in PIM completed (permanent)").await;
    assert_eq!(permanent.len(), 1);
    assert_eq!(
        permanent[0].entry.initiated_by["user"]["id"],
        admin.id.as_str()
    );

    // Twice: refused, still one.
    let (status, twice) = post(env, ASSIGNMENTS, &token, direct(&uma.id)).await;
    assert_eq!(status, 400, "{twice}");
    assert_eq!(twice["error"]["code"], "RoleAssignmentExists", "{twice}");
    assert_eq!(listed_for(env, &token, &uma.id).await.len(), 1);

    // Removed: the role stops counting at once; the id is gone.
    let (status, answer) = delete(env, &format!("{ASSIGNMENTS}/{id}"), &token).await;
    assert_eq!(status, 204, "{answer}");
    assert_eq!(get(env, POLICIES, &uma_token).await.0, 403);
    assert!(listed_for(env, &token, &uma.id).await.is_empty());
    assert_eq!(
        get(env, &format!("{ASSIGNMENTS}/{id}"), &token).await.0,
        404
    );
    let (status, again) = delete(env, &format!("{ASSIGNMENTS}/{id}"), &token).await;
    assert_eq!(status, 404, "{again}");
    assert_eq!(
        again["error"]["code"], "Request_ResourceNotFound",
        "{again}"
    );
    assert_eq!(
        audits_named(env, "Remove member from role in PIM completed")
            .await
            .len(),
        1
    );
}

async fn only_role_administrators_use_it_and_bad_input_changes_nothing(env: &Env) {
    let (admin, token) = administrator(env, "pra@example.test").await;
    let (plain, plain_token) = signed_in(env, "plain@example.test").await;
    let own = listed_for(env, &token, &admin.id).await;
    let own_id = own[0]["id"].as_str().unwrap().to_string();

    // Not a role administrator: refused everywhere, nothing made or removed.
    assert_eq!(get(env, ASSIGNMENTS, &plain_token).await.0, 403);
    let (status, denied) = post(env, ASSIGNMENTS, &plain_token, direct(&plain.id)).await;
    assert_eq!(status, 403, "{denied}");
    assert_eq!(denied["error"]["code"], "Authorization_RequestDenied");
    let (status, _) = delete(env, &format!("{ASSIGNMENTS}/{own_id}"), &plain_token).await;
    assert_eq!(status, 403);
    assert_eq!(listed_for(env, &token, &admin.id).await.len(), 1);
    assert!(listed_for(env, &token, &plain.id).await.is_empty());

    let cases = [
        (
            json!({"roleDefinitionId": SECURITY_READER}),
            400,
            "principalId",
        ),
        (json!({"principalId": plain.id}), 400, "roleDefinitionId"),
        (
            json!({"principalId": 7, "roleDefinitionId": SECURITY_READER}),
            400,
            "principalId",
        ),
        (
            json!({"principalId": plain.id, "roleDefinitionId": SECURITY_READER,
                   "directoryScopeId": "/administrativeUnits/1"}),
            400,
            "directoryScopeId",
        ),
        (json!(["not", "an", "object"]), 400, "object"),
        (
            json!({"principalId": "00000000-0000-0000-0000-00000000dead",
                   "roleDefinitionId": SECURITY_READER}),
            404,
            "00000000-0000-0000-0000-00000000dead",
        ),
        (
            json!({"principalId": plain.id,
                   "roleDefinitionId": "00000000-0000-0000-0000-00000000beef"}),
            404,
            "00000000-0000-0000-0000-00000000beef",
        ),
    ];
    for (body, expected, mentions) in cases {
        let (status, answer) = post(env, ASSIGNMENTS, &token, body.clone()).await;
        assert_eq!(status, expected, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{body}: {message}");
    }
    assert!(listed_for(env, &token, &plain.id).await.is_empty());

    let (status, answer) = get(
        env,
        &format!("{ASSIGNMENTS}?$filter=colour eq 'red'"),
        &token,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = delete(env, &format!("{ASSIGNMENTS}/no-such-id"), &token).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(listed_for(env, &token, &admin.id).await.len(), 1);
}
