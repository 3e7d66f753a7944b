//! Loading tenants: the real Entra exports in `shared/fixtures`, and every form the loader reads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fixtures;
use import::{load, LoadError};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(json_files(&p));
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    out
}

const MALFORMED: &str = "ACME-_ZTCA_-_GLOBAL_-_BLOCK_-_AllApps_-Exclude_CA-Global (1).json";

#[test]
fn every_fixture_file_is_read_or_reported_with_its_position() {
    let dir = fixtures();
    let loaded = load(&dir).unwrap();
    let total = json_files(&dir).len();
    assert_eq!(
        loaded.files + loaded.unreadable.len(),
        total,
        "no file may be lost"
    );
    // The one file that is not JSON as published ("members": [ ] ] at line 50).
    assert_eq!(loaded.unreadable.len(), 1, "{:?}", loaded.unreadable);
    match &loaded.unreadable[0] {
        LoadError::Json {
            path, line, column, ..
        } => {
            assert!(path.ends_with(MALFORMED), "{}", path.display());
            assert_eq!((*line, *column), (50, 11));
        }
        other => panic!("expected a JSON error, got {other}"),
    }
    let message = loaded.unreadable[0].to_string();
    assert!(message.contains(":50:11: malformed JSON"), "{message}");
    // Everything else is in the tenant: 36 baseline + 36 readable ACME policies.
    assert_eq!(loaded.tenant.conditional_access_policies.len(), 72);
    assert_eq!(loaded.tenant.groups.len(), 36);
    assert_eq!(loaded.tenant.named_locations.len(), 3);
    // The migration table is the only file read but not taken.
    assert!(loaded
        .notes
        .iter()
        .any(|n| n.path.ends_with("MigrationTable.json")));
}

#[test]
fn utf16_baseline_loads_with_its_values() {
    let loaded = load(&fixtures().join("baseline")).unwrap();
    assert!(loaded.unreadable.is_empty(), "{:?}", loaded.unreadable);
    let t = &loaded.tenant;
    assert_eq!(t.conditional_access_policies.len(), 36);
    let ca105 = t
        .conditional_access_policies
        .iter()
        .find(|p| p.display_name.starts_with("CA105"))
        .unwrap();
    assert_eq!(ca105.id, "d2cebefb-fc77-4986-8890-4fe511825ee7");
    assert_eq!(ca105.state.as_str(), "enabledForReportingButNotEnforced");
    let strength = ca105
        .grant_controls
        .as_ref()
        .and_then(|g| g.authentication_strength.as_ref())
        .unwrap();
    assert_eq!(strength.id, "00000000-0000-0000-0000-000000000004");
    let allowed = t
        .named_locations
        .iter()
        .find(|l| l.name() == "ALLOWED COUNTRIES")
        .unwrap();
    assert_eq!(
        allowed.countries_and_regions.as_deref().unwrap(),
        ["BE", "LU", "NL"]
    );
}

#[test]
fn non_ascii_names_survive_decoding() {
    let loaded = load(&fixtures().join("acme-policies")).unwrap();
    assert!(loaded
        .tenant
        .conditional_access_policies
        .iter()
        .any(|p| p.display_name == "ACME - GLOBAL – SESSION – Admin Persistence (1 Hours)"));
}

/// Every non-null leaf of `original` is in `copy` with the same value.
fn assert_kept(original: &Value, copy: &Value, path: &str) {
    match (original, copy) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let empty = v.is_null() || v.as_array().is_some_and(Vec::is_empty);
                match b.get(k) {
                    Some(w) => assert_kept(v, w, &format!("{path}.{k}")),
                    None => assert!(empty, "{path}.{k} was lost on round trip"),
                }
            }
        }
        (Value::Null, _) => {}
        (a, b) => assert_eq!(a, b, "{path} changed on round trip"),
    }
}

#[test]
fn every_fixture_policy_round_trips_with_unknown_fields() {
    let dir = fixtures();
    let mut checked = 0;
    for file in json_files(&dir) {
        let bytes = std::fs::read(&file).unwrap();
        let Ok(text) = import::decode::decode(&bytes) else {
            continue;
        };
        let Ok(original) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if original.get("conditions").is_none() {
            continue;
        }
        let policy: policy::conditional_access::ConditionalAccessPolicy =
            serde_json::from_value(original.clone()).unwrap();
        let copy = serde_json::to_value(&policy).unwrap();
        assert_kept(&original, &copy, &file.display().to_string());
        let again: policy::conditional_access::ConditionalAccessPolicy =
            serde_json::from_value(copy).unwrap();
        assert_eq!(again, policy);
        checked += 1;
    }
    assert_eq!(checked, 72);
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn utf16be(s: &str) -> Vec<u8> {
    let mut out = vec![0xFE, 0xFF];
    out.extend(s.encode_utf16().flat_map(|u| u.to_be_bytes()));
    out
}

#[test]
fn objects_are_recognised_by_type_context_folder_and_shape() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // By @odata.type, in a folder whose name says nothing.
    write(d, "misc/a.json", br##"{"@odata.type":"#microsoft.graph.ipNamedLocation","id":"l1","ipRanges":[{"cidrAddress":"10.0.0.0/8"}]}"##);
    // By folder name, UTF-16BE with BOM and CRLF.
    write(
        d,
        "Groups/g.json",
        &utf16be("{\r\n\"id\": \"g1\",\r\n\"displayName\": \"Admins\"\r\n}"),
    );
    // By shape.
    write(d, "x/p.json", br#"{"displayName":"p","state":"enabled","conditions":{"users":{"includeUsers":["All"]},"applications":{"includeApplications":["All"]}},"grantControls":{"builtInControls":["mfa"]}}"#);
    // A collection, typed by its @odata.context.
    write(d, "y/users.json", br#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users","value":[{"id":"u1","displayName":"U1"},{"id":"u2"}]}"#);
    // An authentication context by shape, a strength by shape, a role assignment.
    write(
        d,
        "z/c.json",
        br#"{"id":"c7","displayName":"Finance","isAvailable":true}"#,
    );
    write(
        d,
        "z/s.json",
        br#"{"id":"s1","allowedCombinations":["fido2"]}"#,
    );
    write(d, "RoleAssignments/r.json", br#"{"principalId":"u1","roleDefinitionId":"62e90394-69f5-4237-9190-012177145e10","status":"eligible"}"#);
    // Something else entirely: reported, not guessed.
    write(d, "z/other.json", br#"{"hello":"world"}"#);
    write(d, "z/readme.txt", b"not json, not read");

    let loaded = load(d).unwrap();
    assert!(loaded.unreadable.is_empty(), "{:?}", loaded.unreadable);
    let t = &loaded.tenant;
    assert_eq!(t.named_locations.len(), 1);
    assert_eq!(t.groups.len(), 1);
    assert_eq!(t.groups[0].display_name.as_deref(), Some("Admins"));
    assert_eq!(t.conditional_access_policies.len(), 1);
    assert_eq!(t.users.len(), 2);
    assert_eq!(t.authentication_context_class_references.len(), 1);
    assert_eq!(t.authentication_strength_policies.len(), 1);
    assert_eq!(t.role_assignments.len(), 1);
    assert_eq!(loaded.files, 8);
    // The policy had no id: one was derived, stable across loads, and said so.
    let id = t.conditional_access_policies[0].id.clone();
    assert_eq!(id.len(), 36);
    assert_eq!(
        load(d).unwrap().tenant.conditional_access_policies[0].id,
        id
    );
    assert!(loaded.notes.iter().any(|n| n.message.contains(&id)));
    assert!(loaded
        .notes
        .iter()
        .any(|n| n.path.ends_with("other.json") && n.message.contains("not recognised")));
}

#[test]
fn a_tenant_document_loads_whole() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenant.json");
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend_from_slice(br#"{"users":[{"id":"u1"}],"groups":[{"id":"g1","members":["u1",{"id":"g2"}]},{"id":"g2","members":[]}],"conditionalAccessPolicies":[]}"#);
    std::fs::write(&file, bytes).unwrap();
    let loaded = load(&file).unwrap();
    assert!(loaded.unreadable.is_empty());
    assert_eq!(loaded.tenant.users.len(), 1);
    assert_eq!(loaded.tenant.groups[0].members.len(), 2);
    assert_eq!(loaded.tenant.groups[0].members[1].id(), "g2");
}

#[test]
fn bad_files_are_reported_and_the_rest_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "ConditionalAccess/ok.json",
        br#"{"id":"p1","displayName":"ok","state":"enabled","conditions":{}}"#,
    );
    write(
        d,
        "ConditionalAccess/broken.json",
        b"{\n  \"id\": \"p2\",\n  \"state\": \n}",
    );
    write(
        d,
        "ConditionalAccess/wrongtype.json",
        br#"{"id":"p3","state":5,"conditions":{}}"#,
    );
    write(
        d,
        "ConditionalAccess/latin1.json",
        b"{\"id\":\"p4\",\"displayName\":\"caf\xe9\"}",
    );
    let mut odd = vec![0xFF, 0xFE];
    odd.extend_from_slice(b"{\0}");
    write(d, "ConditionalAccess/odd.json", &odd);
    let loaded = load(d).unwrap();
    assert_eq!(loaded.tenant.conditional_access_policies.len(), 1);
    let messages: Vec<String> = loaded.unreadable.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("broken.json:4:1: malformed JSON")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("wrongtype.json") && m.contains("conditional access policy")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("latin1.json") && m.contains("invalid UTF-8 at line 1")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("odd.json") && m.contains("UTF-16")),
        "{messages:?}"
    );
}

#[test]
fn a_missing_path_is_an_error_naming_it() {
    let err = load(Path::new("/nonexistent/portcullis-tenant")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/portcullis-tenant: "),
        "{err}"
    );
}

/// The strict check of API writes (`policy::api_write`) refuses only typos: every policy of the
/// real exports could be posted to the API unchanged.
#[test]
fn every_exported_policy_passes_the_api_write_check() {
    let loaded = load(&fixtures()).unwrap();
    assert!(!loaded.tenant.conditional_access_policies.is_empty());
    for p in &loaded.tenant.conditional_access_policies {
        let violations = policy::api_write::write_violations(p);
        assert!(violations.is_empty(), "{}: {violations:?}", p.name());
    }
}

/// The role-settings fixture in the repository (`tests/fixtures/role-settings`).
fn role_settings_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/role-settings")
}

const APPLICATION_ADMINISTRATOR: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";

#[test]
fn role_policies_are_matched_to_their_roles_by_the_policy_assignments() {
    let loaded = load(&role_settings_fixture()).unwrap();
    assert!(loaded.unreadable.is_empty(), "{:?}", loaded.unreadable);
    let roles: Vec<&str> = loaded
        .role_settings
        .iter()
        .map(|r| r.role_definition_id.as_str())
        .collect();
    assert_eq!(
        roles,
        [
            APPLICATION_ADMINISTRATOR,
            "5d6b6bb7-de71-4623-b4af-96380a352509"
        ]
    );
    let app = &loaded.role_settings[0];
    assert_eq!(app.policy.rules.len(), 17);
    let context = app.policy.authentication_context().unwrap();
    assert_eq!(
        (context.is_enabled, context.claim_value.as_deref()),
        (true, Some("c1"))
    );
    // Neither kind is mistaken for a tenant object.
    assert!(loaded.tenant.role_assignments.is_empty());
    assert!(loaded.tenant.conditional_access_policies.is_empty());
}

#[test]
fn role_policies_are_read_alone_inside_assignments_and_refused_without_a_role() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rule = r##"{"@odata.type":"#microsoft.graph.unifiedRoleManagementPolicyExpirationRule","id":"Expiration_EndUser_Assignment","isExpirationRequired":true,"maximumDuration":"PT2H","target":{"caller":"EndUser","operations":["all"],"level":"Assignment","inheritableSettings":[],"enforcedSettings":[]}}"##;
    // One policy as `GET …/roleManagementPolicies/{id}?$expand=rules` returns it, in a folder
    // whose name says nothing, with an id of Portcullis's form: no assignment needed.
    let single = format!(
        r##"{{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#policies/roleManagementPolicies(rules())/$entity","id":"DirectoryRole_{APPLICATION_ADMINISTRATOR}","scopeId":"/","scopeType":"DirectoryRole","rules":[{rule}]}}"##
    );
    write(d, "a/single.json", single.as_bytes());
    // Assignments with the policy expanded (`$expand=policy($expand=rules)`), UTF-16BE.
    let expanded = format!(
        r##"{{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#policies/roleManagementPolicyAssignments(policy(rules()))","value":[{{"id":"DirectoryRole_t_p1_62e90394-69f5-4237-9190-012177145e10","policyId":"DirectoryRole_t_p1","scopeId":"/","scopeType":"DirectoryRole","roleDefinitionId":"62e90394-69f5-4237-9190-012177145e10","policy":{{"id":"DirectoryRole_t_p1","scopeId":"/","scopeType":"DirectoryRole","rules":[{rule}]}}}}]}}"##
    );
    write(d, "b/expanded.json", &utf16be(&expanded));
    // A policy of Entra's form that no assignment names: its role is unknown.
    write(
        d,
        "c/orphan.json",
        br#"{"id":"DirectoryRole_t_p9","displayName":"DirectoryRole","scopeId":"/","scopeType":"DirectoryRole","rules":[]}"#,
    );
    // PIM for groups: noted, not imported.
    write(
        d,
        "d/group.json",
        br##"{"@odata.type":"#microsoft.graph.unifiedRoleManagementPolicy","id":"Group_t_g1","scopeId":"g1","scopeType":"Group","rules":[]}"##,
    );

    let loaded = load(d).unwrap();
    let roles: Vec<&str> = loaded
        .role_settings
        .iter()
        .map(|r| r.role_definition_id.as_str())
        .collect();
    assert_eq!(
        roles,
        [
            APPLICATION_ADMINISTRATOR,
            "62e90394-69f5-4237-9190-012177145e10"
        ]
    );
    assert!(loaded.role_settings[1].path.ends_with("expanded.json"));
    assert_eq!(loaded.unreadable.len(), 1, "{:?}", loaded.unreadable);
    let message = loaded.unreadable[0].to_string();
    assert!(
        message.contains("orphan.json")
            && message.contains("DirectoryRole_t_p9")
            && message.contains("roleManagementPolicyAssignments"),
        "{message}"
    );
    assert!(loaded
        .notes
        .iter()
        .any(|n| n.path.ends_with("group.json") && n.message.contains("PIM for groups")));
    assert!(loaded.tenant.groups.is_empty() && loaded.tenant.role_assignments.is_empty());
}

#[test]
fn a_tenant_document_carries_role_settings() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenant.json");
    let doc = format!(
        r#"{{"users":[{{"id":"u1","userPrincipalName":"u1@example.test"}}],
            "roleManagementPolicies":[
              {{"id":"DirectoryRole_{APPLICATION_ADMINISTRATOR}","rules":[]}},
              {{"id":"DirectoryRole_t_p2","scopeId":"/","scopeType":"DirectoryRole","rules":[]}}],
            "roleManagementPolicyAssignments":[
              {{"policyId":"DirectoryRole_t_p2","roleDefinitionId":"62e90394-69f5-4237-9190-012177145e10","scopeId":"/","scopeType":"DirectoryRole"}}]}}"#
    );
    std::fs::write(&file, doc).unwrap();
    let loaded = load(&file).unwrap();
    assert!(loaded.unreadable.is_empty(), "{:?}", loaded.unreadable);
    assert_eq!(loaded.tenant.users.len(), 1);
    let roles: Vec<&str> = loaded
        .role_settings
        .iter()
        .map(|r| r.role_definition_id.as_str())
        .collect();
    assert_eq!(
        roles,
        [
            APPLICATION_ADMINISTRATOR,
            "62e90394-69f5-4237-9190-012177145e10"
        ]
    );
    // Role settings alone make a document too.
    std::fs::write(
        &file,
        format!(r#"{{"roleManagementPolicies":[{{"id":"DirectoryRole_{APPLICATION_ADMINISTRATOR}","rules":[]}}]}}"#),
    )
    .unwrap();
    let loaded = load(&file).unwrap();
    assert_eq!(loaded.role_settings.len(), 1);
    assert!(loaded.notes.is_empty(), "{:?}", loaded.notes);
}
