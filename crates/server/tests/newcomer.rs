//! What the README promises a newcomer: the demo tenant is seeded, the built-in demo client
//! signs a demo user in with the printed password and TOTP code, and the tokens it gets carry
//! the right `amr`, `acrs` and `auth_time` — then a step-up to context c2 adds `acrs: ["c2"]`,
//! and a step-up to c1 (phishing-resistant, every time) cannot be met with TOTP. And the README's
//! "Activating a role, end to end": the demo's onboarding pass registers Adele's passkey, the
//! challenge and the demo page name the step-up, and the passkey activates Global Administrator;
//! and the same in the portal, from My roles, with no token to copy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{transaction_of, Browser, Env, Landing};
use serde_json::Value;

/// The claims the demo page shows (the verified ID token).
fn id_token_on(page: &Landing) -> Value {
    let html = page.html();
    let start = html
        .find("<pre id=\"id-token\">")
        .unwrap_or_else(|| panic!("no ID token shown: {html}"))
        + "<pre id=\"id-token\">".len();
    let end = start + html[start..].find("</pre>").unwrap();
    let text = html[start..end]
        .replace("&quot;", "\"")
        .replace("&#34;", "\"");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn the_demo_signs_alice_in_and_steps_up(env: &Env) {
    let creds = server::demo::seed(&env.state)
        .await
        .unwrap()
        .expect("first seeding");
    let alice = creds.user("alice@demo.portcullis.test").unwrap().clone();
    let secret = alice.totp_secret.clone().unwrap();
    let b = Browser::new(env);

    let page = b.get("/demo/start").await;
    let tx = transaction_of(page.html());
    b.post(
        &format!("/signin/{tx}/username"),
        &[("username", &alice.user_principal_name)],
    )
    .await;
    let page = b
        .post(
            &format!("/signin/{tx}/password"),
            &[("password", &alice.password)],
        )
        .await;
    assert!(
        page.html().contains("totp-form"),
        "CA001 asks for MFA: {}",
        page.html()
    );
    let code = server::demo::totp_code(&secret, env.now()).unwrap();
    let shown = b
        .post(&format!("/signin/{tx}/totp"), &[("code", &code)])
        .await;
    let first = id_token_on(&shown);
    assert_eq!(first["acr"], "mfa");
    assert_eq!(
        first["amr"],
        serde_json::json!(["mfa", "otp", "pwd", "swk"])
    );
    assert!(first.get("acrs").is_none(), "{first}");
    let auth_time = first["auth_time"].as_i64().unwrap();
    assert!((env.now().timestamp() - auth_time).abs() <= 5);
    assert_eq!(first["preferred_username"], alice.user_principal_name);

    // Step-up to c2 (password and MFA, every time): both again, in this transaction.
    env.state.clock.advance(chrono::Duration::seconds(31));
    let page = b.get("/demo/start?acrs=c2").await;
    let html = page.html();
    assert!(
        html.contains("totp-form") && html.contains("CA020"),
        "{html}"
    );
    assert!(
        !html.contains("username-form"),
        "single sign-on: alice is known"
    );
    let tx = transaction_of(html);
    let code = server::demo::totp_code(&secret, env.now()).unwrap();
    let page = b
        .post(&format!("/signin/{tx}/totp"), &[("code", &code)])
        .await;
    assert!(
        page.html().contains("password-form"),
        "the password too: {}",
        page.html()
    );
    let stepped = id_token_on(
        &b.post(
            &format!("/signin/{tx}/password"),
            &[("password", &alice.password)],
        )
        .await,
    );
    assert_eq!(stepped["acrs"], serde_json::json!(["c2"]));
    assert!(stepped["auth_time"].as_i64().unwrap() > auth_time);
    assert_eq!(stepped["sid"], first["sid"], "one session, one sid");

    // Step-up to c1: only a passkey would do, and alice has none.
    let page = b.get("/demo/start?acrs=c1").await;
    let html = page.html();
    assert!(html.contains("no-method"), "{html}");
    assert!(!html.contains("totp-form"), "{html}");

    let log = env
        .state
        .store
        .query_signins(&store::SignInQuery::default())
        .await
        .unwrap();
    assert_eq!(
        log.iter()
            .filter(|r| r.result == store::SignInResult::Success)
            .count(),
        2
    );
}

/// Signs `user` in at the demo page with the password and the TOTP code, as the README says;
/// returns the demo page with the tokens.
async fn demo_sign_in(env: &Env, b: &Browser, user: &server::demo::DemoUser) -> Landing {
    let page = b.get("/demo/start").await;
    let tx = transaction_of(page.html());
    b.post(
        &format!("/signin/{tx}/username"),
        &[("username", &user.user_principal_name)],
    )
    .await;
    b.post(
        &format!("/signin/{tx}/password"),
        &[("password", &user.password)],
    )
    .await;
    let code = server::demo::totp_code(user.totp_secret.as_deref().unwrap(), env.now()).unwrap();
    b.post(&format!("/signin/{tx}/totp"), &[("code", &code)])
        .await
}

/// The raw access token the demo page shows.
fn raw_access_token(page: &Landing) -> String {
    let html = page.html();
    let start = html
        .find("id=\"raw-access-token\"")
        .unwrap_or_else(|| panic!("no token: {html}"));
    let start = start + html[start..].find('>').unwrap() + 1;
    let end = start + html[start..].find("</textarea>").unwrap();
    html[start..end].trim().to_string()
}

async fn adele_is_challenged_for_c1_and_told_what_to_register(env: &Env) {
    let creds = server::demo::seed(&env.state)
        .await
        .unwrap()
        .expect("first seeding");
    let adele = creds.user("adele@demo.portcullis.test").unwrap().clone();
    let b = Browser::new(env);
    let shown = demo_sign_in(env, &b, &adele).await;
    let token = raw_access_token(&shown);
    let r = reqwest::Client::new()
        .post(format!(
            "{}/v1.0/roleManagement/directory/roleAssignmentScheduleRequests",
            env.base
        ))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "action": "selfActivate",
            "roleDefinitionId": policy::directory::GLOBAL_ADMINISTRATOR,
            "directoryScopeId": "/",
            "justification": "Trying the demo",
            "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": "PT1H" } }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["code"],
        "RoleAssignmentRequestAcrsValidationFailed"
    );
    let request = body["error"]["innerError"]["requestId"].as_str().unwrap();
    let page = b
        .get(&format!("/demo/start?acrs=c1&step_up_request={request}"))
        .await;
    let html = page.html();
    assert!(
        html.contains("no-method") && html.contains("Security key or passkey"),
        "{html}"
    );
    assert!(html.contains("temporary access pass"), "{html}");
}

/// The href of the first link with class `class` on `page`.
fn link_of(page: &Landing, class: &str) -> String {
    let html = page.html();
    let at = html
        .find(&format!("class=\"{class}\""))
        .unwrap_or_else(|| panic!("no {class} link: {html}"));
    let before = &html[..at];
    let href = before.rfind("href=\"").unwrap() + "href=\"".len();
    let end = href + before[href..].find('"').unwrap();
    before[href..end]
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

async fn the_readme_walk_through_activates_adele_with_a_passkey_onboarded_by_a_pass(env: &Env) {
    let creds = server::demo::seed(&env.state)
        .await
        .unwrap()
        .expect("first seeding");
    let adele = creds.user("adele@demo.portcullis.test").unwrap().clone();
    let onboarding = server::demo::onboarding_pass(&env.state)
        .await
        .unwrap()
        .expect("Adele has no key yet: a pass is issued");
    let printed = server::demo::print_onboarding(&onboarding, &env.base);
    assert!(
        printed.contains("admin@demo.portcullis.test issued adele@demo.portcullis.test"),
        "{printed}"
    );
    use authn::secrecy::ExposeSecret as _;
    let pass = onboarding.pass.expose_secret().to_string();
    assert!(printed.contains(&pass));

    // 1. Security info with the pass; a passkey registered under it.
    let b = Browser::new(env);
    let page = common::account::account_with_pass(&b, &adele.user_principal_name, &pass).await;
    assert!(page.html().contains("id=\"methods\""), "{}", page.html());
    let mut key = webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true);
    let (status, added) = common::account::register(&b, env, &mut key).await.unwrap();
    assert_eq!(status, 200, "{added}");
    let page = b.get("/account").await;
    assert!(
        page.html()
            .contains("registered with a temporary access pass issued by an administrator"),
        "{}",
        page.html()
    );
    assert!(page
        .html()
        .contains("(pass issued by admin@demo.portcullis.test)"));
    // Once she has a key that counts, no new pass is issued at the next start.
    assert!(server::demo::onboarding_pass(&env.state)
        .await
        .unwrap()
        .is_none());

    // 2. The demo page, password and TOTP code (in another browser: this one is still signed
    // in with the pass): the access token.
    let b = Browser::new(env);
    let shown = demo_sign_in(env, &b, &adele).await;
    let token = raw_access_token(&shown);

    // 3. The activation is challenged, naming the page to go to.
    let (status, _, body) =
        common::pim::activate(env, &token, policy::directory::GLOBAL_ADMINISTRATOR).await;
    assert_eq!(status, 401, "{body}");
    let step_up_page = body["error"]["innerError"]["stepUpPage"]
        .as_str()
        .unwrap_or_else(|| panic!("no stepUpPage: {body}"))
        .to_string();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&step_up_page));

    // 4. The demo page lists the waiting request with the same link; the passkey steps up.
    let page = b.get("/demo/start").await;
    let listed = link_of(&page, "step-up");
    assert_eq!(
        format!("{}{}", env.base, listed.trim_start_matches(&env.base)),
        step_up_page
    );
    let page = b.get(&step_up_page).await;
    let tx = transaction_of(page.html());
    assert!(
        page.html().contains("webauthn-form") && !page.html().contains("totp-form"),
        "{}",
        page.html()
    );
    let landing = common::pim::use_passkey(env, &b, &tx, &mut key).await;
    let proof = raw_access_token(&landing);
    let (status, _, body) =
        common::pim::activate(env, &proof, policy::directory::GLOBAL_ADMINISTRATOR).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "Provisioned");
}

/// The README's walk-through in the portal: after the passkey is onboarded with the pass, Adele
/// opens My roles, signs in with her password and TOTP code, is told before clicking that
/// Global Administrator asks for context c1, and Activate leads to the passkey and back with the
/// role active — no token copied.
async fn the_readme_portal_walk_through_activates_adele_from_my_roles(env: &Env) {
    let creds = server::demo::seed(&env.state)
        .await
        .unwrap()
        .expect("first seeding");
    let adele = creds.user("adele@demo.portcullis.test").unwrap().clone();
    let onboarding = server::demo::onboarding_pass(&env.state)
        .await
        .unwrap()
        .expect("a pass for Adele");
    use authn::secrecy::ExposeSecret as _;
    let pass = onboarding.pass.expose_secret().to_string();
    let printed = server::demo::print_onboarding(&onboarding, &env.base);
    assert!(
        printed.contains(&format!("{}/my/roles", env.base)),
        "{printed}"
    );
    let b = Browser::new(env);
    common::account::account_with_pass(&b, &adele.user_principal_name, &pass).await;
    let mut key = webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true);
    let (status, added) = common::account::register(&b, env, &mut key).await.unwrap();
    assert_eq!(status, 200, "{added}");

    // My roles, in a new browser, with the password and the TOTP code.
    let b = Browser::new(env);
    let page = b.get("/my/roles").await;
    let tx = transaction_of(page.html());
    b.post(
        &format!("/signin/{tx}/username"),
        &[("username", &adele.user_principal_name)],
    )
    .await;
    b.post(
        &format!("/signin/{tx}/password"),
        &[("password", &adele.password)],
    )
    .await;
    let code = server::demo::totp_code(adele.totp_secret.as_deref().unwrap(), env.now()).unwrap();
    let page = b
        .post(&format!("/signin/{tx}/totp"), &[("code", &code)])
        .await;
    let html = page.html();
    assert!(html.contains("Global Administrator"), "{html}");
    assert!(
        html.contains("Activation requires authentication context c1"),
        "{html}"
    );
    let ga = policy::directory::GLOBAL_ADMINISTRATOR;
    assert!(html.contains(&format!("id=\"activate-{ga}\"")), "{html}");

    // Activate: the step-up asks only for the passkey; back on My roles, the role is active.
    let step_up = b
        .post(
            "/my/roles/activate",
            &[
                ("role", ga),
                ("duration", "PT1H"),
                ("justification", "Trying the portal"),
            ],
        )
        .await;
    assert!(
        step_up.html().contains("webauthn-form") && !step_up.html().contains("totp-form"),
        "{}",
        step_up.html()
    );
    let tx = transaction_of(step_up.html());
    let done = common::pim::use_passkey(env, &b, &tx, &mut key).await;
    assert!(
        done.html().contains("Global Administrator is active until"),
        "{}",
        done.html()
    );
}

on_both_backends!(
    the_demo_signs_alice_in_and_steps_up,
    adele_is_challenged_for_c1_and_told_what_to_register,
    the_readme_walk_through_activates_adele_with_a_passkey_onboarded_by_a_pass,
    the_readme_portal_walk_through_activates_adele_from_my_roles,
);
