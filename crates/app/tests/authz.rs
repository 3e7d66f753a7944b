//! Permissions come only from roles held actively now: eligibility, an ended assignment or a
//! role that does not grant the permission give none; a role held through nested groups does.
//! On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use app::authz::{AuthorizeError, ManageConditionalAccess, ManageRoles, ReadConditionalAccess};
use app::{Caller, Clock, Core};
use chrono::{DateTime, Duration, Utc};
use policy::directory::AssignmentStatus;
use policy::roles::BuiltInRole;
use store::testing::{Backend, TestDatabase, TestDatabaseError};
use store::{Group, RoleAssignment, Store, User};

async fn core_on(backend: Backend) -> Option<(Core, TestDatabase)> {
    let db = match TestDatabase::create(backend).await {
        Ok(db) => db,
        Err(TestDatabaseError::Skipped) => return None,
        Err(e) => panic!("{e}"),
    };
    let store = Store::open(&db.url).await.unwrap();
    Some((Core::new(store, Clock::default()), db))
}

async fn user(core: &Core, upn: &str) -> Caller {
    let u = User::new(upn, upn, core.now());
    core.store.create_user(&u).await.unwrap();
    Caller::new(u)
}

async fn give(
    core: &Core,
    principal: &str,
    role: &str,
    status: AssignmentStatus,
    end: Option<DateTime<Utc>>,
) {
    core.store
        .assign_role(&RoleAssignment {
            id: store::new_id(),
            principal_id: policy::ids::PrincipalId::trusted(principal),
            role_definition_id: policy::ids::RoleId::trusted(role),
            directory_scope_id: "/".into(),
            status,
            start_at: core.now() - Duration::hours(1),
            end_at: end,
        })
        .await
        .unwrap();
}

fn denied<T: std::fmt::Debug>(r: Result<T, AuthorizeError>) -> String {
    match r {
        Err(AuthorizeError::Denied(d)) => d.message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn permissions_follow_active_roles(backend: Backend) {
    let Some((core, db)) = core_on(backend).await else {
        return;
    };
    let now = core.now();

    // Eligible for Global Administrator, active for nothing: no permission at all.
    let eligible = user(&core, "eligible@example.test").await;
    give(
        &core,
        &eligible.user.id,
        BuiltInRole::GlobalAdministrator.template_id(),
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    let why = denied(core.authorize::<ManageRoles>(&eligible).await);
    assert!(why.contains("must activate it first"), "{why}");
    denied(core.authorize::<ReadConditionalAccess>(&eligible).await);

    // Active Privileged Role Administrator: administers roles, reads policies, cannot change them.
    let pra = user(&core, "pra@example.test").await;
    give(
        &core,
        &pra.user.id,
        BuiltInRole::PrivilegedRoleAdministrator.template_id(),
        AssignmentStatus::Active,
        None,
    )
    .await;
    let allowed = core.authorize::<ManageRoles>(&pra).await.unwrap();
    assert_eq!(allowed.caller().user.id, pra.user.id);
    core.authorize::<ReadConditionalAccess>(&pra).await.unwrap();
    let why = denied(core.authorize::<ManageConditionalAccess>(&pra).await);
    assert!(why.contains("Conditional Access"), "{why}");

    // An activation that has ended gives nothing.
    let ended = user(&core, "ended@example.test").await;
    give(
        &core,
        &ended.user.id,
        BuiltInRole::PrivilegedRoleAdministrator.template_id(),
        AssignmentStatus::Active,
        Some(now - Duration::minutes(1)),
    )
    .await;
    denied(core.authorize::<ManageRoles>(&ended).await);

    // Global Administrator held by a group two levels up.
    let nested = user(&core, "nested@example.test").await;
    let team = Group::new("Team", now);
    let admins = Group {
        is_assignable_to_role: true,
        ..Group::new("Tier 0", now)
    };
    core.store.create_group(&team).await.unwrap();
    core.store.create_group(&admins).await.unwrap();
    core.store
        .add_member(&team.id, &nested.user.id)
        .await
        .unwrap();
    core.store.add_member(&admins.id, &team.id).await.unwrap();
    give(
        &core,
        &admins.id,
        BuiltInRole::GlobalAdministrator.template_id(),
        AssignmentStatus::Active,
        None,
    )
    .await;
    core.authorize::<ManageConditionalAccess>(&nested)
        .await
        .unwrap();
    core.authorize::<ManageRoles>(&nested).await.unwrap();

    // A reader reads and changes nothing.
    let reader = user(&core, "reader@example.test").await;
    give(
        &core,
        &reader.user.id,
        BuiltInRole::SecurityReader.template_id(),
        AssignmentStatus::Active,
        None,
    )
    .await;
    core.authorize::<ReadConditionalAccess>(&reader)
        .await
        .unwrap();
    denied(core.authorize::<ManageConditionalAccess>(&reader).await);
    denied(core.authorize::<ManageRoles>(&reader).await);
    assert!(!core.may::<ManageRoles>(&reader).await.unwrap());
    assert!(core.may::<ReadConditionalAccess>(&reader).await.unwrap());

    core.store.close().await;
    db.remove().await.unwrap();
}

#[tokio::test]
async fn permissions_follow_active_roles_on_sqlite() {
    permissions_follow_active_roles(Backend::Sqlite).await;
}

#[tokio::test]
async fn permissions_follow_active_roles_on_postgres() {
    permissions_follow_active_roles(Backend::Postgres).await;
}
