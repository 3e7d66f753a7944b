//! `/token`: the form body as the endpoint reads it (`server::oidc::token::form_params`) and who
//! the client says it is (`server::oidc::token::credentials`: HTTP Basic or form fields). The
//! input is the `Authorization` header's value up to the first line break (none when empty),
//! then the form.
//!
//! Beyond "no panic": no parameter read is empty or missing from the form, a client named only
//! by the form is the form's `client_id`, and credentials sent with HTTP Basic the way RFC 6749
//! §2.3.1 says (form-encoded, then base64) read back as they were sent.
#![no_main]

use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use server::oidc::token::{credentials, form_params, is_form};
use std::collections::BTreeMap;

fn request_headers(authorization: Option<&[u8]>) -> Option<HeaderMap> {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    if let Some(value) = authorization {
        headers.insert(header::AUTHORIZATION, HeaderValue::from_bytes(value).ok()?);
    }
    Some(headers)
}

fn encoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fuzz_target!(|data: &[u8]| {
    let (authorization, form) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (Some(&data[..at]).filter(|a| !a.is_empty()), &data[at + 1..]),
        None => (None, data),
    };
    let Some(headers) = request_headers(authorization) else {
        return;
    };
    assert!(is_form(&headers));
    let Ok(params) = form_params(form) else {
        return;
    };
    let sent: Vec<(String, String)> = url::form_urlencoded::parse(form).into_owned().collect();
    for (name, value) in &params {
        assert!(!value.is_empty());
        assert!(sent.contains(&(name.clone(), value.clone())));
    }
    if let Ok(who) = credentials(&headers, &params) {
        assert!(!who.client_id.is_empty() || authorization.is_none());
        if authorization.is_none() {
            assert_eq!(Some(&who.client_id), params.get("client_id"));
            assert_eq!(who.secret.as_ref(), params.get("client_secret"));
        }
        // The same client, sent with HTTP Basic alone.
        if !who.client_id.is_empty() {
            let secret = who.secret.clone().unwrap_or_default();
            let basic =
                STANDARD.encode(format!("{}:{}", encoded(&who.client_id), encoded(&secret)));
            let basic_headers =
                request_headers(Some(format!("Basic {basic}").as_bytes())).expect("a header value");
            let again = credentials(&basic_headers, &BTreeMap::new())
                .unwrap_or_else(|_| panic!("{who:?} sent with HTTP Basic is refused"));
            assert_eq!(again.client_id, who.client_id);
            assert_eq!(again.secret, Some(secret));
        }
    }
});
