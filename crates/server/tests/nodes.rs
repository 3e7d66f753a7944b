//! Two nodes on one database, as two `serve` processes on one PostgreSQL are: a change committed
//! on one counts in the other's Conditional Access decisions at once (it is announced, not
//! polled for); when the signing key is due for rotation and both notice in the same minute, one
//! node rotates and the other takes its key, so that exactly one new key is made; and on SQLite
//! the second node is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use app::Clock;
use chrono::Duration;
use common::Env;
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR};
use std::sync::Arc;
use std::time::Instant;
use store::testing::Backend;
use store::{RoleAssignment, User};

/// Waits until `node`'s engine shows `holds` for `user`'s Global Administrator role, asking as
/// a sign-in would (every few milliseconds); how long it took.
async fn until_counted(
    node: &server::state::AppState,
    user: &User,
    holds: bool,
) -> std::time::Duration {
    let started = Instant::now();
    loop {
        let engine = node.engine().await.unwrap();
        let groups = engine.transitive_groups(&user.id);
        if engine
            .active_roles(&user.id, &groups)
            .contains(GLOBAL_ADMINISTRATOR)
            == holds
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the other node never saw the change"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// The engine's own poll asks the store once a second; the announcement must beat it by far.
const AT_ONCE: std::time::Duration = std::time::Duration::from_millis(400);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_counts_on_the_other_at_once() {
    let Some(env) = Env::start(Backend::Postgres).await else {
        return;
    };
    let other = env.second_node(Clock::default()).await.unwrap();
    let b: Arc<server::state::AppState> = other.state();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(other.serve(async move {
        let _ = stopped.await;
    }));
    let ada = env
        .user("ada@example.test", "correct horse battery staple")
        .await;
    // The second node knows ada before the trials begin (its first build).
    until_counted(&b, &ada, false).await;
    let heard = b.metrics.changes_heard("change");

    for trial in 0..6 {
        // The second node has just asked the store: its poll would not ask again for a second.
        b.engine().await.unwrap();
        let now = env.now();
        let grant = RoleAssignment {
            id: store::new_id(),
            principal_id: policy::ids::PrincipalId::trusted(ada.id.clone()),
            role_definition_id: policy::ids::RoleId::trusted(GLOBAL_ADMINISTRATOR),
            directory_scope_id: "/".into(),
            status: AssignmentStatus::Active,
            start_at: now,
            end_at: None,
        };
        // Written on the first node's store (as its service or the CLI would).
        env.state.store.assign_role(&grant).await.unwrap();
        let took = until_counted(&b, &ada, true).await;
        assert!(
            took < AT_ONCE,
            "trial {trial}: a role given counted after {took:?}"
        );

        b.engine().await.unwrap();
        env.state
            .store
            .remove_role_assignment(&grant.id)
            .await
            .unwrap();
        let took = until_counted(&b, &ada, false).await;
        assert!(
            took < AT_ONCE,
            "trial {trial}: a role removed counted for {took:?}"
        );
    }
    assert!(
        b.metrics.changes_heard("change") >= heard + 12,
        "the second node heard {} announcements",
        b.metrics.changes_heard("change") - heard
    );

    // A disabled user: the same.
    b.engine().await.unwrap();
    env.state
        .store
        .set_account_enabled(&ada.id, false)
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let engine = b.engine().await.unwrap();
        if engine.user(&ada.id).unwrap().account_enabled == Some(false) {
            break;
        }
        assert!(
            started.elapsed() < AT_ONCE,
            "a disabled user still counted as enabled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }

    let _ = stop.send(());
    served.await.unwrap().unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_due_for_rotation_make_one_new_key() {
    let Some(env) = Env::start(Backend::Postgres).await else {
        return;
    };
    let other = env.second_node(Clock::default()).await.unwrap();
    let other = other.state();
    let keys = || async { env.state.store.list_signing_keys().await.unwrap() };
    assert_eq!(keys().await.len(), 1, "one key after both nodes started");

    // Both clocks past the key lifetime (30 days), both nodes refresh at once.
    let later = Duration::days(31);
    env.state.clock.advance(later);
    other.clock.advance(later);
    let (a, b) = tokio::join!(env.state.refresh_keys(), other.refresh_keys());
    a.unwrap();
    b.unwrap();
    let stored = keys().await;
    assert_eq!(stored.len(), 2, "exactly one new key: {stored:#?}");
    let active: Vec<_> = stored.iter().filter(|k| k.retired_at.is_none()).collect();
    assert_eq!(active.len(), 1);
    // Both nodes sign with it.
    assert_eq!(env.state.keys().active().unwrap().kid(), active[0].kid);
    assert_eq!(other.keys().active().unwrap().kid(), active[0].kid);
    drop(other);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_on_sqlite_is_refused() {
    let env = Env::start(Backend::Sqlite).await.unwrap();
    let refused = env.second_node(Clock::default()).await.unwrap_err();
    assert!(
        refused.to_string().contains("SQLite serves one node"),
        "{refused}"
    );
    env.stop().await;
}
