//! Validation: what is wrong with a tenant, and what Portcullis will not enforce.
//!
//! Every finding names the object (kind, name and id) and the field, so that an administrator can
//! find it in the portal or the export.

use crate::api_write::WriteViolation;
use crate::conditional_access::{
    BuiltInControl, ConditionalAccessPolicy, FrequencyInterval, PolicyState,
};
use crate::context::ContextId;
use crate::directory::AssignmentStatus;
use crate::engine::{Engine, APP_GROUPS};
use crate::location::LocationKind;
use crate::serde_util::carries_configuration;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    /// The configuration is invalid; `tenant check` fails.
    Error,
    /// Probably a mistake or an incomplete export; evaluation goes on.
    Warning,
    /// Portcullis keeps it but does not (fully) enforce it; how it is treated is said.
    NotEnforced,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Error, warning or not enforced.
    pub severity: Severity,
    /// The object, e.g. `conditionalAccessPolicy 'CA001' (0f3c…)`.
    pub object: String,
    /// The field, in Graph's dotted path.
    pub field: String,
    /// What is wrong and what Portcullis does about it.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::NotEnforced => "not enforced",
        };
        write!(
            f,
            "{sev}: {}: {}: {}",
            self.object, self.field, self.message
        )
    }
}

struct Findings(Vec<Finding>);

impl Findings {
    fn push(&mut self, severity: Severity, object: &str, field: &str, message: impl Into<String>) {
        self.0.push(Finding {
            severity,
            object: object.to_string(),
            field: field.to_string(),
            message: message.into(),
        });
    }
}

fn describe(kind: &str, name: Option<&str>, id: &str) -> String {
    match name {
        Some(n) if !n.is_empty() => format!("{kind} '{n}' ({id})"),
        _ => format!("{kind} ({id})"),
    }
}

fn duplicates<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    let mut dup = Vec::new();
    for id in ids {
        if !seen.insert(id.to_ascii_lowercase()) {
            dup.push(id);
        }
    }
    dup
}

/// Validates the engine's tenant.
pub fn validate(engine: &Engine) -> Vec<Finding> {
    let t = engine.tenant();
    let mut f = Findings(Vec::new());

    for (kind, ids) in [
        (
            "user",
            t.users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        ),
        ("group", t.groups.iter().map(|g| g.id.as_str()).collect()),
        (
            "conditionalAccessPolicy",
            t.conditional_access_policies
                .iter()
                .map(|p| p.id.as_str())
                .collect(),
        ),
        (
            "namedLocation",
            t.named_locations.iter().map(|l| l.id.as_str()).collect(),
        ),
        (
            "authenticationStrengthPolicy",
            t.authentication_strength_policies
                .iter()
                .map(|s| s.id.as_str())
                .collect(),
        ),
        (
            "authenticationContextClassReference",
            t.authentication_context_class_references
                .iter()
                .map(|c| c.id.as_str())
                .collect(),
        ),
    ] {
        for id in &ids {
            if id.trim().is_empty() {
                f.push(Severity::Error, kind, "id", "missing id");
            }
        }
        for id in duplicates(ids.into_iter().filter(|i| !i.trim().is_empty())) {
            if matches!(kind, "user" | "group") {
                // The same directory object exported twice (e.g. before and after a rename):
                // evaluation merges the entries' memberships, so nothing is decided on either alone.
                f.push(
                    Severity::Warning,
                    &format!("{kind} ({id})"),
                    "id",
                    "appears more than once: the entries' memberships are merged",
                );
            } else {
                f.push(
                    Severity::Error,
                    &format!("{kind} ({id})"),
                    "id",
                    "duplicate id: which definition applies would be ambiguous",
                );
            }
        }
    }

    let user_ids: HashSet<String> = t.users.iter().map(|u| u.id.to_ascii_lowercase()).collect();
    for g in &t.groups {
        let obj = describe("group", g.display_name.as_deref(), &g.id);
        for m in &g.members {
            let id = m.id().to_ascii_lowercase();
            if !user_ids.contains(&id) && !engine.has_group(&id) {
                f.push(
                    Severity::Warning,
                    &obj,
                    "members",
                    format!("member '{}' is not a user or group of the tenant", m.id()),
                );
            }
        }
    }
    for a in &t.role_assignments {
        let obj = format!(
            "roleAssignment ({} → {})",
            a.principal_id, a.role_definition_id
        );
        let p = a.principal_id.canonical();
        if !user_ids.contains(&p) && !engine.has_group(&p) {
            f.push(
                Severity::Warning,
                &obj,
                "principalId",
                "principal is not a user or group of the tenant",
            );
        }
        if let AssignmentStatus::Unknown(s) = &a.status {
            f.push(
                Severity::NotEnforced,
                &obj,
                "status",
                format!("status '{s}' is not known: the assignment is ignored"),
            );
        }
    }

    for l in &t.named_locations {
        let obj = describe("namedLocation", l.display_name.as_deref(), &l.id);
        for bad in l.malformed_ranges() {
            f.push(
                Severity::Error,
                &obj,
                "ipRanges",
                format!("'{bad}' is not an IPv4 or IPv6 CIDR range"),
            );
        }
        if l.kind() == LocationKind::Other {
            f.push(Severity::NotEnforced, &obj, "@odata.type", "this kind of location cannot be evaluated: policies that name it get notEnoughInformation");
        }
    }

    for s in &t.authentication_strength_policies {
        let obj = describe(
            "authenticationStrengthPolicy",
            s.display_name.as_deref(),
            &s.id,
        );
        if s.allowed_combinations.is_empty() {
            f.push(
                Severity::Error,
                &obj,
                "allowedCombinations",
                "a strength needs at least one allowed combination",
            );
        }
        for c in &s.allowed_combinations {
            for m in c.unknown_modes() {
                f.push(
                    Severity::NotEnforced,
                    &obj,
                    "allowedCombinations",
                    format!("method '{m}' is not known: combination '{c}' can never be satisfied"),
                );
            }
        }
    }

    let defined_contexts: HashSet<&str> = t
        .authentication_context_class_references
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    for c in &t.authentication_context_class_references {
        if let Err(e) = ContextId::parse(&c.id) {
            let obj = describe(
                "authenticationContextClassReference",
                c.display_name.as_deref(),
                &c.id,
            );
            f.push(Severity::Error, &obj, "id", e.to_string());
        }
    }

    let custom_strengths: HashSet<String> = t
        .authentication_strength_policies
        .iter()
        .map(|s| s.id.to_ascii_lowercase())
        .collect();
    for p in &t.conditional_access_policies {
        policy_findings(engine, p, &defined_contexts, &custom_strengths, &mut f);
    }
    f.0
}

fn policy_findings(
    engine: &Engine,
    p: &ConditionalAccessPolicy,
    defined_contexts: &HashSet<&str>,
    custom_strengths: &HashSet<String>,
    f: &mut Findings,
) {
    let obj = describe("conditionalAccessPolicy", Some(&p.display_name), &p.id);
    let obj = obj.as_str();
    if let PolicyState::Unknown(s) = &p.state {
        f.push(
            Severity::NotEnforced,
            obj,
            "state",
            format!("state '{s}' is not known: the policy is enforced as if enabled"),
        );
    }
    let c = &p.conditions;
    if c.users.is_none() {
        f.push(
            Severity::Error,
            obj,
            "conditions.users",
            "is required: without it the policy applies to nobody",
        );
    }
    match &c.applications {
        None => f.push(
            Severity::Error,
            obj,
            "conditions.applications",
            "is required: without it the policy applies to nothing",
        ),
        Some(a) => {
            let apps = a
                .include_applications
                .iter()
                .any(|x| !x.eq_ignore_ascii_case("None"));
            let actions = !a.include_user_actions.is_empty();
            let contexts = !a.include_authentication_context_class_references.is_empty();
            if [apps, actions, contexts].iter().filter(|b| **b).count() > 1 {
                f.push(Severity::Error, obj, "conditions.applications", "targets more than one of applications, user actions and authentication contexts; a policy targets exactly one");
            }
            for action in &a.include_user_actions {
                if crate::signin::user_action_urn(action).is_none() {
                    f.push(
                        Severity::NotEnforced,
                        obj,
                        "conditions.applications.includeUserActions",
                        format!("user action '{action}' is not known: no sign-in will match it"),
                    );
                }
            }
            for ctx in &a.include_authentication_context_class_references {
                match ContextId::parse(ctx) {
                    Err(e) => f.push(Severity::Error, obj, "conditions.applications.includeAuthenticationContextClassReferences", e.to_string()),
                    Ok(_) if defined_contexts.contains(ctx.as_str()) => {}
                    Ok(_) if defined_contexts.is_empty() => f.push(Severity::Warning, obj, "conditions.applications.includeAuthenticationContextClassReferences", format!("context '{ctx}' is not defined: the tenant holds no authentication contexts (a partial export?)")),
                    Ok(_) => f.push(Severity::Error, obj, "conditions.applications.includeAuthenticationContextClassReferences", format!("context '{ctx}' is not one of the tenant's authentication contexts")),
                }
            }
            for app in a.include_applications.iter().chain(&a.exclude_applications) {
                if APP_GROUPS.iter().any(|g| g.eq_ignore_ascii_case(app)) {
                    f.push(Severity::NotEnforced, obj, "conditions.applications", format!("app group '{app}' has no member list here: it matches a sign-in that names '{app}' itself, and is notEnoughInformation for other applications"));
                }
            }
            if a.application_filter
                .as_ref()
                .is_some_and(|x| !x.rule.trim().is_empty())
            {
                f.push(
                    Severity::NotEnforced,
                    obj,
                    "conditions.applications.applicationFilter",
                    "application attributes are not known: notEnoughInformation",
                );
            }
        }
    }
    if let Some(u) = &c.users {
        for g in u.include_groups.iter().chain(&u.exclude_groups) {
            if !engine.has_group(g) {
                f.push(Severity::Warning, obj, "conditions.users", format!("group '{g}' is not in the tenant: membership in it is notEnoughInformation"));
            }
        }
        for (field, g) in [
            (
                "includeGuestsOrExternalUsers",
                &u.include_guests_or_external_users,
            ),
            (
                "excludeGuestsOrExternalUsers",
                &u.exclude_guests_or_external_users,
            ),
        ] {
            for t in g
                .iter()
                .flat_map(|g| g.guest_or_external_user_types.0.iter())
                .filter(|t| !t.is_known())
            {
                f.push(
                    Severity::NotEnforced,
                    obj,
                    &format!("conditions.users.{field}"),
                    format!("guest type '{t}' is not known"),
                );
            }
        }
    }
    if let Some(pl) = &c.platforms {
        for x in pl
            .include_platforms
            .iter()
            .chain(&pl.exclude_platforms)
            .filter(|x| !x.is_known())
        {
            f.push(
                Severity::NotEnforced,
                obj,
                "conditions.platforms",
                format!("platform '{x}' is not known: only a sign-in reporting it matches"),
            );
        }
    }
    for x in c.client_app_types.iter().filter(|x| !x.is_known()) {
        f.push(
            Severity::NotEnforced,
            obj,
            "conditions.clientAppTypes",
            format!("client app type '{x}' is not known"),
        );
    }
    for x in c
        .sign_in_risk_levels
        .iter()
        .chain(&c.user_risk_levels)
        .filter(|x| !x.is_known())
    {
        f.push(
            Severity::NotEnforced,
            obj,
            "conditions.riskLevels",
            format!("risk level '{x}' is not known"),
        );
    }
    if let Some(l) = &c.locations {
        for id in l.include_locations.iter().chain(&l.exclude_locations) {
            if id.eq_ignore_ascii_case("All") || id.eq_ignore_ascii_case("AllTrusted") {
                continue;
            }
            match engine.location(id) {
                None => f.push(
                    Severity::Warning,
                    obj,
                    "conditions.locations",
                    format!("named location '{id}' is not in the tenant: notEnoughInformation"),
                ),
                Some(loc) if loc.kind() == LocationKind::Other => f.push(
                    Severity::NotEnforced,
                    obj,
                    "conditions.locations",
                    format!(
                        "location '{}' cannot be evaluated: notEnoughInformation",
                        loc.name()
                    ),
                ),
                Some(_) => {}
            }
        }
    }
    if let Some(d) = &c.devices {
        if let Some(filter) = &d.device_filter {
            if !crate::device_filter::is_valid(&filter.rule) {
                f.push(
                    Severity::Error,
                    obj,
                    "conditions.devices.deviceFilter",
                    format!(
                        "rule '{}' does not parse: notEnoughInformation",
                        filter.rule
                    ),
                );
            }
        }
        for (k, _) in d.extra.iter().filter(|(k, v)| carries_configuration(k, v)) {
            f.push(
                Severity::NotEnforced,
                obj,
                &format!("conditions.devices.{k}"),
                "deprecated device condition: notEnoughInformation",
            );
        }
    }
    if let Some(fl) = &c.authentication_flows {
        for x in fl.transfer_methods.0.iter().filter(|x| !x.is_known()) {
            f.push(
                Severity::NotEnforced,
                obj,
                "conditions.authenticationFlows",
                format!("transfer method '{x}' is not known"),
            );
        }
    }
    for (k, _) in c.extra.iter().filter(|(k, v)| carries_configuration(k, v)) {
        f.push(Severity::NotEnforced, obj, &format!("conditions.{k}"), "condition not known to Portcullis: the policy is notEnoughInformation and enforced as applying");
    }

    if let Some(g) = &p.grant_controls {
        let mfa = g.built_in_controls.contains(&BuiltInControl::Mfa);
        if mfa && g.authentication_strength.is_some() {
            f.push(
                Severity::Error,
                obj,
                "grantControls",
                "'mfa' and 'authenticationStrength' may not both be required in one policy",
            );
        }
        let or = g.is_or()
            && g.built_in_controls.len() + usize::from(g.authentication_strength.is_some()) > 1;
        for x in &g.built_in_controls {
            let note = match x {
                BuiltInControl::Block | BuiltInControl::Mfa => continue,
                BuiltInControl::CompliantDevice | BuiltInControl::DomainJoinedDevice => {
                    "needs deviceInfo in the sign-in; without it the control is not met"
                }
                BuiltInControl::Unknown(_) => "is not known to Portcullis: never met",
                _ => "cannot be met through Portcullis: never met",
            };
            let tail = if or {
                " (another control of this OR may still be met)"
            } else {
                ""
            };
            f.push(
                Severity::NotEnforced,
                obj,
                "grantControls.builtInControls",
                format!("'{x}' {note}{tail}"),
            );
        }
        for x in &g.custom_authentication_factors {
            f.push(
                Severity::NotEnforced,
                obj,
                "grantControls.customAuthenticationFactors",
                format!("custom control '{x}' cannot be met through Portcullis"),
            );
        }
        for x in &g.terms_of_use {
            f.push(
                Severity::NotEnforced,
                obj,
                "grantControls.termsOfUse",
                format!("terms of use '{x}' cannot be met through Portcullis"),
            );
        }
        if let Some(s) = &g.authentication_strength {
            let known = engine.strength(&s.id).is_some();
            let builtin = crate::strength::built_in_strengths()
                .iter()
                .any(|b| b.id.eq_ignore_ascii_case(&s.id));
            if !known {
                f.push(Severity::Error, obj, "grantControls.authenticationStrength", format!("authentication strength '{}' is neither built in nor defined in the tenant", s.id));
            } else if !builtin && !custom_strengths.contains(&s.id.to_ascii_lowercase()) {
                f.push(Severity::Warning, obj, "grantControls.authenticationStrength", format!("strength '{}' ({}) is not in the tenant: its definition was taken from the policy export", s.name(), s.id));
            }
        }
    }
    if let Some(sc) = &p.session_controls {
        if let Some(sif) = p.sign_in_frequency() {
            let time_based_ok = sif.frequency_type.as_ref().is_some_and(|t| t.is_known())
                && sif.value.is_some_and(|v| v > 0);
            let ok = match &sif.frequency_interval {
                Some(FrequencyInterval::EveryTime) => true,
                Some(FrequencyInterval::TimeBased) | None => time_based_ok,
                Some(FrequencyInterval::Unknown(_)) => false,
            };
            if !ok {
                f.push(
                    Severity::Warning,
                    obj,
                    "sessionControls.signInFrequency",
                    "neither everyTime nor a valid time-based interval: treated as every time",
                );
            }
            // What an import keeps but the API refuses (see `api_write`): say so, since the
            // policy could not be written back unchanged.
            for v in crate::api_write::write_violations(p) {
                if let WriteViolation::OutOfRange {
                    field,
                    value,
                    min,
                    max,
                    unit,
                } = v
                {
                    f.push(
                        Severity::Warning,
                        obj,
                        &field,
                        format!(
                            "{value} {unit} is outside the range Entra accepts ({min} to {max} \
                             {unit}); a frequency reaching back before the earliest \
                             representable time is treated as every time"
                        ),
                    );
                }
            }
        }
        for (k, _) in sc.extra.iter().filter(|(k, v)| carries_configuration(k, v)) {
            f.push(
                Severity::NotEnforced,
                obj,
                &format!("sessionControls.{k}"),
                "session control not enforced by Portcullis",
            );
        }
    }
}

/// Counts findings by severity: (errors, warnings, not enforced).
pub fn count(findings: &[Finding]) -> (usize, usize, usize) {
    let mut by: HashMap<Severity, usize> = HashMap::new();
    for x in findings {
        *by.entry(x.severity).or_default() += 1;
    }
    let get = |s| by.get(&s).copied().unwrap_or(0);
    (
        get(Severity::Error),
        get(Severity::Warning),
        get(Severity::NotEnforced),
    )
}
