//! Security info (`/account`) from the browser's side: signing in with a temporary access pass,
//! registering a security key or passkey.

use super::{transaction_of, Browser, Env, Landing};
use serde_json::{json, Value};
use webauthn_authenticator_rs::prelude::{CreationChallengeResponse, Url};
use webauthn_authenticator_rs::WebauthnAuthenticator;

/// Opens /account in `b` and signs in with the pass.
pub async fn account_with_pass(b: &Browser, upn: &str, pass: &str) -> Landing {
    let page = b.get("/account").await;
    let tx = transaction_of(page.html());
    let page = b
        .post(&format!("/signin/{tx}/username"), &[("username", upn)])
        .await;
    assert!(page.html().contains("tap-form"), "{}", page.html());
    b.post(&format!("/signin/{tx}/tap"), &[("pass", pass)])
        .await
}

pub async fn post_json(b: &Browser, env: &Env, path: &str, body: &Value) -> (u16, Value) {
    let r = b
        .http
        .post(format!("{}{path}", env.base))
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

pub async fn register<A: WebauthnAuthenticator>(
    b: &Browser,
    env: &Env,
    key: &mut A,
) -> Result<(u16, Value), String> {
    register_with(b, env, key, |_| {}).await
}

/// Registers `key`, letting `tamper` change the options on their way to the authenticator
/// (what a malicious page script could do).
pub async fn register_with<A: WebauthnAuthenticator>(
    b: &Browser,
    env: &Env,
    key: &mut A,
    tamper: impl FnOnce(&mut Value),
) -> Result<(u16, Value), String> {
    let (status, mut o) = post_json(
        b,
        env,
        "/account/webauthn/options",
        &json!({"kind": "securityKey"}),
    )
    .await;
    assert_eq!(status, 200, "{o}");
    tamper(&mut o["options"]);
    let ccr: CreationChallengeResponse = serde_json::from_value(o["options"].clone()).unwrap();
    let reg = key
        .do_registration(Url::parse(&env.base).unwrap(), ccr)
        .map_err(|e| format!("{e:?}"))?;
    let mut credential = serde_json::to_value(&reg).unwrap();
    credential["authenticatorAttachment"] = json!("cross-platform");
    Ok(post_json(
        b,
        env,
        "/account/webauthn",
        &json!({"ceremonyId": o["ceremonyId"], "credential": credential, "name": "Key"}),
    )
    .await)
}
