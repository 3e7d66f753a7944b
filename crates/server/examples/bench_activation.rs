//! Full PIM activations per second, against the cost of their cryptography alone.
//!
//! ```sh
//! cargo run --release -p server --example bench_activation -- [--postgres] [--activations N] \
//!     [--concurrency K] [--crypto-iterations M]
//! scripts/with-postgres cargo run --release -p server --example bench_activation -- --postgres
//! ```
//!
//! Defaults: 400 activations (one per user), 4 workers, crypto iterations max(N, 200). Figures
//! and their interpretation: BENCHMARKS.md, "PIM activation (issue 4)".
//!
//! It starts the real service in this process on 127.0.0.1 (the test harness of
//! `tests/common`, default configuration with cheap argon2 parameters) over a fresh database:
//! SQLite in a temporary directory, or with `--postgres` a new database on the server named by
//! `PORTCULLIS_TEST_DATABASE_URL`, dropped at the end.
//!
//! Setup, not timed: a public client; N users, each with a password, a soft passkey registered
//! through the service's relying party, and eligible for Global Administrator, whose settings
//! require authentication context `c1`; a Conditional Access policy on `c1` with the built-in
//! phishing-resistant strength and sign-in frequency `everyTime`. Each user signs in with the
//! password (browser flow, own cookie jar), which gives an ordinary access token and a session.
//!
//! Timed: K workers take users and activate the role once each, over HTTP: `selfActivate` with
//! the ordinary token (401 with the request id), `/authorize` with the claims and
//! `step_up_request` (PKCE), WebAuthn options, the soft passkey's assertion, the assertion
//! posted, the redirect followed to the code, `/token`, `selfActivate` with the proof (201,
//! `Provisioned`). Every step's status is checked; the first failure ends the run (exit 1).
//!
//! The service runs on its own runtime (threads `srv`), the clients on another (`cli`), so
//! that each side's CPU time can be read from `/proc/self/task`. Then, in the same process,
//! the cryptography alone: P-256 ECDSA (the `p256` crate), the service's token signing and
//! verification (`tokens::keys::KeySet` with the service's key, on the run's own tokens) and its
//! WebAuthn assertion check (`authn::webauthn::Webauthn::finish_authentication`, no store).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::{authorize_path, passkey, password_tokens, pkce, transaction_of, Browser, Env};
use common::{Landing, REDIRECT};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::pkcs8::DecodePrivateKey as _;
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::testing::Backend;
use tokens::keys::Expectation;
use tokens::{AccessTokenClaims, IdTokenClaims};
use webauthn_authenticator_rs::prelude::{RequestChallengeResponse, Url};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;

const CLIENT_ID: &str = "bench";
const PASSWORD: &str = "correct horse battery staple 93";
const REQUESTS: &str = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests";
/// The built-in phishing-resistant MFA strength.
const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";
const CONTEXT: &str = "c1";

/// The timed steps of one activation, in order.
const STEPS: [&str; 8] = [
    "selfActivate -> 401 challenge",
    "GET /authorize (step-up) -> page",
    "POST webauthn/options",
    "soft authenticator (client)",
    "POST webauthn assertion",
    "follow redirect -> code",
    "POST /token",
    "selfActivate (proof) -> 201",
];
/// The index of the client's own step in [`STEPS`].
const AUTHENTICATOR: usize = 3;

struct Args {
    postgres: bool,
    activations: usize,
    concurrency: usize,
    crypto_iterations: Option<usize>,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench_activation [--postgres] [--activations N] [--concurrency K] \
         [--crypto-iterations M]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let mut args = Args {
        postgres: false,
        activations: 400,
        concurrency: 4,
        crypto_iterations: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = || {
            it.next()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .unwrap_or_else(|| usage())
        };
        match arg.as_str() {
            "--postgres" => args.postgres = true,
            "--activations" => args.activations = number(),
            "--concurrency" => args.concurrency = number(),
            "--crypto-iterations" => args.crypto_iterations = Some(number()),
            _ => usage(),
        }
    }
    args
}

/// One user, ready to activate: signed in with a password, holding a passkey.
struct Participant {
    upn: String,
    browser: Browser,
    access_token: String,
    key: SoftPasskey,
}

/// One completed activation.
struct Sample {
    upn: String,
    total: Duration,
    steps: [Duration; 8],
    finished: Instant,
    /// The proof's token response (access and ID token), for the crypto measurements.
    proof: (String, String),
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn mean(values: &[Duration]) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.iter().sum::<Duration>() / u32::try_from(values.len()).unwrap()
}

fn sorted(mut values: Vec<Duration>) -> Vec<Duration> {
    values.sort_unstable();
    values
}

/// A client that reaches `localhost` (the issuer's host, which WebAuthn needs) on 127.0.0.1
/// only, without a name lookup per connection.
fn http_client(base: &str, cookies: bool) -> reqwest::Client {
    let port = Url::parse(base).unwrap().port().unwrap();
    reqwest::Client::builder()
        .cookie_store(cookies)
        // As a browser does: the pages refuse a POST that does not name their origin.
        .default_headers(
            [(
                reqwest::header::ORIGIN,
                reqwest::header::HeaderValue::from_str(base).unwrap(),
            )]
            .into_iter()
            .collect(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) PortcullisBench")
        .resolve(
            "localhost",
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        )
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Setup (as tests/pim_activation.rs does it)

async fn eligible(env: &Env, user: &store::User) {
    env.state
        .store
        .assign_role(&store::RoleAssignment {
            id: store::new_id(),
            principal_id: policy::ids::PrincipalId::trusted(user.id.clone()),
            role_definition_id: policy::ids::RoleId::trusted(GLOBAL_ADMINISTRATOR),
            directory_scope_id: "/".into(),
            status: AssignmentStatus::Eligible,
            start_at: env.now() - chrono::Duration::days(1),
            end_at: None,
        })
        .await
        .unwrap();
}

async fn require_context(env: &Env) {
    let mut policy = pim::RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, env.now());
    policy
        .require_authentication_context(CONTEXT, env.now(), None)
        .unwrap();
    env.state.store.put_role_policy(&policy, 0).await.unwrap();
}

async fn context_policy(env: &Env) {
    env.policies(json!({
        "authenticationContextClassReferences": [{ "id": CONTEXT, "displayName": "PIM", "isAvailable": true }],
        "conditionalAccessPolicies": [{
            "id": "ca-c1", "displayName": "CA c1 phishing-resistant every time", "state": "enabled",
            "conditions": {
                "users": { "includeUsers": ["All"] },
                "applications": { "includeAuthenticationContextClassReferences": [CONTEXT] },
                "clientAppTypes": ["all"]
            },
            "grantControls": { "operator": "OR", "authenticationStrength": { "id": PHISHING_RESISTANT } },
            "sessionControls": { "signInFrequency": { "isEnabled": true, "frequencyInterval": "everyTime", "authenticationType": "primaryAndSecondaryAuthentication" } }
        }]
    }))
    .await;
}

/// Users in the store with a password, a passkey and the eligibility; their keys.
async fn create_users(env: &Env, n: usize) -> Vec<(store::User, SoftPasskey)> {
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let user = env.user(&format!("admin{i:05}@bench.test"), PASSWORD).await;
        let key = passkey(env, &user).await;
        eligible(env, &user).await;
        users.push((user, key));
    }
    users
}

// ---------------------------------------------------------------------------------------------
// One activation

/// A failed step: which one and what came back.
fn failed(user: &str, step: usize, what: impl std::fmt::Display) -> String {
    format!("{user}: step {} ({}): {what}", step + 1, STEPS[step])
}

async fn self_activate(
    api: &reqwest::Client,
    base: &str,
    token: &str,
) -> Result<(u16, Value), String> {
    let r = api
        .post(format!("{base}{REQUESTS}"))
        .bearer_auth(token)
        .json(&json!({
            "action": "selfActivate",
            "principalId": "",
            "roleDefinitionId": GLOBAL_ADMINISTRATOR,
            "directoryScopeId": "/",
            "justification": "Incident 4711: rotate the signing certificate",
            "scheduleInfo": { "startDateTime": null, "expiration": { "type": "afterDuration", "duration": "PT1H" } }
        }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let body = r.json().await.map_err(|e| e.to_string())?;
    Ok((status, body))
}

async fn activate_once(
    api: &reqwest::Client,
    base: &str,
    p: &mut Participant,
) -> Result<Sample, String> {
    let user = p.upn.clone();
    let b = &p.browser;
    let mut steps = [Duration::ZERO; 8];
    let started = Instant::now();
    let mut mark = started;
    let mut lap = |step: usize| {
        let now = Instant::now();
        steps[step] = now - mark;
        mark = now;
    };

    // 1. The request is recorded and challenged.
    let (status, body) = self_activate(api, base, &p.access_token)
        .await
        .map_err(|e| failed(&user, 0, e))?;
    if status != 401 || body["error"]["code"] != "RoleAssignmentRequestAcrsValidationFailed" {
        return Err(failed(
            &user,
            0,
            format!("expected 401 with the step-up challenge, got {status}: {body}"),
        ));
    }
    let inner = &body["error"]["innerError"];
    let (Some(request_id), Some(claims)) = (
        inner["requestId"].as_str(),
        inner["authorizeParameters"]["claims"].as_str(),
    ) else {
        return Err(failed(
            &user,
            0,
            format!("no requestId or authorizeParameters.claims: {body}"),
        ));
    };
    lap(0);

    // 2. The step-up sign-in, bound to the request.
    let (verifier, challenge) = pkce();
    let path = authorize_path(
        CLIENT_ID,
        &challenge,
        &[("claims", claims), ("step_up_request", request_id)],
    );
    let page = b.get(&path).await;
    let Landing::Page {
        status: 200, html, ..
    } = &page
    else {
        return Err(failed(
            &user,
            1,
            format!("expected the sign-in page, got {page:?}"),
        ));
    };
    let tx = transaction_of(html);
    let page = if html.contains("username-form") {
        b.post(&format!("/signin/{tx}/username"), &[("username", &user)])
            .await
    } else {
        page
    };
    let passkey_only = matches!(&page, Landing::Page { html, .. }
        if html.contains("webauthn-form") && !html.contains("password-form"));
    if !passkey_only {
        return Err(failed(
            &user,
            1,
            format!("expected a passkey-only page: {page:?}"),
        ));
    }
    lap(1);

    let r = b
        .http
        .post(format!("{base}/signin/{tx}/webauthn/options"))
        .send()
        .await
        .map_err(|e| failed(&user, 2, e))?;
    if r.status() != 200 {
        let status = r.status();
        return Err(failed(
            &user,
            2,
            format!("{status}: {}", r.text().await.unwrap_or_default()),
        ));
    }
    let options: Value = r.json().await.map_err(|e| failed(&user, 2, e))?;
    let rcr: RequestChallengeResponse =
        serde_json::from_value(options["options"].clone()).map_err(|e| failed(&user, 2, e))?;
    lap(2);

    let assertion = p
        .key
        .do_authentication(Url::parse(base).unwrap(), rcr)
        .map_err(|e| failed(&user, 3, format!("{e:?}")))?;
    let credential = serde_json::to_value(&assertion).map_err(|e| failed(&user, 3, e))?;
    lap(3);

    let r = b
        .http
        .post(format!("{base}/signin/{tx}/webauthn"))
        .json(&json!({ "ceremonyId": options["ceremonyId"], "credential": credential }))
        .send()
        .await
        .map_err(|e| failed(&user, 4, e))?;
    let status = r.status();
    let next: Value = r.json().await.unwrap_or_default();
    let Some(next) = next["next"].as_str().filter(|_| status == 200) else {
        return Err(failed(&user, 4, format!("{status}: {next}")));
    };
    lap(4);

    let landing = b.get(next).await;
    let Landing::Client(redirect) = &landing else {
        return Err(failed(
            &user,
            5,
            format!("expected a redirect to the client, got {landing:?}"),
        ));
    };
    let Some(code) = landing.param("code") else {
        return Err(failed(&user, 5, format!("no code in {redirect}")));
    };
    lap(5);

    let r = b
        .http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .map_err(|e| failed(&user, 6, e))?;
    let status = r.status();
    let tokens: Value = r.json().await.unwrap_or_default();
    let (Some(proof), Some(id_token)) = (
        tokens["access_token"].as_str().filter(|_| status == 200),
        tokens["id_token"].as_str(),
    ) else {
        return Err(failed(&user, 6, format!("{status}: {tokens}")));
    };
    lap(6);

    // 3. The same request with the proof: the role is active.
    let (status, body) = self_activate(api, base, proof)
        .await
        .map_err(|e| failed(&user, 7, e))?;
    if status != 201 || body["status"] != "Provisioned" || body["id"] != request_id {
        return Err(failed(
            &user,
            7,
            format!("expected 201 Provisioned for {request_id}, got {status}: {body}"),
        ));
    }
    lap(7);

    let finished = Instant::now();
    Ok(Sample {
        upn: user,
        total: finished - started,
        steps,
        finished,
        proof: (proof.to_string(), id_token.to_string()),
    })
}

// ---------------------------------------------------------------------------------------------
// CPU time per thread

/// Nanoseconds on CPU of each live thread of this process, by thread id, with its name.
fn thread_cpu() -> HashMap<u64, (String, u64)> {
    let mut threads = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return threads;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let ns = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok());
        if let Some(ns) = ns {
            threads.insert(tid, (name.trim().to_string(), ns));
        }
    }
    threads
}

/// Busy and total jiffies of the whole machine (`/proc/stat`).
fn machine_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4)?;
    Some((total - idle, total))
}

/// CPU seconds the service (`srv` runtime, SQLite workers) and the clients (`cli` runtime, the
/// main thread) used between two snapshots.
fn cpu_split(
    before: &HashMap<u64, (String, u64)>,
    after: &HashMap<u64, (String, u64)>,
) -> (f64, f64) {
    let (mut server, mut client) = (0u64, 0u64);
    for (tid, (name, ns)) in after {
        let used = ns - before.get(tid).map_or(0, |(_, b)| *b);
        if name.starts_with("srv") || name.starts_with("sqlx") {
            server += used;
        } else {
            client += used;
        }
    }
    (server as f64 / 1e9, client as f64 / 1e9)
}

// ---------------------------------------------------------------------------------------------
// The cryptography alone

/// Runs `op` `n` times (after a few warm-up calls); returns each call's duration, sorted.
fn time_each(n: usize, mut op: impl FnMut()) -> Vec<Duration> {
    for _ in 0..n.min(20) {
        op();
    }
    sorted(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                op();
                t.elapsed()
            })
            .collect(),
    )
}

struct CryptoRow {
    name: &'static str,
    times: Vec<Duration>,
}

fn crypto_alone(
    env: &Env,
    srv: &tokio::runtime::Runtime,
    spare: (store::User, SoftPasskey),
    proof: &(String, String),
    n: usize,
) -> Vec<CryptoRow> {
    let mut rows = Vec::new();
    let keys = env.state.keys().clone();
    let der = keys.keys()[0].to_pkcs8_der().unwrap();
    let ecdsa = p256::ecdsa::SigningKey::from_pkcs8_der(&der).unwrap();
    let verifying = *ecdsa.verifying_key();
    // What a WebAuthn assertion signs: authenticatorData (37 bytes) ‖ SHA-256(clientDataJSON).
    let message = [0x5au8; 69];
    let signature: p256::ecdsa::Signature = ecdsa.sign(&message);
    rows.push(CryptoRow {
        name: "P-256 ECDSA verify (p256 0.13, 69-byte message)",
        times: time_each(n, || {
            verifying
                .verify(black_box(&message), black_box(&signature))
                .unwrap();
        }),
    });
    rows.push(CryptoRow {
        name: "P-256 ECDSA sign, key decoded once (p256 0.13)",
        times: time_each(n, || {
            let s: p256::ecdsa::Signature = ecdsa.sign(black_box(&message));
            black_box(s);
        }),
    });

    // The run's own tokens, signed and checked as the service does.
    let now = env.now();
    let expect = Expectation {
        issuer: &env.state.issuer,
        audience: &env.state.issuer,
        now,
    };
    let access: AccessTokenClaims = keys.verify(&proof.0, &expect).unwrap();
    let id_expect = Expectation {
        audience: CLIENT_ID,
        ..expect.clone()
    };
    let id: IdTokenClaims = keys.verify(&proof.1, &id_expect).unwrap();
    rows.push(CryptoRow {
        name: "KeySet::sign access token (at+jwt)",
        times: time_each(n, || {
            black_box(keys.sign(black_box(&access), "at+jwt").unwrap());
        }),
    });
    rows.push(CryptoRow {
        name: "KeySet::sign ID token (JWT)",
        times: time_each(n, || {
            black_box(keys.sign(black_box(&id), "JWT").unwrap());
        }),
    });
    rows.push(CryptoRow {
        name: "KeySet::verify access token",
        times: time_each(n, || {
            let c: AccessTokenClaims = keys.verify(black_box(&proof.0), &expect).unwrap();
            black_box(c);
        }),
    });

    // The assertion check of the service's relying party, on fresh assertions of a real
    // registered passkey; the soft authenticator's own work is timed alongside.
    let (user, mut key) = spare;
    let webauthn = env.state.webauthn.as_ref().unwrap();
    let uuid = uuid::Uuid::parse_str(&user.id).unwrap();
    let stored = srv
        .block_on(env.state.store.list_webauthn(&user.id))
        .unwrap()
        .into_iter()
        .map(|c| c.passkey_json)
        .collect::<Vec<_>>();
    let origin = Url::parse(&env.base).unwrap();
    let binding = b"bench-transaction";
    let (mut finish, mut authenticator) = (Vec::new(), Vec::new());
    for i in 0..n + 20 {
        let (options, ceremony) = webauthn
            .start_authentication(uuid, &stored, Some(binding), now)
            .unwrap();
        let rcr: RequestChallengeResponse = serde_json::from_str(&options).unwrap();
        let t = Instant::now();
        let assertion = key.do_authentication(origin.clone(), rcr).unwrap();
        let response = serde_json::to_string(&assertion).unwrap();
        let signed = t.elapsed();
        let t = Instant::now();
        let checked = webauthn
            .finish_authentication(ceremony, &response, Some(binding), &stored, now)
            .unwrap();
        let verified = t.elapsed();
        black_box(checked);
        if i >= 20 {
            authenticator.push(signed);
            finish.push(verified);
        }
    }
    rows.push(CryptoRow {
        name: "Webauthn::finish_authentication (assertion check)",
        times: sorted(finish),
    });
    rows.push(CryptoRow {
        name: "soft passkey assertion (client: P-256 sign)",
        times: sorted(authenticator),
    });
    rows
}

/// What the tenant's size costs, at the end of the run (p50 of 20 each): reading the tenant
/// (what the first sign-in step after an activation pays: `tenant_changed` drops the cached
/// engine), building the engine over it, and the pre-flight every step-up challenge runs for
/// its caller (it builds an engine over a copy of the tenant).
fn tenant_costs(
    env: &Env,
    srv: &tokio::runtime::Runtime,
    upn: &str,
) -> (Duration, Duration, Duration) {
    let p50 = |times: Vec<Duration>| percentile(&sorted(times), 50.0);
    let tenant = srv
        .block_on(env.state.store.load_tenant(env.now()))
        .unwrap();
    let reload = p50((0..20)
        .map(|_| {
            let t = Instant::now();
            black_box(
                srv.block_on(env.state.store.load_tenant(env.now()))
                    .unwrap(),
            );
            t.elapsed()
        })
        .collect());
    let rebuild = p50((0..20)
        .map(|_| {
            let t = Instant::now();
            black_box(policy::Engine::new(tenant.clone()));
            t.elapsed()
        })
        .collect());
    let user = tenant
        .users
        .iter()
        .find(|u| u.user_principal_name.as_deref() == Some(upn))
        .expect("the user is in the tenant");
    let me = policy::posture::TargetUser {
        id: user.id.clone(),
        user_principal_name: upn.to_string(),
        display_name: None,
        is_break_glass: false,
        via: Vec::new(),
    };
    let preflight = p50((0..20)
        .map(|_| {
            let t = Instant::now();
            let report = policy::posture::preflight_activation(
                &tenant,
                CONTEXT,
                None,
                std::slice::from_ref(&me),
                &|_| Vec::new(),
            );
            black_box(report.is_ok());
            t.elapsed()
        })
        .collect());
    (reload, rebuild, preflight)
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let args = args();
    let backend = if args.postgres {
        if std::env::var(store::testing::DATABASE_URL_VAR).is_err() {
            eprintln!(
                "bench_activation: --postgres needs {} (run it under scripts/with-postgres)",
                store::testing::DATABASE_URL_VAR
            );
            std::process::exit(2);
        }
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let backend_name = if args.postgres { "postgres" } else { "sqlite" };
    let (n, k) = (args.activations, args.concurrency);
    // Two cores: the service gets a runtime as `#[tokio::main]` would give it, the clients
    // another, so that each side's CPU time can be told apart.
    let srv = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("srv")
        .enable_all()
        .build()
        .unwrap();
    let cli = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("cli")
        .enable_all()
        .build()
        .unwrap();

    let setup_started = Instant::now();
    let Some(env) = srv.block_on(Env::start(backend)) else {
        eprintln!("bench_activation: PostgreSQL is skipped (PORTCULLIS_SKIP_POSTGRES)");
        std::process::exit(2);
    };
    let env = Arc::new(env);
    let base = env.base.clone();
    let (users, spare) = srv.block_on(async {
        env.public_client(CLIENT_ID).await;
        require_context(&env).await;
        context_policy(&env).await;
        let mut users = create_users(&env, n + 1).await;
        let spare = users.pop().unwrap();
        (users, spare)
    });
    let stored_at = setup_started.elapsed();

    // Password sign-ins, K at a time: each user's browser ends with a live session.
    let queue = Arc::new(Mutex::new(users));
    let participants = cli.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..k {
            let (env, queue, base) = (env.clone(), queue.clone(), base.clone());
            tasks.spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let Some((user, key)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let mut browser = Browser::new(&env);
                    browser.http = http_client(&base, true);
                    let upn = user.user_principal_name.clone();
                    let tokens = password_tokens(&env, &browser, CLIENT_ID, &upn, PASSWORD).await;
                    mine.push(Participant {
                        upn,
                        browser,
                        access_token: tokens["access_token"].as_str().unwrap().to_string(),
                        key,
                    });
                }
                mine
            });
        }
        let mut all = Vec::new();
        while let Some(done) = tasks.join_next().await {
            all.extend(done.unwrap());
        }
        all
    });
    let setup = setup_started.elapsed();
    eprintln!(
        "bench_activation: {backend_name}: setup {:.1} s ({n} users stored in {:.1} s, signed in \
         with passwords in {:.1} s)",
        setup.as_secs_f64(),
        stored_at.as_secs_f64(),
        (setup - stored_at).as_secs_f64()
    );

    // The timed phase.
    let api = http_client(&base, false);
    let queue = Arc::new(Mutex::new(participants));
    let cpu_before = thread_cpu();
    let machine_before = machine_cpu();
    let started = Instant::now();
    let outcome: Result<Vec<Sample>, String> = cli.block_on(async {
        let abort = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..k {
            let (queue, base, api, abort) =
                (queue.clone(), base.clone(), api.clone(), abort.clone());
            tasks.spawn(async move {
                let mut samples = Vec::new();
                while !abort.load(std::sync::atomic::Ordering::Relaxed) {
                    let Some(mut p) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    match activate_once(&api, &base, &mut p).await {
                        Ok(s) => samples.push(s),
                        Err(e) => {
                            abort.store(true, std::sync::atomic::Ordering::Relaxed);
                            return Err(e);
                        }
                    }
                }
                Ok(samples)
            });
        }
        let mut all = Vec::new();
        let mut first_error = None;
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(samples)) => all.extend(samples),
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    first_error.get_or_insert(format!("a worker panicked: {e}"));
                }
            }
        }
        first_error.map_or(Ok(all), Err)
    });
    let wall = started.elapsed();
    let machine_after = machine_cpu();
    let cpu_after = thread_cpu();

    let samples = match outcome {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench_activation: FAILED: {e}");
            stop(env, &srv);
            std::process::exit(1);
        }
    };

    // Everything the service wrote for the run, checked once.
    let audit = srv.block_on(env.state.store.verify_audit_chain()).unwrap();
    if audit.first_broken.is_some() {
        eprintln!("bench_activation: FAILED: the audit chain is broken: {audit:?}");
        stop(env, &srv);
        std::process::exit(1);
    }

    let totals = sorted(samples.iter().map(|s| s.total).collect());
    let server_side = sorted(
        samples
            .iter()
            .map(|s| s.total - s.steps[AUTHENTICATOR])
            .collect(),
    );
    let rate = n as f64 / wall.as_secs_f64();
    println!();
    println!(
        "PIM activation benchmark: {backend_name}, {n} activations, concurrency {k}, {:.2} s",
        wall.as_secs_f64()
    );
    println!("  activations/s        {rate:.1}");
    println!(
        "  latency              p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  mean {:.2} ms",
        ms(percentile(&totals, 50.0)),
        ms(percentile(&totals, 90.0)),
        ms(percentile(&totals, 99.0)),
        ms(percentile(&totals, 100.0)),
        ms(mean(&totals))
    );
    println!(
        "  without the soft authenticator: p50 {:.2} ms  p99 {:.2} ms",
        ms(percentile(&server_side, 50.0)),
        ms(percentile(&server_side, 99.0)),
    );
    let mut by_finish: Vec<&Sample> = samples.iter().collect();
    by_finish.sort_by_key(|s| s.finished);
    let quarter = (n / 4).max(1);
    let first: Vec<Duration> = by_finish.iter().take(quarter).map(|s| s.total).collect();
    let last: Vec<Duration> = by_finish
        .iter()
        .rev()
        .take(quarter)
        .map(|s| s.total)
        .collect();
    println!(
        "  mean latency, first / last quarter of the run: {:.2} / {:.2} ms",
        ms(mean(&first)),
        ms(mean(&last))
    );
    println!();
    println!(
        "  {:<36} {:>10} {:>10} {:>10}",
        "step", "p50 ms", "mean ms", "p99 ms"
    );
    for (i, name) in STEPS.iter().enumerate() {
        let times = sorted(samples.iter().map(|s| s.steps[i]).collect());
        println!(
            "  {name:<36} {:>10.3} {:>10.3} {:>10.3}",
            ms(percentile(&times, 50.0)),
            ms(mean(&times)),
            ms(percentile(&times, 99.0))
        );
    }
    let (server_cpu, client_cpu) = cpu_split(&cpu_before, &cpu_after);
    let machine = machine_before
        .zip(machine_after)
        .map(|((b0, t0), (b1, t1))| (b1 - b0) as f64 / (t1 - t0).max(1) as f64);
    println!();
    println!(
        "  CPU: service {:.2} ms/activation, clients {:.2} ms/activation (this process's threads); \
         machine busy {}",
        server_cpu * 1e3 / n as f64,
        client_cpu * 1e3 / n as f64,
        machine.map_or("n/a".to_string(), |m| format!(
            "{:.0}% of {} cores",
            m * 100.0,
            std::thread::available_parallelism().map_or(0, usize::from)
        ))
    );

    // The cryptography alone, and what the engine rebuild after each activation costs.
    let m = args.crypto_iterations.unwrap_or(n.max(200));
    let rows = crypto_alone(&env, &srv, spare, &by_finish[0].proof, m);
    println!();
    println!("  cryptography alone ({m} iterations each)");
    println!(
        "  {:<52} {:>10} {:>10} {:>10}",
        "operation", "p50 µs", "mean µs", "p99 µs"
    );
    for row in &rows {
        println!(
            "  {:<52} {:>10.1} {:>10.1} {:>10.1}",
            row.name,
            us(percentile(&row.times, 50.0)),
            us(mean(&row.times)),
            us(percentile(&row.times, 99.0))
        );
    }
    let median_of = |name: &str| {
        rows.iter()
            .find(|r| r.name.starts_with(name))
            .map_or(Duration::ZERO, |r| percentile(&r.times, 50.0))
    };
    let per_activation = median_of("Webauthn::finish")
        + median_of("KeySet::sign access")
        + median_of("KeySet::sign ID")
        + 2 * median_of("KeySet::verify");
    let ideal = median_of("P-256 ECDSA verify") * 3 + median_of("P-256 ECDSA sign") * 2;
    println!(
        "  per activation, service side: 1 assertion check + 2 token signatures + 2 token \
         verifications = {:.2} ms ({:.0}% of the service's CPU per activation, {:.0}% of the p50 \
         latency); with bare p256 (3 verify + 2 sign) {:.2} ms",
        ms(per_activation),
        100.0 * per_activation.as_secs_f64() / (server_cpu / n as f64),
        100.0 * per_activation.as_secs_f64() / percentile(&totals, 50.0).as_secs_f64(),
        ms(ideal)
    );
    let (reload, rebuild, preflight) = tenant_costs(&env, &srv, &by_finish[0].upn);
    println!(
        "  at this tenant size ({} users, {} eligible + {} active assignments), p50 of 20: \
         store.load_tenant {:.2} ms, Engine::new(tenant.clone()) {:.2} ms, \
         posture::preflight_activation for one user {:.2} ms",
        n + 1,
        n + 1,
        n,
        ms(reload),
        ms(rebuild),
        ms(preflight)
    );
    println!();
    println!(
        "RESULT backend={backend_name} n={n} k={k} rate={rate:.1} p50_ms={:.2} p90_ms={:.2} \
         p99_ms={:.2} max_ms={:.2} server_p50_ms={:.2} authenticator_p50_ms={:.3} \
         service_cpu_ms={:.2} client_cpu_ms={:.2} crypto_ms={:.2} reload_ms={:.2} engine_ms={:.2} preflight_ms={:.2}",
        ms(percentile(&totals, 50.0)),
        ms(percentile(&totals, 90.0)),
        ms(percentile(&totals, 99.0)),
        ms(percentile(&totals, 100.0)),
        ms(percentile(&server_side, 50.0)),
        ms(percentile(
            &sorted(samples.iter().map(|s| s.steps[AUTHENTICATOR]).collect()),
            50.0
        )),
        server_cpu * 1e3 / n as f64,
        client_cpu * 1e3 / n as f64,
        ms(per_activation),
        ms(reload),
        ms(rebuild),
        ms(preflight),
    );

    stop(env, &srv);
}

/// Stops the service, drops its database and removes its data directory.
fn stop(env: Arc<Env>, srv: &tokio::runtime::Runtime) {
    let data_dir = env.state.config.data_dir.clone();
    let env = Arc::try_unwrap(env)
        .ok()
        .expect("no task holds the service any more");
    srv.block_on(env.stop());
    // The harness keeps the service's data directory (a temporary one).
    if data_dir.starts_with(std::env::temp_dir()) {
        let _ = std::fs::remove_dir_all(data_dir);
    }
}
