//! JWTs: the bearer access token of every Graph and `/userinfo` request, and the
//! `id_token_hint` of `/logout`, through `tokens::KeySet::verify` and `verify_ignoring_expiry`
//! (what `server::access_token::verify` and the logout endpoint call) under a real ES256 key,
//! and `server::access_token::jwt_type`, which reads a header unverified.
//!
//! Beyond "no panic": the input as a token never verifies (it was not signed by the key), claims
//! made from the input and signed by the key verify to themselves, and that token with any one
//! byte changed never verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::now;
use std::sync::OnceLock;
use tokens::keys::{Expectation, KeySet, SigningKey};
use tokens::{AccessTokenClaims, IdTokenClaims};

const ISSUER: &str = "https://idp.example";

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| KeySet::from_keys(vec![SigningKey::generate(now()).expect("a key")]))
}

fn expect(audience: &str) -> Expectation<'_> {
    Expectation {
        issuer: ISSUER,
        audience,
        now: now(),
    }
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let Some((&flip, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let _ = server::access_token::jwt_type(&text);
    assert!(keys
        .verify::<AccessTokenClaims>(&text, &expect(ISSUER))
        .is_err());
    assert!(keys
        .verify_ignoring_expiry::<IdTokenClaims>(&text, &expect("portal"))
        .is_err());
    assert!(keys
        .verify::<serde_json::Value>(&text, &expect(ISSUER))
        .is_err());

    let words: Vec<String> = text.split(' ').map(str::to_string).collect();
    let claims = AccessTokenClaims {
        iss: ISSUER.into(),
        sub: text.to_string(),
        aud: ISSUER.into(),
        client_id: words.first().cloned().unwrap_or_default(),
        exp: now().timestamp() + 3600,
        iat: now().timestamp(),
        jti: format!("{flip}"),
        scope: text.to_string(),
        auth_time: now().timestamp() - i64::from(flip),
        acr: words.get(1).cloned(),
        amr: words.clone(),
        acrs: words
            .iter()
            .filter(|w| w.starts_with('c'))
            .cloned()
            .collect(),
        sid: words.last().cloned().unwrap_or_default(),
        cnf: None,
        step_up_request: words.get(2).cloned(),
    };
    let token = keys.sign(&claims, "at+jwt").expect("claims sign");
    assert_eq!(
        keys.verify::<AccessTokenClaims>(&token, &expect(ISSUER)),
        Ok(claims)
    );
    assert_eq!(
        server::access_token::jwt_type(&token).as_deref(),
        Some("at+jwt")
    );
    let mut changed = token.into_bytes();
    let at = (usize::from(flip) * 7919 + rest.len()) % changed.len();
    changed[at] ^= flip.max(1);
    if let Ok(changed) = String::from_utf8(changed) {
        let verified = keys.verify::<serde_json::Value>(&changed, &expect(ISSUER));
        assert!(
            verified.is_err(),
            "byte {at} changed, the token still verifies: {changed}"
        );
    }
});
