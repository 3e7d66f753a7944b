//! WebAuthn ceremonies driven end to end with the software authenticators of
//! `webauthn-authenticator-rs` (the test plays the browser: it builds the client data, and adds
//! what a browser adds to the JSON, such as `authenticatorAttachment`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use authn::webauthn::{
    binding_hash, mode_for, Attachment, AttestationCaListBuilder, AttestationTrust,
    AuthenticationCeremony, RegisteredCredential, RegistrationCeremony, RegistrationKind,
    StoredCredential, Webauthn, WebauthnConfig, WebauthnError,
};
use chrono::{DateTime, Duration, Utc};
use policy::method::AuthenticationMethodMode;
use uuid::Uuid;
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::softtoken::{SoftToken, AAGUID as SOFTTOKEN_AAGUID};
use webauthn_authenticator_rs::WebauthnAuthenticator;

const ORIGIN: &str = "https://login.example.com";
const RP_ID: &str = "example.com";

fn origin() -> Url {
    Url::parse(ORIGIN).unwrap()
}

fn config() -> WebauthnConfig {
    WebauthnConfig::new(RP_ID, "Portcullis", origin())
}

fn service() -> Webauthn {
    Webauthn::new(config()).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

/// A soft security key that performs user verification (falsify_uv = it claims UV).
fn uv_token() -> SoftToken {
    SoftToken::new(true).unwrap().0
}

/// Starts a registration; the ceremony goes through its JSON form, as the store keeps it.
fn create(
    svc: &Webauthn,
    user: Uuid,
    kind: RegistrationKind,
) -> (CreationChallengeResponse, RegistrationCeremony) {
    let (json, ceremony) = svc
        .start_registration(user, "claire", "Claire", &[], kind, now())
        .unwrap();
    let stored = ceremony.to_json().unwrap();
    (
        serde_json::from_str(&json).unwrap(),
        RegistrationCeremony::from_json(&stored).unwrap(),
    )
}

/// The browser's JSON for a registration, with the attachment a browser would report.
fn registration_json(reg: &RegisterPublicKeyCredential, attachment: Option<&str>) -> String {
    let mut v = serde_json::to_value(reg).unwrap();
    if let Some(a) = attachment {
        v["authenticatorAttachment"] = serde_json::json!(a);
    }
    v.to_string()
}

fn register<A: WebauthnAuthenticator>(
    svc: &Webauthn,
    auth: &mut A,
    user: Uuid,
    kind: RegistrationKind,
    attachment: Option<&str>,
) -> Result<RegisteredCredential, WebauthnError> {
    let (ccr, ceremony) = create(svc, user, kind);
    let reg = auth.do_registration(origin(), ccr).unwrap();
    svc.finish_registration(ceremony, &registration_json(&reg, attachment), now())
}

/// Starts an authentication; the ceremony goes through its JSON form.
fn get(
    svc: &Webauthn,
    user: Uuid,
    creds: &[String],
    binding: Option<&[u8]>,
) -> (RequestChallengeResponse, AuthenticationCeremony) {
    let (json, ceremony) = svc
        .start_authentication(user, creds, binding, now())
        .unwrap();
    let stored = ceremony.to_json().unwrap();
    (
        serde_json::from_str(&json).unwrap(),
        AuthenticationCeremony::from_json(&stored).unwrap(),
    )
}

fn assertion_json(a: &PublicKeyCredential) -> String {
    serde_json::to_string(a).unwrap()
}

/// One full authentication; returns the updated stored credential.
fn authenticate<A: WebauthnAuthenticator>(
    svc: &Webauthn,
    auth: &mut A,
    user: Uuid,
    cred: &str,
) -> Result<authn::webauthn::Assertion, WebauthnError> {
    let (rcr, ceremony) = get(svc, user, &[cred.to_string()], None);
    let a = auth.do_authentication(origin(), rcr).unwrap();
    svc.finish_authentication(ceremony, &assertion_json(&a), None, &[cred], now())
}

#[test]
fn options_require_user_verification_in_both_ceremonies() {
    let svc = service();
    let user = Uuid::new_v4();
    let (json, _) = svc
        .start_registration(user, "c", "C", &[], RegistrationKind::SecurityKey, now())
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let sel = &v["publicKey"]["authenticatorSelection"];
    assert_eq!(sel["userVerification"], "required");
    assert_eq!(sel["authenticatorAttachment"], "cross-platform");
    assert_eq!(v["publicKey"]["hints"], serde_json::json!(["security-key"]));
    assert_eq!(v["publicKey"]["rp"]["id"], RP_ID);

    let cred = register(&svc, &mut uv_token(), user, RegistrationKind::Any, None).unwrap();
    let (json, _) = svc
        .start_authentication(user, &[cred.credential_json], None, now())
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["publicKey"]["userVerification"], "required");
}

#[test]
fn roaming_security_key_is_fido2_with_its_aaguid() {
    let svc = service();
    let user = Uuid::new_v4();
    let mut key = uv_token();
    let cred = register(
        &svc,
        &mut key,
        user,
        RegistrationKind::SecurityKey,
        Some("cross-platform"),
    )
    .unwrap();
    assert_eq!(cred.mode, AuthenticationMethodMode::Fido2);
    assert_eq!(cred.attachment, Attachment::CrossPlatform);
    assert_eq!(cred.aaguid, Some(SOFTTOKEN_AAGUID));
    // Packed attestation with a certificate chain, but no CA list configured: a claim.
    assert_eq!(cred.attestation, AttestationTrust::Unverified);
    assert!(cred.user_verified);
    assert!(!cred.backup_eligible);
    assert_eq!(cred.user_id, user);

    let stored = StoredCredential::from_json(&cred.credential_json).unwrap();
    assert_eq!(stored.credential_id(), cred.credential_id.as_slice());
    assert_eq!(stored.aaguid(), Some(SOFTTOKEN_AAGUID));
    assert_eq!(stored.sign_count(), 0);

    let first = authenticate(&svc, &mut key, user, &cred.credential_json).unwrap();
    assert_eq!(first.mode, AuthenticationMethodMode::Fido2);
    assert_eq!(first.aaguid, Some(SOFTTOKEN_AAGUID));
    assert_eq!(first.credential_id, cred.credential_id);
    assert_eq!(first.user_id, user);
    assert!(first.user_verified);
    assert_eq!(first.sign_count, 1);
    assert_eq!(first.binding_hash, None);
    let updated = first.new_credential_json.expect("counter moved");
    assert_eq!(
        StoredCredential::from_json(&updated).unwrap().sign_count(),
        1
    );

    let second = authenticate(&svc, &mut key, user, &updated).unwrap();
    assert_eq!(second.sign_count, 2);
}

#[test]
fn platform_authenticator_is_windows_hello_for_business() {
    let svc = service();
    let user = Uuid::new_v4();
    let mut platform = uv_token();
    let cred = register(
        &svc,
        &mut platform,
        user,
        RegistrationKind::Any,
        Some("platform"),
    )
    .unwrap();
    assert_eq!(cred.attachment, Attachment::Platform);
    assert_eq!(cred.mode, AuthenticationMethodMode::WindowsHelloForBusiness);
    assert_eq!(cred.aaguid, Some(SOFTTOKEN_AAGUID));

    let a = authenticate(&svc, &mut platform, user, &cred.credential_json).unwrap();
    assert_eq!(a.mode, AuthenticationMethodMode::WindowsHelloForBusiness);
}

#[test]
fn attachment_falls_back_to_transports() {
    let svc = service();
    let user = Uuid::new_v4();
    // The soft token reports transports ["internal"] and no authenticatorAttachment.
    let cred = register(&svc, &mut uv_token(), user, RegistrationKind::Any, None).unwrap();
    assert_eq!(cred.attachment, Attachment::Platform);
    assert_eq!(cred.mode, AuthenticationMethodMode::WindowsHelloForBusiness);

    // A USB key's transports, no attachment: cross-platform.
    let (ccr, ceremony) = create(&svc, user, RegistrationKind::Any);
    let reg = uv_token().do_registration(origin(), ccr).unwrap();
    let mut v = serde_json::to_value(&reg).unwrap();
    v["response"]["transports"] = serde_json::json!(["usb", "nfc"]);
    let cred = svc
        .finish_registration(ceremony, &v.to_string(), now())
        .unwrap();
    assert_eq!(cred.attachment, Attachment::CrossPlatform);
    assert_eq!(cred.mode, AuthenticationMethodMode::Fido2);

    // Nothing reported at all: the conservative reading, cross-platform.
    let (ccr, ceremony) = create(&svc, user, RegistrationKind::Any);
    let reg = uv_token().do_registration(origin(), ccr).unwrap();
    let mut v = serde_json::to_value(&reg).unwrap();
    v["response"]["transports"] = serde_json::Value::Null;
    let cred = svc
        .finish_registration(ceremony, &v.to_string(), now())
        .unwrap();
    assert_eq!(cred.attachment, Attachment::CrossPlatform);

    // The browser's authenticatorAttachment wins over the transports, both ways.
    for (attachment, transports, expected) in [
        ("platform", serde_json::Value::Null, Attachment::Platform),
        ("platform", serde_json::json!(["usb"]), Attachment::Platform),
        (
            "cross-platform",
            serde_json::json!(["internal"]),
            Attachment::CrossPlatform,
        ),
    ] {
        let (ccr, ceremony) = create(&svc, user, RegistrationKind::Any);
        let reg = uv_token().do_registration(origin(), ccr).unwrap();
        let mut v = serde_json::to_value(&reg).unwrap();
        v["response"]["transports"] = transports;
        v["authenticatorAttachment"] = attachment.into();
        let cred = svc
            .finish_registration(ceremony, &v.to_string(), now())
            .unwrap();
        assert_eq!(cred.attachment, expected, "{attachment}");
    }
}

#[test]
fn soft_passkey_is_fido2_without_aaguid() {
    let svc = service();
    let user = Uuid::new_v4();
    let mut passkey = SoftPasskey::new(true);
    let cred = register(
        &svc,
        &mut passkey,
        user,
        RegistrationKind::Passkey,
        Some("cross-platform"),
    )
    .unwrap();
    assert_eq!(cred.mode, AuthenticationMethodMode::Fido2);
    // The soft passkey sends a zero AAGUID and self attestation.
    assert_eq!(cred.aaguid, None);
    assert_eq!(cred.attestation, AttestationTrust::SelfAttested);
    let a = authenticate(&svc, &mut passkey, user, &cred.credential_json).unwrap();
    assert_eq!(a.mode, AuthenticationMethodMode::Fido2);
    assert_eq!(a.sign_count, 1);
}

#[test]
fn aaguid_is_kept_when_the_browser_strips_attestation() {
    // Under `attestation: "none"` a browser may replace the statement by fmt "none"; the AAGUID
    // stays in the authenticator data and is still recorded, as unattested.
    let svc = service();
    let user = Uuid::new_v4();
    let (ccr, ceremony) = create(&svc, user, RegistrationKind::Any);
    let mut reg = uv_token().do_registration(origin(), ccr).unwrap();
    let ao: serde_cbor_2::Value =
        serde_cbor_2::from_slice(&reg.response.attestation_object).unwrap();
    let serde_cbor_2::Value::Map(mut map) = ao else {
        panic!("attestation object is a map")
    };
    map.insert(
        serde_cbor_2::Value::Text("fmt".into()),
        serde_cbor_2::Value::Text("none".into()),
    );
    map.insert(
        serde_cbor_2::Value::Text("attStmt".into()),
        serde_cbor_2::Value::Map(Default::default()),
    );
    reg.response.attestation_object = serde_cbor_2::to_vec(&serde_cbor_2::Value::Map(map)).unwrap();
    let cred = svc
        .finish_registration(
            ceremony,
            &registration_json(&reg, Some("cross-platform")),
            now(),
        )
        .unwrap();
    assert_eq!(cred.aaguid, Some(SOFTTOKEN_AAGUID));
    assert_eq!(cred.attestation, AttestationTrust::None);
}

#[test]
fn attestation_against_a_ca_list_verifies_the_aaguid() {
    let (mut key, ca) = SoftToken::new(true).unwrap();
    let mut builder = AttestationCaListBuilder::new();
    builder
        .insert_device_x509(ca, SOFTTOKEN_AAGUID, "softtoken".into(), Default::default())
        .unwrap();
    let mut cfg = config();
    cfg.attestation_cas = Some(builder.build());
    let svc = Webauthn::new(cfg).unwrap();
    let user = Uuid::new_v4();

    let cred = register(
        &svc,
        &mut key,
        user,
        RegistrationKind::SecurityKey,
        Some("cross-platform"),
    )
    .unwrap();
    assert_eq!(cred.attestation, AttestationTrust::Verified);
    assert_eq!(cred.aaguid, Some(SOFTTOKEN_AAGUID));
    assert_eq!(cred.mode, AuthenticationMethodMode::Fido2);
    let a = authenticate(&svc, &mut key, user, &cred.credential_json).unwrap();
    assert_eq!(a.attestation, AttestationTrust::Verified);

    // A token from another (unlisted) root is refused, and so is a self-attested passkey.
    let err = register(
        &svc,
        &mut uv_token(),
        user,
        RegistrationKind::Any,
        Some("cross-platform"),
    )
    .unwrap_err();
    assert!(matches!(err, WebauthnError::Rejected(_)), "{err:?}");
    let err = register(
        &svc,
        &mut SoftPasskey::new(true),
        user,
        RegistrationKind::Any,
        None,
    )
    .unwrap_err();
    assert!(matches!(err, WebauthnError::Rejected(_)), "{err:?}");
}

#[test]
fn registration_without_user_verification_is_refused() {
    let svc = service();
    let user = Uuid::new_v4();
    // A token that cannot verify the user refuses options that require it…
    let (ccr, _) = create(&svc, user, RegistrationKind::Any);
    assert!(SoftToken::new(false)
        .unwrap()
        .0
        .do_registration(origin(), ccr)
        .is_err());
    // …so a client that downgrades the requirement gets a response without UV: refused.
    let (ccr, ceremony) = create(&svc, user, RegistrationKind::Any);
    let mut v = serde_json::to_value(&ccr).unwrap();
    v["publicKey"]["authenticatorSelection"]["userVerification"] = "discouraged".into();
    let ccr: CreationChallengeResponse = serde_json::from_value(v).unwrap();
    let reg = SoftToken::new(false)
        .unwrap()
        .0
        .do_registration(origin(), ccr)
        .unwrap();
    let err = svc
        .finish_registration(
            ceremony,
            &registration_json(&reg, Some("cross-platform")),
            now(),
        )
        .unwrap_err();
    assert_eq!(err, WebauthnError::UserNotVerified);
}

#[test]
fn authentication_without_user_verification_is_refused() {
    let svc = service();
    let user = Uuid::new_v4();
    let mut key = uv_token();
    let cred = register(&svc, &mut key, user, RegistrationKind::Any, None).unwrap();
    let (rcr, ceremony) = get(
        &svc,
        user,
        std::slice::from_ref(&cred.credential_json),
        None,
    );
    let mut v = serde_json::to_value(&rcr).unwrap();
    v["publicKey"]["userVerification"] = "discouraged".into();
    let rcr: RequestChallengeResponse = serde_json::from_value(v).unwrap();
    let a = key.do_authentication(origin(), rcr).unwrap();
    let err = svc
        .finish_authentication(
            ceremony,
            &assertion_json(&a),
            None,
            &[&cred.credential_json],
            now(),
        )
        .unwrap_err();
    assert_eq!(err, WebauthnError::UserNotVerified);
}

#[test]
fn response_for_another_origin_or_rp_is_refused() {
    let ours = service();
    let other = Webauthn::new(WebauthnConfig::new(
        "other.test",
        "Other",
        Url::parse("https://login.other.test").unwrap(),
    ))
    .unwrap();
    let user = Uuid::new_v4();
    let mut key = uv_token();

    // Registration made for us, presented (with its ceremony) to a service of another origin.
    let (ccr, ceremony) = create(&ours, user, RegistrationKind::Any);
    let reg = key.do_registration(origin(), ccr).unwrap();
    let err = other
        .finish_registration(ceremony, &registration_json(&reg, None), now())
        .unwrap_err();
    assert_eq!(err, WebauthnError::WrongOrigin);

    // Phishing relay: our challenge, served on a look-alike site with its own rp id.
    let (ccr, ceremony) = create(&ours, user, RegistrationKind::Any);
    let mut v = serde_json::to_value(&ccr).unwrap();
    v["publicKey"]["rp"]["id"] = "example-login.test".into();
    let ccr: CreationChallengeResponse = serde_json::from_value(v).unwrap();
    let reg = key
        .do_registration(Url::parse("https://www.example-login.test").unwrap(), ccr)
        .unwrap();
    let err = ours
        .finish_registration(ceremony, &registration_json(&reg, None), now())
        .unwrap_err();
    assert_eq!(err, WebauthnError::WrongOrigin);

    // Same origin, but the service's rp id differs from the one the credential is scoped to.
    let narrower = Webauthn::new(WebauthnConfig::new(
        "login.example.com",
        "Portcullis",
        origin(),
    ))
    .unwrap();
    let (ccr, ceremony) = create(&ours, user, RegistrationKind::Any);
    let reg = key.do_registration(origin(), ccr).unwrap();
    let err = narrower
        .finish_registration(ceremony, &registration_json(&reg, None), now())
        .unwrap_err();
    assert_eq!(err, WebauthnError::WrongOrigin);

    // Authentication: a sibling subdomain (the client allows it, rp id example.com) is not our
    // origin, subdomains being off.
    let cred = register(&ours, &mut key, user, RegistrationKind::Any, None).unwrap();
    let (rcr, ceremony) = get(
        &ours,
        user,
        std::slice::from_ref(&cred.credential_json),
        None,
    );
    let a = key
        .do_authentication(Url::parse("https://evil.example.com").unwrap(), rcr)
        .unwrap();
    let err = ours
        .finish_authentication(
            ceremony,
            &assertion_json(&a),
            None,
            &[&cred.credential_json],
            now(),
        )
        .unwrap_err();
    assert_eq!(err, WebauthnError::WrongOrigin);

    // An assertion made for us, finished by the other service.
    let (rcr, ceremony) = get(
        &ours,
        user,
        std::slice::from_ref(&cred.credential_json),
        None,
    );
    let a = key.do_authentication(origin(), rcr).unwrap();
    let err = other
        .finish_authentication(
            ceremony,
            &assertion_json(&a),
            None,
            &[&cred.credential_json],
            now(),
        )
        .unwrap_err();
    assert_eq!(err, WebauthnError::WrongOrigin);
}

#[test]
fn replayed_assertion_is_refused() {
    let svc = service();
    let user = Uuid::new_v4();
    let mut key = uv_token();
    let cred = register(&svc, &mut key, user, RegistrationKind::Any, None).unwrap();

    // A store that hands each ceremony out once, as crates/store does.
    let mut ceremonies: HashMap<Uuid, String> = HashMap::new();
    let mut credential_row = cred.credential_json.clone();

    let (json, ceremony) = svc
        .start_authentication(user, std::slice::from_ref(&credential_row), None, now())
        .unwrap();
    let id = Uuid::new_v4();
    let ceremony_json = ceremony.to_json().unwrap();
    ceremonies.insert(id, ceremony_json.clone());
    let leaked_copy = ceremony_json; // e.g. a backup, a log, a bug

    let rcr: RequestChallengeResponse = serde_json::from_str(&json).unwrap();
    let response = assertion_json(&key.do_authentication(origin(), rcr).unwrap());

    let taken = ceremonies.remove(&id).unwrap();
    let ok = svc
        .finish_authentication(
            AuthenticationCeremony::from_json(&taken).unwrap(),
            &response,
            None,
            &[&credential_row],
            now(),
        )
        .unwrap();
    credential_row = ok.new_credential_json.unwrap();

    // Second submission: the ceremony (and its challenge) is gone.
    assert!(!ceremonies.contains_key(&id));

    // Even with a copy of the ceremony, the stored counter has moved on: refused.
    let err = svc
        .finish_authentication(
            AuthenticationCeremony::from_json(&leaked_copy).unwrap(),
            &response,
            None,
            &[&credential_row],
            now(),
        )
        .unwrap_err();
    assert_eq!(err, WebauthnError::CredentialCloned);

    // And the same response to a fresh ceremony answers the wrong challenge.
    let (_, fresh) = get(&svc, user, std::slice::from_ref(&credential_row), None);
    let err = svc
        .finish_authentication(fresh, &response, None, &[&credential_row], now())
        .unwrap_err();
    assert_eq!(err, WebauthnError::CeremonyMismatch);
}

#[test]
fn cloned_authenticator_is_refused() {
    let svc = service();
    let user = Uuid::new_v4();
    let mut original = uv_token();
    let cred = register(&svc, &mut original, user, RegistrationKind::Any, None).unwrap();
    // The key's whole state (private keys and counter) copied at this point.
    let mut clone = SoftToken::from_cbor(&original.to_cbor().unwrap()).unwrap();

    let a1 = authenticate(&svc, &mut original, user, &cred.credential_json).unwrap();
    let row = a1.new_credential_json.unwrap();
    let a2 = authenticate(&svc, &mut original, user, &row).unwrap();
    let row = a2.new_credential_json.unwrap();
    assert_eq!(StoredCredential::from_json(&row).unwrap().sign_count(), 2);

    // The clone signs correctly, but with counter 1 while 2 is stored.
    let err = authenticate(&svc, &mut clone, user, &row).unwrap_err();
    assert_eq!(err, WebauthnError::CredentialCloned);
    // Its second use (counter 2, equal to the stored one) is refused too.
    let err = authenticate(&svc, &mut clone, user, &row).unwrap_err();
    assert_eq!(err, WebauthnError::CredentialCloned);
    // The original goes on.
    assert_eq!(
        authenticate(&svc, &mut original, user, &row)
            .unwrap()
            .sign_count,
        3
    );
}

#[test]
fn binding_must_match() {
    let svc = service();
    let user = Uuid::new_v4();
    let mut key = uv_token();
    let cred = register(&svc, &mut key, user, RegistrationKind::Any, None).unwrap();
    let creds = std::slice::from_ref(&cred.credential_json);
    let bound = b"activation-request:7d0c/nonce:91ab".as_slice();

    type Binding<'a> = Option<&'a [u8]>;
    let cases: [(Binding, Binding); 3] = [
        (
            Some(bound),
            Some(b"activation-request:other/nonce:91ab".as_slice()),
        ),
        (Some(bound), None),
        (None, Some(bound)),
    ];
    for (at_start, at_finish) in cases {
        let (rcr, ceremony) = get(&svc, user, creds, at_start);
        assert_eq!(
            ceremony.binding_hash(),
            at_start.map(binding_hash).as_deref()
        );
        let a = key.do_authentication(origin(), rcr).unwrap();
        let err = svc
            .finish_authentication(ceremony, &assertion_json(&a), at_finish, creds, now())
            .unwrap_err();
        assert_eq!(
            err,
            WebauthnError::CeremonyMismatch,
            "{at_start:?} {at_finish:?}"
        );
    }

    let (rcr, ceremony) = get(&svc, user, creds, Some(bound));
    let a = key.do_authentication(origin(), rcr).unwrap();
    let ok = svc
        .finish_authentication(ceremony, &assertion_json(&a), Some(bound), creds, now())
        .unwrap();
    assert_eq!(ok.binding_hash, Some(binding_hash(bound)));
}

#[test]
fn malformed_input_is_malformed_not_a_panic() {
    let svc = service();
    let user = Uuid::new_v4();
    let mut key = uv_token();
    let cred = register(&svc, &mut key, user, RegistrationKind::Any, None).unwrap();
    let creds = std::slice::from_ref(&cred.credential_json);

    let (ccr, _) = create(&svc, user, RegistrationKind::Any);
    let good_reg = serde_json::to_value(key.do_registration(origin(), ccr).unwrap()).unwrap();
    let mut bad_object = good_reg.clone();
    bad_object["response"]["attestationObject"] = "AAECAwQ".into();
    let mut bad_client_data = good_reg.clone();
    bad_client_data["response"]["clientDataJSON"] = "e30".into(); // "{}"
    let mut bad_base64 = good_reg.clone();
    bad_base64["rawId"] = "!!!".into();

    let registrations = [
        String::new(),
        "{".into(),
        "null".into(),
        "[]".into(),
        r#"{"id":1}"#.into(),
        bad_object.to_string(),
        bad_client_data.to_string(),
        bad_base64.to_string(),
    ];
    for body in &registrations {
        let (_, ceremony) = create(&svc, user, RegistrationKind::Any);
        let err = svc.finish_registration(ceremony, body, now()).unwrap_err();
        assert!(
            matches!(err, WebauthnError::Malformed(_)),
            "{body}: {err:?}"
        );
    }

    let (rcr, _) = get(&svc, user, creds, None);
    let good_auth = serde_json::to_value(key.do_authentication(origin(), rcr).unwrap()).unwrap();
    let mut bad_auth_data = good_auth.clone();
    bad_auth_data["response"]["authenticatorData"] = "AAEC".into();
    let assertions = [
        String::new(),
        "{".into(),
        "42".into(),
        r#"{"id":"x","rawId":"x"}"#.into(),
        bad_auth_data.to_string(),
    ];
    for body in &assertions {
        let (_, ceremony) = get(&svc, user, creds, None);
        let err = svc
            .finish_authentication(ceremony, body, None, creds, now())
            .unwrap_err();
        assert!(
            matches!(err, WebauthnError::Malformed(_)),
            "{body}: {err:?}"
        );
    }

    for state in ["", "{}", r#"{"state":1}"#] {
        assert!(matches!(
            RegistrationCeremony::from_json(state),
            Err(WebauthnError::Malformed(_))
        ));
        assert!(matches!(
            AuthenticationCeremony::from_json(state),
            Err(WebauthnError::Malformed(_))
        ));
        assert!(matches!(
            StoredCredential::from_json(state),
            Err(WebauthnError::Malformed(_))
        ));
        assert!(matches!(
            svc.start_authentication(user, &[state], None, now()),
            Err(WebauthnError::Malformed(_))
        ));
    }
}

#[test]
fn answer_to_another_ceremony_is_refused() {
    let svc = service();
    let user = Uuid::new_v4();
    let mut key = uv_token();

    let (ccr1, _) = create(&svc, user, RegistrationKind::Any);
    let (_, ceremony2) = create(&svc, user, RegistrationKind::Any);
    let reg = key.do_registration(origin(), ccr1).unwrap();
    let err = svc
        .finish_registration(ceremony2, &registration_json(&reg, None), now())
        .unwrap_err();
    assert_eq!(err, WebauthnError::CeremonyMismatch);

    let cred = register(&svc, &mut key, user, RegistrationKind::Any, None).unwrap();
    let creds = std::slice::from_ref(&cred.credential_json);
    let (rcr1, _) = get(&svc, user, creds, None);
    let (_, ceremony2) = get(&svc, user, creds, None);
    let a = key.do_authentication(origin(), rcr1).unwrap();
    let err = svc
        .finish_authentication(ceremony2, &assertion_json(&a), None, creds, now())
        .unwrap_err();
    assert_eq!(err, WebauthnError::CeremonyMismatch);
}

#[test]
fn expired_ceremonies_are_refused() {
    let svc = service();
    let user = Uuid::new_v4();
    let mut key = uv_token();

    let (ccr, ceremony) = create(&svc, user, RegistrationKind::Any);
    let late = ceremony.expires_at() + Duration::seconds(1);
    assert_eq!(
        ceremony.expires_at() - ceremony.created_at(),
        Duration::minutes(5)
    );
    let reg = key.do_registration(origin(), ccr).unwrap();
    let err = svc
        .finish_registration(ceremony, &registration_json(&reg, None), late)
        .unwrap_err();
    assert_eq!(err, WebauthnError::CeremonyExpired);

    let cred = register(&svc, &mut key, user, RegistrationKind::Any, None).unwrap();
    let creds = std::slice::from_ref(&cred.credential_json);
    let (rcr, ceremony) = get(&svc, user, creds, None);
    let late = ceremony.expires_at() + Duration::seconds(1);
    let a = key.do_authentication(origin(), rcr).unwrap();
    let err = svc
        .finish_authentication(ceremony, &assertion_json(&a), None, creds, late)
        .unwrap_err();
    assert_eq!(err, WebauthnError::CeremonyExpired);
}

#[test]
fn credentials_are_scoped_to_their_user() {
    let svc = service();
    let alice = Uuid::new_v4();
    let bob = Uuid::new_v4();
    let mut key = uv_token();
    let alices = register(&svc, &mut key, alice, RegistrationKind::Any, None).unwrap();

    // Bob cannot start with Alice's credential, nor with none.
    let err = svc
        .start_authentication(
            bob,
            std::slice::from_ref(&alices.credential_json),
            None,
            now(),
        )
        .unwrap_err();
    assert_eq!(err, WebauthnError::UnknownCredential);
    let none: &[String] = &[];
    assert_eq!(
        svc.start_authentication(alice, none, None, now())
            .unwrap_err(),
        WebauthnError::UnknownCredential
    );

    // A user handle (unsigned, sent by discoverable credentials) naming someone else is refused;
    // Alice's own is accepted.
    for (handle, accepted) in [(bob, false), (alice, true)] {
        let (rcr, ceremony) = get(
            &svc,
            alice,
            std::slice::from_ref(&alices.credential_json),
            None,
        );
        let mut a = key.do_authentication(origin(), rcr).unwrap();
        a.response.user_handle = Some(handle.as_bytes().to_vec());
        let result = svc.finish_authentication(
            ceremony,
            &assertion_json(&a),
            None,
            std::slice::from_ref(&alices.credential_json),
            now(),
        );
        if accepted {
            assert_eq!(result.unwrap().user_id, alice);
        } else {
            assert!(
                matches!(result, Err(WebauthnError::Rejected(_))),
                "{result:?}"
            );
        }
    }

    // A credential deleted between start and finish is unknown at finish.
    let (rcr, ceremony) = get(
        &svc,
        alice,
        std::slice::from_ref(&alices.credential_json),
        None,
    );
    let a = key.do_authentication(origin(), rcr).unwrap();
    let err = svc
        .finish_authentication(ceremony, &assertion_json(&a), None, none, now())
        .unwrap_err();
    assert_eq!(err, WebauthnError::UnknownCredential);
}

#[test]
fn security_key_registration_refuses_a_platform_authenticator() {
    let svc = service();
    let err = register(
        &svc,
        &mut uv_token(),
        Uuid::new_v4(),
        RegistrationKind::SecurityKey,
        Some("platform"),
    )
    .unwrap_err();
    assert!(matches!(err, WebauthnError::Rejected(_)), "{err:?}");
}

#[test]
fn mode_mapping() {
    use AuthenticationMethodMode::{Fido2, WindowsHelloForBusiness};
    assert_eq!(
        mode_for(Attachment::Platform, false, true),
        WindowsHelloForBusiness
    );
    // A synced passkey on a platform authenticator is a passkey: fido2.
    assert_eq!(mode_for(Attachment::Platform, true, true), Fido2);
    assert_eq!(mode_for(Attachment::Platform, false, false), Fido2);
    assert_eq!(mode_for(Attachment::CrossPlatform, false, true), Fido2);
    assert_eq!(mode_for(Attachment::CrossPlatform, true, true), Fido2);
}

#[test]
fn configuration_is_checked() {
    let http = WebauthnConfig::new(
        "example.com",
        "P",
        Url::parse("http://login.example.com").unwrap(),
    );
    assert!(matches!(
        Webauthn::new(http),
        Err(WebauthnError::Configuration(_))
    ));
    let foreign = WebauthnConfig::new("other.test", "P", origin());
    assert!(matches!(
        Webauthn::new(foreign),
        Err(WebauthnError::Configuration(_))
    ));
    let mut empty_cas = config();
    empty_cas.attestation_cas = Some(AttestationCaListBuilder::new().build());
    assert!(matches!(
        Webauthn::new(empty_cas),
        Err(WebauthnError::Configuration(_))
    ));
    let local = WebauthnConfig::new(
        "localhost",
        "P",
        Url::parse("http://localhost:8080").unwrap(),
    );
    assert!(Webauthn::new(local).is_ok());
}
