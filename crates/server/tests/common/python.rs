//! Python tools that tests run against the real service (the Authlib client, Schemathesis):
//! each from a virtualenv created on first use under the target directory from a pinned
//! requirements file (`python3 -m venv`, then `pip install -r`; again only when the file
//! changes), and run with a time limit.
//!
//! Without Python, its `venv` module or the packages such a test fails, saying what to install;
//! `PORTCULLIS_SKIP_PYTHON_CLIENT=1` skips it instead, loudly. `PORTCULLIS_PYTHON` names another
//! interpreter than `python3` to create the virtualenvs with.

use sha2::Digest as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Whether the Python tests are to be skipped (`PORTCULLIS_SKIP_PYTHON_CLIENT=1`); says so
/// loudly, naming `what` was not run.
pub fn skipped(test: &str, what: &str) -> bool {
    if std::env::var("PORTCULLIS_SKIP_PYTHON_CLIENT").as_deref() == Ok("1") {
        loud(&format!(
            "!!! {test}: SKIPPED (PORTCULLIS_SKIP_PYTHON_CLIENT=1): {what} was not run"
        ));
        return true;
    }
    false
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The Python of the virtualenv `target/{name}`, made from `requirements` (relative to the
/// workspace root) when missing or made from other requirements; across processes under a
/// file lock. `what` names the tool in errors.
pub fn venv_python(name: &str, requirements: &str, what: &str) -> Result<PathBuf, String> {
    let requirements = workspace_root().join(requirements);
    let wanted = std::fs::read(&requirements)
        .map_err(|e| format!("reading {}: {e}", requirements.display()))?;
    let wanted = hex(&sha2::Sha256::digest(&wanted));
    // CARGO_TARGET_TMPDIR is `<target>/tmp`, wherever the target directory is.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .to_path_buf();
    std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
    let venv = target.join(name);
    let python = venv.join("bin/python");
    let marker = venv.join(".requirements.sha256");

    let lock_path = target.join(format!("{name}.lock"));
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
        "{what}: creating {} with {base} and installing {}",
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
                "the {what} test needs Python 3 with its venv module, but '{base}' cannot be \
                 run ({e}).\nInstall it (Debian: apt-get install python3 python3-venv), or set \
                 PORTCULLIS_PYTHON to an interpreter, or set PORTCULLIS_SKIP_PYTHON_CLIENT=1 to \
                 skip this test."
            )
        })?;
    if !created.status.success() {
        let _ = std::fs::remove_dir_all(&venv);
        return Err(format!(
            "'{base} -m venv {}' failed ({}): {}{}\nThe {what} test needs Python's venv module \
             with pip (Debian: apt-get install python3-venv; scripts/test installs it when run \
             as root), or set PORTCULLIS_SKIP_PYTHON_CLIENT=1 to skip it.",
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
             {}{}\nSet PORTCULLIS_SKIP_PYTHON_CLIENT=1 to skip the {what} test.",
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

/// Removes the proxy variables from `command`: the service is on loopback, and no proxy may
/// stand in between.
pub fn without_proxy(command: &mut Command) {
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
}

/// Writes a line to the process's standard error, past the test harness's output capture.
pub fn loud(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `command` to completion or until `limit`, then kills it; returns its status and output.
/// `what` names the tool in errors.
pub fn run_with_timeout(
    mut command: Command,
    limit: Duration,
    what: &str,
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
        .map_err(|e| format!("starting {what}: {e}"))?;
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
            "{what} did not finish within {} s and was killed\n--- stdout\n{stdout}\n--- \
             stderr\n{stderr}",
            limit.as_secs()
        )),
    }
}
