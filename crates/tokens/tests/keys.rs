//! Signing, verification and rotation, with the attacks a token verifier must refuse.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, TimeZone, Utc};
use tokens::keys::Expectation;
use tokens::{AccessTokenClaims, KeySet, SigningKey, TokenError};

const ISS: &str = "https://idp.example";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0)
        .single()
        .unwrap()
}

fn claims(now: DateTime<Utc>, lifetime: Duration) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISS.into(),
        sub: "user-1".into(),
        aud: "api".into(),
        client_id: "portal".into(),
        exp: (now + lifetime).timestamp(),
        iat: now.timestamp(),
        jti: "jti-1".into(),
        scope: "openid".into(),
        auth_time: now.timestamp(),
        acr: Some("c1".into()),
        amr: vec!["hwk".into(), "mfa".into(), "user".into()],
        acrs: vec!["c1".into()],
        sid: "s1".into(),
        cnf: None,
        step_up_request: None,
    }
}

fn expect(now: DateTime<Utc>) -> Expectation<'static> {
    Expectation {
        issuer: ISS,
        audience: "api",
        now,
    }
}

fn set() -> KeySet {
    KeySet::from_keys(vec![SigningKey::generate(t0()).unwrap()])
}

#[test]
fn a_signed_token_verifies_and_keeps_its_claims() {
    let keys = set();
    let c = claims(t0(), Duration::minutes(10));
    let jwt = keys.sign(&c, "at+jwt").unwrap();
    let back: AccessTokenClaims = keys
        .verify(&jwt, &expect(t0() + Duration::minutes(9)))
        .unwrap();
    assert_eq!(back, c);
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["kid"], keys.active().unwrap().kid());
}

#[test]
fn a_tampered_payload_is_refused() {
    let keys = set();
    let jwt = keys
        .sign(&claims(t0(), Duration::minutes(10)), "JWT")
        .unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["acrs"] = serde_json::json!(["c1", "c2"]);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    assert_eq!(
        keys.verify::<AccessTokenClaims>(&forged, &expect(t0())),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn unsigned_and_symmetric_tokens_are_refused() {
    let keys = set();
    let jwk = keys.active().unwrap().public_jwk().unwrap();
    let payload =
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(t0(), Duration::minutes(10))).unwrap());
    let none_header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","kid":"{}"}}"#, jwk.kid));
    assert!(keys
        .verify::<AccessTokenClaims>(&format!("{none_header}.{payload}."), &expect(t0()))
        .is_err());
    // Algorithm confusion: HS256 keyed with the public key's coordinates.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(jwk.kid.clone());
    let hs = jsonwebtoken::encode(
        &header,
        &claims(t0(), Duration::minutes(10)),
        &jsonwebtoken::EncodingKey::from_secret(format!("{}{}", jwk.x, jwk.y).as_bytes()),
    )
    .unwrap();
    assert_eq!(
        keys.verify::<AccessTokenClaims>(&hs, &expect(t0())),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn expiry_issuer_and_audience_are_enforced() {
    let keys = set();
    let jwt = keys
        .sign(&claims(t0(), Duration::minutes(10)), "JWT")
        .unwrap();
    assert_eq!(
        keys.verify::<AccessTokenClaims>(&jwt, &expect(t0() + Duration::minutes(10))),
        Err(TokenError::Expired)
    );
    let other_issuer = Expectation {
        issuer: "https://evil.example",
        audience: "api",
        now: t0(),
    };
    assert_eq!(
        keys.verify::<AccessTokenClaims>(&jwt, &other_issuer),
        Err(TokenError::WrongIssuer)
    );
    let other_audience = Expectation {
        issuer: ISS,
        audience: "other-api",
        now: t0(),
    };
    assert_eq!(
        keys.verify::<AccessTokenClaims>(&jwt, &other_audience),
        Err(TokenError::WrongAudience)
    );
    assert!(matches!(
        keys.verify::<AccessTokenClaims>("not.a.jwt", &expect(t0())),
        Err(TokenError::Malformed(_))
    ));
}

#[test]
fn a_token_from_another_issuers_key_is_refused() {
    let ours = set();
    let theirs = set();
    let jwt = theirs
        .sign(&claims(t0(), Duration::minutes(10)), "JWT")
        .unwrap();
    assert_eq!(
        ours.verify::<AccessTokenClaims>(&jwt, &expect(t0())),
        Err(TokenError::UnknownKey)
    );
}

#[test]
fn rotation_keeps_old_keys_until_their_tokens_expire() {
    let mut keys = set();
    let old_kid = keys.active().unwrap().kid().to_string();
    let old_token = keys.sign(&claims(t0(), Duration::hours(1)), "JWT").unwrap();
    let rotated_at = t0() + Duration::minutes(5);
    keys.rotate(rotated_at, Duration::hours(1)).unwrap();
    let new_kid = keys.active().unwrap().kid().to_string();
    assert_ne!(old_kid, new_kid);
    // New tokens use the new key; the JWKS publishes both while old tokens live.
    let new_token = keys
        .sign(&claims(rotated_at, Duration::hours(1)), "JWT")
        .unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&new_token)
            .unwrap()
            .kid
            .as_deref(),
        Some(new_kid.as_str())
    );
    let jwks = keys.jwks(rotated_at).unwrap();
    assert_eq!(
        jwks.keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        vec![new_kid.as_str(), old_kid.as_str()]
    );
    assert!(keys
        .verify::<AccessTokenClaims>(&old_token, &expect(t0() + Duration::minutes(50)))
        .is_ok());
    // Once the old key's tokens have all expired, it no longer verifies nor is published.
    let later = rotated_at + Duration::hours(1);
    assert_eq!(keys.jwks(later).unwrap().keys.len(), 1);
    assert_eq!(keys.prune(later), vec![old_kid]);
    assert_eq!(keys.keys().len(), 1);
    assert!(keys
        .verify::<AccessTokenClaims>(&new_token, &expect(later - Duration::minutes(1)))
        .is_ok());
}

#[test]
fn keys_survive_storage_and_never_print_their_secret() {
    let key = SigningKey::generate(t0()).unwrap();
    let der = key.to_pkcs8_der().unwrap();
    let back = SigningKey::from_pkcs8_der(&der, t0()).unwrap();
    assert_eq!(back.kid(), key.kid());
    assert_eq!(back.public_jwk().unwrap(), key.public_jwk().unwrap());
    assert_eq!(key.kid().len(), 43, "base64url SHA-256 thumbprint");
    let debug = format!("{key:?}");
    assert!(debug.contains("[redacted]"));
    assert!(!debug.contains(&format!("{der:?}")));
    assert!(matches!(
        SigningKey::from_pkcs8_der(b"garbage", t0()),
        Err(TokenError::CorruptKey(_))
    ));
}

#[test]
fn a_token_is_a_compact_es256_jws_any_verifier_accepts() {
    let set = set();
    let token = set
        .sign(&claims(t0(), Duration::minutes(10)), "at+jwt")
        .unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "at+jwt");
    let jwks = set.jwks(t0()).unwrap();
    assert_eq!(header["kid"], jwks.keys[0].kid.as_str());
    // The signature is r ‖ s over "header.payload" (RFC 7518 §3.4), checked here with the bare
    // p256 verifier and the public key from the JWKS, not with the code that signed it.
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    assert_eq!(signature.len(), 64);
    let mut sec1 = vec![4u8];
    sec1.extend(URL_SAFE_NO_PAD.decode(&jwks.keys[0].x).unwrap());
    sec1.extend(URL_SAFE_NO_PAD.decode(&jwks.keys[0].y).unwrap());
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&signature).unwrap();
    use p256::ecdsa::signature::Verifier as _;
    let signed = format!("{}.{}", parts[0], parts[1]);
    key.verify(signed.as_bytes(), &sig).unwrap();
    assert!(key.verify(b"something else", &sig).is_err());
}
