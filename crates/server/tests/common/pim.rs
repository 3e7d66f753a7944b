//! PIM activation from the client's side: eligibility and role settings through the store, the
//! step-up at `/authorize`, WebAuthn assertions, activation requests over the Graph API.

use super::{authorize_path, pkce, transaction_of, Browser, Env, Landing, REDIRECT};
use policy::directory::AssignmentStatus;
use serde_json::{json, Value};
use webauthn_authenticator_rs::prelude::{RequestChallengeResponse, Url};
use webauthn_authenticator_rs::WebauthnAuthenticator;

pub const PASSWORD: &str = "correct horse battery staple 93";
pub const REQUESTS: &str = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests";

/// Makes `user` eligible for `role`.
pub async fn eligible(env: &Env, user: &store::User, role: &str) {
    env.state
        .store
        .assign_role(&store::RoleAssignment {
            id: store::new_id(),
            principal_id: policy::ids::PrincipalId::trusted(user.id.clone()),
            role_definition_id: policy::ids::RoleId::trusted(role),
            directory_scope_id: "/".into(),
            status: AssignmentStatus::Eligible,
            start_at: env.now() - chrono::Duration::days(1),
            end_at: None,
        })
        .await
        .unwrap();
}

/// Requires context `context` to activate `role`.
pub async fn require_context(env: &Env, role: &str, context: &str) {
    let mut policy = pim::RoleManagementPolicy::default_for(role, env.now());
    policy
        .require_authentication_context(context, env.now(), None)
        .unwrap();
    env.state.store.put_role_policy(&policy, 0).await.unwrap();
}

pub fn context_policy(context: &str, grant: Value) -> Value {
    json!({
        "authenticationContextClassReferences": [{ "id": context, "displayName": "PIM", "isAvailable": true }],
        "conditionalAccessPolicies": [{
            "id": format!("ca-{context}"), "displayName": format!("CA {context} every time"), "state": "enabled",
            "conditions": {
                "users": { "includeUsers": ["All"] },
                "applications": { "includeAuthenticationContextClassReferences": [context] },
                "clientAppTypes": ["all"]
            },
            "grantControls": grant,
            "sessionControls": { "signInFrequency": { "isEnabled": true, "frequencyInterval": "everyTime", "authenticationType": "primaryAndSecondaryAuthentication" } }
        }]
    })
}

/// Redeems the code of `landing` with `verifier`.
pub async fn redeem(env: &Env, b: &Browser, landing: &Landing, verifier: &str) -> Value {
    let r = b
        .http
        .post(format!("{}/token", env.base))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", landing.code().as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", "app"),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Starts `/authorize` with `extra`; returns the verifier, the transaction and the page.
pub async fn authorize(
    b: &Browser,
    upn: &str,
    extra: &[(&str, &str)],
) -> (String, String, Landing) {
    let (verifier, challenge) = pkce();
    let page = b.get(&authorize_path("app", &challenge, extra)).await;
    let tx = transaction_of(page.html());
    let page = if page.html().contains("username-form") {
        b.post(&format!("/signin/{tx}/username"), &[("username", upn)])
            .await
    } else {
        page
    };
    (verifier, tx, page)
}

/// The request id and the `claims` of a step-up challenge (`innerError`).
pub fn challenge_of(body: &Value) -> (String, String) {
    let inner = &body["error"]["innerError"];
    let text = |v: &Value| {
        v.as_str()
            .unwrap_or_else(|| panic!("not a challenge: {body}"))
            .to_string()
    };
    (
        text(&inner["requestId"]),
        text(&inner["authorizeParameters"]["claims"]),
    )
}

/// Starts the step-up of request `request_id` at `/authorize` with the challenge's `claims`.
pub async fn step_up(
    b: &Browser,
    upn: &str,
    claims: &str,
    request_id: &str,
) -> (String, String, Landing) {
    authorize(
        b,
        upn,
        &[("claims", claims), ("step_up_request", request_id)],
    )
    .await
}

pub async fn activate(env: &Env, token: &str, role: &str) -> (u16, Vec<String>, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}{REQUESTS}", env.base))
        .bearer_auth(token)
        .json(&json!({
            "action": "selfActivate",
            "principalId": "",
            "roleDefinitionId": role,
            "directoryScopeId": "/",
            "justification": "Incident 4711: rotate the signing certificate",
            "scheduleInfo": { "startDateTime": null, "expiration": { "type": "afterDuration", "duration": "PT1H" } }
        }))
        .send()
        .await
        .unwrap();
    let challenges = r
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    (r.status().as_u16(), challenges, r.json().await.unwrap())
}

/// `upn` (the user exists), signed in afresh with their password, asks to activate `role` and
/// is held for a step-up: `401 RoleAssignmentRequestAcrsValidationFailed` with a claims
/// challenge naming `context`.
pub async fn held_for_step_up(env: &Env, upn: &str, role: &str, context: &str) {
    let token = super::graph::token(env, upn).await;
    let (status, challenges, body) = activate(env, &token, role).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        body["error"]["code"],
        "RoleAssignmentRequestAcrsValidationFailed"
    );
    assert!(
        challenges.iter().any(|c| c.contains(context)),
        "{challenges:?}"
    );
}

/// Performs the passkey in transaction `tx`; returns the landing after it.
/// Performs the passkey in transaction `tx`; returns the landing after it.
pub async fn use_passkey<A: WebauthnAuthenticator>(
    env: &Env,
    b: &Browser,
    tx: &str,
    key: &mut A,
) -> Landing {
    let (ceremony, credential) = passkey_assertion(env, b, tx, key).await;
    let (status, next) = post_assertion(env, b, tx, &ceremony, &credential).await;
    assert_eq!(status, 200, "{next}");
    b.get(next["next"].as_str().unwrap()).await
}

/// Asks for WebAuthn options in transaction `tx` and lets `key` answer them: the ceremony id and
/// the assertion, not yet posted.
pub async fn passkey_assertion<A: WebauthnAuthenticator>(
    env: &Env,
    b: &Browser,
    tx: &str,
    key: &mut A,
) -> (Value, Value) {
    let r = b
        .http
        .post(format!("{}/signin/{tx}/webauthn/options", env.base))
        .send()
        .await
        .unwrap();
    let o: Value = r.json().await.unwrap();
    let rcr: RequestChallengeResponse = serde_json::from_value(o["options"].clone()).unwrap();
    let a = key
        .do_authentication(Url::parse(&env.base).unwrap(), rcr)
        .unwrap();
    (o["ceremonyId"].clone(), serde_json::to_value(&a).unwrap())
}

/// Posts an assertion for ceremony `ceremony` in transaction `tx`.
pub async fn post_assertion(
    env: &Env,
    b: &Browser,
    tx: &str,
    ceremony: &Value,
    credential: &Value,
) -> (u16, Value) {
    let r = b
        .http
        .post(format!("{}/signin/{tx}/webauthn", env.base))
        .json(&json!({"ceremonyId": ceremony, "credential": credential}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn active_assignments(env: &Env, user: &store::User) -> Vec<store::ScheduledAssignment> {
    env.state
        .store
        .list_scheduled_assignments(&store::AssignmentQuery {
            principal_id: Some(user.id.clone()),
            role_definition_id: None,
            status: Some(AssignmentStatus::Active),
            in_force_at: Some(env.now()),
            request_id: None,
        })
        .await
        .unwrap()
}

/// Signs `upn` in to the app in `b` with the password alone; returns the access token.
pub async fn password_access_token(env: &Env, b: &Browser, upn: &str) -> String {
    let (verifier, tx, _) = authorize(b, upn, &[]).await;
    let done = b
        .post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await;
    let tokens = redeem(env, b, &done, &verifier).await;
    tokens["access_token"].as_str().unwrap().to_string()
}
