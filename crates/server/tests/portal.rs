//! The portal (`/`, `/my/…`) over real HTTP, on SQLite and PostgreSQL: signing in through the
//! service's own client and coming back; *My roles* activating a role at once, and one whose
//! context needs a step-up (the step-up's code is the proof, used once); a refused form keeping
//! what was typed; a cross-site form and a code from another browser changing nothing. The
//! actions: *Cancel* on My requests, *Deactivate*, *Extend* and *Renew* on My roles, *Approve*
//! and *Deny* on Approvals — with the attacks on them (one's own request, another's, a replayed
//! decision, a cross-site or malformed form). The same flows in a real browser are
//! `portal_browser.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::pim::{
    active_assignments, context_policy, eligible, passkey_assertion, post_assertion,
    require_context, PASSWORD,
};
use common::{passkey, transaction_of, Browser, Env, Landing};
use policy::directory::AssignmentStatus;
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
    a_request_waiting_for_its_step_up_is_canceled_from_my_requests,
    a_request_waiting_for_approval_is_canceled_once_and_only_by_its_requester,
    the_holder_ends_an_activation_from_my_roles_but_not_too_early,
    an_eligibility_ending_soon_is_extended_by_an_administrators_decision,
    an_ended_eligibility_is_renewed_and_the_request_withdrawn_or_denied,
    an_approver_approves_from_approvals_and_never_their_own_request,
    an_approver_denies_and_a_decision_on_another_request_is_refused,
    cross_site_actions_change_nothing,
    malformed_action_forms_are_refused_and_change_nothing,
);

/// The Security Reader role (not privileged: its settings can be anything).
const SECURITY_READER: &str = common::graph::SECURITY_READER;
const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";

/// Opens `path` signed out and signs `upn` in with the password; returns where it lands.
async fn sign_in(b: &Browser, path: &str, upn: &str) -> Landing {
    b.sign_in_with_password(path, upn, PASSWORD).await
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
    settings(env, &[]).await;
}

/// Security Reader's activation requires a justification and, with `approvers` (user ids), one
/// approval stage whose approvers are those users.
async fn settings(env: &Env, approvers: &[&str]) {
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
    if !approvers.is_empty() {
        let approvers: Vec<_> = approvers
            .iter()
            .map(|id| common::graph::single_user(id))
            .collect();
        policy
            .patch_rule(
                "Approval_EndUser_Assignment",
                &json!({
                    "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
                    "setting": {
                        "isApprovalRequired": true,
                        "approvalMode": "SingleStage",
                        "approvalStages": [{
                            "approvalStageTimeOutInDays": 1,
                            "isApproverJustificationRequired": true,
                            "escalationTimeInMinutes": 0,
                            "isEscalationEnabled": false,
                            "primaryApprovers": approvers,
                            "escalationApprovers": []
                        }]
                    }
                }),
                env.now(),
                None,
            )
            .unwrap();
    }
    env.state.store.put_role_policy(&policy, 0).await.unwrap();
}

/// `POST path` with `form` from the portal's own pages, without following the answer.
async fn post_form(env: &Env, b: &Browser, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    b.http
        .post(format!("{}{path}", env.base))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Where a `303` sends the browser (it must be one).
fn see_other(r: &reqwest::Response) -> String {
    assert_eq!(r.status(), 303, "{r:?}");
    r.headers()["location"].to_str().unwrap().to_string()
}

/// A user signed in to the portal with a password, in a browser of their own.
async fn signed_in(env: &Env, upn: &str) -> (store::User, Browser) {
    let user = env.user(upn, PASSWORD).await;
    let b = Browser::new(env);
    sign_in(&b, "/", upn).await;
    (user, b)
}

/// An active Privileged Role Administrator, who decides extensions and renewals.
async fn role_administrator(env: &Env, upn: &str) -> (store::User, Browser) {
    let (admin, b) = signed_in(env, upn).await;
    common::graph::assign(
        env,
        &admin.id,
        policy::directory::PRIVILEGED_ROLE_ADMINISTRATOR,
        AssignmentStatus::Active,
        None,
    )
    .await;
    (admin, b)
}

/// `user` is eligible for Security Reader from yesterday until `end`.
async fn eligible_until(env: &Env, user: &store::User, end: chrono::DateTime<chrono::Utc>) {
    common::graph::assign(
        env,
        &user.id,
        SECURITY_READER,
        AssignmentStatus::Eligible,
        Some(end),
    )
    .await;
}

/// The eligibilities of `user` in force now.
async fn eligibilities(env: &Env, user: &store::User) -> Vec<store::ScheduledAssignment> {
    env.state
        .store
        .list_scheduled_assignments(&store::AssignmentQuery {
            principal_id: Some(user.id.clone()),
            status: Some(AssignmentStatus::Eligible),
            in_force_at: Some(env.now()),
            ..store::AssignmentQuery::default()
        })
        .await
        .unwrap()
}

/// The status of request `id` as stored.
async fn status_of(env: &Env, id: &str) -> pim::Status {
    env.state
        .store
        .get_schedule_request(id)
        .await
        .unwrap()
        .status()
}

/// `upn`, eligible for Security Reader (whose activation needs approval), signed in, asks to
/// activate it from My roles; returns the user, the browser and the request's id.
async fn pending_activation(env: &Env, upn: &str) -> (store::User, Browser, String) {
    let (user, b) = signed_in(env, upn).await;
    eligible(env, &user, SECURITY_READER).await;
    let r = activate(
        env,
        &b,
        &[
            ("role", SECURITY_READER),
            ("duration", "PT1H"),
            ("justification", "Change 7: rotate the audit keys"),
        ],
    )
    .await;
    let to = see_other(&r);
    assert!(to.starts_with("/my/roles?approval="), "{to}");
    let notice = b.get(&to).await;
    assert!(
        notice
            .html()
            .contains("Your request to activate Security Reader waits for approval"),
        "{notice:?}"
    );
    let requests = requests_of(env, &user).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].status(), pim::Status::PendingApproval);
    let id = requests[0].id().to_string();
    (user, b, id)
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

async fn a_request_waiting_for_its_step_up_is_canceled_from_my_requests(env: &Env) {
    let (user, _key, b) = c1_and_a_signed_in_user_with_a_passkey(env, "nina@example.test").await;
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
    assert!(see_other(&r).starts_with("/signin/"));
    let id = requests_of(env, &user).await[0].id().to_string();
    // The sign-in page is left: My requests offers to cancel the waiting request.
    let page = b.get("/my/requests").await;
    let html = page.html();
    assert!(html.contains("PendingStepUp"), "{html}");
    assert!(html.contains("action=\"/my/requests/cancel\""), "{html}");
    assert!(html.contains(&format!("value=\"{id}\"")), "{html}");
    let r = post_form(env, &b, "/my/requests/cancel", &[("request", id.as_str())]).await;
    let to = see_other(&r);
    assert!(to.starts_with("/my/requests?canceled="), "{to}");
    let html = b.get(&to).await.html().to_string();
    assert!(
        html.contains("Your request (activation of Security Reader) is canceled"),
        "{html}"
    );
    assert!(html.contains(">Canceled<"), "{html}");
    assert!(!html.contains("action=\"/my/requests/cancel\""), "{html}");
    assert_eq!(status_of(env, &id).await, pim::Status::Canceled);
    // My roles no longer waits for its step-up, and nothing was activated.
    let roles = b.get("/my/roles").await;
    assert!(
        !roles.html().contains("Waiting for your step-up"),
        "{roles:?}"
    );
    assert!(active_assignments(env, &user).await.is_empty());
}

async fn a_request_waiting_for_approval_is_canceled_once_and_only_by_its_requester(env: &Env) {
    let (olga, o) = signed_in(env, "olga@example.test").await;
    settings(env, &[&olga.id]).await;
    let (_, b, id) = pending_activation(env, "paul@example.test").await;
    let mine = b.get("/my/requests").await;
    assert!(mine.html().contains("PendingApproval"), "{mine:?}");
    assert!(mine.html().contains(&format!("value=\"{id}\"")), "{mine:?}");

    // Olga, the approver, cannot cancel Paul's request: to her it is not there.
    let r = post_form(env, &o, "/my/requests/cancel", &[("request", id.as_str())]).await;
    assert_eq!(r.status(), 404);
    let html = r.text().await.unwrap();
    assert!(html.contains("not one of yours"), "{html}");
    assert_eq!(status_of(env, &id).await, pim::Status::PendingApproval);

    // Paul cancels it, once.
    let r = post_form(env, &b, "/my/requests/cancel", &[("request", id.as_str())]).await;
    let to = see_other(&r);
    assert!(b.get(&to).await.html().contains("is canceled"));
    assert_eq!(status_of(env, &id).await, pim::Status::Canceled);
    let r = post_form(env, &b, "/my/requests/cancel", &[("request", id.as_str())]).await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"error\""), "{html}");
    assert!(html.contains("Not canceled"), "{html}");
    // Nothing is left for Olga to decide.
    let waiting = o.get("/my/approvals").await;
    assert!(
        waiting.html().contains("Nothing waits for your decision"),
        "{waiting:?}"
    );
    assert!(!waiting.html().contains(&id), "{waiting:?}");
}

async fn the_holder_ends_an_activation_from_my_roles_but_not_too_early(env: &Env) {
    justification_only(env).await;
    let (user, b) = signed_in(env, "quentin@example.test").await;
    eligible(env, &user, SECURITY_READER).await;
    let r = activate(
        env,
        &b,
        &[
            ("role", SECURITY_READER),
            ("duration", "PT1H"),
            ("justification", "Access review"),
        ],
    )
    .await;
    see_other(&r);
    // Within five minutes of its start the page says when it can be ended, and the service
    // refuses a deactivation sent anyway.
    let html = b.get("/my/roles").await.html().to_string();
    assert!(html.contains("You can end it from"), "{html}");
    assert!(!html.contains("action=\"/my/roles/deactivate\""), "{html}");
    let deactivate = [("role", SECURITY_READER)];
    let r = post_form(env, &b, "/my/roles/deactivate", &deactivate).await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"error\""), "{html}");
    assert!(html.contains("Not ended"), "{html}");
    assert_eq!(active_assignments(env, &user).await.len(), 1);

    env.state.clock.advance(chrono::Duration::minutes(6));
    let html = b.get("/my/roles").await.html().to_string();
    assert!(html.contains("action=\"/my/roles/deactivate\""), "{html}");
    assert!(
        html.contains("aria-label=\"Deactivate Security Reader\""),
        "{html}"
    );
    let r = post_form(env, &b, "/my/roles/deactivate", &deactivate).await;
    let to = see_other(&r);
    assert!(to.starts_with("/my/roles?deactivated="), "{to}");
    let html = b.get(&to).await.html().to_string();
    assert!(
        html.contains("Security Reader is no longer active: you ended it"),
        "{html}"
    );
    assert!(html.contains("No role is active for you now"), "{html}");
    assert!(active_assignments(env, &user).await.is_empty());
    // Once more: nothing to end.
    let r = post_form(env, &b, "/my/roles/deactivate", &deactivate).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Not ended"));
    let mine = b.get("/my/requests").await;
    assert!(mine.html().contains("Deactivation"), "{mine:?}");
}

async fn an_eligibility_ending_soon_is_extended_by_an_administrators_decision(env: &Env) {
    let (_, admin) = role_administrator(env, "pra@example.test").await;
    let user = env.user("rita@example.test", PASSWORD).await;
    eligible_until(env, &user, env.now() + chrono::Duration::days(10)).await;
    let b = Browser::new(env);
    sign_in(&b, "/", "rita@example.test").await;
    let html = b.get("/my/roles").await.html().to_string();
    assert!(html.contains("Ending soon or ended"), "{html}");
    assert!(html.contains("action=\"/my/roles/extend\""), "{html}");
    // A week more would not end later than the ten days left: not offered.
    assert!(!html.contains("value=\"P7D\""), "{html}");
    assert!(html.contains("<option value=\"P30D\" selected>"), "{html}");

    // A justification of blanks is refused in the form, with the duration kept.
    let mut form = vec![
        ("role", SECURITY_READER),
        ("kind", "eligibility"),
        ("duration", "P90D"),
        ("justification", "   "),
    ];
    let r = post_form(env, &b, "/my/roles/extend", &form).await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"extend-error\""), "{html}");
    assert!(html.to_lowercase().contains("justification"), "{html}");
    assert!(html.contains("<option value=\"P90D\" selected>"), "{html}");
    // A form that names no kind of schedule asks for nothing.
    let odd = [
        ("role", SECURITY_READER),
        ("kind", "both"),
        ("justification", "x"),
    ];
    let r = post_form(env, &b, "/my/roles/extend", &odd).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("id=\"error\""));
    assert!(requests_of(env, &user).await.is_empty());

    form[3] = ("justification", "The audit project runs another quarter");
    let r = post_form(env, &b, "/my/roles/extend", &form).await;
    let to = see_other(&r);
    assert!(to.starts_with("/my/roles?extension="), "{to}");
    let html = b.get(&to).await.html().to_string();
    assert!(
        html.contains(
            "Your request to extend your eligibility for Security Reader waits for an \
             administrator&#39;s decision"
        ) || html.contains(
            "Your request to extend your eligibility for Security Reader waits for an \
             administrator&#x27;s decision"
        ),
        "{html}"
    );
    // It is not offered twice while it waits.
    assert!(!html.contains("action=\"/my/roles/extend\""), "{html}");
    let requests = requests_of(env, &user).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].kind, pim::ScheduleKind::Eligibility);
    assert_eq!(requests[0].status(), pim::Status::PendingAdminDecision);
    let id = requests[0].id().to_string();
    let mine = b.get("/my/requests").await;
    assert!(
        mine.html().contains("Extension of an eligibility"),
        "{mine:?}"
    );
    assert!(mine.html().contains(&format!("value=\"{id}\"")), "{mine:?}");

    // The administrator grants it from Approvals.
    let waiting = admin.get("/my/approvals").await.html().to_string();
    assert!(
        waiting.contains(&format!("id=\"decide-{id}\"")),
        "{waiting}"
    );
    assert!(waiting.contains("rita@example.test"), "{waiting}");
    assert!(waiting.contains("name=\"step\" value=\"1\""), "{waiting}");
    let decision = [
        ("request", id.as_str()),
        ("step", "1"),
        ("decision", "approve"),
        ("justification", "The project was extended"),
    ];
    let r = post_form(env, &admin, "/my/approvals/decide", &decision).await;
    let to = see_other(&r);
    assert!(to.starts_with("/my/approvals?decided="), "{to}");
    let html = admin.get(&to).await.html().to_string();
    assert!(
        html.contains("You approved rita@example.test") && html.contains("in force now"),
        "{html}"
    );
    assert_eq!(status_of(env, &id).await, pim::Status::Provisioned);
    let now_eligible = eligibilities(env, &user).await;
    assert_eq!(now_eligible.len(), 1, "{now_eligible:?}");
    let end = now_eligible[0].assignment.end_at.unwrap();
    assert!(
        (end - (env.now() + chrono::Duration::days(90)))
            .num_seconds()
            .abs()
            <= 1
    );
    // Ninety days left: nothing to extend any more.
    let html = b.get("/my/roles").await.html().to_string();
    assert!(!html.contains("Ending soon or ended"), "{html}");
}

async fn an_ended_eligibility_is_renewed_and_the_request_withdrawn_or_denied(env: &Env) {
    let (_, admin) = role_administrator(env, "pra@example.test").await;
    let user = env.user("sara@example.test", PASSWORD).await;
    env.state
        .store
        .assign_role(&store::RoleAssignment {
            id: store::new_id(),
            principal_id: policy::ids::PrincipalId::trusted(user.id.clone()),
            role_definition_id: policy::ids::RoleId::trusted(SECURITY_READER),
            directory_scope_id: "/".into(),
            status: AssignmentStatus::Eligible,
            start_at: env.now() - chrono::Duration::days(40),
            end_at: Some(env.now() - chrono::Duration::days(2)),
        })
        .await
        .unwrap();
    let b = Browser::new(env);
    sign_in(&b, "/", "sara@example.test").await;
    let html = b.get("/my/roles").await.html().to_string();
    assert!(html.contains("You are not eligible for any role"), "{html}");
    assert!(html.contains("action=\"/my/roles/renew\""), "{html}");
    assert!(html.contains("Your eligibility ended at"), "{html}");
    // Extending what has ended is not offered, and refused when sent.
    assert!(!html.contains("action=\"/my/roles/extend\""), "{html}");
    let form = [
        ("role", SECURITY_READER),
        ("kind", "eligibility"),
        ("duration", "P30D"),
        ("justification", "Back on the audit"),
    ];
    let r = post_form(env, &b, "/my/roles/extend", &form).await;
    assert_eq!(r.status(), 400);
    assert!(requests_of(env, &user).await.is_empty());

    let r = post_form(env, &b, "/my/roles/renew", &form).await;
    let to = see_other(&r);
    assert!(
        b.get(&to)
            .await
            .html()
            .contains("Your request to renew your eligibility for Security Reader"),
        "{to}"
    );
    let first = requests_of(env, &user).await[0].id().to_string();
    // Withdrawn from My requests (a request on an eligibility).
    let r = post_form(
        env,
        &b,
        "/my/requests/cancel",
        &[("request", first.as_str())],
    )
    .await;
    see_other(&r);
    assert_eq!(status_of(env, &first).await, pim::Status::Canceled);
    // Asked again; the administrator denies it.
    let r = post_form(env, &b, "/my/roles/renew", &form).await;
    see_other(&r);
    let second = requests_of(env, &user)
        .await
        .into_iter()
        .find(|r| r.status() == pim::Status::PendingAdminDecision)
        .unwrap()
        .id()
        .to_string();
    let r = post_form(
        env,
        &admin,
        "/my/approvals/decide",
        &[
            ("request", second.as_str()),
            ("step", "1"),
            ("decision", "deny"),
            ("justification", "Not this quarter"),
        ],
    )
    .await;
    let to = see_other(&r);
    let html = admin.get(&to).await.html().to_string();
    assert!(html.contains("You denied sara@example.test"), "{html}");
    assert_eq!(status_of(env, &second).await, pim::Status::Denied);
    assert!(eligibilities(env, &user).await.is_empty());
    // The renewal is offered again (the eligibility is still within its 30 days).
    assert!(b
        .get("/my/roles")
        .await
        .html()
        .contains("action=\"/my/roles/renew\""));
}

async fn an_approver_approves_from_approvals_and_never_their_own_request(env: &Env) {
    let sam = env.user("sam@example.test", PASSWORD).await;
    let (tess, t) = signed_in(env, "tess@example.test").await;
    // Sam is an approver of the role, and asks for it himself.
    settings(env, &[&sam.id, &tess.id]).await;
    let s = Browser::new(env);
    sign_in(&s, "/", "sam@example.test").await;
    eligible(env, &sam, SECURITY_READER).await;
    let r = activate(
        env,
        &s,
        &[
            ("role", SECURITY_READER),
            ("duration", "PT1H"),
            ("justification", "Change 8"),
        ],
    )
    .await;
    see_other(&r);
    let id = requests_of(env, &sam).await[0].id().to_string();

    // His Approvals page lists it as his own, with no decision to make.
    let html = s.get("/my/approvals").await.html().to_string();
    assert!(html.contains("Nothing waits for your decision"), "{html}");
    assert!(html.contains(&format!("id=\"own-{id}\"")), "{html}");
    assert!(html.contains("never your own"), "{html}");
    assert!(!html.contains(&format!("id=\"decide-{id}\"")), "{html}");
    assert!(!html.contains("action=\"/my/approvals/decide\""), "{html}");
    // A decision sent anyway is refused, says why, and is audited.
    let approve = |justification: &'static str| {
        [
            ("request", id.clone()),
            ("step", "1".to_string()),
            ("decision", "approve".to_string()),
            ("justification", justification.to_string()),
        ]
    };
    let own = approve("I need it");
    let own: Vec<(&str, &str)> = own.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_form(env, &s, "/my/approvals/decide", &own).await;
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"error\""), "{html}");
    assert!(
        html.contains("you cannot approve or deny your own request"),
        "{html}"
    );
    assert_eq!(status_of(env, &id).await, pim::Status::PendingApproval);
    assert!(active_assignments(env, &sam).await.is_empty());
    let refused = common::audits_named(env, "Approval decision refused").await;
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(refused[0].entry.initiated_by["user"]["id"], sam.id.as_str());

    // Tess decides it: a refused form keeps her justification.
    let html = t.get("/my/approvals").await.html().to_string();
    assert!(html.contains(&format!("id=\"decide-{id}\"")), "{html}");
    assert!(html.contains("sam@example.test"), "{html}");
    assert!(html.contains("Change 8"), "{html}");
    let r = post_form(
        env,
        &t,
        "/my/approvals/decide",
        &[
            ("request", id.as_str()),
            ("step", "1"),
            ("decision", "maybe"),
            ("justification", "Looks <b>fine</b>"),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"decide-error\""), "{html}");
    assert!(html.contains("choose Approve or Deny"), "{html}");
    assert!(
        html.contains("Looks &#60;b&#62;fine&#60;/b&#62;")
            || html.contains("Looks &lt;b&gt;fine&lt;/b&gt;"),
        "{html}"
    );
    assert!(!html.contains("<b>fine"), "{html}");
    let blank = approve("   ");
    let blank: Vec<(&str, &str)> = blank.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_form(env, &t, "/my/approvals/decide", &blank).await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("say why you approve or deny"));
    assert_eq!(status_of(env, &id).await, pim::Status::PendingApproval);

    let yes = approve("Change 8 is scheduled");
    let yes: Vec<(&str, &str)> = yes.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_form(env, &t, "/my/approvals/decide", &yes).await;
    let to = see_other(&r);
    let html = t.get(&to).await.html().to_string();
    assert!(
        html.contains(
            "You approved sam@example.test&#39;s request (activation of Security Reader): it is \
             granted and in force now."
        ) || html.contains(
            "You approved sam@example.test&#x27;s request (activation of Security Reader): it \
             is granted and in force now."
        ),
        "{html}"
    );
    assert!(html.contains("Nothing waits for your decision"), "{html}");
    assert_eq!(status_of(env, &id).await, pim::Status::Provisioned);
    assert_eq!(active_assignments(env, &sam).await.len(), 1);
    let approved = common::audits_named(
        env,
        "Add member to role completed (PIM activation approved)",
    )
    .await;
    assert_eq!(approved.len(), 1, "{approved:#?}");
    assert_eq!(
        approved[0].entry.initiated_by["user"]["id"],
        tess.id.as_str()
    );

    // The same decision again is refused and changes nothing.
    let r = post_form(env, &t, "/my/approvals/decide", &yes).await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("No decision was recorded"), "{html}");
    assert!(html.contains("nothing left to decide"), "{html}");
    assert_eq!(
        env.state
            .store
            .list_approval_decisions(&id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(active_assignments(env, &sam).await.len(), 1);
    // Sam's My roles shows the role active.
    let html = s.get("/my/roles").await.html().to_string();
    assert!(
        html.contains(&format!("id=\"active-{SECURITY_READER}\"")),
        "{html}"
    );
}

async fn an_approver_denies_and_a_decision_on_another_request_is_refused(env: &Env) {
    let (uma, u) = signed_in(env, "uma@example.test").await;
    let (_, w) = signed_in(env, "walt@example.test").await;
    settings(env, &[&uma.id]).await;
    let (victor, v, id) = pending_activation(env, "victor@example.test").await;
    let deny = |step: &'static str| {
        [
            ("request", id.clone()),
            ("step", step.to_string()),
            ("decision", "deny".to_string()),
            ("justification", "No change window".to_string()),
        ]
    };
    let form = deny("1");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Walt is no approver: to him it does not wait, nor does an id that names nothing.
    let r = post_form(env, &w, "/my/approvals/decide", &form).await;
    assert_eq!(r.status(), 404);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("this request is not waiting for your decision"));
    let mut unknown = form.clone();
    unknown[0] = ("request", "not-an-id");
    let r = post_form(env, &w, "/my/approvals/decide", &unknown).await;
    assert_eq!(r.status(), 404);
    assert!(w
        .get("/my/approvals")
        .await
        .html()
        .contains("Nothing waits for your decision"));
    // Uma, on a step that is not in progress: refused.
    let later = deny("2");
    let later: Vec<(&str, &str)> = later.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_form(env, &u, "/my/approvals/decide", &later).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not the step in progress"));
    assert_eq!(status_of(env, &id).await, pim::Status::PendingApproval);

    let r = post_form(env, &u, "/my/approvals/decide", &form).await;
    let to = see_other(&r);
    let html = u.get(&to).await.html().to_string();
    assert!(html.contains("You denied victor@example.test"), "{html}");
    assert_eq!(status_of(env, &id).await, pim::Status::Denied);
    assert!(active_assignments(env, &victor).await.is_empty());
    let denied =
        common::audits_named(env, "Add member to role request denied (PIM activation)").await;
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].entry.initiated_by["user"]["id"], uma.id.as_str());
    // Victor sees it denied, with nothing to cancel; denying again changes nothing.
    let mine = v.get("/my/requests").await.html().to_string();
    assert!(mine.contains(">Denied<"), "{mine}");
    assert!(!mine.contains("action=\"/my/requests/cancel\""), "{mine}");
    let r = post_form(env, &u, "/my/approvals/decide", &form).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        env.state
            .store
            .list_approval_decisions(&id)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// The portal's action forms, with a valid body each (for `id`, a request waiting for approval),
/// the decision last.
fn action_forms(id: &str) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let extension = || {
        vec![
            ("role", SECURITY_READER.to_string()),
            ("kind", "eligibility".to_string()),
            ("duration", "P30D".to_string()),
            ("justification", "Another month".to_string()),
        ]
    };
    vec![
        (
            "/my/roles/activate",
            vec![
                ("role", SECURITY_READER.to_string()),
                ("justification", "Another hour".to_string()),
            ],
        ),
        ("/my/roles/step-up", vec![("request", id.to_string())]),
        ("/my/requests/cancel", vec![("request", id.to_string())]),
        (
            "/my/roles/deactivate",
            vec![("role", SECURITY_READER.to_string())],
        ),
        ("/my/roles/extend", extension()),
        ("/my/roles/renew", extension()),
        (
            "/my/approvals/decide",
            vec![
                ("request", id.to_string()),
                ("step", "1".to_string()),
                ("decision", "approve".to_string()),
                ("justification", "Fine".to_string()),
            ],
        ),
    ]
}

async fn cross_site_actions_change_nothing(env: &Env) {
    let (xena, x) = signed_in(env, "xena@example.test").await;
    settings(env, &[&xena.id]).await;
    let (yara, y, id) = pending_activation(env, "yara@example.test").await;
    // Her eligibility ends in ten days: extending it would be accepted.
    eligible_until(env, &yara, env.now() + chrono::Duration::days(10)).await;
    for (path, form) in action_forms(&id) {
        for b in [&x, &y] {
            for origin in [
                "https://attacker.example",
                "null",
                "http://localhost.attacker.example",
            ] {
                let r = b
                    .http
                    .post(format!("{}{path}", env.base))
                    .header(reqwest::header::ORIGIN, origin)
                    .form(&form)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 403, "{path} from {origin}");
            }
        }
    }
    assert_eq!(status_of(env, &id).await, pim::Status::PendingApproval);
    assert_eq!(requests_of(env, &yara).await.len(), 1);
    assert!(env
        .state
        .store
        .list_approval_decisions(&id)
        .await
        .unwrap()
        .is_empty());
    // The same decision from the portal's own page goes through.
    let (_, decide) = action_forms(&id).pop().unwrap();
    let decide: Vec<(&str, &str)> = decide.iter().map(|(k, v)| (*k, v.as_str())).collect();
    see_other(&post_form(env, &x, "/my/approvals/decide", &decide).await);
    assert_eq!(status_of(env, &id).await, pim::Status::Provisioned);
}

async fn malformed_action_forms_are_refused_and_change_nothing(env: &Env) {
    let (zoe, z) = signed_in(env, "zoe@example.test").await;
    settings(env, &[&zoe.id]).await;
    let (adam, a, id) = pending_activation(env, "adam@example.test").await;
    eligible_until(env, &adam, env.now() + chrono::Duration::days(10)).await;
    for (path, form) in action_forms(&id) {
        let b = if path == "/my/approvals/decide" {
            &z
        } else {
            &a
        };
        let url = format!("{}{path}", env.base);
        let json_body: serde_json::Map<String, serde_json::Value> = form
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter())
            .finish();
        let first = form[0].0;
        let attempts: Vec<(&str, reqwest::RequestBuilder)> = vec![
            ("JSON", b.http.post(&url).json(&json_body)),
            ("no content type", b.http.post(&url).body(encoded.clone())),
            (
                "a field twice",
                b.http
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!("{encoded}&{first}=again")),
            ),
        ];
        for (what, request) in attempts {
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), 400, "{path}: {what}");
            let html = r.text().await.unwrap();
            assert!(
                html.contains("This form could not be read"),
                "{path}: {what}: {html}"
            );
        }
        // Bytes that are no text, and an empty body: refused by what the portal or the
        // service makes of them, never a failure of the service.
        for body in [vec![0xff, 0xfe, 0x00, 0x3d], Vec::new()] {
            let r = b
                .http
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_client_error(), "{path}: {}", r.status());
        }
        // Without a session: asked to sign in, nothing done.
        let nobody = Browser::new(env);
        let r = nobody.http.post(&url).form(&form).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    assert_eq!(status_of(env, &id).await, pim::Status::PendingApproval);
    assert_eq!(requests_of(env, &adam).await.len(), 1);
    assert!(env
        .state
        .store
        .list_approval_decisions(&id)
        .await
        .unwrap()
        .is_empty());
}
