//! `portcullis backup FILE` and `portcullis restore FILE [--force]`: a SQLite store copied while
//! the service runs, and put back in place after it is checked (see `store::Store::restore`).
//! PostgreSQL is backed up with `pg_dump` (docs/operations.md).

use crate::clients::with_store;
use crate::service::{load_config, StoreArgs};
use anyhow::{bail, Context, Result};
use std::path::Path;
use store::Store;

/// `portcullis backup FILE`.
pub(crate) fn backup(args: &StoreArgs, file: &Path) -> Result<()> {
    with_store(args, async |store| {
        store
            .backup_to(file)
            .await
            .with_context(|| format!("cannot back up to {}", file.display()))?;
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        println!("backed up to {} ({size} bytes)", file.display());
        Ok(())
    })
}

/// `portcullis restore FILE [--force]`.
pub(crate) fn restore(args: &StoreArgs, file: &Path, force: bool) -> Result<()> {
    let config = load_config(args, None, None)?;
    let url = config.database_url();
    let Some(target) = store::sqlite_file(url.expose()) else {
        bail!(
            "restore puts a SQLite backup in place of the SQLite database; this configuration \
             names another (restore PostgreSQL with pg_restore, see docs/operations.md)"
        );
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let restored = runtime
        .block_on(Store::restore(file, &target, force))
        .with_context(|| format!("cannot restore {}", file.display()))?;
    println!(
        "restored {} to {}: schema version {}, {} users, audit chain intact ({} entries)",
        file.display(),
        target.display(),
        restored.schema_version,
        restored.users,
        restored.audit.entries
    );
    Ok(())
}
