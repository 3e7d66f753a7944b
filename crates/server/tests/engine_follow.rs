//! The service's Conditional Access engine follows changes instead of reading the whole tenant
//! again: a role change or a policy write through the service is applied to the cached engine;
//! a change that the service was not told about (another process) is seen within a second; an
//! activation stops counting at its end without any write; requests holding an older engine keep
//! their snapshot. The metric `engine_updates` tells a full build from a followed change. Every
//! test runs on SQLite and on PostgreSQL (see `common`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::Env;
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR};
use policy::Engine;
use serde_json::json;
use std::collections::HashSet;
use store::{ConfigKind, Group, RoleAssignment, User};

on_both_backends!(
    a_role_change_through_the_service_is_followed_not_rebuilt,
    an_activation_stops_counting_at_its_end_without_a_write,
    a_change_the_service_was_not_told_about_is_seen_within_a_second,
    a_policy_write_is_followed,
    a_group_change_reads_the_tenant_again,
    requests_holding_an_engine_keep_their_snapshot,
);

fn assignment(
    user: &User,
    role: &str,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
) -> RoleAssignment {
    RoleAssignment {
        id: store::new_id(),
        principal_id: policy::ids::PrincipalId::trusted(user.id.clone()),
        role_definition_id: policy::ids::RoleId::trusted(role),
        directory_scope_id: "/".into(),
        status: AssignmentStatus::Active,
        start_at: start,
        end_at: end,
    }
}

fn roles(engine: &Engine, user: &User) -> HashSet<String> {
    engine.active_roles(&user.id, &engine.transitive_groups(&user.id))
}

fn builds(env: &Env) -> u64 {
    env.state.metrics.engine_updates("built")
}

/// A user the engine already knows.
async fn known_user(env: &Env, upn: &str) -> User {
    let user = env.user(upn, "correct horse battery staple").await;
    assert!(env.state.engine().await.unwrap().user(&user.id).is_some());
    user
}

async fn a_role_change_through_the_service_is_followed_not_rebuilt(env: &Env) {
    let ada = known_user(env, "ada@example.test").await;
    let built = builds(env);
    let followed = env.state.metrics.engine_updates("followed");
    let now = env.now();
    let activation = assignment(
        &ada,
        GLOBAL_ADMINISTRATOR,
        now,
        Some(now + Duration::hours(1)),
    );
    env.state.store.assign_role(&activation).await.unwrap();
    env.state.roles_changed();
    let engine = env.state.engine().await.unwrap();
    assert_eq!(
        roles(&engine, &ada),
        HashSet::from([GLOBAL_ADMINISTRATOR.into()])
    );
    assert!(engine.is_privileged(&ada.id));
    env.state
        .store
        .remove_role_assignment(&activation.id)
        .await
        .unwrap();
    env.state.roles_changed();
    let engine = env.state.engine().await.unwrap();
    assert!(roles(&engine, &ada).is_empty());
    assert!(!engine.is_privileged(&ada.id));
    assert_eq!(
        builds(env),
        built,
        "a role change does not read the whole tenant"
    );
    assert!(env.state.metrics.engine_updates("followed") >= followed + 2);
}

async fn an_activation_stops_counting_at_its_end_without_a_write(env: &Env) {
    let ada = known_user(env, "ada@example.test").await;
    let built = builds(env);
    let now = env.now();
    // One in force until ten minutes from now, one that starts in twenty.
    let ending = assignment(
        &ada,
        GLOBAL_ADMINISTRATOR,
        now,
        Some(now + Duration::minutes(10)),
    );
    let later = assignment(
        &ada,
        PRIVILEGED_ROLE_ADMINISTRATOR,
        now + Duration::minutes(20),
        Some(now + Duration::minutes(30)),
    );
    for a in [&ending, &later] {
        env.state.store.assign_role(a).await.unwrap();
    }
    env.state.roles_changed();
    let engine = env.state.engine().await.unwrap();
    assert_eq!(
        roles(&engine, &ada),
        HashSet::from([GLOBAL_ADMINISTRATOR.into()])
    );
    // No write, no expiry job, no notice: the time alone.
    env.state.clock.advance(Duration::minutes(10));
    assert!(roles(&env.state.engine().await.unwrap(), &ada).is_empty());
    env.state.clock.advance(Duration::minutes(10));
    assert_eq!(
        roles(&env.state.engine().await.unwrap(), &ada),
        HashSet::from([PRIVILEGED_ROLE_ADMINISTRATOR.into()])
    );
    env.state.clock.advance(Duration::minutes(10));
    let engine = env.state.engine().await.unwrap();
    assert!(roles(&engine, &ada).is_empty());
    assert!(!engine.is_privileged(&ada.id));
    assert_eq!(builds(env), built);
}

async fn a_change_the_service_was_not_told_about_is_seen_within_a_second(env: &Env) {
    let ada = known_user(env, "ada@example.test").await;
    let built = builds(env);
    let unchanged = env.state.metrics.engine_updates("unchanged");
    // Nothing changed: asking the store costs no rebuild.
    env.state.clock.advance(Duration::seconds(2));
    env.state.engine().await.unwrap();
    assert_eq!(env.state.metrics.engine_updates("unchanged"), unchanged + 1);
    // As the CLI or another node would write: straight into the store, no notice.
    let now = env.now();
    let grant = assignment(&ada, GLOBAL_ADMINISTRATOR, now, None);
    env.state.store.assign_role(&grant).await.unwrap();
    let bob = User::new("bob@example.test", "Bob", now);
    env.state.store.create_user(&bob).await.unwrap();
    env.state.clock.advance(Duration::seconds(2));
    let engine = env.state.engine().await.unwrap();
    assert_eq!(
        roles(&engine, &ada),
        HashSet::from([GLOBAL_ADMINISTRATOR.into()])
    );
    assert!(engine.user(&bob.id).is_some());
    assert_eq!(builds(env), built);
}

async fn a_policy_write_is_followed(env: &Env) {
    let ada = known_user(env, "ada@example.test").await;
    let built = builds(env);
    let policy = json!({
        "id": "block-ada",
        "displayName": "Block Ada",
        "state": "enabled",
        "conditions": {
            "users": {"includeUsers": [ada.id]},
            "applications": {"includeApplications": ["All"]}
        },
        "grantControls": {"operator": "OR", "builtInControls": ["block"]}
    });
    env.state
        .store
        .put_config(ConfigKind::Policy, "block-ada", &policy, env.now())
        .await
        .unwrap();
    env.state.tenant_changed();
    let engine = env.state.engine().await.unwrap();
    let ids: Vec<&str> = engine
        .tenant()
        .conditional_access_policies
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert!(ids.contains(&"block-ada"));
    env.state
        .store
        .delete_config(ConfigKind::Policy, "block-ada")
        .await
        .unwrap();
    env.state.tenant_changed();
    let engine = env.state.engine().await.unwrap();
    assert!(engine
        .tenant()
        .conditional_access_policies
        .iter()
        .all(|p| p.id != "block-ada"));
    assert_eq!(builds(env), built);
}

async fn a_group_change_reads_the_tenant_again(env: &Env) {
    let ada = known_user(env, "ada@example.test").await;
    let built = builds(env);
    let admins = Group::new("Admins", env.now());
    env.state.store.create_group(&admins).await.unwrap();
    env.state
        .store
        .add_member(&admins.id, &ada.id)
        .await
        .unwrap();
    env.state.tenant_changed();
    let engine = env.state.engine().await.unwrap();
    assert!(engine.transitive_groups(&ada.id).contains(&admins.id));
    assert_eq!(builds(env), built + 1);
}

async fn requests_holding_an_engine_keep_their_snapshot(env: &Env) {
    let ada = known_user(env, "ada@example.test").await;
    let built = builds(env);
    let grant = |role: &str| assignment(&ada, role, env.now(), None);
    let first = env.state.engine().await.unwrap();
    let ga = grant(GLOBAL_ADMINISTRATOR);
    env.state.store.assign_role(&ga).await.unwrap();
    env.state.roles_changed();
    let second = env.state.engine().await.unwrap();
    env.state
        .store
        .remove_role_assignment(&ga.id)
        .await
        .unwrap();
    env.state.roles_changed();
    // `first` is still held: the next engine is a copy, not `first` brought up to date.
    let third = env.state.engine().await.unwrap();
    assert!(roles(&first, &ada).is_empty());
    assert_eq!(
        roles(&second, &ada),
        HashSet::from([GLOBAL_ADMINISTRATOR.into()])
    );
    assert!(roles(&third, &ada).is_empty());
    // Nobody holds `second` any more: it is brought up to date and reused.
    drop(second);
    env.state
        .store
        .assign_role(&grant(PRIVILEGED_ROLE_ADMINISTRATOR))
        .await
        .unwrap();
    env.state.roles_changed();
    let fourth = env.state.engine().await.unwrap();
    assert_eq!(
        roles(&fourth, &ada),
        HashSet::from([PRIVILEGED_ROLE_ADMINISTRATOR.into()])
    );
    assert!(roles(&first, &ada).is_empty());
    assert!(roles(&third, &ada).is_empty());
    // The followed engine holds what a full read holds.
    let fresh = Engine::new(env.state.store.load_tenant(env.now()).await.unwrap());
    let mut followed = fourth.tenant().role_assignments.clone();
    let mut read = fresh.tenant().role_assignments.clone();
    followed.sort_by(|a, b| a.id.cmp(&b.id));
    read.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(followed, read);
    assert_eq!(roles(&fourth, &ada), roles(&fresh, &ada));
    assert_eq!(builds(env), built);
}
