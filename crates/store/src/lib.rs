//! Persistence: SQLite and PostgreSQL behind one interface.
//!
//! [`Store`] wraps one sqlx `Any` pool, so every method is written once for both backends:
//!
//! - **One migration series** (`crates/store/migrations`, embedded with `sqlx::migrate!`) in SQL
//!   both backends accept: TEXT ids, BIGINT Unix-millisecond times, BIGINT 0/1 flags (the `Any`
//!   driver cannot read a column SQLite declares BOOLEAN), TEXT JSON, BYTEA bytes.
//! - **One query text**, with `$1, $2…` placeholders: sqlx's SQLite driver binds `$N` by its
//!   number, not by position, so a query may use `$2` before `$1` or `$1` twice (a test proves it
//!   on both backends).
//! - **Atomic single-use state** (codes, ceremonies, passes, TOTP steps) is one conditional
//!   `UPDATE … RETURNING`: whichever caller changes the row wins, on either backend.
//! - **Multi-row changes** run in one transaction, begun `IMMEDIATE` on SQLite so that a
//!   transaction that reads before it writes waits for the lock instead of failing.
//!
//! The store refuses a database migrated by a newer build ([`StoreError::NewerSchema`]). It
//! connects to PostgreSQL over TLS as the URL asks (`sslmode=verify-full&sslrootcert=CA.pem`;
//! see docs/operations.md), and names a certificate file it cannot read before connecting.
//!
//! To change the schema, add `crates/store/migrations/NNNN_what.sql` (never edit an applied
//! one), keep to the portable SQL above, and run the suite on both backends:
//! `scripts/with-postgres cargo test -p store`.

mod approvals;
mod audit;
mod backup;
mod challenges;
mod changes;
mod credentials;
// `assignment_columns!` is read by the tenant queries too.
#[macro_use]
mod directory;
mod error;
mod jobs;
mod lockouts;
mod node;
mod oidc;
mod outbox;
mod pim;
mod pim_admin;
mod sessions;
mod settings;
mod signins;
mod sql;
mod tenant;
#[cfg(feature = "testing")]
pub mod testing;
mod transactions;

// `self::`: the module shares its name with the `pim` crate it stores.
pub use self::pim::{
    AssignmentQuery, RequestTransition, ScheduleRequestQuery, ScheduleRequestRecord,
    ScheduledAssignment, StoredRolePolicy, TransitionOutcome,
};
pub use approvals::{ApprovalDecision, ReviewResult};
pub use audit::{
    AuditEntry, AuditQuery, AuditRecord, AuditResult, AuditVerification, GENESIS_HASH,
};
pub use backup::{sqlite_file, Restored};
pub use challenges::{Ceremony, CeremonyKind, OtpChallenge};
pub use changes::{ChangeKind, ChangeListener, ChangesSince, Heard, TenantChangeRecord};
pub use credentials::{
    registration_of, Attachment, ContactMethod, MethodSummary, NewMethod, PasswordCredential,
    TemporaryAccessPass, TotpCredential, WebauthnCredential,
};
pub use directory::{Group, GroupChange, RoleAssignment, RoleDefinition, User, UserChange};
pub use error::StoreError;
pub use jobs::Job;
pub use lockouts::{KnownDevice, Lockout, LockoutPolicy, LockoutScope};
pub use node::ServeLock;
pub use oidc::{AuthorizationCode, OidcClient, RefreshToken, Rotation, SigningKey};
pub use outbox::{Channel, OutboxMessage};
pub use pim_admin::AdminOutcome;
pub use sessions::{Session, SessionAuthEvent};
pub use settings::{TenantSetting, REGISTRATION_PROVENANCE};
pub use signins::{SignInQuery, SignInRecord, SignInResult};
pub use tenant::{stored_form, ConfigKind, PrincipalRoles};
pub use transactions::SignInTransaction;

use chrono::{DateTime, Utc};
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migrate, MigrateError, Migrator};
use sqlx::AnyPool;
use sqlx::{Any, Executor, Transaction};
use std::time::Duration;

/// A fresh random id (a UUID v4), for new records.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `at`, truncated to the millisecond: the precision the store keeps, so that what is read back
/// equals what was written.
pub fn at_ms(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

/// The migrations this build knows, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The database behind a [`Store`], for reporting: callers never need to branch on it (inside the
/// store only the connection setup and the `BEGIN` statement differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// An embedded SQLite file (or memory).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The backend a URL names.
    pub fn of_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            // Only the scheme is echoed: the rest may hold a password.
            let scheme = url.split_once(':').map_or("none", |(s, _)| s);
            Err(StoreError::InvalidUrl(format!(
                "unsupported scheme '{scheme}': expected sqlite://PATH, sqlite::memory: or \
                 postgres://USER:PASSWORD@HOST/DATABASE"
            )))
        }
    }
}

/// What an operator may want to know about the database (`portcullis healthcheck`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostics {
    /// The backend.
    pub backend: Backend,
    /// The highest migration applied.
    pub schema_version: i64,
    /// The highest migration this build knows.
    pub known_schema_version: i64,
    /// SQLite's journal mode (`wal` for a file); `None` on PostgreSQL.
    pub journal_mode: Option<String>,
    /// Whether SQLite enforces foreign keys on this connection; `None` on PostgreSQL.
    pub foreign_keys: Option<bool>,
    /// Whether the connection to PostgreSQL is encrypted (TLS); `None` on SQLite.
    pub encrypted: Option<bool>,
}

/// The persistence layer: one connection pool, SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The PostgreSQL URL, for the connection that listens for changes (a pool's connections
    /// cannot be kept listening); `None` on SQLite.
    listen_url: Option<changes::ListenUrl>,
}

impl Store {
    /// Opens `sqlite://PATH` (created if missing, with its directory), `sqlite::memory:` or
    /// `postgres://…`, and brings the schema up to date.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let backend = Backend::of_url(url)?;
        sqlx::any::install_default_drivers();
        let pool = match backend {
            Backend::Sqlite => open_sqlite(url).await?,
            Backend::Postgres => {
                check_tls_files(url)?;
                AnyPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await
                    .map_err(connect_error)?
            }
        };
        let listen_url = (backend == Backend::Postgres).then(|| changes::ListenUrl::new(url));
        let store = Store {
            pool,
            backend,
            listen_url,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The backend, for reporting.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The highest migration this build carries.
    pub fn known_schema_version() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Backend, schema version and, on SQLite, the connection settings that matter.
    pub async fn diagnostics(&self) -> Result<Diagnostics, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let applied = conn
            .list_applied_migrations()
            .await
            .map_err(migrate_error)?;
        let (journal_mode, foreign_keys, encrypted) = match self.backend {
            Backend::Postgres => {
                use sqlx::Row;
                let ssl: bool = sqlx::query(
                    "SELECT coalesce((SELECT ssl FROM pg_stat_ssl \
                     WHERE pid = pg_backend_pid()), false) AS ssl",
                )
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)?;
                (None, None, Some(ssl))
            }
            Backend::Sqlite => {
                use sqlx::Row;
                let mode: String = sqlx::query("PRAGMA journal_mode")
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get(0)?;
                let fk: i64 = sqlx::query("PRAGMA foreign_keys")
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get(0)?;
                (Some(mode.to_lowercase()), Some(fk != 0), None)
            }
        };
        Ok(Diagnostics {
            backend: self.backend,
            schema_version: applied.iter().map(|m| m.version).max().unwrap_or(0),
            known_schema_version: Self::known_schema_version(),
            journal_mode,
            foreign_keys,
            encrypted,
        })
    }

    /// Applies pending migrations, after refusing a schema newer than this build.
    async fn migrate(&self) -> Result<(), StoreError> {
        let known = Self::known_schema_version();
        let mut conn = self.pool.acquire().await?;
        conn.ensure_migrations_table()
            .await
            .map_err(migrate_error)?;
        let applied = conn
            .list_applied_migrations()
            .await
            .map_err(migrate_error)?;
        // Release the connection: an in-memory SQLite pool has only one.
        drop(conn);
        if let Some(found) = applied.iter().map(|m| m.version).max() {
            if found > known {
                return Err(StoreError::NewerSchema { found, known });
            }
        }
        MIGRATOR.run(&self.pool).await.map_err(migrate_error)
    }

    /// Begins a transaction for a change that touches several rows.
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>, StoreError> {
        // SQLite: take the write lock at BEGIN, so that a transaction which reads before it
        // writes waits (busy timeout) instead of failing with SQLITE_BUSY on the upgrade.
        let statement = match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        Ok(self.pool.begin_with(statement).await?)
    }

    /// Begins a read-only transaction that sees one consistent state of the database.
    pub(crate) async fn begin_read(&self) -> Result<Transaction<'static, Any>, StoreError> {
        // PostgreSQL's default isolation takes a new snapshot per statement; SQLite's deferred
        // BEGIN keeps one snapshot from the first read, without taking the write lock.
        let statement = match self.backend {
            Backend::Sqlite => "BEGIN",
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        Ok(self.pool.begin_with(statement).await?)
    }

    /// Deletes the one row `sql` names by `$1`, or reports it missing.
    pub(crate) async fn delete_one(
        &self,
        sql: &'static str,
        what: &'static str,
        id: &str,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(sql).bind(id).execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(what, id));
        }
        Ok(())
    }

    /// The pool, for single statements.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// A `sqlite:` URL taken apart.
pub(crate) struct SqliteUrl<'a> {
    /// The file (or `:memory:`), as written.
    pub(crate) path: &'a str,
    /// The query after `?`, if any.
    pub(crate) query: &'a str,
    /// Whether it names an in-memory database (`:memory:` or `mode=memory`).
    pub(crate) memory: bool,
}

impl<'a> SqliteUrl<'a> {
    /// Takes `sqlite://PATH[?QUERY]` or `sqlite::memory:` apart.
    pub(crate) fn parse(url: &'a str) -> SqliteUrl<'a> {
        let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let memory = path == ":memory:" || query.split('&').any(|p| p == "mode=memory");
        SqliteUrl {
            path,
            query,
            memory,
        }
    }
}

/// Opens a SQLite pool: WAL, foreign keys on, a busy timeout on every connection.
async fn open_sqlite(url: &str) -> Result<AnyPool, StoreError> {
    let SqliteUrl {
        path,
        query,
        memory,
    } = SqliteUrl::parse(url);
    if path.is_empty() && !memory {
        return Err(StoreError::InvalidUrl(
            "sqlite URL without a path: use sqlite://PATH or sqlite::memory:".into(),
        ));
    }
    let mut options = AnyPoolOptions::new()
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                // sqlx sets these by default; stated here because the store depends on them.
                conn.execute("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")
                    .await?;
                Ok(())
            })
        });
    let url = if memory {
        // Each connection to `:memory:` is a database of its own: keep exactly one, forever.
        options = options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
        url.to_string()
    } else {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::InvalidUrl(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        options = options.max_connections(8);
        if query.split('&').any(|p| p.starts_with("mode=")) {
            url.to_string()
        } else {
            // Read-write, create if missing.
            let sep = if query.is_empty() { '?' } else { '&' };
            format!("{url}{sep}mode=rwc")
        }
    };
    let pool = options.connect(&url).await.map_err(connect_error)?;
    if !memory {
        // WAL persists in the file: readers no longer block the writer. Set once, here, because
        // switching needs an exclusive lock that the busy timeout does not wait for.
        pool.execute("PRAGMA journal_mode = WAL").await?;
    }
    Ok(pool)
}

/// Refuses a PostgreSQL URL naming a certificate or key file that cannot be read, by name (the
/// driver's own message names no file).
fn check_tls_files(url: &str) -> Result<(), StoreError> {
    let Ok(parsed) = url::Url::parse(url) else {
        // The driver reports what is wrong with the URL.
        return Ok(());
    };
    for (key, path) in parsed.query_pairs() {
        if matches!(&*key, "sslrootcert" | "sslcert" | "sslkey") {
            if let Err(e) = std::fs::File::open(&*path) {
                return Err(StoreError::InvalidUrl(format!("{key} '{path}': {e}")));
            }
        }
    }
    Ok(())
}

pub(crate) fn connect_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Configuration(cause) => StoreError::InvalidUrl(cause.to_string()),
        sqlx::Error::Tls(cause) => StoreError::Connect(format!("TLS: {cause}")),
        e @ (sqlx::Error::Io(_) | sqlx::Error::Database(_) | sqlx::Error::PoolTimedOut) => {
            StoreError::Connect(e.to_string())
        }
        e => StoreError::Database(e),
    }
}

fn migrate_error(e: MigrateError) -> StoreError {
    match e {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => StoreError::Database(e),
        MigrateError::VersionMismatch(v) => StoreError::Corrupt {
            what: "schema",
            detail: format!("migration {v} was changed after it was applied"),
        },
        MigrateError::Dirty(v) => StoreError::Corrupt {
            what: "schema",
            detail: format!("migration {v} was left half-applied"),
        },
        e => StoreError::Corrupt {
            what: "schema",
            detail: e.to_string(),
        },
    }
}

/// Whether `text` cannot be stored (it holds a NUL, which PostgreSQL's text cannot hold): such
/// an id or name matches nothing, on either backend, rather than failing the query.
pub(crate) fn unstorable(text: &str) -> bool {
    text.contains('\0')
}
