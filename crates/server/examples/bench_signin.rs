//! Password + TOTP sign-ins per second over HTTP on the 100,000-user tenant of the Conditional
//! Access benchmarks (`crates/policy/benches/support/tenant.rs`), against a separately started
//! service (`portcullis serve`). Driven by `scripts/bench/signins`; see BENCHMARKS.md, issue 9.
//!
//! ```sh
//! # Fill a data directory: the tenant with N policies, a public client, and for every user the
//! # password and a TOTP app.
//! bench_signin seed --data-dir DIR [--policies 1000]
//! # Sign users in against a running service, K at a time, for S seconds.
//! bench_signin load --base http://localhost:PORT [--policies 1000] [--concurrency 8]
//!                   [--duration 25] [--server-pid PID]
//! ```
//!
//! **seed** stores the tenant with `Store::import_tenant` (one transaction), the client
//! `app_id(3)` (a popular app of the generator, so that the tenant's policies apply to the
//! sign-ins; public, redirect `http://127.0.0.1:9/cb`), and for each of the 100,000 users a
//! password and a TOTP app. The password is hashed **once** with the default argon2id
//! parameters and the same PHC string is stored for every user (`Store::set_password` takes a
//! hash); each user's TOTP secret is derived from the user's number (SHA-256), so that `load`
//! can compute the codes. The credentials are written one statement at a time: run it on tmpfs
//! (the script does) and copy the database to disk afterwards.
//!
//! **load** first builds the same tenant in memory and keeps the users whose sign-in into the
//! client with a password and a TOTP code Conditional Access grants (`Engine::decide`; the
//! others would be blocked or asked for a compliant device or a passkey), in a fixed shuffled
//! order. One untimed sign-in warms the service (its first assessment builds the engine over the
//! 100,000 users). Then K workers sign distinct users in for S seconds, each sign-in the full
//! browser flow, every status checked:
//!
//! 1. `GET /authorize` (PKCE S256) → 303 → `GET /signin/{tx}` → 200 (sign-in name);
//! 2. `POST /signin/{tx}/username` → 303 → `GET /signin/{tx}` → 200 (password);
//! 3. `POST /signin/{tx}/password` → 303 → `GET /signin/{tx}` → 200 (TOTP);
//! 4. `POST /signin/{tx}/totp` → 303 → `GET /signin/{tx}` → 303 to the client with `code`;
//! 5. `POST /token` → 200 with an access token and an ID token.
//!
//! Each worker is one HTTP client with keep-alive connections and its own cookie jar per
//! sign-in (cookies are kept by hand: name and value, all for the one host). With
//! `--server-pid`, the service's `VmRSS` and `VmHWM` (`/proc/PID/status`) are printed before the
//! warm-up, after it (engine built) and after the timed phase. The last line, `RESULT …`, is for
//! scripts; a failed sign-in is counted with its step and status, and the run is marked INVALID.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use policy::method::AuthenticationMethodMode;
use policy::outcome::DecisionResult;
use policy::session::{AuthenticationSession, PerformedMethod};
use policy::signin::{SignIn, Target};
use policy::Engine;
use server::signin::flow::Circumstances;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::Store;

#[path = "../../policy/benches/support/tenant.rs"]
mod tenant;
use tenant::{app_id, directory, policies, user_id, Lcg, BENCH_APP, USERS};

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const PASSWORD: &str = "correct horse battery staple 93";
const USER_AGENT: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131";
const STEPS: [&str; 5] = [
    "authorize + page",
    "username + page",
    "password + page",
    "totp + page -> code",
    "token",
];

fn upn(n: u64) -> String {
    format!("user{n}@contoso.example")
}

/// User `n`'s TOTP secret (20 bytes).
fn totp_secret(n: u64) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"portcullis bench_signin totp secret");
    h.update(n.to_le_bytes());
    h.finalize()[..20].to_vec()
}

fn totp_code(secret: &[u8], at: DateTime<Utc>) -> String {
    let totp = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        authn::totp::DIGITS,
        1,
        authn::totp::STEP_SECONDS as u64,
        secret.to_vec(),
        None,
        String::new(),
    );
    totp.generate(at.timestamp() as u64)
}

fn arg<T: std::str::FromStr>(args: &BTreeMap<String, String>, name: &str, default: T) -> T {
    match args.get(name) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("bench_signin: --{name} '{v}' is not valid");
            std::process::exit(2)
        }),
    }
}

#[tokio::main]
async fn main() {
    let mut it = std::env::args().skip(1);
    let command = it.next().unwrap_or_default();
    let mut args = BTreeMap::new();
    while let Some(flag) = it.next() {
        let Some(name) = flag.strip_prefix("--") else {
            eprintln!("bench_signin: unexpected '{flag}'");
            std::process::exit(2)
        };
        args.insert(name.to_string(), it.next().unwrap_or_default());
    }
    match command.as_str() {
        "seed" => seed(&args).await,
        "load" => load(&args).await,
        _ => {
            eprintln!("usage: bench_signin seed --data-dir DIR [--policies N]");
            eprintln!(
                "       bench_signin load --base URL [--policies N] [--concurrency K] \
                 [--duration S] [--server-pid PID]"
            );
            std::process::exit(2)
        }
    }
}

async fn seed(args: &BTreeMap<String, String>) {
    let dir: String = arg(args, "data-dir", String::new());
    if dir.is_empty() {
        eprintln!("bench_signin seed: --data-dir DIR is required");
        std::process::exit(2)
    }
    let n: usize = arg(args, "policies", 1_000);
    let store = Store::open(&format!("sqlite://{dir}/portcullis.db"))
        .await
        .unwrap();
    let now = Utc::now();
    let started = Instant::now();
    let mut t = directory();
    t.conditional_access_policies = policies(n)
        .into_iter()
        .map(|p| serde_json::from_value(p).unwrap())
        .collect();
    store.import_tenant(&t, now).await.unwrap();
    eprintln!(
        "seed: tenant ({} users, {} groups, {} role assignments, {n} policies) in {:.1} s",
        t.users.len(),
        t.groups.len(),
        t.role_assignments.len(),
        started.elapsed().as_secs_f64()
    );
    store
        .create_client(&store::OidcClient {
            client_id: app_id(BENCH_APP),
            display_name: "Bench app".into(),
            redirect_uris: vec![REDIRECT.into()],
            is_public: true,
            secret_hash: None,
            created_at: now,
        })
        .await
        .unwrap();
    // One hash, with the service's default parameters, stored for every user.
    let params = server::config::Config::default().password;
    let phc = authn::password::hash_password(
        &params,
        &authn::secrecy::SecretString::from(PASSWORD.to_string()),
    )
    .unwrap()
    .as_str()
    .to_string();
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (store, next, phc) = (store.clone(), next.clone(), phc.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as u64;
                    if i >= USERS {
                        break;
                    }
                    let user = user_id(i);
                    let password: store::PasswordCredential =
                        serde_json::from_value(serde_json::json!({
                            "userId": user, "phc": phc, "changedAt": now,
                        }))
                        .unwrap();
                    store.set_password(&password).await.unwrap();
                    let totp: store::TotpCredential = serde_json::from_value(serde_json::json!({
                        "id": format!("totp-{i}"), "userId": user, "secret": totp_secret(i),
                        "label": "Authenticator", "createdAt": now, "lastUsedStep": 0,
                        "provenance": null,
                    }))
                    .unwrap();
                    store.add_totp(&totp).await.unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    eprintln!(
        "seed: {USERS} passwords (one argon2id PHC, m={} KiB t={} p={}) and TOTP apps in {:.1} s",
        params.memory_kib,
        params.iterations,
        params.parallelism,
        started.elapsed().as_secs_f64()
    );
    store.close().await;
}

/// The service's memory, from `/proc/PID/status`.
fn memory(pid: Option<u32>, when: &str) {
    let Some(pid) = pid else { return };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or("?".to_string(), |kib| {
                format!("{:.1} MiB", kib as f64 / 1024.0)
            })
    };
    println!(
        "MEMORY {when}: VmRSS {} VmHWM {}",
        field("VmRSS:"),
        field("VmHWM:")
    );
}

/// Users whose sign-in into the client with a password and a TOTP code is granted, shuffled.
fn eligible_users(n: usize) -> Vec<u64> {
    let mut t = directory();
    t.conditional_access_policies = policies(n)
        .into_iter()
        .map(|p| serde_json::from_value(p).unwrap())
        .collect();
    let engine = Engine::new(t);
    let now = Utc::now();
    let conditions = Circumstances {
        ip: Some([127, 0, 0, 1].into()),
        user_agent: Some(USER_AGENT.into()),
    }
    .conditions();
    let mut users: Vec<u64> = (0..USERS)
        .filter(|&u| {
            let s = SignIn {
                user_id: user_id(u),
                target: Target::Applications(vec![app_id(BENCH_APP)]),
                conditions: conditions.clone(),
                session: AuthenticationSession {
                    transaction_started_at: Some(now - chrono::Duration::seconds(10)),
                    methods: vec![
                        PerformedMethod::new(
                            AuthenticationMethodMode::Password,
                            now - chrono::Duration::seconds(5),
                        ),
                        PerformedMethod::new(AuthenticationMethodMode::SoftwareOath, now),
                    ],
                    mfa_claimed_at: None,
                },
                activating_role: None,
            };
            engine
                .decide(&s, now)
                .is_ok_and(|d| d.result == DecisionResult::Grant)
        })
        .collect();
    // Fisher-Yates with the generator's LCG: the same order every run.
    let mut r = Lcg::new(9);
    for i in (1..users.len()).rev() {
        users.swap(i, r.below(i as u64 + 1) as usize);
    }
    users
}

/// A browser's cookies for the one host: name → value.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn take(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all(reqwest::header::SET_COOKIE) {
            let Ok(v) = v.to_str() else { continue };
            let pair = v.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let lower = v.to_ascii_lowercase();
            if value.is_empty() || lower.contains("max-age=0") {
                self.0.remove(name.trim());
            } else {
                self.0
                    .insert(name.trim().to_string(), value.trim().to_string());
            }
        }
    }
}

/// Why a sign-in failed: the step and what came back.
type Failure = (usize, String);

/// A completed sign-in: when it ended, and the time of each step.
type Done = (Instant, [Duration; STEPS.len()]);

struct Browser<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
    jar: Jar,
}

impl Browser<'_> {
    async fn get(&mut self, url: &str) -> Result<reqwest::Response, String> {
        let r = self
            .http
            .get(url)
            .header(reqwest::header::COOKIE, self.jar.header())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        self.jar.take(&r);
        Ok(r)
    }

    async fn post(
        &mut self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<reqwest::Response, String> {
        let r = self
            .http
            .post(url)
            .header(reqwest::header::COOKIE, self.jar.header())
            .form(form)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        self.jar.take(&r);
        Ok(r)
    }

    /// A 303 back to the page, then the page: its response.
    async fn step_then_page(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        page: &str,
    ) -> Result<reqwest::Response, String> {
        let r = self.post(&format!("{}{path}", self.base), form).await?;
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        if status != 303 {
            return Err(format!("{status}: {}", excerpt(&body)));
        }
        self.get(&format!("{}{page}", self.base)).await
    }
}

fn excerpt(body: &str) -> String {
    // The page's error message, when there is one, else the start of the body.
    let at = body.find("class=\"error").unwrap_or(0);
    body[at..]
        .chars()
        .take(160)
        .collect::<String>()
        .replace('\n', " ")
}

async fn expect_page(r: reqwest::Response) -> Result<(), String> {
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    if status == 200 {
        Ok(())
    } else {
        Err(format!("page {status}: {}", excerpt(&body)))
    }
}

/// One full sign-in of user `n`; the time of each step.
async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    n: u64,
) -> Result<[Duration; STEPS.len()], Failure> {
    let mut times = [Duration::ZERO; STEPS.len()];
    let mut browser = Browser {
        http,
        base,
        jar: Jar::default(),
    };
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let mut lap = Instant::now();

    // 1. /authorize, then the page.
    let mut authorize = url::Url::parse(&format!("{base}/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &app_id(BENCH_APP))
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid profile offline_access")
        .append_pair("state", "st4te")
        .append_pair("nonce", "n0nce")
        .append_pair("code_challenge", &server::web::pkce_s256(&verifier))
        .append_pair("code_challenge_method", "S256");
    let r = browser.get(authorize.as_str()).await.map_err(|e| (0, e))?;
    let page = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .filter(|l| l.starts_with("/signin/"))
        .map(str::to_string)
        .ok_or_else(|| (0, format!("/authorize: {}", r.status())))?;
    let r = browser
        .get(&format!("{base}{page}"))
        .await
        .map_err(|e| (0, e))?;
    expect_page(r).await.map_err(|e| (0, e))?;
    times[0] = lap.elapsed();
    lap = Instant::now();

    // 2. The sign-in name.
    let upn = upn(n);
    let r = browser
        .step_then_page(&format!("{page}/username"), &[("username", &upn)], &page)
        .await
        .map_err(|e| (1, e))?;
    expect_page(r).await.map_err(|e| (1, e))?;
    times[1] = lap.elapsed();
    lap = Instant::now();

    // 3. The password.
    let r = browser
        .step_then_page(
            &format!("{page}/password"),
            &[("password", PASSWORD)],
            &page,
        )
        .await
        .map_err(|e| (2, e))?;
    expect_page(r).await.map_err(|e| (2, e))?;
    times[2] = lap.elapsed();
    lap = Instant::now();

    // 4. The TOTP code; the page then sends the browser back to the client with a code.
    let code = totp_code(&totp_secret(n), Utc::now());
    let r = browser
        .step_then_page(&format!("{page}/totp"), &[("code", &code)], &page)
        .await
        .map_err(|e| (3, e))?;
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    let redirect = location
        .filter(|l| l.starts_with(REDIRECT))
        .ok_or_else(|| (3, format!("no code: {status}: {}", excerpt(&body))))?;
    let code = url::Url::parse(&redirect)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| (3, format!("redirect without code: {redirect}")))?;
    times[3] = lap.elapsed();
    lap = Instant::now();

    // 5. The code at /token.
    let r = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &app_id(BENCH_APP)),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .map_err(|e| (4, e.to_string()))?;
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    if status != 200 || body.get("id_token").is_none() || body.get("access_token").is_none() {
        return Err((4, format!("/token {status}: {body}")));
    }
    times[4] = lap.elapsed();
    Ok(times)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

async fn load(args: &BTreeMap<String, String>) {
    let base: String = arg(args, "base", String::new());
    if base.is_empty() {
        eprintln!("bench_signin load: --base URL is required");
        std::process::exit(2)
    }
    let n: usize = arg(args, "policies", 1_000);
    let concurrency: usize = arg(args, "concurrency", 8);
    let duration = Duration::from_secs_f64(arg(args, "duration", 25.0));
    let pid: Option<u32> = args.get("server-pid").and_then(|p| p.parse().ok());
    let url = url::Url::parse(&base).unwrap();
    let port = url.port().unwrap();

    let started = Instant::now();
    let users = eligible_users(n);
    eprintln!(
        "load: {} of {USERS} users get a grant for password + TOTP on {} at N={n} ({:.1} s)",
        users.len(),
        app_id(BENCH_APP),
        started.elapsed().as_secs_f64()
    );
    let http = reqwest::Client::builder()
        // As a browser does: the pages refuse a POST that does not name their origin.
        .default_headers(
            [(
                reqwest::header::ORIGIN,
                reqwest::header::HeaderValue::from_str(&format!(
                    "{}://{}",
                    url.scheme(),
                    url.authority()
                ))
                .unwrap(),
            )]
            .into_iter()
            .collect(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .resolve(
            url.host_str().unwrap(),
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        )
        .build()
        .unwrap();

    memory(
        pid,
        "before the warm-up (tenant in the store, engine not built)",
    );
    let started = Instant::now();
    if let Err((step, e)) = sign_in(&http, &base, users[0]).await {
        println!(
            "bench_signin: FAILED: warm-up sign-in, step {}: {e}",
            STEPS[step]
        );
        std::process::exit(1)
    }
    println!(
        "WARM-UP: one sign-in in {:.0} ms (includes building the engine)",
        started.elapsed().as_secs_f64() * 1e3
    );
    memory(pid, "after the warm-up (engine built)");

    let next = Arc::new(AtomicUsize::new(1));
    let results: Arc<Mutex<Vec<Done>>> = Arc::default();
    let failures: Arc<Mutex<Vec<Failure>>> = Arc::default();
    let users = Arc::new(users);
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, base, next, users, results, failures) = (
                http.clone(),
                base.clone(),
                next.clone(),
                users.clone(),
                results.clone(),
                failures.clone(),
            );
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&user) = users.get(i) else { break };
                    match sign_in(&http, &base, user).await {
                        Ok(times) => results.lock().unwrap().push((Instant::now(), times)),
                        Err(f) => failures.lock().unwrap().push(f),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let wall = started.elapsed().as_secs_f64();
    memory(pid, "after the timed phase");

    let results = results.lock().unwrap();
    let failures = failures.lock().unwrap();
    let mut total: Vec<f64> = results
        .iter()
        .map(|(_, t)| t.iter().sum::<Duration>().as_secs_f64() * 1e3)
        .collect();
    total.sort_by(f64::total_cmp);
    for (i, step) in STEPS.iter().enumerate() {
        let mut s: Vec<f64> = results
            .iter()
            .map(|(_, t)| t[i].as_secs_f64() * 1e3)
            .collect();
        s.sort_by(f64::total_cmp);
        println!(
            "STEP {step}: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            percentile(&s, 0.5),
            percentile(&s, 0.9),
            percentile(&s, 0.99),
            percentile(&s, 1.0)
        );
    }
    // Completions per second, to show the engine's reloads (every 5 s of service time).
    let per_second: Vec<usize> = (0..wall.ceil() as usize)
        .map(|s| {
            results
                .iter()
                .filter(|(at, _)| at.duration_since(started).as_secs() as usize == s)
                .count()
        })
        .collect();
    println!("PER SECOND: {per_second:?}");
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (step, e) in failures.iter() {
        *kinds
            .entry(format!(
                "{}: {}",
                STEPS[*step],
                e.chars().take(120).collect::<String>()
            ))
            .or_default() += 1;
    }
    for (k, count) in &kinds {
        println!("FAILURE x{count}: {k}");
    }
    println!(
        "RESULT{} policies={n} users={USERS} concurrency={concurrency} duration_s={wall:.1} \
         signins={} failures={} rate={:.1} p50_ms={:.1} p90_ms={:.1} p99_ms={:.1} max_ms={:.1}",
        if failures.is_empty() { "" } else { " INVALID" },
        results.len(),
        failures.len(),
        results.len() as f64 / wall,
        percentile(&total, 0.5),
        percentile(&total, 0.9),
        percentile(&total, 0.99),
        percentile(&total, 1.0),
    );
}
