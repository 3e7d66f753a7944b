//! `portcullis lint`: where activation and Conditional Access are weaker than they look.
//!
//! Every directory role's settings (stored, or the defaults a role nobody configured has) go
//! through `pim::lint_role_policy`; the tenant the store holds goes through
//! `policy::posture::lint_conditional_access`, with the contexts role activation requires and
//! the break-glass accounts given on the command line.

use crate::clients::with_store;
use crate::service::StoreArgs;
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use pim::{lint_role_policy, EnabledRule, RoleManagementPolicy, RoleRef, RuleId};
use policy::context::ContextId;
use policy::posture::{lint_conditional_access, severity_name, ContextUse, PostureFinding};
use policy::{Severity, Tenant};
use serde_json::json;
use std::io::Write;
use std::process::ExitCode;
use store::{RoleDefinition, Store};

/// Built-in roles Entra marks privileged (`isPrivileged`) among those the store knows: a role of
/// these whose activation requires no authentication at all is an error, not a warning. The two
/// readers are not among them.
const PRIVILEGED_ROLES: &[&str] = &[
    "62e90394-69f5-4237-9190-012177145e10", // Global Administrator
    "e8611ab8-c189-46e8-94e1-60213ab1f814", // Privileged Role Administrator
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9", // Conditional Access Administrator
    "194ae4cb-b126-40b2-bd5b-6091b380977d", // Security Administrator
    "0526716b-113d-4c15-b2c8-68e3c22b9f80", // Authentication Policy Administrator
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", // Application Administrator
    "fe930be7-5e62-47db-91af-98c3a49a38b1", // User Administrator
    "729827e3-9c14-49f7-bb1b-9608f156bbb8", // Helpdesk Administrator
];

/// A role with the settings that govern it.
pub(crate) struct RoleSettings {
    /// The role.
    pub definition: RoleDefinition,
    /// Its settings.
    pub policy: RoleManagementPolicy,
    /// Whether they are stored (otherwise they are the defaults).
    pub stored: bool,
}

impl RoleSettings {
    /// The role as the lint names it.
    pub fn role_ref(&self) -> RoleRef {
        RoleRef {
            id: self.definition.id.clone(),
            display_name: Some(self.definition.display_name.clone()),
            is_privileged: PRIVILEGED_ROLES
                .iter()
                .any(|r| r.eq_ignore_ascii_case(&self.definition.id)),
        }
    }

    /// The context activation requires, if the rule is enabled with a valid one.
    pub fn required_context(&self) -> Option<ContextId> {
        self.policy
            .authentication_context()
            .and_then(|c| c.required_context().ok().flatten())
    }

    /// Whether activation requires MultiFactorAuthentication (an MFA claim).
    pub fn requires_mfa(&self) -> bool {
        self.policy
            .enablement(&RuleId::EnablementEndUserAssignment)
            .is_some_and(|e| e.requires(&EnabledRule::MultiFactorAuthentication))
    }

    /// What activation requires, in a few words.
    pub fn activation_summary(&self) -> String {
        match (
            self.policy
                .authentication_context()
                .filter(|c| c.is_enabled),
            self.requires_mfa(),
        ) {
            (Some(c), _) => match c.required_context() {
                Ok(Some(id)) => format!("activation requires context {id}"),
                _ => format!(
                    "activation requires context '{}', which is not c1 to c99",
                    c.claim_value.as_deref().unwrap_or("")
                ),
            },
            (None, true) => "activation requires an MFA claim".to_string(),
            (None, false) => "activation requires no authentication".to_string(),
        }
    }
}

/// Every role with its settings: the stored ones, or the defaults.
pub(crate) async fn role_settings(store: &Store, now: DateTime<Utc>) -> Result<Vec<RoleSettings>> {
    let definitions = store
        .list_role_definitions()
        .await
        .context("cannot read the role definitions")?;
    let stored = store
        .list_role_policies()
        .await
        .context("cannot read the role settings")?;
    Ok(definitions
        .into_iter()
        .map(|definition| {
            match stored
                .iter()
                .find(|s| s.role_definition_id.eq_ignore_ascii_case(&definition.id))
            {
                Some(s) => RoleSettings {
                    policy: s.policy.clone(),
                    stored: true,
                    definition,
                },
                None => RoleSettings {
                    policy: RoleManagementPolicy::default_for(&definition.id, now),
                    stored: false,
                    definition,
                },
            }
        })
        .collect())
}

/// The ids of the break-glass accounts and groups given as sign-in names or ids.
pub(crate) fn resolve_break_glass(tenant: &Tenant, given: &[String]) -> Result<Vec<String>> {
    let mut ids: Vec<String> = Vec::new();
    for g in given {
        let g = g.trim();
        let user = tenant.users.iter().find(|u| {
            u.id.eq_ignore_ascii_case(g)
                || u.user_principal_name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(g))
        });
        let id = match user {
            Some(u) => u.id.clone(),
            None => match tenant.groups.iter().find(|x| x.id.eq_ignore_ascii_case(g)) {
                Some(group) => group.id.clone(),
                None => bail!(
                    "--break-glass '{g}' is neither a user's sign-in name nor the id of a user or \
                     group"
                ),
            },
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// The contexts role activation requires, with the roles requiring each.
fn context_uses(roles: &[RoleSettings]) -> Vec<ContextUse> {
    let mut uses: Vec<ContextUse> = Vec::new();
    for r in roles {
        let Some(context) = r.required_context().map(|c| c.to_string()) else {
            continue;
        };
        let name = r.definition.display_name.clone();
        match uses.iter_mut().find(|u| u.context == context) {
            Some(u) => u.roles.push(name),
            None => uses.push(ContextUse {
                context,
                roles: vec![name],
            }),
        }
    }
    uses
}

/// `portcullis lint`.
pub(crate) fn run(args: &StoreArgs, break_glass: &[String], as_json: bool) -> Result<ExitCode> {
    let now = Utc::now();
    let (roles, tenant) = with_store(args, async |store| {
        let roles = role_settings(store, now).await?;
        let tenant = store
            .load_tenant(now)
            .await
            .context("cannot read the tenant")?;
        Ok((roles, tenant))
    })?;
    let break_glass = resolve_break_glass(&tenant, break_glass)?;
    let uses = context_uses(&roles);
    let role_findings: Vec<Vec<pim::Finding>> = roles
        .iter()
        .map(|r| lint_role_policy(&r.role_ref(), &r.policy))
        .collect();
    let ca_findings = lint_conditional_access(&tenant, &break_glass, &uses);

    let severities = role_findings
        .iter()
        .flatten()
        .map(|f| f.severity)
        .chain(ca_findings.iter().map(|f| f.severity));
    let (mut errors, mut warnings, mut not_enforced) = (0, 0, 0);
    for s in severities {
        match s {
            Severity::Error => errors += 1,
            Severity::Warning => warnings += 1,
            Severity::NotEnforced => not_enforced += 1,
        }
    }

    let mut out = std::io::stdout().lock();
    if as_json {
        let roles_json: Vec<_> = roles
            .iter()
            .zip(&role_findings)
            .map(|(r, findings)| {
                json!({
                    "roleDefinitionId": r.definition.id,
                    "displayName": r.definition.display_name,
                    "settings": if r.stored { "stored" } else { "default" },
                    "activation": {
                        "authenticationContext": r.required_context().map(|c| c.to_string()),
                        "multiFactorAuthentication": r.requires_mfa(),
                    },
                    "findings": findings,
                })
            })
            .collect();
        let report = json!({
            "roles": roles_json,
            "conditionalAccess": ca_findings,
            "breakGlass": break_glass,
            "errors": errors,
            "warnings": warnings,
            "notEnforced": not_enforced,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        writeln!(out, "Role settings ({} roles)", roles.len())?;
        for (r, findings) in roles.iter().zip(&role_findings) {
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
        let t = &tenant;
        writeln!(out)?;
        writeln!(
            out,
            "Conditional Access ({} policies, {} authentication contexts, {} break-glass \
             accounts or groups designated)",
            t.conditional_access_policies.len(),
            t.authentication_context_class_references.len(),
            break_glass.len()
        )?;
        if ca_findings.is_empty() {
            writeln!(out, "  no findings")?;
        }
        print_grouped(&mut out, &ca_findings)?;
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
