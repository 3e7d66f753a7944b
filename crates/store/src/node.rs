//! One serving node per SQLite file.
//!
//! SQLite serves one node: two `serve` processes on one file would each keep their own view of
//! the configuration and run the same jobs twice. A serving process holds an exclusive lock on
//! `FILE.serve.lock` for as long as it runs (the operating system drops it when the process
//! ends, even by `kill -9`); a second one is refused with a sentence that says so, and
//! `restore` refuses to replace a database that a service holds. PostgreSQL, which serves
//! several nodes, takes no such lock.

use crate::backup::sqlite_file;
use crate::StoreError;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The claim of one serving process on a SQLite file, released when dropped.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
}

/// The lock file of database file `db`.
fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_os_string();
    name.push(".serve.lock");
    PathBuf::from(name)
}

fn open_lock(db: &Path) -> Result<File, StoreError> {
    let path = lock_path(db);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::InvalidUrl(format!("cannot create {}: {e}", dir.display())))?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| StoreError::InvalidUrl(format!("cannot open {}: {e}", path.display())))
}

/// The process id the holder wrote, for the message.
fn holder(mut file: &File) -> String {
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    match text.trim() {
        "" => "another process".into(),
        pid => format!("process {pid}"),
    }
}

impl ServeLock {
    /// Claims the SQLite file `url` names for this process; `None` for PostgreSQL and
    /// in-memory databases. Refused when another process serves it.
    pub fn claim(url: &str) -> Result<Option<ServeLock>, StoreError> {
        let Some(db) = sqlite_file(url) else {
            return Ok(None);
        };
        let mut file = open_lock(&db)?;
        match file.try_lock() {
            Ok(()) => {
                // Who holds it, for the refusal a second process gets.
                let _ = file.set_len(0);
                let _ = file.rewind();
                let _ = write!(file, "{}", std::process::id());
                Ok(Some(ServeLock { _file: file }))
            }
            Err(TryLockError::WouldBlock) => Err(StoreError::InUse(format!(
                "{} is being served by {}: SQLite serves one node (use PostgreSQL for several)",
                db.display(),
                holder(&file)
            ))),
            Err(TryLockError::Error(e)) => Err(StoreError::InvalidUrl(format!(
                "cannot lock {}: {e}",
                lock_path(&db).display()
            ))),
        }
    }

    /// Whether a serving process holds database file `db` now.
    pub fn held(db: &Path) -> Option<String> {
        let file = open_lock(db).ok()?;
        match file.try_lock() {
            Ok(()) => None,
            Err(TryLockError::WouldBlock) => Some(holder(&file)),
            Err(TryLockError::Error(_)) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn one_claim_at_a_time_and_released_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("portcullis.db");
        let url = format!("sqlite://{}", db.display());
        let first = ServeLock::claim(&url)
            .unwrap()
            .expect("a SQLite file is claimed");
        match ServeLock::claim(&url) {
            Err(StoreError::InUse(why)) => {
                assert!(
                    why.contains(&format!("process {}", std::process::id())),
                    "{why}"
                );
                assert!(why.contains("one node"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert!(ServeLock::held(&db).is_some());
        drop(first);
        assert!(ServeLock::held(&db).is_none());
        assert!(ServeLock::claim(&url).unwrap().is_some());
        assert!(ServeLock::claim("sqlite::memory:").unwrap().is_none());
        let shared = format!("sqlite://{}?mode=memory", dir.path().join("m").display());
        assert!(ServeLock::claim(&shared).unwrap().is_none());
        assert!(ServeLock::claim("postgres://u:p@localhost/db")
            .unwrap()
            .is_none());
    }
}
