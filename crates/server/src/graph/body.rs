//! The JSON body of a Graph write (`POST`, `PATCH`): one extractor for every write route, so that
//! all of them answer alike — `415 UnsupportedMediaType` for a body not declared as JSON,
//! `400 BadRequest` for JSON that does not read as what the route takes, both as Graph error
//! bodies.
//!
//! The body is checked when the handler reads it ([`JsonBody::parse`]), that is after the
//! caller has been authenticated and authorized, so that a caller learns nothing about a route's
//! body before they may use the route. An empty body needs no type: some writes take none (a
//! temporary access pass with the defaults).

use crate::graph::error::GraphError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The raw body of a Graph write and the media type it was declared with.
#[derive(Debug, Clone)]
pub struct JsonBody {
    bytes: Bytes,
    content_type: Option<String>,
}

/// Why a body is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// A body whose `Content-Type` is not JSON (or missing).
    #[error(
        "The body must be JSON sent with Content-Type: application/json; it was sent {}.",
        sent(.declared)
    )]
    NotJson {
        /// The media type declared, if any.
        declared: Option<String>,
    },
    /// JSON that does not read as what the route takes.
    #[error("The body is not {what}: {reason}")]
    Malformed {
        /// What the route takes ("a conditionalAccessPolicy").
        what: &'static str,
        /// What serde said.
        reason: String,
    },
    /// JSON that is not an object where the route takes one.
    #[error("The body must be a JSON object ({what}).")]
    NotAnObject {
        /// What the route takes.
        what: &'static str,
    },
    /// A string (or a member name) holding a NUL character.
    #[error("{NUL_REFUSED}")]
    Nul,
}

/// The sentence for a request that holds a NUL character anywhere.
pub const NUL_REFUSED: &str = "The request holds a NUL character (U+0000), which no Graph value \
                               can hold.";

/// How a body was sent, for [`BodyError::NotJson`].
fn sent(declared: &Option<String>) -> String {
    match declared {
        Some(t) => format!("as '{t}'"),
        None => "without a Content-Type".to_string(),
    }
}

impl From<BodyError> for GraphError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::NotJson { .. } => GraphError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                e.to_string(),
            ),
            BodyError::Malformed { .. } | BodyError::NotAnObject { .. } | BodyError::Nul => {
                GraphError::bad_request("BadRequest", e.to_string())
            }
        }
    }
}

/// Whether a `Content-Type` value names JSON: `application/json` or a JSON-based type such as
/// `application/merge-patch+json`, any letter case, with or without parameters (`charset`).
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.len() > "+json".len() && sub.ends_with("+json"))
}

impl JsonBody {
    /// Whether the body is empty (or only white space).
    pub fn is_empty(&self) -> bool {
        self.bytes.iter().all(u8::is_ascii_whitespace)
    }

    /// The body's bytes, once it is known to be declared JSON.
    fn json_bytes(&self) -> Result<&[u8], BodyError> {
        match &self.content_type {
            Some(t) if is_json(t) => Ok(&self.bytes),
            declared => Err(BodyError::NotJson {
                declared: declared.clone(),
            }),
        }
    }

    /// The body read as `T`; `what` names `T` the way Graph does, for the error. A body with a
    /// NUL character in any string is refused: PostgreSQL's text cannot hold one (it failed the
    /// write with a 500), and no Graph value has one.
    pub fn parse<T: DeserializeOwned>(&self, what: &'static str) -> Result<T, BodyError> {
        let bytes = self.json_bytes()?;
        let malformed = |e: serde_json::Error| BodyError::Malformed {
            what,
            reason: e.to_string(),
        };
        let value: Value = serde_json::from_slice(bytes).map_err(malformed)?;
        if holds_nul(&value) {
            return Err(BodyError::Nul);
        }
        // Read again from the bytes, not the value, so that errors keep their line and column.
        serde_json::from_slice(bytes).map_err(malformed)
    }

    /// The body read as `T`, or `None` when there is none.
    pub fn parse_optional<T: DeserializeOwned>(
        &self,
        what: &'static str,
    ) -> Result<Option<T>, BodyError> {
        if self.is_empty() {
            return Ok(None);
        }
        self.parse(what).map(Some)
    }

    /// The body as a JSON object.
    pub fn object(&self, what: &'static str) -> Result<Value, BodyError> {
        let value: Value = self.parse(what)?;
        if !value.is_object() {
            return Err(BodyError::NotAnObject { what });
        }
        Ok(value)
    }
}

/// Whether a string or member name anywhere in `value` holds a NUL character.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(members) => members
            .iter()
            .any(|(name, member)| name.contains('\0') || holds_nul(member)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Refuses, before any handler, a Graph request whose path or query holds an encoded NUL
/// character (`%00`, the only way one reaches a URI): the ids and names it would become cannot be
/// looked up in PostgreSQL (which answered with a 500).
pub async fn refuse_nul_in_uri(
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let encoded = request.uri().path_and_query().map_or("", |p| p.as_str());
    if crate::nul::holds_encoded_nul(encoded.as_bytes()) {
        return GraphError::bad_request("BadRequest", NUL_REFUSED).into_response();
    }
    next.run(request).await
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = GraphError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        // A header that is not text cannot name JSON: kept lossily, for the message.
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        // Buffered under axum's default body limit; too large or broken is a Graph error too.
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                "RequestEntityTooLarge"
            } else {
                "BadRequest"
            };
            GraphError::new(e.status(), code, e.body_text())
        })?;
        Ok(JsonBody {
            bytes,
            content_type,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn body(content_type: Option<&str>, text: &str) -> JsonBody {
        JsonBody {
            bytes: Bytes::from(text.to_string()),
            content_type: content_type.map(str::to_string),
        }
    }

    #[test]
    fn a_nul_character_anywhere_is_refused() {
        let json = Some("application/json");
        for text in [
            r#"{"displayName": "a\u0000b"}"#,
            r#"{"a\u0000": 1}"#,
            r#"{"deep": [{"x": ["\u0000"]}]}"#,
        ] {
            assert_eq!(
                body(json, text).parse::<Value>("a thing"),
                Err(BodyError::Nul),
                "{text}"
            );
        }
        // An escaped backslash before "u0000" is six characters, no NUL.
        let text = r#"{"displayName": "a\\u0000b"}"#;
        assert_eq!(
            body(json, text).parse::<Value>("a thing").unwrap()["displayName"],
            "a\\u0000b"
        );
        // Type errors keep serde's position.
        let error = body(json, r#"{"n": "x"}"#)
            .parse::<std::collections::HashMap<String, u8>>("a thing")
            .unwrap_err();
        assert!(error.to_string().contains("line 1 column"), "{error}");
    }

    #[test]
    fn json_media_types_are_recognised() {
        for t in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/merge-patch+json",
            " application/json ;odata.metadata=minimal",
        ] {
            assert!(is_json(t), "{t}");
        }
        for t in [
            "text/plain",
            "application/jsonp",
            "application/+json",
            "text/json+xml",
            "application/x-www-form-urlencoded",
            "",
        ] {
            assert!(!is_json(t), "{t}");
        }
    }

    #[test]
    fn a_body_not_declared_json_is_415_and_malformed_json_is_400() {
        let e = body(Some("text/plain"), "{}")
            .parse::<Value>("a thing")
            .unwrap_err();
        assert!(e.to_string().contains("'text/plain'"), "{e}");
        assert_eq!(
            GraphError::from(e).status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let e = body(None, "{}").parse::<Value>("a thing").unwrap_err();
        assert!(e.to_string().contains("without a Content-Type"), "{e}");
        let e = body(Some("application/json"), "{")
            .parse::<Value>("a thing")
            .unwrap_err();
        assert!(
            e.to_string().starts_with("The body is not a thing: "),
            "{e}"
        );
        assert_eq!(GraphError::from(e).status, StatusCode::BAD_REQUEST);
        let e = body(Some("application/json"), "[]")
            .object("a thing")
            .unwrap_err();
        assert_eq!(e, BodyError::NotAnObject { what: "a thing" });
    }

    #[test]
    fn an_empty_body_needs_no_type() {
        assert_eq!(
            body(None, " \n").parse_optional::<Value>("a thing"),
            Ok(None)
        );
        assert_eq!(
            body(Some("text/plain"), "").parse_optional::<Value>("a thing"),
            Ok(None)
        );
        assert_eq!(
            body(Some("application/json"), "{\"a\":1}").parse_optional::<Value>("a thing"),
            Ok(Some(serde_json::json!({"a": 1})))
        );
    }
}
