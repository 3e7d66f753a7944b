//! Failure counters that lock a source address, or an account from one client, out for a while
//! (and throttle an account for clients it has not used), and the devices known to have signed
//! in to an account. The rule that reads them is the server's (`signin::lockout`).

use crate::error::on_write;
use crate::sql::{ms, text_enum, RowExt};
use crate::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

text_enum! {
    /// What a counter counts failures of.
    pub enum LockoutScope {
        /// Every failure on one account (key: the user id). It never locks the account: past
        /// its threshold only clients the account has not signed in from are refused.
        Account = "account",
        /// One source (key: the client IP address or network).
        Source = "source",
        /// One account from one address that is not a known device (key: `user id/address`).
        AccountSource = "account_source",
        /// One account from one known device (key: `user id/device id`).
        AccountDevice = "account_device",
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

/// A browser that completed a sign-in of an account: it presents a token of the device cookie
/// whose hash is stored here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KnownDevice {
    /// Public id (named in failure counters and audit entries instead of the token's hash).
    pub id: String,
    /// SHA-256 of the cookie's token.
    pub token_hash: String,
    /// The account.
    pub user_id: String,
    /// When it was first remembered.
    pub created_at: DateTime<Utc>,
    /// The latest completed sign-in from it.
    pub last_signed_in_at: DateTime<Utc>,
    /// Not recognised from then on (exclusive).
    pub expires_at: DateTime<Utc>,
}

fn device_from_row(row: &AnyRow) -> Result<KnownDevice, StoreError> {
    Ok(KnownDevice {
        id: row.text("id")?,
        token_hash: row.text("token_hash")?,
        user_id: row.text("user_id")?,
        created_at: row.time("created_at")?,
        last_signed_in_at: row.time("last_signed_in_at")?,
        expires_at: row.time("expires_at")?,
    })
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

    /// Remembers a device of an account, or, for one already stored (same id), moves its last
    /// sign-in and expiry forward. Expired devices of the account are forgotten on the way.
    pub async fn remember_device(&self, device: &KnownDevice) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM known_devices WHERE user_id = $1 AND expires_at <= $2")
            .bind(&device.user_id)
            .bind(ms(device.last_signed_in_at))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO known_devices (id, token_hash, user_id, created_at, last_signed_in_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET last_signed_in_at = $5, expires_at = $6",
        )
        .bind(&device.id)
        .bind(&device.token_hash)
        .bind(&device.user_id)
        .bind(ms(device.created_at))
        .bind(ms(device.last_signed_in_at))
        .bind(ms(device.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(on_write("known device"))?;
        tx.commit().await?;
        Ok(())
    }

    /// The device of `user_id` whose cookie token hashes to `token_hash`, if it is known and
    /// not expired at `now`.
    pub async fn known_device(
        &self,
        token_hash: &str,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<KnownDevice>, StoreError> {
        sqlx::query(
            "SELECT id, token_hash, user_id, created_at, last_signed_in_at, expires_at \
             FROM known_devices WHERE token_hash = $1 AND user_id = $2 AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(ms(now))
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(device_from_row)
        .transpose()
    }

    /// Whether the sign-in log has a successful sign-in of `user_id` from `ip` at or after
    /// `since` (an address the account has signed in from recently).
    pub async fn signed_in_from(
        &self,
        user_id: &str,
        ip: &str,
        since: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let found = sqlx::query(
            "SELECT id FROM signins WHERE user_id = $1 AND created_at >= $2 AND ip = $3 \
             AND result = 'success' LIMIT 1",
        )
        .bind(user_id)
        .bind(ms(since))
        .bind(ip)
        .fetch_optional(self.pool())
        .await?;
        Ok(found.is_some())
    }
}
