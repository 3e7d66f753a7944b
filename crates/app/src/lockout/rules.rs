//! The rule itself, over counters already read: which lock refuses an attempt, and how a lock
//! is told to the person and the log. Pure: no store, no clock.

use super::*;

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
