//! `portcullis lint`: where activation and Conditional Access are weaker than they look.
//!
//! Every directory role's settings (stored, or the defaults a role nobody configured has) go
//! through `pim::lint_role_policy`; the tenant the store holds goes through
//! `policy::posture::lint_conditional_access`, with the contexts role activation requires and
//! the break-glass accounts given on the command line.

use crate::clients::with_store;
use crate::service::StoreArgs;
use anyhow::Result;
use chrono::Utc;
use policy::posture::{severity_name, PostureFinding};
use server::posture::lint;
use std::io::Write;
use std::process::ExitCode;

/// `portcullis lint`.
pub(crate) fn run(args: &StoreArgs, break_glass: &[String], as_json: bool) -> Result<ExitCode> {
    let now = Utc::now();
    let report = with_store(args, async |store| Ok(lint(store, break_glass, now).await?))?;
    let (errors, warnings, not_enforced) = report.counts();
    let roles = &report.roles;
    let role_findings = &report.role_findings;
    let ca_findings = &report.ca_findings;

    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report.to_json())?)?;
    } else {
        writeln!(out, "Role settings ({} roles)", roles.len())?;
        for (r, findings) in roles.iter().zip(role_findings) {
            writeln!(
                out,
                "  {} ({})  {} settings; {}",
                r.definition.display_name,
                r.definition.id,
                if r.stored { "stored" } else { "default" },
                r.activation_summary()
            )?;
            if findings.is_empty() {
                writeln!(out, "    no findings")?;
            }
            for f in findings {
                writeln!(
                    out,
                    "    {:<8} {}: {}",
                    severity_name(f.severity),
                    f.rule_id,
                    f.message
                )?;
            }
        }
        writeln!(out)?;
        writeln!(
            out,
            "Conditional Access ({} policies, {} authentication contexts, {} break-glass \
             accounts or groups designated)",
            report.policies,
            report.contexts,
            report.break_glass.len()
        )?;
        if ca_findings.is_empty() {
            writeln!(out, "  no findings")?;
        }
        print_grouped(&mut out, ca_findings)?;
        writeln!(out)?;
        writeln!(out, "Security info registration")?;
        if report.registration_findings.is_empty() {
            writeln!(out, "  no findings")?;
        }
        print_grouped(&mut out, &report.registration_findings)?;
        writeln!(out)?;
        writeln!(
            out,
            "{}: {errors} errors, {warnings} warnings, {not_enforced} not enforced",
            if errors > 0 { "FAILED" } else { "OK" }
        )?;
    }
    Ok(if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints posture findings grouped by the object they are about, in order of first appearance.
fn print_grouped(out: &mut impl Write, findings: &[PostureFinding]) -> std::io::Result<()> {
    let mut objects: Vec<&str> = Vec::new();
    for f in findings {
        if !objects.contains(&f.object.as_str()) {
            objects.push(&f.object);
        }
    }
    for object in objects {
        writeln!(out, "  {object}")?;
        for f in findings.iter().filter(|f| f.object == object) {
            writeln!(out, "    {:<8} {}", severity_name(f.severity), f.message)?;
            let hint = if f.kind == policy::posture::PostureKind::NoBreakGlassDesignated {
                " (portcullis lint --break-glass UPN_OR_GROUP_ID)"
            } else {
                ""
            };
            writeln!(out, "             fix: {}{hint}", f.fix)?;
        }
    }
    Ok(())
}
