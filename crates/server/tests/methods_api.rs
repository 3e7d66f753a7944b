//! `/v1.0/users/{id}/authentication/{kind}Methods` over HTTP: each per-kind collection lists
//! the user's methods of that kind in Graph's shape with their provenance; an administrator
//! deletes one under the registration rules — never the user's own through a token, a role
//! holder's only as a Global Administrator, never the password — and deleting the last method
//! with which an eligible Global Administrator could activate is refused by the lockout guard
//! unless forced. Every test runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::graph::{assign, delete, get, holder, signed_in};
use common::pim::{context_policy, require_context};
use common::{audits_named, passkey, Env};
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR};
use serde_json::{json, Value};

on_both_backends!(
    each_kind_lists_its_methods_with_their_provenance,
    administrators_delete_methods_under_the_registration_rules,
    deleting_the_last_counting_key_of_the_global_administrators_is_guarded,
);

const USER_ADMINISTRATOR: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";

fn path(user: &str, kind: &str) -> String {
    format!("/v1.0/users/{user}/authentication/{kind}")
}

fn ids(list: &Value) -> Vec<String> {
    list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

async fn each_kind_lists_its_methods_with_their_provenance(env: &Env) {
    let (nina, nina_token) = signed_in(env, "nina@example.test").await;
    env.totp(&nina).await;
    passkey(env, &nina).await;
    let (_, user_admin) = holder(env, "useradmin@example.test", USER_ADMINISTRATOR).await;
    let (_, plain) = signed_in(env, "plain@example.test").await;

    for token in [&nina_token, &user_admin] {
        let (status, keys) = get(env, &path(&nina.id, "fido2Methods"), token).await;
        assert_eq!(status, 200, "{keys}");
        let keys = keys["value"].as_array().unwrap().clone();
        assert_eq!(keys.len(), 1, "{keys:?}");
        assert_eq!(
            keys[0]["@odata.type"],
            "#microsoft.graph.fido2AuthenticationMethod"
        );
        assert_eq!(keys[0]["displayName"], "Soft passkey");
        assert!(keys[0].get("aaGuid").is_some());
        assert_eq!(
            keys[0]["registeredWith"]["proof"], "temporaryAccessPass",
            "{keys:?}"
        );

        let (status, apps) = get(env, &path(&nina.id, "softwareOathMethods"), token).await;
        assert_eq!(status, 200, "{apps}");
        assert_eq!(apps["value"].as_array().unwrap().len(), 1);
        assert_eq!(
            apps["value"][0]["@odata.type"],
            "#microsoft.graph.softwareOathAuthenticationMethod"
        );
        assert!(apps["value"][0]["secretKey"].is_null());
        let (_, password) = get(env, &path(&nina.id, "passwordMethods"), token).await;
        assert_eq!(password["value"].as_array().unwrap().len(), 1);
        for empty in [
            "phoneMethods",
            "emailMethods",
            "windowsHelloForBusinessMethods",
        ] {
            let (status, list) = get(env, &path(&nina.id, empty), token).await;
            assert_eq!(status, 200, "{empty}: {list}");
            assert!(list["value"].as_array().unwrap().is_empty(), "{empty}");
        }
        // One by id, in its kind only.
        let app_id = ids(&apps)[0].clone();
        let (status, one) = get(
            env,
            &format!("{}/{app_id}", path(&nina.id, "softwareOathMethods")),
            token,
        )
        .await;
        assert_eq!(status, 200, "{one}");
        assert_eq!(one["id"], app_id.as_str());
        let (status, _) = get(
            env,
            &format!("{}/{app_id}", path(&nina.id, "fido2Methods")),
            token,
        )
        .await;
        assert_eq!(status, 404);
    }
    // By sign-in name too; not to a stranger; an option the route does not take is refused.
    let (status, by_upn) = get(env, &path("nina@example.test", "fido2Methods"), &user_admin).await;
    assert_eq!(status, 200, "{by_upn}");
    assert_eq!(by_upn["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        get(env, &path(&nina.id, "fido2Methods"), &plain).await.0,
        403
    );
    let (status, _) = get(
        env,
        &format!("{}?$top=abc", path(&nina.id, "fido2Methods")),
        &user_admin,
    )
    .await;
    assert_eq!(status, 400);
}

async fn administrators_delete_methods_under_the_registration_rules(env: &Env) {
    let (nina, nina_token) = signed_in(env, "nina@example.test").await;
    env.totp(&nina).await;
    passkey(env, &nina).await;
    let (bob, _) = signed_in(env, "bob@example.test").await;
    passkey(env, &bob).await;
    assign(
        env,
        &bob.id,
        SECURITY_READER,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    let (_, user_admin) = holder(env, "useradmin@example.test", USER_ADMINISTRATOR).await;
    let (_, global) = holder(env, "root@example.test", GLOBAL_ADMINISTRATOR).await;
    let (_, plain) = signed_in(env, "plain@example.test").await;
    let (_, nina_keys) = get(env, &path(&nina.id, "fido2Methods"), &nina_token).await;
    let nina_key = format!("{}/{}", path(&nina.id, "fido2Methods"), ids(&nina_keys)[0]);

    // The user herself, with a token: refused (Security info asks for a fresh proof).
    let (status, refused) = delete(env, &nina_key, &nina_token).await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/account"));
    // Someone without a user administrator's role: refused.
    assert_eq!(delete(env, &nina_key, &plain).await.0, 403);
    assert_eq!(
        get(env, &path(&nina.id, "fido2Methods"), &nina_token)
            .await
            .1["value"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A User Administrator deletes a plain user's key: gone, audited with what it was.
    let (status, answer) = delete(env, &nina_key, &user_admin).await;
    assert_eq!(status, 204, "{answer}");
    let (_, after) = get(env, &path(&nina.id, "fido2Methods"), &nina_token).await;
    assert!(after["value"].as_array().unwrap().is_empty());
    let deleted = audits_named(env, "Admin deleted security info").await;
    let done: Vec<_> = deleted
        .iter()
        .filter(|a| a.entry.result == store::AuditResult::Success)
        .collect();
    assert_eq!(done.len(), 1);
    let details = done[0].entry.additional_details.to_string();
    assert!(details.contains("Soft passkey"), "{details}");
    assert!(details.contains("fido2"), "{details}");
    assert!(deleted
        .iter()
        .any(|a| a.entry.result == store::AuditResult::Failure));
    // Again: nothing to delete.
    let (status, again) = delete(env, &nina_key, &user_admin).await;
    assert_eq!(status, 404, "{again}");
    assert_eq!(again["error"]["code"], "Request_ResourceNotFound");
    // The app through the wrong kind's collection: not found, still there.
    let (_, apps) = get(env, &path(&nina.id, "softwareOathMethods"), &nina_token).await;
    let app_id = ids(&apps)[0].clone();
    let (status, _) = delete(
        env,
        &format!("{}/{app_id}", path(&nina.id, "phoneMethods")),
        &user_admin,
    )
    .await;
    assert_eq!(status, 404);
    // The password is reset, never deleted.
    let (status, refused) = delete(
        env,
        &format!("{}/{}", path(&nina.id, "passwordMethods"), nina.id),
        &user_admin,
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        get(env, &path(&nina.id, "passwordMethods"), &nina_token)
            .await
            .1["value"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Bob may activate a role: only a Global Administrator deletes his key.
    let (_, bob_keys) = get(env, &path(&bob.id, "fido2Methods"), &global).await;
    let bob_key = format!("{}/{}", path(&bob.id, "fido2Methods"), ids(&bob_keys)[0]);
    let (status, refused) = delete(env, &bob_key, &user_admin).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(delete(env, &bob_key, &global).await.0, 204);
    assert!(
        get(env, &path(&bob.id, "fido2Methods"), &global).await.1["value"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

async fn deleting_the_last_counting_key_of_the_global_administrators_is_guarded(env: &Env) {
    let (_, global) = holder(env, "root@example.test", GLOBAL_ADMINISTRATOR).await;
    let (adele, _) = signed_in(env, "adele@example.test").await;
    assign(
        env,
        &adele.id,
        GLOBAL_ADMINISTRATOR,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    passkey(env, &adele).await;
    passkey(env, &adele).await;
    // Activating Global Administrator requires c1, which asks for a phishing-resistant key.
    env.policies(context_policy(
        "c1",
        json!({"operator": "OR", "authenticationStrength": {"id": PHISHING_RESISTANT}}),
    ))
    .await;
    require_context(env, GLOBAL_ADMINISTRATOR, "c1").await;
    let keys_path = path(&adele.id, "fido2Methods");
    let (_, keys) = get(env, &keys_path, &global).await;
    let keys = ids(&keys);
    assert_eq!(keys.len(), 2);

    // One of two keys: the other still counts.
    let (status, answer) = delete(env, &format!("{keys_path}/{}", keys[0]), &global).await;
    assert_eq!(status, 204, "{answer}");
    // The last one: refused, kept.
    let last = format!("{keys_path}/{}", keys[1]);
    let (status, refused) = delete(env, &last, &global).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "ConditionalAccessLockout");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("adele@example.test"));
    assert_eq!(ids(&get(env, &keys_path, &global).await.1).len(), 1);
    // Forced: deleted, and the force is on record.
    let (status, answer) = delete(env, &format!("{last}?force=true"), &global).await;
    assert_eq!(status, 204, "{answer}");
    assert!(ids(&get(env, &keys_path, &global).await.1).is_empty());
    assert!(audits_named(env, "Admin deleted security info")
        .await
        .iter()
        .any(|a| a.entry.result == store::AuditResult::Success
            && a.entry.additional_details.to_string().contains("force")));
}
