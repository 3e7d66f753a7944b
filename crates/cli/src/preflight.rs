//! `portcullis preflight`: who a role's activation, or a policy, would lock out.
//!
//! For a role: the context its `AuthenticationContext_EndUser_Assignment` rule requires, the
//! enabled policies targeting that context and their strengths, checked for every user eligible
//! for the role (directly or through groups). For a policy: its strength, checked for every user
//! it includes (all users, users, groups transitively, roles, eligible holders included). A user
//! is able when some allowed combination of the strength is made only of methods they have
//! registered.

use crate::clients::with_store;
use crate::lint::{resolve_break_glass, role_settings};
use crate::service::StoreArgs;
use anyhow::{anyhow, bail, Context, Result};
use chrono::Utc;
use policy::posture::{
    eligible_users, friendly_name, policy_strength, policy_targets, preflight_activation,
    preflight_policy, ActivationPreflight, PolicyPreflight, PreflightReport, RegisteredMethod,
    TargetUser, UserReadiness,
};
use serde_json::json;
use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use store::Store;

/// What to pre-flight.
pub(crate) enum Subject<'a> {
    /// A role, by template id or name.
    Role(&'a str),
    /// A Conditional Access policy, by id.
    Policy(&'a str),
}

impl<'a> Subject<'a> {
    /// The subject from the flags: exactly one of them.
    pub(crate) fn from_flags(role: Option<&'a str>, policy: Option<&'a str>) -> Result<Self> {
        match (role, policy) {
            (Some(_), Some(_)) => bail!("give either --role or --policy, not both"),
            (Some(r), None) => Ok(Subject::Role(r)),
            (None, Some(p)) => Ok(Subject::Policy(p)),
            (None, None) => {
                bail!("say what to pre-flight: --role ROLE_ID_OR_NAME or --policy POLICY_ID")
            }
        }
    }
}

/// The methods of each user, by id, as the pre-flight reads them.
async fn methods_of(
    store: &Store,
    users: &[TargetUser],
    now: chrono::DateTime<Utc>,
) -> Result<HashMap<String, Vec<RegisteredMethod>>> {
    let mut methods = HashMap::new();
    for u in users {
        let listed = store
            .list_methods(&u.id, now)
            .await
            .with_context(|| format!("cannot read the methods of {}", u.user_principal_name))?;
        let registered = listed
            .into_iter()
            .map(|m| RegisteredMethod {
                method: m.method,
                aaguid: m.aaguid,
                label: m.label,
            })
            .collect();
        methods.insert(u.id.clone(), registered);
    }
    Ok(methods)
}

/// What was pre-flighted.
enum Outcome {
    Role {
        id: String,
        name: String,
        eligible: usize,
        preflight: ActivationPreflight,
    },
    Policy(PolicyPreflight),
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
        let tenant = store
            .load_tenant(now)
            .await
            .context("cannot read the tenant")?;
        let break_glass = resolve_break_glass(&tenant, break_glass)?;
        match subject {
            Subject::Role(wanted) => {
                let roles = role_settings(store, now).await?;
                let Some(role) = roles.iter().find(|r| {
                    r.definition.id.eq_ignore_ascii_case(wanted)
                        || r.definition.display_name.eq_ignore_ascii_case(wanted)
                }) else {
                    let names: Vec<&str> = roles
                        .iter()
                        .map(|r| r.definition.display_name.as_str())
                        .collect();
                    bail!(
                        "no role is named or has the id '{wanted}'; the roles are {}",
                        names.join(", ")
                    );
                };
                let name = role.definition.display_name.clone();
                let context = match role.policy.authentication_context() {
                    Some(rule) => rule
                        .required_context()
                        .map_err(|e| anyhow!("the settings of role '{name}' are invalid: {e}"))?,
                    None => None,
                };
                let Some(context) = context else {
                    if role.requires_mfa() {
                        bail!(
                            "role '{name}' requires no authentication context at activation: \
                             activation is then an MFA claim check (any MFA in the session, \
                             however old, satisfies it), so there is no strength to pre-flight; \
                             require a context whose policy demands a strength (see portcullis \
                             lint)"
                        );
                    }
                    bail!(
                        "role '{name}' requires no authentication at activation (neither MFA nor \
                         an authentication context), so there is no strength to pre-flight; \
                         require a context whose policy demands a strength (see portcullis lint)"
                    );
                };
                let eligible = eligible_users(&tenant, &role.definition.id, &break_glass);
                let methods = methods_of(store, &eligible, now).await?;
                let preflight =
                    preflight_activation(&tenant, &context.to_string(), &eligible, &|id| {
                        methods.get(id).cloned().unwrap_or_default()
                    })
                    .map_err(|e| anyhow!("role '{name}' requires context {context}, but {e}"))?;
                Ok(Outcome::Role {
                    id: role.definition.id.clone(),
                    name,
                    eligible: eligible.len(),
                    preflight,
                })
            }
            Subject::Policy(id) => {
                let (policy, _) = policy_strength(&tenant, id)?;
                let targets = policy_targets(&tenant, policy, &break_glass);
                let methods = methods_of(store, &targets, now).await?;
                Ok(Outcome::Policy(preflight_policy(
                    &tenant,
                    id,
                    &break_glass,
                    &|id| methods.get(id).cloned().unwrap_or_default(),
                )?))
            }
        }
    })?;

    let everyone_can = match &outcome {
        Outcome::Role { preflight, .. } => preflight.everyone_can(),
        Outcome::Policy(p) => p.report.everyone_can(),
    };
    let mut out = std::io::stdout().lock();
    if as_json {
        let value = match &outcome {
            Outcome::Role {
                id,
                name,
                eligible,
                preflight,
            } => json!({
                "role": {"id": id, "displayName": name},
                "eligibleUsers": eligible,
                "activation": preflight,
                "everyoneCan": everyone_can,
            }),
            Outcome::Policy(p) => json!({
                "policy": p,
                "everyoneCan": everyone_can,
            }),
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        match &outcome {
            Outcome::Role {
                id,
                name,
                eligible,
                preflight,
            } => print_role(&mut out, id, name, *eligible, preflight)?,
            Outcome::Policy(p) => print_policy(&mut out, p)?,
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
