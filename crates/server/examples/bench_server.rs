//! A real Portcullis service primed for a load test of the token endpoint.
//!
//! ```sh
//! cargo run --release -p server --example bench_server -- --codes 60000 --out /tmp/bodies.txt
//! ```
//!
//! It starts the service on a loopback port over a fresh database (SQLite in a temporary
//! directory, `--database-url URL`, or `--postgres`: a new database on the server named by
//! `PORTCULLIS_TEST_DATABASE_URL`, dropped at exit), registers the public client `bench`, one
//! user with one live session, and inserts `--codes` authorization codes straight into the store
//! (as a completed sign-in would: PKCE S256 challenge, nonce, scope `openid offline_access`,
//! `acr` `mfa`, `amr` `mfa otp pwd`). Each code's `/token` request body goes to `--out`, one per
//! line. One extra code is redeemed over HTTP as a self-check. Then it prints the base URL on
//! standard output and serves until SIGINT or SIGTERM. `scripts/bench/tokens` drives it with
//! `wrk` and `scripts/bench/token.lua`.
//!
//! `--log` installs a `tracing` subscriber at `info` on standard error, as `portcullis serve`
//! does (without it, nothing is formatted or written per request).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Duration;
use server::config::{Config, Secret};
use server::state::Clock;
use server::web::{pkce_s256, random_token, token_hash};
use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;
use store::testing::{Backend, TestDatabase};
use store::{AuthorizationCode, OidcClient, Session, User};

/// Where the benchmark client "receives" its codes (nothing listens there).
const REDIRECT: &str = "http://127.0.0.1:9/cb";
/// One verifier for every code: PKCE is checked at every redemption all the same.
const VERIFIER: &str = "bench-pkce-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
const CLIENT_ID: &str = "bench";

struct Args {
    codes: usize,
    out: std::path::PathBuf,
    database_url: Option<String>,
    postgres: bool,
    log: bool,
    writers: Option<usize>,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench_server --codes N --out FILE [--database-url URL | --postgres] [--log] \
         [--writers K]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let mut args = Args {
        codes: 10_000,
        out: std::path::PathBuf::new(),
        database_url: None,
        postgres: false,
        log: false,
        writers: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--codes" => args.codes = value().parse().unwrap_or_else(|_| usage()),
            "--out" => args.out = value().into(),
            "--database-url" => args.database_url = Some(value()),
            "--postgres" => args.postgres = true,
            "--log" => args.log = true,
            "--writers" => args.writers = Some(value().parse().unwrap_or_else(|_| usage())),
            _ => usage(),
        }
    }
    if args.out.as_os_str().is_empty() {
        usage()
    }
    args
}

/// The `/token` request body redeeming `code`.
fn body(code: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("client_id", CLIENT_ID)
        .append_pair("code_verifier", VERIFIER)
        .finish()
}

#[tokio::main]
async fn main() {
    let args = args();
    if args.log {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .try_init();
    }
    let dir = tempfile::tempdir().unwrap();
    let test_db = if args.postgres {
        Some(TestDatabase::create(Backend::Postgres).await.unwrap())
    } else {
        None
    };
    let database_url = match (&test_db, &args.database_url) {
        (Some(db), _) => db.url.clone(),
        (None, Some(url)) => url.clone(),
        (None, None) => format!("sqlite://{}/portcullis.db", dir.path().display()),
    };
    let backend = if database_url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        database_url: Some(Secret::new(database_url)),
        // No password is verified here.
        password: authn::password::PasswordParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        ..Config::default()
    };
    let server = server::Server::bind(config, Clock::default())
        .await
        .unwrap();
    let state = server.state();
    let port = server.local_addr().unwrap().port();
    let now = state.now();

    state
        .store
        .create_client(&OidcClient {
            client_id: CLIENT_ID.into(),
            display_name: "Benchmark".into(),
            redirect_uris: vec![REDIRECT.into()],
            is_public: true,
            secret_hash: None,
            created_at: now,
        })
        .await
        .unwrap();
    let user = User::new("bench@example.test", "Bench User", now);
    state.store.create_user(&user).await.unwrap();
    let session = Session {
        id: token_hash(&random_token().unwrap()),
        sid: store::new_id(),
        user_id: user.id.clone(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + Duration::hours(24),
        revoked_at: None,
    };
    state.store.create_session(&session).await.unwrap();

    // The codes, plus one for the self-check.
    let total = args.codes + 1;
    let codes: Vec<String> = (0..total).map(|_| random_token().unwrap()).collect();
    let template = Arc::new(AuthorizationCode {
        code_hash: String::new(),
        client_id: CLIENT_ID.into(),
        user_id: user.id.clone(),
        session_id: session.id.clone(),
        redirect_uri: REDIRECT.into(),
        code_challenge: Some(pkce_s256(VERIFIER)),
        nonce: Some("bench-nonce".into()),
        scope: "openid offline_access".into(),
        claims: None,
        auth_time: now,
        acr: Some("mfa".into()),
        amr: vec!["mfa".into(), "otp".into(), "pwd".into()],
        acrs: Vec::new(),
        // The store compares with the service clock; the run and the set-up fit in this.
        expires_at: now + Duration::hours(6),
        consumed_at: None,
        step_up_request: None,
    });
    // SQLite has one writer: concurrent inserts only queue on its lock. PostgreSQL takes them
    // in parallel (the store's pool holds 10 connections).
    let writers = args
        .writers
        .unwrap_or(if backend == "sqlite" { 1 } else { 10 })
        .max(1);
    let hashes: Arc<Vec<String>> = Arc::new(codes.iter().map(|c| token_hash(c)).collect());
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let state = state.clone();
        let hashes = hashes.clone();
        let template = template.clone();
        tasks.spawn(async move {
            let mut code = (*template).clone();
            for hash in hashes.iter().skip(w).step_by(writers) {
                code.code_hash.clone_from(hash);
                state.store.insert_code(&code).await.unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let took = started.elapsed().as_secs_f64();
    eprintln!(
        "bench_server: {backend}: inserted {total} codes in {took:.1} s ({:.0}/s, {writers} \
         writer(s))",
        total as f64 / took
    );

    let mut out = std::io::BufWriter::new(std::fs::File::create(&args.out).unwrap());
    for code in &codes[..args.codes] {
        writeln!(out, "{}", body(code)).unwrap();
    }
    out.flush().unwrap();
    drop(out);

    let base = format!("http://127.0.0.1:{port}");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server.serve(async move {
        let _ = stop_rx.await;
    }));

    // Self-check: the last code is redeemed as wrk will redeem the others.
    let check = reqwest::Client::new()
        .post(format!("{base}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body(&codes[args.codes]))
        .send()
        .await
        .unwrap();
    let status = check.status();
    let json: serde_json::Value = check.json().await.unwrap_or_default();
    if status != 200 || json.get("id_token").is_none() || json.get("refresh_token").is_none() {
        eprintln!("bench_server: self-check failed: {status} {json}");
        std::process::exit(1);
    }

    println!("{base}");
    std::io::stdout().flush().unwrap();

    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    let _ = stop_tx.send(());
    let _ = served.await;
    if let Some(db) = test_db {
        db.remove().await.unwrap();
    }
}
