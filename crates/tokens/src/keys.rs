//! ES256 signing keys, their rotation, and JWT signing and verification.
//!
//! One key is active and signs; a key that rotation retires keeps verifying (and stays in the
//! JWKS) until every token it signed has expired, then it is dropped.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use p256::ecdsa::signature::Signer as _;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why a token could not be signed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No key is active.
    #[error("no active signing key")]
    NoActiveKey,
    /// The token names a key this issuer does not (or no longer) publish.
    #[error("the token's signing key is unknown or retired")]
    UnknownKey,
    /// The signature does not verify, or the algorithm is not ES256.
    #[error("invalid token signature")]
    BadSignature,
    /// The token has expired.
    #[error("the token has expired")]
    Expired,
    /// The token is not yet valid.
    #[error("the token is not yet valid")]
    NotYetValid,
    /// Another issuer made it.
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    /// It is meant for another audience.
    #[error("the token is meant for another audience")]
    WrongAudience,
    /// Not a JWT, or claims of the wrong shape.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// A stored key does not decode.
    #[error("stored signing key is corrupt: {0}")]
    CorruptKey(String),
}

/// A public key in JWK form (RFC 7517), as the JWKS publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Always `EC`.
    pub kty: String,
    /// Always `P-256`.
    pub crv: String,
    /// X coordinate, base64url.
    pub x: String,
    /// Y coordinate, base64url.
    pub y: String,
    /// Key id: the RFC 7638 thumbprint.
    pub kid: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// Always `ES256`.
    pub alg: String,
}

/// A JWK set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// An ES256 (P-256) private key and when it stopped signing.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    secret: p256::SecretKey,
    /// Derived once from `secret`: deriving them per token (a scalar multiplication, a PKCS#8
    /// round trip) was most of a token's signing cost (BENCHMARKS.md).
    signer: p256::ecdsa::SigningKey,
    x: String,
    y: String,
    decoding: DecodingKey,
    /// When it became the active key.
    pub activated_at: DateTime<Utc>,
    /// When rotation replaced it (`None` while active).
    pub retired_at: Option<DateTime<Utc>>,
    /// Until when it keeps verifying after retirement.
    pub keep_until: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("secret", &"[redacted]")
            .field("activated_at", &self.activated_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

fn coordinates(secret: &p256::SecretKey) -> Result<(String, String), TokenError> {
    let point = secret.public_key().to_encoded_point(false);
    match (point.x(), point.y()) {
        (Some(x), Some(y)) => Ok((URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y))),
        _ => Err(TokenError::CorruptKey(
            "public key has no coordinates".into(),
        )),
    }
}

fn thumbprint(x: &str, y: &str) -> String {
    // RFC 7638: the required members, lexicographic order, no whitespace.
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

impl SigningKey {
    /// A new random key, active from `now`.
    pub fn generate(now: DateTime<Utc>) -> Result<SigningKey, TokenError> {
        let secret = p256::SecretKey::random(&mut rand_core::OsRng);
        Self::from_secret(secret, now)
    }

    fn from_secret(
        secret: p256::SecretKey,
        activated_at: DateTime<Utc>,
    ) -> Result<Self, TokenError> {
        let (x, y) = coordinates(&secret)?;
        let decoding = DecodingKey::from_ec_components(&x, &y)
            .map_err(|e| TokenError::CorruptKey(e.to_string()))?;
        Ok(SigningKey {
            kid: thumbprint(&x, &y),
            signer: p256::ecdsa::SigningKey::from(&secret),
            secret,
            x,
            y,
            decoding,
            activated_at,
            retired_at: None,
            keep_until: None,
        })
    }

    /// A key read back from storage (PKCS#8 DER).
    pub fn from_pkcs8_der(
        der: &[u8],
        activated_at: DateTime<Utc>,
    ) -> Result<SigningKey, TokenError> {
        let secret = p256::SecretKey::from_pkcs8_der(der)
            .map_err(|e| TokenError::CorruptKey(e.to_string()))?;
        Self::from_secret(secret, activated_at)
    }

    /// The private key as PKCS#8 DER, for storage.
    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, TokenError> {
        self.secret
            .to_pkcs8_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| TokenError::CorruptKey(e.to_string()))
    }

    /// The key id (RFC 7638 thumbprint of the public key).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub fn public_jwk(&self) -> Result<Jwk, TokenError> {
        Ok(Jwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: self.x.clone(),
            y: self.y.clone(),
            kid: self.kid.clone(),
            use_: "sig".into(),
            alg: "ES256".into(),
        })
    }

    fn verifies_at(&self, now: DateTime<Utc>) -> bool {
        self.keep_until.is_none_or(|until| now < until)
    }
}

/// The issuer's keys: the active one first, then retired ones still verifying.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<SigningKey>,
}

/// What a verifier expects of a token.
#[derive(Debug, Clone)]
pub struct Expectation<'a> {
    /// The issuer URL.
    pub issuer: &'a str,
    /// The audience (client id or resource).
    pub audience: &'a str,
    /// The verification time.
    pub now: DateTime<Utc>,
}

impl KeySet {
    /// A set from stored keys (any order).
    pub fn from_keys(mut keys: Vec<SigningKey>) -> KeySet {
        keys.sort_by_key(|k| (k.retired_at.is_some(), std::cmp::Reverse(k.activated_at)));
        KeySet { keys }
    }

    /// Every key, active first.
    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// The key that signs now.
    pub fn active(&self) -> Option<&SigningKey> {
        self.keys.first().filter(|k| k.retired_at.is_none())
    }

    /// Makes a new key active. The previous one keeps verifying for `max_token_lifetime`, the
    /// longest any token it signed can live, and is then dropped by [`KeySet::prune`].
    pub fn rotate(
        &mut self,
        now: DateTime<Utc>,
        max_token_lifetime: Duration,
    ) -> Result<&SigningKey, TokenError> {
        let new = SigningKey::generate(now)?;
        for k in self.keys.iter_mut().filter(|k| k.retired_at.is_none()) {
            k.retired_at = Some(now);
            k.keep_until = Some(now + max_token_lifetime);
        }
        self.keys.insert(0, new);
        Ok(&self.keys[0])
    }

    /// Drops retired keys whose tokens have all expired; returns their ids.
    pub fn prune(&mut self, now: DateTime<Utc>) -> Vec<String> {
        let (keep, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut self.keys)
            .into_iter()
            .partition(|k| k.verifies_at(now));
        self.keys = keep;
        gone.into_iter().map(|k| k.kid).collect()
    }

    /// The JWKS: every key that verifies at `now`.
    pub fn jwks(&self, now: DateTime<Utc>) -> Result<Jwks, TokenError> {
        let keys = self
            .keys
            .iter()
            .filter(|k| k.verifies_at(now))
            .map(SigningKey::public_jwk)
            .collect::<Result<_, _>>()?;
        Ok(Jwks { keys })
    }

    /// Signs `claims` with the active key; `typ` is `JWT` or `at+jwt`.
    pub fn sign<C: Serialize>(&self, claims: &C, typ: &str) -> Result<String, TokenError> {
        let key = self.active().ok_or(TokenError::NoActiveKey)?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        header.typ = Some(typ.to_string());
        // JWS compact serialization (RFC 7515) signed with the key derived once; ES256's
        // signature is r ‖ s, 64 bytes (RFC 7518 §3.4), which is what `Signature::to_bytes`
        // gives. Verification goes through jsonwebtoken, so a mistake here fails every check.
        let json = |what: &str, v: Result<Vec<u8>, serde_json::Error>| {
            v.map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
                .map_err(|e| TokenError::Malformed(format!("{what}: {e}")))
        };
        let mut signed = json("header", serde_json::to_vec(&header))?;
        signed.push('.');
        signed.push_str(&json("claims", serde_json::to_vec(claims))?);
        let signature: p256::ecdsa::Signature = key.signer.sign(signed.as_bytes());
        signed.push('.');
        signed.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        Ok(signed)
    }

    /// Verifies a token's signature (ES256 only, by a key of this set still verifying), issuer,
    /// audience and lifetime (no leeway), and returns its claims.
    pub fn verify<C: DeserializeOwned>(
        &self,
        token: &str,
        expect: &Expectation<'_>,
    ) -> Result<C, TokenError> {
        self.check(token, expect, true)
    }

    /// As [`KeySet::verify`], but a token whose `exp` has passed is accepted: for a token that
    /// only identifies (an `id_token_hint` at logout), never for one that authorizes. The
    /// signature (by a key of this set still verifying at `expect.now`), issuer, audience and
    /// `nbf` are checked as usual.
    pub fn verify_ignoring_expiry<C: DeserializeOwned>(
        &self,
        token: &str,
        expect: &Expectation<'_>,
    ) -> Result<C, TokenError> {
        self.check(token, expect, false)
    }

    fn check<C: DeserializeOwned>(
        &self,
        token: &str,
        expect: &Expectation<'_>,
        check_expiry: bool,
    ) -> Result<C, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
        if header.alg != Algorithm::ES256 {
            return Err(TokenError::BadSignature);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid && k.verifies_at(expect.now))
            .ok_or(TokenError::UnknownKey)?;
        let decoding = &key.decoding;
        let mut validation = Validation::new(Algorithm::ES256);
        // Time is checked below against the caller's clock, not the system's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims = ["iss", "aud", "exp"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        validation.set_issuer(&[expect.issuer]);
        validation.set_audience(&[expect.audience]);
        let data = jsonwebtoken::decode::<serde_json::Value>(token, decoding, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                        TokenError::BadSignature
                    }
                    ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                    ErrorKind::InvalidAudience => TokenError::WrongAudience,
                    _ => TokenError::Malformed(e.to_string()),
                }
            })?;
        let now = expect.now.timestamp();
        let exp = data
            .claims
            .get("exp")
            .and_then(serde_json::Value::as_i64)
            .ok_or_else(|| TokenError::Malformed("exp is not a number".into()))?;
        if check_expiry && now >= exp {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = data.claims.get("nbf").and_then(serde_json::Value::as_i64) {
            if now < nbf {
                return Err(TokenError::NotYetValid);
            }
        }
        serde_json::from_value(data.claims).map_err(|e| TokenError::Malformed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::TimeZone;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Claims {
        iss: String,
        aud: String,
        exp: i64,
        sub: String,
    }

    #[test]
    fn verify_ignoring_expiry_accepts_only_the_expiry() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let keys = KeySet::from_keys(vec![SigningKey::generate(t0).unwrap()]);
        let claims = Claims {
            iss: "https://idp.example".into(),
            aud: "portal".into(),
            exp: (t0 + Duration::minutes(10)).timestamp(),
            sub: "u1".into(),
        };
        let token = keys.sign(&claims, "JWT").unwrap();
        let later = Expectation {
            issuer: "https://idp.example",
            audience: "portal",
            now: t0 + Duration::hours(1),
        };
        assert_eq!(
            keys.verify::<Claims>(&token, &later),
            Err(TokenError::Expired)
        );
        assert_eq!(
            keys.verify_ignoring_expiry::<Claims>(&token, &later),
            Ok(claims)
        );
        let other_issuer = Expectation {
            issuer: "https://other.example",
            ..later.clone()
        };
        assert_eq!(
            keys.verify_ignoring_expiry::<Claims>(&token, &other_issuer),
            Err(TokenError::WrongIssuer)
        );
        let other_audience = Expectation {
            audience: "other",
            ..later.clone()
        };
        assert_eq!(
            keys.verify_ignoring_expiry::<Claims>(&token, &other_audience),
            Err(TokenError::WrongAudience)
        );
        // A token signed by a key outside the set, and a payload changed under a valid
        // signature, do not verify.
        let forged_claims = Claims {
            sub: "attacker".into(),
            ..keys.verify_ignoring_expiry(&token, &later).unwrap()
        };
        let stranger = KeySet::from_keys(vec![SigningKey::generate(t0).unwrap()]);
        let forged = stranger.sign(&forged_claims, "JWT").unwrap();
        assert_eq!(
            keys.verify_ignoring_expiry::<Claims>(&forged, &later),
            Err(TokenError::UnknownKey)
        );
        let original: Vec<&str> = token.split('.').collect();
        let changed: Vec<&str> = forged.split('.').collect();
        let spliced = format!("{}.{}.{}", original[0], changed[1], original[2]);
        assert_eq!(
            keys.verify_ignoring_expiry::<Claims>(&spliced, &later),
            Err(TokenError::BadSignature)
        );
    }
}
