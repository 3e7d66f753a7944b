//! `/v1.0/users` over HTTP: anyone signed in reads the directory; a User Administrator creates
//! a user who can then sign in with the password given, changes and deletes users; what Graph
//! refuses is refused; a user who holds or may activate a role is changed only by a Global
//! Administrator; and disabling the last Global Administrator who could activate is refused by
//! the lockout guard unless forced. Every test runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::graph::{assign, delete, get, holder, patch, post, signed_in};
use common::{Browser, Env};
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR};
use serde_json::{json, Value};

on_both_backends!(
    users_are_read_created_changed_and_deleted,
    admins_are_changed_only_by_global_administrators_and_not_all_locked_out,
    authentication_methods_are_listed_to_the_user_and_to_administrators,
);

/// `GET /v1.0/users/{id}/authentication/methods`: the user reads their own; a User
/// Administrator reads a plain user's but not an admin's; a Global Administrator reads both.
async fn authentication_methods_are_listed_to_the_user_and_to_administrators(env: &Env) {
    let (_, user_admin) = holder(env, "useradmin@example.test", USER_ADMINISTRATOR).await;
    let (_, global) = holder(env, "root@example.test", GLOBAL_ADMINISTRATOR).await;
    let (nina, nina_token) = signed_in(env, "nina@example.test").await;
    env.totp(&nina).await;
    let (_, plain) = signed_in(env, "plain@example.test").await;
    let path = format!("{USERS}/{}/authentication/methods", nina.id);

    let kinds = |list: &Value| -> Vec<String> {
        let mut k: Vec<String> = list["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["@odata.type"].as_str().unwrap().to_string())
            .collect();
        k.sort();
        k
    };
    for token in [&nina_token, &user_admin, &global] {
        let (status, list) = get(env, &path, token).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(
            kinds(&list),
            [
                "#microsoft.graph.passwordAuthenticationMethod",
                "#microsoft.graph.softwareOathAuthenticationMethod"
            ]
        );
    }
    let (_, by_upn) = get(
        env,
        &format!("{USERS}/nina@example.test/authentication/methods"),
        &user_admin,
    )
    .await;
    assert_eq!(by_upn["value"].as_array().unwrap().len(), 2);
    let (status, _) = get(env, &path, &plain).await;
    assert_eq!(status, 403);

    // Once Nina may activate a role, only a Global Administrator reads her methods.
    assign(
        env,
        &nina.id,
        SECURITY_READER,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    let (status, refused) = get(env, &path, &user_admin).await;
    assert_eq!(status, 403, "{refused}");
    let (status, _) = get(env, &path, &global).await;
    assert_eq!(status, 200);
    let (status, _) = get(env, &path, &nina_token).await;
    assert_eq!(status, 200);
    let (status, _) = get(
        env,
        &format!("{USERS}/no-such-user/authentication/methods"),
        &global,
    )
    .await;
    assert_eq!(status, 404);
}

const USERS: &str = "/v1.0/users";
const USER_ADMINISTRATOR: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";

fn new_user(upn: &str, password: &str) -> Value {
    json!({
        "accountEnabled": true,
        "displayName": "Nina New",
        "userPrincipalName": upn,
        "passwordProfile": { "forceChangePasswordNextSignIn": false, "password": password }
    })
}

async fn users_are_read_created_changed_and_deleted(env: &Env) {
    let (_, admin) = holder(env, "useradmin@example.test", USER_ADMINISTRATOR).await;
    let (_, plain) = signed_in(env, "plain@example.test").await;

    // Created, and the password given signs her in.
    let (status, nina) = post(
        env,
        USERS,
        &admin,
        new_user("nina@example.test", "a long new passphrase"),
    )
    .await;
    assert_eq!(status, 201, "{nina}");
    assert_eq!(nina["userPrincipalName"], "nina@example.test");
    assert_eq!(nina["accountEnabled"], true);
    assert!(nina.get("passwordProfile").is_none());
    let tokens = common::password_tokens(
        env,
        &Browser::new(env),
        "app",
        "nina@example.test",
        "a long new passphrase",
    )
    .await;
    assert!(tokens["access_token"].is_string(), "{tokens}");

    // Anyone signed in reads, by id or by sign-in name, with $filter and $count.
    let id = nina["id"].as_str().unwrap();
    let (status, by_id) = get(env, &format!("{USERS}/{id}"), &plain).await;
    assert_eq!(
        (status, by_id["displayName"].as_str()),
        (200, Some("Nina New"))
    );
    let (status, by_upn) = get(env, &format!("{USERS}/NINA@example.test"), &plain).await;
    assert_eq!((status, by_upn["id"].as_str()), (200, Some(id)));
    let (status, found) = get(
        env,
        &format!("{USERS}?$filter=userPrincipalName eq 'nina@example.test'&$count=true"),
        &plain,
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["@odata.count"], 1);

    // What Graph refuses, nothing written; writers only.
    for (body, status, words) in [
        (
            new_user("nina@example.test", "another long one"),
            409,
            "already has",
        ),
        (new_user("short@example.test", "2short"), 400, "at least 8"),
        (
            new_user("not-a-upn", "a long new passphrase"),
            400,
            "not a userPrincipalName",
        ),
        (
            json!({"userPrincipalName": "x@example.test", "displayName": "X"}),
            400,
            "passwordProfile.password",
        ),
    ] {
        let (got, refused) = post(env, USERS, &admin, body.clone()).await;
        assert_eq!(got, status, "{body} → {refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains(words),
            "{refused}"
        );
    }
    let (status, _) = post(
        env,
        USERS,
        &plain,
        new_user("p@example.test", "a long new passphrase"),
    )
    .await;
    assert_eq!(status, 403);
    let (_, all) = get(env, &format!("{USERS}?$count=true"), &plain).await;
    assert_eq!(all["@odata.count"], 3, "{all}");

    // Changed: name and state; what cannot change is named.
    let (status, body) = patch(
        env,
        &format!("{USERS}/{id}"),
        &admin,
        json!({"displayName": "Nina N.", "accountEnabled": false}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (_, disabled) = get(
        env,
        &format!("{USERS}?$filter=accountEnabled eq false"),
        &plain,
    )
    .await;
    assert_eq!(disabled["value"][0]["displayName"], "Nina N.");
    let (status, refused) = patch(
        env,
        &format!("{USERS}/{id}"),
        &admin,
        json!({"id": "other"}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    let (status, _) = patch(
        env,
        &format!("{USERS}/{id}"),
        &plain,
        json!({"displayName": "Hacked"}),
    )
    .await;
    assert_eq!(status, 403);

    // Deleted, audited.
    let (status, _) = delete(env, &format!("{USERS}/{id}"), &admin).await;
    assert_eq!(status, 204);
    let (status, _) = get(env, &format!("{USERS}/{id}"), &plain).await;
    assert_eq!(status, 404);
    let audits = common::audits_in(env, Some("UserManagement")).await;
    let activities: Vec<String> = audits
        .iter()
        .map(|a| a.entry.activity_display_name.clone())
        .collect();
    // The update says what changed, old → new.
    let update = audits
        .iter()
        .find(|a| a.entry.activity_display_name == "Update user")
        .unwrap();
    let details = update.entry.additional_details.to_string();
    assert!(details.contains("Nina New → Nina N."), "{details}");
    assert!(details.contains("true → false"), "{details}");
    for a in ["Add user", "Update user", "Delete user"] {
        assert!(activities.iter().any(|x| x == a), "{a}: {activities:?}");
    }
}

async fn admins_are_changed_only_by_global_administrators_and_not_all_locked_out(env: &Env) {
    let (_, user_admin) = holder(env, "useradmin@example.test", USER_ADMINISTRATOR).await;
    let (_, global) = holder(env, "root@example.test", GLOBAL_ADMINISTRATOR).await;
    let (bob, _) = signed_in(env, "bob@example.test").await;
    assign(
        env,
        &bob.id,
        SECURITY_READER,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    let (adele, _) = signed_in(env, "adele@example.test").await;
    assign(
        env,
        &adele.id,
        GLOBAL_ADMINISTRATOR,
        AssignmentStatus::Eligible,
        None,
    )
    .await;

    // Bob may activate a role: a User Administrator cannot touch him; a Global Administrator can.
    let bob_path = format!("{USERS}/{}", bob.id);
    let (status, refused) = patch(
        env,
        &bob_path,
        &user_admin,
        json!({"accountEnabled": false}),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Global Administrator"));
    let (status, _) = delete(env, &bob_path, &user_admin).await;
    assert_eq!(status, 403);
    let (status, _) = patch(env, &bob_path, &global, json!({"displayName": "Bob B."})).await;
    assert_eq!(status, 204);

    // Adele is the only user eligible for Global Administrator, whose activation requires c1:
    // disabling or deleting her is refused unless forced, and the force is on record.
    env.policies(json!({
        "authenticationContextClassReferences": [{ "id": "c1", "displayName": "PIM", "isAvailable": true }]
    }))
    .await;
    let mut settings = pim::RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, env.now());
    settings
        .require_authentication_context("c1", env.now(), None)
        .unwrap();
    env.state.store.put_role_policy(&settings, 0).await.unwrap();
    let adele_path = format!("{USERS}/{}", adele.id);
    let (status, refused) =
        patch(env, &adele_path, &global, json!({"accountEnabled": false})).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "ConditionalAccessLockout");
    let (status, _) = delete(env, &adele_path, &global).await;
    assert_eq!(status, 409);
    let (_, still) = get(env, &adele_path, &global).await;
    assert_eq!(still["accountEnabled"], true);
    // Renaming her locks nobody out.
    let (status, _) = patch(
        env,
        &adele_path,
        &global,
        json!({"displayName": "Adele A."}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = patch(
        env,
        &format!("{adele_path}?force=true"),
        &global,
        json!({"accountEnabled": false}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let audits = common::audits_in(env, Some("UserManagement")).await;
    assert!(audits
        .iter()
        .any(|a| a.entry.result == store::AuditResult::Failure
            && a.entry.activity_display_name == "Update user"));
    assert!(audits
        .iter()
        .any(|a| a.entry.result == store::AuditResult::Success
            && a.entry.additional_details.to_string().contains("force")));
}
