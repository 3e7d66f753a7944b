//! Credentials and ceremonies, each mapped to its Graph authentication method mode.
//!
//! Pure where it can be: functions take the stored state and the clock as values and return the
//! new state for the caller to persist, so that storage stays in `store` and I/O in `server`.

pub mod otp;
pub mod password;
pub mod tap;
pub mod totp;
pub mod webauthn;

/// Secret wrappers used in this crate's signatures, re-exported so callers need not depend on them.
pub use secrecy;
