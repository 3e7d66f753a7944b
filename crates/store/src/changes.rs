//! The tenant's change log: what changed in the data Conditional Access reads, by version, so
//! that an engine built from the store follows it (see migration 0016).
//!
//! Every write of users, groups, members, role assignments or Conditional Access documents
//! records its changes with [`record_change`], in its own transaction, just before its audit
//! entry (the audit head is the last lock an audited change takes; the version row comes right
//! before it, so no two writers take the two in opposite orders). A reader compares its version
//! with [`Store::tenant_version`] and reads [`Store::tenant_changes_since`] when it moved.
//!
//! Readers poll the version today. To be told instead, [`record_change`] is the one place to
//! announce a change (on PostgreSQL, `pg_notify` with the version, delivered at commit); a
//! listener then only has to mark its engine stale, and the log says what to read.

use crate::sql::RowExt;
use crate::tenant::ConfigKind;
use crate::{Store, StoreError};
use sqlx::{Any, Transaction};

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
    Ok(())
}

fn version_of(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::corrupt("tenant version", value))
}

impl Store {
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
