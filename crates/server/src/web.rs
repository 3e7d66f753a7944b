//! Small HTTP helpers: random tokens, their hashes, cookies, and form/JSON extraction with
//! readable errors.

use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Name of the browser-binding cookie (ties a sign-in transaction to the browser that began it).
pub const BROWSER_COOKIE: &str = "portcullis_browser";
/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "portcullis_session";

/// A random 256-bit token, base64url without padding.
pub fn random_token() -> Result<String, crate::error::ServeError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| crate::error::ServeError::Internal(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The SHA-256 of a token, base64url: what the store keeps instead of the token.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// The PKCE S256 transform of a verifier (RFC 7636 §4.2).
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Constant-time equality of two strings.
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A cookie as the service sets them: HttpOnly, SameSite=Lax (the OIDC redirect back from a
/// relying party is a top-level GET), path `/`, `Secure` when served over https.
pub fn cookie(
    name: &'static str,
    value: String,
    secure: bool,
    max_age_seconds: i64,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(cookie_duration(max_age_seconds))
        .build()
}

/// A cookie that removes `name`.
pub fn removal(name: &'static str, secure: bool) -> Cookie<'static> {
    cookie(name, String::new(), secure, 0)
}

fn cookie_duration(seconds: i64) -> cookie::time::Duration {
    cookie::time::Duration::seconds(seconds)
}
