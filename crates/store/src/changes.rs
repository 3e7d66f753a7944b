//! The tenant's change log: what changed in the data Conditional Access reads, by version, so
//! that an engine built from the store follows it (see migration 0016).
//!
//! Every write of users, groups, members, role assignments or Conditional Access documents
//! records its changes with [`record_change`], in its own transaction, just before its audit
//! entry (the audit head is the last lock an audited change takes; the version row comes right
//! before it, so no two writers take the two in opposite orders). A reader compares its version
//! with [`Store::tenant_version`] and reads [`Store::tenant_changes_since`] when it moved.
//!
//! On PostgreSQL [`record_change`] also announces the change (`pg_notify` with the version,
//! which PostgreSQL delivers at commit, and only if the transaction commits): every node holds a
//! [`ChangeListener`] and marks its engine stale when told, so that a change committed on one
//! node counts on the others at their next decision, and the log says what to read. Polling the
//! version stays as the fallback for a lost listening connection and for SQLite, where one node
//! serves and other processes (the CLI) write rarely.

use crate::sql::RowExt;
use crate::tenant::ConfigKind;
use crate::{Store, StoreError};
use sqlx::postgres::PgListener;
use sqlx::{Any, Transaction};
use std::sync::Arc;

/// The PostgreSQL channel on which every committed change is announced, with its version.
const CHANNEL: &str = "portcullis_tenant_changes";

/// How many changes the log keeps: a reader further behind reads the whole tenant.
const KEPT_CHANGES: i64 = 10_000;

/// What a recorded change touched; the subject is the id of that object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// The role assignments of a principal (the subject: a user or group id).
    RoleAssignments,
    /// A user.
    User,
    /// A group or its direct members.
    Group,
    /// A Conditional Access document of this kind.
    Config(ConfigKind),
    /// Anything (an import): read the whole tenant. Also what an unknown kind, written by a
    /// newer build, reads as.
    Everything,
}

impl ChangeKind {
    /// The stored spelling.
    fn as_str(&self) -> &'static str {
        match self {
            ChangeKind::RoleAssignments => "roleAssignments",
            ChangeKind::User => "user",
            ChangeKind::Group => "group",
            ChangeKind::Config(k) => k.as_str(),
            ChangeKind::Everything => "everything",
        }
    }

    fn parse(s: &str) -> ChangeKind {
        match s {
            "roleAssignments" => ChangeKind::RoleAssignments,
            "user" => ChangeKind::User,
            "group" => ChangeKind::Group,
            "policy" => ChangeKind::Config(ConfigKind::Policy),
            "namedLocation" => ChangeKind::Config(ConfigKind::NamedLocation),
            "authenticationStrength" => ChangeKind::Config(ConfigKind::AuthenticationStrength),
            "authenticationContext" => ChangeKind::Config(ConfigKind::AuthenticationContext),
            _ => ChangeKind::Everything,
        }
    }
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantChangeRecord {
    /// The tenant version it raised the store to.
    pub version: u64,
    /// What it touched.
    pub kind: ChangeKind,
    /// The id of what it touched (empty for [`ChangeKind::Everything`]).
    pub subject_id: String,
}

/// The changes after a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangesSince {
    /// The store's tenant version now.
    pub version: u64,
    /// The changes after the version asked about, in order; `None` when the log no longer
    /// holds them all (pruned, too many, or the store is behind the version asked about): read
    /// the whole tenant.
    pub changes: Option<Vec<TenantChangeRecord>>,
}

/// Records one change in `tx`: raises the tenant version and logs the change under it.
pub(crate) async fn record_change(
    tx: &mut Transaction<'static, Any>,
    kind: ChangeKind,
    subject_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE tenant_version SET value = value + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO tenant_changes (version, kind, subject_id) \
         SELECT value, $1, $2 FROM tenant_version WHERE id = 1",
    )
    .bind(kind.as_str())
    .bind(subject_id)
    .execute(&mut **tx)
    .await?;
    // Pruning as we go keeps the log bounded without a job; by the primary key it touches at
    // most the rows that fell out of the window.
    sqlx::query(
        "DELETE FROM tenant_changes \
         WHERE version <= (SELECT value FROM tenant_version WHERE id = 1) - $1",
    )
    .bind(KEPT_CHANGES)
    .execute(&mut **tx)
    .await?;
    if tx.backend_name() == "PostgreSQL" {
        // Queued by PostgreSQL and delivered to the listeners when (and only if) the
        // transaction commits; the text cast keeps the void result out of the row decoding.
        sqlx::query("SELECT pg_notify($1, value::text)::text FROM tenant_version WHERE id = 1")
            .bind(CHANNEL)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The URL the listening connection opens; kept out of `Debug`, as it may hold a password.
#[derive(Clone)]
pub(crate) struct ListenUrl(Arc<str>);

impl ListenUrl {
    pub(crate) fn new(url: &str) -> ListenUrl {
        ListenUrl(url.into())
    }
}

impl std::fmt::Debug for ListenUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ListenUrl(…)")
    }
}

/// What a [`ChangeListener`] heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// A change was committed (by any node), raising the tenant version to this.
    Change(u64),
    /// The listening connection was lost and made again: announcements in between were
    /// missed, so the listener's owner catches up as if told of a change.
    Reconnected,
}

/// Told of every change any node commits: a connection of its own that `LISTEN`s on the
/// store's channel (PostgreSQL only).
pub struct ChangeListener {
    listener: PgListener,
}

impl std::fmt::Debug for ChangeListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeListener").finish_non_exhaustive()
    }
}

impl ChangeListener {
    /// Waits for the next announcement. An error means the connection could not be made
    /// again; the caller retries later (the engine's version poll covers the gap).
    pub async fn next(&mut self) -> Result<Heard, StoreError> {
        match self.listener.try_recv().await? {
            // An unparsable payload still says that something changed.
            Some(n) => Ok(Heard::Change(n.payload().parse().unwrap_or(0))),
            None => Ok(Heard::Reconnected),
        }
    }
}

fn version_of(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::corrupt("tenant version", value))
}

impl Store {
    /// A listener for the changes every node commits; `None` on SQLite, where one node serves
    /// and learns of its own writes directly.
    pub async fn listen_for_changes(&self) -> Result<Option<ChangeListener>, StoreError> {
        let Some(url) = &self.listen_url else {
            return Ok(None);
        };
        let mut listener = PgListener::connect(&url.0)
            .await
            .map_err(crate::connect_error)?;
        listener.listen(CHANNEL).await?;
        Ok(Some(ChangeListener { listener }))
    }

    /// The tenant version: it grows with every change to what Conditional Access reads. Read it
    /// before reading the tenant, and follow [`Store::tenant_changes_since`] from it.
    pub async fn tenant_version(&self) -> Result<u64, StoreError> {
        let value = sqlx::query("SELECT value FROM tenant_version WHERE id = 1")
            .fetch_one(self.pool())
            .await?
            .int("value")?;
        version_of(value)
    }

    /// The store's tenant version and the changes after `version`, if there are at most
    /// `limit` of them and the log still holds them all.
    pub async fn tenant_changes_since(
        &self,
        version: u64,
        limit: u32,
    ) -> Result<ChangesSince, StoreError> {
        let from =
            i64::try_from(version).map_err(|_| StoreError::corrupt("tenant version", version))?;
        // The common case, nothing changed, is one statement outside a transaction.
        if self.tenant_version().await? == version {
            return Ok(ChangesSince {
                version,
                changes: Some(Vec::new()),
            });
        }
        let mut tx = self.begin_read().await?;
        let now = version_of(
            sqlx::query("SELECT value FROM tenant_version WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?
                .int("value")?,
        )?;
        let behind = now.checked_sub(version);
        if now == version || behind.is_none_or(|n| n > u64::from(limit)) {
            tx.commit().await?;
            let changes = (now == version).then(Vec::new);
            return Ok(ChangesSince {
                version: now,
                changes,
            });
        }
        let rows = sqlx::query(
            "SELECT version, kind, subject_id FROM tenant_changes \
             WHERE version > $1 ORDER BY version",
        )
        .bind(from)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let changes = rows
            .iter()
            .map(|row| {
                Ok(TenantChangeRecord {
                    version: version_of(row.int("version")?)?,
                    kind: ChangeKind::parse(&row.text("kind")?),
                    subject_id: row.text("subject_id")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Every version has its row unless it was pruned.
        let complete = behind.is_some_and(|n| usize::try_from(n).ok() == Some(changes.len()));
        Ok(ChangesSince {
            version: now,
            changes: complete.then_some(changes),
        })
    }
}
