//! `POST /v1.0/identity/conditionalAccess/evaluate` over HTTP: every documented What-If example
//! (`docs/examples/requests`) gets the same answer from the running service, over the example
//! tenant imported into its store, as `portcullis whatif` computes offline from the file; bad
//! bodies and times are refused; only Conditional Access readers ask. Runs on SQLite and on
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Utc};
use common::graph::{holder, post, signed_in};
use common::Env;
use policy::{what_if, Engine, EvaluateRequest};
use serde_json::{json, Value};
use std::path::PathBuf;

on_both_backends!(the_service_answers_what_if_as_the_cli_does);

const EVALUATE: &str = "/v1.0/identity/conditionalAccess/evaluate";
const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
const AT: &str = "2026-11-21T09:31:00Z";

fn docs() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/examples"))
}

async fn the_service_answers_what_if_as_the_cli_does(env: &Env) {
    // Tokens first: the example tenant's policies would ask these users for more than a password.
    let (_, reader) = holder(env, "reader@example.test", SECURITY_READER).await;
    let (_, nobody) = signed_in(env, "nobody@example.test").await;
    let tenant = import::load(&docs().join("tenant.json")).unwrap().tenant;
    env.state
        .import_tenant(
            &tenant.clone().into(),
            "docs/examples/tenant.json",
            "tester",
            app::conditional_access::LockoutGuard::Enforce,
        )
        .await
        .unwrap();
    let offline = Engine::new(tenant);
    let at: DateTime<Utc> = AT.parse().unwrap();

    let mut compared = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(docs().join("requests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        let body: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let request: EvaluateRequest = serde_json::from_value(body.clone()).unwrap();
        let expected = serde_json::to_value(what_if(&offline, &request, at).unwrap()).unwrap();
        let (status, answer) = post(env, &format!("{EVALUATE}?at={AT}"), &reader, body).await;
        assert_eq!(status, 200, "{}: {answer}", file.display());
        assert_eq!(answer, expected, "{}", file.display());
        compared += 1;
    }
    assert!(compared >= 10, "only {compared} examples");

    // Refused: a bad time, an unknown option, a body that is not an evaluate request, a caller
    // who may not read Conditional Access.
    let body: Value = serde_json::from_str(
        &std::fs::read_to_string(docs().join("requests/app-password-only.json")).unwrap(),
    )
    .unwrap();
    let (status, _) = post(
        env,
        &format!("{EVALUATE}?at=yesterday"),
        &reader,
        body.clone(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = post(
        env,
        &format!("{EVALUATE}?colour=red"),
        &reader,
        body.clone(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, refused) = post(env, EVALUATE, &reader, json!({"signInIdentity": 7})).await;
    assert_eq!(status, 400, "{refused}");
    let (status, _) = post(env, EVALUATE, &nobody, body).await;
    assert_eq!(status, 403);
}
