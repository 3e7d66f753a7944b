//! A credential is only as strong as the proof that registered it (DESIGN §8.5), attacked over
//! real HTTP: a password-only attacker adds a key, a password + TOTP attacker (a relayed code)
//! adds a key and tries to activate a phishing-resistant role, a stolen cookie older than the
//! freshness window, removal of the victim's methods with the password only, a key laundered
//! through a weakly registered one, a spent one-time pass, cross-origin form posts and framing.
//! Every refusal is checked, and so is what stayed as it was.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::account::{account_with_pass, post_json, register};
use common::graph::{administrator, issue_pass};
use common::pim::*;
use common::{passkey_registered_under, totp_code, transaction_of, Browser, Env};
use policy::directory::GLOBAL_ADMINISTRATOR;
use policy::registration::RegistrationProof;
use serde_json::{json, Value};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";

/// Adele: eligible for Global Administrator, whose activation requires c1, on which an enforced
/// policy requires phishing-resistant MFA every time.
async fn tier0(env: &Env) -> store::User {
    env.public_client("app").await;
    let adele = env.user("adele@example.test", PASSWORD).await;
    eligible(env, &adele, GLOBAL_ADMINISTRATOR).await;
    require_context(env, GLOBAL_ADMINISTRATOR, "c1").await;
    env.policies(context_policy(
        "c1",
        json!({ "operator": "OR", "authenticationStrength": { "id": PHISHING_RESISTANT } }),
    ))
    .await;
    adele
}

/// Opens `/account` in `b` and signs in with the password (and the TOTP code, when given);
/// returns the last page.
async fn account_with(b: &Browser, env: &Env, upn: &str, totp: Option<&[u8]>) -> common::Landing {
    let page = b.get("/account").await;
    let tx = transaction_of(page.html());
    b.post(&format!("/signin/{tx}/username"), &[("username", upn)])
        .await;
    let page = b
        .post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await;
    match totp {
        Some(secret) => {
            b.post(
                &format!("/signin/{tx}/totp"),
                &[("code", &totp_code(secret, env.now()))],
            )
            .await
        }
        None => page,
    }
}

/// Signs in to the app with the password, asks to activate Global Administrator, steps up with
/// `key`; returns the activation's status and body.
async fn activate_with_key(env: &Env, key: &mut SoftPasskey) -> (u16, Value) {
    let b = Browser::new(env);
    let token = password_access_token(env, &b, "adele@example.test").await;
    let (status, _, body) = activate(env, &token, GLOBAL_ADMINISTRATOR).await;
    assert_eq!(status, 401, "{body}");
    let (request_id, claims) = challenge_of(&body);
    let (verifier, tx, page) = step_up(&b, "adele@example.test", &claims, &request_id).await;
    assert!(page.html().contains("webauthn-form"), "{}", page.html());
    let landing = use_passkey(env, &b, &tx, key).await;
    match landing {
        common::Landing::Client(_) => {
            let proof = redeem(env, &b, &landing, &verifier).await;
            let (status, _, body) = activate(
                env,
                proof["access_token"].as_str().unwrap(),
                GLOBAL_ADMINISTRATOR,
            )
            .await;
            (status, body)
        }
        common::Landing::Page { html, .. } => (0, Value::String(html)),
    }
}

async fn registrations(env: &Env, user: &store::User) -> Vec<store::MethodSummary> {
    env.state
        .store
        .list_methods(&user.id, env.now())
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.keeps_provenance)
        .collect()
}

async fn outbox_to(env: &Env, recipient: &str) -> Vec<String> {
    env.state
        .store
        .list_outbox(Some(recipient))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect()
}

async fn a_password_only_attacker_adds_a_key_that_never_passes_the_gate(env: &Env) {
    let adele = tier0(env).await;
    let attacker = Browser::new(env);
    // Adele has a password only: the password opens security info, as the floor says.
    let page = account_with(&attacker, env, "adele@example.test", None).await;
    assert!(page.html().contains("id=\"methods\""), "{}", page.html());
    let mut key = SoftPasskey::new(true);
    let (status, added) = register(&attacker, env, &mut key).await.unwrap();
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["provenance"]["proof"], "passwordOnly", "{added}");

    // Provenance is kept, shown, audited, logged, and Adele is told.
    let methods = registrations(env, &adele).await;
    assert_eq!(methods.len(), 1);
    assert_eq!(
        methods[0].registration(),
        Some(RegistrationProof::PasswordOnly)
    );
    let page = attacker.get("/account").await;
    assert!(
        page.html().contains("registered with a password only"),
        "{}",
        page.html()
    );
    let audits = common::audits_named(env, "User registered security info").await;
    assert_eq!(audits.len(), 1);
    let details = serde_json::to_string(&audits[0].entry.additional_details).unwrap();
    assert!(details.contains("passwordOnly"), "{details}");
    let told = outbox_to(env, "adele@example.test").await;
    assert!(
        told.iter().any(|m| m.contains("was added")),
        "no notice: {told:?}"
    );
    let log = env
        .state
        .store
        .query_signins(&store::SignInQuery::default())
        .await
        .unwrap();
    assert!(
        log.iter().any(|r| r
            .additional_details
            .as_deref()
            .is_some_and(|d| d.contains("password only"))),
        "the registration is not in the sign-in log"
    );

    // The challenge says the key does not count, and what to do.
    let b = Browser::new(env);
    let token = password_access_token(env, &b, "adele@example.test").await;
    let (status, _, body) = activate(env, &token, GLOBAL_ADMINISTRATOR).await;
    assert_eq!(status, 401, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("temporary access pass to register a key that counts"),
        "{message}"
    );

    // The key does not satisfy the phishing-resistant step-up, the page says why: nothing is
    // activated.
    let (status, body) = activate_with_key(env, &mut key).await;
    assert_eq!(
        status, 0,
        "the weakly registered key activated the role: {body}"
    );
    let page = body.as_str().unwrap();
    assert!(
        page.contains("was registered with a password only and does not count"),
        "{page}"
    );
    assert!(active_assignments(env, &adele).await.is_empty());

    // Pre-flight says why, in words, and what to do.
    let report = server::posture::preflight(
        &env.state.store,
        server::posture::Subject::Role("Global Administrator"),
        &[],
        env.now(),
    )
    .await
    .unwrap()
    .to_json()
    .to_string();
    assert!(
        report.contains("temporary access pass to register a key that counts"),
        "{report}"
    );
}

async fn a_relayed_password_and_code_add_a_key_that_never_passes_the_gate(env: &Env) {
    let adele = tier0(env).await;
    let secret = env.totp(&adele).await;
    let attacker = Browser::new(env);
    // The password alone no longer opens security info: the app is asked for.
    let page = account_with(&attacker, env, "adele@example.test", None).await;
    assert!(page.html().contains("totp-form"), "{}", page.html());
    let mut key = SoftPasskey::new(true);
    let (status, refused) = post_json(
        &attacker,
        env,
        "/account/webauthn/options",
        &json!({"kind": "any"}),
    )
    .await;
    assert_eq!(status, 401, "{refused}");
    // With the relayed code, the key is added, as multifactor: still phishable.
    let page = attacker
        .post(
            &format!("/signin/{}/totp", transaction_of(page.html())),
            &[("code", &totp_code(&secret, env.now()))],
        )
        .await;
    assert!(page.html().contains("id=\"methods\""), "{}", page.html());
    let (status, added) = register(&attacker, env, &mut key).await.unwrap();
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["provenance"]["proof"], "multifactor", "{added}");
    let (status, body) = activate_with_key(env, &mut key).await;
    assert_eq!(
        status, 0,
        "a key added with a relayed code activated the role: {body}"
    );
    assert!(active_assignments(env, &adele).await.is_empty());

    // Nor can the relayed password and code take away a key that counts (onboarded with a pass).
    let onboarded = common::passkey(env, &adele).await;
    drop(onboarded);
    let strong = registrations(env, &adele)
        .await
        .into_iter()
        .find(|m| m.registration() == Some(RegistrationProof::TemporaryAccessPass))
        .unwrap();
    let (status, body) = post_json(
        &attacker,
        env,
        &format!("/account/methods/{}/remove", strong.id),
        &json!({}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(registrations(env, &adele).await.contains(&strong));
    let refused = common::audits_named(env, "User deleted security info").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].entry.result, store::AuditResult::Failure);

    // The tenant may relax the rule (audited, and lint flags it); then the key counts.
    env.state
        .store
        .set_setting_audited(
            &store::TenantSetting {
                name: store::REGISTRATION_PROVENANCE.into(),
                value: "relaxed".into(),
                changed_at: env.now(),
                changed_by: "test".into(),
            },
            &store::AuditEntry::new("Policy", "Update tenant setting", "Update", env.now()),
        )
        .await
        .unwrap();
    let (status, body) = activate_with_key(env, &mut key).await;
    assert_eq!(status, 201, "{body}");
}

async fn a_key_registered_with_a_weak_key_is_no_stronger(env: &Env) {
    let adele = tier0(env).await;
    let mut weak = passkey_registered_under(env, &adele, RegistrationProof::PasswordOnly).await;
    let b = Browser::new(env);
    // Security info with the weak key alone (the floor is the password's: it adds nothing).
    let page = b.get("/account").await;
    let tx = transaction_of(page.html());
    b.post(
        &format!("/signin/{tx}/username"),
        &[("username", "adele@example.test")],
    )
    .await;
    let page = use_passkey(env, &b, &tx, &mut weak).await;
    assert!(page.html().contains("id=\"methods\""), "{}", page.html());
    let mut second = SoftPasskey::new(true);
    let (status, added) = register(&b, env, &mut second).await.unwrap();
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["provenance"]["proof"], "passwordOnly", "{added}");
    let (status, body) = activate_with_key(env, &mut second).await;
    assert_eq!(status, 0, "a laundered key activated the role: {body}");
}

async fn an_old_session_gets_a_prompt_not_a_form(env: &Env) {
    let adele = env.user("adele@example.test", PASSWORD).await;
    let secret = env.totp(&adele).await;
    let b = Browser::new(env);
    let page = account_with(&b, env, "adele@example.test", Some(&secret)).await;
    assert!(page.html().contains("id=\"methods\""), "{}", page.html());
    // Eleven minutes later the same cookie (as a thief would replay it) opens nothing.
    env.state.clock.advance(chrono::Duration::minutes(11));
    let (status, body) = post_json(&b, env, "/account/totp/start", &json!({})).await;
    assert_eq!(status, 401, "{body}");
    let page = b.get("/account").await;
    assert!(
        page.html().contains("password-form") && !page.html().contains("start-totp"),
        "{}",
        page.html()
    );
}

async fn the_password_alone_removes_nothing(env: &Env) {
    let adele = env.user("adele@example.test", PASSWORD).await;
    let secret = env.totp(&adele).await;
    let mut key = common::passkey(env, &adele).await;
    let before = registrations(env, &adele).await;
    assert_eq!(before.len(), 2);
    let attacker = Browser::new(env);
    let page = account_with(&attacker, env, "adele@example.test", None).await;
    assert!(!page.html().contains("id=\"methods\""), "{}", page.html());
    for m in &before {
        let (status, body) = post_json(
            &attacker,
            env,
            &format!("/account/methods/{}/remove", m.id),
            &json!({}),
        )
        .await;
        assert_eq!(status, 401, "{body}");
        let (status, body) = post_json(
            &attacker,
            env,
            &format!("/account/methods/{}/rename", m.id),
            &json!({"name": "pwned"}),
        )
        .await;
        assert_eq!(status, 401, "{body}");
    }
    assert_eq!(registrations(env, &adele).await, before);

    // Adele herself, with her app, renames and removes; each change is audited and told.
    let b = Browser::new(env);
    account_with(&b, env, "adele@example.test", Some(&secret)).await;
    let record = before
        .iter()
        .find(|m| m.method != policy::method::AuthenticationMethodMode::SoftwareOath)
        .unwrap();
    let (status, body) = post_json(
        &b,
        env,
        &format!("/account/methods/{}/rename", record.id),
        &json!({"name": "Blue key"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Her app does not take away the key that counts for phishing-resistant access; the key
    // itself (or a pass) does.
    let (status, body) = post_json(
        &b,
        env,
        &format!("/account/methods/{}/remove", record.id),
        &json!({}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let page = b.get("/account").await;
    assert!(page.html().contains("id=\"methods\""), "{}", page.html());
    let with_key = Browser::new(env);
    let page = with_key.get("/account").await;
    let tx = transaction_of(page.html());
    with_key
        .post(
            &format!("/signin/{tx}/username"),
            &[("username", "adele@example.test")],
        )
        .await;
    let page = use_passkey(env, &with_key, &tx, &mut key).await;
    assert!(page.html().contains("id=\"methods\""), "{}", page.html());
    let (status, body) = post_json(
        &with_key,
        env,
        &format!("/account/methods/{}/remove", record.id),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(registrations(env, &adele).await.len(), 1);
    let removals: Vec<store::AuditResult> = common::audits_named(env, "User deleted security info")
        .await
        .into_iter()
        .map(|r| r.entry.result)
        .collect();
    // Newest first: the removal with the key, then the refusal under the app.
    assert_eq!(
        removals,
        [store::AuditResult::Success, store::AuditResult::Failure]
    );
    assert_eq!(
        common::audits_named(env, "User renamed security info")
            .await
            .len(),
        1
    );
    let told = outbox_to(env, "adele@example.test").await;
    assert!(told.iter().any(|m| m.contains("was removed")), "{told:?}");
    // Another user's method is not reachable by id.
    let bob = env.user("bob@example.test", PASSWORD).await;
    env.totp(&bob).await;
    let bobs = registrations(env, &bob).await;
    let (status, _) = post_json(
        &b,
        env,
        &format!("/account/methods/{}/remove", bobs[0].id),
        &json!({}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(registrations(env, &bob).await.len(), 1);
}

async fn a_pass_onboards_a_key_that_counts_once(env: &Env) {
    let adele = tier0(env).await;
    env.totp(&adele).await;
    let (_, admin) = administrator(env, "pra@example.test").await;
    let issued = issue_pass(env, &admin, "adele@example.test").await;
    let pass = issued["temporaryAccessPass"].as_str().unwrap().to_string();
    let b = Browser::new(env);
    let page = account_with_pass(&b, "adele@example.test", &pass).await;
    assert!(page.html().contains("id=\"methods\""), "{}", page.html());
    let mut key = SoftPasskey::new(true);
    let (status, added) = register(&b, env, &mut key).await.unwrap();
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["provenance"]["proof"], "temporaryAccessPass");
    assert_eq!(
        added["provenance"]["temporaryAccessPassIssuedBy"],
        "pra@example.test"
    );
    // The spent one-time pass is not offered again, and opens nothing when sent anyway.
    let other = Browser::new(env);
    let page = other.get("/account").await;
    let tx = transaction_of(page.html());
    let page = other
        .post(
            &format!("/signin/{tx}/username"),
            &[("username", "adele@example.test")],
        )
        .await;
    assert!(!page.html().contains("tap-form"), "{}", page.html());
    let page = other
        .post(&format!("/signin/{tx}/tap"), &[("pass", pass.as_str())])
        .await;
    assert!(!page.html().contains("id=\"methods\""), "{}", page.html());
    assert!(page.html().contains("already been used") || page.html().contains("not valid"));
    // The key onboarded with the pass passes the gate.
    let (status, body) = activate_with_key(env, &mut key).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "Provisioned");
}

async fn forms_from_other_origins_and_frames_are_refused(env: &Env) {
    env.user("adele@example.test", PASSWORD).await;
    let b = Browser::new(env);
    let page = b.get("/account").await;
    let tx = transaction_of(page.html());
    let url = format!("{}/signin/{tx}/username", env.base);
    let plain = reqwest::Client::new();
    for (origin, content_type) in [
        (
            Some("http://evil.example"),
            "application/x-www-form-urlencoded",
        ),
        (Some("http://evil.example"), "text/plain"),
        (Some("null"), "application/x-www-form-urlencoded"),
        (None, "application/x-www-form-urlencoded"),
    ] {
        let mut r = plain
            .post(&url)
            .header("content-type", content_type)
            .body("username=adele%40example.test");
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 403, "{origin:?} {content_type}");
    }
    let r = plain
        .post(format!("{}/account/totp/start", env.base))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let transaction = env.state.store.get_transaction(&tx).await.unwrap();
    assert_eq!(
        transaction.user_id, None,
        "a cross-origin post named the user"
    );

    // Every page forbids framing and inline script; secrets are not cached.
    for path in ["/account", &format!("/signin/{tx}"), "/demo"] {
        let r = plain
            .get(format!("{}{path}", env.base))
            .send()
            .await
            .unwrap();
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        // Not no-referrer: a browser would then send `Origin: null` with the pages' own forms.
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["cache-control"], "no-store", "{path}");
    }
    // Nor does any page carry an inline script any more, or a referrer policy that would make
    // the browser hide the origin of the pages' own forms.
    let page = b.get(&format!("/signin/{tx}")).await;
    assert!(!page.html().contains("<script>"), "{}", page.html());
    assert!(!page.html().contains("no-referrer"), "{}", page.html());
}

async fn security_info_refuses_malformed_json(env: &Env) {
    let adele = env.user("adele@example.test", PASSWORD).await;
    let secret = env.totp(&adele).await;
    let b = Browser::new(env);
    account_with(&b, env, "adele@example.test", Some(&secret)).await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    for (content_type, body, status) in [
        ("application/json", "[1, 2]".to_string(), 400),
        ("application/json", deep, 400),
        ("application/json", "{\"ceremonyId\": 5}".to_string(), 400),
        (
            "application/json",
            "{\"ceremonyId\":\"x\",\"code\":\"1\",\"extra\":1}".to_string(),
            400,
        ),
        ("text/plain", "{}".to_string(), 415),
    ] {
        let r = b
            .http
            .post(format!("{}/account/totp", env.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status);
        let answer: Value = r.json().await.expect("a JSON error");
        assert!(answer["error"].is_string(), "{answer}");
    }
    assert_eq!(registrations(env, &adele).await.len(), 1);
}

on_both_backends!(
    a_password_only_attacker_adds_a_key_that_never_passes_the_gate,
    a_relayed_password_and_code_add_a_key_that_never_passes_the_gate,
    a_key_registered_with_a_weak_key_is_no_stronger,
    an_old_session_gets_a_prompt_not_a_form,
    the_password_alone_removes_nothing,
    a_pass_onboards_a_key_that_counts_once,
    forms_from_other_origins_and_frames_are_refused,
    security_info_refuses_malformed_json,
);
