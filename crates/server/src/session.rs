//! The browser session of a request: the session cookie resolved once, the same way for every
//! page, by [`app::Core::signed_in`] (a live session and an enabled user).
//!
//! [`BrowserSession`] is an axum extractor. A page that needs a signed-in user takes
//! `BrowserSession` (refused with a sign-in page otherwise); a page that offers something
//! different to a visitor takes `Option<BrowserSession>`.

use crate::error::PageError;
use crate::state::AppState;
use crate::web::{token_hash, SESSION_COOKIE};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum_extra::extract::cookie::CookieJar;
use std::sync::Arc;
use store::{Session, StoreError};

/// A request's live browser session and its enabled user.
#[derive(Debug, Clone)]
pub struct BrowserSession {
    /// The session.
    pub session: Session,
    /// Its user, as the services take callers.
    pub caller: app::Caller,
    /// The session cookie's token (the store keeps only its hash).
    pub token: String,
}

impl BrowserSession {
    /// The session behind the cookie in `jar`, if it is live and its user enabled.
    pub async fn resolve(state: &AppState, jar: &CookieJar) -> Result<Option<Self>, StoreError> {
        let Some(token) = session_token(jar) else {
            return Ok(None);
        };
        Ok(state
            .core
            .signed_in(&token_hash(&token))
            .await?
            .map(|s| BrowserSession {
                session: s.session,
                caller: s.caller,
                token,
            }))
    }
}

/// The session cookie's token, if the browser sent one.
pub fn session_token(jar: &CookieJar) -> Option<String> {
    jar.get(SESSION_COOKIE).map(|c| c.value().to_string())
}

/// The live session behind the cookie in `jar`, whatever its user's state: signing out and
/// single sign-on look at the session alone (a disabled user can still sign out, and a
/// sign-in checks its user itself).
pub async fn live_session(
    state: &AppState,
    jar: &CookieJar,
) -> Result<Option<(Session, String)>, StoreError> {
    let Some(token) = session_token(jar) else {
        return Ok(None);
    };
    Ok(state
        .core
        .live_session(&token_hash(&token))
        .await?
        .map(|s| (s, token)))
}

impl OptionalFromRequestParts<Arc<AppState>> for BrowserSession {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Option<Self>, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        Ok(BrowserSession::resolve(state, &jar).await?)
    }
}

impl FromRequestParts<Arc<AppState>> for BrowserSession {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        <Self as OptionalFromRequestParts<_>>::from_request_parts(parts, state)
            .await?
            .ok_or_else(|| {
                PageError::new(
                    StatusCode::UNAUTHORIZED,
                    "Sign in first",
                    "This page is for a signed-in user; sign in and open it again.",
                )
            })
    }
}
