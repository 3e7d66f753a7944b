//! PIM activation over real HTTP, one test per story: the claim-check role that activates on an
//! old MFA; the context role that only a fresh, request-bound phishing-resistant step-up
//! activates (a TOTP session is challenged, a TOTP step-up is refused, a passkey step-up
//! activates, the proof cannot be used again nor for another role); a context with `mfa` and
//! `everyTime`; and expiry on time, also across a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::account::{account_with_pass, register};
use common::graph::{administrator, get, issue_pass, post};
use common::{passkey, totp_code, Browser, Env, Landing};
use policy::directory::{GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR};
use serde_json::{json, Value};

use common::pim::*;

async fn mfa_only_role_activates_on_an_old_claim_and_lint_flags_it(env: &Env) {
    env.public_client("app").await;
    // Signed in before the MFA policy below exists, with a password only.
    let (_, admin) = administrator(env, "pra@example.test").await;
    // The lint names the weakness of the default settings (over the API, as an administrator).
    let (status, lint) = get(env, "/v1.0/portcullis/lint", &admin).await;
    assert_eq!(status, 200, "{lint}");
    let ga = lint["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["roleDefinitionId"] == GLOBAL_ADMINISTRATOR)
        .unwrap();
    assert_eq!(ga["activation"]["multiFactorAuthentication"], true);
    assert!(
        ga["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "activationClaimCheck"
                && f["message"].as_str().unwrap().contains("only an MFA claim")),
        "{ga}"
    );
    let (status, _) = get(
        env,
        "/v1.0/portcullis/lint?breakGlass=nobody@example.test",
        &admin,
    )
    .await;
    assert_eq!(status, 404);
    let adele = env.user("adele@example.test", PASSWORD).await;
    let secret = env.totp(&adele).await;
    eligible(env, &adele, GLOBAL_ADMINISTRATOR).await;
    let b = Browser::new(env);
    // Password and TOTP, with an MFA policy on the app so that the token's amr says mfa.
    env.policies(json!({ "conditionalAccessPolicies": [{
        "id": "ca001", "displayName": "CA001 MFA", "state": "enabled",
        "conditions": { "users": { "includeUsers": ["All"] }, "applications": { "includeApplications": ["All"] }, "clientAppTypes": ["all"] },
        "grantControls": { "operator": "OR", "builtInControls": ["mfa"] }
    }]}))
    .await;
    let (verifier, tx, _) = authorize(&b, "adele@example.test", &[]).await;
    b.post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await;
    let done = b
        .post(
            &format!("/signin/{tx}/totp"),
            &[("code", &totp_code(&secret, env.now()))],
        )
        .await;
    let tokens = redeem(env, &b, &done, &verifier).await;
    // Thirty minutes later (a refreshed access token, still carrying the old MFA), no prompt.
    env.state.clock.advance(chrono::Duration::minutes(30));
    let r = b
        .http
        .post(format!("{}/token", env.base))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", "app"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let refreshed: Value = r.json().await.unwrap();
    let (status, challenges, body) = activate(
        env,
        refreshed["access_token"].as_str().unwrap(),
        GLOBAL_ADMINISTRATOR,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(challenges.is_empty());
    assert_eq!(body["status"], "Provisioned");
    assert_eq!(active_assignments(env, &adele).await.len(), 1);
}

async fn phishing_resistant_context_needs_a_fresh_request_bound_passkey(env: &Env) {
    env.public_client("app").await;
    let adele = env.user("adele@example.test", PASSWORD).await;
    let secret = env.totp(&adele).await;
    let mut key = passkey(env, &adele).await;
    eligible(env, &adele, GLOBAL_ADMINISTRATOR).await;
    eligible(env, &adele, PRIVILEGED_ROLE_ADMINISTRATOR).await;
    require_context(env, GLOBAL_ADMINISTRATOR, "c1").await;
    require_context(env, PRIVILEGED_ROLE_ADMINISTRATOR, "c1").await;
    env.policies(context_policy("c1", json!({ "operator": "OR", "authenticationStrength": { "id": "00000000-0000-0000-0000-000000000004" } }))).await;
    let b = Browser::new(env);

    // A password + TOTP session.
    let access = &password_access_token(env, &b, "adele@example.test").await;

    // 1. The request is recorded first and challenged, in both forms.
    let (status, challenges, body) = activate(env, access, GLOBAL_ADMINISTRATOR).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        body["error"]["code"],
        "RoleAssignmentRequestAcrsValidationFailed"
    );
    assert!(
        challenges
            .iter()
            .any(|c| c.contains("error=\"insufficient_claims\"") && c.contains("claims=\"")),
        "{challenges:?}"
    );
    assert!(
        challenges
            .iter()
            .any(|c| c.contains("insufficient_user_authentication")
                && c.contains("acr_values=\"c1\""))
    );
    let (request_id, claims) = challenge_of(&body);
    let stored = env
        .state
        .store
        .get_schedule_request(&request_id)
        .await
        .unwrap();
    assert_eq!(stored.status(), pim::Status::PendingStepUp);
    assert!(stored.step_up_nonce.is_some());

    // 2. A TOTP step-up is not offered, and does not help when forced.
    let (verifier, tx, page) = step_up(&b, "adele@example.test", &claims, &request_id).await;
    assert!(
        page.html().contains("webauthn-form") && !page.html().contains("totp-form"),
        "{}",
        page.html()
    );
    let still = b
        .post(
            &format!("/signin/{tx}/totp"),
            &[("code", &totp_code(&secret, env.now()))],
        )
        .await;
    assert!(
        still.html().contains("webauthn-form"),
        "TOTP satisfied c1: {}",
        still.html()
    );

    // 3. The passkey, in this step-up, after the request: the proof.
    let (ceremony, assertion) = passkey_assertion(env, &b, &tx, &mut key).await;
    let (status, next) = post_assertion(env, &b, &tx, &ceremony, &assertion).await;
    assert_eq!(status, 200, "{next}");
    let done = b.get(next["next"].as_str().unwrap()).await;
    let proof = redeem(env, &b, &done, &verifier).await;
    let proof_token = proof["access_token"].as_str().unwrap();
    let (status, _, body) = activate(env, proof_token, GLOBAL_ADMINISTRATOR).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["id"], request_id.as_str());
    assert_eq!(body["status"], "Provisioned");
    assert_eq!(active_assignments(env, &adele).await.len(), 1);

    // 4. The same proof again, for this role or another: refused, and audited.
    let (status, _, body) = activate(env, proof_token, GLOBAL_ADMINISTRATOR).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["code"],
        "RoleAssignmentRequestAcrsValidationFailed"
    );
    let (status, _, body) = activate(env, proof_token, PRIVILEGED_ROLE_ADMINISTRATOR).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another role"),
        "{body}"
    );
    assert_eq!(active_assignments(env, &adele).await.len(), 1);

    // 5. The assertion replayed into the step-up of a new request (for the other role), in
    // that step-up's own ceremony or the spent one: refused, nothing proven, nothing active.
    let (status, _, body) = activate(env, access, PRIVILEGED_ROLE_ADMINISTRATOR).await;
    assert_eq!(status, 401, "{body}");
    let (second, _) = challenge_of(&body);
    let (_, tx, page) = step_up(&b, "adele@example.test", &claims, &second).await;
    assert!(page.html().contains("webauthn-form"), "{}", page.html());
    let fresh: Value = b
        .http
        .post(format!("{}/signin/{tx}/webauthn/options", env.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for ceremony in [&fresh["ceremonyId"], &ceremony] {
        let (status, answer) = post_assertion(env, &b, &tx, ceremony, &assertion).await;
        assert_ne!(status, 200, "a replayed assertion was accepted: {answer}");
    }
    let page = b.get(&format!("/signin/{tx}")).await;
    assert!(
        page.html_or_none()
            .is_some_and(|h| h.contains("webauthn-form")),
        "the replay completed the step-up"
    );
    assert_eq!(active_assignments(env, &adele).await.len(), 1);

    // 6. The role's id in upper case names the same role, with the same settings: challenged.
    let (status, _, body) = activate(env, access, &GLOBAL_ADMINISTRATOR.to_ascii_uppercase()).await;
    assert_eq!(status, 400, "GA is active already: {body}");
    let (status, _, body) = activate(
        env,
        access,
        &PRIVILEGED_ROLE_ADMINISTRATOR.to_ascii_uppercase(),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        body["error"]["code"],
        "RoleAssignmentRequestAcrsValidationFailed"
    );

    // 7. A c1 token not bound to a request (an ordinary step-up) does not activate either.
    let (verifier, tx, _) = authorize(&b, "adele@example.test", &[("claims", &claims)]).await;
    let done = use_passkey(env, &b, &tx, &mut key).await;
    let unbound = redeem(env, &b, &done, &verifier).await;
    let (status, _, _) = activate(
        env,
        unbound["access_token"].as_str().unwrap(),
        PRIVILEGED_ROLE_ADMINISTRATOR,
    )
    .await;
    assert_eq!(status, 401, "an acrs claim alone is not a proof");

    let audit = env.state.store.verify_audit_chain().await.unwrap();
    assert!(audit.first_broken.is_none());
    assert!(audit.entries >= 5, "{audit:?}");
}

async fn an_admin_without_a_phishing_resistant_method_is_told_what_to_register_and_a_pass_lets_them_activate(
    env: &Env,
) {
    env.public_client("app").await;
    let adele = env.user("adele@example.test", PASSWORD).await;
    env.totp(&adele).await;
    eligible(env, &adele, GLOBAL_ADMINISTRATOR).await;
    require_context(env, GLOBAL_ADMINISTRATOR, "c1").await;
    env.policies(context_policy("c1", json!({ "operator": "OR", "authenticationStrength": { "id": "00000000-0000-0000-0000-000000000004" } }))).await;
    let (_, admin) = administrator(env, "pra@example.test").await;

    // Adele (password and TOTP) asks to activate: the challenge says exactly why she cannot
    // answer it and what to register.
    let b = Browser::new(env);
    let token = password_access_token(env, &b, "adele@example.test").await;
    let (status, _, body) = activate(env, &token, GLOBAL_ADMINISTRATOR).await;
    assert_eq!(status, 401, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    for words in [
        "Policy 'CA c1 every time' requires authentication strength 'Phishing-resistant MFA' for c1",
        "none of your registered methods satisfies it",
        "register a passkey or security key",
        "temporary access pass",
    ] {
        assert!(message.contains(words), "{words:?} not in {message}");
    }
    let lacking = &body["error"]["innerError"]["methodsToRegister"][0];
    assert_eq!(
        lacking["strengthId"],
        "00000000-0000-0000-0000-000000000004"
    );
    let registered: Vec<&str> = lacking["registered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert_eq!(registered, ["password", "softwareOath"]);
    let (request_id, claims) = challenge_of(&body);

    // The step-up page offers nothing she has, and names what would do.
    let (_, _, page) = step_up(&b, "adele@example.test", &claims, &request_id).await;
    let html = page.html();
    assert!(
        !html.contains("webauthn-form") && !html.contains("totp-form"),
        "{html}"
    );
    assert!(html.contains("Security key or passkey (FIDO2)"), "{html}");

    // Pre-flight lists her, with what to register; it is for administrators only.
    let preflight = "/v1.0/portcullis/preflight?role=Global%20Administrator";
    let (status, report) = get(env, preflight, &admin).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["everyoneCan"], false);
    let cannot = &report["activation"]["policies"][0]["report"]["cannot"];
    assert_eq!(cannot.as_array().unwrap().len(), 1, "{report}");
    assert_eq!(cannot[0]["user"]["userPrincipalName"], "adele@example.test");
    assert!(cannot[0]["advice"].as_str().unwrap().contains("passkey"));
    let (status, _) = get(env, preflight, &token).await;
    assert_eq!(status, 403);

    // An administrator issues a one-time pass (one at a time); with it she registers a passkey.
    let passes = "/v1.0/users/adele@example.test/authentication/temporaryAccessPassMethods";
    let issued = issue_pass(env, &admin, "adele@example.test").await;
    assert_eq!(issued["isUsable"], true);
    let pass = issued["temporaryAccessPass"].as_str().unwrap().to_string();
    let (status, _) = post(env, passes, &admin, json!({})).await;
    assert_eq!(status, 400, "a second usable pass");
    let (status, _) = post(env, passes, &token, json!({})).await;
    assert_eq!(status, 403, "only an administrator issues passes");
    let (_, listed) = get(env, passes, &admin).await;
    assert!(
        listed["value"][0].get("temporaryAccessPass").is_none(),
        "{listed}"
    );
    let registering = Browser::new(env);
    let landing = account_with_pass(&registering, "adele@example.test", &pass).await;
    assert!(
        landing.html().contains("Security info"),
        "{}",
        landing.html()
    );
    let mut key = webauthn_authenticator_rs::softtoken::SoftToken::new(true)
        .unwrap()
        .0;
    let (status, added) = register(&registering, env, &mut key).await.unwrap();
    assert_eq!(status, 200, "{added}");

    // Now the pre-flight passes, and the step-up of the same request activates.
    let (_, report) = get(env, preflight, &admin).await;
    assert_eq!(report["everyoneCan"], true, "{report}");
    let (verifier, tx, page) = step_up(&b, "adele@example.test", &claims, &request_id).await;
    assert!(page.html().contains("webauthn-form"), "{}", page.html());
    let done = use_passkey(env, &b, &tx, &mut key).await;
    let proof = redeem(env, &b, &done, &verifier).await;
    let (status, _, body) = activate(
        env,
        proof["access_token"].as_str().unwrap(),
        GLOBAL_ADMINISTRATOR,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["id"], request_id.as_str());
    assert_eq!(body["status"], "Provisioned");
    assert_eq!(active_assignments(env, &adele).await.len(), 1);
}

async fn a_role_with_a_context_and_approval_waits_for_the_approver_after_its_step_up(env: &Env) {
    env.public_client("app").await;
    let adele = env.user("adele@example.test", PASSWORD).await;
    let mut key = passkey(env, &adele).await;
    let (bob, bob_token) = common::graph::signed_in(env, "bob@example.test").await;
    eligible(env, &adele, GLOBAL_ADMINISTRATOR).await;
    require_context(env, GLOBAL_ADMINISTRATOR, "c1").await;
    // …and approval by Bob.
    let mut settings = env
        .state
        .store
        .get_role_policy(GLOBAL_ADMINISTRATOR)
        .await
        .unwrap()
        .unwrap();
    settings
        .policy
        .patch_rule(
            "Approval_EndUser_Assignment",
            &json!({
                "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
                "setting": {
                    "isApprovalRequired": true,
                    "approvalMode": "SingleStage",
                    "approvalStages": [{
                        "approvalStageTimeOutInDays": 1,
                        "primaryApprovers": [{ "@odata.type": "#microsoft.graph.singleUser", "userId": bob.id }]
                    }]
                }
            }),
            env.now(),
            None,
        )
        .unwrap();
    env.state
        .store
        .put_role_policy(&settings.policy, settings.version)
        .await
        .unwrap();
    env.policies(context_policy("c1", json!({ "operator": "OR", "authenticationStrength": { "id": "00000000-0000-0000-0000-000000000004" } }))).await;
    let b = Browser::new(env);
    let token = password_access_token(env, &b, "adele@example.test").await;
    let (status, _, body) = activate(env, &token, GLOBAL_ADMINISTRATOR).await;
    assert_eq!(status, 401, "{body}");
    let (request_id, claims) = challenge_of(&body);

    // The step-up first: the request moves on to approval, the proof is spent.
    let (verifier, tx, _) = step_up(&b, "adele@example.test", &claims, &request_id).await;
    let done = use_passkey(env, &b, &tx, &mut key).await;
    let proof = redeem(env, &b, &done, &verifier).await;
    let proof = proof["access_token"].as_str().unwrap();
    let (status, _, body) = activate(env, proof, GLOBAL_ADMINISTRATOR).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["id"], request_id.as_str());
    assert_eq!(body["status"], "PendingApproval");
    assert_eq!(body["approvalId"], request_id.as_str());
    assert!(active_assignments(env, &adele).await.is_empty());
    let (status, _, body) = activate(env, proof, GLOBAL_ADMINISTRATOR).await;
    assert_eq!(status, 400, "{body}");

    // Then Bob approves: active.
    let (status, body) = common::graph::call(
        env,
        reqwest::Method::PATCH,
        &format!("/v1.0/roleManagement/directory/roleAssignmentApprovals/{request_id}/steps/1"),
        &bob_token,
        Some(json!({"reviewResult": "Approve", "justification": "incident bridge confirmed"})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let active = active_assignments(env, &adele).await;
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].request_id.as_deref(), Some(request_id.as_str()));
}

async fn mfa_every_time_does_not_count_an_mfa_made_before_the_request(env: &Env) {
    env.public_client("app").await;
    let adele = env.user("adele@example.test", PASSWORD).await;
    let secret = env.totp(&adele).await;
    eligible(env, &adele, GLOBAL_ADMINISTRATOR).await;
    require_context(env, GLOBAL_ADMINISTRATOR, "c2").await;
    env.policies(context_policy(
        "c2",
        json!({ "operator": "OR", "builtInControls": ["mfa"] }),
    ))
    .await;
    let b = Browser::new(env);
    // MFA a minute before the request.
    let (verifier, tx, _) = authorize(&b, "adele@example.test", &[("acr_values", "mfa")]).await;
    b.post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await;
    let done = b
        .post(
            &format!("/signin/{tx}/totp"),
            &[("code", &totp_code(&secret, env.now()))],
        )
        .await;
    let tokens = redeem(env, &b, &done, &verifier).await;
    env.state.clock.advance(chrono::Duration::seconds(60));
    let (status, _, body) = activate(
        env,
        tokens["access_token"].as_str().unwrap(),
        GLOBAL_ADMINISTRATOR,
    )
    .await;
    assert_eq!(status, 401, "{body}");
    let (request_id, claims) = challenge_of(&body);
    // The step-up asks again: the earlier MFA does not count.
    let (verifier, tx, page) = step_up(&b, "adele@example.test", &claims, &request_id).await;
    assert!(page.html().contains("totp-form"), "{}", page.html());
    let page = b
        .post(
            &format!("/signin/{tx}/totp"),
            &[("code", &totp_code(&secret, env.now()))],
        )
        .await;
    let done = if page
        .html_or_none()
        .is_some_and(|h| h.contains("password-form"))
    {
        b.post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
            .await
    } else {
        page
    };
    let proof = redeem(env, &b, &done, &verifier).await;
    let (status, _, body) = activate(
        env,
        proof["access_token"].as_str().unwrap(),
        GLOBAL_ADMINISTRATOR,
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

async fn an_activation_ends_on_time_even_across_a_restart(env: Env) -> Env {
    env.public_client("app").await;
    let adele = env.user("adele@example.test", PASSWORD).await;
    let secret = env.totp(&adele).await;
    eligible(env_ref(&env), &adele, GLOBAL_ADMINISTRATOR).await;
    let b = Browser::new(&env);
    let (verifier, tx, _) = authorize(&b, "adele@example.test", &[("acr_values", "mfa")]).await;
    b.post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await;
    let done = b
        .post(
            &format!("/signin/{tx}/totp"),
            &[("code", &totp_code(&secret, env.now()))],
        )
        .await;
    let tokens = redeem(&env, &b, &done, &verifier).await;
    let (status, _, body) = activate(
        &env,
        tokens["access_token"].as_str().unwrap(),
        GLOBAL_ADMINISTRATOR,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let assignment_id = body["targetScheduleId"].as_str().unwrap().to_string();
    assert_eq!(active_assignments(&env, &adele).await.len(), 1);
    // Conditional Access sees the role while it lasts…
    let engine = env.state.engine().await.unwrap();
    let roles = engine.active_roles(&adele.id, &engine.transitive_groups(&adele.id));
    assert!(
        roles
            .iter()
            .any(|r| r.eq_ignore_ascii_case(GLOBAL_ADMINISTRATOR)),
        "{roles:?}"
    );

    // The service stops; it comes back two hours later (past the one-hour activation).
    let clock = server::state::Clock::default();
    clock.advance(chrono::Duration::hours(2));
    let env = env.restart(clock).await;
    let mut closed = None;
    for _ in 0..50 {
        let s = env
            .state
            .store
            .get_scheduled_assignment(&assignment_id)
            .await
            .unwrap();
        if s.closed_at.is_some() {
            closed = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let closed = closed.expect("the expiry job closed the activation after the restart");
    assert_eq!(closed.end_reason.as_deref(), Some("expired"));
    assert!(active_assignments(&env, &adele).await.is_empty());
    let request = env
        .state
        .store
        .get_schedule_request(body["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(request.status(), pim::Status::Revoked);
    env.state.tenant_changed();
    let engine = env.state.engine().await.unwrap();
    assert!(engine
        .active_roles(&adele.id, &engine.transitive_groups(&adele.id))
        .is_empty());
    env
}

fn env_ref(env: &Env) -> &Env {
    env
}

trait HtmlOrNone {
    fn html_or_none(&self) -> Option<&str>;
}

impl HtmlOrNone for Landing {
    fn html_or_none(&self) -> Option<&str> {
        match self {
            Landing::Page { html, .. } => Some(html),
            Landing::Client(_) => None,
        }
    }
}

on_both_backends!(
    mfa_only_role_activates_on_an_old_claim_and_lint_flags_it,
    phishing_resistant_context_needs_a_fresh_request_bound_passkey,
    mfa_every_time_does_not_count_an_mfa_made_before_the_request,
    an_admin_without_a_phishing_resistant_method_is_told_what_to_register_and_a_pass_lets_them_activate,
    a_role_with_a_context_and_approval_waits_for_the_approver_after_its_step_up,
);

mod restart {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let env = crate::common::Env::start(store::testing::Backend::Sqlite)
            .await
            .unwrap();
        super::an_activation_ends_on_time_even_across_a_restart(env)
            .await
            .stop()
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let Some(env) = crate::common::Env::start(store::testing::Backend::Postgres).await else {
            return;
        };
        super::an_activation_ends_on_time_even_across_a_restart(env)
            .await
            .stop()
            .await;
    }
}
