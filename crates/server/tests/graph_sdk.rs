//! Microsoft's own Graph SDK for Python (`msgraph-sdk`, unchanged, pinned with every transitive
//! package in `tests/graph-sdk/requirements.txt`) against the running service:
//! `tests/graph-sdk/sdk_test.py` points the SDK's request adapter at the service's `/v1.0` and
//! authenticates with access tokens the service issued. It performs the seed's three
//! administrator steps as `docs/admin-api.md` does them with curl (the context, Application
//! Administrator's role settings found through `roleManagementPolicyAssignments` with
//! `$filter`, the Conditional Access policy), lists the users with `$select`, `$top`, `$count`
//! and the SDK's page iterator, and reads the sign-in log. This test then checks through the
//! store that the three steps took effect, and that an eligible Application Administrator's
//! activation is now held for a step-up on `c1`.
//!
//! The SDK runs from a virtualenv created on first use at `target/graph-sdk-venv` (see
//! `common/python.rs`); `PORTCULLIS_SKIP_PYTHON_CLIENT=1` skips the test, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::graph::{administrator, assign, holder, signed_in, SECURITY_READER};
use common::python::{self, Client};
use common::Env;
use policy::directory::AssignmentStatus;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use store::ConfigKind;

on_both_backends!(microsofts_graph_sdk_performs_the_seeds_three_steps);

/// The SDK, from `target/graph-sdk-venv`.
const SDK: Client = Client {
    requirements: "tests/graph-sdk/requirements.txt",
    venv: "graph-sdk-venv",
    what: "Microsoft's Graph SDK test (msgraph-sdk)",
};
const SCRIPT: &str = "tests/graph-sdk/sdk_test.py";
/// How long one phase of the script may take.
const PHASE_TIMEOUT: Duration = Duration::from_secs(120);

const CA_ADMINISTRATOR: &str = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9";
const APPLICATION_ADMINISTRATOR: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";
const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";
const USERS: [&str; 4] = [
    "caadmin@example.test",
    "pra@example.test",
    "reader@example.test",
    "dev@example.test",
];

async fn microsofts_graph_sdk_performs_the_seeds_three_steps(env: &Env) {
    if SDK.skipped() {
        return;
    }
    let python = tokio::task::spawn_blocking(|| SDK.python())
        .await
        .unwrap()
        .unwrap_or_else(|message| panic!("{message}"));

    let (_, ca_admin) = holder(env, USERS[0], CA_ADMINISTRATOR).await;
    let (_, role_admin) = administrator(env, USERS[1]).await;
    let (_, reader) = holder(env, USERS[2], SECURITY_READER).await;
    let (dev, _) = signed_in(env, USERS[3]).await;
    assign(
        env,
        &dev.id,
        APPLICATION_ADMINISTRATOR,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    let tokens = [
        ("PORTCULLIS_CA_TOKEN", ca_admin.as_str()),
        ("PORTCULLIS_PRA_TOKEN", role_admin.as_str()),
        ("PORTCULLIS_READER_TOKEN", reader.as_str()),
    ];
    let store = &env.state.store;
    assert!(store
        .find_config::<Value>(ConfigKind::AuthenticationContext, "c1")
        .await
        .unwrap()
        .is_none());

    run(env, &python, "configure", &tokens, &[]).await;

    // 1. The context.
    let context: Value = store
        .get_config(ConfigKind::AuthenticationContext, "c1")
        .await
        .unwrap();
    assert_eq!(
        context["displayName"],
        "Tier 0 Role Activation (Sign-in Everytime)"
    );
    assert_eq!(context["isAvailable"], true);
    // 2. The role's settings.
    let settings = store
        .get_role_policy(APPLICATION_ADMINISTRATOR)
        .await
        .unwrap()
        .expect("Application Administrator's settings were written");
    let rule = settings
        .policy
        .authentication_context()
        .expect("the authentication context rule");
    assert_eq!(
        rule.required_context().unwrap().map(|c| c.to_string()),
        Some("c1".to_string()),
        "{rule:?}"
    );
    // 3. The policy, exactly one.
    let policies: Vec<Value> = store.list_config(ConfigKind::Policy).await.unwrap();
    let tier0: Vec<&Value> = policies
        .iter()
        .filter(|p| p["displayName"] == "Tier 0 Role Activation")
        .collect();
    assert_eq!(tier0.len(), 1, "{policies:#?}");
    let policy = tier0[0];
    assert_eq!(policy["state"], "enabled");
    assert_eq!(
        policy["conditions"]["users"]["includeRoles"],
        serde_json::json!([APPLICATION_ADMINISTRATOR])
    );
    assert_eq!(
        policy["conditions"]["applications"]["includeAuthenticationContextClassReferences"],
        serde_json::json!(["c1"])
    );
    assert_eq!(
        policy["grantControls"]["authenticationStrength"]["id"],
        PHISHING_RESISTANT
    );
    assert_eq!(
        policy["sessionControls"]["signInFrequency"]["frequencyInterval"],
        "everyTime"
    );

    // In force: the developer signs in again (logged under the new policy) and their activation
    // waits for a step-up on c1.
    common::pim::held_for_step_up(env, USERS[3], APPLICATION_ADMINISTRATOR, "c1").await;

    run(
        env,
        &python,
        "read",
        &tokens,
        &[("PORTCULLIS_SIGNED_IN", USERS[3])],
    )
    .await;
}

/// Runs one phase of the script; panics with its output unless it passes.
async fn run(
    env: &Env,
    python: &Path,
    phase: &'static str,
    tokens: &[(&str, &str)],
    extra: &[(&str, &str)],
) {
    let mut command = python::command(python, SCRIPT, &[phase]);
    command
        .env("PORTCULLIS_BASE", &env.base)
        .env("PORTCULLIS_USERS", USERS.join(","));
    for (name, value) in tokens.iter().chain(extra) {
        command.env(name, value);
    }
    let started = Instant::now();
    // The service answers on this runtime's workers; the client is waited for off them.
    let run = tokio::task::spawn_blocking(move || python::run_with_timeout(command, PHASE_TIMEOUT))
        .await
        .unwrap();
    let took = started.elapsed().as_secs_f64();
    match run {
        Ok((status, stdout, stderr)) if status.success() => {
            println!("{stdout}");
            if !stderr.trim().is_empty() {
                eprintln!("{stderr}");
            }
            eprintln!("graph_sdk: '{phase}' passed in {took:.1} s");
        }
        Ok((status, stdout, stderr)) => panic!(
            "the Graph SDK's '{phase}' failed ({status}) after {took:.1} s against {}\n\
             --- stdout\n{stdout}\n--- stderr\n{stderr}",
            env.base
        ),
        Err(message) => panic!("{message}"),
    }
}
