//! `/v1.0/identity/conditionalAccess/authenticationContextClassReferences` over HTTP: the seed's
//! first administrator step (a Conditional Access administrator creates "Tier 0 Role Activation
//! (Sign-in Everytime)"), Graph's create-or-update `PATCH`, reading with OData, the ids and
//! bodies that are refused, who may read and who may write, a role setting that names a context
//! the tenant does not define, and deleting a context a policy or a role's settings use. Every
//! test runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::graph::{administrator, assign, delete, get, holder, patch, post, signed_in};
use common::{audits_in, passkey, Env};
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR};
use serde_json::{json, Value};

on_both_backends!(
    the_seeds_three_administrator_steps_gate_an_activation,
    contexts_are_created_read_and_updated,
    bad_ids_and_bodies_are_refused_and_only_administrators_write,
    a_context_in_use_cannot_be_deleted_and_role_settings_name_existing_ones,
    global_administrators_context_goes_through_the_lockout_guard,
);

const CONTEXTS: &str = "/v1.0/identity/conditionalAccess/authenticationContextClassReferences";
const CA_ADMINISTRATOR: &str = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9";
const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
const APPLICATION_ADMINISTRATOR: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";
const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";

fn ids(list: &Value) -> Vec<&str> {
    list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect()
}

/// The seed, as an administrator does it with the API alone: the context, the role's settings,
/// the policy; then an eligible Application Administrator's activation is held for a step-up on
/// that context.
async fn the_seeds_three_administrator_steps_gate_an_activation(env: &Env) {
    let (_, ca_admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    let (_, role_admin) = administrator(env, "pra@example.test").await;
    let (dev, _) = signed_in(env, "dev@example.test").await;
    assign(
        env,
        &dev.id,
        APPLICATION_ADMINISTRATOR,
        AssignmentStatus::Eligible,
        None,
    )
    .await;

    // 1. + New authentication context: Tier 0 Role Activation (Sign-in Everytime).
    let (status, context) = post(
        env,
        CONTEXTS,
        &ca_admin,
        json!({
            "id": "c1",
            "displayName": "Tier 0 Role Activation (Sign-in Everytime)",
            "description": "Activating a tier-0 role",
            "isAvailable": true
        }),
    )
    .await;
    assert_eq!(status, 201, "{context}");

    // 2. Application Administrator's activation requires it.
    let (status, rule) = patch(
        env,
        &format!(
            "/v1.0/policies/roleManagementPolicies/DirectoryRole_{APPLICATION_ADMINISTRATOR}/rules/AuthenticationContext_EndUser_Assignment"
        ),
        &role_admin,
        json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
            "isEnabled": true,
            "claimValue": "c1"
        }),
    )
    .await;
    assert_eq!(status, 200, "{rule}");

    // 3. The policy: the role's members, on that context, phishing-resistant, every time, On.
    let (status, policy) = post(
        env,
        "/v1.0/identity/conditionalAccess/policies",
        &ca_admin,
        json!({
            "displayName": "Tier 0 Role Activation",
            "state": "enabled",
            "conditions": {
                "users": { "includeRoles": [APPLICATION_ADMINISTRATOR] },
                "applications": { "includeAuthenticationContextClassReferences": ["c1"] },
                "clientAppTypes": ["all"]
            },
            "grantControls": { "operator": "OR", "authenticationStrength": { "id": PHISHING_RESISTANT } },
            "sessionControls": { "signInFrequency": { "isEnabled": true, "frequencyInterval": "everyTime", "authenticationType": "primaryAndSecondaryAuthentication" } }
        }),
    )
    .await;
    assert_eq!(status, 201, "{policy}");

    // The developer's token (password and TOTP) does not activate: the request waits for a
    // step-up on c1.
    common::pim::held_for_step_up(env, "dev@example.test", APPLICATION_ADMINISTRATOR, "c1").await;
}

async fn contexts_are_created_read_and_updated(env: &Env) {
    let (_, admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    let tier0 = json!({
        "id": "c2",
        "displayName": "Tier 0 Role Activation (Sign-in Everytime)",
        "description": "Activation of tier-0 roles",
        "isAvailable": true
    });
    let (status, created) = post(env, CONTEXTS, &admin, tier0.clone()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], "c2");
    assert_eq!(created["displayName"], tier0["displayName"]);
    assert_eq!(created["isAvailable"], true);

    // Created again: a conflict, and nothing changes.
    let (status, body) = post(
        env,
        CONTEXTS,
        &admin,
        json!({"id": "c2", "displayName": "Other"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("Conflict"))
    );

    // PATCH creates (201) or merges (204).
    let (status, body) = patch(
        env,
        &format!("{CONTEXTS}/c1"),
        &admin,
        json!({"displayName": "Sensitive apps", "isAvailable": false}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = patch(
        env,
        &format!("{CONTEXTS}/c2"),
        &admin,
        json!({"description": "Global and Privileged Role Administrator"}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, one) = get(env, &format!("{CONTEXTS}/c2"), &admin).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["displayName"], tier0["displayName"]);
    assert_eq!(
        one["description"],
        "Global and Privileged Role Administrator"
    );
    assert!(one["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("authenticationContextClassReferences/$entity"));

    // Listed by number, with $filter and $count.
    let (status, all) = get(env, CONTEXTS, &admin).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(ids(&all), ["c1", "c2"]);
    let (status, available) = get(
        env,
        &format!("{CONTEXTS}?$filter=isAvailable eq true&$count=true"),
        &admin,
    )
    .await;
    assert_eq!(status, 200, "{available}");
    assert_eq!(ids(&available), ["c2"]);
    assert_eq!(available["@odata.count"], 1);

    // Each write is audited with the context it wrote.
    let audits = common::audits_in(env, Some("Policy")).await;
    let activities: Vec<&str> = audits
        .iter()
        .filter(|a| {
            a.entry
                .target_resources
                .to_string()
                .contains("AuthenticationContextClassReference")
        })
        .map(|a| a.entry.activity_display_name.as_str())
        .collect();
    assert_eq!(activities.len(), 3, "{activities:?}");
    assert!(activities.contains(&"Update authentication context"));
}

async fn bad_ids_and_bodies_are_refused_and_only_administrators_write(env: &Env) {
    let (_, admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    let (_, reader) = holder(env, "reader@example.test", SECURITY_READER).await;
    let (_, nobody) = signed_in(env, "nobody@example.test").await;

    for (body, words) in [
        (json!({"id": "c100", "displayName": "x"}), "c1 to c99"),
        (json!({"id": "C1", "displayName": "x"}), "c1 to c99"),
        (json!({"displayName": "no id"}), "names no id"),
        (
            json!({"id": "c5", "isAvailable": "yes"}),
            "authenticationContextClassReference",
        ),
        (json!(["c5"]), "authenticationContextClassReference"),
    ] {
        let (status, refused) = post(env, CONTEXTS, &admin, body.clone()).await;
        assert_eq!(status, 400, "{body} → {refused}");
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{body}: {message}");
    }
    let (status, refused) =
        patch(env, &format!("{CONTEXTS}/c3"), &admin, json!({"id": "c4"})).await;
    assert_eq!(status, 400, "{refused}");
    let (status, _) = get(env, &format!("{CONTEXTS}/c0"), &admin).await;
    assert_eq!(status, 400);
    let (status, missing) = get(env, &format!("{CONTEXTS}/c50"), &admin).await;
    assert_eq!(
        (status, missing["error"]["code"].as_str()),
        (404, Some("Request_ResourceNotFound"))
    );
    let (_, all) = get(env, CONTEXTS, &admin).await;
    assert!(ids(&all).is_empty(), "a refused write was stored: {all}");

    // A reader reads and cannot write; a user without a role does neither.
    let (status, _) = post(
        env,
        CONTEXTS,
        &admin,
        json!({"id": "c3", "displayName": "Three"}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = get(env, &format!("{CONTEXTS}/c3"), &reader).await;
    assert_eq!(status, 200);
    let (status, _) = post(env, CONTEXTS, &reader, json!({"id": "c4"})).await;
    assert_eq!(status, 403);
    let (status, _) = patch(
        env,
        &format!("{CONTEXTS}/c3"),
        &reader,
        json!({"isAvailable": true}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = delete(env, &format!("{CONTEXTS}/c3"), &reader).await;
    assert_eq!(status, 403);
    let (status, _) = get(env, CONTEXTS, &nobody).await;
    assert_eq!(status, 403);
    let (_, one) = get(env, &format!("{CONTEXTS}/c3"), &admin).await;
    assert_eq!(one["isAvailable"], Value::Null);
}

async fn a_context_in_use_cannot_be_deleted_and_role_settings_name_existing_ones(env: &Env) {
    let (_, admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    let (_, role_admin) = administrator(env, "pra@example.test").await;
    let rule = format!(
        "/v1.0/policies/roleManagementPolicies/DirectoryRole_{GLOBAL_ADMINISTRATOR}/rules/AuthenticationContext_EndUser_Assignment"
    );
    let requires = |context: &str| {
        json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
            "isEnabled": true,
            "claimValue": context
        })
    };

    // Global Administrator's activation cannot require a context that does not exist.
    let (status, refused) = patch(env, &rule, &role_admin, requires("c7")).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["code"], "InvalidPolicyRule");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'c7'"));
    let (status, _) = post(
        env,
        CONTEXTS,
        &admin,
        json!({"id": "c7", "displayName": "Tier 0"}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, body) = patch(env, &rule, &role_admin, requires("c7")).await;
    assert_eq!(status, 200, "{body}");

    // Now c7 is required: it cannot be deleted, and the refusal says by whom; audited.
    let (status, refused) = delete(env, &format!("{CONTEXTS}/c7"), &admin).await;
    assert_eq!(status, 400, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("Global Administrator"), "{message}");
    assert!(common::audits_in(env, Some("Policy"))
        .await
        .iter()
        .any(
            |a| a.entry.activity_display_name == "Delete authentication context"
                && a.entry.result == store::AuditResult::Failure
        ));

    // A policy targeting c8 holds it too, in any state.
    let (status, _) = post(
        env,
        CONTEXTS,
        &admin,
        json!({"id": "c8", "displayName": "Apps"}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, policy) = post(
        env,
        "/v1.0/identity/conditionalAccess/policies",
        &admin,
        json!({
            "displayName": "Tier 0 Role Activation",
            "state": "disabled",
            "conditions": {
                "users": { "includeUsers": ["All"] },
                "applications": { "includeAuthenticationContextClassReferences": ["c8"] },
                "clientAppTypes": ["all"]
            },
            "grantControls": { "operator": "OR", "builtInControls": ["mfa"] }
        }),
    )
    .await;
    assert_eq!(status, 201, "{policy}");
    let (status, refused) = delete(env, &format!("{CONTEXTS}/c8"), &admin).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Tier 0 Role Activation"));

    // Once nothing uses it, it goes.
    let (status, _) = delete(
        env,
        &format!(
            "/v1.0/identity/conditionalAccess/policies/{}",
            policy["id"].as_str().unwrap()
        ),
        &admin,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = delete(env, &format!("{CONTEXTS}/c8"), &admin).await;
    assert_eq!(status, 204);
    let (status, _) = get(env, &format!("{CONTEXTS}/c8"), &admin).await;
    assert_eq!(status, 404);
    let (status, _) = delete(env, &format!("{CONTEXTS}/c8"), &admin).await;
    assert_eq!(status, 404);
}

/// Requiring a context for Global Administrator's activation is a write that can lock out: if
/// the policy on it asks for a phishing-resistant key and the only eligible Global
/// Administrator has none, the setting is refused (`409`) unless forced; once she has a key that
/// counts, it passes.
async fn global_administrators_context_goes_through_the_lockout_guard(env: &Env) {
    let (_, pra) = administrator(env, "pra@example.test").await;
    let (adele, _) = signed_in(env, "adele@example.test").await;
    env.totp(&adele).await;
    assign(
        env,
        &adele.id,
        GLOBAL_ADMINISTRATOR,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    env.policies(common::pim::context_policy(
        "c1",
        json!({"operator": "OR", "authenticationStrength": {"id": PHISHING_RESISTANT}}),
    ))
    .await;
    let rule = format!(
        "/v1.0/policies/roleManagementPolicies/DirectoryRole_{GLOBAL_ADMINISTRATOR}/rules/AuthenticationContext_EndUser_Assignment"
    );
    let requires = |context: &str| {
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
               "isEnabled": true, "claimValue": context})
    };

    let (status, refused) = patch(env, &rule, &pra, requires("c1")).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "ConditionalAccessLockout");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("adele@example.test"), "{message}");
    assert!(message.contains("force=true"), "{message}");
    let (_, now) = get(env, &rule, &pra).await;
    assert_eq!(now["isEnabled"], false, "{now}");

    // A role that is not Global Administrator's is not guarded.
    let (status, answer) = patch(
        env,
        &format!(
            "/v1.0/policies/roleManagementPolicies/DirectoryRole_{SECURITY_READER}/rules/AuthenticationContext_EndUser_Assignment"
        ),
        &pra,
        requires("c1"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");

    // Forced: written, and the force is on record; then undone (requiring nothing locks
    // nobody out).
    let (status, answer) = patch(env, &format!("{rule}?force=true"), &pra, requires("c1")).await;
    assert_eq!(status, 200, "{answer}");
    let audits = audits_in(env, Some("RoleManagement")).await;
    assert!(audits
        .iter()
        .any(|a| a.entry.result == store::AuditResult::Failure
            && a.entry.result_reason.contains("adele@example.test")));
    assert!(audits
        .iter()
        .any(|a| a.entry.result == store::AuditResult::Success
            && a.entry.additional_details.to_string().contains("force")));
    let off = json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
                     "isEnabled": false});
    let (status, answer) = patch(env, &rule, &pra, off).await;
    assert_eq!(status, 200, "{answer}");

    // With a key that counts, Global Administrator may require c1.
    passkey(env, &adele).await;
    let (status, answer) = patch(env, &rule, &pra, requires("c1")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["claimValue"], "c1");
}
