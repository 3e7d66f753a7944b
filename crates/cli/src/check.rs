//! `portcullis tenant check` and `tenant export`.

use anyhow::Result;
use policy::conditional_access::PolicyState;
use policy::{validate, Engine, Severity};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub(crate) fn run(path: &Path, json: bool) -> Result<ExitCode> {
    let loaded = import::load(path)?;
    let engine = Engine::new(loaded.tenant);
    let findings = validate(&engine);
    let (errors, warnings, not_enforced) = policy::validate::count(&findings);
    let t = engine.tenant();
    let policies = &t.conditional_access_policies;
    let state_count = |s: PolicyState| policies.iter().filter(|p| p.state == s).count();
    let failed = errors > 0 || !loaded.unreadable.is_empty();
    let mut out = std::io::stdout().lock();
    if json {
        let report = serde_json::json!({
            "path": path.display().to_string(),
            "filesRead": loaded.files,
            "unreadable": loaded.unreadable.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "counts": {
                "users": t.users.len(),
                "groups": t.groups.len(),
                "roleAssignments": t.role_assignments.len(),
                "conditionalAccessPolicies": policies.len(),
                "namedLocations": t.named_locations.len(),
                "authenticationStrengthPolicies": t.authentication_strength_policies.len(),
                "authenticationContextClassReferences": t.authentication_context_class_references.len(),
            },
            "findings": findings,
            "notes": loaded.notes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "errors": errors,
            "warnings": warnings,
            "notEnforced": not_enforced,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        writeln!(out, "tenant {}", path.display())?;
        writeln!(
            out,
            "  files read:            {} ({} unreadable)",
            loaded.files,
            loaded.unreadable.len()
        )?;
        writeln!(out, "  users:                 {}", t.users.len())?;
        writeln!(out, "  groups:                {}", t.groups.len())?;
        writeln!(out, "  role assignments:      {}", t.role_assignments.len())?;
        writeln!(
            out,
            "  policies:              {} ({} enabled, {} report-only, {} disabled)",
            policies.len(),
            state_count(PolicyState::Enabled),
            state_count(PolicyState::EnabledForReportingButNotEnforced),
            state_count(PolicyState::Disabled)
        )?;
        writeln!(out, "  named locations:       {}", t.named_locations.len())?;
        writeln!(
            out,
            "  custom strengths:      {} (+3 built-in)",
            t.authentication_strength_policies.len()
        )?;
        writeln!(
            out,
            "  contexts:              {}",
            t.authentication_context_class_references.len()
        )?;
        for e in &loaded.unreadable {
            writeln!(out, "unreadable: {e}")?;
        }
        for severity in [Severity::Error, Severity::Warning, Severity::NotEnforced] {
            for f in findings.iter().filter(|f| f.severity == severity) {
                writeln!(out, "{f}")?;
            }
        }
        for n in &loaded.notes {
            writeln!(out, "note: {n}")?;
        }
        writeln!(
            out,
            "{}: {} unreadable files, {errors} errors, {warnings} warnings, {not_enforced} not enforced",
            if failed { "FAILED" } else { "OK" },
            loaded.unreadable.len()
        )?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) fn export(path: &Path) -> Result<ExitCode> {
    let loaded = import::load(path)?;
    for e in &loaded.unreadable {
        eprintln!("unreadable: {e}");
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string_pretty(&loaded.tenant)?)?;
    Ok(if loaded.unreadable.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
