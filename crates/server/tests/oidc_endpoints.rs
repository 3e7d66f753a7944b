//! The OIDC endpoints over real HTTP (discovery, JWKS, `/token`, `/userinfo`, `/logout`), with
//! authorization codes written straight into the store: code redemption and its attacks (replay,
//! PKCE, redirect URI, client authentication), refresh rotation and reuse, forged tokens, and
//! logout. Every test runs on SQLite and on PostgreSQL (see `common`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::Duration;
use common::{pkce, Env, REDIRECT};
use policy::method::AuthenticationMethodMode as Mode;
use serde_json::{json, Value};
use server::web::token_hash;
use store::{AuthorizationCode, OidcClient, Session, SessionAuthEvent, User};
use tokens::keys::Expectation;
use tokens::{AccessTokenClaims, IdTokenClaims};

const CONFIDENTIAL: &str = "backoffice";
/// A secret with characters that HTTP Basic must carry form-urlencoded (RFC 6749 §2.3.1).
const SECRET: &str = "s3cret:with+plus %percent and colon, long enough 0123456789";
const PUBLIC: &str = "spa";
const OTHER_REDIRECT: &str = "http://127.0.0.1:9/other";

// ---------------------------------------------------------------------------------------------
// Set-up

/// A signed-in browser: the user, the session cookie's value and the session id.
struct SignedIn {
    user: User,
    cookie: String,
    session_id: String,
    /// The public session id, as tokens carry it.
    sid: String,
}

async fn sign_in(env: &Env, upn: &str) -> SignedIn {
    let now = env.now();
    let user = User::new(upn, "Ada Lovelace", now);
    env.state.store.create_user(&user).await.unwrap();
    env.state.tenant_changed();
    let who = new_session(env, user).await;
    // Password and an authenticator app: multifactor, as the code's amr says.
    for method in [Mode::Password, Mode::SoftwareOath] {
        env.state
            .store
            .add_session_event(&SessionAuthEvent {
                id: store::new_id(),
                session_id: who.session_id.clone(),
                method,
                performed_at: now,
                aaguid: None,
                user_verified: false,
                transaction_id: None,
                credential_id: None,
                registration: None,
            })
            .await
            .unwrap();
    }
    who
}

/// A new live session of `user`, with no method performed in it yet.
async fn new_session(env: &Env, user: User) -> SignedIn {
    let now = env.now();
    let cookie = server::web::random_token().unwrap();
    let session_id = token_hash(&cookie);
    let sid = store::new_id();
    env.state
        .store
        .create_session(&Session {
            id: session_id.clone(),
            sid: sid.clone(),
            user_id: user.id.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + Duration::hours(8),
            revoked_at: None,
        })
        .await
        .unwrap();
    SignedIn {
        user,
        cookie,
        session_id,
        sid,
    }
}

async fn clients(env: &Env) {
    for client in [
        OidcClient {
            client_id: PUBLIC.into(),
            display_name: "Single-page app".into(),
            redirect_uris: vec![REDIRECT.into(), OTHER_REDIRECT.into()],
            is_public: true,
            secret_hash: None,
            created_at: env.now(),
        },
        OidcClient {
            client_id: CONFIDENTIAL.into(),
            display_name: "Back office".into(),
            redirect_uris: vec![REDIRECT.into()],
            is_public: false,
            secret_hash: Some(server::oidc::clients::hash_secret(SECRET)),
            created_at: env.now(),
        },
    ] {
        env.state.store.create_client(&client).await.unwrap();
    }
}

/// An authorization code as the sign-in pages would issue it; returns the code.
async fn issue_code(
    env: &Env,
    who: &SignedIn,
    edit: impl FnOnce(&mut AuthorizationCode),
) -> String {
    let code = server::web::random_token().unwrap();
    let now = env.now();
    let mut record = AuthorizationCode {
        code_hash: token_hash(&code),
        client_id: PUBLIC.into(),
        user_id: who.user.id.clone(),
        session_id: who.session_id.clone(),
        redirect_uri: REDIRECT.into(),
        code_challenge: None,
        nonce: Some("n-0S6_WzA2Mj".into()),
        scope: "openid profile email offline_access".into(),
        claims: None,
        auth_time: store::at_ms(now - Duration::seconds(30)),
        acr: Some("c1".into()),
        amr: vec!["mfa".into(), "otp".into(), "pwd".into()],
        acrs: vec!["c1".into()],
        expires_at: now + Duration::seconds(60),
        consumed_at: None,
        step_up_request: None,
    };
    edit(&mut record);
    env.state.store.insert_code(&record).await.unwrap();
    code
}

/// A code for the public client with a PKCE challenge; returns (code, verifier).
async fn pkce_code(env: &Env, who: &SignedIn) -> (String, String) {
    let (verifier, challenge) = pkce();
    let code = issue_code(env, who, |c| c.code_challenge = Some(challenge)).await;
    (code, verifier)
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// What an endpoint answered.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    fn text(&self, name: &str) -> String {
        self.body[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
            .to_string()
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

async fn post_token(env: &Env, form: &[(&str, &str)]) -> Answer {
    let r = http()
        .post(format!("{}/token", env.base))
        .form(form)
        .send()
        .await
        .unwrap();
    answer(r).await
}

async fn post_token_raw(env: &Env, body: &str, basic: Option<&str>) -> Answer {
    let mut request = http()
        .post(format!("{}/token", env.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    if let Some(basic) = basic {
        request = request.header("authorization", format!("Basic {basic}"));
    }
    answer(request.send().await.unwrap()).await
}

/// HTTP Basic credentials as RFC 6749 §2.3.1 builds them.
fn basic(client_id: &str, secret: &str) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        encode(client_id),
        encode(secret)
    ))
}

async fn redeem(env: &Env, code: &str, verifier: &str) -> Answer {
    post_token(
        env,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", PUBLIC),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn refresh(env: &Env, token: &str, extra: &[(&str, &str)]) -> Answer {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", token),
        ("client_id", PUBLIC),
    ];
    form.extend_from_slice(extra);
    post_token(env, &form).await
}

async fn userinfo(env: &Env, access_token: &str) -> Answer {
    let r = http()
        .get(format!("{}/userinfo", env.base))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    answer(r).await
}

fn assert_grant_error(a: &Answer, error: &str, description_has: &str) {
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.error(), error, "{}", a.body);
    let description = a.text("error_description");
    assert!(
        description.contains(description_has),
        "'{description}' should mention '{description_has}'"
    );
    assert_eq!(a.header("cache-control"), Some("no-store"));
}

/// A JWT's header or payload, unverified.
fn part(jwt: &str, index: usize) -> Value {
    let segment = jwt.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

/// A token's claims, verified by the service's keys for `audience` (the read guard on the keys
/// never lives across an await).
fn verify<C: serde::de::DeserializeOwned>(env: &Env, token: &str, audience: &str) -> C {
    let expect = Expectation {
        issuer: &env.state.issuer,
        audience,
        now: env.now(),
    };
    env.state.keys().verify(token, &expect).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Discovery and JWKS

async fn discovery_document(env: &Env) {
    let r = http()
        .get(format!("{}/.well-known/openid-configuration", env.base))
        .send()
        .await
        .unwrap();
    let d = answer(r).await;
    assert_eq!(d.status, 200);
    let issuer = &env.state.issuer;
    assert_eq!(d.text("issuer"), *issuer);
    for (field, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks"),
        ("end_session_endpoint", "/logout"),
    ] {
        assert_eq!(d.text(field), format!("{issuer}{path}"), "{field}");
    }
    let b = &d.body;
    assert_eq!(b["response_types_supported"], json!(["code"]));
    assert_eq!(b["response_modes_supported"], json!(["query"]));
    assert_eq!(
        b["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(b["subject_types_supported"], json!(["public"]));
    assert_eq!(b["id_token_signing_alg_values_supported"], json!(["ES256"]));
    assert_eq!(
        b["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(b["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        b["scopes_supported"],
        json!(["openid", "profile", "email", "offline_access"])
    );
    for claim in [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "acrs",
        "sid",
        "preferred_username",
        "name",
    ] {
        assert!(
            b["claims_supported"]
                .as_array()
                .unwrap()
                .contains(&json!(claim)),
            "{claim}"
        );
    }
    assert_eq!(b["claims_parameter_supported"], json!(true));
    assert_eq!(b["request_parameter_supported"], json!(false));
    assert_eq!(b["request_uri_parameter_supported"], json!(false));
    assert_eq!(
        b["authorization_response_iss_parameter_supported"],
        json!(true)
    );
    let acr_values: Vec<&str> = b["acr_values_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(&acr_values[..4], ["phr", "mfa", "pwd", "c1"]);
    assert_eq!(acr_values.len(), 3 + 99);
    assert_eq!(acr_values.last(), Some(&"c99"));
    assert_eq!(
        b["prompt_values_supported"],
        json!(["none", "login", "consent", "select_account"])
    );
}

async fn jwks_publishes_the_key_that_signs(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let (code, verifier) = pkce_code(env, &who).await;
    let tokens = redeem(env, &code, &verifier).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let id_token = tokens.text("id_token");

    let r = http()
        .get(format!("{}/jwks", env.base))
        .send()
        .await
        .unwrap();
    let jwks = answer(r).await;
    assert_eq!(jwks.status, 200);
    assert_eq!(jwks.header("cache-control"), Some("public, max-age=300"));
    let keys = jwks.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{}", jwks.body);
    let published = &keys[0];
    assert_eq!(published["kty"], "EC");
    assert_eq!(published["crv"], "P-256");
    assert_eq!(published["alg"], "ES256");
    assert_eq!(published["use"], "sig");
    assert!(
        published.get("d").is_none(),
        "the private key is never published"
    );

    let header = part(&id_token, 0);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], published["kid"]);
    let signer = env.state.keys().active().unwrap().public_jwk().unwrap();
    assert_eq!(serde_json::to_value(&signer).unwrap(), *published);
    let claims: IdTokenClaims = verify(env, &id_token, PUBLIC);
    assert_eq!(claims.sub, who.user.id);
    assert_eq!(part(&tokens.text("access_token"), 0)["typ"], "at+jwt");
}

// ---------------------------------------------------------------------------------------------
// Authorization codes

async fn a_code_gives_tokens_with_the_authentication_it_records(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let (code, verifier) = pkce_code(env, &who).await;
    let before = env.now().timestamp();
    let t = redeem(env, &code, &verifier).await;
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(t.header("cache-control"), Some("no-store"));
    assert_eq!(t.header("pragma"), Some("no-cache"));
    assert_eq!(t.text("token_type"), "Bearer");
    assert_eq!(t.body["expires_in"], json!(600));
    assert_eq!(t.text("scope"), "openid profile email offline_access");
    assert!(t.text("refresh_token").len() >= 43);

    let auth_time = (env.now() - Duration::seconds(30)).timestamp();
    let id: IdTokenClaims = verify(env, &t.text("id_token"), PUBLIC);
    assert_eq!(id.iss, env.state.issuer);
    assert_eq!(id.aud, PUBLIC);
    assert_eq!(id.sub, who.user.id);
    assert!((auth_time - 1..=auth_time + 1).contains(&id.auth_time));
    assert_eq!(id.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
    assert_eq!(id.acr.as_deref(), Some("c1"));
    assert_eq!(id.amr, ["mfa", "otp", "pwd"]);
    assert_eq!(id.acrs, ["c1"]);
    assert_eq!(id.sid, who.sid);
    assert_eq!(id.preferred_username.as_deref(), Some("ada@example.test"));
    assert_eq!(id.name.as_deref(), Some("Ada Lovelace"));
    assert!(id.iat >= before && id.exp == id.iat + 600);

    let access: AccessTokenClaims = verify(env, &t.text("access_token"), &env.state.issuer);
    assert_eq!(access.client_id, PUBLIC);
    assert_eq!(access.sub, who.user.id);
    assert_eq!(access.scope, "openid profile email offline_access");
    assert_eq!(access.auth_time, id.auth_time);
    assert_eq!(access.acr, id.acr);
    assert_eq!(access.amr, id.amr);
    assert_eq!(access.acrs, id.acrs);
    assert_eq!(access.sid, who.sid);
    assert!(access.jti.len() >= 43);

    let info = userinfo(env, &t.text("access_token")).await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(info.text("sub"), who.user.id);
    assert_eq!(info.text("preferred_username"), "ada@example.test");
    assert_eq!(info.text("name"), "Ada Lovelace");
    assert_eq!(info.text("email"), "ada@example.test");
    assert_eq!(info.text("acr"), "c1");
    assert_eq!(info.body["amr"], json!(["mfa", "otp", "pwd"]));
    assert_eq!(info.body["acrs"], json!(["c1"]));
    assert_eq!(info.body["auth_time"], json!(id.auth_time));

    // RFC 6750 §2.2: the token in a form body works too.
    let r = http()
        .post(format!("{}/userinfo", env.base))
        .form(&[("access_token", t.text("access_token"))])
        .send()
        .await
        .unwrap();
    assert_eq!(answer(r).await.text("sub"), who.user.id);
}

async fn without_profile_or_offline_access_less_is_issued(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let (verifier, challenge) = pkce();
    let code = issue_code(env, &who, |c| {
        c.code_challenge = Some(challenge);
        c.scope = "openid".into();
        c.nonce = None;
    })
    .await;
    let t = redeem(env, &code, &verifier).await;
    assert_eq!(t.status, 200, "{}", t.body);
    assert!(t.body.get("refresh_token").is_none(), "{}", t.body);
    let id = part(&t.text("id_token"), 1);
    for absent in ["preferred_username", "name", "nonce"] {
        assert!(id.get(absent).is_none(), "{absent} in {id}");
    }
    let info = userinfo(env, &t.text("access_token")).await;
    assert_eq!(info.status, 200);
    for absent in ["preferred_username", "name", "email"] {
        assert!(info.body.get(absent).is_none(), "{absent} in {}", info.body);
    }
}

async fn a_reused_code_is_refused_and_revokes_what_it_granted(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let (code, verifier) = pkce_code(env, &who).await;
    let first = redeem(env, &code, &verifier).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let refresh_token = first.text("refresh_token");

    let again = redeem(env, &code, &verifier).await;
    assert_grant_error(&again, "invalid_grant", "authorization code already used");

    let r = refresh(env, &refresh_token, &[]).await;
    assert_grant_error(&r, "invalid_grant", "");
    let stored = env
        .state
        .store
        .get_refresh_token(&token_hash(&refresh_token))
        .await
        .unwrap();
    assert!(stored.revoked_at.is_some(), "{stored:?}");
}

async fn an_unknown_or_expired_code_is_refused(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let (verifier, _) = pkce();
    let r = redeem(env, "no-such-code", &verifier).await;
    assert_grant_error(&r, "invalid_grant", "invalid or has expired");

    let (code, verifier) = pkce_code(env, &who).await;
    env.state.clock.advance(Duration::seconds(61));
    let r = redeem(env, &code, &verifier).await;
    assert_grant_error(&r, "invalid_grant", "invalid or has expired");
}

async fn pkce_is_enforced(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;

    let (code, _) = pkce_code(env, &who).await;
    let (someone_elses, _) = pkce();
    let r = redeem(env, &code, &someone_elses).await;
    assert_grant_error(&r, "invalid_grant", "PKCE");

    let (code, _) = pkce_code(env, &who).await;
    let r = post_token(
        env,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", PUBLIC),
        ],
    )
    .await;
    assert_grant_error(&r, "invalid_grant", "code_verifier is required");

    let (code, _) = pkce_code(env, &who).await;
    let r = redeem(env, &code, "too-short").await;
    assert_grant_error(&r, "invalid_grant", "43 to 128");

    // A confidential client whose request had no challenge must not send a verifier.
    let code = issue_code(env, &who, |c| c.client_id = CONFIDENTIAL.into()).await;
    let (verifier, _) = pkce();
    let r = post_token(
        env,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CONFIDENTIAL),
            ("client_secret", SECRET),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_grant_error(&r, "invalid_grant", "no code_challenge");

    // Nothing was issued for any of them: each code is now spent.
    let (code, verifier) = pkce_code(env, &who).await;
    assert_eq!(redeem(env, &code, &verifier).await.status, 200);
}

async fn the_redirect_uri_must_be_the_one_of_the_request(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let (code, verifier) = pkce_code(env, &who).await;
    let r = post_token(
        env,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            // Registered for the client, but not the one the code was sent to.
            ("redirect_uri", OTHER_REDIRECT),
            ("client_id", PUBLIC),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_grant_error(&r, "invalid_grant", "redirect_uri");
}

async fn clients_must_authenticate_as_registered(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let confidential_code = || issue_code(env, &who, |c| c.client_id = CONFIDENTIAL.into());
    let body = |code: &str| {
        format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}",
            url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        )
    };

    let assert_401 = |a: &Answer| {
        assert_eq!(a.status, 401, "{}", a.body);
        assert_eq!(a.error(), "invalid_client");
        assert!(a.header("www-authenticate").unwrap().starts_with("Basic"));
    };
    let code = confidential_code().await;
    assert_401(&post_token_raw(env, &body(&code), Some(&basic(CONFIDENTIAL, "wrong"))).await);
    let code = confidential_code().await;
    let wrong_post = format!(
        "{}&client_id={CONFIDENTIAL}&client_secret=also-wrong",
        body(&code)
    );
    assert_401(&post_token_raw(env, &wrong_post, None).await);
    let code = confidential_code().await;
    let no_secret = format!("{}&client_id={CONFIDENTIAL}", body(&code));
    assert_401(&post_token_raw(env, &no_secret, None).await);
    let code = confidential_code().await;
    assert_401(&post_token_raw(env, &body(&code), Some(&basic("nobody", SECRET))).await);
    assert_401(&post_token_raw(env, &body(&code), None).await);
    assert_401(&post_token_raw(env, &body(&code), Some("%%%not-base64")).await);

    // client_secret_basic, with the secret form-urlencoded inside.
    let code = confidential_code().await;
    let ok = post_token_raw(env, &body(&code), Some(&basic(CONFIDENTIAL, SECRET))).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    // client_secret_post.
    let code = confidential_code().await;
    let ok = post_token(
        env,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CONFIDENTIAL),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    // Both methods at once.
    let code = confidential_code().await;
    let twice = format!("{}&client_secret={SECRET}", body(&code));
    let r = post_token_raw(env, &twice, Some(&basic(CONFIDENTIAL, SECRET))).await;
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_request"),
        "{}",
        r.body
    );

    // A public client never sends a secret.
    let (code, verifier) = pkce_code(env, &who).await;
    let r = post_token(
        env,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", PUBLIC),
            ("client_secret", "anything"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_401(&r);

    // A code is redeemed only by the client it was issued to.
    let (code, verifier) = pkce_code(env, &who).await;
    let r = post_token(
        env,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CONFIDENTIAL),
            ("client_secret", SECRET),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_grant_error(&r, "invalid_grant", "another client");
}

async fn malformed_requests_get_clear_errors(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let (code, verifier) = pkce_code(env, &who).await;

    let r = post_token_raw(env, &format!("client_id={PUBLIC}&code={code}"), None).await;
    assert_grant_error(&r, "invalid_request", "grant_type");
    let r = post_token_raw(
        env,
        &format!("grant_type=password&client_id={PUBLIC}&username=a&password=b"),
        None,
    )
    .await;
    assert_grant_error(&r, "unsupported_grant_type", "password");
    let r = post_token_raw(
        env,
        &format!(
            "grant_type=authorization_code&client_id={PUBLIC}&code={code}&code=other&code_verifier={verifier}"
        ),
        None,
    )
    .await;
    assert_grant_error(&r, "invalid_request", "'code' is repeated");
    let r = post_token_raw(
        env,
        &format!("grant_type=authorization_code&client_id={PUBLIC}&code_verifier={verifier}"),
        None,
    )
    .await;
    assert_grant_error(&r, "invalid_request", "code is required");
    let r = post_token_raw(
        env,
        &format!(
            "grant_type=authorization_code&client_id={PUBLIC}&code={code}&code_verifier={verifier}"
        ),
        None,
    )
    .await;
    assert_grant_error(&r, "invalid_request", "redirect_uri is required");
    let r = http()
        .post(format!("{}/token", env.base))
        .json(&json!({"grant_type": "authorization_code", "code": code}))
        .send()
        .await
        .unwrap();
    assert_grant_error(&answer(r).await, "invalid_request", "x-www-form-urlencoded");
    let r = post_token_raw(env, "%%%&&&==\u{0}", None).await;
    assert_grant_error(&r, "invalid_request", "grant_type");
    let r = post_token_raw(env, "grant_type=refresh_token", None).await;
    assert_eq!((r.status, r.error()), (401, "invalid_client"), "{}", r.body);
    let r = refresh(env, "", &[]).await;
    assert_grant_error(&r, "invalid_request", "refresh_token is required");

    // None of that spent the code.
    assert_eq!(redeem(env, &code, &verifier).await.status, 200);
}

async fn a_grant_ends_with_its_session(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let (code, verifier) = pkce_code(env, &who).await;
    let t = redeem(env, &code, &verifier).await;
    assert_eq!(t.status, 200, "{}", t.body);
    let (unredeemed, unredeemed_verifier) = pkce_code(env, &who).await;

    env.state
        .store
        .revoke_session(&who.session_id, env.now())
        .await
        .unwrap();
    let r = redeem(env, &unredeemed, &unredeemed_verifier).await;
    assert_grant_error(&r, "invalid_grant", "session");
    let r = refresh(env, &t.text("refresh_token"), &[]).await;
    assert_grant_error(&r, "invalid_grant", "");
    let info = userinfo(env, &t.text("access_token")).await;
    assert_eq!(info.status, 401, "{}", info.body);
}

// ---------------------------------------------------------------------------------------------
// Refresh tokens

async fn refresh_tokens_rotate_and_a_reused_one_ends_the_grant(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let (code, verifier) = pkce_code(env, &who).await;
    let first = redeem(env, &code, &verifier).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let r1 = first.text("refresh_token");
    let id1 = part(&first.text("id_token"), 1);

    env.state.clock.advance(Duration::minutes(5));
    let second = refresh(env, &r1, &[]).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.header("cache-control"), Some("no-store"));
    assert_eq!(second.header("pragma"), Some("no-cache"));
    let r2 = second.text("refresh_token");
    assert_ne!(r1, r2);
    let id2: IdTokenClaims = verify(env, &second.text("id_token"), PUBLIC);
    assert_eq!(id2.auth_time, id1["auth_time"].as_i64().unwrap());
    assert_eq!(json!(id2.amr), id1["amr"]);
    assert_eq!(id2.acr.as_deref(), Some("c1"));
    assert_eq!(id2.acrs, ["c1"]);
    assert_eq!(id2.sid, who.sid);
    assert_eq!(id2.nonce, None, "an ID token from a refresh has no nonce");
    assert!(id2.iat > id1["iat"].as_i64().unwrap());

    // A narrower scope is fine; a wider one is not.
    let narrow = refresh(env, &r2, &[("scope", "openid")]).await;
    assert_eq!(narrow.status, 200, "{}", narrow.body);
    assert_eq!(narrow.text("scope"), "openid");
    assert!(part(&narrow.text("id_token"), 1).get("name").is_none());
    let r3 = narrow.text("refresh_token");
    let wide = refresh(env, &r3, &[("scope", "openid admin")]).await;
    assert_grant_error(&wide, "invalid_scope", "admin");

    // r1 was used: presenting it again revokes every token of the grant, r3 included.
    let replay = refresh(env, &r1, &[]).await;
    assert_grant_error(
        &replay,
        "invalid_grant",
        "refresh token already used; every token of this grant has been revoked",
    );
    let after = refresh(env, &r3, &[]).await;
    assert_grant_error(&after, "invalid_grant", "");
    assert!(env
        .state
        .store
        .get_refresh_token(&token_hash(&r3))
        .await
        .unwrap()
        .revoked_at
        .is_some());
}

async fn a_refresh_token_belongs_to_its_client(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let (code, verifier) = pkce_code(env, &who).await;
    let t = redeem(env, &code, &verifier).await;
    let r = post_token(
        env,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &t.text("refresh_token")),
            ("client_id", CONFIDENTIAL),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_grant_error(&r, "invalid_grant", "another client");
    // Refused without being spent: its own client can still use it.
    assert_eq!(
        refresh(env, &t.text("refresh_token"), &[]).await.status,
        200
    );
}

async fn conditional_access_is_asked_again_at_refresh(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let (code, verifier) = pkce_code(env, &who).await;
    let t = redeem(env, &code, &verifier).await;
    assert_eq!(t.status, 200, "{}", t.body);
    env.policies(json!({ "conditionalAccessPolicies": [{
        "id": "ca100", "displayName": "CA100 Block everything", "state": "enabled",
        "conditions": {
            "users": { "includeUsers": ["All"] },
            "applications": { "includeApplications": ["All"] },
            "clientAppTypes": ["all"]
        },
        "grantControls": { "operator": "OR", "builtInControls": ["block"] }
    }]}))
    .await;
    let r = refresh(env, &t.text("refresh_token"), &[]).await;
    assert_grant_error(&r, "invalid_grant", "");
    assert!(
        r.text("error_description").contains("Conditional Access"),
        "the reason says why: {}",
        r.body
    );
}

async fn a_context_that_needs_a_fresh_proof_does_not_survive_a_refresh(env: &Env) {
    clients(env).await;
    env.policies(json!({
        "authenticationContextClassReferences": [
            { "id": "c1", "displayName": "PIM activation", "isAvailable": true }
        ],
        "conditionalAccessPolicies": [{
            "id": "ca010", "displayName": "CA010 c1 every time", "state": "enabled",
            "conditions": {
                "users": { "includeUsers": ["All"] },
                "applications": { "includeAuthenticationContextClassReferences": ["c1"] },
                "clientAppTypes": ["all"]
            },
            "grantControls": { "operator": "OR", "builtInControls": ["mfa"] },
            "sessionControls": { "signInFrequency": {
                "isEnabled": true, "frequencyInterval": "everyTime",
                "authenticationType": "primaryAndSecondaryAuthentication"
            } }
        }]
    }))
    .await;
    let who = sign_in(env, "ada@example.test").await;
    let (code, verifier) = pkce_code(env, &who).await;
    let t = redeem(env, &code, &verifier).await;
    assert_eq!(part(&t.text("access_token"), 1)["acrs"], json!(["c1"]));
    env.state.clock.advance(Duration::minutes(1));
    let r = refresh(env, &t.text("refresh_token"), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let access = part(&r.text("access_token"), 1);
    assert!(access.get("acrs").is_none(), "{access}");
    assert!(
        access.get("acr").is_none(),
        "acr named the context: {access}"
    );
    // And it stays gone at the next refresh.
    let again = refresh(env, &r.text("refresh_token"), &[]).await;
    assert!(part(&again.text("id_token"), 1).get("acrs").is_none());
}

// ---------------------------------------------------------------------------------------------
// UserInfo

async fn forged_and_unusable_tokens_are_refused_at_userinfo(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let (code, verifier) = pkce_code(env, &who).await;
    let t = redeem(env, &code, &verifier).await;
    let access = t.text("access_token");
    assert_eq!(userinfo(env, &access).await.status, 200);

    let invalid_token = |a: &Answer| {
        assert_eq!(a.status, 401, "{}", a.body);
        let challenge = a.header("www-authenticate").unwrap();
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
            "{challenge}"
        );
        assert!(challenge.contains("error_description=\""), "{challenge}");
    };

    // A character of the payload changed (the signature no longer matches).
    let segments: Vec<&str> = access.split('.').collect();
    let mut payload: Vec<char> = segments[1].chars().collect();
    payload[10] = if payload[10] == 'A' { 'B' } else { 'A' };
    let payload: String = payload.into_iter().collect();
    let flipped = format!("{}.{payload}.{}", segments[0], segments[2]);
    invalid_token(&userinfo(env, &flipped).await);

    // Claims rewritten (another subject) under the original signature.
    let mut claims = part(&access, 1);
    claims["sub"] = json!("someone-else");
    let rewritten = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let swapped = format!("{}.{rewritten}.{}", segments[0], segments[2]);
    invalid_token(&userinfo(env, &swapped).await);

    // alg "none", with and without the signature.
    let mut header = part(&access, 0);
    header["alg"] = json!("none");
    let none = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
    invalid_token(&userinfo(env, &format!("{none}.{}.", segments[1])).await);
    invalid_token(&userinfo(env, &format!("{none}.{}.{}", segments[1], segments[2])).await);

    // An ID token is not an access token.
    invalid_token(&userinfo(env, &t.text("id_token")).await);
    invalid_token(&userinfo(env, "not-a-jwt").await);

    // No token at all: a bare challenge.
    let r = http()
        .get(format!("{}/userinfo", env.base))
        .send()
        .await
        .unwrap();
    let bare = answer(r).await;
    assert_eq!(bare.status, 401);
    assert_eq!(
        bare.header("www-authenticate"),
        Some("Bearer realm=\"portcullis\"")
    );

    // Expired.
    env.state.clock.advance(Duration::minutes(11));
    let expired = userinfo(env, &access).await;
    invalid_token(&expired);
    assert!(expired
        .header("www-authenticate")
        .unwrap()
        .contains("expired"));
}

// ---------------------------------------------------------------------------------------------
// Logout

async fn logout(env: &Env, who: &SignedIn, query: &[(&str, &str)]) -> reqwest::Response {
    let mut url = url::Url::parse(&format!("{}/logout", env.base)).unwrap();
    for (k, v) in query {
        url.query_pairs_mut().append_pair(k, v);
    }
    http()
        .get(url)
        .header(
            "cookie",
            format!("{}={}", server::web::SESSION_COOKIE, who.cookie),
        )
        .send()
        .await
        .unwrap()
}

fn removes_the_session_cookie(r: &reqwest::Response) {
    let set_cookie: Vec<&str> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        set_cookie.iter().any(
            |c| c.starts_with(&format!("{}=;", server::web::SESSION_COOKIE))
                && c.contains("Max-Age=0")
        ),
        "{set_cookie:?}"
    );
}

async fn logout_ends_the_session_and_returns_to_the_application(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let (code, verifier) = pkce_code(env, &who).await;
    let t = redeem(env, &code, &verifier).await;
    let access = t.text("access_token");
    assert_eq!(userinfo(env, &access).await.status, 200);

    // The hint has expired by now: it still says who is asking.
    env.state.clock.advance(Duration::minutes(9));
    let (more, more_verifier) = pkce_code(env, &who).await;
    let still = redeem(env, &more, &more_verifier).await;
    env.state.clock.advance(Duration::minutes(2));
    let r = logout(
        env,
        &who,
        &[
            ("id_token_hint", &t.text("id_token")),
            ("post_logout_redirect_uri", OTHER_REDIRECT),
            ("state", "bye & see you"),
        ],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        format!(
            "{}://{}{}",
            location.scheme(),
            location.authority(),
            location.path()
        ),
        OTHER_REDIRECT
    );
    assert_eq!(
        location.query_pairs().collect::<Vec<_>>(),
        [("state".into(), "bye & see you".into())]
    );
    removes_the_session_cookie(&r);

    let session = env.state.store.get_session(&who.session_id).await.unwrap();
    assert!(session.revoked_at.is_some());
    // Tokens of the session stop working: a still-unexpired access token and the refresh token.
    let info = userinfo(env, &still.text("access_token")).await;
    assert_eq!(info.status, 401, "{}", info.body);
    assert!(info.header("www-authenticate").unwrap().contains("session"));
    let r = refresh(env, &still.text("refresh_token"), &[]).await;
    assert_grant_error(&r, "invalid_grant", "");
}

async fn logout_never_redirects_to_an_unregistered_uri(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let (code, verifier) = pkce_code(env, &who).await;
    let t = redeem(env, &code, &verifier).await;
    let hint = t.text("id_token");

    let no_redirect = |r: &reqwest::Response| {
        assert_eq!(r.status().as_u16(), 200);
        assert!(r.headers().get("location").is_none());
    };
    let r = logout(
        env,
        &who,
        &[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", "https://evil.example/cb"),
        ],
    )
    .await;
    no_redirect(&r);
    removes_the_session_cookie(&r);
    let page = r.text().await.unwrap();
    assert!(page.contains("You are signed out"), "{page}");
    assert!(page.contains("has not registered"), "{page}");
    assert!(env
        .state
        .store
        .get_session(&who.session_id)
        .await
        .unwrap()
        .revoked_at
        .is_some());

    // Registered for another client than the hint's.
    let other = OidcClient {
        client_id: "other".into(),
        display_name: "Other".into(),
        redirect_uris: vec!["https://other.example/cb".into()],
        is_public: true,
        secret_hash: None,
        created_at: env.now(),
    };
    env.state.store.create_client(&other).await.unwrap();
    no_redirect(
        &logout(
            env,
            &who,
            &[
                ("id_token_hint", &hint),
                ("post_logout_redirect_uri", "https://other.example/cb"),
            ],
        )
        .await,
    );
    // A hint naming one client and client_id another.
    no_redirect(
        &logout(
            env,
            &who,
            &[
                ("id_token_hint", &hint),
                ("client_id", "other"),
                ("post_logout_redirect_uri", "https://other.example/cb"),
            ],
        )
        .await,
    );
    // A forged hint (payload changed under the signature).
    let mut claims = part(&hint, 1);
    claims["aud"] = json!("other");
    let segments: Vec<&str> = hint.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        segments[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
        segments[2]
    );
    no_redirect(
        &logout(
            env,
            &who,
            &[
                ("id_token_hint", &forged),
                ("post_logout_redirect_uri", "https://other.example/cb"),
            ],
        )
        .await,
    );
    // An access token is not an ID token hint.
    no_redirect(
        &logout(
            env,
            &who,
            &[
                ("id_token_hint", &t.text("access_token")),
                ("post_logout_redirect_uri", REDIRECT),
            ],
        )
        .await,
    );
    // No hint and no client_id: nobody to return to.
    no_redirect(&logout(env, &who, &[("post_logout_redirect_uri", REDIRECT)]).await);
    // client_id alone names the client well enough for one of its registered URIs.
    let r = logout(
        env,
        &who,
        &[
            ("client_id", PUBLIC),
            ("post_logout_redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"].to_str().unwrap(), REDIRECT);
}

/// `POST /logout` of a form, with `who`'s session cookie and, when given, an `Origin`.
async fn logout_post(
    env: &Env,
    who: &SignedIn,
    form: &[(String, String)],
    origin: Option<&str>,
) -> reqwest::Response {
    let mut request = http()
        .post(format!("{}/logout", env.base))
        .header(
            "cookie",
            format!("{}={}", server::web::SESSION_COOKIE, who.cookie),
        )
        .form(form);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap()
}

/// HTML text with its character references (`&#38;`, `&amp;`, …) replaced.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').unwrap() + at;
        let entity = &rest[at + 1..end];
        out.push(match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => char::from_u32(entity.strip_prefix('#').unwrap().parse().unwrap()).unwrap(),
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The hidden fields of a page's form, unescaped.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let attribute = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = tag[start..].find('"')? + start;
        Some(unescape(&tag[start..end]))
    };
    html.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            tag.contains("type=\"hidden\"")
                .then(|| Some((attribute(tag, "name")?, attribute(tag, "value")?)))
                .flatten()
        })
        .collect()
}

/// Whether `who`'s session is still live.
async fn alive(env: &Env, who: &SignedIn) -> bool {
    env.state
        .store
        .get_session(&who.session_id)
        .await
        .unwrap()
        .is_live_at(env.now())
}

/// Asserts that `r` is the sign-out confirmation page and changed no cookie; returns the page.
async fn asks_to_confirm(r: reqwest::Response) -> String {
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().get("location").is_none());
    assert!(r.headers().get("set-cookie").is_none(), "{:?}", r.headers());
    let page = r.text().await.unwrap();
    assert!(page.contains("Sign out of Portcullis?"), "{page}");
    page
}

async fn a_logout_without_a_hint_asks_before_signing_out(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let (code, verifier) = pkce_code(env, &who).await;
    let access = redeem(env, &code, &verifier).await.text("access_token");

    // What any site can make a browser send (a link, an image): a GET without a hint.
    let request = [
        ("client_id", PUBLIC),
        ("post_logout_redirect_uri", REDIRECT),
        ("state", "s & \"t\" <u>"),
    ];
    let page = asks_to_confirm(logout(env, &who, &request).await).await;
    assert!(page.contains("ada@example.test"), "{page}");
    assert!(alive(env, &who).await, "a bare GET /logout signed out");
    assert_eq!(userinfo(env, &access).await.status, 200);
    // The form carries the request on, and a token.
    let form = hidden_fields(&page);
    for (name, value) in request {
        assert!(
            form.contains(&(name.to_string(), value.to_string())),
            "{name} not carried: {form:?}"
        );
    }
    assert!(
        form.iter().any(|(k, v)| k == "confirm" && v.len() >= 43),
        "{form:?}"
    );

    // A POST without the token, with another token, or from another origin confirms nothing.
    let without: Vec<_> = form
        .iter()
        .filter(|(k, _)| k != "confirm")
        .cloned()
        .collect();
    asks_to_confirm(logout_post(env, &who, &without, Some(&env.base)).await).await;
    let mut forged = without.clone();
    forged.push(("confirm".into(), "A".repeat(43)));
    asks_to_confirm(logout_post(env, &who, &forged, Some(&env.base)).await).await;
    asks_to_confirm(logout_post(env, &who, &form, Some("https://evil.example")).await).await;
    // Another session's page's token does not confirm this one.
    let second = new_session(env, who.user.clone()).await;
    let second_page = asks_to_confirm(logout(env, &second, &[]).await).await;
    let second_form = hidden_fields(&second_page);
    asks_to_confirm(logout_post(env, &who, &second_form, Some(&env.base)).await).await;
    assert!(alive(env, &who).await && alive(env, &second).await);
    assert_eq!(userinfo(env, &access).await.status, 200);

    // The person's own confirmation signs out and returns as asked.
    let r = logout_post(env, &who, &form, Some(&env.base)).await;
    assert_eq!(r.status().as_u16(), 303);
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        location.query_pairs().collect::<Vec<_>>(),
        [("state".into(), "s & \"t\" <u>".into())]
    );
    removes_the_session_cookie(&r);
    assert!(!alive(env, &who).await);
    assert_eq!(userinfo(env, &access).await.status, 401);
    assert!(
        alive(env, &second).await,
        "only the confirming browser's session ends"
    );
}

async fn a_hint_for_another_session_does_not_sign_out(env: &Env) {
    clients(env).await;
    let who = sign_in(env, "ada@example.test").await;
    let bob = sign_in(env, "bob@example.test").await;
    let second = new_session(env, who.user.clone()).await;
    let mut hints = Vec::new();
    for other in [&bob, &second] {
        let (code, verifier) = pkce_code(env, other).await;
        hints.push(redeem(env, &code, &verifier).await.text("id_token"));
    }
    // Genuine ID tokens, of another user and of another session of the same user.
    for hint in &hints {
        asks_to_confirm(
            logout(
                env,
                &who,
                &[
                    ("id_token_hint", hint),
                    ("post_logout_redirect_uri", REDIRECT),
                ],
            )
            .await,
        )
        .await;
        assert!(alive(env, &who).await);
    }
    // Its own session's hint signs `second` out at once, as RP-initiated logout does.
    let r = logout(env, &second, &[("id_token_hint", &hints[1])]).await;
    assert_eq!(r.status().as_u16(), 200);
    removes_the_session_cookie(&r);
    assert!(r.text().await.unwrap().contains("You are signed out"));
    assert!(!alive(env, &second).await);
    assert!(alive(env, &who).await);
}

on_both_backends!(
    a_nul_character_is_refused_not_a_server_error,
    discovery_document,
    jwks_publishes_the_key_that_signs,
    a_code_gives_tokens_with_the_authentication_it_records,
    without_profile_or_offline_access_less_is_issued,
    a_reused_code_is_refused_and_revokes_what_it_granted,
    an_unknown_or_expired_code_is_refused,
    pkce_is_enforced,
    the_redirect_uri_must_be_the_one_of_the_request,
    clients_must_authenticate_as_registered,
    malformed_requests_get_clear_errors,
    a_grant_ends_with_its_session,
    refresh_tokens_rotate_and_a_reused_one_ends_the_grant,
    a_refresh_token_belongs_to_its_client,
    conditional_access_is_asked_again_at_refresh,
    a_context_that_needs_a_fresh_proof_does_not_survive_a_refresh,
    forged_and_unusable_tokens_are_refused_at_userinfo,
    logout_ends_the_session_and_returns_to_the_application,
    logout_never_redirects_to_an_unregistered_uri,
    a_logout_without_a_hint_asks_before_signing_out,
    a_hint_for_another_session_does_not_sign_out,
);

/// A NUL character (U+0000) in what a request names is refused (`400`, or the grant's own
/// error), never a server error: PostgreSQL's text cannot hold one, so such an id must not reach
/// a lookup. In the query, in a form body, and in HTTP Basic credentials.
async fn a_nul_character_is_refused_not_a_server_error(env: &Env) {
    clients(env).await;
    let r = http()
        .get(format!(
            "{}/authorize?client_id=%00&response_type=code&redirect_uri=x",
            env.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = post_token_raw(
        env,
        "grant_type=authorization_code&client_id=%00&code=x&code_verifier=y",
        None,
    )
    .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = post_token_raw(
        env,
        "grant_type=authorization_code&code=x&code_verifier=y",
        Some(&basic("a\0b", "secret")),
    )
    .await;
    assert!(
        r.status == 400 || r.status == 401,
        "{} {:?}",
        r.status,
        r.body
    );
    let r = http()
        .post(format!("{}/signin", env.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=a%00b&password=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
