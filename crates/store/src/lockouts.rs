//! Failure counters that lock an account or a source address out for a while.

use crate::sql::{ms, text_enum, RowExt};
use crate::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

text_enum! {
    /// What a counter counts failures of.
    pub enum LockoutScope {
        /// One account (key: the user id).
        Account = "account",
        /// One source (key: the client IP address or network).
        Source = "source",
    }
}

/// When failures lock out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures within one window that lock.
    pub threshold: i64,
    /// How long a window of counting lasts from its first failure.
    pub window: Duration,
    /// How long a lock lasts from the failure that set it.
    pub lock_for: Duration,
}

/// The state of one counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lockout {
    /// Account or source.
    pub scope: LockoutScope,
    /// User id or address.
    pub key: String,
    /// Failures in the current window.
    pub failures: i64,
    /// When the current window began.
    pub window_started_at: DateTime<Utc>,
    /// Locked until then (exclusive), if ever locked.
    pub locked_until: Option<DateTime<Utc>>,
}

impl Lockout {
    /// Whether the counter locks at `at`.
    pub fn is_locked_at(&self, at: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| at < until)
    }
}

fn lockout_from_row(row: &AnyRow) -> Result<Lockout, StoreError> {
    Ok(Lockout {
        scope: LockoutScope::from_column(&row.text("scope")?)?,
        key: row.text("lock_key")?,
        failures: row.int("failures")?,
        window_started_at: row.time("window_started_at")?,
        locked_until: row.opt_time("locked_until")?,
    })
}

impl Store {
    /// Counts one failure at `now` and returns the counter: a window that has run out starts
    /// again at 1; reaching the threshold locks until `now + lock_for`. One statement, so that
    /// concurrent failures are all counted.
    pub async fn record_failure(
        &self,
        scope: LockoutScope,
        key: &str,
        now: DateTime<Utc>,
        policy: &LockoutPolicy,
    ) -> Result<Lockout, StoreError> {
        // $3 now, $4 threshold, $5 window, $6 lock duration (milliseconds). Every expression in
        // SET reads the row as it was before the update, on both backends.
        let row = sqlx::query(
            "INSERT INTO lockouts (scope, lock_key, failures, window_started_at, locked_until) \
             VALUES ($1, $2, 1, $3, CASE WHEN $4 <= 1 THEN $3 + $6 ELSE NULL END) \
             ON CONFLICT (scope, lock_key) DO UPDATE SET \
               failures = CASE WHEN lockouts.window_started_at + $5 <= $3 THEN 1 \
                               ELSE lockouts.failures + 1 END, \
               window_started_at = CASE WHEN lockouts.window_started_at + $5 <= $3 THEN $3 \
                                        ELSE lockouts.window_started_at END, \
               locked_until = CASE WHEN (CASE WHEN lockouts.window_started_at + $5 <= $3 THEN 1 \
                                              ELSE lockouts.failures + 1 END) >= $4 \
                                   THEN $3 + $6 ELSE lockouts.locked_until END \
             RETURNING scope, lock_key, failures, window_started_at, locked_until",
        )
        .bind(scope.as_str())
        .bind(key)
        .bind(ms(now))
        .bind(policy.threshold)
        .bind(policy.window.num_milliseconds())
        .bind(policy.lock_for.num_milliseconds())
        .fetch_one(self.pool())
        .await?;
        lockout_from_row(&row)
    }

    /// The counter, if any failure was counted.
    pub async fn get_lockout(
        &self,
        scope: LockoutScope,
        key: &str,
    ) -> Result<Option<Lockout>, StoreError> {
        sqlx::query(
            "SELECT scope, lock_key, failures, window_started_at, locked_until FROM lockouts \
             WHERE scope = $1 AND lock_key = $2",
        )
        .bind(scope.as_str())
        .bind(key)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(lockout_from_row)
        .transpose()
    }

    /// Forgets the counter (after a success, or an administrator's unlock).
    pub async fn reset_lockout(&self, scope: LockoutScope, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM lockouts WHERE scope = $1 AND lock_key = $2")
            .bind(scope.as_str())
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
