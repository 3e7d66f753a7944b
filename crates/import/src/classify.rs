//! Recognising what a JSON object is: `@odata.type`, then `@odata.context`, then the folder,
//! then the shape.

use crate::{LoadError, LoadNote, Loaded};
use policy::tenant::TENANT_KEYS;
use policy::Tenant;
use serde_json::{Map, Value};
use std::path::Path;

/// The kinds of object a tenant holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Policy,
    Location,
    Group,
    User,
    Strength,
    Context,
    RoleAssignment,
    EligibleRoleAssignment,
    RolePolicy,
    RolePolicyAssignment,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Policy => "conditional access policy",
            Kind::Location => "named location",
            Kind::Group => "group",
            Kind::User => "user",
            Kind::Strength => "authentication strength",
            Kind::Context => "authentication context",
            Kind::RoleAssignment | Kind::EligibleRoleAssignment => "role assignment",
            Kind::RolePolicy => "role management policy",
            Kind::RolePolicyAssignment => "role management policy assignment",
        }
    }
}

fn from_odata_type(t: &str) -> Option<Kind> {
    let t = t
        .trim_start_matches('#')
        .trim_start_matches("microsoft.graph.");
    Some(match t {
        "conditionalAccessPolicy" => Kind::Policy,
        "namedLocation"
        | "ipNamedLocation"
        | "countryNamedLocation"
        | "compliantNetworkNamedLocation" => Kind::Location,
        "group" => Kind::Group,
        "user" => Kind::User,
        "authenticationStrengthPolicy" => Kind::Strength,
        "authenticationContextClassReference" => Kind::Context,
        "unifiedRoleAssignment"
        | "unifiedRoleAssignmentSchedule"
        | "unifiedRoleAssignmentScheduleInstance" => Kind::RoleAssignment,
        "unifiedRoleEligibilitySchedule" | "unifiedRoleEligibilityScheduleInstance" => {
            Kind::EligibleRoleAssignment
        }
        "unifiedRoleManagementPolicy" => Kind::RolePolicy,
        "unifiedRoleManagementPolicyAssignment" => Kind::RolePolicyAssignment,
        _ => return None,
    })
}

fn from_odata_context(c: &str) -> Option<Kind> {
    let c = c.rsplit('#').next()?.to_ascii_lowercase();
    let c = c.trim_end_matches("/$entity");
    let last = |s: &str| c.ends_with(s) || c.contains(&format!("{s}/"));
    // Role policies before the rest: `…/roleManagementPolicyAssignments` ends in
    // `assignments`, and `…/roleManagementPolicies(rules())` (an `$expand`) in neither.
    Some(if c.contains("rolemanagementpolicyassignments") {
        Kind::RolePolicyAssignment
    } else if c.contains("rolemanagementpolicies") {
        Kind::RolePolicy
    } else if last("conditionalaccess/policies") {
        Kind::Policy
    } else if last("namedlocations") {
        Kind::Location
    } else if last("authenticationstrength/policies") || last("authenticationstrengthpolicies") {
        Kind::Strength
    } else if last("authenticationcontextclassreferences") {
        Kind::Context
    } else if last("roleeligibilityschedules") || last("roleeligibilityscheduleinstances") {
        Kind::EligibleRoleAssignment
    } else if last("roleassignments") || last("roleassignmentschedules") {
        Kind::RoleAssignment
    } else if c.ends_with("groups") || c.contains("groups(") {
        Kind::Group
    } else if c.ends_with("users") {
        Kind::User
    } else {
        return None;
    })
}

fn from_folder(name: &str) -> Option<Kind> {
    let n = name.to_ascii_lowercase().replace(['-', '_', ' '], "");
    Some(match n.as_str() {
        "conditionalaccess" | "conditionalaccesspolicies" | "policies" | "capolicies" => {
            Kind::Policy
        }
        "namedlocations" | "locations" => Kind::Location,
        "groups" => Kind::Group,
        "users" => Kind::User,
        "authenticationstrengths" | "authenticationstrengthpolicies" | "strengths" => {
            Kind::Strength
        }
        "authenticationcontexts" | "authenticationcontextclassreferences" | "contexts" => {
            Kind::Context
        }
        "roleassignments" => Kind::RoleAssignment,
        "roleeligibilities" | "eligibleroleassignments" => Kind::EligibleRoleAssignment,
        "rolemanagementpolicies" | "rolesettings" => Kind::RolePolicy,
        "rolemanagementpolicyassignments" => Kind::RolePolicyAssignment,
        _ => return None,
    })
}

/// The kind named by the nearest folder between `root` and `file`, if any.
pub(crate) fn folder_hint(root: &Path, file: &Path) -> Option<Kind> {
    let rel = file.strip_prefix(root).ok()?;
    let parent = rel.parent()?;
    parent
        .components()
        .rev()
        .find_map(|c| from_folder(&c.as_os_str().to_string_lossy()))
}

fn from_shape(o: &Map<String, Value>) -> Option<Kind> {
    let has = |k: &str| o.contains_key(k);
    Some(
        if has("conditions") && (has("grantControls") || has("sessionControls") || has("state")) {
            Kind::Policy
        } else if has("ipRanges") || has("countriesAndRegions") || has("compliantNetworkType") {
            Kind::Location
        } else if has("allowedCombinations") {
            Kind::Strength
        } else if has("rules") && (has("scopeType") || has("scopeId")) {
            Kind::RolePolicy
        } else if has("policyId") && has("roleDefinitionId") {
            Kind::RolePolicyAssignment
        } else if has("principalId") && has("roleDefinitionId") {
            Kind::RoleAssignment
        } else if has("userPrincipalName") {
            Kind::User
        } else if has("groupTypes")
            || has("mailNickname")
            || has("securityEnabled")
            || has("members")
        {
            Kind::Group
        } else if o
            .get("id")
            .and_then(Value::as_str)
            .is_some_and(|id| policy::context::ContextId::parse(id).is_ok())
            && (has("isAvailable") || has("displayName"))
        {
            Kind::Context
        } else {
            return None;
        },
    )
}

fn classify(
    o: &Map<String, Value>,
    collection: Option<Kind>,
    folder: Option<Kind>,
) -> Option<Kind> {
    o.get("@odata.type")
        .and_then(Value::as_str)
        .and_then(from_odata_type)
        .or_else(|| {
            o.get("@odata.context")
                .and_then(Value::as_str)
                .and_then(from_odata_context)
        })
        .or(collection)
        .or(folder)
        .or_else(|| from_shape(o))
}

/// A GUID-shaped id derived from the file's path and the object's position, so that an object
/// exported without an id gets the same id on every import.
fn derived_id(relative: &Path, position: &str) -> String {
    fn fnv(data: &[u8], seed: u64) -> u64 {
        data.iter().fold(seed, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        })
    }
    let key = format!(
        "{}#{position}",
        relative.to_string_lossy().replace('\\', "/")
    );
    let a = fnv(key.as_bytes(), 0xcbf2_9ce4_8422_2325);
    let b = fnv(key.as_bytes(), a);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// The key of roles' settings (`unifiedRoleManagementPolicy` objects) in a one-document tenant.
const ROLE_POLICIES: &str = "roleManagementPolicies";
/// The key of the policy assignments that say which role each policy governs.
const ROLE_POLICY_ASSIGNMENTS: &str = "roleManagementPolicyAssignments";

/// Adds what a parsed file holds to the tenant.
pub(crate) fn add(
    file: &Path,
    relative: &Path,
    value: Value,
    folder: Option<Kind>,
    loaded: &mut Loaded,
) {
    let note = |loaded: &mut Loaded, message: String| {
        loaded.notes.push(LoadNote {
            path: file.into(),
            message,
        });
    };
    let Value::Object(mut o) = value else {
        note(loaded, "not a JSON object: skipped".into());
        return;
    };
    // Roles' settings in a one-document tenant: read as the exported objects are.
    let mut had_roles = false;
    for (key, kind) in [
        (ROLE_POLICIES, Kind::RolePolicy),
        (ROLE_POLICY_ASSIGNMENTS, Kind::RolePolicyAssignment),
    ] {
        if let Some(Value::Array(items)) = o.remove(key) {
            had_roles = true;
            for (i, item) in items.into_iter().enumerate() {
                add_object(
                    file,
                    relative,
                    &format!("{key}[{i}]"),
                    item,
                    Some(kind),
                    None,
                    loaded,
                );
            }
        }
    }
    if had_roles && !TENANT_KEYS.iter().any(|k| o.contains_key(*k)) {
        return;
    }
    if TENANT_KEYS
        .iter()
        .any(|k| o.get(*k).is_some_and(Value::is_array))
    {
        match serde_json::from_value::<Tenant>(Value::Object(o)) {
            Ok(t) => loaded.tenant.merge(t),
            Err(e) => loaded.unreadable.push(LoadError::Shape {
                path: file.into(),
                object: "tenant document".into(),
                message: e.to_string(),
            }),
        }
        return;
    }
    if o.contains_key("Objects") && o.contains_key("TenantId") {
        note(
            loaded,
            "a migration table (display names to ids), not a directory object: skipped".into(),
        );
        return;
    }
    if let Some(Value::Array(items)) = o.remove("value") {
        let collection = o
            .get("@odata.context")
            .and_then(Value::as_str)
            .and_then(from_odata_context);
        for (i, item) in items.into_iter().enumerate() {
            add_object(
                file,
                relative,
                &format!("value[{i}]"),
                item,
                collection,
                folder,
                loaded,
            );
        }
        return;
    }
    add_object(
        file,
        relative,
        "object",
        Value::Object(o),
        None,
        folder,
        loaded,
    );
}

fn add_object(
    file: &Path,
    relative: &Path,
    position: &str,
    value: Value,
    collection: Option<Kind>,
    folder: Option<Kind>,
    loaded: &mut Loaded,
) {
    let Value::Object(mut o) = value else {
        loaded.notes.push(LoadNote {
            path: file.into(),
            message: format!("{position}: not a JSON object: skipped"),
        });
        return;
    };
    let Some(kind) = classify(&o, collection, folder) else {
        loaded.notes.push(LoadNote {
            path: file.into(),
            message: format!("{position}: not recognised as a Graph object Portcullis reads (no known @odata.type, folder or shape): skipped"),
        });
        return;
    };
    let missing_id = o
        .get("id")
        .and_then(Value::as_str)
        .is_none_or(|s| s.trim().is_empty());
    let keyed_elsewhere = matches!(
        kind,
        Kind::RoleAssignment
            | Kind::EligibleRoleAssignment
            | Kind::RolePolicy
            | Kind::RolePolicyAssignment
    );
    if missing_id && !keyed_elsewhere {
        let id = derived_id(relative, position);
        loaded.notes.push(LoadNote {
            path: file.into(),
            message: format!(
                "{position}: {} has no id; assigned {id} (stable for this path)",
                kind.name()
            ),
        });
        o.insert("id".into(), Value::String(id));
    }
    if kind == Kind::EligibleRoleAssignment && !o.contains_key("status") {
        o.insert("status".into(), Value::String("eligible".into()));
    }
    let t = &mut loaded.tenant;
    let value = Value::Object(o);
    let result = match kind {
        Kind::Policy => {
            serde_json::from_value(value).map(|x| t.conditional_access_policies.push(x))
        }
        Kind::Location => serde_json::from_value(value).map(|x| t.named_locations.push(x)),
        Kind::Group => serde_json::from_value(value).map(|x| t.groups.push(x)),
        Kind::User => serde_json::from_value(value).map(|x| t.users.push(x)),
        Kind::Strength => {
            serde_json::from_value(value).map(|x| t.authentication_strength_policies.push(x))
        }
        Kind::Context => {
            serde_json::from_value(value).map(|x| t.authentication_context_class_references.push(x))
        }
        Kind::RoleAssignment | Kind::EligibleRoleAssignment => {
            serde_json::from_value(value).map(|x| t.role_assignments.push(x))
        }
        Kind::RolePolicy => serde_json::from_value(value).map(|x| {
            loaded
                .roles
                .policies
                .push((file.to_path_buf(), position.to_string(), x));
        }),
        Kind::RolePolicyAssignment => {
            serde_json::from_value::<pim::RoleManagementPolicyAssignment>(value).map(|mut x| {
                // `$expand=policy($expand=rules)`: the policy comes inside its assignment.
                if let Some(policy) = x.extra.remove("policy").filter(Value::is_object) {
                    add_object(
                        file,
                        relative,
                        &format!("{position}.policy"),
                        policy,
                        Some(Kind::RolePolicy),
                        None,
                        loaded,
                    );
                }
                loaded.roles.assignments.push(x);
            })
        }
    };
    if let Err(e) = result {
        loaded.unreadable.push(LoadError::Shape {
            path: file.into(),
            object: format!("{position} ({})", kind.name()),
            message: e.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let a = derived_id(Path::new("x/a.json"), "object");
        assert_eq!(a, derived_id(Path::new("x/a.json"), "object"));
        assert_ne!(a, derived_id(Path::new("x/b.json"), "object"));
        assert_ne!(a, derived_id(Path::new("x/a.json"), "value[1]"));
        assert_eq!(a.len(), 36);
    }

    #[test]
    fn odata_context_names_the_collection() {
        assert_eq!(
            from_odata_context("https://graph.microsoft.com/beta/$metadata#identity/conditionalAccess/policies/$entity"),
            Some(Kind::Policy)
        );
        assert_eq!(
            from_odata_context("https://graph.microsoft.com/v1.0/$metadata#identity/conditionalAccess/namedLocations"),
            Some(Kind::Location)
        );
        assert_eq!(
            from_odata_context("https://graph.microsoft.com/v1.0/$metadata#groups"),
            Some(Kind::Group)
        );
        assert_eq!(from_odata_context("#whatever"), None);
    }
}
