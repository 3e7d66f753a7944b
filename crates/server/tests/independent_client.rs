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

use common::{Env, REDIRECT};
use serde_json::json;
use sha2::Digest as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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
    if std::env::var("PORTCULLIS_SKIP_PYTHON_CLIENT").as_deref() == Ok("1") {
        loud(
            "!!! independent_client: SKIPPED (PORTCULLIS_SKIP_PYTHON_CLIENT=1): the Authlib \
             client was not run",
        );
        return;
    }
    let python = tokio::task::spawn_blocking(client_python)
        .await
        .unwrap()
        .unwrap_or_else(|message| panic!("{message}"));

    env.public_client(CLIENT_ID).await;
    env.policies(c2_requires_mfa_every_time()).await;
    let user = env.user(USER, PASSWORD).await;
    let secret = env.totp(&user).await;

    let script = workspace_root().join("tests/oidc-client/client_test.py");
    let mut command = Command::new(&python);
    command
        .arg(&script)
        .current_dir(workspace_root())
        .env("PORTCULLIS_ISSUER", &env.base)
        .env("PORTCULLIS_CLIENT_ID", CLIENT_ID)
        .env("PORTCULLIS_REDIRECT_URI", REDIRECT)
        .env("PORTCULLIS_USER", USER)
        .env("PORTCULLIS_PASSWORD", PASSWORD)
        .env("PORTCULLIS_TOTP_SECRET", base32(&secret))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    // The service is on loopback: no proxy may stand in between.
    for proxy in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ] {
        command.env_remove(proxy);
    }
    let started = Instant::now();
    // The service answers on this runtime's workers; the client is waited for off them.
    let run = tokio::task::spawn_blocking(move || run_with_timeout(command, CLIENT_TIMEOUT))
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

fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The Python of the client's virtualenv, created (once per process, and across processes under
/// a file lock) when missing or made from other requirements.
fn client_python() -> Result<PathBuf, String> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON.get_or_init(prepare_venv).clone()
}

fn prepare_venv() -> Result<PathBuf, String> {
    let requirements = workspace_root().join("tests/oidc-client/requirements.txt");
    let wanted = std::fs::read(&requirements)
        .map_err(|e| format!("reading {}: {e}", requirements.display()))?;
    let wanted = hex(&sha2::Sha256::digest(&wanted));
    // CARGO_TARGET_TMPDIR is `<target>/tmp`, wherever the target directory is.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .to_path_buf();
    std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
    let venv = target.join("oidc-client-venv");
    let python = venv.join("bin/python");
    let marker = venv.join(".requirements.sha256");

    let lock_path = target.join("oidc-client-venv.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;

    if python.exists() && std::fs::read_to_string(&marker).is_ok_and(|m| m.trim() == wanted) {
        return Ok(python);
    }
    let base = std::env::var("PORTCULLIS_PYTHON").unwrap_or_else(|_| "python3".into());
    loud(&format!(
        "independent_client: creating {} with {base} and installing {}",
        venv.display(),
        requirements.display()
    ));
    if venv.exists() {
        std::fs::remove_dir_all(&venv).map_err(|e| format!("{}: {e}", venv.display()))?;
    }
    let created = Command::new(&base)
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .map_err(|e| {
            format!(
                "the independent OIDC client test needs Python 3 with its venv module, but \
                 '{base}' cannot be run ({e}).\nInstall it (Debian: apt-get install python3 \
                 python3-venv), or set PORTCULLIS_PYTHON to an interpreter, or set \
                 PORTCULLIS_SKIP_PYTHON_CLIENT=1 to skip this test."
            )
        })?;
    if !created.status.success() {
        let _ = std::fs::remove_dir_all(&venv);
        return Err(format!(
            "'{base} -m venv {}' failed ({}): {}{}\nThe independent OIDC client test needs \
             Python's venv module with pip (Debian: apt-get install python3-venv; scripts/test \
             installs it when run as root), or set PORTCULLIS_SKIP_PYTHON_CLIENT=1 to skip it.",
            venv.display(),
            created.status,
            String::from_utf8_lossy(&created.stdout),
            String::from_utf8_lossy(&created.stderr)
        ));
    }
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "-r",
        ])
        .arg(&requirements)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {}: {e}", python.display()))?;
    if !installed.status.success() {
        let _ = std::fs::remove_dir_all(&venv);
        return Err(format!(
            "pip could not install {} into {} ({}); PyPI must be reachable the first time.\n\
             {}{}\nSet PORTCULLIS_SKIP_PYTHON_CLIENT=1 to skip the independent OIDC client test.",
            requirements.display(),
            venv.display(),
            installed.status,
            String::from_utf8_lossy(&installed.stdout),
            String::from_utf8_lossy(&installed.stderr)
        ));
    }
    std::fs::write(&marker, format!("{wanted}\n"))
        .map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(python)
    // The lock is released when `lock` is dropped.
}

/// Writes a line to the process's standard error, past the test harness's output capture.
fn loud(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `command` to completion or until `limit`, then kills it; returns its status and output.
fn run_with_timeout(
    mut command: Command,
    limit: Duration,
) -> Result<(ExitStatus, String, String), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let out = std::fs::File::create(&out_path).map_err(|e| e.to_string())?;
    let err = std::fs::File::create(&err_path).map_err(|e| e.to_string())?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("starting the Python client: {e}"))?;
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break Some(status),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    match status {
        Some(status) => Ok((status, stdout, stderr)),
        None => Err(format!(
            "the independent OIDC client did not finish within {} s and was killed\n\
             --- stdout\n{stdout}\n--- stderr\n{stderr}",
            limit.as_secs()
        )),
    }
}
