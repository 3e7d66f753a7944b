//! The portal's browser scenarios (`tests/browser/*.mjs`): Debian's `chromium` driven by
//! `playwright-core` under Node.js, each scenario against a service a test started.
//!
//! What they need: `node` (20 or later) and `npm` on the PATH, Debian's `chromium` at
//! `/usr/bin/chromium` (or `PORTCULLIS_CHROMIUM`), and `tests/browser/node_modules`, which
//! `scripts/test` installs with `npm ci` and which is installed here too (under a file lock)
//! when missing or made from another `package-lock.json`. Without them a scenario fails saying
//! what to install; `PORTCULLIS_SKIP_BROWSER=1` skips the scenarios instead, loudly.

use super::python::{loud, run_with_timeout, without_proxy, workspace_root};
use sha2::Digest as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The scenarios' folder, from the workspace root.
const FOLDER: &str = "tests/browser";
/// Where `npm ci` records which lock file it installed (also written by `scripts/test`).
const MARKER: &str = "node_modules/.package-lock.sha256";

/// Whether `PORTCULLIS_SKIP_BROWSER=1` asks to skip the browser scenarios; says so loudly.
pub fn skipped(what: &str) -> bool {
    let skip = std::env::var("PORTCULLIS_SKIP_BROWSER").as_deref() == Ok("1");
    if skip {
        loud(&format!(
            "!!! SKIPPED (PORTCULLIS_SKIP_BROWSER=1): the browser scenario {what} was not run"
        ));
    }
    skip
}

/// The chromium to drive.
pub fn chromium() -> PathBuf {
    std::env::var_os("PORTCULLIS_CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), Into::into)
}

/// Checks that Node.js and chromium are there and that `playwright-core` is installed from the
/// committed lock file (running `npm ci` when it is not); the reason when something is missing.
pub fn ready() -> Result<(), String> {
    let folder = workspace_root().join(FOLDER);
    let node = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| {
            format!(
            "the browser scenarios need Node.js 20 or later ('node' cannot be run: {e}); install \
             it, or set PORTCULLIS_SKIP_BROWSER=1 to skip them"
        )
        })?;
    let version = String::from_utf8_lossy(&node.stdout).trim().to_string();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 20 {
        return Err(format!(
            "the browser scenarios need Node.js 20 or later, and 'node' is {version}; install a \
             newer one, or set PORTCULLIS_SKIP_BROWSER=1 to skip them"
        ));
    }
    let chromium = chromium();
    if !chromium.exists() {
        return Err(format!(
            "the browser scenarios drive Debian's chromium, and {} does not exist; install it \
             (apt-get install chromium; scripts/test does when run as root), set \
             PORTCULLIS_CHROMIUM to another one, or set PORTCULLIS_SKIP_BROWSER=1 to skip them",
            chromium.display()
        ));
    }
    installed(&folder)
}

/// `npm ci` in `folder` unless its `node_modules` was installed from the current lock file.
fn installed(folder: &Path) -> Result<(), String> {
    let lock_file = folder.join("package-lock.json");
    let wanted =
        std::fs::read(&lock_file).map_err(|e| format!("reading {}: {e}", lock_file.display()))?;
    let wanted = hex(&sha2::Sha256::digest(&wanted));
    let marker = folder.join(MARKER);
    // One installer at a time, across the test threads and processes.
    let lock_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-npm.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
    if std::fs::read_to_string(&marker).is_ok_and(|m| m.trim() == wanted) {
        return Ok(());
    }
    let started = Instant::now();
    loud(&format!(
        "browser scenarios: npm ci in {} (playwright-core from the lock file)",
        folder.display()
    ));
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(folder);
    let (status, stdout, stderr) = run_with_timeout(npm, Duration::from_secs(300))?;
    if !status.success() {
        return Err(format!(
            "npm ci in {} failed ({status}); the npm registry must be reachable the first time.\n\
             {stdout}{stderr}\nSet PORTCULLIS_SKIP_BROWSER=1 to skip the browser scenarios.",
            folder.display()
        ));
    }
    std::fs::write(&marker, format!("{wanted}\n"))
        .map_err(|e| format!("{}: {e}", marker.display()))?;
    loud(&format!(
        "browser scenarios: playwright-core installed in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Runs `node tests/browser/SCRIPT` with `vars` (and the chromium to drive) against the
/// service; panics with its output unless it passes. Returns what it printed.
pub async fn scenario(script: &'static str, vars: Vec<(&'static str, String)>) -> String {
    let mut command = Command::new("node");
    command
        .arg(workspace_root().join(FOLDER).join(script))
        .current_dir(workspace_root().join(FOLDER))
        .env("PORTCULLIS_CHROMIUM", chromium());
    // The service is on loopback: no proxy may stand in between, for node or for chromium.
    without_proxy(&mut command);
    for (name, value) in vars {
        command.env(name, value);
    }
    let started = Instant::now();
    // The service answers on this runtime's workers; the browser is waited for off them.
    let run =
        tokio::task::spawn_blocking(move || run_with_timeout(command, Duration::from_secs(180)))
            .await
            .expect("the scenario's thread");
    let took = started.elapsed().as_secs_f64();
    match run {
        Ok((status, stdout, stderr)) if status.success() => {
            eprintln!("{script}: passed in {took:.1} s\n{stdout}{stderr}");
            stdout
        }
        Ok((status, stdout, stderr)) => {
            panic!("{script} failed ({status}) after {took:.1} s\n--- stdout\n{stdout}\n--- stderr\n{stderr}")
        }
        Err(message) => panic!("{script}: {message}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
