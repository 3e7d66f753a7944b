//! An independent relying party against the real service: `tests/oidc-client/client_test.py`,
//! written with Python's Authlib, performs discovery, the code flow with PKCE, ID token validation
//! against the JWKS, UserInfo, refresh-token rotation and reuse, a replayed code, and a step-up
//! through the `claims` parameter to authentication context `c2` (which a Conditional Access
//! policy guards with MFA every time) that must yield `acrs: ["c2"]`.
//!
//! The client runs from a virtualenv that this test creates on first use at
//! `target/oidc-client-venv` (`python3 -m venv`, then `pip install -r requirements.txt`; again
//! only when the requirements change). Without Python, its `venv` module or the packages the test
//! fails, saying what to install; `PORTCULLIS_SKIP_PYTHON_CLIENT=1` skips it instead, loudly.
//! `PORTCULLIS_PYTHON` names another interpreter than `python3` to create the virtualenv with.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::python::{self, Client};
use common::{Env, REDIRECT};
use serde_json::json;
use std::time::{Duration, Instant};

/// The Authlib client, from `target/oidc-client-venv`.
const AUTHLIB: Client = Client {
    requirements: "tests/oidc-client/requirements.txt",
    venv: "oidc-client-venv",
    what: "the independent OIDC client (Authlib)",
};
const CLIENT_ID: &str = "authlib-client";
const USER: &str = "megan@example.test";
const PASSWORD: &str = "independent client 4 portcullis";
/// How long the Python client may take (it may wait up to 30 s for a fresh TOTP step).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

/// Authentication context `c2` and a policy that asks for MFA, performed in this very sign-in,
/// whenever it is requested.
fn c2_requires_mfa_every_time() -> serde_json::Value {
    json!({
        "authenticationContextClassReferences": [
            { "id": "c2", "displayName": "Sensitive operations", "isAvailable": true }
        ],
        "conditionalAccessPolicies": [{
            "id": "ca020", "displayName": "CA020 c2 requires MFA every time", "state": "enabled",
            "conditions": {
                "users": { "includeUsers": ["All"] },
                "applications": { "includeAuthenticationContextClassReferences": ["c2"] },
                "clientAppTypes": ["all"]
            },
            "grantControls": { "operator": "OR", "builtInControls": ["mfa"] },
            "sessionControls": { "signInFrequency": {
                "isEnabled": true, "frequencyInterval": "everyTime",
                "authenticationType": "secondaryAuthentication"
            } }
        }]
    })
}

async fn authlib_client_signs_in_and_steps_up(env: &Env) {
    if AUTHLIB.skipped() {
        return;
    }
    let python = tokio::task::spawn_blocking(|| AUTHLIB.python())
        .await
        .unwrap()
        .unwrap_or_else(|message| panic!("{message}"));

    env.public_client(CLIENT_ID).await;
    env.policies(c2_requires_mfa_every_time()).await;
    let user = env.user(USER, PASSWORD).await;
    let secret = env.totp(&user).await;

    let mut command = python::command(&python, "tests/oidc-client/client_test.py", &[]);
    command
        .env("PORTCULLIS_ISSUER", &env.base)
        .env("PORTCULLIS_CLIENT_ID", CLIENT_ID)
        .env("PORTCULLIS_REDIRECT_URI", REDIRECT)
        .env("PORTCULLIS_USER", USER)
        .env("PORTCULLIS_PASSWORD", PASSWORD)
        .env("PORTCULLIS_TOTP_SECRET", base32(&secret));
    let started = Instant::now();
    // The service answers on this runtime's workers; the client is waited for off them.
    let run =
        tokio::task::spawn_blocking(move || python::run_with_timeout(command, CLIENT_TIMEOUT))
            .await
            .unwrap();
    let took = started.elapsed();
    match run {
        Ok((status, stdout, stderr)) if status.success() => {
            println!("{stdout}");
            if !stderr.trim().is_empty() {
                eprintln!("{stderr}");
            }
            eprintln!(
                "independent_client: the Authlib client passed in {:.1} s",
                took.as_secs_f64()
            );
        }
        Ok((status, stdout, stderr)) => panic!(
            "the independent OIDC client (Authlib) failed ({status}) after {:.1} s against {}\n\
             --- stdout\n{stdout}\n--- stderr\n{stderr}",
            took.as_secs_f64(),
            env.base
        ),
        Err(message) => panic!("{message}"),
    }
}

on_both_backends!(authlib_client_signs_in_and_steps_up);

/// RFC 4648 base32 (no padding), as authenticator apps take TOTP secrets.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u16, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[usize::from((buffer >> bits) & 31)]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(
            ALPHABET[usize::from((buffer << (5 - bits)) & 31)],
        ));
    }
    out
}

#[test]
fn base32_follows_rfc_4648() {
    // RFC 4648 §10, without the padding.
    for (input, expected) in [
        ("", ""),
        ("f", "MY"),
        ("fo", "MZXQ"),
        ("foo", "MZXW6"),
        ("foob", "MZXW6YQ"),
        ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI"),
    ] {
        assert_eq!(base32(input.as_bytes()), expected, "{input:?}");
    }
}
