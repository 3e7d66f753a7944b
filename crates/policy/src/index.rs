//! An index of policies (the enforced ones, or the report-only ones) by what they target and whom
//! they include.
//!
//! A decision needs only enforced policies that could apply: those whose target (application,
//! user action or context) and included principals (users, groups, roles, everyone, guests) meet
//! the sign-in's. Exclusions and the other conditions are checked on the candidates, so the index
//! never decides anything: it only skips policies that cannot apply.

use crate::conditional_access::{ConditionalAccessPolicy, PolicyState};
use crate::engine::{Principal, APP_GROUPS};
use crate::signin::{user_action_key, Target};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum TargetKey {
    AllApps,
    AppGroups,
    App(String),
    Action(String),
    Context(String),
}

#[derive(Debug, Default, Clone)]
struct Bucket {
    everyone: Vec<usize>,
    guests: Vec<usize>,
    principals: HashMap<String, Vec<usize>>,
}

/// Policies of some states by target and principal.
#[derive(Debug, Default, Clone)]
pub(crate) struct PolicyIndex {
    targets: HashMap<TargetKey, Bucket>,
}

#[derive(Clone)]
enum PrincipalKey {
    Everyone,
    Guests,
    Id(String),
}

fn role_key(id: &str) -> String {
    format!("role:{}", id.to_ascii_lowercase())
}

impl PolicyIndex {
    /// Indexes the enforced policies; `groups` are the (lower-case) group ids the tenant holds.
    pub(crate) fn build(policies: &[ConditionalAccessPolicy], groups: &HashSet<String>) -> Self {
        Self::build_where(policies, groups, |s| {
            !matches!(
                s,
                PolicyState::Disabled | PolicyState::EnabledForReportingButNotEnforced
            )
        })
    }

    /// Indexes the report-only policies: the sign-in log reports on them, the decision does not
    /// read them.
    pub(crate) fn build_report_only(
        policies: &[ConditionalAccessPolicy],
        groups: &HashSet<String>,
    ) -> Self {
        Self::build_where(policies, groups, |s| {
            matches!(s, PolicyState::EnabledForReportingButNotEnforced)
        })
    }

    fn build_where(
        policies: &[ConditionalAccessPolicy],
        groups: &HashSet<String>,
        keep: impl Fn(&PolicyState) -> bool,
    ) -> Self {
        let mut index = PolicyIndex::default();
        for (i, p) in policies.iter().enumerate() {
            if !keep(&p.state) {
                continue;
            }
            let targets = target_keys(p);
            let principals = principal_keys(p, groups);
            for t in &targets {
                let bucket = index.targets.entry(t.clone()).or_default();
                for k in &principals {
                    match k {
                        PrincipalKey::Everyone => bucket.everyone.push(i),
                        PrincipalKey::Guests => bucket.guests.push(i),
                        PrincipalKey::Id(id) => {
                            bucket.principals.entry(id.clone()).or_default().push(i)
                        }
                    }
                }
            }
        }
        index
    }

    /// Indexed policies that may apply to this target and principal, in tenant order.
    pub(crate) fn candidates(&self, target: &Target, principal: &Principal<'_>) -> Vec<usize> {
        let keys: Vec<TargetKey> = match target {
            Target::Applications(apps) => [TargetKey::AllApps, TargetKey::AppGroups]
                .into_iter()
                .chain(apps.iter().map(|a| TargetKey::App(a.to_ascii_lowercase())))
                .collect(),
            Target::UserAction(a) => vec![TargetKey::Action(user_action_key(a))],
            Target::AuthenticationContext(c) => vec![TargetKey::Context(c.to_string())],
        };
        let guest = principal.user.is_guest();
        let roles: Vec<String> = principal
            .roles
            .iter()
            .chain(principal.activating.as_ref())
            .map(|r| role_key(r))
            .collect();
        let ids: Vec<&str> = std::iter::once(principal.id.as_str())
            .chain(principal.groups.iter().map(String::as_str))
            .chain(roles.iter().map(String::as_str))
            .collect();
        let mut out = Vec::new();
        for key in &keys {
            let Some(b) = self.targets.get(key) else {
                continue;
            };
            out.extend_from_slice(&b.everyone);
            if guest {
                out.extend_from_slice(&b.guests);
            }
            for &id in &ids {
                if let Some(v) = b.principals.get(id) {
                    out.extend_from_slice(v);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

fn target_keys(p: &ConditionalAccessPolicy) -> Vec<TargetKey> {
    let Some(a) = &p.conditions.applications else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    for app in &a.include_applications {
        if app.eq_ignore_ascii_case("All") {
            keys.push(TargetKey::AllApps);
        } else if app.eq_ignore_ascii_case("None") {
        } else if APP_GROUPS.iter().any(|g| g.eq_ignore_ascii_case(app)) {
            keys.push(TargetKey::AppGroups);
            // A request may name the group itself.
            keys.push(TargetKey::App(app.to_ascii_lowercase()));
        } else {
            keys.push(TargetKey::App(app.to_ascii_lowercase()));
        }
    }
    keys.extend(
        a.include_user_actions
            .iter()
            .map(|x| TargetKey::Action(user_action_key(x))),
    );
    keys.extend(
        a.include_authentication_context_class_references
            .iter()
            .map(|x| TargetKey::Context(x.clone())),
    );
    keys
}

fn principal_keys(p: &ConditionalAccessPolicy, groups: &HashSet<String>) -> Vec<PrincipalKey> {
    let Some(u) = &p.conditions.users else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    for id in &u.include_users {
        if id.eq_ignore_ascii_case("All") {
            keys.push(PrincipalKey::Everyone);
        } else if id.eq_ignore_ascii_case("GuestsOrExternalUsers") {
            keys.push(PrincipalKey::Guests);
        } else if !id.eq_ignore_ascii_case("None") {
            keys.push(PrincipalKey::Id(id.to_ascii_lowercase()));
        }
    }
    for g in &u.include_groups {
        let g = g.to_ascii_lowercase();
        if groups.contains(&g) {
            keys.push(PrincipalKey::Id(g));
        } else {
            // Members unknown: the policy may apply to anyone.
            keys.push(PrincipalKey::Everyone);
        }
    }
    keys.extend(
        u.include_roles
            .iter()
            .map(|r| PrincipalKey::Id(role_key(r))),
    );
    if u.include_guests_or_external_users
        .as_ref()
        .is_some_and(|g| !g.guest_or_external_user_types.0.is_empty())
    {
        keys.push(PrincipalKey::Guests);
    }
    keys
}
