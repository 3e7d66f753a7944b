//! Throttling of sign-in guesses that strangers cannot turn into a lockout of the account: the
//! counters, the rule over them ([`refusal`]), and the audit of a lock's start. The faces find
//! the attempt's known device (a cookie, for the pages) and call [`Core::sign_in_lock`] before any
//! credential is checked and [`Core::count_failure`] after a wrong one. The rule as operators
//! read it is in `docs/oidc.md`, "Lockout"; the reasons for its shape are in the sign-in pages'
//! `signin::lockout`.

use crate::Core;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use std::net::IpAddr;
use store::{KnownDevice, Lockout, LockoutPolicy, LockoutScope, StoreError};

mod rules;
pub use rules::{refusal, Counters, Lock};

/// Failures from one address that lock it out (for every account but those it is a known
/// device of).
pub const SOURCE_LOCKOUT: LockoutPolicy = LockoutPolicy {
    threshold: 50,
    window: Duration::minutes(15),
    lock_for: Duration::minutes(15),
};

/// Failures on one account from one client (a known device, else an address) that lock that
/// client out of that account.
pub const CLIENT_LOCKOUT: LockoutPolicy = LockoutPolicy {
    threshold: 5,
    window: Duration::minutes(15),
    lock_for: Duration::minutes(15),
};

/// Failures on one account, from anywhere, past which clients the account has not signed in
/// from recently are refused (the account itself is never locked).
pub const ACCOUNT_THROTTLE: LockoutPolicy = LockoutPolicy {
    threshold: 20,
    window: Duration::minutes(60),
    lock_for: Duration::minutes(60),
};

/// How long a completed sign-in makes its device and its address known to the account.
/// Ninety days: break-glass accounts are typically exercised once a quarter.
pub const RECOGNITION: Duration = Duration::days(90);

/// Audit activity of a lock of an address, or of an account from one client.
const LOCKED_OUT: &str = "Sign-in locked out after repeated failures";
/// Audit activity of the per-account throttle.
const THROTTLED: &str = "Sign-in throttled for unrecognised devices after repeated failures";

/// An attempt to sign in to one account, as the counters see it.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The account.
    pub user_id: String,
    /// The TCP peer address.
    pub ip: Option<IpAddr>,
    /// The known device of the account the browser presented, if any.
    pub device: Option<KnownDevice>,
}

impl Attempt {
    /// Where the attempt comes from, in words (the address, or that it is unknown).
    pub fn address(&self) -> String {
        self.ip
            .map_or_else(|| "an unknown address".to_string(), |ip| ip.to_string())
    }

    /// The per-account-and-client counter: the known device, else the address.
    pub fn client_counter(&self) -> (LockoutScope, String) {
        match &self.device {
            Some(d) => (
                LockoutScope::AccountDevice,
                format!("{}/{}", self.user_id, d.id),
            ),
            None => (
                LockoutScope::AccountSource,
                format!("{}/{}", self.user_id, self.address()),
            ),
        }
    }

    /// The lock the per-account-and-client counter sets.
    pub fn client_lock(&self, until: DateTime<Utc>) -> Lock {
        match &self.device {
            Some(d) => Lock::AccountOnDevice {
                device_id: d.id.clone(),
                until,
            },
            None => Lock::AccountFromAddress {
                address: self.address(),
                until,
            },
        }
    }
}

impl Core {
    /// The lock that refuses `attempt` now, if any (see [`refusal`]). The sign-in log is read
    /// only when the account throttle is on and the attempt has no known device.
    pub async fn sign_in_lock(&self, attempt: &Attempt) -> Result<Option<Lock>, StoreError> {
        let now = self.now();
        let (scope, key) = attempt.client_counter();
        let counters = Counters {
            client: self.store.get_lockout(scope, &key).await?,
            address: match (&attempt.device, attempt.ip) {
                (None, Some(ip)) => {
                    self.store
                        .get_lockout(LockoutScope::Source, &ip.to_string())
                        .await?
                }
                _ => None,
            },
            account: self
                .store
                .get_lockout(LockoutScope::Account, &attempt.user_id)
                .await?,
        };
        let throttled = counters
            .account
            .as_ref()
            .is_some_and(|a| a.is_locked_at(now));
        let recognised = match (&attempt.device, attempt.ip) {
            (Some(_), _) => true,
            (None, Some(ip)) if throttled => {
                self.store
                    .signed_in_from(&attempt.user_id, &ip.to_string(), now - RECOGNITION)
                    .await?
            }
            (None, _) => false,
        };
        Ok(refusal(attempt, &counters, recognised, now))
    }

    /// Counts a failure of `attempt` on its three counters; returns the locks it started (each is
    /// written to the audit log once, when its counter reaches the threshold).
    pub async fn count_failure(&self, attempt: &Attempt) -> Result<Vec<Lock>, StoreError> {
        let now = self.now();
        let mut started = Vec::new();
        let (scope, key) = attempt.client_counter();
        let client = self
            .store
            .record_failure(scope, &key, now, &CLIENT_LOCKOUT)
            .await?;
        if let Some(until) = starts(&client, &CLIENT_LOCKOUT, now) {
            started.push(attempt.client_lock(until));
        }
        let account = self
            .store
            .record_failure(
                LockoutScope::Account,
                &attempt.user_id,
                now,
                &ACCOUNT_THROTTLE,
            )
            .await?;
        if let Some(until) = starts(&account, &ACCOUNT_THROTTLE, now) {
            started.push(Lock::AccountFromUnrecognised { until });
        }
        if let Some(ip) = attempt.ip {
            let source = self
                .store
                .record_failure(LockoutScope::Source, &ip.to_string(), now, &SOURCE_LOCKOUT)
                .await?;
            if let Some(until) = starts(&source, &SOURCE_LOCKOUT, now) {
                started.push(Lock::Address {
                    address: ip.to_string(),
                    until,
                });
            }
        }
        for lock in &started {
            tracing::warn!(user = %attempt.user_id, lock = %lock.describe(), "sign-in lock started");
            self.audit_lock(attempt, lock, now).await;
        }
        Ok(started)
    }
}

/// The sign-in log's reason for a failure: why it failed, then each lock it started.
pub fn logged_failure(reason: String, started: &[Lock]) -> String {
    std::iter::once(reason)
        .chain(started.iter().map(Lock::describe))
        .collect::<Vec<_>>()
        .join(" ")
}

/// When this failure is the one that reached the threshold: the end of the lock it set.
/// Exactly one failure per window reaches it, so each lock is audited once.
fn starts(counter: &Lockout, policy: &LockoutPolicy, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if counter.failures == policy.threshold && counter.is_locked_at(now) {
        counter.locked_until
    } else {
        None
    }
}

impl Core {
    /// Writes the start of a lock to the audit log. The lock itself is already stored; a
    /// failure to audit it is logged, not shown to the person signing in.
    async fn audit_lock(&self, attempt: &Attempt, lock: &Lock, now: DateTime<Utc>) {
        let activity = match lock {
            Lock::AccountFromUnrecognised { .. } => THROTTLED,
            _ => LOCKED_OUT,
        };
        let entry = store::AuditEntry::new("UserManagement", activity, "Update", now)
            .by_app("Portcullis sign-in");
        let entry = match lock {
            Lock::Address { address, .. } => entry.target("IpAddress", address, None),
            Lock::AccountFromAddress { address, .. } => entry
                .target("User", &attempt.user_id, None)
                .detail("ipAddress", address),
            Lock::AccountOnDevice { device_id, .. } => entry
                .target("User", &attempt.user_id, None)
                .detail("knownDeviceId", device_id),
            Lock::AccountFromUnrecognised { .. } => entry.target("User", &attempt.user_id, None),
        }
        .detail("lockedUntil", &rfc3339(lock.until()))
        .detail("reason", &lock.describe());
        if let Err(e) = self.store.append_audit(&entry).await {
            tracing::error!(error = %e, "audit entry for a sign-in lock not written");
        }
    }
}

/// A time as the logs show it: RFC 3339, UTC, to the second.
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
