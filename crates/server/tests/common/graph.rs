//! Helpers of the Graph API tests: calls with a bearer token, signed-in users, role
//! assignments made through the store.

use super::{password_tokens, Browser, Env};
use chrono::Duration;
use policy::directory::{AssignmentStatus, PRIVILEGED_ROLE_ADMINISTRATOR};
use serde_json::Value;

/// The password every user of these tests has.
pub const PASSWORD: &str = "correct horse battery staple 93";

/// Calls the API; `path` may be absolute (a next link).
pub async fn call(
    env: &Env,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{}{path}", env.base)
    };
    let mut r = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token);
    if let Some(body) = body {
        r = r.json(&body);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, value)
}

pub async fn get(env: &Env, path: &str, token: &str) -> (u16, Value) {
    call(env, reqwest::Method::GET, path, token, None).await
}

pub async fn delete(env: &Env, path: &str, token: &str) -> (u16, Value) {
    call(env, reqwest::Method::DELETE, path, token, None).await
}

pub async fn patch(env: &Env, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(env, reqwest::Method::PATCH, path, token, Some(body)).await
}

pub async fn post(env: &Env, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(env, reqwest::Method::POST, path, token, Some(body)).await
}

/// A user with a password, signed in; returns the user and an access token.
pub async fn signed_in(env: &Env, upn: &str) -> (store::User, String) {
    if env.state.store.get_client("app").await.is_err() {
        env.public_client("app").await;
    }
    let user = env.user(upn, PASSWORD).await;
    let tokens = password_tokens(env, &Browser::new(env), "app", upn, PASSWORD).await;
    (user, tokens["access_token"].as_str().unwrap().to_string())
}

/// A signed-in user with an active assignment of `role`.
pub async fn holder(env: &Env, upn: &str, role: &str) -> (store::User, String) {
    let (user, token) = signed_in(env, upn).await;
    assign(env, &user.id, role, AssignmentStatus::Active, None).await;
    (user, token)
}

/// Gives `principal` `role` with `status` from yesterday until `end` (open-ended if `None`).
pub async fn assign(
    env: &Env,
    principal: &str,
    role: &str,
    status: AssignmentStatus,
    end: Option<chrono::DateTime<chrono::Utc>>,
) {
    env.state
        .store
        .assign_role(&store::RoleAssignment {
            id: store::new_id(),
            principal_id: policy::ids::PrincipalId::trusted(principal),
            role_definition_id: policy::ids::RoleId::trusted(role),
            directory_scope_id: "/".into(),
            status,
            start_at: env.now() - Duration::days(1),
            end_at: end,
        })
        .await
        .unwrap();
}

/// A signed-in user with an active Privileged Role Administrator assignment.
pub async fn administrator(env: &Env, upn: &str) -> (store::User, String) {
    let (user, token) = signed_in(env, upn).await;
    assign(
        env,
        &user.id,
        PRIVILEGED_ROLE_ADMINISTRATOR,
        AssignmentStatus::Active,
        None,
    )
    .await;
    (user, token)
}

/// The Security Reader role: the role the request tests activate (not privileged, so its
/// settings can be anything).
pub const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
/// The approvals collection.
pub const APPROVALS: &str = "/v1.0/roleManagement/directory/roleAssignmentApprovals";
/// The approvals waiting for the caller.
pub const WAITING_FOR_ME: &str = "filterByCurrentUser(on='approver')";

/// The path of one rule of the Security Reader role's settings.
pub fn rule_path(rule: &str) -> String {
    format!("/v1.0/policies/roleManagementPolicies/DirectoryRole_{SECURITY_READER}/rules/{rule}")
}

/// A fresh access token for `upn` (the user exists), e.g. after the clock moved.
pub async fn token(env: &Env, upn: &str) -> String {
    let tokens = password_tokens(env, &Browser::new(env), "app", upn, PASSWORD).await;
    tokens["access_token"].as_str().unwrap().to_string()
}

/// A Graph `singleUser` subject set.
pub fn single_user(id: &str) -> Value {
    serde_json::json!({ "@odata.type": "#microsoft.graph.singleUser", "userId": id })
}

/// An administrator (`admin_token`) issues `upn` a one-time temporary access pass valid an
/// hour; returns the `201` answer (with the pass, shown this once).
pub async fn issue_pass(env: &Env, admin_token: &str, upn: &str) -> Value {
    let (status, issued) = post(
        env,
        &format!("/v1.0/users/{upn}/authentication/temporaryAccessPassMethods"),
        admin_token,
        serde_json::json!({ "lifetimeInMinutes": 60, "isUsableOnce": true }),
    )
    .await;
    assert_eq!(status, 201, "{issued}");
    issued
}
