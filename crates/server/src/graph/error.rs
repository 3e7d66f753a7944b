//! Graph error bodies: `{"error":{"code":"…","message":"…","innerError":{…}}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// An error answered in Graph's shape.
#[derive(Debug, Clone)]
pub struct GraphError {
    /// HTTP status.
    pub status: StatusCode,
    /// Graph error code (`Request_ResourceNotFound`, `RoleAssignmentRequestAcrsValidationFailed`…).
    pub code: String,
    /// A sentence for the caller.
    pub message: String,
    /// Extra members of `innerError`.
    pub inner: Option<Value>,
    /// `WWW-Authenticate` challenges to send (one header each).
    pub challenges: Vec<String>,
}

impl GraphError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code: code.to_string(),
            message: message.into(),
            inner: None,
            challenges: Vec::new(),
        }
    }

    /// 400 `BadRequest`-like errors.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 `Request_ResourceNotFound`.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!("{what} '{id}' does not exist."),
        )
    }

    /// 403 `Authorization_RequestDenied`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            message,
        )
    }

    /// The error for a service's refusal: `code`'s status, `code` and the service's sentence.
    pub fn refusal(code: app::ErrorCode, message: impl Into<String>) -> Self {
        use app::ErrorCode as C;
        let status = match code {
            C::ResourceNotFound | C::RuleNotFound => StatusCode::NOT_FOUND,
            C::AuthorizationDenied
            | C::SelfApprovalNotAllowed
            | C::NotAnApprover
            | C::NotTheRequester => StatusCode::FORBIDDEN,
            C::ConditionalAccessLockout
            | C::ConcurrentChange
            | C::Conflict
            | C::InvalidRequestState => StatusCode::CONFLICT,
            C::BadRequest
            | C::AcrsValidationFailed
            | C::PolicyValidationFailed
            | C::RoleAssignmentDoesNotExist
            | C::RoleAssignmentExists
            | C::ActiveDurationTooShort
            | C::JustificationRequired
            | C::InvalidPolicy
            | C::InvalidPolicyRule
            | C::Other(_) => StatusCode::BAD_REQUEST,
        };
        Self::new(status, code.as_str(), message)
    }

    /// A service's failure: its refusal when the caller made a mistake (`code` is `Some`),
    /// otherwise `500` with a reference (the cause is logged, never sent).
    pub fn from_service<E: std::error::Error>(code: Option<app::ErrorCode>, error: E) -> Self {
        match code {
            Some(code) => Self::refusal(code, error.to_string()),
            None => crate::error::ServeError::Internal(error_chain(&error)).into(),
        }
    }

    /// Adds `innerError` members.
    pub fn with_inner(mut self, inner: Value) -> Self {
        self.inner = Some(inner);
        self
    }
}

/// An error with its causes, for the log.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<crate::error::ServeError> for GraphError {
    fn from(e: crate::error::ServeError) -> Self {
        let reference = store::new_id();
        tracing::error!(%reference, error = %e, "internal error");
        GraphError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            format!("internal error (reference {reference})"),
        )
    }
}

/// Small helpers return their error boxed (a `GraphError` is large); `?` unboxes it.
impl From<Box<GraphError>> for GraphError {
    fn from(e: Box<GraphError>) -> Self {
        *e
    }
}

impl From<store::StoreError> for GraphError {
    fn from(e: store::StoreError) -> Self {
        crate::error::ServeError::from(e).into()
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let mut inner = json!({
            "date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "request-id": store::new_id(),
        });
        if let (Some(Value::Object(extra)), Some(obj)) = (self.inner, inner.as_object_mut()) {
            obj.extend(extra);
        }
        let body =
            json!({ "error": { "code": self.code, "message": self.message, "innerError": inner } });
        let mut response = (self.status, Json(body)).into_response();
        for c in self.challenges {
            if let Ok(v) = HeaderValue::from_str(&c) {
                response.headers_mut().append(header::WWW_AUTHENTICATE, v);
            }
        }
        response
    }
}
