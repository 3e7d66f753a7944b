//! How much of a password sign-in step is argon2id: the hash alone against the whole HTTP step.
//!
//! ```sh
//! cargo run --release -p server --example bench_password -- --iterations 200
//! ```
//!
//! Starts a real service in this process (default configuration, so the default argon2id
//! parameters: 19 MiB, t=2, p=1) on a loopback port over a fresh SQLite database (or, with
//! `--postgres`, a new database on the server named by `PORTCULLIS_TEST_DATABASE_URL`), with a
//! public client and a user with a password. Each iteration, alternately:
//!
//! - (a) times `authn::password::verify_password` alone on the user's stored hash;
//! - (b) as a fresh browser (its own cookie jar and connection), `GET /authorize` (PKCE S256),
//!   `POST /signin/{tx}/username`, then times only `POST /signin/{tx}/password`, measured at the
//!   client from sending the request to reading the whole 303 response (not following it).
//!
//! It prints the median, p90, min and mean of both, the overhead (b − a) / a of the medians, and
//! the median of the per-iteration differences b − a. To say where the difference goes, each
//! iteration also times:
//!
//! - (a2) `verify_password` handed to `tokio::task::spawn_blocking`, as the handler does;
//! - (c) the store calls the handler makes, called directly in the same order: load the
//!   transaction and the user, the two lockout counters, the password, then create the session,
//!   add the authentication event, reset the account's lockout counter;
//! - (d) the same `POST` for an unknown transaction (a 404 page after one store read): the
//!   HTTP round trip, routing and extraction.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use authn::secrecy::SecretString;
use server::config::{Config, Secret};
use server::state::Clock;
use server::web::pkce_s256;
use std::time::{Duration, Instant};
use store::testing::{Backend, TestDatabase};
use store::{OidcClient, User};

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const PASSWORD: &str = "correct horse battery staple 93";
const UPN: &str = "alice@example.test";
const WARM_UP: usize = 5;

struct Stats {
    median: f64,
    p90: f64,
    min: f64,
    max: f64,
    mean: f64,
}

/// Milliseconds, nearest-rank percentiles.
fn stats(samples: &[Duration]) -> Stats {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let rank = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    Stats {
        median: rank(0.5),
        p90: rank(0.9),
        min: ms[0],
        max: ms[ms.len() - 1],
        mean: ms.iter().sum::<f64>() / ms.len() as f64,
    }
}

fn print(name: &str, s: &Stats) {
    println!(
        "{name}: median {:.2} ms, p90 {:.2} ms, min {:.2} ms, max {:.2} ms, mean {:.2} ms",
        s.median, s.p90, s.min, s.max, s.mean
    );
}

/// Starts a sign-in as a fresh browser and names the user; returns the browser and the
/// transaction.
async fn begin(base: &str) -> (reqwest::Client, String) {
    let http = reqwest::Client::builder()
        .cookie_store(true)
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
        // `localhost` on 127.0.0.1, without a name lookup per connection.
        .resolve(
            "localhost",
            std::net::SocketAddr::from((
                [127, 0, 0, 1],
                url::Url::parse(base).unwrap().port().unwrap(),
            )),
        )
        .build()
        .unwrap();
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let mut authorize = url::Url::parse(&format!("{base}/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "app")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid profile offline_access")
        .append_pair("state", "st4te")
        .append_pair("nonce", "n0nce")
        .append_pair("code_challenge", &pkce_s256(&verifier))
        .append_pair("code_challenge_method", "S256");
    let r = http.get(authorize).send().await.unwrap();
    assert!(r.status().is_redirection(), "/authorize: {}", r.status());
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let tx = location
        .strip_prefix("/signin/")
        .unwrap_or_else(|| panic!("/authorize redirected to {location}"))
        .to_string();
    let r = http
        .post(format!("{base}/signin/{tx}/username"))
        .form(&[("username", UPN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "username step");
    (http, tx)
}

/// Minor page faults of the calling thread so far (Linux; 0 elsewhere).
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Field 10 (minflt), counted after the parenthesised command name.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(7))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn median_u64(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// The store calls of `POST /signin/{tx}/password` for a fresh browser, in order (see
/// `SignInContext::load`, `Step::locked_out`, `steps::password`, `record_method`); the time of
/// each.
async fn store_sequence(
    state: &server::state::AppState,
    tx: &str,
    user_id: &str,
) -> [Duration; STORE_CALLS.len()] {
    use store::{LockoutScope, Session, SessionAuthEvent};
    let store = &state.store;
    let now = state.now();
    let mut times = [Duration::ZERO; STORE_CALLS.len()];
    let mut lap = Instant::now();
    let mut next = |i: usize| {
        times[i] = lap.elapsed();
        lap = Instant::now();
    };
    store.get_transaction(tx).await.unwrap();
    next(0);
    store.get_user(user_id).await.unwrap();
    next(1);
    store
        .get_lockout(LockoutScope::Account, user_id)
        .await
        .unwrap();
    next(2);
    store
        .get_lockout(LockoutScope::Source, "127.0.0.1")
        .await
        .unwrap();
    next(3);
    store.get_password(user_id).await.unwrap();
    next(4);
    let session = Session {
        id: server::web::token_hash(&server::web::random_token().unwrap()),
        sid: store::new_id(),
        user_id: user_id.to_string(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + chrono::Duration::hours(8),
        revoked_at: None,
    };
    store.create_session(&session).await.unwrap();
    next(5);
    store
        .add_session_event(&SessionAuthEvent {
            id: store::new_id(),
            session_id: session.id.clone(),
            method: policy::method::AuthenticationMethodMode::Password,
            performed_at: now,
            aaguid: None,
            user_verified: false,
            transaction_id: Some(tx.to_string()),
            credential_id: None,
            registration: None,
        })
        .await
        .unwrap();
    next(6);
    store
        .reset_lockout(LockoutScope::Account, user_id)
        .await
        .unwrap();
    next(7);
    times
}

/// The calls [`store_sequence`] times.
const STORE_CALLS: [&str; 8] = [
    "get_transaction",
    "get_user",
    "get_lockout(account)",
    "get_lockout(source)",
    "get_password",
    "create_session (write)",
    "add_session_event (write)",
    "reset_lockout (write)",
];

#[tokio::main]
async fn main() {
    let mut iterations = 200usize;
    let mut postgres = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--iterations" => {
                iterations = it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                    eprintln!("--iterations N");
                    std::process::exit(2)
                })
            }
            "--postgres" => postgres = true,
            _ => {
                eprintln!("usage: bench_password [--iterations N] [--postgres]");
                std::process::exit(2)
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(if postgres {
        Backend::Postgres
    } else {
        Backend::Sqlite
    })
    .await
    .unwrap();
    // The default configuration, so the default argon2id parameters.
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        database_url: Some(Secret::new(db.url.clone())),
        ..Config::default()
    };
    let params = config.password;
    let server = server::Server::bind(config, Clock::default())
        .await
        .unwrap();
    let state = server.state();
    // The issuer's own address (`http://localhost:PORT`): the pages send browsers on 127.0.0.1
    // there, and refuse a form whose origin is not the issuer's.
    let base = state.issuer.clone();
    let now = state.now();
    state
        .store
        .create_client(&OidcClient {
            client_id: "app".into(),
            display_name: "App".into(),
            redirect_uris: vec![REDIRECT.into()],
            is_public: true,
            secret_hash: None,
            created_at: now,
        })
        .await
        .unwrap();
    let user = User::new(UPN, "Alice", now);
    state.store.create_user(&user).await.unwrap();
    let hash =
        authn::password::hash_password(&params, &SecretString::from(PASSWORD.to_string())).unwrap();
    state
        .store
        .set_password(&store::PasswordCredential {
            user_id: user.id.clone(),
            phc: hash.as_str().to_string(),
            changed_at: now,
        })
        .await
        .unwrap();
    state.tenant_changed();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server.serve(async move {
        let _ = stop_rx.await;
    }));
    println!(
        "argon2id m={} KiB t={} p={}; backend {}; {iterations} iterations (+{WARM_UP} warm-up); \
         {}",
        params.memory_kib,
        params.iterations,
        params.parallelism,
        if postgres { "postgres" } else { "sqlite" },
        hash.as_str()
            .split('$')
            .take(4)
            .collect::<Vec<_>>()
            .join("$"),
    );

    let candidate = SecretString::from(PASSWORD.to_string());
    let mut alone = Vec::with_capacity(iterations);
    let mut blocking = Vec::with_capacity(iterations);
    let mut store_calls = Vec::with_capacity(iterations);
    let mut baseline = Vec::with_capacity(iterations);
    let mut faults_alone = Vec::with_capacity(iterations);
    let mut faults_blocking = Vec::with_capacity(iterations);
    let mut per_call: Vec<[Duration; STORE_CALLS.len()]> = Vec::with_capacity(iterations);
    let mut step = Vec::with_capacity(iterations);
    for i in 0..iterations + WARM_UP {
        // (a) the hash alone, on this (runtime worker) thread.
        let started = Instant::now();
        let (ok, faults) = tokio::task::block_in_place(|| {
            let before = minor_faults();
            let ok = authn::password::verify_password(&hash, &candidate).unwrap();
            (ok, minor_faults() - before)
        });
        let a = started.elapsed();
        assert!(ok);

        // (b) the whole password step over HTTP.
        let (http, tx) = begin(&base).await;
        let request = http
            .post(format!("{base}/signin/{tx}/password"))
            .form(&[("password", PASSWORD)]);
        let started = Instant::now();
        let r = request.send().await.unwrap();
        let status = r.status();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let _ = r.bytes().await.unwrap();
        let b = started.elapsed();
        assert_eq!(status, 303, "password step");
        assert_eq!(
            location.as_deref(),
            Some(format!("/signin/{tx}").as_str()),
            "the password step goes back to the sign-in page"
        );
        // (a2) the hash on the blocking pool, as the handler runs it.
        let started = Instant::now();
        let (h, c) = (hash.clone(), candidate.clone());
        let (ok, faults2) = tokio::task::spawn_blocking(move || {
            let before = minor_faults();
            let ok = authn::password::verify_password(&h, &c).unwrap();
            (ok, minor_faults() - before)
        })
        .await
        .unwrap();
        let a2 = started.elapsed();
        assert!(ok);

        // (d) an HTTP baseline: the same route for an unknown transaction (one store read, a
        // 404 page), on the same browser's connection.
        let request = http
            .post(format!("{base}/signin/unknown-transaction/password"))
            .form(&[("password", PASSWORD)]);
        let started = Instant::now();
        let r = request.send().await.unwrap();
        let status = r.status();
        let _ = r.bytes().await.unwrap();
        let d = started.elapsed();
        assert_eq!(status, 404, "unknown transaction");

        // (c) the handler's store calls, directly.
        let calls = store_sequence(&state, &tx, &user.id).await;
        let c: Duration = calls.iter().sum();

        if i >= WARM_UP {
            alone.push(a);
            blocking.push(a2);
            store_calls.push(c);
            baseline.push(d);
            per_call.push(calls);
            faults_alone.push(faults);
            faults_blocking.push(faults2);
            step.push(b);
        }
    }

    let a = stats(&alone);
    let b = stats(&step);
    print("(a) verify_password alone", &a);
    print("(b) POST /signin/{tx}/password", &b);
    print("(a2) verify_password in spawn_blocking", &stats(&blocking));
    println!(
        "    minor page faults per verification (median): (a) {}, (a2) {}",
        median_u64(&mut faults_alone),
        median_u64(&mut faults_blocking)
    );
    print("(c) the handler's store calls alone", &stats(&store_calls));
    for (i, name) in STORE_CALLS.iter().enumerate() {
        let times: Vec<Duration> = per_call.iter().map(|c| c[i]).collect();
        let s = stats(&times);
        println!("    {name}: median {:.3} ms, p90 {:.3} ms", s.median, s.p90);
    }
    print(
        "(d) POST /signin/{unknown}/password (404: HTTP, routing, one read)",
        &stats(&baseline),
    );
    let diffs: Vec<f64> = {
        let mut d: Vec<f64> = alone
            .iter()
            .zip(&step)
            .map(|(a, b)| (b.as_secs_f64() - a.as_secs_f64()) * 1e3)
            .collect();
        d.sort_by(f64::total_cmp);
        d
    };
    println!(
        "overhead (b - a) / a of the medians: {:.1}% ({:.2} ms); median of per-iteration b - a: \
         {:.2} ms ({:.1}% of median a)",
        (b.median - a.median) / a.median * 100.0,
        b.median - a.median,
        diffs[diffs.len() / 2],
        diffs[diffs.len() / 2] / a.median * 100.0,
    );

    let _ = stop_tx.send(());
    let _ = served.await;
    db.remove().await.unwrap();
}
