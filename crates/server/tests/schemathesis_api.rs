//! The Graph API against its own OpenAPI document, property-based: Schemathesis reads
//! `/openapi.json` from the real service and sends generated requests (valid and invalid
//! paths, queries and bodies) to every operation with a Global Administrator's bearer token,
//! checking that no answer is a 5xx, that every answer's status is one the document lists, and
//! that every answer's body and content type match the document's schema. What it found is
//! kept as plain tests too (here, or in the resource's own test file), so that it stays fixed
//! without Python.
//!
//! Schemathesis runs from a virtualenv that this test creates on first use at
//! `target/schemathesis-venv` from `tests/schemathesis/requirements.txt` (see `common::python`:
//! `PORTCULLIS_SKIP_PYTHON_CLIENT=1` skips it, loudly). The run is bounded: a fixed seed, a few
//! examples per operation ([`EXAMPLES`]), one worker, and a time limit.
//!
//! `PORTCULLIS_SCHEMATHESIS_ARGS` adds options to the run (e.g. `--max-examples 100 --seed 7`,
//! `--include-path-regex users --report har --report-dir /tmp/st`).
//!
//! By hand, against a running service: `target/schemathesis-venv/bin/schemathesis run
//! http://127.0.0.1:8080/openapi.json -H "Authorization: Bearer $TOKEN" --checks
//! not_a_server_error,status_code_conformance,response_schema_conformance`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::graph::{
    assign, call, get, holder, issue_pass, patch, post, rule_path, signed_in, single_user,
    SECURITY_READER,
};
use common::python::{loud, run_with_timeout, without_proxy, workspace_root, Client};
use common::Env;
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR};
use reqwest::Method;
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

/// Test cases per operation and phase: enough to reach past the happy path, few enough for a
/// run of a minute or two on two cores.
const EXAMPLES: &str = "12";
/// The seed: the same run every time (unless the document or Schemathesis changes).
const SEED: &str = "20261207";
/// What Schemathesis checks on every answer.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance";
/// Schemathesis, from its pinned requirements.
const SCHEMATHESIS: Client = Client {
    requirements: "tests/schemathesis/requirements.txt",
    venv: "schemathesis-venv",
    what: "Schemathesis (the property-based API test)",
};
/// The administrator whose token Schemathesis sends.
const ADMIN: &str = "root@example.test";
/// A user of the seeded tenant.
const MEMBER: &str = "member@example.test";
/// How long the whole run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

on_both_backends!(
    generated_requests_get_documented_answers_and_no_5xx,
    nul_characters_are_refused_before_the_store,
);

/// Found by Schemathesis on PostgreSQL, whose text cannot hold a NUL character: a NUL in a
/// `$ref` body's id reached the store and answered `500`. Every NUL in a Graph request (path,
/// query, body) is refused with `400` before any handler reads it, on both backends alike.
async fn nul_characters_are_refused_before_the_store(env: &Env) {
    let (_, token) = holder(env, ADMIN, GLOBAL_ADMINISTRATOR).await;
    let (status, group) = post(
        env,
        "/v1.0/groups",
        &token,
        json!({ "displayName": "Operators" }),
    )
    .await;
    assert_eq!(status, 201, "{group}");
    let group = group["id"].as_str().unwrap();
    for (method, path, body) in [
        (
            Method::POST,
            format!("/v1.0/groups/{group}/members/$ref"),
            Some(
                json!({ "@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/\u{0}x" }),
            ),
        ),
        (
            Method::POST,
            "/v1.0/users".to_string(),
            Some(json!({
                "displayName": "A\u{0}B",
                "userPrincipalName": "nul@example.test",
                "passwordProfile": { "password": "correct horse battery" }
            })),
        ),
        (
            Method::PATCH,
            format!("/v1.0/users/{ADMIN}"),
            Some(json!({ "displayName": "Root\u{0}" })),
        ),
        (Method::GET, "/v1.0/users/%00".to_string(), None),
        (Method::DELETE, "/v1.0/groups/a%00b".to_string(), None),
        (
            Method::GET,
            "/v1.0/portcullis/preflight?role=%00".to_string(),
            None,
        ),
        (
            Method::GET,
            "/v1.0/users?$filter=id%20eq%20'%00'".to_string(),
            None,
        ),
    ] {
        let (status, answer) = call(env, method.clone(), &path, &token, body.clone()).await;
        assert_eq!(status, 400, "{method} {path} {body:?}: {answer}");
        assert_eq!(answer["error"]["code"], "BadRequest", "{answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains("NUL"),
            "{answer}"
        );
    }
    // Nothing was written; the administrator is as they were.
    let (status, me) = get(env, &format!("/v1.0/users/{ADMIN}"), &token).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["displayName"], ADMIN, "{me}");
    let (_, users) = get(
        env,
        "/v1.0/users?$filter=userPrincipalName eq 'nul@example.test'",
        &token,
    )
    .await;
    assert_eq!(users["value"], json!([]), "{users}");
}

async fn generated_requests_get_documented_answers_and_no_5xx(env: &Env) {
    // The document is public and what Schemathesis reads.
    let http = reqwest::Client::new();
    let answer = http
        .get(format!("{}/openapi.json", env.base))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let document: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");

    if SCHEMATHESIS.skipped() {
        return;
    }
    let python = tokio::task::spawn_blocking(|| SCHEMATHESIS.python())
        .await
        .unwrap()
        .unwrap_or_else(|message| panic!("{message}"));
    let schemathesis = python.with_file_name("schemathesis");

    // A Global Administrator: every operation is open to it, so generated requests reach the
    // handlers' validation and the services, not only the authorization check. Schemathesis
    // reuses ids from answers, so its writes reach real resources too; the hooks keep them off
    // this administrator's own account (tests/schemathesis/hooks.py), which is checked after.
    let (admin, token) = holder(env, ADMIN, GLOBAL_ADMINISTRATOR).await;
    seed(env, &admin, &token).await;
    // The administrator's own assignments are protected too (a DELETE by their id would end
    // the run's access as well).
    let (status, assignments) = get(
        env,
        "/v1.0/roleManagement/directory/roleAssignments",
        &token,
    )
    .await;
    assert_eq!(status, 200, "{assignments}");
    let mut protected = vec![admin.id.clone(), ADMIN.to_string()];
    protected.extend(
        assignments["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["principalId"] == admin.id.as_str())
            .map(|a| a["id"].as_str().unwrap().to_string()),
    );
    assert!(protected.len() > 2, "{assignments}");

    let work = tempfile::tempdir().unwrap();
    let mut command = Command::new(&schemathesis);
    command
        .arg("run")
        .arg(format!("{}/openapi.json", env.base))
        .args(["--checks", CHECKS])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", EXAMPLES, "--seed", SEED])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--workers", "1", "--request-timeout", "30"])
        .args(["--generation-database", "none", "--no-color"])
        .args(["--suppress-health-check", "all"])
        .current_dir(work.path())
        .env(
            "SCHEMATHESIS_HOOKS",
            workspace_root().join("tests/schemathesis/hooks.py"),
        )
        .env("PORTCULLIS_PROTECTED", protected.join(","))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .env("COLUMNS", "160");
    // More options for a run by hand (`--include-path-regex users`, `--report har`, …).
    if let Ok(extra) = std::env::var("PORTCULLIS_SCHEMATHESIS_ARGS") {
        command.args(extra.split_whitespace());
    }
    without_proxy(&mut command);
    let started = Instant::now();
    let run = tokio::task::spawn_blocking(move || run_with_timeout(command, RUN_TIMEOUT))
        .await
        .unwrap();
    let took = started.elapsed();
    match run {
        Ok((status, stdout, stderr)) if status.success() => {
            println!("{stdout}");
            loud(&format!(
                "schemathesis_api: Schemathesis passed in {:.1} s ({})",
                took.as_secs_f64(),
                summary(&stdout)
            ));
            if !stderr.trim().is_empty() {
                eprintln!("{stderr}");
            }
        }
        Ok((status, stdout, stderr)) => panic!(
            "Schemathesis found answers that break the document ({status}) after {:.1} s \
             against {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            took.as_secs_f64(),
            env.base
        ),
        Err(message) => panic!("{message}"),
    }

    // The run kept its own access: the administrator is still enabled and still one.
    let (status, me) = common::graph::get(env, &format!("/v1.0/users/{}", admin.id), &token).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["accountEnabled"], true, "{me}");
}

/// A small tenant for the generated requests to find, since Schemathesis reuses the ids in
/// answers: a context and a policy on it, a group with a member, a named location, a temporary
/// access pass, and a request of the member's waiting for the administrator's approval.
async fn seed(env: &Env, admin: &store::User, token: &str) {
    env.policies(json!({
        "authenticationContextClassReferences": [
            { "id": "c2", "displayName": "Sensitive operations", "isAvailable": true }
        ],
        "conditionalAccessPolicies": [{
            "id": "ca020", "displayName": "CA020 c2 requires MFA", "state": "enabled",
            "conditions": {
                "users": { "includeUsers": ["All"] },
                "applications": { "includeAuthenticationContextClassReferences": ["c2"] },
                "clientAppTypes": ["all"]
            },
            "grantControls": { "operator": "OR", "builtInControls": ["mfa"] }
        }]
    }))
    .await;
    let (member, member_token) = signed_in(env, MEMBER).await;
    let created = |what: &'static str| {
        move |(status, body): (u16, Value)| {
            assert!(status == 201 || status == 204, "{what}: {status} {body}");
            body
        }
    };
    let group = created("group")(
        post(
            env,
            "/v1.0/groups",
            token,
            json!({ "displayName": "Operators", "isAssignableToRole": false }),
        )
        .await,
    );
    created("member")(
        post(
            env,
            &format!("/v1.0/groups/{}/members/$ref", group["id"].as_str().unwrap()),
            token,
            json!({ "@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{}", member.id) }),
        )
        .await,
    );
    created("location")(
        post(
            env,
            "/v1.0/identity/conditionalAccess/namedLocations",
            token,
            json!({
                "@odata.type": "#microsoft.graph.countryNamedLocation",
                "displayName": "Home countries",
                "countriesAndRegions": ["DE", "FR"]
            }),
        )
        .await,
    );
    issue_pass(env, token, MEMBER).await;

    // Security Reader needs a justification (no MFA) and the administrator's approval; the
    // member is eligible and asks.
    let (status, body) = patch(
        env,
        &rule_path("Enablement_EndUser_Assignment"),
        token,
        json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
            "enabledRules": ["Justification"]
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = patch(
        env,
        &rule_path("Approval_EndUser_Assignment"),
        token,
        json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
            "setting": {
                "isApprovalRequired": true,
                "approvalMode": "SingleStage",
                "approvalStages": [{
                    "approvalStageTimeOutInDays": 1,
                    "primaryApprovers": [single_user(&admin.id)],
                    "escalationApprovers": []
                }]
            }
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assign(
        env,
        &member.id,
        SECURITY_READER,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    created("request")(
        post(
            env,
            "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests",
            &member_token,
            json!({
                "action": "selfActivate",
                "principalId": member.id,
                "roleDefinitionId": SECURITY_READER,
                "directoryScopeId": "/",
                "justification": "quarterly access review",
                "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": "PT2H" } }
            }),
        )
        .await,
    );
}

/// Schemathesis's closing line (`N passed, …`), for the log.
fn summary(stdout: &str) -> String {
    stdout
        .lines()
        .rev()
        .find(|l| l.contains("passed") || l.contains("failed"))
        .unwrap_or("")
        .trim_matches(|c: char| c == '=' || c.is_whitespace())
        .to_string()
}
