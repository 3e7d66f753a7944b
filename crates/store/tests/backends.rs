//! The storage test suite. Every test runs twice, as `sqlite::NAME` and `postgres::NAME`, each on
//! a fresh database (see `support`). PostgreSQL comes from `PORTCULLIS_TEST_DATABASE_URL`, which
//! `scripts/test` provides.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::Duration;
use policy::directory::AssignmentStatus;
use policy::method::AuthenticationMethodMode as Mode;
use serde_json::json;
use sqlx::Row;
use std::collections::BTreeSet;
use store::*;
use support::{t, Ctx, Kind};

on_both_backends!(
    checked_config_writes_lose_to_any_change_in_between,
    placeholders_bind_by_number,
    sqlite_settings_are_reported,
    a_backup_is_a_consistent_snapshot_taken_while_writes_go_on,
    a_job_runs_on_one_node_at_a_time_and_is_taken_over,
    reopening_is_idempotent,
    refuses_a_newer_schema,
    rejects_unknown_urls,
    users_crud,
    user_principal_names_are_unique_regardless_of_case,
    groups_nest,
    built_in_roles_are_seeded,
    role_assignments,
    tenant_import_round_trips_unknown_fields,
    failed_import_leaves_nothing_behind,
    load_tenant_sees_assignments_in_force_only,
    tenant_changes_are_logged_in_order,
    one_principals_roles_and_when_they_change,
    concurrent_writers_leave_no_gap_in_the_change_log,
    conditional_access_documents,
    totp_steps_are_accepted_once,
    temporary_access_passes,
    one_time_codes,
    ceremonies_are_single_use,
    authorization_codes_are_single_use,
    refresh_token_reuse_revokes_the_family,
    concurrent_refresh_rotation_has_one_winner,
    session_rotation_moves_events_and_kills_the_old_id,
    revoking_a_session_revokes_its_refresh_tokens,
    lockouts_count_and_lock,
    per_client_counters_and_known_devices,
    outbox,
    webauthn_credentials_and_method_summary,
    security_info_changes_keep_provenance_and_audit_atomically,
    sign_in_log,
    signing_keys,
    deleting_a_user_removes_what_hangs_off_it,
    writes_to_a_missing_user_conflict,
    clients_are_put_by_many_writers_at_once,
);

/// Nodes starting together each register the same clients: all succeed, and the last one
/// written is the one stored.
async fn clients_are_put_by_many_writers_at_once(ctx: Ctx) {
    let made = |name: &str| OidcClient {
        client_id: "shared".into(),
        display_name: name.into(),
        redirect_uris: vec![format!("https://{name}.example/cb")],
        is_public: false,
        secret_hash: Some(format!("hash-{name}")),
        created_at: t(1),
    };
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let store = ctx.store.clone();
            let client = made(&format!("node{i}"));
            tokio::spawn(async move { store.put_client(&client).await })
        })
        .collect();
    for w in writers {
        w.await.unwrap().unwrap();
    }
    let stored = ctx.store.get_client("shared").await.unwrap();
    assert!(stored.display_name.starts_with("node"));
    let name = stored.display_name.clone();
    assert_eq!(stored, made(&name), "one writer's client, whole");
    // Replacing changes every field.
    ctx.store.put_client(&made("later")).await.unwrap();
    assert_eq!(ctx.store.get_client("shared").await.unwrap(), made("later"));
}

// ---------------------------------------------------------------------------------------------
// Helpers

async fn user(store: &Store, upn: &str) -> User {
    let user = User::new(upn, upn, t(0));
    store.create_user(&user).await.unwrap();
    user
}

async fn session(store: &Store, user: &User, id: &str) -> Session {
    let session = Session {
        id: id.into(),
        sid: format!("sid-{id}"),
        user_id: user.id.clone(),
        created_at: t(0),
        last_seen_at: t(0),
        expires_at: t(3600),
        revoked_at: None,
    };
    store.create_session(&session).await.unwrap();
    session
}

async fn client(store: &Store) -> OidcClient {
    let client = OidcClient {
        client_id: "portal".into(),
        display_name: "Portal".into(),
        redirect_uris: vec!["https://portal.example/cb".into()],
        is_public: true,
        secret_hash: None,
        created_at: t(0),
    };
    store.create_client(&client).await.unwrap();
    client
}

fn refresh(hash: &str, family: &str, user: &User, session: Option<&str>) -> RefreshToken {
    RefreshToken {
        id: new_id(),
        token_hash: hash.into(),
        family_id: family.into(),
        client_id: "portal".into(),
        user_id: user.id.clone(),
        session_id: session.map(str::to_string),
        scope: "openid offline_access".into(),
        claims: json!({"acr": "c1", "amr": ["pwd", "mfa"]}),
        created_at: t(0),
        expires_at: t(86_400),
        consumed_at: None,
        revoked_at: None,
    }
}

/// Runs `contenders` copies of `attempt` at once and counts the winners.
async fn race<F, Fut>(contenders: usize, attempt: F) -> usize
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let tasks: Vec<_> = (0..contenders).map(|_| tokio::spawn(attempt())).collect();
    let mut winners = 0;
    for task in tasks {
        if task.await.unwrap() {
            winners += 1;
        }
    }
    winners
}

// ---------------------------------------------------------------------------------------------
// Driver, connection and schema

/// The store writes every query once with `$N` placeholders; on SQLite that is only sound if
/// `$N` binds the N-th argument wherever it appears (sqlx binds SQLite's `$NNN` by number).
async fn placeholders_bind_by_number(ctx: Ctx) {
    let mut conn = ctx.raw().await;
    let row = sqlx::query("SELECT $2 AS second, $1 AS first, $1 AS first_again")
        .bind("one")
        .bind("two")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>("second"), "two");
    assert_eq!(row.get::<String, _>("first"), "one");
    assert_eq!(row.get::<String, _>("first_again"), "one");

    // And in a write whose placeholders run backwards against its columns.
    sqlx::query(
        "INSERT INTO outbox_messages (id, channel, recipient, body, created_at) \
         VALUES ($5, $4, $3, $2, $1)",
    )
    .bind(42_i64)
    .bind("body")
    .bind("+32470000000")
    .bind("sms")
    .bind("m1")
    .execute(&mut conn)
    .await
    .unwrap();
    let stored = ctx.store.list_outbox(None).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, "m1");
    assert_eq!(stored[0].channel, Channel::Sms);
    assert_eq!(stored[0].recipient, "+32470000000");
    assert_eq!(stored[0].body, "body");
    assert_eq!(stored[0].created_at.timestamp_millis(), 42);
}

async fn sqlite_settings_are_reported(ctx: Ctx) {
    let d = ctx.store.diagnostics().await.unwrap();
    assert_eq!(d.schema_version, Store::known_schema_version());
    match ctx.kind {
        Kind::Sqlite => {
            assert_eq!(ctx.store.backend(), Backend::Sqlite);
            assert_eq!(d.journal_mode.as_deref(), Some("wal"));
            assert_eq!(d.foreign_keys, Some(true));
        }
        Kind::Postgres => {
            assert_eq!(ctx.store.backend(), Backend::Postgres);
            assert_eq!(d.journal_mode, None);
        }
    }
}

async fn reopening_is_idempotent(ctx: Ctx) {
    let alice = user(&ctx.store, "alice@example.test").await;
    for _ in 0..2 {
        let again = Store::open(&ctx.url).await.unwrap();
        let d = again.diagnostics().await.unwrap();
        assert_eq!(d.schema_version, Store::known_schema_version());
        assert_eq!(again.get_user(&alice.id).await.unwrap(), alice);
        assert_eq!(again.list_role_definitions().await.unwrap().len(), 10);
        again.close().await;
    }
}

async fn refuses_a_newer_schema(ctx: Ctx) {
    let known = Store::known_schema_version();
    let mut conn = ctx.raw().await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, 'from the future', $2, $3, 0)",
    )
    .bind(known + 1)
    .bind(true)
    .bind(vec![0_u8; 48])
    .execute(&mut conn)
    .await
    .unwrap();
    match Store::open(&ctx.url).await {
        Err(StoreError::NewerSchema { found, known: k }) => {
            assert_eq!((found, k), (known + 1, known));
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    let message = StoreError::NewerSchema {
        found: known + 1,
        known,
    }
    .to_string();
    assert!(message.contains("newer"), "{message}");
}

async fn rejects_unknown_urls(_ctx: Ctx) {
    for url in ["mysql://root@localhost/db", "portcullis.db", "sqlite://"] {
        match Store::open(url).await {
            Err(StoreError::InvalidUrl(message)) => {
                assert!(!message.contains("root@"), "{message}")
            }
            other => panic!("{url}: expected InvalidUrl, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Directory

async fn users_crud(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "Alice@Example.test").await;
    let bob = user(s, "bob@example.test").await;
    assert_eq!(s.get_user(&alice.id).await.unwrap(), alice);
    assert_eq!(
        s.get_user_by_upn("alice@EXAMPLE.TEST").await.unwrap(),
        alice
    );
    let all = s.list_users().await.unwrap();
    assert_eq!(all, vec![alice.clone(), bob.clone()]);

    let renamed = User {
        display_name: "Alice Liddell".into(),
        user_type: "Guest".into(),
        guest_or_external_user_type: Some("b2bCollaborationGuest".into()),
        ..alice.clone()
    };
    s.update_user(&renamed).await.unwrap();
    assert_eq!(s.get_user(&alice.id).await.unwrap(), renamed);

    s.set_account_enabled(&alice.id, false).await.unwrap();
    assert!(!s.get_user(&alice.id).await.unwrap().account_enabled);
    s.set_account_enabled(&alice.id, true).await.unwrap();
    assert!(s.get_user(&alice.id).await.unwrap().account_enabled);

    s.delete_user(&alice.id).await.unwrap();
    assert!(s.get_user(&alice.id).await.unwrap_err().is_not_found());
    assert!(s.delete_user(&alice.id).await.unwrap_err().is_not_found());
    assert!(s
        .set_account_enabled(&alice.id, true)
        .await
        .unwrap_err()
        .is_not_found());
    assert!(s.update_user(&renamed).await.unwrap_err().is_not_found());
    assert!(s
        .get_user_by_upn("nobody@example.test")
        .await
        .unwrap_err()
        .is_not_found());

    let nameless = User::new(" ", "No name", t(0));
    assert!(matches!(
        s.create_user(&nameless).await,
        Err(StoreError::Invalid { .. })
    ));
}

async fn user_principal_names_are_unique_regardless_of_case(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let twin = User::new("ALICE@example.TEST", "Twin", t(1));
    let err = s.create_user(&twin).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { what: "user", .. }),
        "{err:?}"
    );
    // The message names the record, not the SQL.
    assert!(!err.to_string().to_lowercase().contains("insert"), "{err}");

    let same_id = User {
        id: alice.id.clone(),
        ..User::new("other@example.test", "Other", t(1))
    };
    assert!(s.create_user(&same_id).await.unwrap_err().is_conflict());

    let bob = user(s, "bob@example.test").await;
    let bob_as_alice = User {
        user_principal_name: "Alice@Example.Test".into(),
        ..bob
    };
    assert!(s
        .update_user(&bob_as_alice)
        .await
        .unwrap_err()
        .is_conflict());
}

async fn groups_nest(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let staff = Group::new("All staff", t(0));
    let eng = Group::new("Engineering", t(0));
    let admins = Group {
        is_assignable_to_role: true,
        ..Group::new("Admins", t(0))
    };
    for g in [&staff, &eng, &admins] {
        s.create_group(g).await.unwrap();
    }
    assert!(s.create_group(&eng).await.unwrap_err().is_conflict());
    assert_eq!(s.get_group(&admins.id).await.unwrap(), admins);
    assert_eq!(s.list_groups().await.unwrap().len(), 3);

    s.add_member(&eng.id, &alice.id).await.unwrap();
    s.add_member(&eng.id, &alice.id).await.unwrap(); // twice is harmless
    s.add_member(&staff.id, &eng.id).await.unwrap();
    s.add_member(&eng.id, &staff.id).await.unwrap(); // a cycle is harmless too
    assert_eq!(s.list_members(&eng.id).await.unwrap().len(), 2);

    let mut expected = vec![staff.id.clone(), eng.id.clone()];
    expected.sort();
    assert_eq!(s.transitive_groups(&alice.id).await.unwrap(), expected);

    assert!(s
        .add_member(&eng.id, "nobody")
        .await
        .unwrap_err()
        .is_not_found());
    assert!(s
        .add_member("no-group", &alice.id)
        .await
        .unwrap_err()
        .is_not_found());

    s.remove_member(&eng.id, &alice.id).await.unwrap();
    assert!(s
        .remove_member(&eng.id, &alice.id)
        .await
        .unwrap_err()
        .is_not_found());
    assert!(s.transitive_groups(&alice.id).await.unwrap().is_empty());

    // Deleting a group removes it from the groups it belonged to.
    s.delete_group(&eng.id).await.unwrap();
    assert!(s.list_members(&staff.id).await.unwrap().is_empty());
    assert!(s.get_group(&eng.id).await.unwrap_err().is_not_found());
}

async fn built_in_roles_are_seeded(ctx: Ctx) {
    let roles = ctx.store.list_role_definitions().await.unwrap();
    let got: BTreeSet<(String, String)> = roles
        .iter()
        .map(|r| (r.id.clone(), r.display_name.clone()))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        (
            "62e90394-69f5-4237-9190-012177145e10",
            "Global Administrator",
        ),
        (
            "e8611ab8-c189-46e8-94e1-60213ab1f814",
            "Privileged Role Administrator",
        ),
        (
            "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
            "Conditional Access Administrator",
        ),
        (
            "194ae4cb-b126-40b2-bd5b-6091b380977d",
            "Security Administrator",
        ),
        (
            "0526716b-113d-4c15-b2c8-68e3c22b9f80",
            "Authentication Policy Administrator",
        ),
        (
            "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
            "Application Administrator",
        ),
        ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator"),
        (
            "729827e3-9c14-49f7-bb1b-9608f156bbb8",
            "Helpdesk Administrator",
        ),
        ("5d6b6bb7-de71-4623-b4af-96380a352509", "Security Reader"),
        ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader"),
    ]
    .into_iter()
    .map(|(id, name)| (id.to_string(), name.to_string()))
    .collect();
    assert_eq!(got, expected);
    assert!(roles
        .iter()
        .all(|r| r.is_built_in && !r.description.is_empty()));
    assert!(roles
        .iter()
        .any(|r| r.id == policy::directory::GLOBAL_ADMINISTRATOR));
}

async fn role_assignments(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let eligible = RoleAssignment {
        id: new_id(),
        principal_id: policy::ids::PrincipalId::trusted(alice.id.clone()),
        role_definition_id: policy::ids::RoleId::trusted(policy::directory::GLOBAL_ADMINISTRATOR),
        directory_scope_id: "/".into(),
        status: AssignmentStatus::Eligible,
        start_at: t(0),
        end_at: None,
    };
    let active = RoleAssignment {
        id: new_id(),
        status: AssignmentStatus::Active,
        start_at: t(100),
        end_at: Some(t(100 + 8 * 3600)),
        ..eligible.clone()
    };
    s.assign_role(&eligible).await.unwrap();
    s.assign_role(&active).await.unwrap();
    let mine = s.list_role_assignments(Some(&alice.id)).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert!(mine.contains(&eligible) && mine.contains(&active));
    assert_eq!(s.list_role_assignments(None).await.unwrap().len(), 2);
    assert!(active.in_force_at(t(200)) && !active.in_force_at(t(100 + 8 * 3600)));

    let unknown_role = RoleAssignment {
        id: new_id(),
        role_definition_id: policy::ids::RoleId::trusted("00000000-0000-0000-0000-00000000dead"),
        ..eligible.clone()
    };
    assert!(s
        .assign_role(&unknown_role)
        .await
        .unwrap_err()
        .is_conflict());
    let odd_status = RoleAssignment {
        id: new_id(),
        status: AssignmentStatus::Unknown("pending".into()),
        ..eligible.clone()
    };
    assert!(matches!(
        s.assign_role(&odd_status).await,
        Err(StoreError::Invalid { .. })
    ));

    s.remove_role_assignment(&active.id).await.unwrap();
    assert!(s
        .remove_role_assignment(&active.id)
        .await
        .unwrap_err()
        .is_not_found());
    s.delete_user(&alice.id).await.unwrap();
    assert!(s.list_role_assignments(None).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Tenant and Conditional Access documents

const EXAMPLE_TENANT: &str = include_str!("../../../docs/examples/tenant.json");

fn tenant_with_unknown_fields() -> policy::Tenant {
    let mut doc: serde_json::Value = serde_json::from_str(EXAMPLE_TENANT).unwrap();
    let policy = json!({
        "@odata.type": "#microsoft.graph.conditionalAccessPolicy",
        "id": "7a000000-0000-4000-8000-0000000000ff",
        "templateId": null,
        "displayName": "Require phishing-resistant MFA for admins",
        "state": "enabledForReportingButNotEnforced",
        "partialEnablementStrategy": {"kind": "ring", "ring": 2},
        "conditions": {
            "userRiskLevels": [],
            "futureCondition": {"wobble": true},
            "users": {"includeRoles": ["62e90394-69f5-4237-9190-012177145e10"],
                      "excludeGroups": ["6e000000-0000-4000-8000-0000000000bb"]},
            "applications": {"includeApplications": ["All"]},
            "clientAppTypes": ["all"]
        },
        "grantControls": {"operator": "OR", "builtInControls": [],
                          "authenticationStrength": {"id": "00000000-0000-0000-0000-000000000004"}}
    });
    doc["conditionalAccessPolicies"]
        .as_array_mut()
        .unwrap()
        .push(policy);
    doc["users"][0]["employeeId"] = json!("E-0001");
    serde_json::from_value(doc).unwrap()
}

async fn tenant_import_round_trips_unknown_fields(ctx: Ctx) {
    let s = &ctx.store;
    let tenant = tenant_with_unknown_fields();
    s.import_tenant(&tenant, t(0)).await.unwrap();
    // Importing again changes nothing: every object is upserted by id.
    s.import_tenant(&tenant, t(10)).await.unwrap();
    let loaded = s.load_tenant(t(20)).await.unwrap();

    let by_id = |v: &[policy::conditional_access::ConditionalAccessPolicy]| {
        let mut docs: Vec<serde_json::Value> =
            v.iter().map(|p| serde_json::to_value(p).unwrap()).collect();
        docs.sort_by_key(|d| d["id"].as_str().unwrap_or_default().to_string());
        docs
    };
    assert_eq!(
        by_id(&loaded.conditional_access_policies),
        by_id(&tenant.conditional_access_policies)
    );
    let ours = loaded
        .conditional_access_policies
        .iter()
        .find(|p| p.id == "7a000000-0000-4000-8000-0000000000ff")
        .unwrap();
    let json = serde_json::to_value(ours).unwrap();
    assert_eq!(json["partialEnablementStrategy"]["ring"], 2);
    assert_eq!(json["conditions"]["futureCondition"]["wobble"], true);
    assert_eq!(json["templateId"], serde_json::Value::Null);

    assert_eq!(loaded.named_locations.len(), tenant.named_locations.len());
    assert_eq!(
        loaded.authentication_strength_policies,
        tenant.authentication_strength_policies
    );
    let mut contexts = tenant.authentication_context_class_references.clone();
    contexts.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(loaded.authentication_context_class_references, contexts);

    assert_eq!(loaded.users.len(), tenant.users.len());
    let alice = loaded
        .users
        .iter()
        .find(|u| u.id == tenant.users[0].id)
        .unwrap();
    assert_eq!(alice, &tenant.users[0]);
    let carol = loaded
        .users
        .iter()
        .find(|u| u.user_type.as_deref() == Some("Guest"))
        .unwrap();
    assert!(carol.is_guest());

    for group in &tenant.groups {
        let got = loaded.groups.iter().find(|g| g.id == group.id).unwrap();
        let want: BTreeSet<&str> = group.members.iter().map(|m| m.id()).collect();
        let have: BTreeSet<&str> = got.members.iter().map(|m| m.id()).collect();
        assert_eq!(have, want, "members of {}", group.id);
    }
    assert_eq!(loaded.role_assignments.len(), tenant.role_assignments.len());
    assert_eq!(s.list_role_assignments(None).await.unwrap().len(), 2);

    // The engine accepts what the store gives it.
    let _ = policy::Engine::new(loaded);
}

async fn failed_import_leaves_nothing_behind(ctx: Ctx) {
    let s = &ctx.store;
    let mut tenant = tenant_with_unknown_fields();
    // A second user whose sign-in name differs only in case: the last user written fails.
    let mut twin = tenant.users[0].clone();
    twin.id = "a1b2c3d4-0000-4000-8000-00000000ffff".into();
    twin.user_principal_name = twin.user_principal_name.map(|u| u.to_uppercase());
    tenant.users.push(twin);
    let err = s.import_tenant(&tenant, t(0)).await.unwrap_err();
    assert!(err.is_conflict(), "{err:?}");

    assert!(s.list_users().await.unwrap().is_empty());
    assert!(s.list_groups().await.unwrap().is_empty());
    let policies: Vec<serde_json::Value> = s.list_config(ConfigKind::Policy).await.unwrap();
    assert!(policies.is_empty());
    let loaded = s.load_tenant(t(1)).await.unwrap();
    assert_eq!(loaded, policy::Tenant::default());
}

async fn load_tenant_sees_assignments_in_force_only(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let window = RoleAssignment {
        id: "activation".into(),
        principal_id: policy::ids::PrincipalId::trusted(alice.id.clone()),
        role_definition_id: policy::ids::RoleId::trusted(
            policy::directory::PRIVILEGED_ROLE_ADMINISTRATOR,
        ),
        directory_scope_id: "/".into(),
        status: AssignmentStatus::Active,
        start_at: t(100),
        end_at: Some(t(200)),
    };
    s.assign_role(&window).await.unwrap();
    let ids = |t: &policy::Tenant| -> Vec<Option<String>> {
        t.role_assignments.iter().map(|a| a.id.clone()).collect()
    };
    assert!(ids(&s.load_tenant(t(99)).await.unwrap()).is_empty());
    assert_eq!(
        ids(&s.load_tenant(t(150)).await.unwrap()),
        vec![Some("activation".to_string())]
    );
    assert!(ids(&s.load_tenant(t(200)).await.unwrap()).is_empty());
}

async fn tenant_changes_are_logged_in_order(ctx: Ctx) {
    let s = &ctx.store;
    let v0 = s.tenant_version().await.unwrap();
    // Nothing changed: no changes, the same version.
    let none = s.tenant_changes_since(v0, 100).await.unwrap();
    assert_eq!((none.version, none.changes), (v0, Some(Vec::new())));

    let alice = user(s, "alice@example.test").await;
    let group = Group::new("Admins", t(0));
    s.create_group(&group).await.unwrap();
    s.add_member(&group.id, &alice.id).await.unwrap();
    let assignment = RoleAssignment {
        id: "a1".into(),
        principal_id: policy::ids::PrincipalId::trusted(alice.id.clone()),
        role_definition_id: policy::ids::RoleId::trusted(policy::directory::GLOBAL_ADMINISTRATOR),
        directory_scope_id: "/".into(),
        status: AssignmentStatus::Eligible,
        start_at: t(0),
        end_at: None,
    };
    s.assign_role(&assignment).await.unwrap();
    s.put_config(ConfigKind::Policy, "p1", &json!({"id": "p1"}), t(1))
        .await
        .unwrap();
    s.remove_role_assignment("a1").await.unwrap();
    s.import_tenant(&policy::Tenant::default(), t(2))
        .await
        .unwrap();

    let since = s.tenant_changes_since(v0, 100).await.unwrap();
    let changes = since.changes.unwrap();
    let seen: Vec<(ChangeKind, String)> = changes
        .iter()
        .map(|c| (c.kind.clone(), c.subject_id.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (ChangeKind::User, alice.id.clone()),
            (ChangeKind::Group, group.id.clone()),
            (ChangeKind::Group, group.id.clone()),
            (ChangeKind::RoleAssignments, alice.id.clone()),
            (ChangeKind::Config(ConfigKind::Policy), "p1".into()),
            (ChangeKind::RoleAssignments, alice.id.clone()),
            (ChangeKind::Everything, String::new()),
        ]
    );
    let versions: Vec<u64> = changes.iter().map(|c| c.version).collect();
    assert_eq!(versions, ((v0 + 1)..=(v0 + 7)).collect::<Vec<_>>());
    assert_eq!(since.version, v0 + 7);
    assert_eq!(s.tenant_version().await.unwrap(), v0 + 7);
    // From the middle: only what came after.
    let later = s.tenant_changes_since(v0 + 5, 100).await.unwrap();
    assert_eq!(later.changes.unwrap().len(), 2);
    // More than the reader takes, or a version the store has not reached: read everything.
    assert_eq!(s.tenant_changes_since(v0, 3).await.unwrap().changes, None);
    assert_eq!(
        s.tenant_changes_since(v0 + 99, 100).await.unwrap().changes,
        None
    );

    // Deleting a user records the user, its roles and the groups it left.
    let v1 = s.tenant_version().await.unwrap();
    s.delete_user(&alice.id).await.unwrap();
    let kinds: Vec<ChangeKind> = s
        .tenant_changes_since(v1, 100)
        .await
        .unwrap()
        .changes
        .unwrap()
        .into_iter()
        .map(|c| c.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            ChangeKind::User,
            ChangeKind::RoleAssignments,
            ChangeKind::Group
        ]
    );
    // A failed write records nothing.
    let v2 = s.tenant_version().await.unwrap();
    assert!(s.remove_role_assignment("a1").await.is_err());
    assert_eq!(s.tenant_version().await.unwrap(), v2);
}

async fn concurrent_writers_leave_no_gap_in_the_change_log(ctx: Ctx) {
    let s = ctx.store.clone();
    let v0 = s.tenant_version().await.unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    let n = std::sync::Arc::new(n);
    let written = race(8, || {
        let s = s.clone();
        let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            let user = User::new(&format!("racer{i}@example.test"), "Racer", t(0));
            s.create_user(&user).await.is_ok()
        }
    })
    .await;
    assert_eq!(written, 8);
    let since = s.tenant_changes_since(v0, 100).await.unwrap();
    assert_eq!(since.version, v0 + 8);
    let versions: Vec<u64> = since.changes.unwrap().iter().map(|c| c.version).collect();
    assert_eq!(versions, ((v0 + 1)..=(v0 + 8)).collect::<Vec<_>>());
}

async fn one_principals_roles_and_when_they_change(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let bob = user(s, "bob@example.test").await;
    let assignment = |id: &str, who: &User, status, start, end: Option<i64>| RoleAssignment {
        id: id.into(),
        principal_id: policy::ids::PrincipalId::trusted(who.id.clone()),
        role_definition_id: policy::ids::RoleId::trusted(policy::directory::GLOBAL_ADMINISTRATOR),
        directory_scope_id: "/".into(),
        status,
        start_at: t(start),
        end_at: end.map(t),
    };
    for a in [
        assignment("eligible", &alice, AssignmentStatus::Eligible, 0, None),
        assignment("now", &alice, AssignmentStatus::Active, 50, Some(200)),
        assignment("later", &alice, AssignmentStatus::Active, 300, Some(400)),
        assignment("past", &alice, AssignmentStatus::Active, 0, Some(20)),
        assignment("bob", &bob, AssignmentStatus::Active, 0, Some(150)),
    ] {
        s.assign_role(&a).await.unwrap();
    }
    let roles = s.role_assignments_of(&alice.id, t(100)).await.unwrap();
    let ids: Vec<Option<String>> = roles.assignments.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids, vec![Some("eligible".into()), Some("now".into())]);
    assert_eq!(roles.next_change, Some(t(200)));
    // As the whole tenant's read sees them.
    let tenant = s.load_tenant(t(100)).await.unwrap();
    let of_alice: Vec<_> = tenant
        .role_assignments
        .iter()
        .filter(|a| a.principal_id == alice.id)
        .cloned()
        .collect();
    assert_eq!(of_alice, roles.assignments);
    assert_eq!(
        s.role_assignments_of(&alice.id, t(250))
            .await
            .unwrap()
            .next_change,
        Some(t(300))
    );
    assert_eq!(
        s.role_assignments_of(&alice.id, t(400)).await.unwrap(),
        PrincipalRoles {
            assignments: s
                .role_assignments_of(&alice.id, t(400))
                .await
                .unwrap()
                .assignments,
            next_change: None
        }
    );
    let changes = s.role_schedule_changes(t(100)).await.unwrap();
    assert_eq!(changes.get(&alice.id), Some(&t(200)));
    assert_eq!(changes.get(&bob.id), Some(&t(150)));
    assert_eq!(
        s.role_schedule_changes(t(160)).await.unwrap().get(&bob.id),
        None
    );
}

async fn conditional_access_documents(ctx: Ctx) {
    let s = &ctx.store;
    let c1 = json!({"id": "c1", "displayName": "Admins", "isAvailable": true, "x-custom": [1, 2]});
    s.put_config(ConfigKind::AuthenticationContext, "c1", &c1, t(0))
        .await
        .unwrap();
    let got: serde_json::Value = s
        .get_config(ConfigKind::AuthenticationContext, "c1")
        .await
        .unwrap();
    assert_eq!(got, c1);
    let replaced = json!({"id": "c1", "displayName": "Admins only"});
    s.put_config(ConfigKind::AuthenticationContext, "c1", &replaced, t(1))
        .await
        .unwrap();
    let all: Vec<serde_json::Value> = s
        .list_config(ConfigKind::AuthenticationContext)
        .await
        .unwrap();
    assert_eq!(all, vec![replaced]);
    // Kinds do not mix.
    let none: Vec<serde_json::Value> = s.list_config(ConfigKind::Policy).await.unwrap();
    assert!(none.is_empty());
    s.delete_config(ConfigKind::AuthenticationContext, "c1")
        .await
        .unwrap();
    assert!(s
        .get_config::<serde_json::Value>(ConfigKind::AuthenticationContext, "c1")
        .await
        .unwrap_err()
        .is_not_found());
    assert!(matches!(
        s.put_config(ConfigKind::Policy, "", &json!({}), t(0)).await,
        Err(StoreError::Invalid { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Credentials and single-use state

async fn totp_steps_are_accepted_once(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    // Bytes that are not text, and a zero byte, survive the round trip.
    let totp = TotpCredential {
        id: new_id(),
        user_id: alice.id.clone(),
        secret: vec![0x00, 0xff, 0x10, 0x80, 0x00, 0x7f],
        label: "Phone".into(),
        created_at: t(0),
        last_used_step: 0,
        provenance: None,
    };
    s.add_totp(&totp).await.unwrap();
    assert_eq!(s.get_totp(&totp.id).await.unwrap(), totp);
    assert!(!format!("{totp:?}").contains("255"));

    assert!(s.consume_totp_step(&totp.id, 1000).await.unwrap());
    assert!(
        !s.consume_totp_step(&totp.id, 1000).await.unwrap(),
        "replay"
    );
    assert!(
        !s.consume_totp_step(&totp.id, 999).await.unwrap(),
        "older step"
    );
    assert!(s.consume_totp_step(&totp.id, 1001).await.unwrap());
    assert_eq!(s.get_totp(&totp.id).await.unwrap().last_used_step, 1001);
    assert!(s
        .consume_totp_step("nope", 5)
        .await
        .unwrap_err()
        .is_not_found());

    // Concurrent submissions of the same code: exactly one is accepted.
    for step in 2000..2005 {
        let (store, id) = (s.clone(), totp.id.clone());
        let winners = race(6, move || {
            let (store, id) = (store.clone(), id.clone());
            async move { store.consume_totp_step(&id, step).await.unwrap() }
        })
        .await;
        assert_eq!(winners, 1, "step {step}");
    }

    assert_eq!(s.list_totp(&alice.id).await.unwrap().len(), 1);
    s.delete_totp(&totp.id).await.unwrap();
    assert!(s.list_totp(&alice.id).await.unwrap().is_empty());
}

async fn temporary_access_passes(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let once = TemporaryAccessPass {
        id: new_id(),
        user_id: alice.id.clone(),
        pass_hash: "hash-1".into(),
        is_usable_once: true,
        starts_at: t(100),
        expires_at: t(200),
        used_at: None,
        created_by: "admin".into(),
        created_at: t(0),
    };
    let many = TemporaryAccessPass {
        id: new_id(),
        is_usable_once: false,
        pass_hash: "hash-2".into(),
        ..once.clone()
    };
    s.add_tap(&once).await.unwrap();
    s.add_tap(&many).await.unwrap();

    assert!(
        !s.consume_tap(&once.id, t(99)).await.unwrap(),
        "not yet valid"
    );
    assert!(!s.consume_tap(&once.id, t(200)).await.unwrap(), "expired");
    assert!(s.consume_tap(&once.id, t(150)).await.unwrap());
    assert!(
        !s.consume_tap(&once.id, t(151)).await.unwrap(),
        "one-time pass reused"
    );
    for at in [150, 160, 199] {
        assert!(s.consume_tap(&many.id, t(at)).await.unwrap());
    }
    assert!(!s.consume_tap(&many.id, t(200)).await.unwrap());
    let passes = s.list_taps(&alice.id).await.unwrap();
    let used = passes.iter().find(|p| p.id == once.id).unwrap();
    assert_eq!(used.used_at, Some(t(150)));
    assert!(!used.usable_at(t(160)));

    // Concurrent use of a fresh one-time pass: exactly one sign-in gets it.
    for round in 0..4 {
        let pass = TemporaryAccessPass {
            id: new_id(),
            pass_hash: format!("race-{round}"),
            ..once.clone()
        };
        s.add_tap(&pass).await.unwrap();
        let store = s.clone();
        let winners = race(6, move || {
            let (store, id) = (store.clone(), pass.id.clone());
            async move { store.consume_tap(&id, t(150)).await.unwrap() }
        })
        .await;
        assert_eq!(winners, 1);
    }
    s.delete_tap(&many.id).await.unwrap();
    assert!(s.delete_tap(&many.id).await.unwrap_err().is_not_found());
}

async fn one_time_codes(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let otp = OtpChallenge {
        id: new_id(),
        user_id: alice.id.clone(),
        channel: Channel::Sms,
        code_hash: "h".into(),
        created_at: t(0),
        expires_at: t(300),
        attempts: 0,
        consumed_at: None,
    };
    s.create_otp(&otp).await.unwrap();
    assert_eq!(s.get_otp(&otp.id).await.unwrap(), otp);

    for n in 1..=3 {
        let live = s
            .record_otp_attempt(&otp.id, t(10), 3)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(live.attempts, n);
        assert_eq!(live.code_hash, "h");
    }
    assert_eq!(s.record_otp_attempt(&otp.id, t(10), 3).await.unwrap(), None);
    assert_eq!(s.get_otp(&otp.id).await.unwrap().attempts, 3);

    // Concurrent guesses never exceed the limit.
    let guessed = OtpChallenge {
        id: new_id(),
        ..otp.clone()
    };
    s.create_otp(&guessed).await.unwrap();
    let store = s.clone();
    let id = guessed.id.clone();
    let allowed = race(8, move || {
        let (store, id) = (store.clone(), id.clone());
        async move {
            store
                .record_otp_attempt(&id, t(10), 5)
                .await
                .unwrap()
                .is_some()
        }
    })
    .await;
    assert_eq!(allowed, 5);

    let fresh = OtpChallenge {
        id: new_id(),
        ..otp.clone()
    };
    s.create_otp(&fresh).await.unwrap();
    assert!(!s.consume_otp(&fresh.id, t(300)).await.unwrap(), "expired");
    let store = s.clone();
    let id = fresh.id.clone();
    let winners = race(6, move || {
        let (store, id) = (store.clone(), id.clone());
        async move { store.consume_otp(&id, t(20)).await.unwrap() }
    })
    .await;
    assert_eq!(winners, 1);
    assert_eq!(
        s.record_otp_attempt(&fresh.id, t(21), 5).await.unwrap(),
        None
    );
    assert_eq!(s.get_otp(&fresh.id).await.unwrap().consumed_at, Some(t(20)));

    // Expired challenges are purged.
    assert!(s.purge_expired_challenges(t(301)).await.unwrap() >= 3);
    assert!(s.get_otp(&otp.id).await.unwrap_err().is_not_found());
}

async fn ceremonies_are_single_use(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let ceremony = |user_id: Option<String>| Ceremony {
        id: new_id(),
        user_id,
        kind: CeremonyKind::Authentication,
        state_json: r#"{"challenge":"abc"}"#.into(),
        created_at: t(0),
        expires_at: t(120),
        consumed_at: None,
    };
    let c = ceremony(Some(alice.id.clone()));
    s.create_ceremony(&c).await.unwrap();
    let taken = s.take_ceremony(&c.id, t(60)).await.unwrap().unwrap();
    assert_eq!(taken.state_json, c.state_json);
    assert_eq!(taken.consumed_at, Some(t(60)));
    assert_eq!(
        s.take_ceremony(&c.id, t(61)).await.unwrap(),
        None,
        "second take"
    );

    let late = ceremony(None);
    s.create_ceremony(&late).await.unwrap();
    assert_eq!(
        s.take_ceremony(&late.id, t(120)).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(s.take_ceremony("unknown", t(1)).await.unwrap(), None);

    for _ in 0..4 {
        let c = ceremony(None);
        s.create_ceremony(&c).await.unwrap();
        let store = s.clone();
        let winners = race(6, move || {
            let (store, id) = (store.clone(), c.id.clone());
            async move { store.take_ceremony(&id, t(5)).await.unwrap().is_some() }
        })
        .await;
        assert_eq!(winners, 1);
    }
}

async fn authorization_codes_are_single_use(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    session(s, &alice, "sid").await;
    client(s).await;
    let code = |hash: &str| AuthorizationCode {
        code_hash: hash.into(),
        client_id: "portal".into(),
        user_id: alice.id.clone(),
        session_id: "sid".into(),
        redirect_uri: "https://portal.example/cb".into(),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        nonce: None,
        scope: "openid".into(),
        claims: Some(json!({"access_token": {"acrs": {"essential": true, "value": "c1"}}})),
        auth_time: t(5),
        acr: Some("c1".into()),
        amr: vec!["pwd".into(), "hwk".into()],
        acrs: vec!["c1".into()],
        expires_at: t(65),
        consumed_at: None,
        step_up_request: None,
    };
    let first = code("code-1");
    s.insert_code(&first).await.unwrap();
    assert!(s.insert_code(&first).await.unwrap_err().is_conflict());
    let redeemed = s.consume_code("code-1", t(10)).await.unwrap().unwrap();
    assert_eq!(
        redeemed,
        AuthorizationCode {
            consumed_at: Some(t(10)),
            ..first
        }
    );
    assert_eq!(s.consume_code("code-1", t(11)).await.unwrap(), None);

    s.insert_code(&code("late")).await.unwrap();
    assert_eq!(
        s.consume_code("late", t(65)).await.unwrap(),
        None,
        "expired"
    );

    // A page's callback consumes only its own client's codes: another's stays redeemable.
    s.insert_code(&code("elsewhere")).await.unwrap();
    assert_eq!(
        s.consume_client_code("elsewhere", "another-client", t(10))
            .await
            .unwrap(),
        None
    );
    let own = s
        .consume_client_code("elsewhere", "portal", t(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(own.consumed_at, Some(t(10)));
    assert_eq!(s.consume_code("elsewhere", t(11)).await.unwrap(), None);

    for round in 0..4 {
        let hash = format!("race-{round}");
        s.insert_code(&code(&hash)).await.unwrap();
        let store = s.clone();
        let winners = race(6, move || {
            let (store, hash) = (store.clone(), hash.clone());
            async move { store.consume_code(&hash, t(10)).await.unwrap().is_some() }
        })
        .await;
        assert_eq!(winners, 1);
    }
}

async fn refresh_token_reuse_revokes_the_family(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    client(s).await;
    let first = refresh("rt-1", "family-a", &alice, None);
    s.insert_refresh_token(&first).await.unwrap();
    let other_family = refresh("rt-other", "family-b", &alice, None);
    s.insert_refresh_token(&other_family).await.unwrap();

    // The successor joins the presented token's family whatever it says.
    let second = refresh("rt-2", "ignored", &alice, None);
    match s
        .rotate_refresh_token("rt-1", &second, t(10))
        .await
        .unwrap()
    {
        Rotation::Rotated { previous } => assert_eq!(*previous, first),
        other => panic!("expected Rotated, got {other:?}"),
    }
    let stored = s.get_refresh_token("rt-2").await.unwrap();
    assert_eq!(stored.family_id, "family-a");
    assert_eq!(
        s.get_refresh_token("rt-1").await.unwrap().consumed_at,
        Some(t(10))
    );

    // rt-1 presented again: a replay. The family dies, the other family lives.
    let third = refresh("rt-3", "family-a", &alice, None);
    assert_eq!(
        s.rotate_refresh_token("rt-1", &third, t(20)).await.unwrap(),
        Rotation::Reused {
            family_id: "family-a".into(),
            user_id: alice.id.clone()
        }
    );
    assert_eq!(
        s.get_refresh_token("rt-2").await.unwrap().revoked_at,
        Some(t(20))
    );
    assert!(s
        .get_refresh_token("rt-3")
        .await
        .unwrap_err()
        .is_not_found());
    assert_eq!(
        s.rotate_refresh_token("rt-2", &third, t(21)).await.unwrap(),
        Rotation::Invalid,
        "revoked"
    );
    assert_eq!(
        s.get_refresh_token("rt-other").await.unwrap().revoked_at,
        None
    );

    assert_eq!(
        s.rotate_refresh_token("unknown", &third, t(21))
            .await
            .unwrap(),
        Rotation::Invalid
    );
    let expired = refresh("rt-old", "family-c", &alice, None);
    s.insert_refresh_token(&expired).await.unwrap();
    assert_eq!(
        s.rotate_refresh_token("rt-old", &third, t(86_400))
            .await
            .unwrap(),
        Rotation::Invalid
    );
    assert_eq!(s.revoke_token_family("family-b", t(30)).await.unwrap(), 1);
}

async fn concurrent_refresh_rotation_has_one_winner(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    client(s).await;
    for round in 0..3 {
        let family = format!("family-{round}");
        let hash = format!("rt-{round}");
        s.insert_refresh_token(&refresh(&hash, &family, &alice, None))
            .await
            .unwrap();
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let store = s.clone();
                let next = refresh(&format!("{hash}-next-{i}"), &family, &alice, None);
                let hash = hash.clone();
                tokio::spawn(async move {
                    store
                        .rotate_refresh_token(&hash, &next, t(10))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut rotated = 0;
        for task in tasks {
            match task.await.unwrap() {
                Rotation::Rotated { .. } => rotated += 1,
                Rotation::Reused { .. } => {}
                Rotation::Invalid => panic!("a live token was refused"),
            }
        }
        assert_eq!(rotated, 1, "round {round}");
    }
}

async fn session_rotation_moves_events_and_kills_the_old_id(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let old = session(s, &alice, "old-session").await;
    client(s).await;
    let events = [
        (Mode::Password, t(1), None, false, None),
        (
            Mode::Fido2,
            t(2),
            Some("cb69481e-8ff7-4039-93ec-0a2729a154a8".to_string()),
            true,
            Some("pim-request-1".to_string()),
        ),
    ];
    for (method, at, aaguid, uv, tx) in events {
        s.add_session_event(&SessionAuthEvent {
            id: new_id(),
            session_id: old.id.clone(),
            method,
            performed_at: at,
            aaguid,
            user_verified: uv,
            transaction_id: tx,
            credential_id: None,
            registration: None,
        })
        .await
        .unwrap();
    }
    s.insert_refresh_token(&refresh("rt", "fam", &alice, Some("old-session")))
        .await
        .unwrap();

    let new = s
        .rotate_session("old-session", "new-session", t(30))
        .await
        .unwrap();
    assert_eq!(new.user_id, alice.id);
    assert_eq!(new.created_at, old.created_at);
    assert_eq!(new.expires_at, old.expires_at);
    assert_eq!(new.last_seen_at, t(30));
    assert_eq!(new.sid, old.sid, "the public session id survives rotation");
    assert_eq!(s.get_session("new-session").await.unwrap(), new);
    assert_eq!(s.get_session_by_sid(&old.sid).await.unwrap(), new);
    assert!(s
        .get_session("old-session")
        .await
        .unwrap_err()
        .is_not_found());
    assert!(s.session_events("old-session").await.unwrap().is_empty());

    let moved = s.session_events("new-session").await.unwrap();
    assert_eq!(moved.len(), 2);
    assert_eq!(moved[0].method, Mode::Password);
    assert_eq!(moved[1].method, Mode::Fido2);
    assert_eq!(moved[1].transaction_id.as_deref(), Some("pim-request-1"));
    assert!(moved.iter().all(|e| e.session_id == "new-session"));
    let performed = moved[1].performed_method(false, false);
    assert_eq!(performed.aaguid, moved[1].aaguid);
    assert_eq!(
        s.get_refresh_token("rt")
            .await
            .unwrap()
            .session_id
            .as_deref(),
        Some("new-session")
    );

    // The old id cannot be rotated again; a taken id cannot be reused.
    assert!(s
        .rotate_session("old-session", "x", t(31))
        .await
        .unwrap_err()
        .is_not_found());
    session(s, &alice, "other").await;
    assert!(s
        .rotate_session("new-session", "other", t(31))
        .await
        .unwrap_err()
        .is_conflict());
    assert_eq!(s.session_events("new-session").await.unwrap().len(), 2);
    // Revoked sessions are not rotated.
    s.revoke_session("other", t(32)).await.unwrap();
    assert!(s
        .rotate_session("other", "other-2", t(33))
        .await
        .unwrap_err()
        .is_conflict());
}

async fn revoking_a_session_revokes_its_refresh_tokens(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    session(s, &alice, "s1").await;
    session(s, &alice, "s2").await;
    client(s).await;
    s.insert_refresh_token(&refresh("rt-1", "f1", &alice, Some("s1")))
        .await
        .unwrap();
    s.insert_refresh_token(&refresh("rt-2", "f2", &alice, Some("s2")))
        .await
        .unwrap();
    s.touch_session("s1", t(40)).await.unwrap();
    assert_eq!(s.get_session("s1").await.unwrap().last_seen_at, t(40));
    s.revoke_session("s1", t(50)).await.unwrap();
    let s1 = s.get_session("s1").await.unwrap();
    assert_eq!(s1.revoked_at, Some(t(50)));
    assert!(!s1.is_live_at(t(51)));
    assert!(s
        .touch_session("s1", t(60))
        .await
        .unwrap_err()
        .is_not_found());
    assert!(s
        .revoke_session("s1", t(60))
        .await
        .unwrap_err()
        .is_not_found());
    assert_eq!(
        s.get_refresh_token("rt-1").await.unwrap().revoked_at,
        Some(t(50))
    );
    assert_eq!(s.get_refresh_token("rt-2").await.unwrap().revoked_at, None);
    assert_eq!(s.list_sessions(&alice.id).await.unwrap().len(), 2);
}

async fn lockouts_count_and_lock(ctx: Ctx) {
    let s = &ctx.store;
    let policy = LockoutPolicy {
        threshold: 3,
        window: Duration::minutes(10),
        lock_for: Duration::minutes(15),
    };
    let key = "alice";
    assert_eq!(
        s.get_lockout(LockoutScope::Account, key).await.unwrap(),
        None
    );
    let first = s
        .record_failure(LockoutScope::Account, key, t(0), &policy)
        .await
        .unwrap();
    assert_eq!((first.failures, first.window_started_at), (1, t(0)));
    assert!(!first.is_locked_at(t(0)));
    s.record_failure(LockoutScope::Account, key, t(60), &policy)
        .await
        .unwrap();
    let third = s
        .record_failure(LockoutScope::Account, key, t(120), &policy)
        .await
        .unwrap();
    assert_eq!(third.failures, 3);
    assert_eq!(third.locked_until, Some(t(120 + 15 * 60)));
    assert!(third.is_locked_at(t(121)) && !third.is_locked_at(t(120 + 15 * 60)));
    // Another scope with the same key is another counter.
    assert_eq!(
        s.get_lockout(LockoutScope::Source, key).await.unwrap(),
        None
    );

    // After the window, counting starts again; the old lock stays as it was.
    let later = s
        .record_failure(LockoutScope::Account, key, t(2000), &policy)
        .await
        .unwrap();
    assert_eq!((later.failures, later.window_started_at), (1, t(2000)));
    assert_eq!(later.locked_until, third.locked_until);

    s.reset_lockout(LockoutScope::Account, key).await.unwrap();
    assert_eq!(
        s.get_lockout(LockoutScope::Account, key).await.unwrap(),
        None
    );

    // Concurrent failures are all counted.
    let store = s.clone();
    race(10, move || {
        let store = store.clone();
        async move {
            store
                .record_failure(LockoutScope::Source, "203.0.113.9", t(5), &policy)
                .await
                .unwrap();
            true
        }
    })
    .await;
    let source = s
        .get_lockout(LockoutScope::Source, "203.0.113.9")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(source.failures, 10);
    assert!(source.is_locked_at(t(6)));

    // A threshold of one locks at the first failure.
    let strict = LockoutPolicy {
        threshold: 1,
        ..policy
    };
    let once = s
        .record_failure(LockoutScope::Account, "bob", t(0), &strict)
        .await
        .unwrap();
    assert!(once.is_locked_at(t(1)));
}

async fn per_client_counters_and_known_devices(ctx: Ctx) {
    let s = &ctx.store;
    let policy = LockoutPolicy {
        threshold: 2,
        window: Duration::minutes(10),
        lock_for: Duration::minutes(15),
    };
    // The per-account-and-client scopes are stored (the table's CHECK admits them), apart from
    // each other and from the account's own counter.
    for scope in [LockoutScope::AccountSource, LockoutScope::AccountDevice] {
        let key = "alice/203.0.113.9";
        s.record_failure(scope, key, t(0), &policy).await.unwrap();
        let second = s.record_failure(scope, key, t(1), &policy).await.unwrap();
        assert_eq!((second.scope, second.failures), (scope, 2));
        assert!(second.is_locked_at(t(2)));
    }
    assert_eq!(
        s.get_lockout(LockoutScope::Account, "alice/203.0.113.9")
            .await
            .unwrap(),
        None
    );
    s.reset_lockout(LockoutScope::AccountSource, "alice/203.0.113.9")
        .await
        .unwrap();
    assert!(s
        .get_lockout(LockoutScope::AccountDevice, "alice/203.0.113.9")
        .await
        .unwrap()
        .is_some());

    // Known devices: per account, until they expire.
    let alice = user(s, "alice@example.test").await;
    let bob = user(s, "bob@example.test").await;
    let device = KnownDevice {
        id: "device-1".into(),
        token_hash: "hash-1".into(),
        user_id: alice.id.clone(),
        created_at: t(0),
        last_signed_in_at: t(0),
        expires_at: t(100),
    };
    s.remember_device(&device).await.unwrap();
    assert_eq!(
        s.known_device("hash-1", &alice.id, t(99)).await.unwrap(),
        Some(device.clone())
    );
    assert_eq!(s.known_device("hash-1", &bob.id, t(1)).await.unwrap(), None);
    assert_eq!(
        s.known_device("hash-2", &alice.id, t(1)).await.unwrap(),
        None
    );
    assert_eq!(
        s.known_device("hash-1", &alice.id, t(100)).await.unwrap(),
        None
    );
    // A later sign-in moves the expiry forward; the token and first sight stay.
    let later = KnownDevice {
        last_signed_in_at: t(90),
        expires_at: t(300),
        ..device.clone()
    };
    s.remember_device(&later).await.unwrap();
    assert_eq!(
        s.known_device("hash-1", &alice.id, t(200)).await.unwrap(),
        Some(later)
    );
    // A token hash names one device: another account cannot claim it.
    let stolen = KnownDevice {
        id: "device-2".into(),
        user_id: bob.id.clone(),
        ..device.clone()
    };
    assert!(s.remember_device(&stolen).await.unwrap_err().is_conflict());
    // Remembering a device forgets the account's expired ones.
    let second = KnownDevice {
        id: "device-3".into(),
        token_hash: "hash-3".into(),
        created_at: t(400),
        last_signed_in_at: t(400),
        expires_at: t(500),
        ..device.clone()
    };
    s.remember_device(&second).await.unwrap();
    assert_eq!(
        s.known_device("hash-1", &alice.id, t(200)).await.unwrap(),
        None
    );
    assert!(s
        .known_device("hash-3", &alice.id, t(401))
        .await
        .unwrap()
        .is_some());
    // They go with their account.
    s.delete_user(&alice.id).await.unwrap();
    assert_eq!(
        s.known_device("hash-3", &alice.id, t(401)).await.unwrap(),
        None
    );

    // Addresses the account signed in from: successes in the log only, since a time.
    let record = |n: i64, ip: &str, result: SignInResult| SignInRecord {
        id: format!("signin-{n}"),
        created_at: t(n),
        user_id: Some(bob.id.clone()),
        user_principal_name: "bob@example.test".into(),
        client_id: Some("portal".into()),
        ip: Some(ip.into()),
        result,
        failure_reason: None,
        methods: vec!["password".into()],
        applied_policies: json!([]),
        session_id: None,
        additional_details: None,
    };
    s.append_signin(&record(10, "192.0.2.1", SignInResult::Success))
        .await
        .unwrap();
    s.append_signin(&record(20, "192.0.2.2", SignInResult::Failure))
        .await
        .unwrap();
    assert!(s.signed_in_from(&bob.id, "192.0.2.1", t(10)).await.unwrap());
    assert!(!s.signed_in_from(&bob.id, "192.0.2.1", t(11)).await.unwrap());
    assert!(!s.signed_in_from(&bob.id, "192.0.2.2", t(0)).await.unwrap());
    assert!(!s
        .signed_in_from(&alice.id, "192.0.2.1", t(0))
        .await
        .unwrap());
}

async fn outbox(ctx: Ctx) {
    let s = &ctx.store;
    let a = OutboxMessage::new(Channel::Sms, "+32470000001", "Code 111111", t(1));
    let b = OutboxMessage::new(Channel::Email, "alice@example.test", "Code 222222", t(2));
    let c = OutboxMessage::new(Channel::Sms, "+32470000001", "Code 333333", t(3));
    for m in [&a, &b, &c] {
        s.push_outbox(m).await.unwrap();
    }
    assert_eq!(
        s.list_outbox(Some("+32470000001")).await.unwrap(),
        vec![c.clone(), a.clone()]
    );
    assert_eq!(s.list_outbox(None).await.unwrap(), vec![c, b, a]);
    assert!(s.list_outbox(Some("nobody")).await.unwrap().is_empty());
}

async fn webauthn_credentials_and_method_summary(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let bob = user(s, "bob@example.test").await;
    let key = WebauthnCredential {
        id: new_id(),
        user_id: alice.id.clone(),
        credential_id: vec![1, 2, 3, 0, 255],
        passkey_json: r#"{"cred":{"counter":0}}"#.into(),
        aaguid: Some("cb69481e-8ff7-4039-93ec-0a2729a154a8".into()),
        attachment: Attachment::CrossPlatform,
        user_verified: true,
        sign_count: 0,
        display_name: "YubiKey".into(),
        created_at: t(1),
        last_used_at: None,
        provenance: None,
    };
    let hello = WebauthnCredential {
        id: new_id(),
        credential_id: vec![9, 9, 9],
        attachment: Attachment::Platform,
        aaguid: None,
        display_name: "Laptop".into(),
        created_at: t(2),
        ..key.clone()
    };
    s.add_webauthn(&key).await.unwrap();
    s.add_webauthn(&hello).await.unwrap();
    // The same authenticator credential cannot be registered twice, even for someone else.
    let stolen = WebauthnCredential {
        id: new_id(),
        user_id: bob.id.clone(),
        ..key.clone()
    };
    assert!(s.add_webauthn(&stolen).await.unwrap_err().is_conflict());

    assert_eq!(
        s.get_webauthn_by_credential_id(&[1, 2, 3, 0, 255])
            .await
            .unwrap(),
        key
    );
    assert!(s
        .get_webauthn_by_credential_id(&[1, 2, 3])
        .await
        .unwrap_err()
        .is_not_found());
    s.update_webauthn_after_use(&key.id, r#"{"cred":{"counter":7}}"#, 7, t(50))
        .await
        .unwrap();
    let used = s
        .get_webauthn_by_credential_id(&key.credential_id)
        .await
        .unwrap();
    assert_eq!((used.sign_count, used.last_used_at), (7, Some(t(50))));
    assert!(used.passkey_json.contains('7'));

    s.set_password(&PasswordCredential {
        user_id: alice.id.clone(),
        phc: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        changed_at: t(0),
    })
    .await
    .unwrap();
    s.add_totp(&TotpCredential {
        id: new_id(),
        user_id: alice.id.clone(),
        secret: vec![7; 20],
        label: "Authenticator".into(),
        created_at: t(3),
        last_used_step: 0,
        provenance: None,
    })
    .await
    .unwrap();
    let sms = ContactMethod {
        id: new_id(),
        user_id: alice.id.clone(),
        kind: Channel::Sms,
        address: "+32470000001".into(),
        created_at: t(4),
        provenance: None,
    };
    s.add_contact_method(&sms).await.unwrap();
    assert!(s
        .add_contact_method(&ContactMethod {
            id: new_id(),
            ..sms.clone()
        })
        .await
        .unwrap_err()
        .is_conflict());
    s.add_contact_method(&ContactMethod {
        id: new_id(),
        kind: Channel::Email,
        address: "alice@example.test".into(),
        ..sms.clone()
    })
    .await
    .unwrap();
    let tap = TemporaryAccessPass {
        id: new_id(),
        user_id: alice.id.clone(),
        pass_hash: "p".into(),
        is_usable_once: true,
        starts_at: t(0),
        expires_at: t(3600),
        used_at: None,
        created_by: "admin".into(),
        created_at: t(5),
    };
    s.add_tap(&tap).await.unwrap();

    let modes: BTreeSet<String> = s
        .list_methods(&alice.id, t(10))
        .await
        .unwrap()
        .iter()
        .map(|m| m.method.to_string())
        .collect();
    let expected: BTreeSet<String> = [
        "password",
        "softwareOath",
        "sms",
        "email",
        "fido2",
        "windowsHelloForBusiness",
        "temporaryAccessPassOneTime",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(modes, expected);
    // A used one-time pass no longer counts; neither does one past its expiry.
    assert!(s.consume_tap(&tap.id, t(20)).await.unwrap());
    let after = s.list_methods(&alice.id, t(30)).await.unwrap();
    assert!(after
        .iter()
        .all(|m| m.method != Mode::TemporaryAccessPassOneTime));
    assert!(s.list_methods(&bob.id, t(10)).await.unwrap().is_empty());

    assert_eq!(s.list_webauthn(&alice.id).await.unwrap().len(), 2);
    s.delete_webauthn(&hello.id).await.unwrap();
    assert_eq!(s.list_webauthn(&alice.id).await.unwrap().len(), 1);
    s.delete_password(&alice.id).await.unwrap();
    assert_eq!(s.get_password(&alice.id).await.unwrap(), None);
    let contacts = s.list_contact_methods(&alice.id).await.unwrap();
    s.delete_contact_method(&contacts[0].id).await.unwrap();
    assert_eq!(s.list_contact_methods(&alice.id).await.unwrap().len(), 1);
}

async fn security_info_changes_keep_provenance_and_audit_atomically(ctx: Ctx) {
    use policy::registration::{Provenance, RegistrationProof};
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let bob = user(s, "bob@example.test").await;
    let provenance = Provenance {
        proof: RegistrationProof::TemporaryAccessPass,
        methods: vec![Mode::TemporaryAccessPassOneTime],
        temporary_access_pass_issued_by: Some("admin@example.test".into()),
        registered_at: t(5),
        source_address: Some("192.0.2.1".into()),
    };
    let app = TotpCredential {
        id: new_id(),
        user_id: alice.id.clone(),
        secret: vec![1; 20],
        label: "Phone".into(),
        created_at: t(5),
        last_used_step: 0,
        provenance: Some(provenance.clone()),
    };
    let entry = |what: &str| AuditEntry::new("UserManagement", what, "Add", t(5));
    s.register_method_audited(NewMethod::Totp(&app), &entry("registered"))
        .await
        .unwrap();
    let methods = s.list_methods(&alice.id, t(6)).await.unwrap();
    assert_eq!(methods[0].provenance, Some(provenance));
    assert_eq!(
        methods[0].registration(),
        Some(RegistrationProof::TemporaryAccessPass)
    );
    // The same credential id again: the insert fails, and so does its audit entry.
    let before = s.query_audits(&AuditQuery::default()).await.unwrap().len();
    assert!(s
        .register_method_audited(NewMethod::Totp(&app), &entry("again"))
        .await
        .is_err());
    assert_eq!(
        s.query_audits(&AuditQuery::default()).await.unwrap().len(),
        before
    );
    // Bob cannot rename or remove Alice's app by its id; nothing is audited.
    assert!(s
        .rename_method_audited(&bob.id, &app.id, "mine", &entry("rename"))
        .await
        .unwrap_err()
        .is_not_found());
    assert!(s
        .remove_method_audited(&bob.id, &app.id, &entry("remove"))
        .await
        .unwrap_err()
        .is_not_found());
    assert_eq!(
        s.query_audits(&AuditQuery::default()).await.unwrap().len(),
        before
    );
    s.rename_method_audited(&alice.id, &app.id, "Work phone", &entry("rename"))
        .await
        .unwrap();
    assert_eq!(s.list_totp(&alice.id).await.unwrap()[0].label, "Work phone");
    assert_eq!(
        s.remove_method_audited(&alice.id, &app.id, &entry("remove"))
            .await
            .unwrap(),
        Mode::SoftwareOath
    );
    assert!(s.list_totp(&alice.id).await.unwrap().is_empty());
    assert_eq!(
        s.query_audits(&AuditQuery::default()).await.unwrap().len(),
        before + 2
    );
    assert!(s.verify_audit_chain().await.unwrap().is_intact());

    // The provenance rule's setting: enforced until set, audited when set.
    assert!(!s.registration_provenance_relaxed().await.unwrap());
    s.set_setting_audited(
        &TenantSetting {
            name: REGISTRATION_PROVENANCE.into(),
            value: "relaxed".into(),
            changed_at: t(7),
            changed_by: "admin".into(),
        },
        &entry("setting"),
    )
    .await
    .unwrap();
    assert!(s.registration_provenance_relaxed().await.unwrap());
}

async fn sign_in_log(ctx: Ctx) {
    let s = &ctx.store;
    let record = |n: i64, user: Option<&str>, result: SignInResult| SignInRecord {
        id: format!("signin-{n}"),
        created_at: t(n),
        user_id: user.map(str::to_string),
        user_principal_name: user.unwrap_or("ghost@example.test").into(),
        client_id: Some("portal".into()),
        ip: Some("203.0.113.7".into()),
        result,
        failure_reason: (result == SignInResult::Failure).then(|| "wrong password".into()),
        methods: vec!["password".into()],
        applied_policies: json!([{"id": "p1", "result": "success", "enforcedGrantControls": []}]),
        session_id: None,
        additional_details: None,
    };
    let all = [
        record(1, Some("alice"), SignInResult::Success),
        record(2, Some("bob"), SignInResult::Failure),
        record(3, Some("alice"), SignInResult::Interrupted),
        record(4, None, SignInResult::Failure),
        record(5, Some("alice"), SignInResult::Failure),
    ];
    for r in &all {
        s.append_signin(r).await.unwrap();
    }
    assert!(s.append_signin(&all[0]).await.unwrap_err().is_conflict());
    let ids = |v: Vec<SignInRecord>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();

    let newest = s.query_signins(&SignInQuery::default()).await.unwrap();
    assert_eq!(newest[0], all[4]);
    assert_eq!(
        ids(newest),
        ["signin-5", "signin-4", "signin-3", "signin-2", "signin-1"]
    );
    let alice = SignInQuery {
        user_id: Some("alice".into()),
        ..SignInQuery::default()
    };
    assert_eq!(
        ids(s.query_signins(&alice).await.unwrap()),
        ["signin-5", "signin-3", "signin-1"]
    );
    let failures_since = SignInQuery {
        since: Some(t(3)),
        result: Some(SignInResult::Failure),
        ..SignInQuery::default()
    };
    assert_eq!(
        ids(s.query_signins(&failures_since).await.unwrap()),
        ["signin-5", "signin-4"]
    );
    let limited = SignInQuery { limit: 2, ..alice };
    assert_eq!(
        ids(s.query_signins(&limited).await.unwrap()),
        ["signin-5", "signin-3"]
    );
}

async fn signing_keys(ctx: Ctx) {
    let s = &ctx.store;
    let key = SigningKey {
        kid: "k1".into(),
        alg: "ES256".into(),
        private_pkcs8: vec![0x30, 0x81, 0x87, 0x02, 0x01, 0x00],
        public_jwk: json!({"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "kid": "k1"}),
        created_at: t(0),
        activated_at: None,
        retired_at: None,
        not_after: Some(t(90 * 86_400)),
    };
    s.insert_signing_key(&key).await.unwrap();
    assert!(s.insert_signing_key(&key).await.unwrap_err().is_conflict());
    s.insert_signing_key(&SigningKey {
        kid: "k2".into(),
        created_at: t(5),
        ..key.clone()
    })
    .await
    .unwrap();
    s.activate_signing_key("k1", t(1)).await.unwrap();
    assert!(s
        .activate_signing_key("k1", t(2))
        .await
        .unwrap_err()
        .is_conflict());
    s.retire_signing_key("k1", t(10)).await.unwrap();
    assert!(s
        .retire_signing_key("nope", t(10))
        .await
        .unwrap_err()
        .is_not_found());
    let keys = s.list_signing_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        keys[0],
        SigningKey {
            activated_at: Some(t(1)),
            retired_at: Some(t(10)),
            ..key
        }
    );
    assert!(format!("{:?}", keys[0]).contains("<redacted>"));
}

async fn deleting_a_user_removes_what_hangs_off_it(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let group = Group::new("Staff", t(0));
    s.create_group(&group).await.unwrap();
    s.add_member(&group.id, &alice.id).await.unwrap();
    session(s, &alice, "sess").await;
    client(s).await;
    s.insert_refresh_token(&refresh("rt", "f", &alice, Some("sess")))
        .await
        .unwrap();
    s.set_password(&PasswordCredential {
        user_id: alice.id.clone(),
        phc: "$argon2id$…".into(),
        changed_at: t(0),
    })
    .await
    .unwrap();
    s.delete_user(&alice.id).await.unwrap();
    assert!(s.list_members(&group.id).await.unwrap().is_empty());
    assert!(s.get_session("sess").await.unwrap_err().is_not_found());
    assert!(s.get_refresh_token("rt").await.unwrap_err().is_not_found());
    assert_eq!(s.get_password(&alice.id).await.unwrap(), None);
    assert!(s.list_methods(&alice.id, t(0)).await.unwrap().is_empty());
}

async fn writes_to_a_missing_user_conflict(ctx: Ctx) {
    let s = &ctx.store;
    let ghost = User::new("ghost@example.test", "Ghost", t(0));
    let err = s
        .set_password(&PasswordCredential {
            user_id: ghost.id.clone(),
            phc: "x".into(),
            changed_at: t(0),
        })
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    let err = s
        .create_session(&Session {
            id: "s".into(),
            sid: "sid-s".into(),
            user_id: ghost.id,
            created_at: t(0),
            last_seen_at: t(0),
            expires_at: t(1),
            revoked_at: None,
        })
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    // The database's own words stay in the source chain, out of the message.
    let message = err.to_string().to_lowercase();
    assert!(
        !message.contains("foreign key") && !message.contains("violates"),
        "{message}"
    );
}

// ---------------------------------------------------------------------------------------------
// SQLite only

/// `sqlite::memory:` (for demos and quick tests) is one private database for the store's life.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_is_one_database() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let alice = user(&store, "alice@example.test").await;
    // Several calls at once still see the same database.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (store, id) = (store.clone(), alice.id.clone());
            tokio::spawn(async move { store.get_user(&id).await.unwrap() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), alice);
    }
    let d = store.diagnostics().await.unwrap();
    assert_eq!(d.journal_mode.as_deref(), Some("memory"));
    assert_eq!(d.foreign_keys, Some(true));
    // Another store on `:memory:` is another, empty database.
    let other = Store::open("sqlite::memory:").await.unwrap();
    assert!(other.list_users().await.unwrap().is_empty());
}

async fn checked_config_writes_lose_to_any_change_in_between(ctx: Ctx) {
    let s = &ctx.store;
    let audit = |what: &str| {
        AuditEntry::new("Policy", what, "Update", t(5)).by_user("admin", Some("admin@x.test"))
    };
    let g0 = s.config_generation().await.unwrap();
    let p1 = json!({"id": "p1", "displayName": "One", "state": "disabled"});
    assert!(s
        .write_config_checked(ConfigKind::Policy, "p1", Some(&p1), g0, &audit("add p1"))
        .await
        .unwrap());
    let g1 = s.config_generation().await.unwrap();
    assert_eq!(g1, g0 + 1);
    // A stale writer changes nothing, and its audit entry is not written.
    let stale = json!({"id": "p1", "displayName": "One", "state": "enabled"});
    assert!(!s
        .write_config_checked(ConfigKind::Policy, "p1", Some(&stale), g0, &audit("stale"))
        .await
        .unwrap());
    let got: serde_json::Value = s.get_config(ConfigKind::Policy, "p1").await.unwrap();
    assert_eq!(got, p1);
    // Every other way of changing the configuration moves the generation too.
    s.put_config(ConfigKind::NamedLocation, "l1", &json!({"id": "l1"}), t(6))
        .await
        .unwrap();
    let g2 = s.config_generation().await.unwrap();
    assert!(g2 > g1);
    assert!(!s
        .write_config_checked::<serde_json::Value>(
            ConfigKind::Policy,
            "p1",
            None,
            g1,
            &audit("stale delete")
        )
        .await
        .unwrap());
    s.delete_config(ConfigKind::NamedLocation, "l1")
        .await
        .unwrap();
    s.import_tenant(&policy::Tenant::default(), t(7))
        .await
        .unwrap();
    let g3 = s.config_generation().await.unwrap();
    assert_eq!(g3, g2 + 2);
    // Deleting what is not there is an error, and changes nothing.
    assert!(s
        .write_config_checked::<serde_json::Value>(
            ConfigKind::Policy,
            "nope",
            None,
            g3,
            &audit("delete nope")
        )
        .await
        .unwrap_err()
        .is_not_found());
    assert_eq!(s.config_generation().await.unwrap(), g3);
    assert!(s
        .write_config_checked::<serde_json::Value>(
            ConfigKind::Policy,
            "p1",
            None,
            g3,
            &audit("delete p1")
        )
        .await
        .unwrap());
    let audits = s.query_audits(&AuditQuery::default()).await.unwrap();
    let mut names: Vec<&str> = audits
        .iter()
        .map(|a| a.entry.activity_display_name.as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["add p1", "delete p1"]);
}

/// SQLite: a backup taken while another connection holds an open write transaction succeeds at
/// once (it does not wait for the writer) and holds the last committed state, not the write in
/// flight; restored elsewhere it reads back. PostgreSQL: refused, pointing at pg_dump.
async fn a_backup_is_a_consistent_snapshot_taken_while_writes_go_on(ctx: Ctx) {
    let alice = user(&ctx.store, "alice@example.test").await;
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.db");
    if ctx.kind == Kind::Postgres {
        match ctx.store.backup_to(&backup).await {
            Err(StoreError::Backup(why)) => assert!(why.contains("pg_dump"), "{why}"),
            other => panic!("{other:?}"),
        }
        return;
    }
    let mut writer = ctx.raw().await;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut writer)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET display_name = 'in flight' WHERE id = $1")
        .bind(&alice.id)
        .execute(&mut writer)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    ctx.store.backup_to(&backup).await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    sqlx::query("COMMIT").execute(&mut writer).await.unwrap();
    assert_eq!(
        ctx.store.get_user(&alice.id).await.unwrap().display_name,
        "in flight"
    );
    match ctx.store.backup_to(&backup).await {
        Err(StoreError::Backup(why)) => assert!(why.contains("never overwrites"), "{why}"),
        other => panic!("{other:?}"),
    }
    let target = dir.path().join("restored").join("portcullis.db");
    let restored = Store::restore(&backup, &target, false).await.unwrap();
    assert!(restored.audit.is_intact());
    assert_eq!(restored.users, 1);
    let url = format!("sqlite://{}", target.display());
    let back = Store::open(&url).await.unwrap();
    assert_eq!(
        back.get_user(&alice.id).await.unwrap().display_name,
        alice.display_name
    );
    back.close().await;
}

/// Jobs run on one node at a time. SQLite: the job runs. PostgreSQL: while one store (node)
/// holds a job, another's attempt is skipped without running it; once the first is done the
/// second runs it; and a node that dies mid-job (its job cancelled, its connection gone) leaves
/// the job to the others.
async fn a_job_runs_on_one_node_at_a_time_and_is_taken_over(ctx: Ctx) {
    let ran = |v: u32| async move { Ok::<u32, StoreError>(v) };
    if ctx.kind == Kind::Sqlite {
        assert_eq!(
            ctx.store
                .run_exclusively(Job::Expiry, || ran(1))
                .await
                .unwrap(),
            Some(1)
        );
        return;
    }
    let other = Store::open(&ctx.url).await.unwrap();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
    let first = ctx.store.clone();
    let holding = tokio::spawn(async move {
        first
            .run_exclusively(Job::Expiry, || async move {
                let _ = started_tx.send(());
                let _ = finish_rx.await;
                Ok::<u32, StoreError>(1)
            })
            .await
    });
    started_rx.await.unwrap();
    let mut touched = false;
    let skipped = other
        .run_exclusively(Job::Expiry, || {
            touched = true;
            ran(2)
        })
        .await
        .unwrap();
    assert_eq!(skipped, None);
    assert!(!touched, "a skipped job must not run");
    // Another job is not held by this one.
    assert_eq!(
        other
            .run_exclusively(Job::Housekeeping, || ran(3))
            .await
            .unwrap(),
        Some(3)
    );
    finish_tx.send(()).unwrap();
    assert_eq!(holding.await.unwrap().unwrap(), Some(1));
    assert_eq!(
        other.run_exclusively(Job::Expiry, || ran(2)).await.unwrap(),
        Some(2)
    );

    // A node dies mid-job: its job is cancelled and its connection dropped; another node takes
    // the job over within a few seconds.
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let first = ctx.store.clone();
    let dying = tokio::spawn(async move {
        first
            .run_exclusively(Job::Expiry, || async move {
                let _ = started_tx.send(());
                std::future::pending::<()>().await;
                Ok::<u32, StoreError>(1)
            })
            .await
    });
    started_rx.await.unwrap();
    assert_eq!(
        other.run_exclusively(Job::Expiry, || ran(2)).await.unwrap(),
        None
    );
    dying.abort();
    let _ = dying.await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if other.run_exclusively(Job::Expiry, || ran(2)).await.unwrap() == Some(2) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job was not taken over"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    other.close().await;
}
