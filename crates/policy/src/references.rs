//! The directory objects a Conditional Access policy names, and which of them a tenant lacks:
//! what a write through the API must not introduce (a policy naming a group that does not
//! exist silently applies to nobody, or excludes nobody).
//!
//! Graph's keywords (`All`, `None`, `GuestsOrExternalUsers`, `AllTrusted`) are not references.
//! Ids compare without regard to case.

use crate::conditional_access::ConditionalAccessPolicy;
use crate::tenant::Tenant;
use std::collections::BTreeSet;

/// One reference a tenant cannot resolve, for people: `group 'id' (conditions.users.includeGroups)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Missing {
    /// What kind of object (`user`, `group`, `role`, `named location`, `authentication context`).
    pub kind: &'static str,
    /// The id as the policy spells it.
    pub id: String,
    /// Where the policy names it.
    pub field: &'static str,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} '{}' ({}) does not exist",
            self.kind, self.id, self.field
        )
    }
}

fn has(ids: &BTreeSet<String>, id: &str) -> bool {
    ids.contains(&id.to_ascii_lowercase())
}

/// The references of `policy` that `tenant` does not hold; `role_exists` says whether a role
/// definition id exists (the tenant document holds none).
pub fn missing(
    policy: &ConditionalAccessPolicy,
    tenant: &Tenant,
    role_exists: &dyn Fn(&str) -> bool,
) -> BTreeSet<Missing> {
    let lower = |it: &mut dyn Iterator<Item = &String>| -> BTreeSet<String> {
        it.map(|s| s.to_ascii_lowercase()).collect()
    };
    let users = lower(&mut tenant.users.iter().map(|u| &u.id));
    let groups = lower(&mut tenant.groups.iter().map(|g| &g.id));
    let locations = lower(&mut tenant.named_locations.iter().map(|l| &l.id));
    let contexts = lower(
        &mut tenant
            .authentication_context_class_references
            .iter()
            .map(|c| &c.id),
    );
    let mut out = BTreeSet::new();
    let mut push = |kind, id: &String, field| {
        out.insert(Missing {
            kind,
            id: id.clone(),
            field,
        });
    };
    let keyword = |id: &str, words: &[&str]| words.iter().any(|w| w.eq_ignore_ascii_case(id));
    let c = &policy.conditions;
    if let Some(u) = &c.users {
        for (ids, field) in [
            (&u.include_users, "conditions.users.includeUsers"),
            (&u.exclude_users, "conditions.users.excludeUsers"),
        ] {
            for id in ids {
                if !keyword(id, &["All", "None", "GuestsOrExternalUsers"]) && !has(&users, id) {
                    push("user", id, field);
                }
            }
        }
        for (ids, field) in [
            (&u.include_groups, "conditions.users.includeGroups"),
            (&u.exclude_groups, "conditions.users.excludeGroups"),
        ] {
            for id in ids {
                if !has(&groups, id) {
                    push("group", id, field);
                }
            }
        }
        for (ids, field) in [
            (&u.include_roles, "conditions.users.includeRoles"),
            (&u.exclude_roles, "conditions.users.excludeRoles"),
        ] {
            for id in ids {
                if !role_exists(id) {
                    push("role", id, field);
                }
            }
        }
    }
    if let Some(l) = &c.locations {
        for (ids, field) in [
            (
                &l.include_locations,
                "conditions.locations.includeLocations",
            ),
            (
                &l.exclude_locations,
                "conditions.locations.excludeLocations",
            ),
        ] {
            for id in ids {
                if !keyword(id, &["All", "AllTrusted"]) && !has(&locations, id) {
                    push("named location", id, field);
                }
            }
        }
    }
    if let Some(a) = &c.applications {
        for id in &a.include_authentication_context_class_references {
            if !has(&contexts, id) {
                push(
                    "authentication context",
                    id,
                    "conditions.applications.includeAuthenticationContextClassReferences",
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn policy(v: serde_json::Value) -> ConditionalAccessPolicy {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn keywords_are_not_references_and_ids_match_in_any_case() {
        let tenant: Tenant = serde_json::from_value(json!({
            "users": [{"id": "u1", "userPrincipalName": "a@x.test"}],
            "groups": [{"id": "g1"}],
            "namedLocations": [{"id": "l1", "displayName": "HQ"}],
            "authenticationContextClassReferences": [{"id": "c1"}]
        }))
        .unwrap();
        let p = policy(json!({
            "displayName": "p",
            "state": "enabled",
            "conditions": {
                "users": {
                    "includeUsers": ["All", "U1", "u2"],
                    "excludeUsers": ["GuestsOrExternalUsers"],
                    "includeGroups": ["G1"],
                    "excludeGroups": ["g9"],
                    "includeRoles": ["r1", "r2"]
                },
                "applications": {"includeAuthenticationContextClassReferences": ["c1", "c2"]},
                "locations": {"includeLocations": ["All"], "excludeLocations": ["AllTrusted", "L1", "l2"]},
                "clientAppTypes": ["all"]
            },
            "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}
        }));
        let found: Vec<String> = missing(&p, &tenant, &|r| r == "r1")
            .iter()
            .map(|m| format!("{} {}", m.kind, m.id))
            .collect();
        assert_eq!(
            found,
            [
                "authentication context c2",
                "group g9",
                "named location l2",
                "role r2",
                "user u2"
            ]
        );
    }
}
