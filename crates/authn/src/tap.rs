//! Temporary access passes: a time-limited pass an administrator issues so someone can sign in
//! and register their own methods (first day, lost device).
//!
//! A verified pass proves `temporaryAccessPassOneTime` or `temporaryAccessPassMultiUse`
//! ([`TapState::mode`]). Passes are [`TapPolicy::length`] characters (16 by default) drawn
//! uniformly from a 32-symbol alphabet without look-alikes ([`ALPHABET`]: no `0 O 1 I`, no lower
//! case), so a default pass holds 80 bits and reads out well over the phone. Input is matched
//! case-insensitively, ignoring spaces and hyphens.
//!
//! Only SHA-256 of the pass is stored. A fast, unsalted hash is enough here, unlike passwords:
//! the pass is machine-generated with at least 80 bits of entropy (enforced by
//! [`TapPolicy::validate`]), so even offline guessing against a leaked hash is out of reach and
//! there is no dictionary to precompute; slow hashing protects low-entropy human secrets only.

use crate::otp::to_hex;
use chrono::{DateTime, Duration, Utc};
use policy::method::AuthenticationMethodMode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The symbols of a pass: digits 2–9 and upper-case letters without `I` and `O`.
pub const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Bits of entropy per symbol.
const BITS_PER_SYMBOL: usize = 5;

/// Fewest bits of entropy a pass may have.
pub const MIN_ENTROPY_BITS: usize = 80;

/// Longest pass a policy may ask for.
pub const MAX_LENGTH: usize = 64;

/// Lifetime bounds and length of passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapPolicy {
    /// Shortest lifetime an issuer may ask for.
    pub min_lifetime: Duration,
    /// Longest lifetime an issuer may ask for.
    pub max_lifetime: Duration,
    /// Lifetime when the issuer does not say.
    pub default_lifetime: Duration,
    /// Characters in a pass.
    pub length: usize,
}

impl Default for TapPolicy {
    /// 10 minutes to 8 hours, 1 hour by default, 16 characters (80 bits).
    fn default() -> Self {
        TapPolicy {
            min_lifetime: Duration::minutes(10),
            max_lifetime: Duration::hours(8),
            default_lifetime: Duration::hours(1),
            length: 16,
        }
    }
}

impl TapPolicy {
    /// Checks that `0 < min ≤ default ≤ max` and that the length gives at least
    /// [`MIN_ENTROPY_BITS`] bits, at most [`MAX_LENGTH`] characters.
    pub fn validate(&self) -> Result<(), TapError> {
        let invalid = |why: &str| Err(TapError::InvalidPolicy(why.to_string()));
        if self.min_lifetime <= Duration::zero() {
            return invalid("min_lifetime must be positive");
        }
        if !(self.min_lifetime <= self.default_lifetime
            && self.default_lifetime <= self.max_lifetime)
        {
            return invalid("lifetimes must satisfy min <= default <= max");
        }
        if self.length.saturating_mul(BITS_PER_SYMBOL) < MIN_ENTROPY_BITS {
            return invalid("length gives fewer than 80 bits of entropy");
        }
        if self.length > MAX_LENGTH {
            return invalid("length must be at most 64");
        }
        Ok(())
    }
}

/// A pass just issued: `pass` is shown once to the issuer, the rest is stored.
#[derive(Debug, Clone)]
pub struct IssuedTap {
    /// The pass.
    pub pass: SecretString,
    /// SHA-256 of the pass, hex.
    pub pass_hash: String,
    /// The pass works from this instant…
    pub starts_at: DateTime<Utc>,
    /// …until just before this one.
    pub expires_at: DateTime<Utc>,
    /// Spent by its first successful use.
    pub usable_once: bool,
}

impl IssuedTap {
    /// The state to store.
    pub fn state(&self) -> TapState {
        TapState {
            pass_hash: self.pass_hash.clone(),
            starts_at: self.starts_at,
            expires_at: self.expires_at,
            usable_once: self.usable_once,
            used_at: None,
        }
    }

    /// The method mode the pass proves.
    pub fn mode(&self) -> AuthenticationMethodMode {
        mode_for(self.usable_once)
    }
}

/// What is stored about a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TapState {
    /// SHA-256 of the (normalized) pass, hex.
    pub pass_hash: String,
    /// The pass works from this instant…
    pub starts_at: DateTime<Utc>,
    /// …until just before this one.
    pub expires_at: DateTime<Utc>,
    /// Spent by its first successful use.
    pub usable_once: bool,
    /// When a one-time pass was used; `None` while unused (and always for multi-use passes).
    pub used_at: Option<DateTime<Utc>>,
}

impl TapState {
    /// The method mode the pass proves.
    pub fn mode(&self) -> AuthenticationMethodMode {
        mode_for(self.usable_once)
    }
}

fn mode_for(usable_once: bool) -> AuthenticationMethodMode {
    if usable_once {
        AuthenticationMethodMode::TemporaryAccessPassOneTime
    } else {
        AuthenticationMethodMode::TemporaryAccessPassMultiUse
    }
}

/// A successful use: the state to store and the mode proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapUse {
    /// The state to store (`used_at` set for a one-time pass).
    pub state: TapState,
    /// `temporaryAccessPassOneTime` or `temporaryAccessPassMultiUse`.
    pub mode: AuthenticationMethodMode,
}

/// Why a pass could not be issued or was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TapError {
    /// The policy is inconsistent (see [`TapPolicy::validate`]).
    #[error("invalid temporary access pass policy: {0}")]
    InvalidPolicy(String),
    /// The requested lifetime is outside the policy's bounds.
    #[error(
        "lifetime must be between {} and {} minutes; {} minutes were requested",
        min.num_minutes(), max.num_minutes(), requested.num_minutes()
    )]
    LifetimeOutOfBounds {
        /// What was asked for.
        requested: Duration,
        /// The policy's minimum.
        min: Duration,
        /// The policy's maximum.
        max: Duration,
    },
    /// Start or expiry is beyond the representable range of time.
    #[error("start time out of range")]
    StartOutOfRange,
    /// The operating system's random source failed.
    #[error("random source unavailable: {0}")]
    Random(String),
    /// The pass is right but its validity has not begun.
    #[error("the temporary access pass is not valid before {starts_at}")]
    NotYetValid {
        /// When it starts.
        starts_at: DateTime<Utc>,
    },
    /// The pass is right but its validity is over.
    #[error("the temporary access pass expired at {expired_at}")]
    Expired {
        /// When it expired.
        expired_at: DateTime<Utc>,
    },
    /// The pass is right but it was usable once and has been used.
    #[error("the temporary access pass has already been used")]
    AlreadyUsed {
        /// When it was used.
        used_at: DateTime<Utc>,
    },
    /// Wrong pass.
    #[error("the temporary access pass is not valid")]
    Mismatch,
}

/// Draws `length` symbols uniformly from [`ALPHABET`] (32 symbols: the low five bits of a
/// random byte, with no bias since 256 is a multiple of 32).
fn random_pass(length: usize) -> Result<String, TapError> {
    let mut bytes = vec![0u8; length];
    getrandom::fill(&mut bytes).map_err(|e| TapError::Random(e.to_string()))?;
    let pass = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 0x1f)]))
        .collect();
    // Do not leave the raw randomness lying around.
    bytes.iter_mut().for_each(|b| *b = 0);
    Ok(pass)
}

/// Upper-cases and drops spaces and hyphens, so "abcd-efgh" matches "ABCDEFGH".
fn normalize(candidate: &str) -> String {
    candidate
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn hash_pass(normalized: &str) -> String {
    to_hex(&Sha256::digest(normalized.as_bytes()))
}

/// Issues a pass valid from `start` (or `now`; a start in the past counts from `now`) for
/// `lifetime` (or the policy's default), which must lie within the policy's bounds.
pub fn issue_tap(
    policy: &TapPolicy,
    now: DateTime<Utc>,
    start: Option<DateTime<Utc>>,
    lifetime: Option<Duration>,
    usable_once: bool,
) -> Result<IssuedTap, TapError> {
    policy.validate()?;
    let lifetime = lifetime.unwrap_or(policy.default_lifetime);
    if lifetime < policy.min_lifetime || lifetime > policy.max_lifetime {
        return Err(TapError::LifetimeOutOfBounds {
            requested: lifetime,
            min: policy.min_lifetime,
            max: policy.max_lifetime,
        });
    }
    let starts_at = start.map_or(now, |s| s.max(now));
    let expires_at = starts_at
        .checked_add_signed(lifetime)
        .ok_or(TapError::StartOutOfRange)?;
    let pass = random_pass(policy.length)?;
    Ok(IssuedTap {
        pass_hash: hash_pass(&pass),
        pass: SecretString::from(pass),
        starts_at,
        expires_at,
        usable_once,
    })
}

/// Checks `candidate` against a stored pass at `now`.
///
/// The pass is compared first (constant-time on the hashes), so only someone who holds the
/// right pass learns whether it is early, expired or spent; anyone else gets
/// [`TapError::Mismatch`]. On success the returned state records the use of a one-time pass
/// and must be stored before the sign-in proceeds.
pub fn verify_tap(
    stored: &TapState,
    candidate: &SecretString,
    now: DateTime<Utc>,
) -> Result<TapUse, TapError> {
    let computed = hash_pass(&normalize(candidate.expose_secret()));
    let matches: bool = computed
        .as_bytes()
        .ct_eq(stored.pass_hash.as_bytes())
        .into();
    if !matches {
        return Err(TapError::Mismatch);
    }
    if stored.usable_once {
        if let Some(used_at) = stored.used_at {
            return Err(TapError::AlreadyUsed { used_at });
        }
    }
    if now < stored.starts_at {
        return Err(TapError::NotYetValid {
            starts_at: stored.starts_at,
        });
    }
    if now >= stored.expires_at {
        return Err(TapError::Expired {
            expired_at: stored.expires_at,
        });
    }
    let mut state = stored.clone();
    if state.usable_once {
        state.used_at = Some(now);
    }
    Ok(TapUse {
        mode: state.mode(),
        state,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).single().unwrap()
    }

    fn issue(once: bool) -> IssuedTap {
        issue_tap(&TapPolicy::default(), t0(), None, None, once).unwrap()
    }

    #[test]
    fn default_pass_has_80_bits_from_the_alphabet() {
        let tap = issue(true);
        let pass = tap.pass.expose_secret();
        assert_eq!(pass.len(), 16);
        assert!(pass.bytes().all(|b| ALPHABET.contains(&b)));
        for lookalike in ['0', 'O', '1', 'I', 'l', 'o'] {
            assert!(!ALPHABET.contains(&(lookalike as u8)));
        }
        assert_eq!(tap.pass_hash.len(), 64);
        assert_eq!(tap.starts_at, t0());
        assert_eq!(tap.expires_at, t0() + Duration::hours(1));
        assert!(!format!("{tap:?}").contains(pass));
        assert_ne!(issue(true).pass_hash, tap.pass_hash);
    }

    #[test]
    fn every_symbol_can_appear() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..100 {
            seen.extend(issue(false).pass.expose_secret().bytes());
        }
        assert_eq!(seen.len(), 32);
    }

    #[test]
    fn lifetimes_out_of_bounds_are_rejected() {
        let p = TapPolicy::default();
        for bad in [
            Duration::minutes(9),
            Duration::hours(8) + Duration::seconds(1),
            Duration::zero(),
            Duration::minutes(-30),
        ] {
            assert!(
                matches!(
                    issue_tap(&p, t0(), None, Some(bad), true),
                    Err(TapError::LifetimeOutOfBounds { .. })
                ),
                "{bad}"
            );
        }
        for ok in [Duration::minutes(10), Duration::hours(8)] {
            let tap = issue_tap(&p, t0(), None, Some(ok), true).unwrap();
            assert_eq!(tap.expires_at - tap.starts_at, ok);
        }
    }

    #[test]
    fn weak_or_inconsistent_policies_are_rejected() {
        let short = TapPolicy {
            length: 15,
            ..TapPolicy::default()
        };
        assert!(matches!(short.validate(), Err(TapError::InvalidPolicy(_))));
        let upside_down = TapPolicy {
            default_lifetime: Duration::hours(9),
            ..TapPolicy::default()
        };
        assert!(matches!(
            issue_tap(&upside_down, t0(), None, None, true),
            Err(TapError::InvalidPolicy(_))
        ));
    }

    #[test]
    fn start_in_the_past_counts_from_now_and_far_future_overflows_cleanly() {
        let tap = issue_tap(
            &TapPolicy::default(),
            t0(),
            Some(t0() - Duration::days(1)),
            None,
            true,
        )
        .unwrap();
        assert_eq!(tap.starts_at, t0());
        assert_eq!(
            issue_tap(
                &TapPolicy::default(),
                t0(),
                Some(DateTime::<Utc>::MAX_UTC),
                None,
                true
            )
            .unwrap_err(),
            TapError::StartOutOfRange
        );
    }

    #[test]
    fn one_time_pass_works_once() {
        let tap = issue(true);
        let used = verify_tap(&tap.state(), &tap.pass, t0()).unwrap();
        assert_eq!(
            used.mode,
            AuthenticationMethodMode::TemporaryAccessPassOneTime
        );
        assert_eq!(used.state.used_at, Some(t0()));
        assert_eq!(
            verify_tap(&used.state, &tap.pass, t0() + Duration::minutes(1)),
            Err(TapError::AlreadyUsed { used_at: t0() })
        );
    }

    #[test]
    fn multi_use_pass_works_until_expiry() {
        let tap = issue(false);
        let mut state = tap.state();
        for minutes in [0, 10, 59] {
            let used = verify_tap(&state, &tap.pass, t0() + Duration::minutes(minutes)).unwrap();
            assert_eq!(
                used.mode,
                AuthenticationMethodMode::TemporaryAccessPassMultiUse
            );
            state = used.state;
        }
        assert_eq!(
            verify_tap(&state, &tap.pass, tap.expires_at),
            Err(TapError::Expired {
                expired_at: tap.expires_at
            })
        );
    }

    #[test]
    fn pass_before_its_start_is_refused() {
        let start = t0() + Duration::days(2);
        let tap = issue_tap(&TapPolicy::default(), t0(), Some(start), None, true).unwrap();
        assert_eq!(
            verify_tap(&tap.state(), &tap.pass, start - Duration::seconds(1)),
            Err(TapError::NotYetValid { starts_at: start })
        );
        assert!(verify_tap(&tap.state(), &tap.pass, start).is_ok());
    }

    #[test]
    fn wrong_pass_is_mismatch_and_reveals_nothing_about_the_state() {
        let tap = issue(true);
        let wrong = SecretString::from("23456789ABCDEFGH");
        // Valid, early, expired or spent: a wrong pass always gets the same answer.
        let mut spent = tap.state();
        spent.used_at = Some(t0());
        for (state, now) in [
            (tap.state(), t0()),
            (tap.state(), t0() - Duration::hours(1)),
            (tap.state(), t0() + Duration::days(1)),
            (spent, t0()),
        ] {
            assert_eq!(verify_tap(&state, &wrong, now), Err(TapError::Mismatch));
        }
        // One character off.
        let mut near = tap.pass.expose_secret().to_string();
        let last = near.pop().unwrap();
        near.push(if last == 'Z' { 'Y' } else { 'Z' });
        assert_eq!(
            verify_tap(&tap.state(), &SecretString::from(near), t0()),
            Err(TapError::Mismatch)
        );
        assert_eq!(
            verify_tap(&tap.state(), &SecretString::from(""), t0()),
            Err(TapError::Mismatch)
        );
    }

    #[test]
    fn input_is_case_and_separator_insensitive() {
        let tap = issue(false);
        let pass = tap.pass.expose_secret();
        let typed = format!(
            "{}-{} {}",
            &pass[..4].to_ascii_lowercase(),
            &pass[4..8],
            &pass[8..]
        );
        assert!(verify_tap(&tap.state(), &SecretString::from(typed), t0()).is_ok());
    }

    #[test]
    fn stored_hash_is_sha256_of_the_pass() {
        let tap = issue(true);
        assert_eq!(
            tap.pass_hash,
            to_hex(&Sha256::digest(tap.pass.expose_secret().as_bytes()))
        );
        // Known answer: SHA-256("abc").
        assert_eq!(
            hash_pass("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
