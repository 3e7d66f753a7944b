//! Real Python clients run against the service: each from a virtualenv that is created on first
//! use under the target directory (`python3 -m venv`, then `pip install -r` its pinned
//! requirements) and again only when the requirements change. Without Python, its `venv` module
//! or the packages such a test fails, saying what to install; `PORTCULLIS_SKIP_PYTHON_CLIENT=1`
//! skips it instead, loudly. `PORTCULLIS_PYTHON` names another interpreter than `python3` to
//! create the virtualenvs with.

use sha2::Digest as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// One Python client: where its requirements are and what it is called in messages.
pub struct Client {
    /// Its requirements file, from the workspace root.
    pub requirements: &'static str,
    /// The virtualenv's directory name under the target directory.
    pub venv: &'static str,
    /// What it is, for messages ("the independent OIDC client (Authlib)").
    pub what: &'static str,
}

impl Client {
    /// Whether `PORTCULLIS_SKIP_PYTHON_CLIENT=1` asks to skip it; says so loudly when it does.
    pub fn skipped(&self) -> bool {
        let skip = std::env::var("PORTCULLIS_SKIP_PYTHON_CLIENT").as_deref() == Ok("1");
        if skip {
            loud(&format!(
                "!!! SKIPPED (PORTCULLIS_SKIP_PYTHON_CLIENT=1): {} was not run",
                self.what
            ));
        }
        skip
    }

    /// The Python of the client's virtualenv, created (under a file lock, across threads and
    /// processes) when missing or made from other requirements.
    pub fn python(&self) -> Result<PathBuf, String> {
        let requirements = workspace_root().join(self.requirements);
        let wanted = std::fs::read(&requirements)
            .map_err(|e| format!("reading {}: {e}", requirements.display()))?;
        let wanted = hex(&sha2::Sha256::digest(&wanted));
        // CARGO_TARGET_TMPDIR is `<target>/tmp`, wherever the target directory is.
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("the target directory")
            .to_path_buf();
        std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        let venv = target.join(self.venv);
        let python = venv.join("bin/python");
        let marker = venv.join(".requirements.sha256");

        let lock_path = target.join(format!("{}.lock", self.venv));
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
        let started = Instant::now();
        loud(&format!(
            "{}: creating {} with {base} and installing {}",
            self.what,
            venv.display(),
            requirements.display()
        ));
        if venv.exists() {
            std::fs::remove_dir_all(&venv).map_err(|e| format!("{}: {e}", venv.display()))?;
        }
        let what = self.what;
        let created = Command::new(&base)
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .map_err(|e| {
                format!(
                    "{what} needs Python 3 with its venv module, but '{base}' cannot be run \
                     ({e}).\nInstall it (Debian: apt-get install python3 python3-venv), or set \
                     PORTCULLIS_PYTHON to an interpreter, or set PORTCULLIS_SKIP_PYTHON_CLIENT=1 \
                     to skip this test."
                )
            })?;
        if !created.status.success() {
            let _ = std::fs::remove_dir_all(&venv);
            return Err(format!(
                "'{base} -m venv {}' failed ({}): {}{}\n{what} needs Python's venv module with \
                 pip (Debian: apt-get install python3-venv; scripts/test installs it when run as \
                 root), or set PORTCULLIS_SKIP_PYTHON_CLIENT=1 to skip it.",
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
                "pip could not install {} into {} ({}); PyPI must be reachable the first \
                 time.\n{}{}\nSet PORTCULLIS_SKIP_PYTHON_CLIENT=1 to skip {what}.",
                requirements.display(),
                venv.display(),
                installed.status,
                String::from_utf8_lossy(&installed.stdout),
                String::from_utf8_lossy(&installed.stderr)
            ));
        }
        std::fs::write(&marker, format!("{wanted}\n"))
            .map_err(|e| format!("{}: {e}", marker.display()))?;
        loud(&format!(
            "{what}: {} ready in {:.1} s",
            venv.display(),
            started.elapsed().as_secs_f64()
        ));
        Ok(python)
        // The lock is released when `lock` is dropped.
    }
}

/// `python SCRIPT ARGS…` from the workspace root, with no proxy in between: the service is on
/// loopback.
pub fn command(python: &Path, script: &str, args: &[&str]) -> Command {
    let mut command = Command::new(python);
    command
        .arg(workspace_root().join(script))
        .args(args)
        .current_dir(workspace_root())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    without_proxy(&mut command);
    command
}

/// Removes the proxy settings from `command`'s environment: the service is on loopback, and no
/// proxy may stand in between.
pub fn without_proxy(command: &mut Command) {
    for proxy in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
    ] {
        command.env_remove(proxy);
    }
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Writes a line to the process's standard error, past the test harness's output capture.
pub fn loud(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `command` (a client, a browser scenario) to completion or until `limit`, then kills it;
/// returns its status and output.
pub fn run_with_timeout(
    mut command: Command,
    limit: Duration,
) -> Result<(ExitStatus, String, String), String> {
    let program = command.get_program().to_string_lossy().into_owned();
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
        .map_err(|e| format!("starting {program}: {e}"))?;
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
            "{program} did not finish within {} s and was killed\n--- stdout\n{stdout}\n--- \
             stderr\n{stderr}",
            limit.as_secs()
        )),
    }
}
