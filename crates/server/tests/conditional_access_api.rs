//! Conditional Access policies over the Graph API, on both backends: an Entra export posted
//! unchanged (annotations and unknown fields kept), read by readers, changed only by active
//! Conditional Access (or Global, or Security) administrators, every change audited, bad input
//! refused with nothing changed; and the lockout guard: enabling a policy after which no user
//! eligible for Global Administrator could activate it is refused, unless forced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::graph::{administrator, assign, call, delete, get, holder, post, signed_in};
use common::Env;
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR};
use serde_json::{json, Value};

const POLICIES: &str = "/v1.0/identity/conditionalAccess/policies";
const CA_ADMINISTRATOR: &str = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9";
const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";

async fn patch(env: &Env, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(env, reqwest::Method::PATCH, path, token, Some(body)).await
}

fn export() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/entra-exports/acme-policies/",
        "ACME_-_GLOBAL_-_BLOCK_-_Device_Code_Auth_Flow (1).json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn an_entra_export_is_posted_unchanged_and_only_administrators_change_it(env: &Env) {
    let (_, admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    let (_, reader) = holder(env, "reader@example.test", SECURITY_READER).await;
    let (_, pra) = administrator(env, "pra@example.test").await;
    let (_, dave) = signed_in(env, "dave@example.test").await;

    // The export excludes a break-glass group: while the directory does not hold it, the
    // policy is refused, naming it (it would exclude nobody).
    let exported = export();
    let (status, refused) = post(env, POLICIES, &admin, exported.clone()).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("group '895b3e04-1f55-413d-a3f8-5a23678310ae' (conditions.users.excludeGroups) does not exist"));
    let mut break_glass = store::Group::new("CA-BreakGlassAccounts - Exclude", env.now());
    break_glass.id = "895b3e04-1f55-413d-a3f8-5a23678310ae".into();
    env.state.store.create_group(&break_glass).await.unwrap();

    // Posted as exported: the service gives it an id and keeps what it does not use.
    let (status, created) = post(env, POLICIES, &admin, exported.clone()).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_ne!(id, exported["id"].as_str().unwrap_or(""));
    assert_eq!(created["displayName"], exported["displayName"]);
    assert_eq!(
        created["conditions"]["authenticationFlows"],
        exported["conditions"]["authenticationFlows"]
    );
    assert_eq!(created["partialEnablementStrategy"], Value::Null);
    assert!(created.get("templateId").is_some(), "{created}");

    // Readers read; only writers write.
    let (status, one) = get(env, &format!("{POLICIES}/{id}"), &reader).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["state"], "enabled");
    let (status, all) = get(env, POLICIES, &pra).await;
    assert_eq!((status, all["value"].as_array().unwrap().len()), (200, 1));
    let (status, _) = get(env, POLICIES, &dave).await;
    assert_eq!(status, 403);
    for token in [&reader, &pra, &dave] {
        let (status, body) = patch(
            env,
            &format!("{POLICIES}/{id}"),
            token,
            json!({"state": "disabled"}),
        )
        .await;
        assert_eq!(status, 403, "{body}");
        let (status, _) = post(env, POLICIES, token, exported.clone()).await;
        assert_eq!(status, 403);
    }

    // A merge patch: the state changes, the rest stays.
    let (status, body) = patch(
        env,
        &format!("{POLICIES}/{id}"),
        &admin,
        json!({"state": "disabled"}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (_, one) = get(env, &format!("{POLICIES}/{id}"), &admin).await;
    assert_eq!(one["state"], "disabled");
    assert!(one["modifiedDateTime"].is_string());
    assert_eq!(one["grantControls"]["builtInControls"], json!(["block"]));

    // Refused, and nothing changes: an id change, a body that is not a policy, a state Graph
    // does not have, mfa together with a strength, an unknown policy.
    let refusals = [
        json!({"id": "another-id"}),
        json!({"conditions": "everyone"}),
        json!({"grantControls": {"operator": "OR", "builtInControls": ["mfa"], "authenticationStrength": {"id": PHISHING_RESISTANT}}}),
    ];
    for body in refusals {
        let (status, answer) = patch(env, &format!("{POLICIES}/{id}"), &admin, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
    }
    let (status, _) = call(
        env,
        reqwest::Method::PATCH,
        &format!("{POLICIES}/{id}"),
        &admin,
        Some(json!(["state"])),
    )
    .await;
    assert_eq!(status, 400);
    let (_, after) = get(env, &format!("{POLICIES}/{id}"), &admin).await;
    assert_eq!(after, one, "a refused change changed the policy");
    let (status, _) = patch(
        env,
        &format!("{POLICIES}/nope"),
        &admin,
        json!({"state": "enabled"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = post(
        env,
        &format!("{POLICIES}?force=perhaps"),
        &admin,
        exported.clone(),
    )
    .await;
    assert_eq!(status, 400);

    // Deleted once.
    let (status, _) = delete(env, &format!("{POLICIES}/{id}"), &admin).await;
    assert_eq!(status, 204);
    let (status, _) = delete(env, &format!("{POLICIES}/{id}"), &admin).await;
    assert_eq!(status, 404);
    let (_, all) = get(env, POLICIES, &admin).await;
    assert!(all["value"].as_array().unwrap().is_empty());

    // Audited: add, update, delete, and the refused change with mfa and a strength.
    let audits = common::audits_in(env, Some("Policy")).await;
    let names: Vec<(&str, store::AuditResult)> = audits
        .iter()
        .map(|a| (a.entry.activity_display_name.as_str(), a.entry.result))
        .collect();
    for expected in [
        ("Add conditional access policy", store::AuditResult::Success),
        (
            "Update conditional access policy",
            store::AuditResult::Success,
        ),
        (
            "Delete conditional access policy",
            store::AuditResult::Success,
        ),
        (
            "Update conditional access policy",
            store::AuditResult::Failure,
        ),
    ] {
        assert!(names.contains(&expected), "{expected:?} not in {names:?}");
    }
    assert!(env
        .state
        .store
        .verify_audit_chain()
        .await
        .unwrap()
        .is_intact());
}

fn phishing_resistant_on_c1(state: &str) -> Value {
    json!({
        "displayName": "PIM c1: phishing-resistant, every time",
        "state": state,
        "conditions": {
            "users": { "includeUsers": ["All"] },
            "applications": { "includeAuthenticationContextClassReferences": ["c1"] },
            "clientAppTypes": ["all"]
        },
        "grantControls": { "operator": "OR", "authenticationStrength": { "id": PHISHING_RESISTANT } },
        "sessionControls": { "signInFrequency": { "isEnabled": true, "frequencyInterval": "everyTime", "authenticationType": "primaryAndSecondaryAuthentication" } }
    })
}

async fn enabling_a_policy_that_locks_out_every_global_administrator_is_refused_unless_forced(
    env: &Env,
) {
    let (_, admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    let (adele, _) = signed_in(env, "adele@example.test").await;
    let (bob, _) = signed_in(env, "bob@example.test").await;
    env.totp(&adele).await;
    for u in [&adele, &bob] {
        assign(
            env,
            &u.id,
            GLOBAL_ADMINISTRATOR,
            AssignmentStatus::Eligible,
            None,
        )
        .await;
    }
    // Activating Global Administrator requires c1; c1 is defined and, so far, asks for MFA.
    let mut settings = pim::RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, env.now());
    settings
        .patch_rule(
            "AuthenticationContext_EndUser_Assignment",
            &json!({
                "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
                "isEnabled": true, "claimValue": "c1"
            }),
            env.now(),
            None,
        )
        .unwrap();
    env.state.store.put_role_policy(&settings, 0).await.unwrap();
    env.policies(json!({
        "authenticationContextClassReferences": [{ "id": "c1", "displayName": "PIM", "isAvailable": true }]
    }))
    .await;

    // Enabled, it would leave neither Adele (password, TOTP) nor Bob (password) able to activate.
    let count = |v: &Value| v["value"].as_array().unwrap().len();
    let (status, refused) = post(env, POLICIES, &admin, phishing_resistant_on_c1("enabled")).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "ConditionalAccessLockout");
    let message = refused["error"]["message"].as_str().unwrap();
    for words in [
        "adele@example.test",
        "bob@example.test",
        "passkey",
        "force=true",
    ] {
        assert!(message.contains(words), "{words:?} not in {message}");
    }
    let (_, all) = get(env, POLICIES, &admin).await;
    assert_eq!(count(&all), 0, "a refused policy was stored");

    // Disabled or report-only it changes nothing, so it is stored; enabling it is refused.
    let (status, created) = post(env, POLICIES, &admin, phishing_resistant_on_c1("disabled")).await;
    assert_eq!(status, 201, "{created}");
    let path = format!("{POLICIES}/{}", created["id"].as_str().unwrap());
    let (status, _) = patch(
        env,
        &path,
        &admin,
        json!({"state": "enabledForReportingButNotEnforced"}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = patch(env, &path, &admin, json!({"state": "enabled"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("ConditionalAccessLockout"))
    );
    let (_, one) = get(env, &path, &admin).await;
    assert_eq!(one["state"], "enabledForReportingButNotEnforced");

    // Once Bob has a passkey, someone can still activate: enabling is allowed.
    common::passkey(env, &bob).await;
    let (status, body) = patch(env, &path, &admin, json!({"state": "enabled"})).await;
    assert_eq!(status, 204, "{body}");

    // A second, stricter policy (a security key model Bob's passkey is not) would lock everyone
    // out again: refused, then forced, and the force is on record.
    let mut strict = phishing_resistant_on_c1("enabled");
    strict["displayName"] = json!("PIM c1: one key model only");
    strict["grantControls"]["authenticationStrength"] = json!({
        "id": "11111111-2222-3333-4444-555555555555",
        "displayName": "Approved keys",
        "policyType": "custom",
        "requirementsSatisfied": "mfa",
        "allowedCombinations": ["fido2"],
        "combinationConfigurations": [{
            "@odata.type": "#microsoft.graph.fido2CombinationConfiguration",
            "id": "cfg1",
            "appliesToCombinations": ["fido2"],
            "allowedAAGUIDs": ["cb69481e-8ff7-4039-93ec-0a2729a154a8"]
        }]
    });
    let (status, body) = post(env, POLICIES, &admin, strict.clone()).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = post(env, &format!("{POLICIES}?force=true"), &admin, strict).await;
    assert_eq!(status, 201, "{body}");
    let audits = common::audits_in(env, Some("Policy")).await;
    assert!(audits
        .iter()
        .any(|a| a.entry.result == store::AuditResult::Success
            && a.entry.additional_details.to_string().contains("force")));
    assert_eq!(
        audits
            .iter()
            .filter(|a| a.entry.result == store::AuditResult::Failure)
            .count(),
        3,
        "the three refusals"
    );
}

on_both_backends!(
    an_entra_export_is_posted_unchanged_and_only_administrators_change_it,
    enabling_a_policy_that_locks_out_every_global_administrator_is_refused_unless_forced,
    a_write_names_only_what_exists_but_is_not_blamed_for_what_an_import_kept,
);

/// Every reference a write adds must resolve; one an import kept is not held against a later
/// write that leaves it alone.
async fn a_write_names_only_what_exists_but_is_not_blamed_for_what_an_import_kept(env: &Env) {
    let (_, admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    let id = "3f1e2d4c-0000-4000-8000-0000000000ab";
    env.policies(json!({
        "conditionalAccessPolicies": [{
            "id": id,
            "displayName": "Imported, excluding a group it never had",
            "state": "disabled",
            "conditions": {
                "users": { "includeUsers": ["All"], "excludeGroups": ["gone-group"] },
                "applications": { "includeApplications": ["All"] },
                "clientAppTypes": ["all"]
            },
            "grantControls": { "operator": "OR", "builtInControls": ["mfa"] }
        }]
    }))
    .await;
    let path = format!("{POLICIES}/{id}");
    let (status, body) = patch(
        env,
        &path,
        &admin,
        json!({"state": "enabledForReportingButNotEnforced"}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    for (change, words) in [
        (
            json!({"conditions": {"users": {"includeUsers": ["ghost-user"]}}}),
            "user 'ghost-user'",
        ),
        (
            json!({"conditions": {"users": {"includeRoles": ["not-a-role"]}}}),
            "role 'not-a-role'",
        ),
        (
            json!({"conditions": {"locations": {"includeLocations": ["nowhere"]}}}),
            "named location 'nowhere'",
        ),
        (
            json!({"conditions": {"applications": {"includeApplications": [], "includeAuthenticationContextClassReferences": ["c9"]}}}),
            "authentication context 'c9'",
        ),
    ] {
        let (status, refused) = patch(env, &path, &admin, change.clone()).await;
        assert_eq!(status, 400, "{change} → {refused}");
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{change}: {message}");
        assert!(!message.contains("gone-group"), "{message}");
    }
    let (_, one) = get(env, &path, &admin).await;
    assert_eq!(one["state"], "enabledForReportingButNotEnforced");
    assert_eq!(one["conditions"]["users"]["includeUsers"], json!(["All"]));
}
