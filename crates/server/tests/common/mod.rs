//! The harness of the service's HTTP tests: a real server on a loopback port over a fresh
//! database (SQLite, or PostgreSQL from `PORTCULLIS_TEST_DATABASE_URL`), a cookie-keeping
//! client that plays the browser, and helpers that set up users, credentials and policies
//! through the store.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod account;
// Integration tests only, like `python` (whose runner it shares).
#[cfg(test)]
pub mod browser;
pub mod graph;
pub mod nodes;
pub mod pim;
// Integration tests only: the examples that borrow this harness have no CARGO_TARGET_TMPDIR.
#[cfg(test)]
pub mod python;

use authn::secrecy::SecretString;
use chrono::{DateTime, Utc};
use server::config::Config;
use server::state::{AppState, Clock};
use std::sync::Arc;
use store::testing::{Backend, TestDatabase, TestDatabaseError};
use store::{OidcClient, User};

/// A running service.
pub struct Env {
    /// Its state (store, clock, keys).
    pub state: Arc<AppState>,
    /// `http://localhost:PORT`.
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<Result<(), server::error::ServeError>>>,
    db: Option<TestDatabase>,
    config: Config,
    /// The data directory, removed when the service stops for good.
    data_dir: Option<tempfile::TempDir>,
}

impl Env {
    /// Starts a service on `backend`; `None` when PostgreSQL is skipped on purpose.
    pub async fn start(backend: Backend) -> Option<Env> {
        let db = match TestDatabase::create(backend).await {
            Ok(db) => db,
            Err(TestDatabaseError::Skipped) => return None,
            Err(e) => panic!("test database: {e}"),
        };
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.data_dir = dir.path().to_path_buf();
        config.database_url = Some(server::config::Secret::new(db.url.clone()));
        // Cheap hashing: the tests are about the flow, not argon2's cost.
        config.password.memory_kib = 1024;
        config.password.iterations = 1;
        let mut env = Self::serve(config, Clock::default(), Some(db)).await;
        env.data_dir = Some(dir);
        Some(env)
    }

    async fn serve(config: Config, clock: Clock, db: Option<TestDatabase>) -> Env {
        let server = server::Server::bind(config.clone(), clock).await.unwrap();
        let state = server.state();
        let base = state.issuer.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(server.serve(async move {
            let _ = rx.await;
        }));
        Env {
            state,
            base,
            stop: Some(tx),
            served: Some(served),
            db,
            config,
            data_dir: None,
        }
    }

    /// Stops the service and starts a new one over the same database, with `clock` (a restart;
    /// the new one listens on another port).
    pub async fn restart(mut self, clock: Clock) -> Env {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            let _ = served.await;
        }
        let db = self.db.take();
        let mut env = Self::serve(self.config.clone(), clock, db).await;
        env.data_dir = self.data_dir.take();
        env
    }

    /// Another node on the same database, bound but not serving, with its own `clock`: what a
    /// second `serve` process on the same PostgreSQL is. (On SQLite it is refused.)
    #[allow(dead_code)]
    pub async fn second_node(
        &self,
        clock: Clock,
    ) -> Result<server::Server, server::error::ServeError> {
        let mut config = self.config.clone();
        config.listen = "127.0.0.1:0".parse().unwrap();
        server::Server::bind(config, clock).await
    }

    /// Stops the service and removes its database.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            let _ = served.await;
        }
        if let Some(db) = self.db.take() {
            db.remove().await.unwrap();
        }
    }

    /// The current service time.
    pub fn now(&self) -> DateTime<Utc> {
        self.state.now()
    }

    /// A user with a password.
    pub async fn user(&self, upn: &str, password: &str) -> User {
        let user = User::new(upn, upn, self.now());
        self.state.store.create_user(&user).await.unwrap();
        let hash = authn::password::hash_password(
            &self.state.config.password,
            &SecretString::from(password.to_string()),
        )
        .unwrap();
        self.state
            .store
            .set_password(&store::PasswordCredential {
                user_id: user.id.clone(),
                phc: hash.as_str().to_string(),
                changed_at: self.now(),
            })
            .await
            .unwrap();
        self.state.tenant_changed();
        user
    }

    /// Registers a TOTP app for `user`; returns its secret.
    pub async fn totp(&self, user: &User) -> Vec<u8> {
        let secret: Vec<u8> = (0..20).map(|_| rand_byte()).collect();
        self.state
            .store
            .add_totp(&store::TotpCredential {
                id: store::new_id(),
                user_id: user.id.clone(),
                secret: secret.clone(),
                label: "Authenticator".into(),
                created_at: self.now(),
                last_used_step: 0,
                provenance: None,
            })
            .await
            .unwrap();
        secret
    }

    /// A public client with PKCE, redirecting to `http://127.0.0.1:9/cb`.
    pub async fn public_client(&self, client_id: &str) -> OidcClient {
        let client = OidcClient {
            client_id: client_id.into(),
            display_name: client_id.into(),
            redirect_uris: vec![REDIRECT.into()],
            is_public: true,
            secret_hash: None,
            created_at: self.now(),
        };
        self.state.store.create_client(&client).await.unwrap();
        client
    }

    /// Imports Conditional Access documents (a tenant JSON document).
    pub async fn policies(&self, tenant: serde_json::Value) {
        let tenant: policy::tenant::Tenant = serde_json::from_value(tenant).unwrap();
        self.state
            .store
            .import_tenant(&tenant, self.now())
            .await
            .unwrap();
        self.state.tenant_changed();
    }
}

/// Where test clients receive codes (nothing listens there: the test reads the redirect).
pub const REDIRECT: &str = "http://127.0.0.1:9/cb";

fn rand_byte() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0]
}

/// The TOTP code of `secret` at `at`.
pub fn totp_code(secret: &[u8], at: DateTime<Utc>) -> String {
    let totp = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret.to_vec(),
        None,
        String::new(),
    );
    totp.generate(u64::try_from(at.timestamp()).unwrap())
}

/// PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    use base64::Engine as _;
    use sha2::Digest as _;
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Where a request ended.
#[derive(Debug)]
pub enum Landing {
    /// A page of the service: its path and HTML.
    Page {
        /// Status.
        status: u16,
        /// Path.
        path: String,
        /// HTML.
        html: String,
    },
    /// A redirect to the client: the URL.
    Client(url::Url),
}

impl Landing {
    /// The page's HTML, or a panic naming where it landed instead.
    pub fn html(&self) -> &str {
        match self {
            Landing::Page { html, .. } => html,
            Landing::Client(u) => panic!("expected a page, got a redirect to the client: {u}"),
        }
    }

    /// The client URL's query parameter `name`.
    pub fn param(&self, name: &str) -> Option<String> {
        match self {
            Landing::Client(u) => u
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned()),
            Landing::Page { path, html, .. } => {
                panic!("expected a redirect to the client, got page {path}: {html}")
            }
        }
    }

    /// The code sent to the client.
    pub fn code(&self) -> String {
        self.param("code").expect("a code")
    }
}

/// A browser: keeps cookies, follows redirects by hand (so that redirects to the client are
/// seen, not followed).
#[derive(Clone)]
pub struct Browser {
    /// The client.
    pub http: reqwest::Client,
    base: String,
    cookies: Arc<reqwest::cookie::Jar>,
}

impl Browser {
    /// A new browser with no cookies.
    pub fn new(env: &Env) -> Browser {
        Self::build(&env.base, Arc::default(), None)
    }

    /// A new browser with no cookies that connects from `ip`, a loopback address other than
    /// 127.0.0.1 (all of 127.0.0.0/8 is loopback on Linux): the service sees another peer.
    pub fn at(env: &Env, ip: std::net::Ipv4Addr) -> Browser {
        Self::build(&env.base, Arc::default(), Some(ip))
    }

    /// This browser (its cookies) connecting from `ip` from now on.
    pub fn moved_to(&self, ip: std::net::Ipv4Addr) -> Browser {
        Self::build(&self.base, self.cookies.clone(), Some(ip))
    }

    /// A new browser with no cookies that loads pages from `node` (one node of several) under
    /// the `issuer`'s origin, as behind a load balancer.
    pub fn between(node: &str, issuer: &str) -> Browser {
        Self::build_with_origin(node, issuer, Arc::default(), None)
    }

    fn build(
        base: &str,
        cookies: Arc<reqwest::cookie::Jar>,
        ip: Option<std::net::Ipv4Addr>,
    ) -> Browser {
        Self::build_with_origin(base, base, cookies, ip)
    }

    fn build_with_origin(
        base: &str,
        origin: &str,
        cookies: Arc<reqwest::cookie::Jar>,
        ip: Option<std::net::Ipv4Addr>,
    ) -> Browser {
        let mut http = reqwest::Client::builder()
            .cookie_provider(cookies.clone())
            // A browser names the page's origin on every POST (the pages refuse others).
            .default_headers(
                [(
                    reqwest::header::ORIGIN,
                    reqwest::header::HeaderValue::from_str(origin).unwrap(),
                )]
                .into_iter()
                .collect(),
            )
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Mozilla/5.0 (X11; Linux x86_64) PortcullisTest");
        if let Some(ip) = ip {
            http = http.local_address(std::net::IpAddr::V4(ip));
        }
        Browser {
            http: http.build().unwrap(),
            base: base.to_string(),
            cookies,
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// Follows redirects within the service until a page or the client.
    pub async fn land(&self, response: reqwest::Response) -> Landing {
        self.try_land(response)
            .await
            .expect("the service stopped answering")
    }

    /// GET, following redirects.
    pub async fn get(&self, path: &str) -> Landing {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        self.land(r).await
    }

    /// GET, following redirects; `None` when the service did not answer (a node going down).
    pub async fn try_get(&self, path: &str) -> Option<Landing> {
        let r = self.http.get(self.url(path)).send().await.ok()?;
        self.try_land(r).await
    }

    /// POST a form, following redirects; `None` when the service did not answer.
    pub async fn try_post(&self, path: &str, form: &[(&str, &str)]) -> Option<Landing> {
        let r = self
            .http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .ok()?;
        self.try_land(r).await
    }

    /// [`Browser::land`] that gives up (`None`) when the service stops answering.
    async fn try_land(&self, mut response: reqwest::Response) -> Option<Landing> {
        loop {
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get("location")?
                    .to_str()
                    .ok()?
                    .to_string();
                let target = url::Url::parse(&self.url(&location)).ok()?;
                if !target.as_str().starts_with(&self.base) {
                    return Some(Landing::Client(target));
                }
                response = self.http.get(target).send().await.ok()?;
                continue;
            }
            let path = response.url().path().to_string();
            let html = response.text().await.ok()?;
            return Some(Landing::Page {
                status: status.as_u16(),
                path,
                html,
            });
        }
    }

    /// POST a form, following redirects.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Landing {
        let r = self
            .http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap();
        self.land(r).await
    }

    /// Opens `path` signed out and signs `upn` in with `password` on the sign-in pages it
    /// leads to; returns where the sign-in lands.
    #[allow(dead_code)]
    pub async fn sign_in_with_password(&self, path: &str, upn: &str, password: &str) -> Landing {
        let page = self.get(path).await;
        let tx = transaction_of(page.html());
        self.post(&format!("/signin/{tx}/username"), &[("username", upn)])
            .await;
        self.post(&format!("/signin/{tx}/password"), &[("password", password)])
            .await
    }
}

/// The sign-in transaction id in a page's form actions.
pub fn transaction_of(html: &str) -> String {
    let start = html.find("/signin/").expect("a sign-in form") + "/signin/".len();
    let rest = &html[start..];
    let end = rest.find('/').unwrap();
    rest[..end].to_string()
}

/// An `/authorize` query for `client_id` with PKCE; `extra` adds parameters.
pub fn authorize_path(client_id: &str, challenge: &str, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse("http://x/authorize").unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid profile offline_access")
        .append_pair("state", "st4te")
        .append_pair("nonce", "n0nce")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    format!("/authorize?{}", url.query().unwrap())
}

/// Declares each listed test twice, as `sqlite::NAME` and `postgres::NAME`; each gets a fresh
/// running service.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let env = $crate::common::Env::start(store::testing::Backend::Sqlite).await.unwrap();
                    super::$name(&env).await;
                    env.stop().await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(env) = $crate::common::Env::start(store::testing::Backend::Postgres).await else {
                        return;
                    };
                    super::$name(&env).await;
                    env.stop().await;
                }
            )+
        }
    };
}

/// Signs `upn` in with its password (and `extra` authorize parameters) through the browser
/// flow and redeems the code at `/token`; returns the token response.
pub async fn password_tokens(
    env: &Env,
    b: &Browser,
    client_id: &str,
    upn: &str,
    password: &str,
) -> serde_json::Value {
    let (verifier, challenge) = pkce();
    let page = b.get(&authorize_path(client_id, &challenge, &[])).await;
    let landing = if let Landing::Page { html, .. } = &page {
        let tx = transaction_of(html);
        if html.contains("username-form") {
            b.post(&format!("/signin/{tx}/username"), &[("username", upn)])
                .await;
        }
        b.post(&format!("/signin/{tx}/password"), &[("password", password)])
            .await
    } else {
        page
    };
    let code = landing.code();
    let r = b
        .http
        .post(format!("{}/token", env.base))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Registers a soft passkey for `user` through the service's relying party, as the rollout
/// onboards administrators: under a temporary access pass an administrator issued, so that it
/// counts for a phishing-resistant strength (DESIGN §8.5).
pub async fn passkey(
    env: &Env,
    user: &store::User,
) -> webauthn_authenticator_rs::softpasskey::SoftPasskey {
    passkey_registered_under(
        env,
        user,
        policy::registration::RegistrationProof::TemporaryAccessPass,
    )
    .await
}

/// Registers a soft passkey for `user` whose provenance is `proof` (e.g. a password only).
pub async fn passkey_registered_under(
    env: &Env,
    user: &store::User,
    proof: policy::registration::RegistrationProof,
) -> webauthn_authenticator_rs::softpasskey::SoftPasskey {
    soft_passkey(env, user, proof, None).await
}

/// Registers a soft passkey for `user` (under a pass, as [`passkey`]) recorded as authenticator
/// model `aaguid` (the soft authenticator names none), for the strengths that admit models.
#[allow(dead_code)]
pub async fn passkey_of_model(
    env: &Env,
    user: &store::User,
    aaguid: &str,
) -> webauthn_authenticator_rs::softpasskey::SoftPasskey {
    soft_passkey(
        env,
        user,
        policy::registration::RegistrationProof::TemporaryAccessPass,
        Some(aaguid),
    )
    .await
}

async fn soft_passkey(
    env: &Env,
    user: &store::User,
    proof: policy::registration::RegistrationProof,
    model: Option<&str>,
) -> webauthn_authenticator_rs::softpasskey::SoftPasskey {
    use webauthn_authenticator_rs::WebauthnAuthenticator as _;
    let wa = env
        .state
        .webauthn
        .as_ref()
        .expect("localhost is a relying party");
    let uuid = uuid::Uuid::parse_str(&user.id).unwrap();
    let (json, ceremony) = wa
        .start_registration(
            uuid,
            &user.user_principal_name,
            &user.display_name,
            &[],
            authn::webauthn::RegistrationKind::Any,
            env.now(),
        )
        .unwrap();
    let ccr: webauthn_authenticator_rs::prelude::CreationChallengeResponse =
        serde_json::from_str(&json).unwrap();
    let mut key = webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true);
    let reg = key
        .do_registration(url::Url::parse(&env.base).unwrap(), ccr)
        .unwrap();
    let mut v = serde_json::to_value(&reg).unwrap();
    v["authenticatorAttachment"] = serde_json::json!("cross-platform");
    let registered = wa
        .finish_registration(ceremony, &v.to_string(), env.now())
        .unwrap();
    env.state
        .store
        .add_webauthn(&store::WebauthnCredential {
            id: store::new_id(),
            user_id: user.id.clone(),
            credential_id: registered.credential_id.clone(),
            passkey_json: registered.credential_json.clone(),
            aaguid: model
                .map(str::to_string)
                .or_else(|| registered.aaguid.map(|a| a.to_string())),
            attachment: store::Attachment::CrossPlatform,
            user_verified: true,
            sign_count: 0,
            display_name: "Soft passkey".into(),
            created_at: env.now(),
            last_used_at: None,
            provenance: Some(policy::registration::Provenance {
                methods: match proof {
                    policy::registration::RegistrationProof::TemporaryAccessPass => {
                        vec![policy::method::AuthenticationMethodMode::TemporaryAccessPassOneTime]
                    }
                    _ => vec![policy::method::AuthenticationMethodMode::Password],
                },
                temporary_access_pass_issued_by: (proof
                    == policy::registration::RegistrationProof::TemporaryAccessPass)
                    .then(|| "test administrator".to_string()),
                proof,
                registered_at: env.now(),
                source_address: None,
            }),
        })
        .await
        .unwrap();
    key
}

/// The audit log, newest first; only category `category` when given.
pub async fn audits_in(env: &Env, category: Option<&str>) -> Vec<store::AuditRecord> {
    env.state
        .store
        .query_audits(&store::AuditQuery {
            category: category.map(str::to_string),
            ..store::AuditQuery::default()
        })
        .await
        .unwrap()
}

/// The audit entries of activity `activity`, newest first.
pub async fn audits_named(env: &Env, activity: &str) -> Vec<store::AuditRecord> {
    audits_in(env, None)
        .await
        .into_iter()
        .filter(|a| a.entry.activity_display_name == activity)
        .collect()
}
