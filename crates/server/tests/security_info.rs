//! Security info over real HTTP: a temporary access pass bootstraps a first passkey for an
//! account that never had a password; authenticators without user verification and cloned
//! authenticators are refused; one-time codes by SMS go through the outbox and work once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use authn::secrecy::ExposeSecret;
use common::account::{account_with_pass, post_json, register, register_with};
use common::graph::{administrator, call, get, post, signed_in};
use common::{authorize_path, pkce, transaction_of, Browser, Env, Landing};
use serde_json::{json, Value};
use webauthn_authenticator_rs::prelude::{RequestChallengeResponse, Url};
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_authenticator_rs::WebauthnAuthenticator;

/// A user with no password and a one-time temporary access pass; returns the pass.
async fn user_with_pass(env: &Env, upn: &str) -> (store::User, String) {
    let user = store::User::new(upn, upn, env.now());
    env.state.store.create_user(&user).await.unwrap();
    let issued = authn::tap::issue_tap(
        &authn::tap::TapPolicy::default(),
        env.now(),
        None,
        None,
        true,
    )
    .unwrap();
    env.state
        .store
        .add_tap(&store::TemporaryAccessPass {
            id: store::new_id(),
            user_id: user.id.clone(),
            pass_hash: issued.pass_hash.clone(),
            is_usable_once: true,
            starts_at: issued.starts_at,
            expires_at: issued.expires_at,
            used_at: None,
            created_by: "test".into(),
            created_at: env.now(),
        })
        .await
        .unwrap();
    env.state.tenant_changed();
    (user, issued.pass.expose_secret().to_string())
}

/// Signs in to the app with `key` as the only method; returns the landing.
async fn sign_in_with_key<A: WebauthnAuthenticator>(
    env: &Env,
    upn: &str,
    key: &mut A,
) -> (u16, Value, Browser, String) {
    let b = Browser::new(env);
    let (_, challenge) = pkce();
    let page = b.get(&authorize_path("app", &challenge, &[])).await;
    let tx = transaction_of(page.html());
    let page = b
        .post(&format!("/signin/{tx}/username"), &[("username", upn)])
        .await;
    assert!(page.html().contains("webauthn-form"), "{}", page.html());
    let (_, o) = post_json(
        &b,
        env,
        &format!("/signin/{tx}/webauthn/options"),
        &json!({}),
    )
    .await;
    let rcr: RequestChallengeResponse = serde_json::from_value(o["options"].clone()).unwrap();
    let a = key
        .do_authentication(Url::parse(&env.base).unwrap(), rcr)
        .unwrap();
    let (status, body) = post_json(
        &b,
        env,
        &format!("/signin/{tx}/webauthn"),
        &json!({"ceremonyId": o["ceremonyId"], "credential": serde_json::to_value(&a).unwrap()}),
    )
    .await;
    (status, body, b, tx)
}

async fn a_temporary_access_pass_bootstraps_a_passkey(env: &Env) {
    env.public_client("app").await;
    let (user, pass) = user_with_pass(env, "newadmin@example.test").await;
    let b = Browser::new(env);
    let landing = account_with_pass(&b, "newadmin@example.test", &pass).await;
    assert!(
        landing.html().contains("Security info"),
        "{}",
        landing.html()
    );
    let mut key = SoftToken::new(true).unwrap().0;
    let (status, added) = register(&b, env, &mut key).await.unwrap();
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["method"], "fido2");
    let methods = env.state.store.list_webauthn(&user.id).await.unwrap();
    assert_eq!(methods.len(), 1);

    // The passkey now signs in on its own.
    let (status, next, b2, _) = sign_in_with_key(env, "newadmin@example.test", &mut key).await;
    assert_eq!(status, 200, "{next}");
    let done = b2.get(next["next"].as_str().unwrap()).await;
    assert!(done.param("code").is_some());

    // The one-time pass is spent.
    let again = Browser::new(env);
    let page = again.get("/account").await;
    let tx = transaction_of(page.html());
    again
        .post(
            &format!("/signin/{tx}/username"),
            &[("username", "newadmin@example.test")],
        )
        .await;
    let refused = again
        .post(&format!("/signin/{tx}/tap"), &[("pass", &pass)])
        .await;
    assert!(
        !refused.html().contains("Security info"),
        "{}",
        refused.html()
    );
}

async fn registration_needs_a_recent_sign_in_and_user_verification(env: &Env) {
    let (user, pass) = user_with_pass(env, "newadmin@example.test").await;
    let b = Browser::new(env);
    account_with_pass(&b, "newadmin@example.test", &pass).await;
    // An authenticator that does not verify the user refuses the server's options (which
    // require verification)…
    let mut no_uv = SoftToken::new(false).unwrap().0;
    assert!(register(&b, env, &mut no_uv).await.is_err());
    // …and when a script downgrades the options, the server refuses the unverified result.
    let (status, body) = register_with(&b, env, &mut no_uv, |o| {
        o["publicKey"]["authenticatorSelection"]["userVerification"] = json!("discouraged");
    })
    .await
    .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(env
        .state
        .store
        .list_webauthn(&user.id)
        .await
        .unwrap()
        .is_empty());
    // Eleven minutes later the session is too old to change security info.
    env.state.clock.advance(chrono::Duration::minutes(11));
    let (status, body) = post_json(&b, env, "/account/webauthn/options", &json!({})).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = post_json(&b, env, "/account/totp/start", &json!({})).await;
    assert_eq!(status, 401);
    // And a stranger without a session gets nothing either.
    let stranger = Browser::new(env);
    let (status, _) = post_json(&stranger, env, "/account/webauthn/options", &json!({})).await;
    assert_eq!(status, 401);
}

async fn a_cloned_authenticator_is_refused(env: &Env) {
    env.public_client("app").await;
    let (_, pass) = user_with_pass(env, "newadmin@example.test").await;
    let b = Browser::new(env);
    account_with_pass(&b, "newadmin@example.test", &pass).await;
    let mut original = SoftToken::new(true).unwrap().0;
    register(&b, env, &mut original).await.unwrap();
    let mut clone = SoftToken::from_cbor(&original.to_cbor().unwrap()).unwrap();
    for _ in 0..2 {
        let (status, body, _, _) =
            sign_in_with_key(env, "newadmin@example.test", &mut original).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body, _, _) = sign_in_with_key(env, "newadmin@example.test", &mut clone).await;
    assert_eq!(status, 400, "{body}");
    let (status, _, _, _) = sign_in_with_key(env, "newadmin@example.test", &mut original).await;
    assert_eq!(status, 200);
}

async fn a_totp_app_is_added_with_its_first_code(env: &Env) {
    let (user, pass) = user_with_pass(env, "newadmin@example.test").await;
    let b = Browser::new(env);
    account_with_pass(&b, "newadmin@example.test", &pass).await;
    let (status, started) = post_json(&b, env, "/account/totp/start", &json!({})).await;
    assert_eq!(status, 200);
    assert!(started["otpauthUri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let key = started["manualEntryKey"].as_str().unwrap();
    let secret = base32_decode(key);
    let wrong = post_json(
        &b,
        env,
        "/account/totp",
        &json!({"ceremonyId": started["ceremonyId"], "code": "000000"}),
    )
    .await;
    // A wrong code spends the enrolment (start again), so try the right one on a new one.
    if wrong.0 == 200 {
        panic!("000000 was accepted");
    }
    let (_, started) = post_json(&b, env, "/account/totp/start", &json!({})).await;
    let secret2 = base32_decode(started["manualEntryKey"].as_str().unwrap());
    assert_ne!(secret, secret2);
    let code = common::totp_code(&secret2, env.now());
    let (status, body) = post_json(
        &b,
        env,
        "/account/totp",
        &json!({"ceremonyId": started["ceremonyId"], "code": code}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(env.state.store.list_totp(&user.id).await.unwrap().len(), 1);
}

fn base32_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = 0u64;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=' && !c.is_ascii_whitespace()) {
        let v = ALPHABET
            .iter()
            .position(|a| *a == c.to_ascii_uppercase())
            .unwrap() as u64;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}

async fn a_code_by_text_message_works_once(env: &Env) {
    env.public_client("app").await;
    let alice = env
        .user("alice@example.test", "correct horse battery staple 93")
        .await;
    env.state
        .store
        .add_contact_method(&store::ContactMethod {
            id: store::new_id(),
            user_id: alice.id.clone(),
            kind: store::Channel::Sms,
            address: "+15550100123".into(),
            created_at: env.now(),
            provenance: None,
        })
        .await
        .unwrap();
    env.policies(json!({ "conditionalAccessPolicies": [{
        "id": "ca001", "displayName": "CA001 Require MFA", "state": "enabled",
        "conditions": { "users": { "includeUsers": ["All"] }, "applications": { "includeApplications": ["All"] }, "clientAppTypes": ["all"] },
        "grantControls": { "operator": "OR", "builtInControls": ["mfa"] }
    }]}))
    .await;
    let b = Browser::new(env);
    let (_, challenge) = pkce();
    let page = b.get(&authorize_path("app", &challenge, &[])).await;
    let tx = transaction_of(page.html());
    b.post(
        &format!("/signin/{tx}/username"),
        &[("username", "alice@example.test")],
    )
    .await;
    let page = b
        .post(
            &format!("/signin/{tx}/password"),
            &[("password", "correct horse battery staple 93")],
        )
        .await;
    assert!(
        page.html().contains("Text a code to …0123"),
        "{}",
        page.html()
    );
    let contact = env
        .state
        .store
        .list_contact_methods(&alice.id)
        .await
        .unwrap()[0]
        .id
        .clone();
    let page = b
        .post(
            &format!("/signin/{tx}/otp/send"),
            &[("contact_id", &contact)],
        )
        .await;
    let html = page.html().to_string();
    assert!(html.contains("otp-form"), "{html}");
    let challenge_id = html
        .split("name=\"challenge_id\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let sent = env
        .state
        .store
        .list_outbox(Some("+15550100123"))
        .await
        .unwrap();
    let body = &sent.last().unwrap().body;
    let code: String = body
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .chars()
        .take(6)
        .collect();
    let wrong = if code == "123456" { "654321" } else { "123456" };
    let p = b
        .post(
            &format!("/signin/{tx}/otp"),
            &[("challenge_id", &challenge_id), ("code", wrong)],
        )
        .await;
    assert!(p.html().contains("not valid"), "{}", p.html());
    let done = b
        .post(
            &format!("/signin/{tx}/otp"),
            &[("challenge_id", &challenge_id), ("code", &code)],
        )
        .await;
    done.code();
    // The same code in a new sign-in: spent.
    let page = b
        .get(&authorize_path("app", &challenge, &[("prompt", "login")]))
        .await;
    let tx2 = transaction_of(page.html());
    b.post(
        &format!("/signin/{tx2}/password"),
        &[("password", "correct horse battery staple 93")],
    )
    .await;
    let p = b
        .post(
            &format!("/signin/{tx2}/otp"),
            &[("challenge_id", &challenge_id), ("code", &code)],
        )
        .await;
    assert!(matches!(p, Landing::Page { .. }), "a spent code signed in");
}

async fn an_administrator_issues_passes_one_at_a_time_and_bad_requests_change_nothing(env: &Env) {
    let (_, admin) = administrator(env, "pra@example.test").await;
    let (bob, bob_token) = signed_in(env, "bob@example.test").await;
    let passes = format!(
        "/v1.0/users/{}/authentication/temporaryAccessPassMethods",
        bob.id
    );
    let count = |v: &Value| v["value"].as_array().unwrap().len();

    // Refused, and nothing issued: a lifetime outside 10 minutes to 8 hours, an unknown field,
    // a body that is not JSON, an unknown user, a caller who is no administrator.
    for body in [
        json!({"lifetimeInMinutes": 5}),
        json!({"lifetimeInMinutes": 600}),
        json!({"lifetimeInMinutes": 60, "isUsableOnce": true, "pass": "chosen-by-me"}),
        json!("sixty minutes"),
    ] {
        let (status, answer) = post(env, &passes, &admin, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().len() > 10);
    }
    let (status, _) = post(
        env,
        "/v1.0/users/nobody@example.test/authentication/temporaryAccessPassMethods",
        &admin,
        json!({}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = post(env, &passes, &bob_token, json!({})).await;
    assert_eq!(status, 403);
    let (_, listed) = get(env, &passes, &admin).await;
    assert_eq!(count(&listed), 0, "{listed}");

    // A multi-use pass with the default lifetime (an hour); a second one is refused until the
    // first is deleted.
    let (status, issued) = post(env, &passes, &admin, json!({"isUsableOnce": false})).await;
    assert_eq!(status, 201, "{issued}");
    assert_eq!(issued["lifetimeInMinutes"], 60);
    assert_eq!(issued["isUsableOnce"], false);
    assert_eq!(issued["methodUsabilityReason"], "EnabledByPolicy");
    assert_eq!(issued["temporaryAccessPass"].as_str().unwrap().len(), 16);
    let (status, _) = post(env, &passes, &admin, json!({})).await;
    assert_eq!(status, 400);
    let id = issued["id"].as_str().unwrap();
    let (status, _) = call(
        env,
        reqwest::Method::DELETE,
        &format!("{passes}/{id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        env,
        reqwest::Method::DELETE,
        &format!("{passes}/{id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, again) = post(env, &passes, &admin, json!({"lifetimeInMinutes": 10})).await;
    assert_eq!(status, 201, "{again}");

    // An expired pass shows why it cannot be used, and no longer blocks a new one.
    env.state.clock.advance(chrono::Duration::minutes(11));
    let admin = common::password_tokens(
        env,
        &Browser::new(env),
        "app",
        "pra@example.test",
        common::graph::PASSWORD,
    )
    .await;
    let admin = admin["access_token"].as_str().unwrap();
    let (_, listed) = get(env, &passes, admin).await;
    assert_eq!(
        listed["value"][0]["methodUsabilityReason"], "Expired",
        "{listed}"
    );
    assert_eq!(listed["value"][0]["isUsable"], false);
    let (status, _) = post(env, &passes, admin, json!({})).await;
    assert_eq!(status, 201);

    // Each issue and delete is audited, and so is each refusal.
    let audits = env
        .state
        .store
        .query_audits(&store::AuditQuery::default())
        .await
        .unwrap();
    let named = |name: &str, result: store::AuditResult| {
        audits
            .iter()
            .filter(|a| a.entry.activity_display_name == name && a.entry.result == result)
            .count()
    };
    let issue = "Admin registered temporary access pass method for user";
    assert_eq!(named(issue, store::AuditResult::Success), 3);
    assert_eq!(
        named(issue, store::AuditResult::Failure),
        3,
        "two lifetimes, one second pass"
    );
    assert_eq!(
        named(
            "Admin deleted temporary access pass method for user",
            store::AuditResult::Success
        ),
        1
    );
}

on_both_backends!(
    a_temporary_access_pass_bootstraps_a_passkey,
    registration_needs_a_recent_sign_in_and_user_verification,
    a_cloned_authenticator_is_refused,
    a_totp_app_is_added_with_its_first_code,
    a_code_by_text_message_works_once,
    an_administrator_issues_passes_one_at_a_time_and_bad_requests_change_nothing,
);
