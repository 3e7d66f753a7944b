//! The admin center's PIM sections over real HTTP, on SQLite and PostgreSQL: who may open them
//! (an active role administrator; a non-admin is refused, an eligible one told to activate);
//! the role settings editor saving through the same service as Graph's `PATCH` of a rule, with
//! invalid input refused on the page as typed and nothing written; writes refused once the
//! session's proof is older than ten minutes and fine after re-authenticating; a cross-site
//! `POST` refused; temporary access passes shown once; rollout readiness from not ready to
//! *On*.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::graph::{assign, SECURITY_READER};
use common::pim::{eligible, require_context, PASSWORD};
use common::{transaction_of, Browser, Env, Landing};
use policy::directory::{AssignmentStatus, PRIVILEGED_ROLE_ADMINISTRATOR};
use serde_json::json;

on_both_backends!(
    a_non_admin_is_refused_and_an_eligible_admin_told_to_activate,
    the_settings_editor_shows_the_rules_and_saves_one,
    invalid_settings_are_refused_as_typed_and_nothing_is_written,
    an_old_session_must_reauthenticate_before_a_write,
    a_cross_site_settings_post_is_refused,
    the_context_rule_offers_the_tenants_contexts,
    a_pass_is_shown_once_listed_and_deleted,
    invalid_pass_requests_are_refused_as_typed,
    readiness_goes_from_not_ready_to_on,
    assignments_are_added_changed_and_removed,
    invalid_assignments_are_refused_as_typed_and_nothing_is_written,
);

/// Opens `path` signed out and signs `upn` in with the password; returns where it lands.
async fn sign_in(b: &Browser, path: &str, upn: &str) -> Landing {
    b.sign_in_with_password(path, upn, PASSWORD).await
}

/// A user holding Privileged Role Administrator actively, signed in at `path`.
async fn admin_at(env: &Env, upn: &str, path: &str) -> (store::User, Browser, Landing) {
    let user = env.user(upn, PASSWORD).await;
    assign(
        env,
        &user.id,
        PRIVILEGED_ROLE_ADMINISTRATOR,
        AssignmentStatus::Active,
        None,
    )
    .await;
    let b = Browser::new(env);
    let landing = sign_in(&b, path, upn).await;
    (user, b, landing)
}

fn page_of(landing: &Landing) -> (u16, &str, &str) {
    match landing {
        Landing::Page { status, path, html } => (*status, path.as_str(), html.as_str()),
        Landing::Client(u) => panic!("landed at the client: {u}"),
    }
}

/// The Security Reader settings page.
fn settings_path() -> String {
    format!("/admin/roles/{SECURITY_READER}")
}

fn rule_action(rule: &str) -> String {
    format!("/admin/roles/{SECURITY_READER}/rules/{rule}")
}

/// The stored activation maximum of Security Reader.
async fn activation_maximum(env: &Env) -> Option<String> {
    let policy = env
        .state
        .core
        .role_settings(SECURITY_READER)
        .await
        .unwrap()
        .policy;
    policy
        .expiration(&pim::RuleId::ExpirationEndUserAssignment)
        .and_then(|e| e.maximum_duration.clone())
}

async fn settings_changes(env: &Env) -> Vec<store::AuditRecord> {
    common::audits_named(env, "Update role setting in PIM").await
}

async fn a_non_admin_is_refused_and_an_eligible_admin_told_to_activate(env: &Env) {
    env.user("nina@example.test", PASSWORD).await;
    let b = Browser::new(env);
    let landing = sign_in(&b, "/admin/roles", "nina@example.test").await;
    let (status, path, html) = page_of(&landing);
    assert_eq!((status, path), (403, "/admin/roles"), "{html}");
    assert!(
        html.contains("Privileged Role Administrator or Global Administrator"),
        "{html}"
    );
    // The same for the editor and for a write.
    assert_eq!(page_of(&b.get(&settings_path()).await).0, 403);
    let r = b
        .post(
            &rule_action("Expiration_EndUser_Assignment"),
            &[("maximum", "PT1H")],
        )
        .await;
    assert_eq!(page_of(&r).0, 403);
    assert_eq!(activation_maximum(env).await.as_deref(), Some("PT8H"));

    // Eligible for the role but not active: told to activate it first.
    let eligible = env.user("ella@example.test", PASSWORD).await;
    assign(
        env,
        &eligible.id,
        PRIVILEGED_ROLE_ADMINISTRATOR,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    let b = Browser::new(env);
    let landing = sign_in(&b, "/admin/roles", "ella@example.test").await;
    let (status, _, html) = page_of(&landing);
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("activate it in My roles"), "{html}");
    assert!(html.contains("/my/roles"), "{html}");

    // The admin center's home offers nothing to either.
    let home = b.get("/admin").await;
    assert!(home.html().contains("id=\"no-admin-role\""), "{home:?}");
}

async fn the_settings_editor_shows_the_rules_and_saves_one(env: &Env) {
    let (user, b, landing) = admin_at(env, "pat@example.test", "/admin/roles").await;
    let (status, _, html) = page_of(&landing);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Security Reader"), "{html}");
    assert!(
        html.contains(&format!("href=\"{}\"", settings_path())),
        "{html}"
    );
    // Pat's own assignment is counted.
    assert!(
        html.contains(&format!(
            "id=\"role-{PRIVILEGED_ROLE_ADMINISTRATOR}\"><td><a href=\"/admin/roles/{PRIVILEGED_ROLE_ADMINISTRATOR}\">Privileged Role Administrator</a></td><td class=\"eligible\">0</td><td class=\"active\">1</td>"
        )),
        "{html}"
    );

    let page = b.get(&settings_path()).await;
    let html = page.html();
    for group in ["Activation", "Assignment", "Notification"] {
        assert!(
            html.contains(&format!("-heading\">{group}</h2>")),
            "{group}: {html}"
        );
    }
    assert_eq!(
        html.matches("<form method=\"post\" action=\"/admin/roles/")
            .count(),
        17
    );
    assert!(html.contains("value=\"PT8H\""), "{html}");

    let r = b
        .post(
            &rule_action("Expiration_EndUser_Assignment"),
            &[("required", "on"), ("maximum", "PT2H")],
        )
        .await;
    let (status, path, html) = page_of(&r);
    assert_eq!((status, path), (200, settings_path().as_str()), "{html}");
    assert!(
        html.contains("Saved: Activation maximum duration."),
        "{html}"
    );
    assert!(html.contains("value=\"PT2H\""), "{html}");
    assert_eq!(activation_maximum(env).await.as_deref(), Some("PT2H"));
    let changes = settings_changes(env).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].entry.result, store::AuditResult::Success);
    assert!(changes[0].entry.initiated_by.to_string().contains(&user.id));

    // Approval with an approver, and the enablement rule: both kinds saved as Graph would.
    let approver = env.user("appr@example.test", PASSWORD).await;
    let user_value = format!("user:{}", approver.id);
    let r = b
        .post(
            &rule_action("Approval_EndUser_Assignment"),
            &[("required", "on"), ("approver", user_value.as_str())],
        )
        .await;
    assert_eq!(page_of(&r).0, 200, "{r:?}");
    let r = b
        .post(
            &rule_action("Enablement_EndUser_Assignment"),
            &[("require", "Justification"), ("require", "Ticketing")],
        )
        .await;
    assert_eq!(page_of(&r).0, 200, "{r:?}");
    let r = b
        .post(
            &rule_action("Notification_Admin_Admin_Eligibility"),
            &[("level", "Critical"), ("recipients", "sec@example.test")],
        )
        .await;
    assert_eq!(page_of(&r).0, 200, "{r:?}");
    let policy = env
        .state
        .core
        .role_settings(SECURITY_READER)
        .await
        .unwrap()
        .policy;
    let approval = policy.approval().unwrap();
    assert!(approval.setting.is_approval_required);
    let rules = serde_json::to_value(&policy.rules).unwrap();
    let text = rules.to_string();
    assert!(text.contains(&approver.id), "{text}");
    let enablement = policy
        .enablement(&pim::RuleId::EnablementEndUserAssignment)
        .unwrap();
    assert!(enablement.requires(&pim::EnabledRule::Ticketing));
    assert!(!enablement.requires(&pim::EnabledRule::MultiFactorAuthentication));
    assert!(text.contains("sec@example.test"), "{text}");
    assert_eq!(settings_changes(env).await.len(), 4);
    // The page shows the approver chosen.
    let page = b.get(&settings_path()).await;
    assert!(
        page.html()
            .contains(&format!("<option value=\"{user_value}\" selected>")),
        "{page:?}"
    );
}

async fn invalid_settings_are_refused_as_typed_and_nothing_is_written(env: &Env) {
    let (_, b, _) = admin_at(env, "quinn@example.test", "/admin").await;
    for (rule, form, says) in [
        (
            "Expiration_EndUser_Assignment",
            vec![("maximum", "PT30H")],
            "PT30H",
        ),
        (
            "Expiration_EndUser_Assignment",
            vec![("maximum", "eight hours <b>")],
            "eight hours &#60;b&#62;",
        ),
        (
            "Approval_EndUser_Assignment",
            vec![("required", "on")],
            "at least one approver",
        ),
        (
            "Notification_Admin_Admin_Assignment",
            vec![("level", "All"), ("recipients", "not an address")],
            "is not an e-mail address",
        ),
        (
            "AuthenticationContext_EndUser_Assignment",
            vec![("enabled", "on"), ("context", "c7")],
            "does not exist",
        ),
    ] {
        let r = b.post(&rule_action(rule), &form).await;
        let (status, _, html) = page_of(&r);
        assert_eq!(status, 400, "{rule}: {html}");
        assert!(
            html.contains(&format!("id=\"error-{rule}\"")),
            "{rule}: {html}"
        );
        assert!(html.contains(says), "{rule}: {says}: {html}");
    }
    // The maximum typed is kept in the form.
    let r = b
        .post(
            &rule_action("Expiration_EndUser_Assignment"),
            &[("maximum", "P2D")],
        )
        .await;
    let (status, _, html) = page_of(&r);
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("value=\"P2D\""), "{html}");
    // An unknown rule is not found.
    let r = b.post(&rule_action("Nothing_Here"), &[]).await;
    assert_eq!(page_of(&r).0, 404);
    // Nothing was written (refusals of the service are audited as failures only).
    assert_eq!(activation_maximum(env).await.as_deref(), Some("PT8H"));
    assert!(env
        .state
        .store
        .get_role_policy(SECURITY_READER)
        .await
        .unwrap()
        .is_none());
    assert!(settings_changes(env)
        .await
        .iter()
        .all(|a| a.entry.result != store::AuditResult::Success));
}

/// Completes a re-authentication sign-in that `landing` opened (the password again).
async fn reauthenticate(b: &Browser, landing: &Landing, upn: &str) -> Landing {
    let html = landing.html();
    let tx = transaction_of(html);
    if !html.contains(&format!("/signin/{tx}/password")) {
        b.post(&format!("/signin/{tx}/username"), &[("username", upn)])
            .await;
    }
    b.post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await
}

async fn an_old_session_must_reauthenticate_before_a_write(env: &Env) {
    let (_, b, _) = admin_at(env, "rosa@example.test", &settings_path()).await;
    env.state.clock.advance(chrono::Duration::minutes(11));
    // Reading still works; a write is refused with the input kept and the button offered.
    let r = b
        .post(
            &rule_action("Expiration_EndUser_Assignment"),
            &[("required", "on"), ("maximum", "PT3H")],
        )
        .await;
    let (status, _, html) = page_of(&r);
    assert_eq!(status, 401, "{html}");
    assert!(html.contains("id=\"reauth\""), "{html}");
    assert!(html.contains("last 10 minutes"), "{html}");
    assert!(html.contains("value=\"PT3H\""), "{html}");
    assert!(html.contains("action=\"/admin/reauthenticate\""), "{html}");
    assert_eq!(activation_maximum(env).await.as_deref(), Some("PT8H"));

    // Confirm it's you: a sign-in, then back to the editor; the write goes through.
    let back = settings_path();
    let signin = b
        .post(
            "/admin/reauthenticate",
            &[("back", back.as_str()), ("contexts", "")],
        )
        .await;
    let done = reauthenticate(&b, &signin, "rosa@example.test").await;
    let (status, path, html) = page_of(&done);
    assert_eq!((status, path), (200, back.as_str()), "{html}");
    let r = b
        .post(
            &rule_action("Expiration_EndUser_Assignment"),
            &[("required", "on"), ("maximum", "PT3H")],
        )
        .await;
    assert_eq!(page_of(&r).0, 200, "{r:?}");
    assert_eq!(activation_maximum(env).await.as_deref(), Some("PT3H"));
}

async fn a_cross_site_settings_post_is_refused(env: &Env) {
    let (_, b, _) = admin_at(env, "sam@example.test", "/admin").await;
    for origin in [Some("https://evil.example"), None] {
        let mut request = b
            .http
            .post(format!(
                "{}{}",
                env.base,
                rule_action("Expiration_EndUser_Assignment")
            ))
            .form(&[("required", "on"), ("maximum", "PT1H")]);
        request = match origin {
            Some(o) => request.header("Origin", o),
            // No Origin at all (the client's default one replaced by an empty value).
            None => request.header("Origin", "null"),
        };
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 403, "{origin:?}");
    }
    assert_eq!(activation_maximum(env).await.as_deref(), Some("PT8H"));
    assert!(settings_changes(env).await.is_empty());
}

async fn the_context_rule_offers_the_tenants_contexts(env: &Env) {
    env.policies(json!({
        "authenticationContextClassReferences": [
            { "id": "c2", "displayName": "Privileged roles", "isAvailable": true }
        ]
    }))
    .await;
    let (_, b, _) = admin_at(env, "tara@example.test", &settings_path()).await;
    let page = b.get(&settings_path()).await;
    assert!(
        page.html()
            .contains("<option value=\"c2\">c2 — Privileged roles</option>"),
        "{page:?}"
    );
    let r = b
        .post(
            &rule_action("AuthenticationContext_EndUser_Assignment"),
            &[("enabled", "on"), ("context", "c2")],
        )
        .await;
    let (status, _, html) = page_of(&r);
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("<option value=\"c2\" selected>c2 — Privileged roles</option>"),
        "{html}"
    );
    let policy = env
        .state
        .core
        .role_settings(SECURITY_READER)
        .await
        .unwrap()
        .policy;
    assert_eq!(
        policy
            .authentication_context()
            .and_then(|c| c.required_context().ok().flatten())
            .map(|c| c.to_string())
            .as_deref(),
        Some("c2")
    );
}

async fn passes_of(env: &Env, user: &store::User) -> Vec<store::TemporaryAccessPass> {
    env.state.store.list_taps(&user.id).await.unwrap()
}

async fn a_pass_is_shown_once_listed_and_deleted(env: &Env) {
    let (admin, b, _) = admin_at(env, "uma@example.test", "/admin/access-passes").await;
    let victor = env.user("victor@example.test", PASSWORD).await;
    let r = b
        .post(
            "/admin/access-passes",
            &[
                ("user", "victor@example.test"),
                ("lifetime", "60"),
                ("once", "on"),
            ],
        )
        .await;
    let (status, path, html) = page_of(&r);
    assert_eq!((status, path), (200, "/admin/access-passes"), "{html}");
    assert!(html.contains("id=\"issued\""), "{html}");
    let start = html.find("<code id=\"pass\">").unwrap() + "<code id=\"pass\">".len();
    let pass = &html[start..start + html[start..].find('<').unwrap()];
    assert!(pass.len() >= 8, "{pass}");
    let stored = passes_of(env, &victor).await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].is_usable_once);
    assert_ne!(stored[0].pass_hash, pass);
    assert!(!stored[0].pass_hash.contains(pass));
    assert_eq!(stored[0].created_by, admin.id);
    // Listed with its usability, and never shown again.
    let list = b.get("/admin/access-passes?user=victor@example.test").await;
    let html = list.html();
    assert!(html.contains("usable now"), "{html}");
    assert!(!html.contains(pass), "{html}");
    assert!(!html.contains("id=\"issued\""), "{html}");
    // A second one while the first is usable is refused.
    let r = b
        .post(
            "/admin/access-passes",
            &[("user", "victor@example.test"), ("lifetime", "60")],
        )
        .await;
    let (status, _, html) = page_of(&r);
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("already has a usable"), "{html}");
    assert_eq!(passes_of(env, &victor).await.len(), 1);
    // Deleted.
    let r = b
        .post(
            "/admin/access-passes/delete",
            &[
                ("user", "victor@example.test"),
                ("pass", stored[0].id.as_str()),
            ],
        )
        .await;
    let (status, _, html) = page_of(&r);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("The pass was deleted."), "{html}");
    assert!(passes_of(env, &victor).await.is_empty());
    let issued = common::audits_named(
        env,
        "Admin registered temporary access pass method for user",
    )
    .await;
    let succeeded: Vec<_> = issued
        .iter()
        .filter(|a| a.entry.result == store::AuditResult::Success)
        .collect();
    assert_eq!((issued.len(), succeeded.len()), (2, 1));
}

async fn invalid_pass_requests_are_refused_as_typed(env: &Env) {
    let (_, b, _) = admin_at(env, "walt@example.test", "/admin").await;
    let xena = env.user("xena@example.test", PASSWORD).await;
    for (form, status, says) in [
        (
            vec![("user", "xena@example.test"), ("lifetime", "5")],
            400,
            "from 10 to",
        ),
        (
            vec![("user", "xena@example.test"), ("lifetime", "soon")],
            400,
            "number of minutes",
        ),
        (
            vec![("user", "nobody@example.test"), ("lifetime", "60")],
            404,
            "does not exist",
        ),
        (vec![("user", ""), ("lifetime", "60")], 400, "Name the user"),
    ] {
        let r = b.post("/admin/access-passes", &form).await;
        let (got, _, html) = page_of(&r);
        assert_eq!(got, status, "{form:?}: {html}");
        assert!(html.contains(says), "{form:?}: {html}");
        assert!(!html.contains("id=\"issued\""), "{html}");
        // The input is kept.
        assert!(
            html.contains(&format!("value=\"{}\"", form[1].1)),
            "{form:?}: {html}"
        );
    }
    assert!(passes_of(env, &xena).await.is_empty());
    // An old session issues nothing until it re-authenticates.
    env.state.clock.advance(chrono::Duration::minutes(11));
    let r = b
        .post(
            "/admin/access-passes",
            &[("user", "xena@example.test"), ("lifetime", "60")],
        )
        .await;
    let (status, _, html) = page_of(&r);
    assert_eq!(status, 401, "{html}");
    assert!(html.contains("id=\"reauth\""), "{html}");
    assert!(html.contains("value=\"xena@example.test\""), "{html}");
    assert!(passes_of(env, &xena).await.is_empty());
}

/// c1 with a report-only policy asking for phishing-resistant methods every time.
fn report_only_c1() -> serde_json::Value {
    let mut tenant = common::pim::context_policy(
        "c1",
        json!({ "operator": "OR", "authenticationStrength": { "id": "00000000-0000-0000-0000-000000000004" } }),
    );
    tenant["conditionalAccessPolicies"][0]["state"] = json!("enabledForReportingButNotEnforced");
    tenant
}

async fn policy_state(env: &Env) -> String {
    let policies: Vec<policy::conditional_access::ConditionalAccessPolicy> = env
        .state
        .store
        .list_config(store::ConfigKind::Policy)
        .await
        .unwrap();
    policies[0].state.to_string()
}

async fn readiness_goes_from_not_ready_to_on(env: &Env) {
    env.policies(report_only_c1()).await;
    require_context(env, SECURITY_READER, "c1").await;
    let ivy = env.user("ivy@example.test", PASSWORD).await;
    eligible(env, &ivy, SECURITY_READER).await;
    let (admin, b, _) = admin_at(env, "yara@example.test", "/admin/readiness").await;
    // A role administrator without a Conditional Access writer's role sees the switch
    // disabled, and the server refuses it with the reason.
    let page = b.get("/admin/readiness").await;
    assert!(
        page.html()
            .contains("needs an active Global, Conditional Access or Security Administrator"),
        "{page:?}"
    );
    let r = b
        .post(
            "/admin/readiness/on",
            &[
                ("role", SECURITY_READER),
                ("policy", "ca-c1"),
                ("pilot", ""),
            ],
        )
        .await;
    let (status, _, html) = page_of(&r);
    assert_eq!(status, 403, "{html}");
    assert!(
        html.contains("Conditional Access or Security Administrator"),
        "{html}"
    );
    assert_eq!(policy_state(env).await, "enabledForReportingButNotEnforced");
    assign(
        env,
        &admin.id,
        policy::roles::BuiltInRole::ConditionalAccessAdministrator.template_id(),
        AssignmentStatus::Active,
        None,
    )
    .await;

    // (a) Ivy has no method that counts; the page offers a pass.
    let page = b.get("/admin/readiness").await;
    let html = page.html();
    assert!(
        html.contains("Security Reader — activation requires c1"),
        "{html}"
    );
    assert!(
        html.contains("class=\"not-ready\" data-upn=\"ivy@example.test\""),
        "{html}"
    );
    assert!(
        html.contains("href=\"/admin/access-passes?user=ivy%40example.test\""),
        "{html}"
    );
    assert!(html.contains("id=\"switch-on\" disabled"), "{html}");
    // The switch is refused by the server too, whatever the form says.
    let switch = [
        ("role", SECURITY_READER),
        ("policy", "ca-c1"),
        ("pilot", "ivy@example.test"),
    ];
    let r = b.post("/admin/readiness/on", &switch).await;
    let (status, _, html) = page_of(&r);
    assert_eq!(status, 409, "{html}");
    assert!(html.contains("Not switched on"), "{html}");
    assert_eq!(policy_state(env).await, "enabledForReportingButNotEnforced");

    // Ivy registers a passkey under a pass: ready.
    let mut key = common::passkey(env, &ivy).await;
    let page = b.get("/admin/readiness").await;
    let html = page.html();
    assert!(
        html.contains("class=\"ready\" data-upn=\"ivy@example.test\""),
        "{html}"
    );
    // (c) The pilot has not run: not eligible, then not activated.
    let page = b
        .get(&format!(
            "/admin/readiness?role={SECURITY_READER}&policy=ca-c1&pilot=yara@example.test"
        ))
        .await;
    assert!(page.html().contains("is not eligible"), "{page:?}");
    let pilot_path =
        format!("/admin/readiness?role={SECURITY_READER}&policy=ca-c1&pilot=ivy@example.test");
    let page = b.get(&pilot_path).await;
    let html = page.html();
    assert!(html.contains("has not activated"), "{html}");
    assert!(html.contains("id=\"switch-on\" disabled"), "{html}");
    assert_eq!(
        page_of(&b.post("/admin/readiness/on", &switch).await).0,
        409
    );

    // Jay, also eligible, activates with a step-up made with his authenticator app: the
    // activation succeeds (the policy is not enforced yet), but the pilot does not pass.
    let jay = env.user("jay@example.test", PASSWORD).await;
    eligible(env, &jay, SECURITY_READER).await;
    let secret = env.totp(&jay).await;
    let jay_b = Browser::new(env);
    sign_in(&jay_b, "/my/roles", "jay@example.test").await;
    let r = jay_b
        .http
        .post(format!("{}/my/roles/activate", env.base))
        .form(&[
            ("role", SECURITY_READER),
            ("duration", "PT1H"),
            ("justification", "Not a pilot"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let step_up = r.headers()["location"].to_str().unwrap().to_string();
    let tx = transaction_of(jay_b.get(&step_up).await.html());
    let code = common::totp_code(&secret, env.now());
    let landed = jay_b
        .post(&format!("/signin/{tx}/totp"), &[("code", code.as_str())])
        .await;
    assert!(
        page_of(&landed)
            .2
            .contains("Security Reader is active until"),
        "{landed:?}"
    );
    let page = b
        .get(&format!(
            "/admin/readiness?role={SECURITY_READER}&policy=ca-c1&pilot=jay@example.test"
        ))
        .await;
    let html = page.html();
    assert!(html.contains("Pilot not passed"), "{html}");
    assert!(
        html.contains("does not satisfy Phishing-resistant MFA"),
        "{html}"
    );
    assert!(html.contains("softwareOath"), "{html}");
    // Jay has no method that counts, so (a) does not hold either; he registers one.
    assert!(
        html.contains("class=\"not-ready\" data-upn=\"jay@example.test\""),
        "{html}"
    );
    common::passkey(env, &jay).await;

    // Ivy signs in with her password and activates: with no enforced policy on c1 the step-up
    // asks for a second factor made for this request, and she uses the passkey.
    let ivy_b = Browser::new(env);
    sign_in(&ivy_b, "/my/roles", "ivy@example.test").await;
    let r = ivy_b
        .http
        .post(format!("{}/my/roles/activate", env.base))
        .form(&[
            ("role", SECURITY_READER),
            ("duration", "PT1H"),
            ("justification", "Pilot of c1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let step_up = r.headers()["location"].to_str().unwrap().to_string();
    let page = ivy_b.get(&step_up).await;
    let tx = transaction_of(page.html());
    assert!(page.html().contains("webauthn-button"), "{page:?}");
    let landed = common::pim::use_passkey(env, &ivy_b, &tx, &mut key).await;
    let (_, path, html) = page_of(&landed);
    assert_eq!(path, "/my/roles", "{html}");
    assert!(html.contains("Security Reader is active until"), "{html}");

    // The pilot passed; the switch is offered and goes through.
    let page = b.get(&pilot_path).await;
    let html = page.html();
    assert!(html.contains("Pilot passed"), "{html}");
    assert!(html.contains("id=\"switch-on\">"), "{html}");
    let r = b.post("/admin/readiness/on", &switch).await;
    let (status, _, html) = page_of(&r);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("The policy is On."), "{html}");
    assert!(html.contains("id=\"is-on\""), "{html}");
    assert_eq!(policy_state(env).await, "enabled");
    assert_eq!(
        common::audits_named(env, "Update conditional access policy")
            .await
            .len(),
        1
    );
}

/// `user`'s assignments of Security Reader not closed, of `status`.
async fn held(
    env: &Env,
    user: &store::User,
    status: AssignmentStatus,
) -> Vec<store::RoleAssignment> {
    env.state
        .store
        .list_scheduled_assignments(&store::AssignmentQuery {
            principal_id: Some(user.id.clone()),
            role_definition_id: Some(SECURITY_READER.into()),
            status: Some(status),
            ..store::AssignmentQuery::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.closed_at.is_none())
        .map(|a| a.assignment)
        .collect()
}

fn local(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M").to_string()
}

async fn assignments_are_added_changed_and_removed(env: &Env) {
    let (_, b, _) = admin_at(env, "zoe@example.test", "/admin/assignments").await;
    let abe = env.user("abe@example.test", PASSWORD).await;
    let end = local(env.now() + chrono::Duration::days(30));
    let r = b
        .post(
            "/admin/assignments",
            &[
                ("kind", "eligible"),
                ("role", SECURITY_READER),
                ("principal", "abe@example.test"),
                ("start", ""),
                ("end", end.as_str()),
                ("justification", "On call rota"),
            ],
        )
        .await;
    let (status, path, html) = page_of(&r);
    assert_eq!((status, path), (200, "/admin/assignments"), "{html}");
    assert!(html.contains("The assignment was added."), "{html}");
    assert!(html.contains("abe@example.test"), "{html}");
    let eligible = held(env, &abe, AssignmentStatus::Eligible).await;
    assert_eq!(eligible.len(), 1, "{eligible:?}");
    assert_eq!(eligible[0].end_at.map(local), Some(end.clone()));
    assert_eq!(
        common::audits_named(
            env,
            "Add eligible member to role in PIM completed (timebound)"
        )
        .await
        .len(),
        1
    );
    // A new end.
    let later = local(env.now() + chrono::Duration::days(60));
    let r = b
        .post(
            "/admin/assignments/update",
            &[
                ("kind", "eligible"),
                ("role", SECURITY_READER),
                ("principal", abe.id.as_str()),
                ("end", later.as_str()),
            ],
        )
        .await;
    let (status, _, html) = page_of(&r);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("The assignment was changed."), "{html}");
    let eligible = held(env, &abe, AssignmentStatus::Eligible).await;
    assert_eq!(eligible.len(), 1, "{eligible:?}");
    assert_eq!(eligible[0].end_at.map(local), Some(later));
    // Active for a week, then removed.
    let week = local(env.now() + chrono::Duration::days(7));
    let r = b
        .post(
            "/admin/assignments",
            &[
                ("kind", "active"),
                ("role", SECURITY_READER),
                ("principal", "abe@example.test"),
                ("end", week.as_str()),
                ("justification", "Audit week"),
            ],
        )
        .await;
    assert_eq!(page_of(&r).0, 200, "{r:?}");
    assert_eq!(held(env, &abe, AssignmentStatus::Active).await.len(), 1);
    let r = b
        .post(
            "/admin/assignments/remove",
            &[
                ("kind", "active"),
                ("role", SECURITY_READER),
                ("principal", abe.id.as_str()),
            ],
        )
        .await;
    let (status, _, html) = page_of(&r);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("The assignment was removed."), "{html}");
    let active_now: Vec<_> = held(env, &abe, AssignmentStatus::Active)
        .await
        .into_iter()
        .filter(|a| a.end_at.is_none_or(|e| e > env.now()))
        .collect();
    assert!(active_now.is_empty(), "{active_now:?}");
    assert_eq!(held(env, &abe, AssignmentStatus::Eligible).await.len(), 1);
}

async fn invalid_assignments_are_refused_as_typed_and_nothing_is_written(env: &Env) {
    let (_, b, _) = admin_at(env, "bea@example.test", "/admin").await;
    let cy = env.user("cy@example.test", PASSWORD).await;
    let past = local(env.now() - chrono::Duration::days(1));
    let future = local(env.now() + chrono::Duration::days(10));
    let sooner = local(env.now() + chrono::Duration::days(5));
    let too_long = local(env.now() + chrono::Duration::days(800));
    for (form, status, says) in [
        (
            vec![("principal", "cy@example.test"), ("end", past.as_str())],
            400,
            "in the past",
        ),
        (
            vec![
                ("principal", "cy@example.test"),
                ("start", future.as_str()),
                ("end", sooner.as_str()),
            ],
            400,
            "before the start",
        ),
        (
            vec![
                ("principal", "nobody@example.test"),
                ("end", future.as_str()),
            ],
            404,
            "No user or group",
        ),
        (
            vec![("principal", "cy@example.test"), ("end", "next week")],
            400,
            "not a date",
        ),
        // The role's rules: eligibility must end, within a year.
        (
            vec![("principal", "cy@example.test"), ("permanent", "on")],
            400,
            "expir",
        ),
        (
            vec![("principal", "cy@example.test"), ("end", too_long.as_str())],
            400,
            "365",
        ),
    ] {
        let mut full = vec![("kind", "eligible"), ("role", SECURITY_READER)];
        full.extend(form.iter().copied());
        let r = b.post("/admin/assignments", &full).await;
        let (got, _, html) = page_of(&r);
        assert_eq!(got, status, "{form:?}: {html}");
        assert!(html.contains("id=\"error\""), "{form:?}: {html}");
        assert!(
            html.to_lowercase().contains(&says.to_lowercase()),
            "{form:?}: {says}: {html}"
        );
        // The input is kept.
        assert!(
            html.contains(&format!("value=\"{}\"", form[0].1)),
            "{form:?}: {html}"
        );
    }
    assert!(held(env, &cy, AssignmentStatus::Eligible).await.is_empty());
    // An old session writes nothing until it re-authenticates.
    env.state.clock.advance(chrono::Duration::minutes(11));
    let r = b
        .post(
            "/admin/assignments",
            &[
                ("kind", "eligible"),
                ("role", SECURITY_READER),
                ("principal", "cy@example.test"),
                ("end", future.as_str()),
            ],
        )
        .await;
    let (status, _, html) = page_of(&r);
    assert_eq!(status, 401, "{html}");
    assert!(html.contains("id=\"reauth\""), "{html}");
    assert!(html.contains("value=\"cy@example.test\""), "{html}");
    assert!(held(env, &cy, AssignmentStatus::Eligible).await.is_empty());
}
