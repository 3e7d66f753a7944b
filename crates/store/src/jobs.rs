//! Jobs that must run on one node at a time (the expiry of activations, failing overdue
//! requests, purging spent single-use state, rotating the signing key), whatever the number of
//! nodes.
//!
//! On PostgreSQL a job runs under a session advisory lock taken with `pg_try_advisory_lock` on a
//! connection of its own: a node whose tick finds the lock held skips that tick, and a node that
//! dies mid-job loses its connection, and with it the lock, so that the next tick of another node
//! takes the job over. The connection is taken out of the pool for the job's length: if the job
//! is cancelled, the connection is closed rather than handed back still holding the lock. On
//! SQLite one process serves (see [`crate::ServeLock`]): the job simply runs.

use crate::{Backend, Store, StoreError};
use sqlx::{Connection, Row};
use std::future::Future;

/// A job that runs on one node at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Failing overdue requests and ending activations whose time is up.
    Expiry,
    /// Purging expired challenges and sign-in transactions.
    Housekeeping,
    /// Deciding to rotate the signing key, and making the new one.
    KeyRotation,
}

impl Job {
    /// The advisory lock key: `portcull` in ASCII, then the job.
    fn key(self) -> i64 {
        const BASE: i64 = 0x706f_7274_6375_0000;
        BASE + match self {
            Job::Expiry => 1,
            Job::Housekeeping => 2,
            Job::KeyRotation => 3,
        }
    }
}

impl Store {
    /// Runs `job` if no other node runs `which` now: `Some` with its result, or `None` when
    /// another node holds it (this tick is skipped).
    pub async fn run_exclusively<T, E, F, Fut>(&self, which: Job, job: F) -> Result<Option<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<StoreError>,
    {
        if self.backend() == Backend::Sqlite {
            return job().await.map(Some);
        }
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(StoreError::from)?
            .detach();
        let held: bool = sqlx::query("SELECT pg_try_advisory_lock($1)")
            .bind(which.key())
            .fetch_one(&mut conn)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(StoreError::from)?;
        if !held {
            let _ = conn.close().await;
            return Ok(None);
        }
        let result = job().await;
        // Closing ends the session, which releases the lock even if the unlock failed.
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(which.key())
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
        result.map(Some)
    }
}
