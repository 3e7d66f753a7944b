//! Importing a tenant into the running service (`app::tenant_import`, what `portcullis tenant
//! import` calls): the real baseline export creates its groups, policies and named locations; a
//! second import changes nothing and duplicates nothing; an object whose id comes back in
//! another letter case updates the stored one under its stored spelling; a plan writes
//! nothing; the engine decides with the imported policies at once; and an import after which no
//! eligible Global Administrator could activate the role is refused (audited, nothing written)
//! unless forced (audited as forced). Every test runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use app::conditional_access::LockoutGuard;
use app::tenant_import::{ImportError, KindChanges};
use common::graph::{assign, signed_in};
use common::Env;
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR};
use policy::Tenant;
use serde_json::{json, Value};
use std::path::PathBuf;

on_both_backends!(
    an_import_creates_then_updates_by_id_and_never_duplicates,
    an_import_that_locks_out_every_global_administrator_is_refused_unless_forced,
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
    let plan = env.state.plan_import(&tenant).await.unwrap();
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
        .import_tenant(&tenant, "baseline", "tester", LockoutGuard::Enforce)
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
        .import_tenant(&tenant, "baseline", "tester", LockoutGuard::Enforce)
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
        .import_tenant(&renamed, "baseline", "tester", LockoutGuard::Enforce)
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
    let plan = env.state.plan_import(&tenant).await.unwrap();
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
        .import_tenant(&tenant, "pim.json", "tester", LockoutGuard::Enforce)
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
        .import_tenant(&tenant, "pim.json", "tester", LockoutGuard::Override)
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
        .plan_import(&tenant)
        .await
        .unwrap()
        .lockout
        .is_none());
}
