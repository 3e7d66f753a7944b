//! The sign-in pages over real HTTP: identification, each method, Conditional Access deciding
//! what is asked, step-up to an authentication context, and the attacks on them (reused TOTP
//! code, replayed or foreign-origin WebAuthn assertion, open redirect, a transaction carried to
//! another browser, password guessing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{authorize_path, passkey, pkce, totp_code, transaction_of, Browser, Env, Landing};
use serde_json::json;
use std::net::Ipv4Addr;
use store::{SignInQuery, SignInResult};
use webauthn_authenticator_rs::prelude::{RequestChallengeResponse, Url};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator;

const PASSWORD: &str = "correct horse battery staple 93";

fn mfa_for_all_apps() -> serde_json::Value {
    json!({ "conditionalAccessPolicies": [{
        "id": "ca001", "displayName": "CA001 Require MFA", "state": "enabled",
        "conditions": {
            "users": { "includeUsers": ["All"] },
            "applications": { "includeApplications": ["All"] },
            "clientAppTypes": ["all"]
        },
        "grantControls": { "operator": "OR", "builtInControls": ["mfa"] }
    }]})
}

fn phishing_resistant_for_c1() -> serde_json::Value {
    json!({
        "authenticationContextClassReferences": [{ "id": "c1", "displayName": "PIM activation", "isAvailable": true }],
        "conditionalAccessPolicies": [{
            "id": "ca010", "displayName": "CA010 c1 phishing-resistant every time", "state": "enabled",
            "conditions": {
                "users": { "includeUsers": ["All"] },
                "applications": { "includeAuthenticationContextClassReferences": ["c1"] },
                "clientAppTypes": ["all"]
            },
            "grantControls": { "operator": "OR", "authenticationStrength": { "id": "00000000-0000-0000-0000-000000000004" } },
            "sessionControls": { "signInFrequency": { "isEnabled": true, "frequencyInterval": "everyTime", "authenticationType": "primaryAndSecondaryAuthentication" } }
        }]
    })
}

/// Starts a sign-in and names the user; returns the landing (the method page).
async fn begin(b: &Browser, client: &str, upn: &str, extra: &[(&str, &str)]) -> (String, Landing) {
    let (_, challenge) = pkce();
    let page = b.get(&authorize_path(client, &challenge, extra)).await;
    let tx = transaction_of(page.html());
    if page.html().contains("username-form") {
        let page = b
            .post(&format!("/signin/{tx}/username"), &[("username", upn)])
            .await;
        return (tx, page);
    }
    (tx, page)
}

/// The code's stored record (redeemed here, as the token endpoint would).
async fn redeem(env: &Env, landing: &Landing) -> store::AuthorizationCode {
    let code = landing.code();
    env.state
        .store
        .consume_code(&server::web::token_hash(&code), env.now())
        .await
        .unwrap()
        .expect("a live code")
}

async fn password_then_totp_when_policy_requires_mfa(env: &Env) {
    env.public_client("app").await;
    env.policies(mfa_for_all_apps()).await;
    let alice = env.user("alice@example.test", PASSWORD).await;
    let secret = env.totp(&alice).await;
    let b = Browser::new(env);
    let (tx, page) = begin(&b, "app", "alice@example.test", &[]).await;
    assert!(page.html().contains("password-form"), "{}", page.html());
    assert!(
        !page.html().contains("totp-form"),
        "a second factor before the first"
    );
    let page = b
        .post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await;
    let html = page.html();
    assert!(html.contains("totp-form"), "{html}");
    assert!(
        html.contains("CA001 Require MFA"),
        "the page names the policy: {html}"
    );
    let page = b
        .post(
            &format!("/signin/{tx}/totp"),
            &[("code", &totp_code(&secret, env.now()))],
        )
        .await;
    assert_eq!(page.param("state").as_deref(), Some("st4te"));
    assert_eq!(page.param("iss").as_deref(), Some(env.base.as_str()));
    let code = redeem(env, &page).await;
    assert_eq!(code.acr.as_deref(), Some("mfa"));
    for v in ["mfa", "otp", "pwd"] {
        assert!(
            code.amr.contains(&v.to_string()),
            "amr {:?} lacks {v}",
            code.amr
        );
    }
    assert!(code.acrs.is_empty());
    let log = env
        .state
        .store
        .query_signins(&SignInQuery {
            user_id: Some(alice.id.clone()),
            since: None,
            result: Some(SignInResult::Success),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    let applied = log[0].applied_policies.as_array().unwrap();
    assert!(
        applied
            .iter()
            .any(|p| p["id"] == "ca001" && p["result"] == "success"),
        "{applied:?}"
    );
    assert_eq!(
        log[0].methods,
        vec!["password".to_string(), "softwareOath".to_string()]
    );
}

async fn a_totp_code_is_accepted_once(env: &Env) {
    env.public_client("app").await;
    env.policies(mfa_for_all_apps()).await;
    let alice = env.user("alice@example.test", PASSWORD).await;
    let secret = env.totp(&alice).await;
    let code = totp_code(&secret, env.now());
    let b = Browser::new(env);
    let (tx, _) = begin(&b, "app", "alice@example.test", &[]).await;
    b.post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await;
    let done = b
        .post(&format!("/signin/{tx}/totp"), &[("code", &code)])
        .await;
    done.code();
    // Same code, new sign-in that must authenticate again.
    let (tx, _) = begin(&b, "app", "alice@example.test", &[("prompt", "login")]).await;
    b.post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await;
    let again = b
        .post(&format!("/signin/{tx}/totp"), &[("code", &code)])
        .await;
    assert!(
        again.html().contains("already been used"),
        "{}",
        again.html()
    );
    let failures = env
        .state
        .store
        .query_signins(&SignInQuery {
            user_id: Some(alice.id),
            since: None,
            result: Some(SignInResult::Failure),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(failures.len(), 1, "the refused code is logged");
}

/// Asks for WebAuthn options in transaction `tx` and signs them with `key` at `origin`.
async fn assertion(
    b: &Browser,
    env: &Env,
    tx: &str,
    key: &mut SoftPasskey,
    origin: &str,
) -> serde_json::Value {
    let r = b
        .http
        .post(format!("{}/signin/{tx}/webauthn/options", env.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let rcr: RequestChallengeResponse = serde_json::from_value(body["options"].clone()).unwrap();
    let signed = key
        .do_authentication(Url::parse(origin).unwrap(), rcr)
        .unwrap();
    json!({ "ceremonyId": body["ceremonyId"], "credential": serde_json::to_value(&signed).unwrap() })
}

async fn finish(
    b: &Browser,
    env: &Env,
    tx: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let r = b
        .http
        .post(format!("{}/signin/{tx}/webauthn", env.base))
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn step_up_to_c1_needs_a_passkey_made_now(env: &Env) {
    env.public_client("app").await;
    env.policies(phishing_resistant_for_c1()).await;
    let adele = env.user("adele@example.test", PASSWORD).await;
    let secret = env.totp(&adele).await;
    let mut key = passkey(env, &adele).await;
    let b = Browser::new(env);

    // An ordinary sign-in: password only, no policy on the app.
    let (tx, _) = begin(&b, "app", "adele@example.test", &[]).await;
    let first = b
        .post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await;
    let first = redeem(env, &first).await;
    assert_eq!(first.acr.as_deref(), Some("pwd"));

    // Step-up: the claims request names c1.
    let claims = json!({"access_token": {"acrs": {"essential": true, "value": "c1"}}}).to_string();
    let (tx, page) = begin(&b, "app", "adele@example.test", &[("claims", &claims)]).await;
    let html = page.html();
    assert!(html.contains("webauthn-form"), "{html}");
    assert!(
        !html.contains("totp-form"),
        "TOTP cannot satisfy phishing-resistant MFA: {html}"
    );
    assert!(!html.contains("password-form"), "{html}");
    assert!(html.contains("CA010"), "{html}");

    // Posting a TOTP code anyway (not offered) does not get the context.
    let still = b
        .post(
            &format!("/signin/{tx}/totp"),
            &[("code", &totp_code(&secret, env.now()))],
        )
        .await;
    assert!(still.html().contains("webauthn-form"), "{}", still.html());

    // The passkey, performed in this step-up, does.
    let body = assertion(&b, env, &tx, &mut key, &env.base).await;
    let (status, next) = finish(&b, env, &tx, &body).await;
    assert_eq!(status, 200, "{next}");
    let done = b.get(next["next"].as_str().unwrap()).await;
    let code = redeem(env, &done).await;
    assert_eq!(code.acrs, vec!["c1".to_string()]);
    assert_eq!(code.acr.as_deref(), Some("phr"));
    assert!(code.amr.contains(&"hwk".to_string()), "{:?}", code.amr);
    assert!(code.auth_time > first.auth_time);

    // The same assertion again: its ceremony is spent.
    let (tx, _) = begin(&b, "app", "adele@example.test", &[("claims", &claims)]).await;
    let (status, refused) = finish(&b, env, &tx, &body).await;
    assert_eq!(status, 400);
    assert!(
        refused["error"].as_str().unwrap().contains("already used"),
        "{refused}"
    );
    // …nor with a fresh ceremony of this transaction: the challenge differs.
    let fresh = assertion(&b, env, &tx, &mut key, &env.base).await;
    let replay = json!({ "ceremonyId": fresh["ceremonyId"], "credential": body["credential"] });
    let (status, _) = finish(&b, env, &tx, &replay).await;
    assert_eq!(status, 400);
}

async fn an_assertion_for_another_origin_is_refused(env: &Env) {
    env.public_client("app").await;
    let adele = env.user("adele@example.test", PASSWORD).await;
    let mut key = passkey(env, &adele).await;
    let b = Browser::new(env);
    let (tx, page) = begin(&b, "app", "adele@example.test", &[]).await;
    assert!(
        page.html().contains("webauthn-form"),
        "a passkey is a first factor"
    );
    let port = url::Url::parse(&env.base).unwrap().port().unwrap();
    // Same relying-party id, another origin (a different port is a different origin).
    let phishing = format!("http://localhost:{}", port + 1);
    let body = assertion(&b, env, &tx, &mut key, &phishing).await;
    let (status, refused) = finish(&b, env, &tx, &body).await;
    assert_eq!(status, 400, "{refused}");
    // The genuine origin works.
    let body = assertion(&b, env, &tx, &mut key, &env.base).await;
    let (status, _) = finish(&b, env, &tx, &body).await;
    assert_eq!(status, 200);
}

async fn an_unregistered_redirect_uri_is_never_followed(env: &Env) {
    env.public_client("app").await;
    let (_, challenge) = pkce();
    let b = Browser::new(env);
    let path = authorize_path("app", &challenge, &[]).replace(
        &url::form_urlencoded::byte_serialize(common::REDIRECT.as_bytes()).collect::<String>(),
        "https%3A%2F%2Fevil.example%2Fcb",
    );
    let r = b
        .http
        .get(format!("{}{path}", env.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    assert!(r.text().await.unwrap().contains("not registered"));
}

async fn a_public_client_must_use_pkce(env: &Env) {
    env.public_client("app").await;
    let b = Browser::new(env);
    let path = format!(
        "/authorize?response_type=code&client_id=app&redirect_uri={}&scope=openid&state=s",
        url::form_urlencoded::byte_serialize(common::REDIRECT.as_bytes()).collect::<String>()
    );
    let landing = b.get(&path).await;
    assert_eq!(landing.param("error").as_deref(), Some("invalid_request"));
    assert!(landing.param("error_description").unwrap().contains("PKCE"));
    assert_eq!(landing.param("state").as_deref(), Some("s"));
}

async fn a_transaction_cannot_be_continued_in_another_browser(env: &Env) {
    env.public_client("app").await;
    env.user("alice@example.test", PASSWORD).await;
    let victim = Browser::new(env);
    let (tx, _) = begin(&victim, "app", "alice@example.test", &[]).await;
    let attacker = Browser::new(env);
    let page = attacker
        .post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await;
    match page {
        Landing::Page { status, html, .. } => {
            assert_eq!(status, 403);
            assert!(html.contains("another browser"));
        }
        other => panic!("{other:?}"),
    }
}

/// Loopback address `127.0.0.n`: a peer other than the default 127.0.0.1.
fn peer(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, n)
}

/// Posts `password` `times` times in one sign-in of `upn` by `b`; returns the last page.
async fn guess(b: &Browser, upn: &str, password: &str, times: usize) -> Landing {
    let (tx, mut page) = begin(b, "app", upn, &[("prompt", "login")]).await;
    for _ in 0..times {
        page = b
            .post(&format!("/signin/{tx}/password"), &[("password", password)])
            .await;
    }
    page
}

/// The `additionalDetails` value of `key`.
fn detail(record: &store::AuditRecord, key: &str) -> String {
    record
        .entry
        .additional_details
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["key"] == key)
        .and_then(|d| d["value"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The sign-in log's failures of `user`, oldest first.
async fn failures(env: &Env, user: &store::User) -> Vec<store::SignInRecord> {
    let mut log = env
        .state
        .store
        .query_signins(&SignInQuery {
            user_id: Some(user.id.clone()),
            since: None,
            result: Some(SignInResult::Failure),
            limit: 1000,
        })
        .await
        .unwrap();
    log.sort_by_key(|r| r.created_at);
    log
}

/// The RFC 3339 time after "until " in `text`, which must end there with a full stop.
fn until_in(text: &str) -> chrono::DateTime<chrono::Utc> {
    let start = text
        .rfind("until ")
        .unwrap_or_else(|| panic!("no 'until' in {text}"))
        + 6;
    let time = text[start..].trim_end_matches('.');
    chrono::DateTime::parse_from_rfc3339(time)
        .unwrap_or_else(|e| panic!("'{time}' in '{text}': {e}"))
        .with_timezone(&chrono::Utc)
}

async fn five_wrong_passwords_lock_that_address_out_of_the_account(env: &Env) {
    env.public_client("app").await;
    env.user("alice@example.test", PASSWORD).await;
    let stranger = Browser::at(env, peer(2));
    let page = guess(&stranger, "alice@example.test", "wrong", 5).await;
    assert!(page.html().contains("Wrong password"), "{}", page.html());
    assert!(page.html().contains("locked until"), "{}", page.html());
    // Now even the right password is refused from there.
    let p = guess(&stranger, "alice@example.test", PASSWORD, 1).await;
    assert!(p.html().contains("locked until"), "{}", p.html());
    assert!(p.html().contains("password-form"), "{}", p.html());
    // The lock is audited once, naming the account and the address.
    let locked = common::audits_named(env, "Sign-in locked out after repeated failures").await;
    assert_eq!(locked.len(), 1, "{locked:?}");
    assert_eq!(locked[0].entry.target_resources[0]["type"], "User");
    assert_eq!(detail(&locked[0], "ipAddress"), "127.0.0.2");
    // The account itself is not locked: from another address it signs in.
    let owner = Browser::at(env, peer(1));
    guess(&owner, "alice@example.test", PASSWORD, 1)
        .await
        .code();
    // The stranger's address gets in again once the lock is over.
    env.state.clock.advance(chrono::Duration::minutes(16));
    guess(&stranger, "alice@example.test", PASSWORD, 1)
        .await
        .code();
}

async fn failures_during_a_lock_are_logged_in_plain_words(env: &Env) {
    env.public_client("app").await;
    let alice = env.user("alice@example.test", PASSWORD).await;
    let stranger = Browser::at(env, peer(2));
    guess(&stranger, "alice@example.test", "wrong", 5).await;
    let refused_at = env.now();
    guess(&stranger, "alice@example.test", PASSWORD, 1).await;
    guess(&stranger, "alice@example.test", "wrong again", 1).await;
    let log = failures(env, &alice).await;
    // Five wrong passwords and two refusals while locked: every failure is in the log.
    assert_eq!(log.len(), 7, "{log:#?}");
    for record in &log {
        let reason = record.failure_reason.as_deref().unwrap();
        assert!(!reason.contains("Some("), "debug text: {reason}");
        assert_eq!(record.methods, vec!["password".to_string()]);
        assert_eq!(record.ip.as_deref(), Some("127.0.0.2"));
    }
    let fifth = log[4].failure_reason.as_deref().unwrap();
    assert!(
        fifth.starts_with(
            "Wrong password. Locked out: sign-in to this account from 127.0.0.2, until "
        ),
        "{fifth}"
    );
    let until = until_in(fifth);
    let expected = refused_at + chrono::Duration::minutes(15);
    assert!(
        (until - expected).num_seconds().abs() <= 5,
        "{until} is not 15 minutes after the fifth failure"
    );
    for refusal in &log[5..] {
        let reason = refusal.failure_reason.as_deref().unwrap();
        assert!(
            reason.starts_with("Refused before checking the credential. Locked out: sign-in to this account from 127.0.0.2, until "),
            "{reason}"
        );
        assert_eq!(until_in(reason), until);
    }
}

async fn a_flood_from_other_addresses_does_not_keep_the_owner_out(env: &Env) {
    env.public_client("app").await;
    let breakglass = env.user("breakglass@example.test", PASSWORD).await;
    // The owner's usual browser has signed in before, from the owner's usual address.
    let owner = Browser::at(env, peer(1));
    guess(&owner, "breakglass@example.test", PASSWORD, 1)
        .await
        .code();

    // 100 wrong passwords from ten other addresses.
    for n in 2..12 {
        let attacker = Browser::at(env, peer(n));
        let page = guess(&attacker, "breakglass@example.test", "guess", 10).await;
        assert!(page.html().contains("locked until"), "{}", page.html());
    }
    // All logged; only the first twenty were checked: then the account throttle refused the
    // rest, since none of these addresses ever signed in to the account.
    assert_eq!(failures(env, &breakglass).await.len(), 100);
    let account = env
        .state
        .store
        .get_lockout(store::LockoutScope::Account, &breakglass.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.failures, 20);
    let throttled = common::audits_named(
        env,
        "Sign-in throttled for unrecognised devices after repeated failures",
    )
    .await;
    assert_eq!(throttled.len(), 1, "{throttled:?}");
    assert_eq!(
        throttled[0].entry.target_resources[0]["id"],
        breakglass.id.as_str()
    );
    assert_eq!(
        common::audits_named(env, "Sign-in locked out after repeated failures")
            .await
            .len(),
        4,
        "one lock per address whose guesses were counted"
    );

    // The owner's browser signs in from its usual address…
    guess(&owner, "breakglass@example.test", PASSWORD, 1)
        .await
        .code();
    // …and from an address never seen: the browser is a known device.
    guess(
        &owner.moved_to(peer(50)),
        "breakglass@example.test",
        PASSWORD,
        1,
    )
    .await
    .code();
    // A fresh browser at the owner's usual address gets in too (a recent sign-in from there).
    guess(
        &Browser::at(env, peer(1)),
        "breakglass@example.test",
        PASSWORD,
        1,
    )
    .await
    .code();
    // A fresh browser at an address never seen is throttled, right password or not.
    let newcomer = guess(
        &Browser::at(env, peer(60)),
        "breakglass@example.test",
        PASSWORD,
        1,
    )
    .await;
    assert!(
        newcomer.html().contains("not used recently"),
        "{}",
        newcomer.html()
    );
    // Once the throttle is over, it gets in.
    env.state.clock.advance(chrono::Duration::minutes(61));
    guess(
        &Browser::at(env, peer(60)),
        "breakglass@example.test",
        PASSWORD,
        1,
    )
    .await
    .code();
}

async fn a_known_device_is_locked_on_its_own_failures_only(env: &Env) {
    env.public_client("app").await;
    env.user("alice@example.test", PASSWORD).await;
    let owner = Browser::at(env, peer(1));
    guess(&owner, "alice@example.test", PASSWORD, 1)
        .await
        .code();
    // Someone else at the owner's address fails fifty times (five on each of ten accounts)…
    for n in 0..10 {
        let upn = format!("user{n}@example.test");
        env.user(&upn, PASSWORD).await;
        guess(&Browser::at(env, peer(1)), &upn, "wrong", 5).await;
    }
    // …which locks the address, for browsers that are not a known device of the account.
    let refused = guess(
        &Browser::at(env, peer(1)),
        "alice@example.test",
        PASSWORD,
        1,
    )
    .await;
    assert!(
        refused
            .html()
            .contains("from your network address. Sign-in is locked until"),
        "{}",
        refused.html()
    );
    // The owner's known device is counted apart: it still signs in.
    guess(&owner, "alice@example.test", PASSWORD, 1)
        .await
        .code();
    // Its own five failures lock it out of this account, and say so.
    let page = guess(&owner, "alice@example.test", "typo", 5).await;
    assert!(page.html().contains("on this device"), "{}", page.html());
    let refused = guess(&owner, "alice@example.test", PASSWORD, 1).await;
    assert!(
        refused.html().contains("on this device"),
        "{}",
        refused.html()
    );
}

async fn a_context_no_policy_targets_falls_back_to_mfa(env: &Env) {
    env.public_client("app").await;
    let alice = env.user("alice@example.test", PASSWORD).await;
    let secret = env.totp(&alice).await;
    let b = Browser::new(env);
    let claims = json!({"access_token": {"acrs": {"essential": true, "value": "c7"}}}).to_string();
    let (tx, _) = begin(&b, "app", "alice@example.test", &[("claims", &claims)]).await;
    let p = b
        .post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await;
    assert!(
        p.html().contains("targeted by no enabled policy"),
        "{}",
        p.html()
    );
    let done = b
        .post(
            &format!("/signin/{tx}/totp"),
            &[("code", &totp_code(&secret, env.now()))],
        )
        .await;
    let code = redeem(env, &done).await;
    assert_eq!(code.acrs, vec!["c7".to_string()]);
}

async fn prompt_login_and_max_age_ask_for_a_new_sign_in(env: &Env) {
    env.public_client("app").await;
    env.user("alice@example.test", PASSWORD).await;
    let b = Browser::new(env);
    let (tx, _) = begin(&b, "app", "alice@example.test", &[]).await;
    b.post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await
        .code();
    // Single sign-on: the session is enough.
    let (_, challenge) = pkce();
    b.get(&authorize_path("app", &challenge, &[])).await.code();
    // prompt=login: it is not.
    let page = b
        .get(&authorize_path("app", &challenge, &[("prompt", "login")]))
        .await;
    assert!(page.html().contains("password-form"), "{}", page.html());
    // max_age shorter than the session's age: neither.
    env.state.clock.advance(chrono::Duration::seconds(120));
    let page = b
        .get(&authorize_path("app", &challenge, &[("max_age", "60")]))
        .await;
    assert!(page.html().contains("password-form"));
    b.get(&authorize_path("app", &challenge, &[("max_age", "600")]))
        .await
        .code();
    // prompt=none without a session goes back to the client.
    let stranger = Browser::new(env);
    let l = stranger
        .get(&authorize_path("app", &challenge, &[("prompt", "none")]))
        .await;
    assert_eq!(l.param("error").as_deref(), Some("login_required"));
}

async fn an_old_password_hash_is_upgraded_at_sign_in(env: &Env) {
    env.public_client("app").await;
    let alice = env.user("alice@example.test", PASSWORD).await;
    let old = authn::password::PasswordParams {
        memory_kib: 2048,
        iterations: 1,
        parallelism: 1,
    };
    let hash = authn::password::hash_password(
        &old,
        &authn::secrecy::SecretString::from(PASSWORD.to_string()),
    )
    .unwrap();
    env.state
        .store
        .set_password(&store::PasswordCredential {
            user_id: alice.id.clone(),
            phc: hash.as_str().into(),
            changed_at: env.now(),
        })
        .await
        .unwrap();
    let b = Browser::new(env);
    let (tx, _) = begin(&b, "app", "alice@example.test", &[]).await;
    b.post(&format!("/signin/{tx}/password"), &[("password", "wrong")])
        .await;
    let stored = env
        .state
        .store
        .get_password(&alice.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.phc,
        hash.as_str(),
        "a failed attempt changes nothing"
    );
    b.post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await
        .code();
    let stored = env
        .state
        .store
        .get_password(&alice.id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.phc.contains("m=1024"), "{}", stored.phc);
    assert!(!authn::password::needs_rehash(
        &authn::password::PasswordHash::from_stored(stored.phc),
        &env.state.config.password
    ));
}

on_both_backends!(
    an_old_password_hash_is_upgraded_at_sign_in,
    password_then_totp_when_policy_requires_mfa,
    a_totp_code_is_accepted_once,
    step_up_to_c1_needs_a_passkey_made_now,
    an_assertion_for_another_origin_is_refused,
    an_unregistered_redirect_uri_is_never_followed,
    a_public_client_must_use_pkce,
    a_transaction_cannot_be_continued_in_another_browser,
    five_wrong_passwords_lock_that_address_out_of_the_account,
    failures_during_a_lock_are_logged_in_plain_words,
    a_flood_from_other_addresses_does_not_keep_the_owner_out,
    a_known_device_is_locked_on_its_own_failures_only,
    a_context_no_policy_targets_falls_back_to_mfa,
    prompt_login_and_max_age_ask_for_a_new_sign_in,
);
