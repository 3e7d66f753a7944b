//! Tokens: ES256 signing keys with rotation, the JWKS that publishes them, and the claims of the
//! ID and access tokens Portcullis issues.
//!
//! Pure apart from the operating system's random number generator (key generation); time comes
//! in as a value.

pub mod amr;
pub mod claims;
pub mod keys;

pub use claims::{AccessTokenClaims, IdTokenClaims};
pub use keys::{Jwk, Jwks, KeySet, SigningKey, TokenError};
