//! Importing a tenant into the running service (`app::tenant_import`, what `portcullis tenant
//! import` calls): the real baseline export creates its groups, policies and named locations; a
//! second import changes nothing and duplicates nothing; an object whose id comes back in
//! another letter case updates the stored one under its stored spelling; a plan writes
//! nothing; the engine decides with the imported policies at once; and an import after which no
//! eligible Global Administrator could activate the role is refused (audited, nothing written)
//! unless forced (audited as forced). Roles' settings exported as Graph serves them
//! (`tests/fixtures/role-settings`: role management policies with their rules, and the policy
//! assignments that say which role each governs) are imported with the tenant: created, then
//! unchanged, then changed by a different rule; refused, naming it, when a rule names a context
//! the tenant does not define or a property the rule does not have; and checked by the lockout
//! guard when they are Global Administrator's. Every test runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use app::conditional_access::LockoutGuard;
use app::tenant_import::{Import, ImportError, KindChanges, RoleSettingsImport};
use common::graph::{assign, get, signed_in};
use common::Env;
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR};
use policy::Tenant;
use serde_json::{json, Value};
use std::path::PathBuf;

on_both_backends!(
    an_import_creates_then_updates_by_id_and_never_duplicates,
    an_import_that_locks_out_every_global_administrator_is_refused_unless_forced,
    role_settings_are_imported_as_a_rule_patch_checks_them,
    imported_global_administrator_settings_pass_the_lockout_guard,
);

fn baseline() -> Tenant {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/entra-exports/baseline"
    ));
    let loaded = import::load(&path).unwrap();
    assert!(loaded.unreadable.is_empty());
    loaded.tenant
}

fn kind<'a>(changes: &'a [KindChanges], kind: &str) -> &'a KindChanges {
    changes.iter().find(|k| k.kind == kind).unwrap()
}

/// (created, changed, unchanged, left) of one kind.
fn counts(changes: &[KindChanges], k: &str) -> (usize, usize, usize, usize) {
    let k = kind(changes, k);
    (k.created.len(), k.changed.len(), k.unchanged, k.left)
}

async fn imports(env: &Env) -> Vec<store::AuditRecord> {
    common::audits_in(env, Some("DirectoryManagement"))
        .await
        .into_iter()
        .filter(|a| a.entry.activity_display_name == "Import tenant")
        .collect()
}

fn detail(record: &store::AuditRecord, key: &str) -> Option<String> {
    record
        .entry
        .additional_details
        .as_array()?
        .iter()
        .find_map(|d| {
            (d["key"] == key).then(|| d["value"].as_str().unwrap_or_default().to_string())
        })
}

async fn an_import_creates_then_updates_by_id_and_never_duplicates(env: &Env) {
    let tenant = baseline();
    let stored_before = env.state.store.load_tenant(env.now()).await.unwrap();

    // A plan writes nothing.
    let plan = env.state.plan_import(&tenant.clone().into()).await.unwrap();
    assert!(plan.lockout.is_none());
    // The export holds two groups twice (once per folder): one object each.
    assert_eq!(
        counts(&plan.changes, "groups"),
        (34, 0, 0, stored_before.groups.len())
    );
    assert_eq!(
        counts(&plan.changes, "conditionalAccessPolicies"),
        (36, 0, 0, stored_before.conditional_access_policies.len())
    );
    assert_eq!(counts(&plan.changes, "namedLocations").0, 3);
    assert!(imports(env).await.is_empty());
    let unchanged = env.state.store.load_tenant(env.now()).await.unwrap();
    assert_eq!(unchanged.groups.len(), stored_before.groups.len());

    let first = env
        .state
        .import_tenant(
            &tenant.clone().into(),
            "baseline",
            "tester",
            LockoutGuard::Enforce,
        )
        .await
        .unwrap();
    assert_eq!(first.changes, plan.changes);
    assert!(first.forced.is_none());
    let stored = env.state.store.load_tenant(env.now()).await.unwrap();
    assert_eq!(stored.groups.len(), stored_before.groups.len() + 34);
    assert_eq!(
        stored.conditional_access_policies.len(),
        stored_before.conditional_access_policies.len() + 36
    );
    // A group exported twice keeps the members of both entries.
    let merged = tenant
        .groups
        .iter()
        .filter(|g| g.id == "20cd89e3-25e2-4fcd-82c5-de666dfd31a4")
        .flat_map(|g| g.members.iter().map(|m| m.id().to_string()))
        .collect::<std::collections::BTreeSet<_>>();
    let kept = stored
        .groups
        .iter()
        .find(|g| g.id == "20cd89e3-25e2-4fcd-82c5-de666dfd31a4")
        .unwrap()
        .members
        .iter()
        .map(|m| m.id().to_string())
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(kept, merged);
    // The service decides with the imported policies at once.
    let engine = env.state.engine().await.unwrap();
    assert!(engine
        .tenant()
        .conditional_access_policies
        .iter()
        .any(|p| p.id == "809741fe-fb1b-4746-9ff0-83a978a4c891"));
    let audited = imports(env).await;
    assert_eq!(audited.len(), 1);
    assert_eq!(
        detail(&audited[0], "conditionalAccessPolicies").as_deref(),
        Some("36 created, 0 changed, 0 unchanged")
    );

    // Again: nothing created or changed, nothing duplicated.
    let again = env
        .state
        .import_tenant(
            &tenant.clone().into(),
            "baseline",
            "tester",
            LockoutGuard::Enforce,
        )
        .await
        .unwrap();
    for k in &again.changes {
        assert!(k.created.is_empty() && k.changed.is_empty(), "{k:?}");
    }
    assert_eq!(counts(&again.changes, "conditionalAccessPolicies").2, 36);
    let after = env.state.store.load_tenant(env.now()).await.unwrap();
    assert_eq!(after.groups.len(), stored.groups.len());
    assert_eq!(
        after.conditional_access_policies.len(),
        stored.conditional_access_policies.len()
    );

    // One policy renamed, its id in upper case: it changes the stored one, spelled as stored.
    let mut renamed = tenant.clone();
    let policy = renamed
        .conditional_access_policies
        .iter_mut()
        .find(|p| p.id == "809741fe-fb1b-4746-9ff0-83a978a4c891")
        .unwrap();
    policy.id = policy.id.to_ascii_uppercase();
    policy.display_name = "CA000 renamed by the import".into();
    let outcome = env
        .state
        .import_tenant(
            &renamed.clone().into(),
            "baseline",
            "tester",
            LockoutGuard::Enforce,
        )
        .await
        .unwrap();
    assert_eq!(
        counts(&outcome.changes, "conditionalAccessPolicies"),
        (0, 1, 35, stored_before.conditional_access_policies.len())
    );
    let after = env.state.store.load_tenant(env.now()).await.unwrap();
    assert_eq!(
        after.conditional_access_policies.len(),
        stored.conditional_access_policies.len()
    );
    let one = after
        .conditional_access_policies
        .iter()
        .find(|p| p.display_name == "CA000 renamed by the import")
        .unwrap();
    assert_eq!(one.id, "809741fe-fb1b-4746-9ff0-83a978a4c891");
    assert_eq!(imports(env).await.len(), 3);
}

fn phishing_resistant_on_c1() -> Value {
    json!({
        "id": "6b0c4b5e-0000-4000-8000-00000000c001",
        "displayName": "PIM c1: phishing-resistant, every time",
        "state": "enabled",
        "conditions": {
            "users": { "includeUsers": ["All"] },
            "applications": { "includeAuthenticationContextClassReferences": ["c1"] },
            "clientAppTypes": ["all"]
        },
        "grantControls": { "operator": "OR", "authenticationStrength": { "id": "00000000-0000-0000-0000-000000000004" } },
        "sessionControls": { "signInFrequency": { "isEnabled": true, "frequencyInterval": "everyTime", "authenticationType": "primaryAndSecondaryAuthentication" } }
    })
}

async fn an_import_that_locks_out_every_global_administrator_is_refused_unless_forced(env: &Env) {
    let (adele, _) = signed_in(env, "adele@example.test").await;
    env.totp(&adele).await;
    assign(
        env,
        &adele.id,
        GLOBAL_ADMINISTRATOR,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    let mut settings = pim::RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, env.now());
    settings
        .require_authentication_context("c1", env.now(), None)
        .unwrap();
    env.state.store.put_role_policy(&settings, 0).await.unwrap();
    env.policies(json!({
        "authenticationContextClassReferences": [{ "id": "c1", "displayName": "PIM", "isAvailable": true }]
    }))
    .await;
    let tenant: Tenant = serde_json::from_value(json!({
        "conditionalAccessPolicies": [phishing_resistant_on_c1()]
    }))
    .unwrap();

    // Adele has a password and TOTP: after the import she could not activate.
    let plan = env.state.plan_import(&tenant.clone().into()).await.unwrap();
    let lockout = plan.lockout.clone().unwrap();
    assert_eq!(lockout.context, "c1");
    assert!(
        lockout
            .lacking
            .iter()
            .any(|l| l.contains("adele@example.test")),
        "{lockout:?}"
    );
    let refused = env
        .state
        .import_tenant(
            &tenant.clone().into(),
            "pim.json",
            "tester",
            LockoutGuard::Enforce,
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, ImportError::Lockout(_)));
    assert!(refused.to_string().contains("--force"), "{refused}");
    let stored = env.state.store.load_tenant(env.now()).await.unwrap();
    assert!(stored.conditional_access_policies.is_empty());
    let audited = imports(env).await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].entry.result, store::AuditResult::Failure);
    assert!(audited[0].entry.result_reason.contains("--force"));

    // Forced: written, and the audit entry says so.
    let forced = env
        .state
        .import_tenant(
            &tenant.clone().into(),
            "pim.json",
            "tester",
            LockoutGuard::Override,
        )
        .await
        .unwrap();
    assert_eq!(forced.forced.map(|l| l.context).as_deref(), Some("c1"));
    let stored = env.state.store.load_tenant(env.now()).await.unwrap();
    assert_eq!(stored.conditional_access_policies.len(), 1);
    let audited = imports(env).await;
    assert_eq!(audited.len(), 2);
    let last = audited
        .iter()
        .find(|a| a.entry.result == store::AuditResult::Success)
        .unwrap();
    assert_eq!(detail(last, "force").as_deref(), Some("true"));

    // Once she has a passkey the same import passes the guard.
    common::passkey(env, &adele).await;
    assert!(env
        .state
        .plan_import(&tenant.clone().into())
        .await
        .unwrap()
        .lockout
        .is_none());
}

/// The role-settings fixture: two roles' policies as `GET /policies/roleManagementPolicies?
/// $expand=rules` returns them (Entra's policy ids, which do not name the role) and the policy
/// assignments that map them to Application Administrator and Security Reader.
fn role_settings_fixture() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/role-settings"
    ))
}

const APPLICATION_ADMINISTRATOR: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";
const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";

/// What `portcullis tenant import` hands the service for a folder: the tenant and the roles'
/// settings read beside it, with `contexts` added to the tenant.
fn loaded(dir: &std::path::Path, contexts: &[&str]) -> Import {
    let loaded = import::load(dir).unwrap();
    assert!(loaded.unreadable.is_empty(), "{:?}", loaded.unreadable);
    let mut tenant = loaded.tenant;
    for c in contexts {
        tenant.authentication_context_class_references.push(
            serde_json::from_value(json!({ "id": c, "displayName": "PIM", "isAvailable": true }))
                .unwrap(),
        );
    }
    Import {
        tenant,
        role_settings: loaded
            .role_settings
            .into_iter()
            .map(|r| RoleSettingsImport {
                role_definition_id: r.role_definition_id,
                policy: r.policy,
            })
            .collect(),
    }
}

/// One rule of a role's settings, as the API serves it.
async fn served_rule(env: &Env, token: &str, role: &str, rule: &str) -> Value {
    let (status, body) = get(
        env,
        &format!("/v1.0/policies/roleManagementPolicies/DirectoryRole_{role}/rules/{rule}"),
        token,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A copy of the fixture with `edit` applied to its policies' JSON.
fn edited_fixture(edit: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let read = |file: &str| std::fs::read_to_string(role_settings_fixture().join(file)).unwrap();
    let assignments = "roleManagementPolicyAssignments.json";
    std::fs::write(dir.path().join(assignments), read(assignments)).unwrap();
    let policies = "roleManagementPolicies.json";
    let mut json: Value = serde_json::from_str(&read(policies)).unwrap();
    edit(&mut json);
    std::fs::write(dir.path().join(policies), json.to_string()).unwrap();
    dir
}

/// The rule `id` of the first (Application Administrator's) policy in the fixture's JSON.
fn app_admin_rule<'a>(policies: &'a mut Value, id: &str) -> &'a mut Value {
    policies["value"][0]["rules"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["id"] == id)
        .unwrap()
}

async fn role_settings_are_imported_as_a_rule_patch_checks_them(env: &Env) {
    let (_, token) = signed_in(env, "reader@example.test").await;
    let fixture = role_settings_fixture();
    let without_context = loaded(&fixture, &[]);
    assert_eq!(without_context.role_settings.len(), 2);
    let roles: Vec<&str> = without_context
        .role_settings
        .iter()
        .map(|r| r.role_definition_id.as_str())
        .collect();
    assert_eq!(roles, [APPLICATION_ADMINISTRATOR, SECURITY_READER]);

    // Application Administrator's settings require c1, which the service does not define:
    // refused, naming the role, the rule and the context; nothing is written.
    let refused = env.state.plan_import(&without_context).await.unwrap_err();
    let message = refused.to_string();
    assert!(
        matches!(refused, ImportError::RoleSettings { .. }),
        "{message}"
    );
    for needle in [
        "Application Administrator",
        "AuthenticationContext_EndUser_Assignment",
        "'c1'",
    ] {
        assert!(message.contains(needle), "{message}");
    }
    let refused = env
        .state
        .import_tenant(
            &without_context,
            "role-settings",
            "tester",
            LockoutGuard::Enforce,
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, ImportError::RoleSettings { .. }));
    assert!(env
        .state
        .store
        .list_role_policies()
        .await
        .unwrap()
        .is_empty());
    let rule = served_rule(
        env,
        &token,
        APPLICATION_ADMINISTRATOR,
        "AuthenticationContext_EndUser_Assignment",
    )
    .await;
    assert_eq!(rule["isEnabled"], false);

    // With c1 imported alongside: both roles' settings are created, as exported.
    let with_context = loaded(&fixture, &["c1"]);
    let first = env
        .state
        .import_tenant(
            &with_context,
            "role-settings",
            "tester",
            LockoutGuard::Enforce,
        )
        .await
        .unwrap();
    let created = kind(&first.changes, "roleManagementPolicies");
    assert_eq!(
        (
            created.created.len(),
            created.changed.len(),
            created.unchanged,
            created.left
        ),
        (2, 0, 0, 0)
    );
    assert!(
        created.created[0].contains("Application Administrator"),
        "{created:?}"
    );
    let rule = served_rule(
        env,
        &token,
        APPLICATION_ADMINISTRATOR,
        "AuthenticationContext_EndUser_Assignment",
    )
    .await;
    assert_eq!(
        (rule["isEnabled"].clone(), rule["claimValue"].clone()),
        (json!(true), json!("c1"))
    );
    let rule = served_rule(
        env,
        &token,
        APPLICATION_ADMINISTRATOR,
        "Expiration_EndUser_Assignment",
    )
    .await;
    assert_eq!(rule["maximumDuration"], "PT4H");
    let rule = served_rule(
        env,
        &token,
        APPLICATION_ADMINISTRATOR,
        "Enablement_EndUser_Assignment",
    )
    .await;
    assert_eq!(rule["enabledRules"], json!(["Justification", "Ticketing"]));
    let rule = served_rule(
        env,
        &token,
        APPLICATION_ADMINISTRATOR,
        "Notification_Admin_EndUser_Assignment",
    )
    .await;
    assert_eq!(
        rule["notificationRecipients"],
        json!(["secops@contoso.example"])
    );
    assert_eq!(rule["notificationLevel"], "Critical");
    let (status, policy) = get(
        env,
        &format!("/v1.0/policies/roleManagementPolicies/DirectoryRole_{APPLICATION_ADMINISTRATOR}"),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{policy}");
    assert_eq!(
        policy["lastModifiedBy"]["displayName"],
        "portcullis tenant import (tester)"
    );
    let audited = imports(env).await;
    let success = audited
        .iter()
        .find(|a| a.entry.result == store::AuditResult::Success)
        .unwrap();
    assert_eq!(
        detail(success, "roleManagementPolicies").as_deref(),
        Some("2 created, 0 changed, 0 unchanged")
    );

    // The same again: nothing changes.
    let again = env
        .state
        .import_tenant(
            &with_context,
            "role-settings",
            "tester",
            LockoutGuard::Enforce,
        )
        .await
        .unwrap();
    for k in &again.changes {
        assert!(k.created.is_empty() && k.changed.is_empty(), "{k:?}");
    }
    assert_eq!(
        counts(&again.changes, "roleManagementPolicies"),
        (0, 0, 2, 0)
    );
    let versions: Vec<u64> = env
        .state
        .store
        .list_role_policies()
        .await
        .unwrap()
        .iter()
        .map(|p| p.version)
        .collect();
    assert_eq!(versions, [1, 1]);

    // A different rule: that role's settings change, the other's do not.
    let shorter = edited_fixture(|p| {
        app_admin_rule(p, "Expiration_EndUser_Assignment")["maximumDuration"] = json!("PT2H");
    });
    let changed = env
        .state
        .import_tenant(
            &loaded(shorter.path(), &["c1"]),
            "role-settings",
            "tester",
            LockoutGuard::Enforce,
        )
        .await
        .unwrap();
    assert_eq!(
        counts(&changed.changes, "roleManagementPolicies"),
        (0, 1, 1, 0)
    );
    let rule = served_rule(
        env,
        &token,
        APPLICATION_ADMINISTRATOR,
        "Expiration_EndUser_Assignment",
    )
    .await;
    assert_eq!(rule["maximumDuration"], "PT2H");

    // What the rule PATCH refuses, the import refuses: a property the rule does not have, a
    // context that does not exist.
    let misspelt = edited_fixture(|p| {
        let rule = app_admin_rule(p, "Expiration_EndUser_Assignment");
        rule.as_object_mut()
            .unwrap()
            .insert("maximumDurations".into(), json!("PT1H"));
    });
    let message = env
        .state
        .plan_import(&loaded(misspelt.path(), &["c1"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("maximumDurations"), "{message}");
    let elsewhere = edited_fixture(|p| {
        app_admin_rule(p, "AuthenticationContext_EndUser_Assignment")["claimValue"] = json!("c3");
    });
    let message = env
        .state
        .plan_import(&loaded(elsewhere.path(), &["c1"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("'c3'") && message.contains("does not exist"),
        "{message}"
    );
    let rule = served_rule(
        env,
        &token,
        APPLICATION_ADMINISTRATOR,
        "AuthenticationContext_EndUser_Assignment",
    )
    .await;
    assert_eq!(rule["claimValue"], "c1");
}

async fn imported_global_administrator_settings_pass_the_lockout_guard(env: &Env) {
    let (adele, _) = signed_in(env, "adele@example.test").await;
    env.totp(&adele).await;
    assign(
        env,
        &adele.id,
        GLOBAL_ADMINISTRATOR,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    env.policies(json!({
        "authenticationContextClassReferences": [{ "id": "c1", "displayName": "PIM", "isAvailable": true }],
        "conditionalAccessPolicies": [phishing_resistant_on_c1()]
    }))
    .await;
    // Global Administrator's settings as exported, requiring c1: Adele (password and TOTP)
    // could not satisfy the phishing-resistant strength its policy demands.
    let mut settings = pim::RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, env.now());
    settings
        .require_authentication_context("c1", env.now(), None)
        .unwrap();
    settings.id = "DirectoryRole_5e1c0a42-7d3b-4c8e-9f21-6a0b3d4c5e6f_0b1c".into();
    let imported = Import {
        tenant: Tenant::default(),
        role_settings: vec![RoleSettingsImport {
            role_definition_id: GLOBAL_ADMINISTRATOR.into(),
            policy: settings,
        }],
    };
    let plan = env.state.plan_import(&imported).await.unwrap();
    assert_eq!(plan.lockout.map(|l| l.context).as_deref(), Some("c1"));
    let refused = env
        .state
        .import_tenant(&imported, "ga.json", "tester", LockoutGuard::Enforce)
        .await
        .unwrap_err();
    assert!(matches!(refused, ImportError::Lockout(_)), "{refused}");
    assert!(env
        .state
        .store
        .get_role_policy(GLOBAL_ADMINISTRATOR)
        .await
        .unwrap()
        .is_none());

    // With a passkey she could: the same settings are imported.
    common::passkey(env, &adele).await;
    let outcome = env
        .state
        .import_tenant(&imported, "ga.json", "tester", LockoutGuard::Enforce)
        .await
        .unwrap();
    assert_eq!(
        counts(&outcome.changes, "roleManagementPolicies"),
        (1, 0, 0, 0)
    );
    let stored = env
        .state
        .store
        .get_role_policy(GLOBAL_ADMINISTRATOR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.policy.id,
        format!("DirectoryRole_{GLOBAL_ADMINISTRATOR}")
    );
}
