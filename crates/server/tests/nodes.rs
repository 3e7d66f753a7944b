//! Two nodes on one database, as two `serve` processes on one PostgreSQL are: when the signing
//! key is due for rotation and both notice in the same minute, one node rotates and the other
//! takes its key, so that exactly one new key is made; and on SQLite the second node is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use app::Clock;
use chrono::Duration;
use common::Env;
use store::testing::Backend;

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
