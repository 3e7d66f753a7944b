//! What every browser-facing answer gets: the security headers (a strict Content-Security-Policy
//! with no inline script, no framing, no referrer to other sites, no sniffing, no caching), the same-origin
//! check on every state-changing request of the pages, the pages' static script and style, and
//! the way from `127.0.0.1` to the `localhost` issuer.
//!
//! The same-origin check (CSRF protection): a POST, PUT, PATCH or DELETE to a form route
//! (sign-in, security info, the portal, the demo) must carry an `Origin` header equal to the
//! issuer's origin, or, lacking one, a `Referer` of that origin. Browsers send `Origin` with
//! every POST, so a form posted from another site, of any content type, is refused; a request
//! with neither header is refused too (only a non-browser client would send it, and the pages
//! are for browsers). The API (`/v1.0`, `/token`, …) authenticates by bearer token or client
//! secret, never by cookie, and is not concerned.

use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// The Content-Security-Policy of every answer: scripts and styles from the service only, no
/// inline script, no plug-ins, no framing, no `<base>` rewriting.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// The routes of the pages' static files.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/static/portcullis.css", get(css))
        .route("/static/signin.js", get(signin_js))
        .route("/static/account.js", get(account_js))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../static/portcullis.css"),
    )
}

async fn signin_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../static/signin.js"),
    )
}

async fn account_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../static/account.js"),
    )
}

/// Whether `path` is one of the pages' form routes (cookie-authenticated, for browsers). Not
/// `/authorize` and `/logout`, which relying parties may reach with a cross-site POST by design.
fn is_form_route(path: &str) -> bool {
    ["/signin/", "/account", "/my/", "/admin", "/demo"]
        .iter()
        .any(|p| path.starts_with(p))
}

/// Whether `path` is a page a person opens.
fn is_page_route(path: &str) -> bool {
    is_form_route(path)
        || path == "/"
        || ["/authorize", "/logout"]
            .iter()
            .any(|p| path.starts_with(p))
}

/// Whether the request's `Origin` (or, lacking it, `Referer`) is the issuer's origin.
fn same_origin(headers: &HeaderMap, issuer_origin: &str) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin.to_str().is_ok_and(|o| o == issuer_origin);
    }
    headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .is_some_and(|r| r.origin().ascii_serialization() == issuer_origin)
}

/// When the issuer is `http://localhost:PORT` and the browser opened `127.0.0.1:PORT` (or
/// `[::1]`): the same page on the issuer's host, where cookies and passkeys work.
fn on_issuer_host(state: &AppState, request: &Request) -> Option<String> {
    if !matches!(*request.method(), Method::GET | Method::HEAD)
        || !is_page_route(request.uri().path())
    {
        return None;
    }
    let issuer = url::Url::parse(&state.issuer).ok()?;
    if issuer.host_str() != Some("localhost") {
        return None;
    }
    let host = request.headers().get(header::HOST)?.to_str().ok()?;
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let loopback = name
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return None;
    }
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    Some(format!("{}{path}", state.issuer))
}

/// The middleware: redirects loopback addresses to the issuer's host, refuses cross-origin
/// state changes of the pages, and adds the security headers to every answer.
pub async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if let Some(target) = on_issuer_host(&state, &request) {
        return Redirect::temporary(&target).into_response();
    }
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if unsafe_method && is_form_route(request.uri().path()) {
        let issuer_origin = url::Url::parse(&state.issuer)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        if !same_origin(request.headers(), &issuer_origin) {
            tracing::warn!(path = %request.uri().path(), "cross-origin form post refused");
            let mut refused = (
                StatusCode::FORBIDDEN,
                "This form was not sent from a Portcullis page (its origin is missing or \
                 another site's). Open the page again and retry.\n",
            )
                .into_response();
            secure(refused.headers_mut());
            return refused;
        }
    }
    let mut response = next.run(request).await;
    secure(response.headers_mut());
    response
}

/// The security headers; `Cache-Control: no-store` unless the answer set its own.
fn secure(headers: &mut HeaderMap) {
    let set = |headers: &mut HeaderMap, name: header::HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    // Not `no-referrer`: under it browsers send `Origin: null` with a form's POST, and the
    // same-origin check could not tell the service's own forms from anyone's. `same-origin`
    // still sends nothing (no sign-in URL, no code) to another site.
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
}
