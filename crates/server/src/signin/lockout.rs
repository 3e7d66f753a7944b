//! Throttling of sign-in guesses that strangers cannot turn into a lockout of the account.
//!
//! A per-account lock lets anyone lock any account (a break-glass account included) with a few
//! wrong passwords. Instead, failures are counted three ways (numbers in the constants below;
//! the rule as operators read it is in `docs/oidc.md`, "Lockout"):
//!
//! 1. **Per address**: too many failures from one address lock that address, for every account
//!    — except a known device of the account being signed in to.
//! 2. **Per account and client**: the client is the *known device* when the browser presents one
//!    of the account, else the address. Too many failures lock that client for that account
//!    only, so a stranger's guesses lock the stranger out, not the owner's devices.
//! 3. **Per account**: every failure on the account, wherever from. It never locks the account:
//!    past its threshold, only clients the account has *not* signed in from recently are
//!    refused (a known device of the account, or an address from which a sign-in of the account
//!    completed recently, still gets in).
//!
//! A known device is a browser holding a device cookie token stored for the account when a
//! sign-in of that account completed in it. A token is minted per account and browser, never
//! reused from what the browser sends, so a token planted in someone's browser stays the
//! planter's. A lock refuses an attempt before any credential is checked; the refusal counts
//! nowhere (it guessed nothing) but is in the sign-in log. Counters of a client are forgotten
//! when a sign-in from it completes, not after each method, so that knowing the password does
//! not reopen guessing of the second factor.

use crate::error::ServeError;
use crate::state::AppState;
use crate::web::{cookie, random_token, token_hash};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use std::net::IpAddr;
use store::{KnownDevice, Lockout, LockoutPolicy, LockoutScope, StoreError};

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

/// Name of the device cookie: the browser's known-device tokens, one per account, `.`-joined.
pub const DEVICE_COOKIE: &str = "portcullis_device";

/// Tokens a device cookie keeps (the oldest is dropped first); also how many are looked up, so
/// that a forged cookie cannot make a request look up more.
const DEVICE_TOKENS: usize = 5;

/// A known device's expiry is moved forward at most this often (one write a day, not one per
/// sign-in).
const TOUCH_EVERY: Duration = Duration::days(1);

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
    /// The attempt on `user_id` from `ip` by the browser sending `jar`: from a known device
    /// when one of the device cookie's tokens is stored, unexpired, for this account.
    pub async fn new(
        state: &AppState,
        user_id: &str,
        ip: Option<IpAddr>,
        jar: &CookieJar,
    ) -> Result<Attempt, StoreError> {
        let now = state.now();
        let mut device = None;
        for token in device_tokens(jar) {
            if let Some(d) = state
                .store
                .known_device(&token_hash(token), user_id, now)
                .await?
            {
                device = Some(d);
                break;
            }
        }
        Ok(Attempt {
            user_id: user_id.to_string(),
            ip,
            device,
        })
    }

    fn address(&self) -> String {
        self.ip
            .map_or_else(|| "an unknown address".to_string(), |ip| ip.to_string())
    }

    /// The per-account-and-client counter: the known device, else the address.
    fn client_counter(&self) -> (LockoutScope, String) {
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
    fn client_lock(&self, until: DateTime<Utc>) -> Lock {
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

/// What refuses an attempt, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lock {
    /// Every sign-in from an address.
    Address {
        /// The address.
        address: String,
        /// Locked until then (exclusive).
        until: DateTime<Utc>,
    },
    /// Sign-in to the account from an address that is not one of its known devices.
    AccountFromAddress {
        /// The address.
        address: String,
        /// Locked until then (exclusive).
        until: DateTime<Utc>,
    },
    /// Sign-in to the account from one of its known devices.
    AccountOnDevice {
        /// The known device's public id.
        device_id: String,
        /// Locked until then (exclusive).
        until: DateTime<Utc>,
    },
    /// Sign-in to the account from devices and addresses it has not signed in from recently.
    AccountFromUnrecognised {
        /// Throttled until then (exclusive).
        until: DateTime<Utc>,
    },
}

impl Lock {
    /// When it ends.
    pub fn until(&self) -> DateTime<Utc> {
        match self {
            Lock::Address { until, .. }
            | Lock::AccountFromAddress { until, .. }
            | Lock::AccountOnDevice { until, .. }
            | Lock::AccountFromUnrecognised { until } => *until,
        }
    }

    /// What the person signing in is told.
    pub fn message(&self) -> String {
        let until = rfc3339(self.until());
        match self {
            Lock::Address { .. } => format!(
                "Too many failed attempts from your network address. Sign-in is locked until \
                 {until}."
            ),
            Lock::AccountFromAddress { .. } => format!(
                "Too many failed attempts to sign in to this account from your network address. \
                 Sign-in is locked until {until}."
            ),
            Lock::AccountOnDevice { .. } => format!(
                "Too many failed attempts to sign in to this account on this device. Sign-in is \
                 locked until {until}."
            ),
            Lock::AccountFromUnrecognised { .. } => format!(
                "Too many failed attempts to sign in to this account from devices it has not \
                 used recently. Sign in from a device or network you have signed in from \
                 before, or wait: sign-in from elsewhere is locked until {until}."
            ),
        }
    }

    /// The sentence for the sign-in log: what is locked, until when (RFC 3339, UTC).
    pub fn describe(&self) -> String {
        let until = rfc3339(self.until());
        match self {
            Lock::Address { address, .. } => {
                format!("Locked out: sign-in from {address}, until {until}.")
            }
            Lock::AccountFromAddress { address, .. } => {
                format!("Locked out: sign-in to this account from {address}, until {until}.")
            }
            Lock::AccountOnDevice { device_id, .. } => format!(
                "Locked out: sign-in to this account from its known device {device_id}, until \
                 {until}."
            ),
            Lock::AccountFromUnrecognised { .. } => format!(
                "Throttled: sign-in to this account from devices and addresses it has not \
                 signed in from in the last {} days, until {until}.",
                RECOGNITION.num_days()
            ),
        }
    }
}

/// The counters read for an attempt.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// The address's.
    pub address: Option<Lockout>,
    /// The account's from this client.
    pub client: Option<Lockout>,
    /// The account's.
    pub account: Option<Lockout>,
}

/// The lock that refuses `attempt` at `now`, if any: the account-and-client lock always; the
/// address lock unless the attempt comes from a known device of the account; the account
/// throttle unless the attempt is `recognised` (a known device, or an address the account
/// signed in from recently). When several hold, the one that lasts longest is named.
pub fn refusal(
    attempt: &Attempt,
    counters: &Counters,
    recognised: bool,
    now: DateTime<Utc>,
) -> Option<Lock> {
    let active = |c: &Option<Lockout>| {
        c.as_ref()
            .filter(|c| c.is_locked_at(now))
            .and_then(|c| c.locked_until)
    };
    let mut locks = Vec::new();
    if let Some(until) = active(&counters.client) {
        locks.push(attempt.client_lock(until));
    }
    if attempt.device.is_none() {
        if let Some(until) = active(&counters.address) {
            locks.push(Lock::Address {
                address: attempt.address(),
                until,
            });
        }
    }
    if !recognised && attempt.device.is_none() {
        if let Some(until) = active(&counters.account) {
            locks.push(Lock::AccountFromUnrecognised { until });
        }
    }
    locks.into_iter().max_by_key(Lock::until)
}

/// The lock that refuses `attempt` now, if any (see [`refusal`]). The sign-in log is read only
/// when the account throttle is on and the attempt has no known device.
pub async fn check(state: &AppState, attempt: &Attempt) -> Result<Option<Lock>, StoreError> {
    let now = state.now();
    let (scope, key) = attempt.client_counter();
    let counters = Counters {
        client: state.store.get_lockout(scope, &key).await?,
        address: match (&attempt.device, attempt.ip) {
            (None, Some(ip)) => {
                state
                    .store
                    .get_lockout(LockoutScope::Source, &ip.to_string())
                    .await?
            }
            _ => None,
        },
        account: state
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
            state
                .store
                .signed_in_from(&attempt.user_id, &ip.to_string(), now - RECOGNITION)
                .await?
        }
        (None, _) => false,
    };
    Ok(refusal(attempt, &counters, recognised, now))
}

/// Counts a failure of `attempt` on its three counters; returns the locks it started (each is
/// written to the audit log once, when its counter reaches the threshold).
pub async fn count_failure(state: &AppState, attempt: &Attempt) -> Result<Vec<Lock>, StoreError> {
    let now = state.now();
    let mut started = Vec::new();
    let (scope, key) = attempt.client_counter();
    let client = state
        .store
        .record_failure(scope, &key, now, &CLIENT_LOCKOUT)
        .await?;
    if let Some(until) = starts(&client, &CLIENT_LOCKOUT, now) {
        started.push(attempt.client_lock(until));
    }
    let account = state
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
        let source = state
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
        audit(state, attempt, lock, now).await;
    }
    Ok(started)
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

/// After a sign-in of `user_id` completed from `ip` in the browser sending `jar`: forgets the
/// failures of this account from this client, and remembers the browser as a known device of
/// the account (a new token in the device cookie, or, for a device already known, a later
/// expiry). Returns the device cookie to set, if it changed.
pub async fn signed_in(
    state: &AppState,
    user_id: &str,
    ip: Option<IpAddr>,
    jar: &CookieJar,
) -> Result<Option<Cookie<'static>>, ServeError> {
    let now = state.now();
    let attempt = Attempt::new(state, user_id, ip, jar).await?;
    // The address's counter for this account goes too: a sign-in from there just completed. A
    // read is cheaper than a write that waits for the disk: reset only a counter that exists.
    let mut counters = vec![(
        LockoutScope::AccountSource,
        format!("{user_id}/{}", attempt.address()),
    )];
    if attempt.device.is_some() {
        counters.push(attempt.client_counter());
    }
    for (scope, key) in counters {
        if state.store.get_lockout(scope, &key).await?.is_some() {
            state.store.reset_lockout(scope, &key).await?;
        }
    }
    let max_age = RECOGNITION.num_seconds();
    let tokens = device_tokens(jar);
    let value = match attempt.device {
        Some(device) if device.last_signed_in_at + TOUCH_EVERY > now => return Ok(None),
        Some(device) => {
            state
                .store
                .remember_device(&KnownDevice {
                    last_signed_in_at: now,
                    expires_at: now + RECOGNITION,
                    ..device
                })
                .await?;
            tokens.join(".")
        }
        None => {
            let token = random_token()?;
            state
                .store
                .remember_device(&KnownDevice {
                    id: store::new_id(),
                    token_hash: token_hash(&token),
                    user_id: user_id.to_string(),
                    created_at: now,
                    last_signed_in_at: now,
                    expires_at: now + RECOGNITION,
                })
                .await?;
            let keep = tokens.len().min(DEVICE_TOKENS - 1);
            let mut kept: Vec<&str> = tokens[tokens.len() - keep..].to_vec();
            kept.push(&token);
            kept.join(".")
        }
    };
    Ok(Some(cookie(
        DEVICE_COOKIE,
        value,
        state.secure_cookies,
        max_age,
    )))
}

/// The tokens of the device cookie: the last [`DEVICE_TOKENS`], each of the shape
/// [`random_token`] makes (anything else is not ours and is dropped).
fn device_tokens(jar: &CookieJar) -> Vec<&str> {
    let Some(cookie) = jar.get(DEVICE_COOKIE) else {
        return Vec::new();
    };
    let tokens: Vec<&str> = cookie
        .value()
        .split('.')
        .filter(|t| {
            t.len() == 43
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .collect();
    let skip = tokens.len().saturating_sub(DEVICE_TOKENS);
    tokens[skip..].to_vec()
}

/// Writes the start of a lock to the audit log. The lock itself is already stored; a failure
/// to audit it is logged, not shown to the person signing in.
async fn audit(state: &AppState, attempt: &Attempt, lock: &Lock, now: DateTime<Utc>) {
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
    if let Err(e) = state.store.append_audit(&entry).await {
        tracing::error!(error = %e, "audit entry for a sign-in lock not written");
    }
}

/// A time as the logs show it: RFC 3339, UTC, to the second.
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_750_000_000, 0)
            .single()
            .unwrap_or_default()
            + Duration::minutes(minutes)
    }

    fn locked(scope: LockoutScope, until: i64) -> Option<Lockout> {
        Some(Lockout {
            scope,
            key: "k".into(),
            failures: 5,
            window_started_at: t(0),
            locked_until: Some(t(until)),
        })
    }

    fn attempt(device: bool) -> Attempt {
        Attempt {
            user_id: "u".into(),
            ip: Some(IpAddr::from([192, 0, 2, 7])),
            device: device.then(|| KnownDevice {
                id: "d".into(),
                token_hash: "h".into(),
                user_id: "u".into(),
                created_at: t(0),
                last_signed_in_at: t(0),
                expires_at: t(100),
            }),
        }
    }

    #[test]
    fn the_account_throttle_refuses_only_unrecognised_clients() {
        let counters = Counters {
            account: locked(LockoutScope::Account, 60),
            ..Counters::default()
        };
        assert_eq!(
            refusal(&attempt(false), &counters, false, t(1)),
            Some(Lock::AccountFromUnrecognised { until: t(60) })
        );
        // An address the account signed in from, or a known device: let through.
        assert_eq!(refusal(&attempt(false), &counters, true, t(1)), None);
        assert_eq!(refusal(&attempt(true), &counters, true, t(1)), None);
        // Over when its time is.
        assert_eq!(refusal(&attempt(false), &counters, false, t(60)), None);
    }

    #[test]
    fn a_known_device_is_not_refused_for_its_address() {
        let counters = Counters {
            address: locked(LockoutScope::Source, 15),
            ..Counters::default()
        };
        assert_eq!(refusal(&attempt(true), &counters, true, t(1)), None);
        assert!(matches!(
            refusal(&attempt(false), &counters, true, t(1)),
            Some(Lock::Address { .. })
        ));
    }

    #[test]
    fn the_client_lock_holds_for_everyone_and_the_longest_lock_is_named() {
        let counters = Counters {
            client: locked(LockoutScope::AccountDevice, 15),
            ..Counters::default()
        };
        assert!(matches!(
            refusal(&attempt(true), &counters, true, t(1)),
            Some(Lock::AccountOnDevice { .. })
        ));
        let counters = Counters {
            client: locked(LockoutScope::AccountSource, 15),
            address: locked(LockoutScope::Source, 30),
            account: locked(LockoutScope::Account, 20),
        };
        assert_eq!(
            refusal(&attempt(false), &counters, false, t(1)).map(|l| l.until()),
            Some(t(30))
        );
    }

    #[test]
    fn descriptions_are_sentences_with_rfc3339_times() {
        let lock = Lock::AccountFromAddress {
            address: "192.0.2.7".into(),
            until: t(15),
        };
        let text = lock.describe();
        assert_eq!(
            text,
            "Locked out: sign-in to this account from 192.0.2.7, until 2025-06-15T15:21:40Z."
        );
        assert!(lock.message().contains("2025-06-15T15:21:40Z"));
    }
}
