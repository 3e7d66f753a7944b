//! The portal at `/`: *My access* for every signed-in user — *My roles* (eligible and active
//! roles; *Activate*, which leads straight into the request-bound step-up and back;
//! *Deactivate*, *Extend* and *Renew*), *My requests* (and *Cancel* while one waits),
//! *Approvals* (*Approve* and *Deny*, never one's own) and *Security info* (`/account`).
//!
//! Server-rendered (askama), with no script of its own: every action is a plain form `POST`
//! under `/my/`, which the same-origin check of [`crate::browser`] guards like every page form
//! (a `POST` without this origin's `Origin`, or lacking one its `Referer`, is refused; the
//! cookies are `HttpOnly` and `SameSite=Lax`; no `GET` changes anything but the code redemption
//! below, which only this browser's own sign-in can feed).
//!
//! Signing in: like security info, the portal is an OpenID Connect client of the service itself
//! ([`CLIENT_ID`], confidential with a secret nobody holds). A visitor without a session is sent
//! through the ordinary sign-in pages; an activation whose role requires an authentication
//! context opens a sign-in with `claims` (`acrs`) and `step_up_request` — the same one a Graph
//! client opens at `/authorize` — and `/my/callback` redeems the code itself: it must belong to
//! this browser's session, and for a step-up it is the proof, used once, that activates the
//! request through the application core ([`app::pim::activation`]).

mod approvals;
mod holder;
mod requests;
mod roles;

use crate::error::{PageError, ServeError};
use crate::oidc::authorize::open_transaction;
use crate::oidc::request::AuthorizationRequest;
use crate::session::BrowserSession;
use crate::state::AppState;
use crate::web::token_hash;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::sync::Arc;

/// The portal's own client, through which it signs users in and steps them up.
pub const CLIENT_ID: &str = "portcullis-my-access";

/// Where the portal's sign-ins come back.
const CALLBACK: &str = "/my/callback";

/// The portal's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(home))
        .route("/my/roles", get(roles::page))
        .route("/my/roles/activate", post(roles::activate))
        .route("/my/roles/step-up", post(roles::resume_step_up))
        .route("/my/roles/deactivate", post(holder::deactivate))
        .route("/my/roles/extend", post(holder::extend))
        .route("/my/roles/renew", post(holder::renew))
        .route("/my/requests", get(requests::mine))
        .route("/my/requests/cancel", post(requests::cancel))
        .route("/my/approvals", get(approvals::page))
        .route("/my/approvals/decide", post(approvals::decide))
        .route(CALLBACK, get(callback))
}

/// Registers (or updates) the portal's client.
pub async fn register_client(state: &AppState) -> Result<(), ServeError> {
    crate::account::register_own_client(state, CLIENT_ID, "Portcullis My access", CALLBACK).await
}

/// Where a plain sign-in returns to, carried in the sign-in's `state`: one of the portal's
/// pages or an admin center page, never an address a link could choose (see
/// [`Return::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Return {
    Home,
    Roles,
    Requests,
    Approvals,
    /// A page of the admin center: a path under `/admin`, checked by [`admin_path`].
    Admin(String),
}

impl Return {
    const PAGES: [Return; 4] = [
        Return::Home,
        Return::Roles,
        Return::Requests,
        Return::Approvals,
    ];

    fn as_state(&self) -> String {
        match self {
            Return::Home => "home".into(),
            Return::Roles => "roles".into(),
            Return::Requests => "requests".into(),
            Return::Approvals => "approvals".into(),
            Return::Admin(path) => format!("admin:{path}"),
        }
    }

    fn path(&self) -> &str {
        match self {
            Return::Home => "/",
            Return::Roles => "/my/roles",
            Return::Requests => "/my/requests",
            Return::Approvals => "/my/approvals",
            Return::Admin(path) => path,
        }
    }

    /// The page a `state` names; home for anything else.
    fn parse(state: Option<&str>) -> Return {
        if let Some(path) = state.and_then(|s| s.strip_prefix("admin:")) {
            return admin_path(path).map_or(Return::Home, Return::Admin);
        }
        Return::PAGES
            .into_iter()
            .find(|r| Some(r.as_state().as_str()) == state)
            .unwrap_or(Return::Home)
    }
}

/// `path` if it is a page of the admin center: `/admin` or below, letters, digits, `-`, `_`
/// and single slashes only, so that no `state` can send the browser to another site
/// (`//evil.example`), up a directory, or into a query.
pub(crate) fn admin_path(path: &str) -> Option<String> {
    let below = path == "/admin" || path.starts_with("/admin/");
    let plain = path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_'));
    (below && plain && !path.contains("//") && path.len() <= 200).then(|| path.to_string())
}

/// The portal's authorization request: a plain sign-in, or the step-up of `step_up` (request
/// id, context).
fn portal_request(
    state: &AppState,
    back: &Return,
    step_up: Option<(&str, &str)>,
) -> AuthorizationRequest {
    let (acrs, claims, step_up_request) = match step_up {
        Some((request, context)) => (
            vec![context.to_string()],
            Some(serde_json::json!({
                "access_token": { "acrs": { "essential": true, "value": context } }
            })),
            Some(request.to_string()),
        ),
        None => (Vec::new(), None, None),
    };
    AuthorizationRequest {
        client_id: CLIENT_ID.into(),
        redirect_uri: format!("{}{CALLBACK}", state.issuer),
        scope: "openid".into(),
        state: Some(back.as_state()),
        nonce: None,
        code_challenge: None,
        prompt_login: false,
        prompt_none: false,
        max_age: None,
        acr: Vec::new(),
        acr_essential: false,
        acrs,
        claims,
        login_hint: None,
        user_action: None,
        step_up_request,
    }
}

/// Sends the browser to the sign-in pages for `request`.
pub(crate) async fn to_sign_in(
    state: &AppState,
    jar: CookieJar,
    request: &AuthorizationRequest,
) -> Result<Response, PageError> {
    let (jar, tx) = open_transaction(state, jar, request).await?;
    Ok((jar, Redirect::to(&format!("/signin/{tx}"))).into_response())
}

/// A visitor without a session: to the sign-in, then back to `back`.
pub(crate) async fn sign_in_first(
    state: &AppState,
    jar: CookieJar,
    back: Return,
) -> Result<Response, PageError> {
    to_sign_in(state, jar, &portal_request(state, &back, None)).await
}

/// A re-authentication for the admin center: a sign-in where only a proof of the last
/// `max_age` seconds counts, on `contexts` (those the administrator's role settings require),
/// back to the admin page `back`.
pub(crate) async fn reauthenticate(
    state: &AppState,
    jar: CookieJar,
    back: Return,
    contexts: &[String],
    max_age: i64,
) -> Result<Response, PageError> {
    let mut request = portal_request(state, &back, None);
    request.max_age = Some(max_age);
    if !contexts.is_empty() {
        request.acrs = contexts.to_vec();
        request.claims = Some(serde_json::json!({
            "access_token": { "acrs": { "essential": true, "values": contexts } }
        }));
    }
    to_sign_in(state, jar, &request).await
}

/// Which page of *My access* is shown (the navigation marks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Current {
    Home,
    Roles,
    Requests,
    Approvals,
}

#[derive(Template)]
#[template(path = "portal_home.html")]
struct HomePage {
    upn: String,
    current: Current,
    eligible: usize,
    active: usize,
    waiting_for_me: usize,
    /// Whether the caller may open a section of the admin center now.
    admin: bool,
}

async fn home(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
) -> Result<Response, PageError> {
    let Some(session) = session else {
        return sign_in_first(&state, jar, Return::Home).await;
    };
    let caller = &session.caller;
    let roles = app::pim::my_roles::my_roles(&state, caller)
        .await
        .map_err(|e| ServeError::Internal(format!("My roles: {e}")))?;
    let waiting_for_me = approvals::waiting_for_me(&state, caller).await?.len();
    let admin = crate::admin::Frame::of(&state, caller, crate::admin::Section::Home)
        .await?
        .nav
        .len()
        > 1;
    render(
        StatusCode::OK,
        &HomePage {
            upn: caller.user.user_principal_name.clone(),
            current: Current::Home,
            eligible: roles.eligible.len(),
            active: roles.active.len(),
            waiting_for_me,
            admin,
        },
    )
}

/// Renders a portal page with `status`; never cached (it shows who holds which role).
pub(crate) fn render(status: StatusCode, page: &impl Template) -> Result<Response, PageError> {
    let html = page
        .render()
        .map_err(|e| ServeError::Internal(format!("portal page: {e}")))?;
    Ok((
        status,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Html(html),
    )
        .into_response())
}

/// A time as the pages show it.
pub(crate) fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Where the portal's sign-ins land. The code is redeemed here, once, and must have been issued
/// to the portal for this browser's live session; a step-up's code is then the proof that
/// activates its request.
async fn callback(
    State(state): State<Arc<AppState>>,
    session: Option<BrowserSession>,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let back = Return::parse(query.state.as_deref());
    if let Some(error) = query.error {
        let why = query.error_description.unwrap_or(error);
        return match session {
            Some(session) => {
                roles::refused(
                    &state,
                    &session,
                    StatusCode::FORBIDDEN,
                    format!("The sign-in did not complete ({why}); nothing was activated."),
                )
                .await
            }
            None => Err(PageError::new(
                StatusCode::FORBIDDEN,
                "You are not signed in",
                format!("The sign-in did not complete: {why}"),
            )),
        };
    }
    let Some(code) = query.code.filter(|c| !c.is_empty()) else {
        return Err(PageError::bad_request(
            "Missing code",
            "This address is where sign-ins come back; open the portal at / instead.",
        ));
    };
    let code_hash = token_hash(&code);
    // Only the portal's own codes are consumed here: another client's code sent to this page
    // is refused and stays its client's to redeem.
    let redeemed = state
        .store
        .consume_client_code(&code_hash, CLIENT_ID, state.now())
        .await?;
    let callback_uri = format!("{}{CALLBACK}", state.issuer);
    let session_id = session.as_ref().map(|s| token_hash(&s.token));
    let redeemed = redeemed.filter(|c| {
        c.client_id == CLIENT_ID
            && c.redirect_uri == callback_uri
            && session_id
                .as_deref()
                .is_some_and(|s| crate::web::same(&c.session_id, s))
    });
    let message = "This sign-in cannot be used: its code is unknown, already used or expired, \
                   or it belongs to another browser. A step-up proves one activation, once; \
                   nothing was activated.";
    match (redeemed, session) {
        (Some(code), Some(session)) => match code.step_up_request.clone() {
            Some(request) => roles::finish_step_up(&state, &session, &request, &code).await,
            None => Ok(Redirect::to(back.path()).into_response()),
        },
        (_, Some(session)) => {
            roles::refused(&state, &session, StatusCode::BAD_REQUEST, message.into()).await
        }
        (_, None) => Err(PageError::bad_request(
            "This sign-in cannot be used",
            message,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::{admin_path, Return};

    #[test]
    fn a_sign_in_returns_only_to_the_portal_or_the_admin_center() {
        for page in [
            Return::Home,
            Return::Roles,
            Return::Requests,
            Return::Approvals,
        ] {
            assert_eq!(Return::parse(Some(&page.as_state())), page);
        }
        let policies = Return::Admin("/admin/policies".into());
        assert_eq!(Return::parse(Some(&policies.as_state())), policies);
        assert_eq!(Return::parse(Some("admin:/admin")).path(), "/admin");
        // Anything else goes home: another site, another path, a query, a climb.
        for state in [
            "admin://evil.example",
            "admin:/admin//evil.example",
            "admin:https://evil.example/admin",
            "admin:/administrator/../my",
            "admin:/admin/../my/roles",
            "admin:/admin?x=1",
            "admin:/adminx",
            "admin:/my/roles",
            "admin:",
            "/admin",
            "roles2",
        ] {
            assert_eq!(Return::parse(Some(state)), Return::Home, "{state}");
        }
        assert_eq!(admin_path(&format!("/admin/{}", "a".repeat(300))), None);
    }
}
