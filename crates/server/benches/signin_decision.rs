//! The sign-in decision as the service runs it: `server::signin::flow::assess` over a real
//! `AppState` whose store (SQLite in a temporary directory) holds the tenant of
//! `crates/policy/benches/evaluate.rs` (100,000 users in nested groups, role assignments, N
//! Conditional Access policies; the generator is `crates/policy/benches/support/tenant.rs`).
//!
//! For each N in 10, 100, 1,000, 10,000 (the policies of a smaller N are a prefix of a larger
//! one's, so the store receives only the new ones), the bench:
//!
//! 1. stores the tenant with `Store::import_tenant` (one transaction) and calls
//!    `AppState::tenant_changed`;
//! 2. times the engine's rebuild as the service pays it (`AppState::engine` after
//!    `tenant_changed`: `Store::load_tenant` + `Engine::new`), 3 times, and prints it;
//! 3. warms the cache (the first `assess` after a change builds the engine) and checks each
//!    sign-in's verdict (printed);
//! 4. measures, with the engine cached (what every request after the first pays):
//!    - `assess_app/<N>`: user 12345 (nested groups, active Helpdesk Administrator, eligible
//!      Global Administrator) signing into popular app #3 (the client id) with a password and a
//!      TOTP code performed in this transaction;
//!    - `assess_context/<N>`: the same user's PIM step-up for authentication context `c1` (claims
//!      `acrs` c1, a `step_up_request`): the app and the context are assessed;
//!    - `assess_user_action/<N>`: the same user registering security info
//!      (`urn:user:registersecurityinfo`), which also reads the user's methods from the store;
//!    - `assess_other_app/<N>`: user 54321 (nested groups, no role) signing into an app no
//!      generated policy names;
//!    - `engine_decide/<N>` and `engine_evaluate_all/<N>`: the bare engine (the same cached
//!      `Engine`) on the `assess_app` sign-in: the indexed decision and the full scan.
//!
//! The service's engine cache lives 5 s of service clock (`ENGINE_TTL` in `state.rs`); the bench
//! owns the `Clock` and sets it back to the instant of the warm-up before each timed batch, so
//! that no batch pays a reload. A timed batch that nevertheless saw a rebuild is counted and
//! reported at the end.
//!
//! Run with `cargo bench -p server --bench signin_decision`. See BENCHMARKS.md ("Issue 9").

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_main, BenchmarkId, Criterion};
use policy::session::{AuthenticationSession, PerformedMethod};
use policy::signin::Target;
use policy::{Engine, SignIn, Tenant};
use server::config::Config;
use server::oidc::request::{validate, AuthorizationRequest, AuthorizeParams};
use server::signin::flow::{assess, Assessment, Circumstances, Subject, Verdict};
use server::state::{AppState, Clock};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};
use store::{OidcClient, SessionAuthEvent, Store};
use tokio::runtime::Runtime;

#[path = "../../policy/benches/support/tenant.rs"]
mod tenant;
use tenant::{app_id, directory, policies, user_id, BENCH_APP, BENCH_USER, OTHER_APP, QUIET_USER};

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
const REDIRECT: &str = "http://127.0.0.1:9/cb";
const USER_AGENT: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131";
/// How many times the engine's rebuild is timed for each N.
const REBUILDS: usize = 3;

/// One sign-in as `assess` sees it.
struct Case {
    name: &'static str,
    user: String,
    request: AuthorizationRequest,
    events: Vec<SessionAuthEvent>,
    started: DateTime<Utc>,
    transaction: String,
}

impl Case {
    fn subject<'a>(&'a self, circumstances: &'a Circumstances) -> Subject<'a> {
        Subject {
            user_id: &self.user,
            events: &self.events,
            transaction_started_at: self.started,
            transaction_id: Some(&self.transaction),
            request: &self.request,
            circumstances,
            activating_role: None,
        }
    }
}

/// A validated authorization request for `client`, as `/authorize` builds it.
fn request(client: &str, claims: Option<&str>, step_up: Option<&str>) -> AuthorizationRequest {
    let registered = OidcClient {
        client_id: client.to_string(),
        display_name: "Bench app".into(),
        redirect_uris: vec![REDIRECT.into()],
        is_public: true,
        secret_hash: None,
        created_at: Utc::now(),
    };
    let params = AuthorizeParams {
        response_type: Some("code".into()),
        client_id: Some(client.to_string()),
        redirect_uri: Some(REDIRECT.into()),
        scope: Some("openid profile offline_access".into()),
        state: Some("st4te".into()),
        nonce: Some("n0nce".into()),
        code_challenge: Some(server::web::pkce_s256(
            "0123456789abcdef0123456789abcdef0123456789ab",
        )),
        code_challenge_method: Some("S256".into()),
        claims: claims.map(str::to_string),
        step_up_request: step_up.map(str::to_string),
        ..AuthorizeParams::default()
    };
    validate(&params, Some(&registered)).expect("a valid authorization request")
}

/// The session's events: a password 90 s and a TOTP code 60 s before `now`, both performed in
/// the transaction (started 120 s before `now`). Built from JSON so that fields added later with
/// defaults do not break the bench.
fn events(user: &str, transaction: &str, now: DateTime<Utc>) -> Vec<SessionAuthEvent> {
    [("password", 90), ("softwareOath", 60)]
        .into_iter()
        .map(|(method, ago)| {
            serde_json::from_value(serde_json::json!({
                "id": format!("event-{method}-{user}"),
                "sessionId": format!("session-{user}"),
                "method": method,
                "performedAt": now - Duration::seconds(ago),
                "aaguid": null,
                "userVerified": false,
                "transactionId": transaction,
                "credentialId": format!("credential-{method}-{user}"),
                "registration": null,
            }))
            .expect("a session event")
        })
        .collect()
}

fn cases(now: DateTime<Utc>) -> Vec<Case> {
    let case = |name, user: u64, request| {
        let user = user_id(user);
        let transaction = format!("transaction-{name}");
        Case {
            name,
            events: events(&user, &transaction, now),
            user,
            request,
            started: now - Duration::seconds(120),
            transaction,
        }
    };
    let app = app_id(BENCH_APP);
    let mut action = request(&app, None, None);
    action.user_action = Some(server::signin::flow::REGISTER_SECURITY_INFO.into());
    vec![
        case("assess_app", BENCH_USER, request(&app, None, None)),
        case(
            "assess_context",
            BENCH_USER,
            request(
                &app,
                Some(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#),
                Some("bench-activation-request"),
            ),
        ),
        case("assess_user_action", BENCH_USER, action),
        case(
            "assess_other_app",
            QUIET_USER,
            request(&app_id(OTHER_APP), None, None),
        ),
    ]
}

/// The `assess_app` sign-in as the bare engine takes it.
fn engine_sign_in(case: &Case, circumstances: &Circumstances) -> SignIn {
    SignIn {
        user_id: case.user.clone(),
        target: Target::Applications(vec![case.request.client_id.clone()]),
        conditions: circumstances.conditions(),
        session: AuthenticationSession {
            transaction_started_at: Some(case.started),
            methods: case
                .events
                .iter()
                .map(|e| PerformedMethod::new(e.method.clone(), e.performed_at))
                .collect(),
            mfa_claimed_at: None,
        },
        activating_role: None,
    }
}

fn describe(a: &Assessment) -> String {
    let applied = a.applied_policies.as_array().map_or(0, Vec::len);
    match &a.verdict {
        Verdict::Grant(g) => format!("grant (acr {}, {applied} policies logged)", g.acr),
        Verdict::Challenge(needs) => {
            format!(
                "challenge ({} needs, {applied} policies logged)",
                needs.len()
            )
        }
        Verdict::Block(why) => format!(
            "block ({}…; {applied} policies logged)",
            why.chars().take(70).collect::<String>()
        ),
    }
}

fn median(mut v: Vec<StdDuration>) -> StdDuration {
    v.sort();
    v[v.len() / 2]
}

/// The policies `from..to` of the generator, as the store takes them.
fn policy_slice(from: usize, to: usize) -> Tenant {
    Tenant {
        conditional_access_policies: policies(to)
            .into_iter()
            .skip(from)
            .map(|p| serde_json::from_value(p).unwrap())
            .collect(),
        ..Tenant::default()
    }
}

fn benches(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::default();
    let state = rt.block_on(async {
        let store = Store::open(&format!(
            "sqlite://{}",
            dir.path().join("portcullis.db").display()
        ))
        .await
        .unwrap();
        AppState::new(
            store,
            Config::default(),
            "http://localhost:8080".into(),
            clock.clone(),
        )
        .await
        .unwrap()
    });
    let circumstances = Circumstances {
        ip: Some([127, 0, 0, 1].into()),
        user_agent: Some(USER_AGENT.into()),
    };
    let rebuilds_seen = AtomicUsize::new(0);
    let mut stored = 0usize;

    let configure = |g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>| {
        g.sample_size(50)
            .warm_up_time(StdDuration::from_secs(1))
            .measurement_time(StdDuration::from_secs(3));
    };

    for n in SIZES {
        // 1. The tenant into the store: the directory once, then only the new policies.
        let started = Instant::now();
        rt.block_on(async {
            let mut t = if stored == 0 {
                directory()
            } else {
                Tenant::default()
            };
            t.conditional_access_policies = policy_slice(stored, n).conditional_access_policies;
            state.store.import_tenant(&t, state.now()).await.unwrap();
        });
        eprintln!(
            "N={n:>5}: stored {} policies{} in {:.2} s (Store::import_tenant, one transaction)",
            n - stored,
            if stored == 0 {
                " and the 100,000-user directory"
            } else {
                ""
            },
            started.elapsed().as_secs_f64()
        );
        stored = n;

        // 2. The rebuild the service pays after a change (and every ENGINE_TTL).
        let mut times = Vec::new();
        for _ in 0..REBUILDS {
            state.tenant_changed();
            let started = Instant::now();
            rt.block_on(state.engine()).unwrap();
            times.push(started.elapsed());
        }
        let (load, build) = rt.block_on(async {
            let started = Instant::now();
            let tenant = state.store.load_tenant(state.now()).await.unwrap();
            let load = started.elapsed();
            let started = Instant::now();
            black_box(Engine::new(tenant));
            (load, started.elapsed())
        });
        eprintln!(
            "N={n:>5}: engine rebuild (AppState::engine after tenant_changed) median {:.0} ms of \
             {REBUILDS} [min {:.0}, max {:.0}]; alone: Store::load_tenant {:.0} ms, Engine::new \
             {:.0} ms",
            median(times.clone()).as_secs_f64() * 1e3,
            times.iter().min().unwrap().as_secs_f64() * 1e3,
            times.iter().max().unwrap().as_secs_f64() * 1e3,
            load.as_secs_f64() * 1e3,
            build.as_secs_f64() * 1e3,
        );

        // 3. Warm: the cache is fresh from here, on the service clock pinned below.
        state.tenant_changed();
        let warm_from = clock.now();
        let now = warm_from;
        let cases = cases(now);
        for case in &cases {
            let a = rt
                .block_on(assess(&state, &case.subject(&circumstances), now))
                .unwrap();
            eprintln!("N={n:>5}: {} -> {}", case.name, describe(&a));
        }
        let engine = rt.block_on(state.engine()).unwrap();
        // After the last catch-up: the cache counts from it (the engine that follows the store's
        // change log asks the store again once a second of service clock has passed, as it
        // does in production; the one built on a timer lived 5 s).
        let anchor = clock.now();
        // Sets the service clock back to just after the build, so the cached engine stays fresh
        // for the whole batch, and says whether a batch saw a rebuild all the same.
        let pinned = |run: &mut dyn FnMut() -> StdDuration| {
            clock.advance(anchor - clock.now());
            let before = rt.block_on(state.engine()).unwrap();
            let took = run();
            let after = rt.block_on(state.engine()).unwrap();
            if !Arc::ptr_eq(&before, &after) {
                rebuilds_seen.fetch_add(1, Ordering::Relaxed);
            }
            took
        };

        // 4. The measurements.
        for case in &cases {
            let subject = case.subject(&circumstances);
            let mut g = c.benchmark_group(case.name);
            configure(&mut g);
            g.bench_function(BenchmarkId::from_parameter(n), |b| {
                b.iter_custom(|iters| {
                    pinned(&mut || {
                        rt.block_on(async {
                            let started = Instant::now();
                            for _ in 0..iters {
                                black_box(
                                    assess(&state, black_box(&subject), black_box(now))
                                        .await
                                        .unwrap(),
                                );
                            }
                            started.elapsed()
                        })
                    })
                })
            });
            g.finish();
        }
        let app = engine_sign_in(&cases[0], &circumstances);
        let mut g = c.benchmark_group("engine_decide");
        configure(&mut g);
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| engine.decide(black_box(&app), black_box(now)).unwrap())
        });
        g.finish();
        let mut g = c.benchmark_group("engine_evaluate_all");
        configure(&mut g);
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                engine
                    .evaluate_all(black_box(&app), black_box(now))
                    .unwrap()
            })
        });
        g.finish();
    }
    eprintln!(
        "timed batches that saw an engine rebuild: {}",
        rebuilds_seen.load(Ordering::Relaxed)
    );
    rt.block_on(state.store.close());
}

/// The benchmark group (criterion's macro generates an undocumented `pub fn`).
mod group {
    #![allow(missing_docs)]
    use super::benches;
    criterion::criterion_group!(signin_decision, benches);
}

criterion_main!(group::signin_decision);
