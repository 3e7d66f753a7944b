//! `portcullis whatif`.

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use policy::{validate, what_if, Engine, EvaluateRequest, Severity};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

fn read_request(path: &Path) -> Result<EvaluateRequest> {
    let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    let text = import::decode::decode(&bytes).with_context(|| format!("{}", path.display()))?;
    if !text.trim_start().starts_with('{') {
        bail!(
            "{}: the request must be a JSON object (a Graph evaluate body)",
            path.display()
        );
    }
    serde_json::from_str(&text).map_err(|e| {
        let message = e.to_string();
        let message = message
            .rfind(" at line ")
            .map_or(message.as_str(), |i| &message[..i])
            .to_string();
        anyhow::anyhow!(
            "{}:{}:{}: {}",
            path.display(),
            e.line(),
            e.column(),
            message
        )
    })
}

pub(crate) fn run(
    tenant: &Path,
    request: &Path,
    at: Option<&str>,
    force: bool,
) -> Result<ExitCode> {
    let at: DateTime<Utc> = match at {
        None => Utc::now(),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .with_context(|| {
                format!("--at '{s}' is not an RFC 3339 time such as 2026-11-21T09:00:00Z")
            })?
            .with_timezone(&Utc),
    };
    let body = read_request(request)?;
    let loaded = import::load(tenant)?;
    for e in &loaded.unreadable {
        eprintln!("unreadable: {e}");
    }
    if !loaded.unreadable.is_empty() && !force {
        bail!(
            "{} tenant file(s) could not be read; fix them, or pass --force to evaluate without them",
            loaded.unreadable.len()
        );
    }
    let engine = Engine::new(loaded.tenant);
    let errors: Vec<_> = validate(&engine)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    for e in &errors {
        eprintln!("{e}");
    }
    if !errors.is_empty() && !force {
        bail!(
            "the tenant has {} validation error(s) (see `portcullis tenant check {}`); pass --force to evaluate anyway",
            errors.len(),
            tenant.display()
        );
    }
    let response =
        what_if(&engine, &body, at).map_err(|e| anyhow::anyhow!("{}: {e}", request.display()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string_pretty(&response)?)?;
    Ok(ExitCode::SUCCESS)
}
