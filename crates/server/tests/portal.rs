//! The portal (`/`, `/my/…`) over real HTTP, on SQLite and PostgreSQL: signing in through the
//! service's own client and coming back; *My roles* activating a role at once, and one whose
//! context needs a step-up (the step-up's code is the proof, used once); a refused form keeping
//! what was typed; a cross-site form and a code from another browser changing nothing. The
//! same flows in a real browser are `portal_browser.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::pim::{
    active_assignments, context_policy, eligible, passkey_assertion, post_assertion,
    require_context, PASSWORD,
};
use common::{passkey, transaction_of, Browser, Env, Landing};
use serde_json::json;
use store::ScheduleRequestQuery;

on_both_backends!(
    a_visitor_signs_in_and_comes_back_to_the_page_asked_for,
    a_role_without_a_context_activates_at_once,
    a_refused_form_keeps_what_was_typed,
    the_step_up_activates_once_and_its_code_is_spent,
    a_step_up_left_waiting_is_continued_from_my_roles,
    a_policy_for_the_roles_members_applies_to_its_activation,
    a_cross_site_form_activates_nothing,
    a_code_from_another_browser_signs_nobody_in,
);

/// The Security Reader role (not privileged: its settings can be anything).
const SECURITY_READER: &str = common::graph::SECURITY_READER;
const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";

/// Opens `path` signed out and signs `upn` in with the password; returns where it lands.
async fn sign_in(b: &Browser, path: &str, upn: &str) -> Landing {
    let page = b.get(path).await;
    let tx = transaction_of(page.html());
    b.post(&format!("/signin/{tx}/username"), &[("username", upn)])
        .await;
    b.post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await
}

/// Where a `GET` of `path` redirects (it must).
async fn redirect_of(env: &Env, b: &Browser, path: &str) -> String {
    let url = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{}{path}", env.base)
    };
    let r = b.http.get(url).send().await.unwrap();
    assert!(r.status().is_redirection(), "{path}: {}", r.status());
    r.headers()["location"].to_str().unwrap().to_string()
}

/// `POST /my/roles/activate` without following the answer.
async fn activate(env: &Env, b: &Browser, form: &[(&str, &str)]) -> reqwest::Response {
    b.http
        .post(format!("{}/my/roles/activate", env.base))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Security Reader's activation requires only a justification.
async fn justification_only(env: &Env) {
    let mut policy = pim::RoleManagementPolicy::default_for(SECURITY_READER, env.now());
    policy
        .patch_rule(
            "Enablement_EndUser_Assignment",
            &json!({
                "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
                "enabledRules": ["Justification"]
            }),
            env.now(),
            None,
        )
        .unwrap();
    env.state.store.put_role_policy(&policy, 0).await.unwrap();
}

async fn requests_of(env: &Env, user: &store::User) -> Vec<store::ScheduleRequestRecord> {
    env.state
        .store
        .list_schedule_requests(&ScheduleRequestQuery {
            principal_id: Some(user.id.clone()),
            ..ScheduleRequestQuery::default()
        })
        .await
        .unwrap()
}

async fn a_visitor_signs_in_and_comes_back_to_the_page_asked_for(env: &Env) {
    env.user("erin@example.test", PASSWORD).await;
    let b = Browser::new(env);
    let home = sign_in(&b, "/", "erin@example.test").await;
    let Landing::Page { status, path, html } = &home else {
        panic!("{home:?}");
    };
    assert_eq!((*status, path.as_str()), (200, "/"), "{html}");
    assert!(html.contains("<h1>My access</h1>"), "{html}");
    for link in ["/my/roles", "/my/requests", "/my/approvals", "/account"] {
        assert!(html.contains(&format!("href=\"{link}\"")), "{link}: {html}");
    }
    // Signed in, a page opens at once; signed out, the sign-in brings the visitor back to it.
    let roles = b.get("/my/approvals").await;
    assert!(
        roles.html().contains("Nothing waits for your decision"),
        "{roles:?}"
    );
    let other = Browser::new(env);
    let requests = sign_in(&other, "/my/requests", "erin@example.test").await;
    let Landing::Page { path, html, .. } = &requests else {
        panic!("{requests:?}");
    };
    assert_eq!(path, "/my/requests", "{html}");
    assert!(html.contains("You have made no request"), "{html}");
}

async fn a_role_without_a_context_activates_at_once(env: &Env) {
    justification_only(env).await;
    let user = env.user("frank@example.test", PASSWORD).await;
    eligible(env, &user, SECURITY_READER).await;
    let b = Browser::new(env);
    sign_in(&b, "/", "frank@example.test").await;
    let page = b.get("/my/roles").await;
    let html = page.html();
    assert!(html.contains("Security Reader"), "{html}");
    assert!(!html.contains("authentication context"), "{html}");
    let r = activate(
        env,
        &b,
        &[
            ("role", SECURITY_READER),
            ("duration", "PT30M"),
            ("justification", "Quarterly access review"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/my/roles?activated="), "{to}");
    let page = b.get(&to).await;
    assert!(
        page.html().contains("Security Reader is active until"),
        "{page:?}"
    );
    let active = active_assignments(env, &user).await;
    assert_eq!(active.len(), 1);
    let a = &active[0].assignment;
    assert_eq!(
        a.end_at.map(|end| end - a.start_at),
        Some(chrono::Duration::minutes(30))
    );
    // My requests lists it.
    let mine = b.get("/my/requests").await;
    assert!(mine.html().contains("Quarterly access review"), "{mine:?}");
    assert!(mine.html().contains("Provisioned"), "{mine:?}");
}

async fn a_refused_form_keeps_what_was_typed(env: &Env) {
    // The defaults: a justification and an MFA claim, which a password-only session lacks.
    let user = env.user("gina@example.test", PASSWORD).await;
    eligible(env, &user, SECURITY_READER).await;
    let b = Browser::new(env);
    sign_in(&b, "/", "gina@example.test").await;
    let r = activate(
        env,
        &b,
        &[
            ("role", SECURITY_READER),
            ("duration", "PT2H"),
            ("justification", "Audit <script>alert(1)</script>"),
            ("ticket_number", "CHG-42"),
            ("ticket_system", "Jira"),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"activate-error\""), "{html}");
    assert!(
        html.contains("MFA") || html.contains("multifactor"),
        "{html}"
    );
    // What was typed is back in the form, escaped.
    assert!(
        html.contains("Audit &#60;script&#62;alert(1)&#60;/script&#62;")
            || html.contains("Audit &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(html.contains("value=\"CHG-42\""), "{html}");
    assert!(html.contains("value=\"Jira\""), "{html}");
    assert!(html.contains("<option value=\"PT2H\" selected>"), "{html}");
    assert!(requests_of(env, &user).await.is_empty());
    // A role the caller is not eligible for is refused at the top of the page.
    let r = activate(
        env,
        &b,
        &[
            ("role", "62e90394-69f5-4237-9190-012177145e10"),
            ("justification", "x"),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"error\""), "{html}");
    assert!(html.contains("no eligible assignment"), "{html}");
}

/// Security Reader's activation requires c1, whose policy asks for a phishing-resistant
/// method every time; `upn` is eligible, holds a passkey that counts, and is signed in.
async fn c1_and_a_signed_in_user_with_a_passkey(
    env: &Env,
    upn: &str,
) -> (
    store::User,
    webauthn_authenticator_rs::softpasskey::SoftPasskey,
    Browser,
) {
    env.policies(context_policy(
        "c1",
        json!({ "operator": "OR", "authenticationStrength": { "id": PHISHING_RESISTANT } }),
    ))
    .await;
    require_context(env, SECURITY_READER, "c1").await;
    let user = env.user(upn, PASSWORD).await;
    eligible(env, &user, SECURITY_READER).await;
    let key = passkey(env, &user).await;
    let b = Browser::new(env);
    sign_in(&b, "/", upn).await;
    (user, key, b)
}

/// Performs the passkey on the step-up sign-in page at `signin`; returns the portal's callback
/// URL the sign-in sends the browser to (not yet visited).
async fn passkey_on(
    env: &Env,
    b: &Browser,
    signin: &str,
    key: &mut webauthn_authenticator_rs::softpasskey::SoftPasskey,
) -> String {
    let step_up = b.get(signin).await;
    let tx = transaction_of(step_up.html());
    assert!(step_up.html().contains("webauthn-button"), "{step_up:?}");
    assert!(!step_up.html().contains("password-form"), "{step_up:?}");
    let (ceremony, credential) = passkey_assertion(env, b, &tx, key).await;
    let (status, next) = post_assertion(env, b, &tx, &ceremony, &credential).await;
    assert_eq!(status, 200, "{next}");
    let callback = redirect_of(env, b, next["next"].as_str().unwrap()).await;
    assert!(callback.contains("/my/callback?code="), "{callback}");
    callback
}

async fn the_step_up_activates_once_and_its_code_is_spent(env: &Env) {
    let (user, mut key, b) = c1_and_a_signed_in_user_with_a_passkey(env, "hana@example.test").await;
    let page = b.get("/my/roles").await;
    assert!(
        page.html()
            .contains("Activation requires authentication context c1"),
        "{page:?}"
    );

    // Activate: recorded, then straight to the step-up sign-in of that request.
    let r = activate(
        env,
        &b,
        &[
            ("role", SECURITY_READER),
            ("duration", "PT1H"),
            ("justification", "Incident 4711"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let signin = r.headers()["location"].to_str().unwrap().to_string();
    assert!(signin.starts_with("/signin/"), "{signin}");
    let waiting = requests_of(env, &user).await;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].status(), pim::Status::PendingStepUp);

    // The passkey; the sign-in returns its code to the portal, which activates with it.
    let callback = passkey_on(env, &b, &signin, &mut key).await;
    let done = b.get(&callback).await;
    let Landing::Page { path, html, .. } = &done else {
        panic!("{done:?}");
    };
    assert_eq!(path, "/my/roles", "{html}");
    assert!(html.contains("Security Reader is active until"), "{html}");
    let records = requests_of(env, &user).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status(), pim::Status::Provisioned);
    assert_eq!(active_assignments(env, &user).await.len(), 1);

    // The code again: spent, and nothing more is activated.
    let again = b.get(&callback).await;
    let Landing::Page { status, html, .. } = &again else {
        panic!("{again:?}");
    };
    assert_eq!(*status, 400, "{html}");
    assert!(html.contains("cannot be used"), "{html}");
    assert_eq!(requests_of(env, &user).await.len(), 1);
    assert_eq!(active_assignments(env, &user).await.len(), 1);
}

async fn a_step_up_left_waiting_is_continued_from_my_roles(env: &Env) {
    let (user, mut key, b) = c1_and_a_signed_in_user_with_a_passkey(env, "lee@example.test").await;
    let form = [
        ("role", SECURITY_READER),
        ("duration", "PT1H"),
        ("justification", "Incident 4712"),
    ];
    // Activate, then leave the sign-in page: the request waits, and My roles says so.
    assert_eq!(activate(env, &b, &form).await.status(), 303);
    let waiting = requests_of(env, &user).await;
    assert_eq!(waiting.len(), 1);
    let id = waiting[0].id().to_string();
    let page = b.get("/my/roles").await;
    assert!(page.html().contains("Waiting for your step-up"), "{page:?}");
    assert!(page.html().contains(&format!("value=\"{id}\"")), "{page:?}");
    // Continue: a new step-up sign-in for the same request, which activates it.
    let r = b
        .http
        .post(format!("{}/my/roles/step-up", env.base))
        .form(&[("request", id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let signin = r.headers()["location"].to_str().unwrap().to_string();
    let callback = passkey_on(env, &b, &signin, &mut key).await;
    let done = b.get(&callback).await;
    assert!(
        done.html().contains("Security Reader is active until"),
        "{done:?}"
    );
    let records = requests_of(env, &user).await;
    assert_eq!(records.len(), 1, "no second request was made");
    assert_eq!(records[0].status(), pim::Status::Provisioned);
    // It no longer waits: continuing again is refused and opens no sign-in.
    let r = b
        .http
        .post(format!("{}/my/roles/step-up", env.base))
        .form(&[("request", id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("no longer waits"));
}

async fn a_policy_for_the_roles_members_applies_to_its_activation(env: &Env) {
    // The seed's policy: for the role's members, on c1. The eligible user is not a member
    // until the activation makes them one — the step-up counts the role being activated, so
    // the policy applies, and a session without the passkey activates nothing (Entra would
    // apply nothing here: the gap the seeds describe).
    let mut tenant = context_policy(
        "c1",
        json!({ "operator": "OR", "authenticationStrength": { "id": PHISHING_RESISTANT } }),
    );
    tenant["conditionalAccessPolicies"][0]["conditions"]["users"] =
        json!({ "includeRoles": [SECURITY_READER] });
    env.policies(tenant).await;
    require_context(env, SECURITY_READER, "c1").await;
    let user = env.user("max@example.test", PASSWORD).await;
    eligible(env, &user, SECURITY_READER).await;
    let b = Browser::new(env);
    sign_in(&b, "/", "max@example.test").await;
    // No key yet: the page says what the policy asks and that nothing held counts.
    let html = b.get("/my/roles").await.html().to_string();
    assert!(
        html.contains("Activation requires authentication context c1"),
        "{html}"
    );
    assert!(
        !html.contains("No policy requiring an authentication strength"),
        "{html}"
    );
    assert!(html.contains("asks for Phishing-resistant MFA"), "{html}");
    // With a passkey: the step-up asks for it, and only then is the role active.
    let mut key = passkey(env, &user).await;
    let r = activate(
        env,
        &b,
        &[
            ("role", SECURITY_READER),
            ("duration", "PT1H"),
            ("justification", "Incident 4713"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let signin = r.headers()["location"].to_str().unwrap().to_string();
    assert!(active_assignments(env, &user).await.is_empty());
    let callback = passkey_on(env, &b, &signin, &mut key).await;
    let done = b.get(&callback).await;
    assert!(
        done.html().contains("Security Reader is active until"),
        "{done:?}"
    );
    assert_eq!(active_assignments(env, &user).await.len(), 1);
}

async fn a_cross_site_form_activates_nothing(env: &Env) {
    justification_only(env).await;
    let user = env.user("ivan@example.test", PASSWORD).await;
    eligible(env, &user, SECURITY_READER).await;
    let b = Browser::new(env);
    sign_in(&b, "/", "ivan@example.test").await;
    let form = [
        ("role", SECURITY_READER),
        ("justification", "posted by another site"),
    ];
    let r = b
        .http
        .post(format!("{}/my/roles/activate", env.base))
        .header(reqwest::header::ORIGIN, "https://attacker.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = b
        .http
        .post(format!("{}/my/roles/step-up", env.base))
        .header(reqwest::header::ORIGIN, "null")
        .form(&[("request", "00000000-0000-0000-0000-000000000000")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(requests_of(env, &user).await.is_empty());
    assert!(active_assignments(env, &user).await.is_empty());
    // The same form from the portal's own page goes through.
    assert_eq!(activate(env, &b, &form).await.status(), 303);
    assert_eq!(active_assignments(env, &user).await.len(), 1);
}

async fn a_code_from_another_browser_signs_nobody_in(env: &Env) {
    env.user("jo@example.test", PASSWORD).await;
    env.user("kim@example.test", PASSWORD).await;
    // Jo's sign-in, stopped before its code reaches the portal.
    let jo = Browser::new(env);
    let page = jo.get("/").await;
    let tx = transaction_of(page.html());
    jo.post(
        &format!("/signin/{tx}/username"),
        &[("username", "jo@example.test")],
    )
    .await;
    let r = jo
        .http
        .post(format!("{}/signin/{tx}/password", env.base))
        .form(&[("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let to = r.headers()["location"].to_str().unwrap().to_string();
    let callback = redirect_of(env, &jo, &to).await;
    assert!(callback.contains("/my/callback?code="), "{callback}");
    // Kim's browser is handed Jo's code: refused, and Kim is still Kim.
    let kim = Browser::new(env);
    sign_in(&kim, "/", "kim@example.test").await;
    let landed = kim.get(&callback).await;
    let Landing::Page { status, html, .. } = &landed else {
        panic!("{landed:?}");
    };
    assert_eq!(*status, 400, "{html}");
    assert!(html.contains("cannot be used"), "{html}");
    assert!(html.contains("kim@example.test"), "{html}");
    assert!(kim.get("/").await.html().contains("kim@example.test"));
    // A visitor with no session is shown the refusal, not signed in.
    let nobody = Browser::new(env);
    let landed = nobody.get(&callback).await;
    let Landing::Page { status, html, .. } = &landed else {
        panic!("{landed:?}");
    };
    assert_eq!(*status, 400, "{html}");
    assert!(!html.contains("jo@example.test"), "{html}");
}
