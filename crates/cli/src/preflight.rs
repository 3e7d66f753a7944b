//! `portcullis preflight`: who a role's activation, or a policy, would lock out.
//!
//! For a role: the context its `AuthenticationContext_EndUser_Assignment` rule requires, the
//! enabled policies targeting that context and their strengths, checked for every user eligible
//! for the role (directly or through groups). For a policy: its strength, checked for every user
//! it includes (all users, users, groups transitively, roles, eligible holders included). A user
//! is able when some allowed combination of the strength is made only of methods they have
//! registered.

use crate::clients::with_store;
use crate::service::StoreArgs;
use anyhow::{bail, Result};
use chrono::Utc;
use policy::posture::{
    friendly_name, ActivationPreflight, PolicyPreflight, PreflightReport, TargetUser, UserReadiness,
};
pub(crate) use server::posture::Subject;
use server::posture::{preflight, Preflight};
use std::io::Write;
use std::process::ExitCode;

/// The subject from the flags: exactly one of them.
pub(crate) fn subject_from_flags<'a>(
    role: Option<&'a str>,
    policy: Option<&'a str>,
) -> Result<Subject<'a>> {
    match (role, policy) {
        (Some(_), Some(_)) => bail!("give either --role or --policy, not both"),
        (Some(r), None) => Ok(Subject::Role(r)),
        (None, Some(p)) => Ok(Subject::Policy(p)),
        (None, None) => {
            bail!("say what to pre-flight: --role ROLE_ID_OR_NAME or --policy POLICY_ID")
        }
    }
}

/// `portcullis preflight`.
pub(crate) fn run(
    args: &StoreArgs,
    subject: &Subject<'_>,
    break_glass: &[String],
    as_json: bool,
) -> Result<ExitCode> {
    let now = Utc::now();
    let outcome = with_store(args, async |store| {
        Ok(preflight(store, *subject, break_glass, now).await?)
    })?;
    let everyone_can = outcome.everyone_can();
    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(out, "{}", serde_json::to_string_pretty(&outcome.to_json())?)?;
    } else {
        match &outcome {
            Preflight::Role {
                id,
                name,
                eligible,
                preflight,
            } => print_role(&mut out, id, name, *eligible, preflight)?,
            Preflight::Policy(p) => print_policy(&mut out, p)?,
        }
    }
    Ok(if everyone_can {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn print_role(
    out: &mut impl Write,
    id: &str,
    name: &str,
    eligible: usize,
    p: &ActivationPreflight,
) -> std::io::Result<()> {
    let context_name = p
        .context_name
        .as_deref()
        .map(|n| format!(" '{n}'"))
        .unwrap_or_default();
    writeln!(
        out,
        "Pre-flight: activating {name} ({id}) requires authentication context {}{context_name}.",
        p.context
    )?;
    writeln!(
        out,
        "{} for it (directly or through groups).",
        plural(eligible, "user is eligible", "users are eligible")
    )?;
    for policy in &p.policies {
        writeln!(out)?;
        print_policy_header(out, policy)?;
        print_report(
            out,
            &policy.report,
            "It applies to",
            "eligible user",
            "eligible users",
        )?;
    }
    if !p.without_strength.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Also targeting {} without a strength (an MFA check): {}.",
            p.context,
            p.without_strength.join(", ")
        )?;
    }
    if !p.uncovered.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Excluded from every policy of {} that requires a strength (they activate without \
             one):",
            p.context
        )?;
        for u in &p.uncovered {
            writeln!(out, "  {}", user_line(u))?;
        }
    }
    writeln!(out)?;
    let unable = p.unable_users().len();
    if eligible == 0 {
        writeln!(out, "Result: no user is eligible for {name}.")?;
    } else if unable == 0 {
        writeln!(
            out,
            "Result: every eligible user can satisfy what activating {name} requires."
        )?;
    } else {
        writeln!(
            out,
            "Result: {unable} of {} cannot activate {name}: they have no registered method \
             that satisfies the required strength.",
            plural(eligible, "eligible user", "eligible users"),
        )?;
        if unable == eligible {
            writeln!(out, "No eligible user can activate {name}.")?;
        }
    }
    Ok(())
}

fn print_policy(out: &mut impl Write, p: &PolicyPreflight) -> std::io::Result<()> {
    write!(out, "Pre-flight: ")?;
    print_policy_header(out, p)?;
    print_report(out, &p.report, "It targets", "user", "users")?;
    writeln!(out)?;
    let unable = p.report.unable();
    if p.report.targeted() == 0 {
        writeln!(out, "Result: the policy targets no user.")?;
    } else if unable == 0 {
        writeln!(
            out,
            "Result: every targeted user can satisfy the required strength."
        )?;
    } else {
        writeln!(
            out,
            "Result: {unable} of {} targeted users cannot satisfy the required strength: they \
             have no registered method that does.",
            p.report.targeted()
        )?;
    }
    Ok(())
}

fn print_policy_header(out: &mut impl Write, p: &PolicyPreflight) -> std::io::Result<()> {
    writeln!(
        out,
        "policy '{}' ({}, {}{}) requires strength '{}' ({}): {}",
        p.policy_name,
        p.policy_id,
        p.state,
        if p.every_time {
            ", sign-in frequency every time"
        } else {
            ""
        },
        p.report.strength_name,
        p.report.strength_id,
        combinations(&p.report)
    )
}

fn combinations(r: &PreflightReport) -> String {
    r.allowed_combinations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" | ")
}

fn print_report(
    out: &mut impl Write,
    r: &PreflightReport,
    lead: &str,
    one: &str,
    many: &str,
) -> std::io::Result<()> {
    let others = r.cannot.len() + r.can.len();
    let mut summary = format!(
        "  {lead} {}: {} can satisfy it, {} cannot",
        plural(others, one, many),
        r.can.len(),
        r.cannot.len()
    );
    if !r.break_glass.is_empty() {
        summary.push_str(&format!(
            "; and to {} (shown apart)",
            plural(
                r.break_glass.len(),
                "break-glass account",
                "break-glass accounts"
            )
        ));
    }
    writeln!(out, "{summary}.")?;
    for readiness in r.cannot.iter().chain(&r.can) {
        print_user(out, readiness, "  ")?;
    }
    if !r.break_glass.is_empty() {
        writeln!(out, "  Break-glass accounts:")?;
        for readiness in &r.break_glass {
            print_user(out, readiness, "    ")?;
        }
    }
    Ok(())
}

fn user_line(u: &TargetUser) -> String {
    let mut line = u.user_principal_name.clone();
    if let Some(name) = u.display_name.as_deref().filter(|n| !n.is_empty()) {
        line.push_str(&format!(" ({name})"));
    }
    if !u.via.is_empty() {
        line.push_str(&format!(", {}", u.via.join("; ")));
    }
    line
}

fn print_user(out: &mut impl Write, r: &UserReadiness, indent: &str) -> std::io::Result<()> {
    let has = if r.registered.is_empty() {
        "nothing".to_string()
    } else {
        r.registered
            .iter()
            .map(|m| format!("{} ('{}')", m.method, m.label))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &r.satisfied_by {
        Some(combination) => {
            writeln!(out, "{indent}can     {}", user_line(&r.user))?;
            writeln!(out, "{indent}          satisfied by: {combination}")?;
        }
        None => {
            writeln!(out, "{indent}CANNOT  {}", user_line(&r.user))?;
            writeln!(out, "{indent}          has: {has}")?;
            for s in &r.shortfalls {
                let missing: Vec<String> = s.missing.iter().map(friendly_name).collect();
                writeln!(
                    out,
                    "{indent}          {} would do, missing {}{}",
                    s.combination,
                    missing.join(" and "),
                    s.note
                        .as_deref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                )?;
            }
            if let Some(advice) = &r.advice {
                writeln!(out, "{indent}          to do: {advice}")?;
            }
        }
    }
    Ok(())
}
