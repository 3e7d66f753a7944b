//! Backups of a SQLite store, taken while the service runs, and their restore.
//!
//! A backup is SQLite's `VACUUM INTO`: one read transaction copies every page of a consistent
//! snapshot into a new file, while the service goes on writing (WAL). A restore never writes
//! into the backup: the backup is copied next to the target, opened there (older schemas are
//! migrated, newer ones refused), its audit chain verified, compacted into a clean single file
//! and only then renamed over the target, so that a failed restore leaves the target as it was.
//! PostgreSQL is backed up with `pg_dump` (docs/operations.md).

use crate::{AuditVerification, Backend, Store, StoreError};
use std::path::{Path, PathBuf};

/// What a restore put in place.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The schema version of the restored database (after any migration).
    pub schema_version: i64,
    /// Its audit chain, verified.
    pub audit: AuditVerification,
    /// How many users it holds.
    pub users: usize,
}

fn refused(detail: impl Into<String>) -> StoreError {
    StoreError::Backup(detail.into())
}

/// The file of a `sqlite://PATH` URL (read as the store opens it); `None` for an in-memory
/// database (`:memory:` or `mode=memory`) or another scheme.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    if !url.starts_with("sqlite:") {
        return None;
    }
    let parsed = crate::SqliteUrl::parse(url);
    (!parsed.path.is_empty() && !parsed.memory).then(|| PathBuf::from(parsed.path))
}

/// Whether `path` starts as a SQLite database does.
fn looks_like_sqlite(path: &Path) -> bool {
    use std::io::Read;
    let mut header = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok()
        && &header == b"SQLite format 3\0"
}

/// A path next to `target` with `suffix` (same directory, so that a rename is atomic).
fn beside(target: &Path, suffix: &str) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}-{}", std::process::id()));
    target.with_file_name(name)
}

/// The `-wal` and `-shm` files SQLite keeps beside `path`.
fn sidecars(path: &Path) -> [PathBuf; 2] {
    ["-wal", "-shm"].map(|s| {
        let mut name = path.as_os_str().to_os_string();
        name.push(s);
        PathBuf::from(name)
    })
}

fn remove_with_sidecars(path: &Path) {
    for p in std::iter::once(path.to_path_buf()).chain(sidecars(path)) {
        let _ = std::fs::remove_file(p);
    }
}

impl Store {
    /// Writes a consistent copy of the whole database to `path` while the service runs. Refused
    /// when `path` exists (a backup never overwrites), and on PostgreSQL (use `pg_dump`).
    pub async fn backup_to(&self, path: &Path) -> Result<(), StoreError> {
        if self.backend() != Backend::Sqlite {
            return Err(refused(
                "this database is PostgreSQL: back it up with pg_dump (see docs/operations.md)",
            ));
        }
        if path.exists() {
            return Err(refused(format!(
                "{} exists: a backup never overwrites a file; name a new one",
                path.display()
            )));
        }
        let Some(text) = path.to_str() else {
            return Err(refused(format!("{} is not a UTF-8 path", path.display())));
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(refused(format!("{} is not a directory", dir.display())));
            }
        }
        sqlx::query("VACUUM INTO $1")
            .bind(text)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Restores the backup `backup` as the SQLite database at `target`. Refused when `target`
    /// exists unless `replace`, and when the target looks open (its `-wal` file exists: stop the
    /// service first) unless `replace`. The backup is checked before the target is touched: a
    /// SQLite file, a Portcullis schema this build can read, an audit chain that verifies.
    pub async fn restore(
        backup: &Path,
        target: &Path,
        replace: bool,
    ) -> Result<Restored, StoreError> {
        if !backup.is_file() {
            return Err(refused(format!("{} is not a file", backup.display())));
        }
        if !looks_like_sqlite(backup) {
            return Err(refused(format!(
                "{} is not a SQLite database (a Portcullis backup is one)",
                backup.display()
            )));
        }
        // Even with --force: a running service would go on writing into the file replaced.
        if let Some(holder) = crate::ServeLock::held(target) {
            return Err(refused(format!(
                "{} is being served by {holder}: stop the service first",
                target.display()
            )));
        }
        if !replace {
            if target.exists() {
                return Err(refused(format!(
                    "{} exists: stop the service, then restore with --force to replace it",
                    target.display()
                )));
            }
            if sidecars(target)[0].exists() {
                return Err(refused(format!(
                    "{} looks open (its -wal file exists): stop the service first",
                    target.display()
                )));
            }
        }
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| refused(format!("cannot create {}: {e}", dir.display())))?;
        }
        let copy = beside(target, "restoring");
        let clean = beside(target, "restored");
        remove_with_sidecars(&copy);
        remove_with_sidecars(&clean);
        let checked = Self::check_copy(backup, &copy, &clean).await;
        remove_with_sidecars(&copy);
        let restored = match checked {
            Ok(r) => r,
            Err(e) => {
                remove_with_sidecars(&clean);
                return Err(e);
            }
        };
        // The old database's journal belongs to it: it must not be replayed into the new one.
        for sidecar in sidecars(target) {
            let _ = std::fs::remove_file(sidecar);
        }
        std::fs::rename(&clean, target).map_err(|e| {
            refused(format!(
                "cannot put the restored database in place at {}: {e}",
                target.display()
            ))
        })?;
        Ok(restored)
    }

    /// Copies `backup` to `copy`, opens and checks it there, and compacts it into `clean`.
    async fn check_copy(backup: &Path, copy: &Path, clean: &Path) -> Result<Restored, StoreError> {
        std::fs::copy(backup, copy)
            .map_err(|e| refused(format!("cannot copy {}: {e}", backup.display())))?;
        let url = format!(
            "sqlite://{}",
            copy.to_str()
                .ok_or_else(|| refused(format!("{} is not a UTF-8 path", copy.display())))?
        );
        let store = match Store::open(&url).await {
            Ok(store) => store,
            Err(StoreError::Database(_)) => {
                return Err(refused(format!(
                    "{} is not a Portcullis database this build can read",
                    backup.display()
                )))
            }
            Err(e) => return Err(e),
        };
        let result = async {
            let audit = store.verify_audit_chain().await?;
            if let Some((seq, why)) = &audit.first_broken {
                return Err(refused(format!(
                    "the backup's audit chain is broken at entry {seq} ({why}): it was changed \
                     after it was written"
                )));
            }
            let schema_version = store.diagnostics().await?.schema_version;
            let users = store.list_users().await?.len();
            store.backup_to(clean).await?;
            Ok(Restored {
                schema_version,
                audit,
                users,
            })
        }
        .await;
        store.close().await;
        result
    }
}
