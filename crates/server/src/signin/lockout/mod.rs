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
use chrono::Duration;
use std::net::IpAddr;
use store::{KnownDevice, LockoutScope, StoreError};

mod device;
pub use app::lockout::{
    logged_failure, refusal, Attempt, Counters, Lock, ACCOUNT_THROTTLE, CLIENT_LOCKOUT,
    RECOGNITION, SOURCE_LOCKOUT,
};
pub use device::sign_in_completed;
use device::*;

/// Name of the device cookie: the browser's known-device tokens, one per account, `.`-joined.
pub const DEVICE_COOKIE: &str = "portcullis_device";

/// Tokens a device cookie keeps (the oldest is dropped first); also how many are looked up, so
/// that a forged cookie cannot make a request look up more.
const DEVICE_TOKENS: usize = 5;

/// A known device's expiry is moved forward at most this often (one write a day, not one per
/// sign-in).
const TOUCH_EVERY: Duration = Duration::days(1);

/// The attempt on `user_id` from `ip` by the browser sending `jar`: from a known device when
/// one of the device cookie's tokens is stored, unexpired, for this account.
pub async fn attempt(
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

/// The lock that refuses `attempt` now, if any (see [`app::Core::sign_in_lock`]).
pub async fn check(state: &AppState, attempt: &Attempt) -> Result<Option<Lock>, StoreError> {
    state.core.sign_in_lock(attempt).await
}

/// Counts a failure of `attempt`; returns the locks it started (see
/// [`app::Core::count_failure`]).
pub async fn count_failure(state: &AppState, attempt: &Attempt) -> Result<Vec<Lock>, StoreError> {
    state.core.count_failure(attempt).await
}
