//! Refusing a NUL character (U+0000) in what a request names, before any handler reads it.
//!
//! PostgreSQL's text cannot hold a NUL: an id or a name holding one fails in the store (a 500)
//! where it should simply match nothing. No identifier, name or form value of this service
//! holds one, so a request that carries one is refused outright with `400`: in its path or
//! query (`%00`), or in a form body (`application/x-www-form-urlencoded` always encodes it as
//! `%00`). The Graph API refuses the same with its own error body (graph/body.rs), so `/v1.0`
//! is left to it.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The largest form body read (the size axum's `Form` accepts by default).
const FORM_LIMIT: usize = 2 * 1024 * 1024;

const REFUSED: &str = "The request holds a NUL character (U+0000), which no value here can hold.";

/// Whether URL- or form-encoded `bytes` hold an encoded NUL (`%00`, in any letter case).
pub(crate) fn holds_encoded_nul(bytes: &[u8]) -> bool {
    bytes.windows(3).any(|w| w.eq_ignore_ascii_case(b"%00"))
}

fn refused() -> Response {
    (StatusCode::BAD_REQUEST, REFUSED).into_response()
}

/// The middleware: refuses a request with a NUL in its URI or form body (outside `/v1.0`).
pub async fn refuse_nul(request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/v1.0/") {
        return next.run(request).await;
    }
    let uri = request.uri().path_and_query().map_or("", |p| p.as_str());
    if holds_encoded_nul(uri.as_bytes()) {
        return refused();
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                "The form is larger than this service reads (2 MiB).",
            )
                .into_response()
        }
    };
    if holds_encoded_nul(&bytes) {
        return refused();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_an_encoded_nul_in_any_case() {
        assert!(holds_encoded_nul(b"client_id=%00"));
        assert!(holds_encoded_nul(b"/authorize?x=a%00b"));
        assert!(!holds_encoded_nul(b"client_id=%2500"));
        assert!(!holds_encoded_nul(b"a=100&b=%0A"));
        assert!(!holds_encoded_nul(b""));
    }
}
