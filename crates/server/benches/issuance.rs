//! The cryptography of one token issuance alone: ES256 signatures of an access token and an ID
//! token with `tokens::keys::KeySet::sign`, with the claims `/token` puts in them (see
//! `sign_tokens` in `crates/server/src/oidc/token.rs`). Compare with the HTTP figures of
//! `scripts/bench/tokens` (BENCHMARKS.md).
//!
//! `KeySet::sign` re-encodes the private key to PKCS#8 and `jsonwebtoken` decodes it again at
//! every signature; the `parts` group times those steps, and `issuance/sign_both_cached_key`
//! what the same two tokens cost with a `p256::ecdsa::SigningKey` decoded once (the same JWS:
//! base64url header and claims, an ES256 signature over them).
//!
//! ```sh
//! cargo bench -p server --bench issuance
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_main, Criterion};
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::DecodePrivateKey as _;
use std::hint::black_box;
use tokens::keys::{KeySet, SigningKey};
use tokens::{AccessTokenClaims, IdTokenClaims};

const ISSUER: &str = "http://localhost:8080";

fn claims(now: DateTime<Utc>) -> (AccessTokenClaims, IdTokenClaims) {
    let iat = now.timestamp();
    let exp = (now + Duration::minutes(10)).timestamp();
    let sub = uuid::Uuid::new_v4().to_string();
    let sid = server::web::token_hash("session");
    let amr: Vec<String> = vec!["mfa".into(), "otp".into(), "pwd".into()];
    let access = AccessTokenClaims {
        iss: ISSUER.into(),
        sub: sub.clone(),
        aud: ISSUER.into(),
        client_id: "bench".into(),
        exp,
        iat,
        jti: server::web::random_token().unwrap(),
        scope: "openid offline_access".into(),
        auth_time: iat,
        acr: Some("mfa".into()),
        amr: amr.clone(),
        acrs: Vec::new(),
        sid: sid.clone(),
        cnf: None,
        step_up_request: None,
    };
    let id = IdTokenClaims {
        iss: ISSUER.into(),
        sub,
        aud: "bench".into(),
        exp,
        iat,
        auth_time: iat,
        nonce: Some("bench-nonce".into()),
        acr: Some("mfa".into()),
        amr,
        acrs: Vec::new(),
        sid,
        preferred_username: None,
        name: None,
    };
    (access, id)
}

fn bench(c: &mut Criterion) {
    let now = Utc::now();
    let keys = KeySet::from_keys(vec![SigningKey::generate(now).unwrap()]);
    let (access, id) = claims(now);
    let mut group = c.benchmark_group("issuance");
    group.sample_size(50);
    group.bench_function("sign_access_token", |b| {
        b.iter(|| keys.sign(black_box(&access), "at+jwt").unwrap())
    });
    group.bench_function("sign_id_token", |b| {
        b.iter(|| keys.sign(black_box(&id), "JWT").unwrap())
    });
    // What one /token response signs: a fresh jti, then both tokens.
    group.bench_function("sign_both", |b| {
        b.iter(|| {
            let mut access = access.clone();
            access.jti = server::web::random_token().unwrap();
            let a = keys.sign(black_box(&access), "at+jwt").unwrap();
            let i = keys.sign(black_box(&id), "JWT").unwrap();
            (a, i)
        })
    });
    // The same JWS, signed by a key decoded once.
    let ecdsa =
        p256::ecdsa::SigningKey::from_pkcs8_der(&keys.keys()[0].to_pkcs8_der().unwrap()).unwrap();
    let kid = keys.keys()[0].kid().to_string();
    let jws = |claims: &dyn erased::Json, typ: &str| {
        let header = serde_json::json!({ "typ": typ, "alg": "ES256", "kid": kid });
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
            URL_SAFE_NO_PAD.encode(claims.to_json())
        );
        let signature: p256::ecdsa::Signature = ecdsa.sign(message.as_bytes());
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    };
    group.bench_function("sign_both_cached_key", |b| {
        b.iter(|| {
            let mut access = access.clone();
            access.jti = server::web::random_token().unwrap();
            let a = jws(black_box(&access), "at+jwt");
            let i = jws(black_box(&id), "JWT");
            (a, i)
        })
    });
    group.finish();

    let key = &keys.keys()[0];
    let der = key.to_pkcs8_der().unwrap();
    let message = jws(&access, "at+jwt");
    let message = &message[..message.rfind('.').unwrap()];
    let mut parts = c.benchmark_group("parts");
    parts.sample_size(50);
    // What KeySet::sign does besides signing, at every call.
    parts.bench_function("signing_key_to_pkcs8_der", |b| {
        b.iter(|| black_box(key).to_pkcs8_der().unwrap())
    });
    parts.bench_function("ecdsa_signing_key_from_pkcs8_der", |b| {
        b.iter(|| p256::ecdsa::SigningKey::from_pkcs8_der(black_box(&der)).unwrap())
    });
    // The one scalar multiplication a signature needs.
    parts.bench_function("ecdsa_sign_access_token_cached_key", |b| {
        b.iter(|| {
            let s: p256::ecdsa::Signature = ecdsa.sign(black_box(message.as_bytes()));
            s
        })
    });
    parts.finish();
}

/// Claims of either kind as JSON bytes.
mod erased {
    /// Serializes to JSON.
    pub trait Json {
        /// The JSON bytes.
        fn to_json(&self) -> Vec<u8>;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> Vec<u8> {
            serde_json::to_vec(self).unwrap()
        }
    }
}

/// The benchmark group (criterion's macro generates an undocumented `pub fn`).
mod group {
    #![allow(missing_docs)]
    use super::bench;
    criterion::criterion_group!(issuance, bench);
}

criterion_main!(group::issuance);
