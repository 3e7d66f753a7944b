//! Limits on failed attempts, per account and per source, as pure state transitions.
//!
//! The caller keeps one [`FailureState`] per key (an account id with [`LockoutPolicy::account`],
//! a client address or prefix with [`LockoutPolicy::source`]), calls [`check`] before verifying
//! a credential, and [`record_failure`] or [`record_success`] after, storing the state returned.
//! When [`record_failure`] starts a lockout it returns a [`LockoutStarted`] for the caller to put
//! in the audit log.
//!
//! Semantics: a lockout starts when `max_failures` failures fall within any `window`-long span
//! (a sliding window: the state keeps at most `max_failures` timestamps). It lasts `lockout`,
//! doubled for each further lockout, up to `max_lockout`; the doubling is forgotten after
//! `escalation_reset` without a lockout, or at a success when the policy resets on success.
//! Every lockout ends by itself; nothing here is permanent. Failures while locked are not counted
//! (the caller should not even have verified), so an attacker cannot extend a running lockout.
//!
//! Account lockout is also a way for an attacker to keep a victim out; the per-source limit,
//! short first lockouts and self-expiry keep that cost bounded.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How many failures lock, over what span, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures within `window` that start a lockout (at least 1).
    pub max_failures: u32,
    /// The span failures are counted over.
    pub window: Duration,
    /// Length of a first lockout.
    pub lockout: Duration,
    /// Cap on the doubled length of repeated lockouts.
    pub max_lockout: Duration,
    /// Time after the end of a lockout after which the next one is a first one again.
    pub escalation_reset: Duration,
    /// Whether a success clears the failures. True for accounts; false for sources, where one
    /// valid account of the attacker's would otherwise reset the count for all the others.
    pub reset_on_success: bool,
}

impl LockoutPolicy {
    /// Per account: 5 failures in 15 minutes lock for 15 minutes, doubling up to 24 hours.
    pub fn account() -> Self {
        LockoutPolicy {
            max_failures: 5,
            window: Duration::minutes(15),
            lockout: Duration::minutes(15),
            max_lockout: Duration::hours(24),
            escalation_reset: Duration::hours(24),
            reset_on_success: true,
        }
    }

    /// Per source: 20 failures in 15 minutes lock for 15 minutes, doubling up to 24 hours;
    /// successes do not reset.
    pub fn source() -> Self {
        LockoutPolicy {
            max_failures: 20,
            reset_on_success: false,
            ..Self::account()
        }
    }

    /// Checks that the policy makes sense: `max_failures ≥ 1`, positive `window` and `lockout`,
    /// `lockout ≤ max_lockout`, non-negative `escalation_reset`. The functions here do not
    /// panic on a policy that fails this, but it would not limit much.
    pub fn validate(&self) -> Result<(), InvalidLockoutPolicy> {
        let why = if self.max_failures == 0 {
            "max_failures must be at least 1"
        } else if self.window <= Duration::zero() {
            "window must be positive"
        } else if self.lockout <= Duration::zero() {
            "lockout must be positive"
        } else if self.max_lockout < self.lockout {
            "max_lockout must be at least lockout"
        } else if self.escalation_reset < Duration::zero() {
            "escalation_reset must not be negative"
        } else {
            return Ok(());
        };
        Err(InvalidLockoutPolicy(why))
    }

    /// The length of lockout number `previous + 1`: `lockout · 2^previous`, capped at
    /// `max_lockout` (and never negative).
    fn lockout_length(&self, previous: u32) -> Duration {
        let cap = self.max_lockout.max(Duration::zero());
        let mut d = self.lockout.max(Duration::zero()).min(cap);
        for _ in 0..previous {
            if d >= cap || d.is_zero() {
                break;
            }
            d = d.checked_add(&d).unwrap_or(cap).min(cap);
        }
        d
    }
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self::account()
    }
}

/// A policy that [`LockoutPolicy::validate`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid lockout policy: {0}")]
pub struct InvalidLockoutPolicy(pub &'static str);

/// What is stored per key. An absent state is the same as a fresh one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureState {
    /// Failures since the last lockout or reset, within the window (at most `max_failures`).
    pub recent_failures: Vec<DateTime<Utc>>,
    /// End of the latest lockout, running or past (kept to escalate the next one).
    pub locked_until: Option<DateTime<Utc>>,
    /// Lockouts in the current escalation run.
    pub lockouts: u32,
}

impl FailureState {
    /// When the state stops having any effect, so that the store may delete it: the window of
    /// its latest failure and the escalation memory of its latest lockout have both passed.
    pub fn expires_at(&self, policy: &LockoutPolicy) -> DateTime<Utc> {
        let failures_end = self
            .recent_failures
            .iter()
            .max()
            .map(|t| add(*t, policy.window));
        let lockout_end = self
            .locked_until
            .map(|t| add(t, policy.escalation_reset.max(Duration::zero())));
        failures_end
            .into_iter()
            .chain(lockout_end)
            .max()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// A lockout that just started: the data for the audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockoutStarted {
    /// When it started (the failure that tripped it).
    pub started_at: DateTime<Utc>,
    /// When it ends by itself.
    pub until: DateTime<Utc>,
    /// Its length.
    #[serde(with = "seconds")]
    pub duration: Duration,
    /// Failures within the window that tripped it.
    pub failures: u32,
    /// 1 for a first lockout, 2 for the next in the same escalation run, and so on.
    pub lockout_number: u32,
}

/// The key is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many failed attempts; try again after {until}")]
pub struct Locked {
    /// When the lockout ends.
    pub until: DateTime<Utc>,
}

impl Locked {
    /// Time left at `now`, for a `Retry-After` header (zero once over).
    pub fn retry_after(&self, now: DateTime<Utc>) -> Duration {
        (self.until - now).max(Duration::zero())
    }
}

/// `t + d`, saturating at the ends of chrono's range instead of panicking.
fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(if d < Duration::zero() {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// Whether the key may attempt at `now`.
pub fn check(state: Option<&FailureState>, now: DateTime<Utc>) -> Result<(), Locked> {
    match state.and_then(|s| s.locked_until) {
        Some(until) if now < until => Err(Locked { until }),
        _ => Ok(()),
    }
}

/// Records a failed attempt at `now`. Returns the state to store and, if this failure started a
/// lockout, its details. A failure during a running lockout changes nothing.
pub fn record_failure(
    state: Option<FailureState>,
    now: DateTime<Utc>,
    policy: &LockoutPolicy,
) -> (FailureState, Option<LockoutStarted>) {
    let mut s = state.unwrap_or_default();
    if check(Some(&s), now).is_err() {
        return (s, None);
    }
    let cutoff = add(now, -policy.window.max(Duration::zero()));
    s.recent_failures.retain(|t| *t > cutoff);
    s.recent_failures.push(now);
    let max = usize::try_from(policy.max_failures.max(1)).unwrap_or(usize::MAX);
    if s.recent_failures.len() < max {
        return (s, None);
    }

    let quiet_since_last = s
        .locked_until
        .is_none_or(|until| now >= add(until, policy.escalation_reset));
    if quiet_since_last {
        s.lockouts = 0;
    }
    let duration = policy.lockout_length(s.lockouts);
    let until = add(now, duration);
    let failures = u32::try_from(s.recent_failures.len()).unwrap_or(u32::MAX);
    s.recent_failures.clear();
    s.locked_until = Some(until);
    s.lockouts = s.lockouts.saturating_add(1);
    let started = LockoutStarted {
        started_at: now,
        until,
        duration,
        failures,
        lockout_number: s.lockouts,
    };
    (s, Some(started))
}

/// Records a successful attempt at `now`. With a policy that resets on success, the failures
/// and the escalation are forgotten (the returned `None` means: delete the state), except that
/// a running lockout is kept. Otherwise the state is returned unchanged.
pub fn record_success(
    state: Option<FailureState>,
    now: DateTime<Utc>,
    policy: &LockoutPolicy,
) -> Option<FailureState> {
    if !policy.reset_on_success {
        return state;
    }
    let s = state?;
    match s.locked_until {
        Some(until) if now < until => Some(FailureState {
            recent_failures: Vec::new(),
            locked_until: Some(until),
            lockouts: s.lockouts,
        }),
        _ => None,
    }
}

/// Serde for a `Duration` as whole seconds.
mod seconds {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = i64::deserialize(d)?;
        Duration::try_seconds(secs).ok_or_else(|| serde::de::Error::custom("duration out of range"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 8, 0, 0).single().unwrap()
    }

    fn mins(m: i64) -> Duration {
        Duration::minutes(m)
    }

    /// Records failures at the given minute offsets; returns the state and every lockout.
    fn fail_at(
        policy: &LockoutPolicy,
        state: Option<FailureState>,
        minutes: &[i64],
    ) -> (Option<FailureState>, Vec<LockoutStarted>) {
        let mut state = state;
        let mut started = Vec::new();
        for m in minutes {
            let (s, l) = record_failure(state, t0() + mins(*m), policy);
            state = Some(s);
            started.extend(l);
        }
        (state, started)
    }

    #[test]
    fn five_failures_in_fifteen_minutes_lock_for_fifteen() {
        let p = LockoutPolicy::account();
        let (state, started) = fail_at(&p, None, &[0, 1, 2, 3]);
        assert!(started.is_empty());
        assert!(check(state.as_ref(), t0() + mins(3)).is_ok());
        let (state, started) = fail_at(&p, state, &[4]);
        assert_eq!(
            started,
            vec![LockoutStarted {
                started_at: t0() + mins(4),
                until: t0() + mins(19),
                duration: mins(15),
                failures: 5,
                lockout_number: 1,
            }]
        );
        let locked = check(state.as_ref(), t0() + mins(18)).unwrap_err();
        assert_eq!(locked.until, t0() + mins(19));
        assert_eq!(locked.retry_after(t0() + mins(18)), mins(1));
        assert!(check(state.as_ref(), t0() + mins(19)).is_ok());
    }

    #[test]
    fn failures_spread_wider_than_the_window_do_not_lock() {
        let p = LockoutPolicy::account();
        // Five failures, but never five within 15 minutes.
        let (state, started) = fail_at(&p, None, &[0, 4, 8, 12, 15, 19, 23, 27, 30]);
        assert!(started.is_empty());
        assert!(check(state.as_ref(), t0() + mins(30)).is_ok());
        // A failure exactly `window` ago no longer counts.
        assert_eq!(state.unwrap().recent_failures.len(), 4);
    }

    #[test]
    fn failures_during_a_lockout_do_not_extend_it() {
        let p = LockoutPolicy::account();
        let (state, _) = fail_at(&p, None, &[0, 0, 0, 0, 0]);
        let before = state.clone().unwrap();
        let (after, started) = fail_at(&p, state, &[1, 2, 3, 14]);
        assert!(started.is_empty());
        assert_eq!(after.unwrap(), before);
    }

    #[test]
    fn repeated_lockouts_double_up_to_24_hours() {
        let p = LockoutPolicy::account();
        let mut state = None;
        let mut now = 0;
        let mut lengths = Vec::new();
        for _ in 0..10 {
            let (s, started) = fail_at(&p, state, &[now, now, now, now, now]);
            let l = started.into_iter().next().unwrap();
            lengths.push(l.duration.num_minutes());
            now = (l.until - t0()).num_minutes();
            state = s;
        }
        assert_eq!(
            lengths,
            vec![15, 30, 60, 120, 240, 480, 960, 1440, 1440, 1440]
        );
    }

    #[test]
    fn escalation_is_forgotten_after_a_quiet_day() {
        let p = LockoutPolicy::account();
        let (state, first) = fail_at(&p, None, &[0, 0, 0, 0, 0]);
        let (state, second) = fail_at(&p, state, &[15, 15, 15, 15, 15]);
        assert_eq!(first[0].lockout_number, 1);
        assert_eq!(second[0].lockout_number, 2);
        assert_eq!(second[0].duration, mins(30));
        // Second lockout ends at 45; a day later the next is a first one again.
        let day_later = 45 + 24 * 60;
        let (_, third) = fail_at(&p, state, &[day_later; 5]);
        assert_eq!(third[0].lockout_number, 1);
        assert_eq!(third[0].duration, mins(15));
    }

    #[test]
    fn success_resets_an_account_but_not_a_source() {
        let account = LockoutPolicy::account();
        let (state, _) = fail_at(&account, None, &[0, 1, 2, 3]);
        let state = record_success(state, t0() + mins(4), &account);
        assert_eq!(state, None);
        let (_, started) = fail_at(&account, state, &[5, 6, 7, 8]);
        assert!(started.is_empty());

        let source = LockoutPolicy::source();
        let minutes: Vec<i64> = (0..19).map(|i| i / 2).collect();
        let (state, started) = fail_at(&source, None, &minutes);
        assert!(started.is_empty());
        let state = record_success(state, t0() + mins(10), &source);
        assert_eq!(state.as_ref().unwrap().recent_failures.len(), 19);
        let (_, started) = fail_at(&source, state, &[14]);
        assert_eq!(started.len(), 1);
        assert_eq!(started[0].failures, 20);
    }

    #[test]
    fn success_does_not_lift_a_running_lockout() {
        let p = LockoutPolicy::account();
        let (state, _) = fail_at(&p, None, &[0, 0, 0, 0, 0]);
        let state = record_success(state, t0() + mins(1), &p);
        assert!(check(state.as_ref(), t0() + mins(1)).is_err());
        assert!(check(state.as_ref(), t0() + mins(15)).is_ok());
    }

    #[test]
    fn expiry_of_the_record() {
        let p = LockoutPolicy::account();
        let (state, _) = fail_at(&p, None, &[0, 3]);
        assert_eq!(state.unwrap().expires_at(&p), t0() + mins(18));
        let (state, _) = fail_at(&p, None, &[0, 0, 0, 0, 0]);
        assert_eq!(
            state.unwrap().expires_at(&p),
            t0() + mins(15) + Duration::hours(24)
        );
    }

    #[test]
    fn policies_validate_and_odd_ones_do_not_panic() {
        assert!(LockoutPolicy::account().validate().is_ok());
        assert!(LockoutPolicy::source().validate().is_ok());
        let odd = LockoutPolicy {
            max_failures: 0,
            window: Duration::zero(),
            lockout: Duration::seconds(-5),
            max_lockout: Duration::seconds(-10),
            escalation_reset: Duration::seconds(-1),
            reset_on_success: true,
        };
        assert!(odd.validate().is_err());
        let (s, l) = record_failure(None, DateTime::<Utc>::MAX_UTC, &odd);
        assert!(l.is_some());
        assert!(check(Some(&s), DateTime::<Utc>::MAX_UTC).is_ok());
        let huge = LockoutPolicy {
            lockout: Duration::MAX,
            max_lockout: Duration::MAX,
            ..LockoutPolicy::account()
        };
        let (s, _) = fail_at(&huge, None, &[0; 5]);
        assert_eq!(s.unwrap().locked_until, Some(DateTime::<Utc>::MAX_UTC));
    }

    #[test]
    fn lockout_started_serializes_for_the_audit_log() {
        let p = LockoutPolicy::account();
        let (_, started) = fail_at(&p, None, &[0; 5]);
        let json = serde_json::to_value(&started[0]).unwrap();
        assert_eq!(json["duration"], 900);
        assert_eq!(json["lockoutNumber"], 1);
        let back: LockoutStarted = serde_json::from_value(json).unwrap();
        assert_eq!(back, started[0]);
    }

    /// One thing that happens to a key.
    #[derive(Debug, Clone, Copy)]
    enum Event {
        /// A failed attempt by a caller that checks first.
        Failure,
        /// A failed attempt recorded without checking (a race, or a careless caller).
        UncheckedFailure,
        /// A successful attempt by a caller that checks first.
        Success,
    }

    fn policy_strategy() -> impl Strategy<Value = LockoutPolicy> {
        (
            1u32..=8,
            1i64..=600,
            1i64..=300,
            1i32..=64,
            0i64..=3000,
            any::<bool>(),
        )
            .prop_map(
                |(max, window, lockout, cap_factor, reset, reset_on_success)| LockoutPolicy {
                    max_failures: max,
                    window: Duration::seconds(window),
                    lockout: Duration::seconds(lockout),
                    max_lockout: Duration::seconds(lockout * i64::from(cap_factor)),
                    escalation_reset: Duration::seconds(reset),
                    reset_on_success,
                },
            )
    }

    fn events_strategy() -> impl Strategy<Value = Vec<(i64, Event)>> {
        prop::collection::vec(
            (
                0i64..=400,
                prop_oneof![
                    6 => Just(Event::Failure),
                    1 => Just(Event::UncheckedFailure),
                    1 => Just(Event::Success),
                ],
            ),
            0..80,
        )
    }

    proptest! {
        /// Every lockout is positive, at most `max_lockout`, over exactly at `until`, and no key
        /// is locked `max_lockout` after its last event.
        #[test]
        fn lockout_always_ends(policy in policy_strategy(), events in events_strategy()) {
            let mut state: Option<FailureState> = None;
            let mut now = t0();
            for (gap, event) in events {
                now += Duration::seconds(gap);
                match event {
                    Event::Failure | Event::UncheckedFailure => {
                        if matches!(event, Event::Failure) && check(state.as_ref(), now).is_err() {
                            continue;
                        }
                        let (s, started) = record_failure(state, now, &policy);
                        if let Some(l) = started {
                            prop_assert!(l.duration > Duration::zero());
                            prop_assert!(l.duration <= policy.max_lockout);
                            prop_assert_eq!(l.until, l.started_at + l.duration);
                            prop_assert!(check(Some(&s), l.until - Duration::seconds(1)).is_err());
                            prop_assert!(check(Some(&s), l.until).is_ok());
                        }
                        state = Some(s);
                    }
                    Event::Success => {
                        if check(state.as_ref(), now).is_ok() {
                            state = record_success(state, now, &policy);
                        }
                    }
                }
            }
            prop_assert!(check(state.as_ref(), now + policy.max_lockout).is_ok());
            if let Some(s) = &state {
                prop_assert!(s.recent_failures.len() < policy.max_failures as usize);
            }
        }

        /// A lockout starts exactly when the `max_failures`-th counted failure within a
        /// `window` arrives, compared with a naive model that keeps every failure; escalation
        /// doubles within a run and never exceeds the cap.
        #[test]
        fn lockout_iff_max_failures_within_window(
            policy in policy_strategy(),
            events in events_strategy(),
        ) {
            let mut state: Option<FailureState> = None;
            // Every failure counted since the last lockout or reset.
            let mut counted: Vec<DateTime<Utc>> = Vec::new();
            let mut previous: Option<LockoutStarted> = None;
            let mut now = t0();
            for (gap, event) in events {
                now += Duration::seconds(gap);
                let locked = check(state.as_ref(), now).is_err();
                match event {
                    Event::Failure | Event::UncheckedFailure => {
                        if locked && matches!(event, Event::Failure) {
                            continue;
                        }
                        let before = state.clone();
                        let (s, started) = record_failure(state, now, &policy);
                        if locked {
                            prop_assert!(started.is_none());
                            prop_assert_eq!(Some(&s), before.as_ref());
                            state = Some(s);
                            continue;
                        }
                        counted.push(now);
                        let in_window = counted
                            .iter()
                            .filter(|t| **t > now - policy.window)
                            .count();
                        let model_locks = in_window >= policy.max_failures as usize;
                        prop_assert_eq!(started.is_some(), model_locks);
                        if let Some(l) = &started {
                            prop_assert!(l.failures >= policy.max_failures);
                            if let Some(p) = &previous {
                                if now < p.until + policy.escalation_reset {
                                    prop_assert_eq!(l.lockout_number, p.lockout_number + 1);
                                    prop_assert_eq!(
                                        l.duration,
                                        (p.duration * 2).min(policy.max_lockout)
                                    );
                                } else {
                                    prop_assert_eq!(l.lockout_number, 1);
                                    prop_assert_eq!(l.duration, policy.lockout);
                                }
                            } else {
                                prop_assert_eq!(l.duration, policy.lockout);
                            }
                            counted.clear();
                            previous = Some(l.clone());
                        }
                        state = Some(s);
                    }
                    Event::Success => {
                        if locked {
                            continue;
                        }
                        state = record_success(state, now, &policy);
                        if policy.reset_on_success {
                            prop_assert!(state.is_none());
                            counted.clear();
                            previous = None;
                        }
                    }
                }
            }
        }

        /// Deleting a state once it has expired changes nothing that follows.
        #[test]
        fn expired_state_is_as_good_as_none(
            policy in policy_strategy(),
            events in events_strategy(),
            after in prop::collection::vec(0i64..=400, 1..30),
        ) {
            let mut state: Option<FailureState> = None;
            let mut now = t0();
            for (gap, _) in events {
                now += Duration::seconds(gap);
                if check(state.as_ref(), now).is_ok() {
                    state = Some(record_failure(state, now, &policy).0);
                }
            }
            let Some(kept) = state else { return Ok(()) };
            let mut now = kept.expires_at(&policy).max(now);
            let mut a = Some(kept);
            let mut b: Option<FailureState> = None;
            for gap in after {
                now += Duration::seconds(gap);
                prop_assert_eq!(check(a.as_ref(), now).is_ok(), check(b.as_ref(), now).is_ok());
                if check(a.as_ref(), now).is_err() {
                    continue;
                }
                let (sa, la) = record_failure(a, now, &policy);
                let (sb, lb) = record_failure(b, now, &policy);
                prop_assert_eq!(la, lb);
                a = Some(sa);
                b = Some(sb);
            }
        }
    }
}
