//! `/authorize`: the query as the endpoint reads it (`server::oidc::authorize::parse_params`),
//! validated against a registered client by `server::oidc::request::validate` (the `claims`
//! parameter, `acr_values`, `max_age`, PKCE, `prompt`…), and an error sent back to the client
//! through `server::signin::redirect_with`.
//!
//! Beyond "no panic": a request is accepted only for a registered redirect URI, an error is only
//! ever sent to one, the accepted request reads back as itself from the sign-in transaction
//! that keeps it, and its requested `acr` values spell themselves again.
#![no_main]

use chrono::TimeZone;
use libfuzzer_sys::fuzz_target;
use policy::assessment::AcrRequest;
use server::oidc::request::{validate, AuthorizationRequest, RequestError};

fn clients() -> [store::OidcClient; 2] {
    let created_at = chrono::Utc
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .expect("a time");
    [
        store::OidcClient {
            client_id: "portal".into(),
            display_name: "Portal".into(),
            redirect_uris: vec![
                "https://app.example/cb".into(),
                "http://localhost:8080/demo/callback".into(),
            ],
            is_public: true,
            secret_hash: None,
            created_at,
        },
        store::OidcClient {
            client_id: "backend".into(),
            display_name: "Back end".into(),
            redirect_uris: vec!["https://backend.example/signin-oidc?tenant=a".into()],
            is_public: false,
            secret_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
            created_at,
        },
    ]
}

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    let Ok(params) = server::oidc::authorize::parse_params(&query) else {
        return;
    };
    let clients = clients();
    // The endpoint looks the client up by its id.
    let client = clients
        .iter()
        .find(|c| params.client_id.as_deref() == Some(c.client_id.as_str()));
    match validate(&params, client) {
        Ok(request) => {
            let client = client.expect("accepted for a registered client");
            assert!(client.redirect_uris.contains(&request.redirect_uri));
            let kept = serde_json::to_string(&request).expect("a request serializes");
            let reread: AuthorizationRequest =
                serde_json::from_str(&kept).expect("a kept request reads");
            assert_eq!(reread, request);
            for acr in &request.acr {
                assert_eq!(AcrRequest::parse(&acr.as_acr()).as_ref(), Some(acr));
            }
        }
        Err(RequestError::Redirect {
            redirect_uri,
            error,
            description,
            state,
        }) => {
            let client = client.expect("an error is redirected only to a registered client");
            assert!(client.redirect_uris.contains(&redirect_uri));
            let target = server::signin::redirect_with(
                &redirect_uri,
                &[
                    ("error", Some(error)),
                    ("error_description", Some(description.as_str())),
                    ("state", state.as_deref()),
                ],
            );
            let sent = url::Url::parse(&target).expect("the redirect is a URL");
            let echoed = sent
                .query_pairs()
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned());
            assert_eq!(echoed, state, "the client's state comes back as sent");
        }
        Err(RequestError::Page(_)) => {}
    }
});
