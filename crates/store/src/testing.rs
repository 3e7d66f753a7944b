//! Fresh databases for tests of the crates above the store (feature `testing`): a new SQLite
//! file in a temporary directory, or a new database on the PostgreSQL server named by
//! `PORTCULLIS_TEST_DATABASE_URL`, dropped by [`TestDatabase::remove`].

use sqlx::{AnyConnection, Connection, Executor};

/// The environment variable naming a PostgreSQL server on which tests may create databases.
pub const DATABASE_URL_VAR: &str = "PORTCULLIS_TEST_DATABASE_URL";
/// Set to `1` to run the SQLite half only.
pub const SKIP_VAR: &str = "PORTCULLIS_SKIP_POSTGRES";

/// A backend to test on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// A database made for one test.
#[derive(Debug)]
pub struct TestDatabase {
    /// Its URL.
    pub url: String,
    dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

/// Why a test database cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum TestDatabaseError {
    /// PostgreSQL is skipped on purpose (`PORTCULLIS_SKIP_POSTGRES=1`).
    #[error("PostgreSQL is skipped ({SKIP_VAR}=1)")]
    Skipped,
    /// PostgreSQL is needed but not configured.
    #[error(
        "{DATABASE_URL_VAR} is not set: run scripts/test (it starts a private PostgreSQL) or \
         `scripts/with-postgres cargo test`; set {SKIP_VAR}=1 to test SQLite only"
    )]
    NotConfigured,
    /// Creating it failed.
    #[error("{0}")]
    Failed(String),
}

impl TestDatabase {
    /// A fresh database on `backend`.
    pub async fn create(backend: Backend) -> Result<TestDatabase, TestDatabaseError> {
        match backend {
            Backend::Sqlite => {
                let dir =
                    tempfile::tempdir().map_err(|e| TestDatabaseError::Failed(e.to_string()))?;
                Ok(TestDatabase {
                    url: format!("sqlite://{}/portcullis.db", dir.path().display()),
                    dir: Some(dir),
                    postgres: None,
                })
            }
            Backend::Postgres => {
                let server = match std::env::var(DATABASE_URL_VAR) {
                    Ok(url) if !url.is_empty() => url,
                    _ if std::env::var(SKIP_VAR).as_deref() == Ok("1") => {
                        return Err(TestDatabaseError::Skipped)
                    }
                    _ => return Err(TestDatabaseError::NotConfigured),
                };
                let name = format!("pt_{}", uuid::Uuid::new_v4().simple());
                admin(&server, &format!("CREATE DATABASE {name}")).await?;
                Ok(TestDatabase {
                    url: with_database(&server, &name),
                    dir: None,
                    postgres: Some((server, name)),
                })
            }
        }
    }

    /// Removes the database (the SQLite directory goes when the value is dropped).
    pub async fn remove(self) -> Result<(), TestDatabaseError> {
        if let Some((server, name)) = &self.postgres {
            admin(
                server,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await?;
        }
        drop(self.dir);
        Ok(())
    }
}

async fn admin(server: &str, sql: &str) -> Result<(), TestDatabaseError> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(server).await.map_err(|e| {
        TestDatabaseError::Failed(format!("cannot connect to {DATABASE_URL_VAR}: {e}"))
    })?;
    conn.execute(sql)
        .await
        .map_err(|e| TestDatabaseError::Failed(format!("`{sql}` failed: {e}")))?;
    let _ = conn.close().await;
    Ok(())
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
