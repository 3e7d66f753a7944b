//! Tokens: ES256 signing keys with rotation, the JWKS that publishes them, and the claims of the
//! ID and access tokens Portcullis issues.
//!
//! Pure apart from the operating system's random number generator (key generation); time comes
//! in as a value.

/// The `amr` values of performed methods (RFC 8176); the mapping lives in `policy`, where the
/// sign-in assessment reads it too.
pub use policy::amr;
pub mod claims;
pub mod keys;

pub use claims::{AccessTokenClaims, IdTokenClaims};
pub use keys::{Jwk, Jwks, KeySet, SigningKey, TokenError};
