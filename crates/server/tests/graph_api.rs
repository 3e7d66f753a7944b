//! The Graph-compatible API over real HTTP: bearer tokens from this provider, Graph error
//! bodies, role definitions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{password_tokens, Browser, Env};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple 93";
const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";

async fn get(env: &Env, path: &str, token: Option<&str>) -> (u16, Vec<String>, Value) {
    let mut r = reqwest::Client::new().get(format!("{}{path}", env.base));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    let challenges = r
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    (r.status().as_u16(), challenges, r.json().await.unwrap())
}

async fn role_definitions_need_a_valid_token(env: &Env) {
    env.public_client("app").await;
    env.user("alice@example.test", PASSWORD).await;
    let b = Browser::new(env);
    let tokens = password_tokens(env, &b, "app", "alice@example.test", PASSWORD).await;
    let access = tokens["access_token"].as_str().unwrap();

    let (status, _, body) = get(
        env,
        "/v1.0/roleManagement/directory/roleDefinitions",
        Some(access),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let roles = body["value"].as_array().unwrap();
    assert_eq!(roles.len(), 10);
    assert!(roles
        .iter()
        .any(|r| r["id"] == GLOBAL_ADMINISTRATOR && r["displayName"] == "Global Administrator"));

    let (status, _, body) = get(
        env,
        &format!("/v1.0/roleManagement/directory/roleDefinitions/{GLOBAL_ADMINISTRATOR}"),
        Some(access),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["isBuiltIn"], true);
    let (status, _, body) = get(
        env,
        "/v1.0/roleManagement/directory/roleDefinitions/nope",
        Some(access),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "Request_ResourceNotFound");

    // No token, a tampered one, an ID token instead of an access token.
    let (status, challenges, body) =
        get(env, "/v1.0/roleManagement/directory/roleDefinitions", None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(challenges, ["Bearer realm=\"portcullis\""]);
    let mut tampered = access.to_string();
    let flip = tampered.len() - 5;
    let c = if &tampered[flip..flip + 1] == "A" {
        "B"
    } else {
        "A"
    };
    tampered.replace_range(flip..flip + 1, c);
    let (status, challenges, _) = get(
        env,
        "/v1.0/roleManagement/directory/roleDefinitions",
        Some(&tampered),
    )
    .await;
    assert_eq!(status, 401);
    assert!(challenges[0].contains("invalid_token"));
    let (status, _, _) = get(
        env,
        "/v1.0/roleManagement/directory/roleDefinitions",
        tokens["id_token"].as_str(),
    )
    .await;
    assert_eq!(status, 401);

    // Signed out (by the application, with its ID token: a bare GET only asks to confirm): the
    // token stops working.
    let r = b
        .http
        .get(format!("{}/logout", env.base))
        .query(&[("id_token_hint", tokens["id_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success() || r.status().is_redirection());
    let (status, _, _) = get(
        env,
        "/v1.0/roleManagement/directory/roleDefinitions",
        Some(access),
    )
    .await;
    assert_eq!(status, 401);
}

on_both_backends!(role_definitions_need_a_valid_token);
