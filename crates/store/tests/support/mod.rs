//! The harness that runs one storage test against each backend, each time on a fresh database:
//! a new SQLite file in a temporary directory, or a new PostgreSQL database created on the server
//! named by `PORTCULLIS_TEST_DATABASE_URL` and dropped afterwards.

#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use sqlx::{AnyConnection, Connection, Executor};
use std::future::Future;
use std::io::Write;
use store::Store;

/// The environment variable naming a PostgreSQL server on which tests may create databases.
pub const DATABASE_URL_VAR: &str = "PORTCULLIS_TEST_DATABASE_URL";
/// Set to `1` to run the SQLite half only.
pub const SKIP_VAR: &str = "PORTCULLIS_SKIP_POSTGRES";

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// What a test gets: an open store and the URL it was opened with (to reopen it).
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The store under test.
    pub store: Store,
    /// Its URL.
    pub url: String,
    /// Its backend.
    pub kind: Kind,
}

impl Ctx {
    /// A raw connection to the same database, for what the store's API does not do on purpose
    /// (forging a future migration, probing the driver).
    pub async fn raw(&self) -> AnyConnection {
        sqlx::any::install_default_drivers();
        match AnyConnection::connect(&self.url).await {
            Ok(conn) => conn,
            Err(e) => panic!("raw connection to the test database failed: {e}"),
        }
    }
}

/// A time on a fixed day, `secs` seconds after midnight UTC (millisecond precision, as stored).
pub fn t(secs: i64) -> DateTime<Utc> {
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single();
    let Some(base) = base else {
        panic!("fixed test time is valid");
    };
    base + chrono::Duration::seconds(secs)
}

/// Runs `test` on a fresh database of `kind`, then removes the database, even if the test fails.
pub async fn run<F, Fut>(kind: Kind, test: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match kind {
        Kind::Sqlite => {
            let dir = match tempfile::tempdir() {
                Ok(dir) => dir,
                Err(e) => panic!("cannot create a temporary directory: {e}"),
            };
            // A subdirectory that does not exist yet: the store creates it.
            let url = format!("sqlite://{}/data/portcullis.db", dir.path().display());
            let store = open(&url).await;
            let outcome = tokio::spawn(test(Ctx {
                store: store.clone(),
                url,
                kind,
            }))
            .await;
            store.close().await;
            drop(dir);
            finish(outcome);
        }
        Kind::Postgres => {
            let Some(server) = postgres_server() else {
                return;
            };
            let name = format!("pt_{}", uuid::Uuid::new_v4().simple());
            admin(&server, &format!("CREATE DATABASE {name}")).await;
            let url = with_database(&server, &name);
            let store = open(&url).await;
            let outcome = tokio::spawn(test(Ctx {
                store: store.clone(),
                url,
                kind,
            }))
            .await;
            store.close().await;
            admin(
                &server,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
            finish(outcome);
        }
    }
}

async fn open(url: &str) -> Store {
    match Store::open(url).await {
        Ok(store) => store,
        Err(e) => panic!("Store::open failed: {e} ({e:?})"),
    }
}

fn finish(outcome: Result<(), tokio::task::JoinError>) {
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("test task failed: {e}"),
        }
    }
}

/// The server URL, or `None` (after a loud notice) when PostgreSQL is skipped on purpose.
fn postgres_server() -> Option<String> {
    if let Ok(url) = std::env::var(DATABASE_URL_VAR) {
        if !url.is_empty() {
            return Some(url);
        }
    }
    if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
        static NOTICE: std::sync::Once = std::sync::Once::new();
        NOTICE.call_once(|| {
            // Straight to stderr: the test harness captures eprintln! of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "\n!!! {SKIP_VAR}=1: the PostgreSQL half of the storage tests is SKIPPED; \
                 only SQLite was tested !!!\n"
            );
        });
        return None;
    }
    panic!(
        "{DATABASE_URL_VAR} is not set, so the storage tests cannot reach PostgreSQL. Run \
         scripts/test (it starts a private PostgreSQL), or `scripts/with-postgres cargo test -p \
         store`; set {SKIP_VAR}=1 to test SQLite only."
    );
}

/// Runs one statement on the server's own database.
async fn admin(server: &str, sql: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = match AnyConnection::connect(server).await {
        Ok(conn) => conn,
        Err(e) => panic!("cannot connect to {DATABASE_URL_VAR}: {e}"),
    };
    if let Err(e) = conn.execute(sql).await {
        panic!("`{sql}` failed: {e}");
    }
    let _ = conn.close().await;
}

/// The server URL with its database replaced by `name`.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (server, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_and_path = &base[scheme_end..];
    let authority = authority_and_path
        .split_once('/')
        .map_or(authority_and_path, |(a, _)| a);
    format!("{}{authority}/{name}{query}", &base[..scheme_end])
}

/// Declares each listed test twice, as `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::support::run($crate::support::Kind::Sqlite, super::$name).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::support::run($crate::support::Kind::Postgres, super::$name).await;
                }
            )+
        }
    };
}
