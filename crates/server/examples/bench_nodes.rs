//! Several nodes on one PostgreSQL, measured: sign-ins and activations per second with 1, 2 and 3
//! nodes in one run, the time from a commit to its effect on another node's Conditional Access
//! decisions, and the time a node killed with `kill -9` takes to serve again.
//!
//! ```sh
//! scripts/with-postgres cargo run --release -p server --example bench_nodes
//! ```
//!
//! Each node is this program started again as a process of its own (`common::nodes`), running
//! `server::Server` as `portcullis serve` does, on one database and one issuer; the load comes
//! from this process over loopback. Passwords are hashed cheaply (argon2id at 1 MiB, 1
//! iteration, as in every benchmark here): the figures are about the nodes, not argon2.
//!
//! - **Sign-ins**: `--workers` clients (default 6) each repeat the browser's password sign-in
//!   (authorize, username, password, code redemption at `/token`) for `--seconds` (default 8),
//!   spreading over the first k nodes in turn.
//! - **Activations**: the same workers each take eligible Security Readers from a queue (150 per
//!   k) and send `selfActivate` with a justification (the role's settings ask for no step-up
//!   here), to the first k nodes in turn; every answer must be `201 Provisioned`.
//! - **Commit to effect**: a role is given or removed in the store (as any node's write or the
//!   CLI's would be) and node 2's What-If (its engine) is asked every millisecond until the
//!   report-only policy on that role applies, or no longer does: 100 trials.
//! - **Recovery**: node 3 is killed with SIGKILL and started again, 5 times: the time until it
//!   answers `/healthz`, and until a sign-in through it succeeds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::nodes::{assignment, call, free_port, sign_in, Node};
use policy::directory::AssignmentStatus;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::testing::{Backend, TestDatabase};
use store::{Store, User};

const PASSWORD: &str = "correct horse battery staple 93";
const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
const REQUESTS: &str = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests";
const EVALUATE: &str = "/v1.0/identity/conditionalAccess/evaluate";
const ACTIVATIONS_PER_RUN: usize = 150;

fn main() {
    common::nodes::serve_node_from_env();
    if std::env::var(common::nodes::NODE_VAR).is_ok() {
        return;
    }
    let arg = |name: &str, default: u64| -> u64 {
        let args: Vec<String> = std::env::args().collect();
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().unwrap())
    };
    let workers = arg("--workers", 6) as usize;
    let seconds = arg("--seconds", 8);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(workers, Duration::from_secs(seconds)));
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn user(store: &Store, upn: &str) -> User {
    common::nodes::user_with_password(store, upn, PASSWORD).await
}

/// Prints one `RESULT` line: the count, the rate over `wall`, p50 and p99.
fn report(what: &str, nodes: usize, mut latencies: Vec<Duration>, wall: Duration) {
    latencies.sort();
    println!(
        "RESULT what={what} nodes={nodes} n={} rate={:.1}/s p50_ms={:.1} p99_ms={:.1}",
        latencies.len(),
        latencies.len() as f64 / wall.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
}

async fn run(workers: usize, seconds: Duration) {
    let db = TestDatabase::create(Backend::Postgres).await.unwrap();
    let seed = Store::open(&db.url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::nodes::app_client(&seed).await;
    let admin = user(&seed, "admin@example.test").await;
    seed.assign_role(&assignment(
        &admin,
        GLOBAL_ADMINISTRATOR,
        AssignmentStatus::Active,
    ))
    .await
    .unwrap();
    let mut signers = Vec::new();
    for i in 0..workers {
        signers.push(user(&seed, &format!("signer{i}@example.test")).await);
    }
    let mut readers = Vec::new();
    for i in 0..3 * ACTIVATIONS_PER_RUN {
        let u = user(&seed, &format!("reader{i}@example.test")).await;
        seed.assign_role(&assignment(&u, SECURITY_READER, AssignmentStatus::Eligible))
            .await
            .unwrap();
        readers.push(u);
    }
    let watched = user(&seed, "watched@example.test").await;
    // A report-only policy on Security Readers: What-If says whether it applies to `watched`.
    let tenant: policy::tenant::Tenant = serde_json::from_value(json!({
        "conditionalAccessPolicies": [{
            "id": "7a1c0000-0000-4000-8000-000000000001",
            "displayName": "Security Readers: report only",
            "state": "enabledForReportingButNotEnforced",
            "conditions": {
                "users": { "includeRoles": [SECURITY_READER] },
                "applications": { "includeApplications": ["All"] },
                "clientAppTypes": ["all"]
            },
            "grantControls": { "operator": "OR", "builtInControls": ["mfa"] }
        }]
    }))
    .unwrap();
    seed.import_tenant(&tenant, chrono::Utc::now())
        .await
        .unwrap();

    let exe = std::env::current_exe()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let issuer = format!("http://localhost:{}", ports[0]);
    let names = ["1", "2", "3"];
    let mut nodes: Vec<Node> = (0..3)
        .map(|i| {
            let (exe, db, issuer, path) = (
                exe.clone(),
                db.url.clone(),
                issuer.clone(),
                dir.path().to_path_buf(),
            );
            let (port, name) = (ports[i], names[i]);
            std::thread::spawn(move || Node::start(&[exe], name, port, &db, &issuer, &path))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let http = reqwest::Client::new();
    let admin_token = sign_in(&bases[0], &issuer, "admin@example.test", PASSWORD)
        .await
        .unwrap();
    let (status, body) = call(
        &http,
        reqwest::Method::PATCH,
        format!("{}/v1.0/policies/roleManagementPolicies/DirectoryRole_{SECURITY_READER}/rules/Enablement_EndUser_Assignment", bases[0]),
        &admin_token,
        Some(json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
            "enabledRules": ["Justification"]
        })),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    println!(
        "bench_nodes: 3 nodes up; {workers} workers, {} s per sign-in run, {ACTIVATIONS_PER_RUN} activations per run",
        seconds.as_secs()
    );

    // Tokens of the readers (setup, not timed).
    let mut reader_tokens = Vec::new();
    for (i, r) in readers.iter().enumerate() {
        let token = sign_in(&bases[i % 3], &issuer, &r.user_principal_name, PASSWORD)
            .await
            .unwrap();
        reader_tokens.push(token);
    }

    for k in 1..=3 {
        // Sign-ins.
        let latencies = Arc::new(Mutex::new(Vec::new()));
        let turn = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for signer in signers.iter().cloned() {
            let (bases, issuer, latencies, turn) = (
                bases[..k].to_vec(),
                issuer.clone(),
                latencies.clone(),
                turn.clone(),
            );
            tasks.push(tokio::spawn(async move {
                while started.elapsed() < seconds {
                    let node = &bases[turn.fetch_add(1, Ordering::Relaxed) % bases.len()];
                    let t = Instant::now();
                    sign_in(node, &issuer, &signer.user_principal_name, PASSWORD)
                        .await
                        .expect("a sign-in failed");
                    latencies.lock().unwrap().push(t.elapsed());
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let latencies = std::mem::take(&mut *latencies.lock().unwrap());
        report("signins", k, latencies, started.elapsed());

        // Activations.
        let queue: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(
            reader_tokens[(k - 1) * ACTIVATIONS_PER_RUN..k * ACTIVATIONS_PER_RUN].to_vec(),
        ));
        let latencies = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..workers {
            let (bases, queue, latencies, turn, http) = (
                bases[..k].to_vec(),
                queue.clone(),
                latencies.clone(),
                turn.clone(),
                http.clone(),
            );
            tasks.push(tokio::spawn(async move {
                loop {
                    let Some(token) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let node = &bases[turn.fetch_add(1, Ordering::Relaxed) % bases.len()];
                    let t = Instant::now();
                    let (status, body) = call(
                        &http,
                        reqwest::Method::POST,
                        format!("{node}{REQUESTS}"),
                        &token,
                        Some(json!({
                            "action": "selfActivate",
                            "principalId": "",
                            "roleDefinitionId": SECURITY_READER,
                            "directoryScopeId": "/",
                            "justification": "load test",
                            "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": "PT1H" } }
                        })),
                    )
                    .await
                    .expect("a node did not answer");
                    assert_eq!(status, 201, "{body}");
                    assert_eq!(body["status"], "Provisioned", "{body}");
                    latencies.lock().unwrap().push(t.elapsed());
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let latencies = std::mem::take(&mut *latencies.lock().unwrap());
        report("activations", k, latencies, started.elapsed());
    }

    // Commit to effect, on node 2.
    let evaluate = json!({
        "signInIdentity": { "@odata.type": "#microsoft.graph.userSignIn", "userId": watched.id },
        "signInContext": { "@odata.type": "#microsoft.graph.applicationContext", "includeApplications": ["00000003-0000-0ff1-ce00-000000000000"] },
        "signInConditions": { "clientAppType": "browser" },
        "appliedPoliciesOnly": false
    });
    let applies = |answer: &Value| -> bool {
        answer["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["policyApplies"] == true)
    };
    let mut effects = Vec::new();
    let mut current: Option<String> = None;
    for trial in 0..100 {
        // Node 2 has just been asked: its own poll would not ask the store for a second.
        let (status, answer) = call(
            &http,
            reqwest::Method::POST,
            format!("{}{EVALUATE}", bases[1]),
            &admin_token,
            Some(evaluate.clone()),
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "{answer}");
        assert_eq!(applies(&answer), current.is_some(), "trial {trial}");
        match current.take() {
            None => {
                let grant = assignment(&watched, SECURITY_READER, AssignmentStatus::Active);
                seed.assign_role(&grant).await.unwrap();
                current = Some(grant.id);
            }
            Some(id) => seed.remove_role_assignment(&id).await.unwrap(),
        }
        let committed = Instant::now();
        loop {
            let (_, answer) = call(
                &http,
                reqwest::Method::POST,
                format!("{}{EVALUATE}", bases[1]),
                &admin_token,
                Some(evaluate.clone()),
            )
            .await
            .unwrap();
            if applies(&answer) == current.is_some() {
                effects.push(committed.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    effects.sort();
    println!(
        "RESULT what=commit_to_effect n={} p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
        effects.len(),
        percentile(&effects, 0.5),
        percentile(&effects, 0.99),
        effects.last().unwrap().as_secs_f64() * 1000.0
    );

    // Recovery after kill -9.
    let mut to_health = Vec::new();
    let mut to_sign_in = Vec::new();
    for _ in 0..5 {
        nodes[2].kill();
        let started = Instant::now();
        let healthy = nodes[2].restart();
        to_health.push(healthy);
        sign_in(&bases[2], &issuer, "admin@example.test", PASSWORD)
            .await
            .expect("the restarted node signs in");
        to_sign_in.push(started.elapsed());
    }
    to_health.sort();
    to_sign_in.sort();
    println!(
        "RESULT what=recovery n=5 healthz_p50_ms={:.0} healthz_max_ms={:.0} first_signin_p50_ms={:.0} first_signin_max_ms={:.0}",
        percentile(&to_health, 0.5),
        to_health.last().unwrap().as_secs_f64() * 1000.0,
        percentile(&to_sign_in, 0.5),
        to_sign_in.last().unwrap().as_secs_f64() * 1000.0
    );
    drop(nodes);
    seed.close().await;
    db.remove().await.unwrap();
}
