//! `/v1.0/policies/authenticationStrengthPolicies` over HTTP: the built-in strengths are listed
//! and cannot be changed; custom ones are created, read, changed and deleted; what Graph
//! refuses is refused with nothing written; a strength a policy requires cannot be deleted and
//! its usage names the policy; and narrowing a strength's combinations so that no eligible
//! Global Administrator could activate is refused by the lockout guard unless forced. Every test
//! runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::graph::{assign, delete, get, holder, patch, post, signed_in};
use common::Env;
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR};
use serde_json::{json, Value};

on_both_backends!(
    built_in_strengths_are_read_only_and_custom_ones_are_managed,
    narrowing_a_strength_that_would_lock_out_every_global_administrator_is_refused_unless_forced,
    combination_configurations_restrict_keys_through_the_lockout_guard,
);

const STRENGTHS: &str = "/v1.0/policies/authenticationStrengthPolicies";
const POLICIES: &str = "/v1.0/identity/conditionalAccess/policies";
const CA_ADMINISTRATOR: &str = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9";
const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";

fn policy_requiring(strength: &str, state: &str) -> Value {
    json!({
        "displayName": "PIM c1: approved methods",
        "state": state,
        "conditions": {
            "users": { "includeUsers": ["All"] },
            "applications": { "includeAuthenticationContextClassReferences": ["c1"] },
            "clientAppTypes": ["all"]
        },
        "grantControls": { "operator": "OR", "authenticationStrength": { "id": strength } }
    })
}

async fn built_in_strengths_are_read_only_and_custom_ones_are_managed(env: &Env) {
    let (_, admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    let (_, reader) = holder(env, "reader@example.test", SECURITY_READER).await;

    let (status, all) = get(env, STRENGTHS, &reader).await;
    assert_eq!(status, 200, "{all}");
    let built_in: Vec<&Value> = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["policyType"] == "builtIn")
        .collect();
    assert_eq!(built_in.len(), 3, "{all}");
    let (status, refused) = patch(
        env,
        &format!("{STRENGTHS}/{PHISHING_RESISTANT}"),
        &admin,
        json!({"displayName": "Mine now"}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("built-in"));
    let (status, _) = delete(env, &format!("{STRENGTHS}/{PHISHING_RESISTANT}"), &admin).await;
    assert_eq!(status, 400);

    // What Graph refuses, nothing written.
    for (body, words) in [
        (
            json!({"displayName": "Empty", "allowedCombinations": []}),
            "at least one",
        ),
        (
            json!({"displayName": "Odd", "allowedCombinations": ["quantumPigeon"]}),
            "'quantumPigeon'",
        ),
        (json!({"allowedCombinations": ["fido2"]}), "displayName"),
        (json!({"displayName": 5}), "authenticationStrengthPolicy"),
    ] {
        let (status, refused) = post(env, STRENGTHS, &admin, body.clone()).await;
        assert_eq!(status, 400, "{body} → {refused}");
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{body}: {message}");
    }
    let (status, _) = post(
        env,
        STRENGTHS,
        &reader,
        json!({"displayName": "R", "allowedCombinations": ["fido2"]}),
    )
    .await;
    assert_eq!(status, 403);

    // A custom strength: created, read, filtered, renamed.
    let (status, custom) = post(
        env,
        STRENGTHS,
        &admin,
        json!({"displayName": "Approved keys", "description": "Keys we issue",
               "allowedCombinations": ["fido2", "windowsHelloForBusiness"]}),
    )
    .await;
    assert_eq!(status, 201, "{custom}");
    assert_eq!(custom["policyType"], "custom");
    assert_eq!(custom["requirementsSatisfied"], "mfa");
    let id = custom["id"].as_str().unwrap().to_string();
    let (status, mine) = get(
        env,
        &format!("{STRENGTHS}?$filter=policyType eq 'custom'"),
        &reader,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(mine["value"].as_array().unwrap().len(), 1);
    let (status, _) = patch(
        env,
        &format!("{STRENGTHS}/{id}"),
        &admin,
        json!({"displayName": "Issued keys"}),
    )
    .await;
    assert_eq!(status, 204);
    let (_, one) = get(env, &format!("{STRENGTHS}/{id}"), &reader).await;
    assert_eq!(one["displayName"], "Issued keys");
    assert_eq!(
        one["allowedCombinations"],
        json!(["fido2", "windowsHelloForBusiness"])
    );

    // Required by a policy: usage names it, and it cannot be deleted.
    env.policies(json!({
        "authenticationContextClassReferences": [{ "id": "c1", "displayName": "PIM", "isAvailable": true }]
    }))
    .await;
    let (status, policy) = post(env, POLICIES, &admin, policy_requiring(&id, "disabled")).await;
    assert_eq!(status, 201, "{policy}");
    let (status, usage) = get(env, &format!("{STRENGTHS}/{id}/usage"), &reader).await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(usage["mfa"][0]["id"], policy["id"]);
    let (status, refused) = delete(env, &format!("{STRENGTHS}/{id}"), &admin).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("PIM c1: approved methods"));
    let (status, _) = delete(
        env,
        &format!("{POLICIES}/{}", policy["id"].as_str().unwrap()),
        &admin,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = delete(env, &format!("{STRENGTHS}/{id}"), &admin).await;
    assert_eq!(status, 204);
    let (status, _) = get(env, &format!("{STRENGTHS}/{id}"), &reader).await;
    assert_eq!(status, 404);
}

async fn narrowing_a_strength_that_would_lock_out_every_global_administrator_is_refused_unless_forced(
    env: &Env,
) {
    let (_, admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
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
    let mut settings = pim::RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, env.now());
    settings
        .require_authentication_context("c1", env.now(), None)
        .unwrap();
    env.state.store.put_role_policy(&settings, 0).await.unwrap();
    env.policies(json!({
        "authenticationContextClassReferences": [{ "id": "c1", "displayName": "PIM", "isAvailable": true }]
    }))
    .await;

    // Adele's password and TOTP satisfy the strength: the policy can be enabled.
    let (status, strength) = post(
        env,
        STRENGTHS,
        &admin,
        json!({"displayName": "Password and TOTP", "allowedCombinations": ["password,softwareOath", "fido2"]}),
    )
    .await;
    assert_eq!(status, 201, "{strength}");
    let id = strength["id"].as_str().unwrap().to_string();
    let (status, policy) = post(env, POLICIES, &admin, policy_requiring(&id, "enabled")).await;
    assert_eq!(status, 201, "{policy}");

    // Narrowed to keys only, nobody eligible could activate: refused, nothing changed, audited.
    let narrow = json!({"allowedCombinations": ["fido2"]});
    let action = format!("{STRENGTHS}/{id}/updateAllowedCombinations");
    let (status, refused) = post(env, &action, &admin, narrow.clone()).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "ConditionalAccessLockout");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("adele@example.test"));
    let (_, one) = get(env, &format!("{STRENGTHS}/{id}"), &admin).await;
    assert_eq!(
        one["allowedCombinations"],
        json!(["password,softwareOath", "fido2"])
    );
    let (status, _) = patch(env, &format!("{STRENGTHS}/{id}"), &admin, narrow.clone()).await;
    assert_eq!(status, 409);
    assert!(common::audits_in(env, Some("Policy"))
        .await
        .iter()
        .any(
            |a| a.entry.activity_display_name == "Update authentication strength"
                && a.entry.result == store::AuditResult::Failure
        ));

    // Forced: written, and the answer says what changed.
    let (status, result) = post(env, &format!("{action}?force=true"), &admin, narrow).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(
        result["previousCombinations"],
        json!(["password,softwareOath", "fido2"])
    );
    assert_eq!(result["currentCombinations"], json!(["fido2"]));
    assert_eq!(result["conditionalAccessReferences"][0], policy["id"]);
    assert!(common::audits_in(env, Some("Policy"))
        .await
        .iter()
        .any(
            |a| a.entry.activity_display_name == "Update authentication strength"
                && a.entry.result == store::AuditResult::Success
                && a.entry.additional_details.to_string().contains("force")
        ));
}

const FIDO2_CONFIGURATION: &str = "#microsoft.graph.fido2CombinationConfiguration";
/// An authenticator model nobody here holds.
const OTHER_AAGUID: &str = "cb69481e-8ff7-4039-93ec-0a2729a154a8";

/// `…/{id}/combinationConfigurations`: a FIDO2 configuration restricts which authenticator
/// models count. Allowing only a model the sole eligible Global Administrator does not hold is
/// refused by the lockout guard (on create and on change) unless forced; allowing hers passes;
/// what Graph refuses is refused with nothing written; a built-in strength takes none; readers
/// read and do not write.
async fn combination_configurations_restrict_keys_through_the_lockout_guard(env: &Env) {
    let (_, admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    let (_, reader) = holder(env, "reader@example.test", SECURITY_READER).await;
    let (adele, _) = signed_in(env, "adele@example.test").await;
    let key_model = "2fc0579f-8113-47ea-b116-bb5a8db9202a".to_string();
    common::passkey_of_model(env, &adele, &key_model).await;
    assign(
        env,
        &adele.id,
        GLOBAL_ADMINISTRATOR,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    let mut settings = pim::RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, env.now());
    settings
        .require_authentication_context("c1", env.now(), None)
        .unwrap();
    env.state.store.put_role_policy(&settings, 0).await.unwrap();
    env.policies(json!({
        "authenticationContextClassReferences": [{ "id": "c1", "displayName": "PIM", "isAvailable": true }]
    }))
    .await;
    let (status, strength) = post(
        env,
        STRENGTHS,
        &admin,
        json!({"displayName": "Keys", "allowedCombinations": ["fido2"]}),
    )
    .await;
    assert_eq!(status, 201, "{strength}");
    let id = strength["id"].as_str().unwrap().to_string();
    let (status, policy) = post(env, POLICIES, &admin, policy_requiring(&id, "enabled")).await;
    assert_eq!(status, 201, "{policy}");
    let configs = format!("{STRENGTHS}/{id}/combinationConfigurations");
    let fido2 = |aaguids: &[&str]| {
        json!({"@odata.type": FIDO2_CONFIGURATION, "appliesToCombinations": ["fido2"],
               "allowedAAGUIDs": aaguids})
    };
    let listed = |list: &Value| list["value"].as_array().unwrap().len();

    let (status, empty) = get(env, &configs, &reader).await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(listed(&empty), 0);
    assert_eq!(
        post(env, &configs, &reader, fido2(&[&key_model])).await.0,
        403
    );

    // Only a model Adele does not hold: she could not activate. Refused, nothing written.
    let (status, refused) = post(env, &configs, &admin, fido2(&[OTHER_AAGUID])).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "ConditionalAccessLockout");
    assert_eq!(listed(&get(env, &configs, &reader).await.1), 0);

    // Her model: made, with its id and kind.
    let (status, made) = post(env, &configs, &admin, fido2(&[OTHER_AAGUID, &key_model])).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["@odata.type"], FIDO2_CONFIGURATION);
    let config_id = made["id"].as_str().unwrap().to_string();
    let one_path = format!("{configs}/{config_id}");
    let (status, one) = get(env, &one_path, &reader).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["allowedAAGUIDs"], json!([OTHER_AAGUID, key_model]));
    let (_, whole) = get(env, &format!("{STRENGTHS}/{id}"), &reader).await;
    assert_eq!(
        whole["combinationConfigurations"][0]["id"],
        config_id.as_str()
    );
    assert_eq!(get(env, &format!("{configs}/nope"), &reader).await.0, 404);

    // What Graph refuses: nothing written.
    for (body, mentions) in [
        (
            json!({"appliesToCombinations": ["fido2"], "allowedAAGUIDs": [key_model]}),
            "@odata.type",
        ),
        (fido2(&["not-an-aaguid"]), "not-an-aaguid"),
        (
            json!({"@odata.type": FIDO2_CONFIGURATION, "appliesToCombinations": ["password"],
                   "allowedAAGUIDs": [key_model]}),
            "password",
        ),
        (
            json!({"@odata.type": FIDO2_CONFIGURATION, "appliesToCombinations": ["fido2"]}),
            "allowedAAGUIDs",
        ),
    ] {
        let (status, answer) = post(env, &configs, &admin, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains(mentions),
            "{body}: {answer}"
        );
    }
    assert_eq!(listed(&get(env, &configs, &reader).await.1), 1);

    // Changed to exclude her model: refused unless forced; the force is on record.
    let narrow = json!({"allowedAAGUIDs": [OTHER_AAGUID]});
    let (status, refused) = patch(env, &one_path, &admin, narrow.clone()).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(
        get(env, &one_path, &reader).await.1["allowedAAGUIDs"],
        json!([OTHER_AAGUID, key_model])
    );
    let (status, changed) = patch(env, &format!("{one_path}?force=true"), &admin, narrow).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["allowedAAGUIDs"], json!([OTHER_AAGUID]));
    assert_eq!(changed["@odata.type"], FIDO2_CONFIGURATION);
    assert!(common::audits_in(env, Some("Policy"))
        .await
        .iter()
        .any(|a| a.entry.result == store::AuditResult::Success
            && a.entry.additional_details.to_string().contains("force")));

    // Deleted (a restriction gone widens the strength: no guard needed); then not found.
    assert_eq!(delete(env, &one_path, &admin).await.0, 204);
    assert_eq!(listed(&get(env, &configs, &reader).await.1), 0);
    assert_eq!(delete(env, &one_path, &admin).await.0, 404);

    // A built-in strength takes none.
    let (status, refused) = post(
        env,
        &format!("{STRENGTHS}/{PHISHING_RESISTANT}/combinationConfigurations"),
        &admin,
        fido2(&[&key_model]),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
}
