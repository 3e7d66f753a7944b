//! Crash safety. Nodes here are separate processes (this test binary started again as
//! `node_process`, which runs the same `server::Server` as `portcullis serve`), so that
//! `kill -9` ends one for real: its connections drop mid-request, its transactions abort, its
//! advisory locks go.
//!
//! On PostgreSQL, three nodes serve one database and one issuer. The test drives policy writes
//! and password sign-ins at all three and activations with short durations, kills one node with
//! `SIGKILL` mid-load, lets the activations' end pass while it is down, and restarts it. Then:
//! - every write acknowledged with a 2xx is stored, with its audit entry;
//! - nothing is half-written: no policy without its audit entry, no entry without its policy;
//! - every acknowledged sign-in is in the sign-in log;
//! - each activation that ended during the outage was closed exactly once (one expiry entry);
//! - the audit chain verifies, and one signing key is active;
//! - the restarted node serves again (its recovery time is printed).
//!
//! On SQLite, one node serves; it is killed mid-load and restarted the same way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::nodes::{call, free_port, Node};
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::testing::{Backend, TestDatabase, TestDatabaseError};
use store::{ConfigKind, Store, User};

const PASSWORD: &str = "correct horse battery staple 93";
const REQUESTS: &str = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests";
const POLICIES: &str = "/v1.0/identity/conditionalAccess/policies";
/// Security Reader: not privileged, so its settings may be anything.
const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
const EXPIRED: &str = "Remove member from role (PIM activation expired)";

/// A node: what `portcullis serve` runs, in a process of its own, until it is killed.
#[test]
#[ignore = "a node of the crash tests: they start it as a child process"]
fn node_process() {
    common::nodes::serve_node_from_env();
}

/// How the crash tests start a node: this test binary, running `node_process` alone.
fn launch() -> Vec<String> {
    let exe = std::env::current_exe()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    ["node_process", "--exact", "--ignored", "--nocapture"]
        .iter()
        .fold(vec![exe], |mut v, a| {
            v.push((*a).to_string());
            v
        })
}

async fn sign_in(node: &str, issuer: &str, upn: &str) -> Option<String> {
    common::nodes::sign_in(node, issuer, upn, PASSWORD).await
}

fn policy(name: &str) -> Value {
    json!({
        "displayName": name,
        "state": "disabled",
        "conditions": {
            "users": { "includeUsers": ["None"] },
            "applications": { "includeApplications": ["None"] },
            "clientAppTypes": ["all"]
        },
        "grantControls": { "operator": "OR", "builtInControls": ["block"] }
    })
}

fn activation(duration: &str) -> Value {
    json!({
        "action": "selfActivate",
        "principalId": "",
        "roleDefinitionId": SECURITY_READER,
        "directoryScopeId": "/",
        "justification": "crash test",
        "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": duration } }
    })
}

/// What the load was told was done.
#[derive(Default)]
struct Acknowledged {
    /// Policy id → display name.
    policies: BTreeMap<String, String>,
    /// Sign-ins that ended with tokens, by user id.
    sign_ins: BTreeMap<String, u64>,
    /// Activation request ids.
    activations: BTreeSet<String>,
    /// `409 ConcurrentChange` answers (sent again by a real client).
    concurrent: u64,
    /// Other answers that were neither a 2xx nor a dropped connection.
    refused: Vec<String>,
}

/// Creates policies at `base` until `stop`, noting those acknowledged.
async fn write_policies(
    n: usize,
    base: String,
    token: String,
    acked: Arc<Mutex<Acknowledged>>,
    stop: Arc<AtomicBool>,
) {
    let http = reqwest::Client::new();
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let name = format!("crash {n}-{i}");
        let url = format!("{base}{POLICIES}");
        match call(
            &http,
            reqwest::Method::POST,
            url,
            &token,
            Some(policy(&name)),
        )
        .await
        {
            Some((201, body)) => {
                let id = body["id"].as_str().unwrap().to_string();
                acked.lock().unwrap().policies.insert(id, name);
            }
            // Another node's write landed between this one's check and its write, eight
            // times: nothing written, and the caller is told to send it again.
            Some((409, body)) if body["error"]["code"] == "ConcurrentChange" => {
                acked.lock().unwrap().concurrent += 1;
            }
            Some((status, body)) => {
                acked
                    .lock()
                    .unwrap()
                    .refused
                    .push(format!("{status} {body}"));
            }
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Signs `signer` in at `base` until `stop`, counting the sign-ins that ended with tokens.
async fn sign_in_repeatedly(
    base: String,
    issuer: String,
    signer: User,
    acked: Arc<Mutex<Acknowledged>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::SeqCst) {
        match sign_in(&base, &issuer, &signer.user_principal_name).await {
            Some(_) => {
                *acked
                    .lock()
                    .unwrap()
                    .sign_ins
                    .entry(signer.id.clone())
                    .or_default() += 1;
            }
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn user(store: &Store, upn: &str) -> User {
    common::nodes::user_with_password(store, upn, PASSWORD).await
}

async fn role(store: &Store, user: &User, role: &str, status: AssignmentStatus) {
    let granted = common::nodes::assignment(user, role, status);
    store.assign_role(&granted).await.unwrap();
}

/// The whole run on `backend` with `nodes` nodes; the one at index `victim` is killed.
async fn crash_under_load(backend: Backend, nodes: usize, victim: usize) {
    let db = match TestDatabase::create(backend).await {
        Ok(db) => db,
        Err(TestDatabaseError::Skipped) => return,
        Err(e) => panic!("test database: {e}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let seed = Store::open(&db.url).await.unwrap();
    let ports: Vec<u16> = (0..nodes).map(|_| free_port()).collect();
    let issuer = format!("http://localhost:{}", ports[0]);
    common::nodes::app_client(&seed).await;
    let admin = user(&seed, "admin@example.test").await;
    role(
        &seed,
        &admin,
        GLOBAL_ADMINISTRATOR,
        AssignmentStatus::Active,
    )
    .await;
    let mut eligible = Vec::new();
    for i in 0..6 {
        let u = user(&seed, &format!("reader{i}@example.test")).await;
        role(&seed, &u, SECURITY_READER, AssignmentStatus::Eligible).await;
        eligible.push(u);
    }
    let signers: Vec<User> = {
        let mut v = Vec::new();
        for i in 0..nodes {
            v.push(user(&seed, &format!("signer{i}@example.test")).await);
        }
        v
    };

    let names = ["a", "b", "c"];
    let mut running: Vec<Node> = ports
        .iter()
        .enumerate()
        .map(|(i, port)| {
            let db_url = db.url.clone();
            let issuer = issuer.clone();
            let path = dir.path().to_path_buf();
            let port = *port;
            let name = names[i];
            std::thread::spawn(move || Node::start(&launch(), name, port, &db_url, &issuer, &path))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let bases: Vec<String> = running.iter().map(|n| n.base.clone()).collect();

    // Set-up through the first node: the administrator's token, and Security Reader's settings
    // (a justification, no MFA claim).
    let admin_token = sign_in(&bases[0], &issuer, "admin@example.test")
        .await
        .expect("the administrator signs in");
    let http = reqwest::Client::new();
    let (status, body) = call(
        &http,
        reqwest::Method::PATCH,
        format!(
            "{}/v1.0/policies/roleManagementPolicies/DirectoryRole_{SECURITY_READER}/rules/Enablement_EndUser_Assignment",
            bases[0]
        ),
        &admin_token,
        Some(json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
            "enabledRules": ["Justification"]
        })),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let mut reader_tokens = Vec::new();
    for (i, u) in eligible.iter().enumerate() {
        let token = sign_in(&bases[i % nodes], &issuer, &u.user_principal_name)
            .await
            .expect("a reader signs in");
        reader_tokens.push(token);
    }

    // The load: policy writes and sign-ins at every node until told to stop.
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for (n, base) in bases.iter().enumerate() {
        load.push(tokio::spawn(write_policies(
            n,
            base.clone(),
            admin_token.clone(),
            acked.clone(),
            stop.clone(),
        )));
        load.push(tokio::spawn(sign_in_repeatedly(
            base.clone(),
            issuer.clone(),
            signers[n].clone(),
            acked.clone(),
            stop.clone(),
        )));
    }
    // Activations that end while the victim is down: each reader at a node of its own.
    let activated_at = Instant::now();
    for (i, token) in reader_tokens.iter().enumerate() {
        let url = format!("{}{REQUESTS}", bases[i % nodes]);
        match call(
            &http,
            reqwest::Method::POST,
            url,
            token,
            Some(activation("PT4S")),
        )
        .await
        {
            Some((201, body)) => {
                assert_eq!(body["status"], "Provisioned", "{body}");
                let id = body["id"].as_str().unwrap().to_string();
                acked.lock().unwrap().activations.insert(id);
            }
            other => panic!("activation refused: {other:?}"),
        }
    }

    // Mid-load, the victim goes: SIGKILL, no shutdown of any kind.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before_kill = acked.lock().unwrap().policies.len();
    running[victim].kill();
    let killed_at = Instant::now();
    // The load goes on at the others (on SQLite there are none) past the activations' end.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    let ends_passed = activated_at.elapsed() > Duration::from_secs(4);
    assert!(ends_passed, "the activations' end passed during the outage");
    // Down for a while longer, so that the surviving nodes' expiry job (every 5 s) sees the
    // ends; on SQLite no node runs until the restart, whose first tick must do it.
    tokio::time::sleep(Duration::from_secs(if nodes > 1 { 6 } else { 1 })).await;
    let downtime = killed_at.elapsed();
    let recovery = running[victim].restart();
    eprintln!(
        "crash test ({backend:?}, {nodes} node(s)): node {} down {:.1} s, back serving {} ms \
         after its restart",
        names[victim],
        downtime.as_secs_f64(),
        recovery.as_millis()
    );

    // It serves again: a sign-in and a write through it.
    let victim_base = &bases[victim];
    let token = sign_in(victim_base, &issuer, "admin@example.test")
        .await
        .expect("the restarted node signs in");
    let (status, body) = call(
        &http,
        reqwest::Method::POST,
        format!("{victim_base}{POLICIES}"),
        &token,
        Some(policy("after the restart")),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{body}");

    // Every activation closed, once, by whichever node ran the job.
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.refused.is_empty(),
        "refused answers: {:?}",
        acked.refused
    );
    assert!(before_kill > 0, "no write was acknowledged before the kill");
    let waited = Instant::now();
    let expiries = loop {
        let entries: Vec<store::AuditRecord> = all_audits(&seed)
            .await
            .into_iter()
            .filter(|a| a.entry.activity_display_name == EXPIRED)
            .collect();
        if entries.len() >= acked.activations.len() || waited.elapsed() > Duration::from_secs(15) {
            break entries;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut closed_requests = BTreeMap::<String, u32>::new();
    for e in &expiries {
        let request = e.entry.correlation_id.clone();
        *closed_requests
            .entry(request.expect("the expiry names its request"))
            .or_default() += 1;
    }
    for id in &acked.activations {
        assert_eq!(
            closed_requests.get(id),
            Some(&1),
            "activation {id} was closed {:?} times",
            closed_requests.get(id)
        );
        let record = seed.get_schedule_request(id).await.unwrap();
        assert_eq!(record.status().to_string(), "Revoked", "{id}");
    }
    assert_eq!(closed_requests.len(), acked.activations.len());

    // Every acknowledged policy is stored as acknowledged, with its one audit entry; every
    // policy the load made (acknowledged or not: the kill may have cut the answer, not the
    // commit) has its audit entry, and every entry its policy.
    let audits = all_audits(&seed).await;
    let mut audited = BTreeMap::<String, u32>::new();
    for a in audits
        .iter()
        .filter(|a| a.entry.activity_display_name == "Add conditional access policy")
    {
        let target = a.entry.target_resources[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        *audited.entry(target).or_default() += 1;
    }
    for (id, name) in &acked.policies {
        let stored: Value = seed.get_config(ConfigKind::Policy, id).await.unwrap();
        assert_eq!(stored["displayName"], name.as_str(), "{id}");
        assert_eq!(
            audited.get(id),
            Some(&1),
            "policy {id} ({name}) audited once"
        );
    }
    let tenant = seed.load_tenant(chrono::Utc::now()).await.unwrap();
    let made: Vec<_> = tenant
        .conditional_access_policies
        .iter()
        .filter(|p| p.display_name.starts_with("crash "))
        .collect();
    for p in &made {
        assert_eq!(
            audited.get(&p.id),
            Some(&1),
            "stored policy {} audited once",
            p.id
        );
    }
    for id in audited.keys() {
        assert!(
            tenant
                .conditional_access_policies
                .iter()
                .any(|p| &p.id == id),
            "an audit entry for policy {id}, which is not stored"
        );
    }
    let unacknowledged = made.len() - acked.policies.len().min(made.len());

    // Every acknowledged sign-in is in the log.
    for (user_id, count) in &acked.sign_ins {
        let logged = seed
            .query_signins(&store::SignInQuery {
                user_id: Some(user_id.clone()),
                result: Some(store::SignInResult::Success),
                limit: 10_000,
                ..store::SignInQuery::default()
            })
            .await
            .unwrap()
            .len() as u64;
        assert!(
            logged >= *count,
            "{count} sign-ins acknowledged, {logged} logged"
        );
    }

    // One chain, one active key.
    let verified = seed.verify_audit_chain().await.unwrap();
    assert!(verified.is_intact(), "{verified:?}");
    let keys = seed.list_signing_keys().await.unwrap();
    assert_eq!(keys.iter().filter(|k| k.retired_at.is_none()).count(), 1);
    eprintln!(
        "crash test ({backend:?}): {} policies and {} sign-ins acknowledged ({} written \
         before the kill), {} more committed whose answer the kill cut, {} activations closed \
         once each, {} audit entries in one chain; {} writes answered 409 ConcurrentChange",
        acked.policies.len(),
        acked.sign_ins.values().sum::<u64>(),
        before_kill,
        unacknowledged,
        acked.activations.len(),
        verified.entries,
        acked.concurrent
    );

    drop(running);
    seed.close().await;
    db.remove().await.unwrap();
}

async fn all_audits(store: &Store) -> Vec<store::AuditRecord> {
    store
        .query_audits(&store::AuditQuery {
            limit: 100_000,
            ..store::AuditQuery::default()
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_postgresql_lose_nothing_when_one_is_killed() {
    crash_under_load(Backend::Postgres, 3, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_on_sqlite_loses_nothing_when_killed() {
    crash_under_load(Backend::Sqlite, 1, 0).await;
}
