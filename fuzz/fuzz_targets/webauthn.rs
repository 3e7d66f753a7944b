//! WebAuthn responses as the browser posts them: an assertion to the sign-in page
//! (`server::signin::webauthn::Finish`, read as its handler reads it) finished by
//! `authn::webauthn::Webauthn::finish_authentication`, and a registration to security info
//! finished by `finish_registration`, each against a real ceremony started by the service
//! (`start_authentication`, `start_registration`, stored as JSON and read back as the store
//! does) for a credential a software passkey registered.
//!
//! The first byte picks the ceremony. A rest that is a JSON object is a merge patch (RFC 7386)
//! of the valid body the passkey answered with, so that the fuzzer starts from a response that
//! passes every check; anything else is the body itself.
//!
//! Beyond "no panic": the valid bodies pass; an accepted assertion is for the registered
//! credential and user, made for the ceremony's binding, with exactly the signed bytes the
//! passkey produced; an accepted registration is of the passkey's credential for the user.
#![no_main]

use authn::webauthn::{
    binding_hash, mode_for, AuthenticationCeremony, RegistrationCeremony, RegistrationKind,
    Webauthn, WebauthnConfig,
};
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::{json_request, now};
use serde_json::{json, Value};
use std::sync::OnceLock;
use uuid::Uuid;
use webauthn_authenticator_rs::prelude::{PublicKeyCredential, Url};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator;

const ORIGIN: &str = "https://login.example.com";
/// What a sign-in binds its assertion to: the sign-in transaction's id.
const BINDING: &[u8] = b"sign-in transaction 7f3c";

/// The service, a registered credential, and both ceremonies with the valid answers.
struct Fixture {
    webauthn: Webauthn,
    user: Uuid,
    registration: String,
    registration_body: Value,
    credential_id: Vec<u8>,
    credential_json: String,
    authentication: String,
    assertion_body: Value,
    assertion: PublicKeyCredential,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let origin = Url::parse(ORIGIN).expect("an origin");
        let webauthn = Webauthn::new(WebauthnConfig::new(
            "example.com",
            "Portcullis",
            origin.clone(),
        ))
        .expect("the service");
        let user = Uuid::from_u128(0x0a11ce);
        let mut passkey = SoftPasskey::new(true);

        let (options, ceremony) = webauthn
            .start_registration(user, "alice", "Alice", &[], RegistrationKind::Any, now())
            .expect("a registration starts");
        let registration = ceremony.to_json().expect("a ceremony serializes");
        let response = passkey
            .do_registration(
                origin.clone(),
                serde_json::from_str(&options).expect("options"),
            )
            .expect("the passkey registers");
        let credential = serde_json::to_value(&response).expect("a response serializes");
        let registration_body =
            json!({"ceremonyId": "r1", "credential": credential, "name": "Alice's passkey"});
        let registered = webauthn
            .finish_registration(ceremony, &credential.to_string(), now())
            .expect("the passkey's registration passes");

        let (options, ceremony) = webauthn
            .start_authentication(user, &[&registered.credential_json], Some(BINDING), now())
            .expect("an authentication starts");
        let authentication = ceremony.to_json().expect("a ceremony serializes");
        let assertion = passkey
            .do_authentication(origin, serde_json::from_str(&options).expect("options"))
            .expect("the passkey asserts");
        let assertion_body = json!({"ceremonyId": "a1", "credential": assertion});
        let fixture = Fixture {
            webauthn,
            user,
            registration,
            registration_body,
            credential_id: registered.credential_id,
            credential_json: registered.credential_json,
            authentication,
            assertion_body,
            assertion,
        };
        for (assertion, body) in [
            (true, &fixture.assertion_body),
            (false, &fixture.registration_body),
        ] {
            let bytes = body.to_string().into_bytes();
            assert!(
                finish(&fixture, assertion, &bytes),
                "the valid answer passes"
            );
        }
        fixture
    })
}

/// The body posted: `rest` patched onto `valid` when it is a JSON object, else `rest` itself.
fn body(valid: &Value, rest: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<Value>(rest) {
        Ok(patch @ Value::Object(_)) => {
            let mut body = valid.clone();
            policy::merge_patch::merge_patch(&mut body, &patch);
            body.to_string().into_bytes()
        }
        _ => rest.to_vec(),
    }
}

/// Finishes the ceremony with `body` as the service does; whether it passed.
fn finish(fixture: &Fixture, assertion: bool, body: &[u8]) -> bool {
    if assertion {
        // The sign-in page's handler reads the body with axum's `Json`.
        let Ok(finish) = serde_json::from_slice::<server::signin::webauthn::Finish>(body) else {
            return false;
        };
        let ceremony =
            AuthenticationCeremony::from_json(&fixture.authentication).expect("a stored ceremony");
        let response = finish.credential.to_string();
        let Ok(done) = fixture.webauthn.finish_authentication(
            ceremony,
            &response,
            Some(BINDING),
            &[&fixture.credential_json],
            now(),
        ) else {
            return false;
        };
        assert_eq!(done.user_id, fixture.user);
        assert_eq!(done.credential_id, fixture.credential_id);
        assert_eq!(done.binding_hash, Some(binding_hash(BINDING)));
        assert!(done.user_verified);
        let presented: PublicKeyCredential =
            serde_json::from_value(finish.credential).expect("an accepted response parses");
        let (valid, given) = (&fixture.assertion.response, &presented.response);
        assert_eq!(given.authenticator_data, valid.authenticator_data);
        assert_eq!(given.client_data_json, valid.client_data_json);
        assert_eq!(given.signature, valid.signature);
        true
    } else {
        // Security info reads its body through the Graph body extractor.
        let Ok(finish) = json_request(Some("application/json"), body).object("a registration")
        else {
            return false;
        };
        let Some(credential) = finish.get("credential") else {
            return false;
        };
        let ceremony =
            RegistrationCeremony::from_json(&fixture.registration).expect("a stored ceremony");
        let Ok(registered) =
            fixture
                .webauthn
                .finish_registration(ceremony, &credential.to_string(), now())
        else {
            return false;
        };
        assert_eq!(registered.user_id, fixture.user);
        assert!(registered.user_verified);
        assert_eq!(
            registered.mode,
            mode_for(
                registered.attachment,
                registered.backup_eligible,
                registered.user_verified
            )
        );
        true
    }
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let assertion = first & 1 == 0;
    let valid = if assertion {
        &fixture.assertion_body
    } else {
        &fixture.registration_body
    };
    finish(fixture, assertion, &body(valid, rest));
});
