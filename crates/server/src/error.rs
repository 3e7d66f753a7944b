//! Errors: at startup ([`ServeError`]), on OAuth endpoints ([`OAuthError`], RFC 6749 §5.2 JSON)
//! and on pages ([`PageError`], a readable HTML page).

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

/// Why the service cannot start or an operation failed inside it.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration cannot be used.
    #[error("configuration: {0}")]
    Config(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Keys or tokens failed.
    #[error(transparent)]
    Token(#[from] tokens::keys::TokenError),
    /// Conditional Access could not evaluate.
    #[error("conditional access: {0}")]
    Evaluate(#[from] policy::engine::EvaluateError),
    /// Network or file I/O.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Something that should not happen.
    #[error("internal error: {0}")]
    Internal(String),
}

/// An OAuth 2.0 error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OAuthError {
    /// HTTP status.
    #[serde(skip)]
    pub status: StatusCode,
    /// RFC 6749 error code (`invalid_grant`, …).
    pub error: &'static str,
    /// A sentence for the developer.
    pub error_description: String,
}

impl OAuthError {
    /// A 400 with this code and description.
    pub fn bad_request(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            error,
            error_description: description.into(),
        }
    }

    /// `invalid_client` (401).
    pub fn invalid_client(description: impl Into<String>) -> Self {
        OAuthError {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            error_description: description.into(),
        }
    }
}

impl From<ServeError> for OAuthError {
    fn from(e: ServeError) -> Self {
        let reference = store::new_id();
        tracing::error!(%reference, error = %e, "internal error");
        OAuthError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            error_description: format!("internal error (reference {reference})"),
        }
    }
}

impl From<store::StoreError> for OAuthError {
    fn from(e: store::StoreError) -> Self {
        ServeError::from(e).into()
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(&self)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"portcullis\""),
            );
        }
        response
    }
}

/// An error shown to a person in the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageError {
    /// HTTP status.
    pub status: StatusCode,
    /// Heading.
    pub title: String,
    /// What happened and what to do.
    pub message: String,
}

impl PageError {
    /// A 400 page.
    pub fn bad_request(title: impl Into<String>, message: impl Into<String>) -> Self {
        PageError {
            status: StatusCode::BAD_REQUEST,
            title: title.into(),
            message: message.into(),
        }
    }

    /// A page with another status.
    pub fn new(status: StatusCode, title: impl Into<String>, message: impl Into<String>) -> Self {
        PageError {
            status,
            title: title.into(),
            message: message.into(),
        }
    }
}

impl From<ServeError> for PageError {
    fn from(e: ServeError) -> Self {
        let reference = store::new_id();
        tracing::error!(%reference, error = %e, "internal error");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            format!(
                "The sign-in service failed. Try again; if it keeps failing, give your \
                 administrator this reference: {reference}"
            ),
        )
    }
}

impl From<store::StoreError> for PageError {
    fn from(e: store::StoreError) -> Self {
        ServeError::from(e).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match crate::signin::pages::error_page(&self.title, &self.message) {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "error page did not render");
                (self.status, self.message).into_response()
            }
        }
    }
}

/// A page form's body: axum's [`axum::Form`], except that a body which is not the form the page
/// sent (malformed, another content type, a field of the wrong kind) is refused with the error
/// page, in words, rather than with axum's plain-text rejection.
#[derive(Debug, Clone)]
pub struct PageForm<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for PageForm<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, PageError> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(PageForm(value)),
            // One answer for every way a body can be wrong: a 400 that changes nothing.
            Err(rejection) => Err(PageError::bad_request(
                "This form could not be read",
                format!(
                    "What was sent is not the form this page sends ({}). Nothing was changed: \
                     go back, reload the page and send it again.",
                    rejection.body_text()
                ),
            )),
        }
    }
}
