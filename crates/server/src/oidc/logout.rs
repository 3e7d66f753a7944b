//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ends the browser's session,
//! then sends the browser back to the application, or shows that it is signed out.
//!
//! A request ends a live session at once only when it carries an `id_token_hint` this issuer
//! signed for that very session (same `sid` and `sub`; expired ones are fine: they only
//! identify). Anything else — a bare `GET /logout` that any site can make a browser send, a
//! hint of another session — gets a confirmation page instead (the spec's "MUST ask the
//! End-User"); its form posts back with a token derived from the session cookie, which another
//! site cannot read, and the request's parameters, so that the return below works the same
//! after confirming.
//!
//! The browser is sent back only to a URI registered for the application, named by a valid
//! `id_token_hint` or by `client_id`; anything else gets the signed-out page, never a redirect.

use crate::error::PageError;
use crate::oidc::token::{form_params, is_form};
use crate::session::live_session;
use crate::state::AppState;
use crate::web::{removal, same, SESSION_COOKIE};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use store::Session;
use tokens::keys::Expectation;
use tokens::IdTokenClaims;

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOut<'a> {
    note: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "confirm_sign_out.html")]
struct ConfirmSignOut<'a> {
    user: &'a str,
    confirm: &'a str,
    carried: Vec<(&'a str, &'a str)>,
}

/// The parameters a confirmation form carries over to its POST: those the return reads.
const CARRIED: [&str; 4] = [
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
];

/// `GET` or `POST /logout`.
pub async fn end_session(
    State(state): State<Arc<AppState>>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> Result<Response, PageError> {
    let now = state.now();
    let params = if method == Method::POST {
        if is_form(&headers) {
            form_params(&body)
        } else {
            Ok(BTreeMap::new())
        }
    } else {
        form_params(query.as_deref().unwrap_or("").as_bytes())
    };
    // `Some(None)`: a hint was sent but is not an ID token of this issuer.
    let hint = params
        .as_ref()
        .ok()
        .and_then(|p| p.get("id_token_hint"))
        .map(|hint| verified_hint(&state, hint, now));
    if let Some((session, cookie)) = live_session(&state, &jar).await? {
        let empty = BTreeMap::new();
        let read = params.as_ref().unwrap_or(&empty);
        let hinted = hint.as_ref().is_some_and(|claims| {
            claims
                .as_ref()
                .is_some_and(|c| c.sid == session.sid && c.sub == session.user_id)
        });
        let confirmed = method == Method::POST
            && same_origin_or_none(&state, &headers)
            && read
                .get("confirm")
                .is_some_and(|c| same(c, &confirmation(&cookie)));
        if !hinted && !confirmed {
            return confirmation_page(&state, &session, &cookie, read).await;
        }
        match state.store.revoke_session(&session.id, now).await {
            Ok(()) => tracing::info!(hinted, confirmed, "signed out"),
            // Signed out meanwhile: nothing left to end.
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    let jar = jar.add(removal(SESSION_COOKIE, state.secure_cookies));
    let destination = match params {
        Ok(params) => return_to(&state, &params, hint.as_ref()).await,
        Err(repeated) => Err(format!(
            "The application's sign-out request is malformed ({repeated}), so you were not \
             sent back to it."
        )),
    };
    let response = match destination {
        Ok(Some(target)) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, target),
                (header::CACHE_CONTROL, "no-store".to_string()),
            ],
        )
            .into_response(),
        Ok(None) => page(None)?,
        Err(note) => page(Some(&note))?,
    };
    Ok((jar, response).into_response())
}

/// The confirmation form's token for the session whose cookie's token is `cookie`. Derived
/// from the cookie (domain-separated, so it is not the stored session id): only a page of this
/// origin, shown to this browser, can know it; it needs no storage and ends with the session.
fn confirmation(cookie: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"portcullis sign-out confirmation\0");
    hash.update(cookie.as_bytes());
    URL_SAFE_NO_PAD.encode(hash.finalize())
}

/// Whether the request's `Origin`, when it sends one, is the issuer's: the confirmation form is
/// posted from this service's own page, never from another site.
fn same_origin_or_none(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let issuer = url::Url::parse(&state.issuer).map(|u| u.origin().ascii_serialization());
    matches!((origin.to_str(), issuer), (Ok(o), Ok(i)) if o == i)
}

/// Asks the person whether to sign out; the session stays as it is.
async fn confirmation_page(
    state: &AppState,
    session: &Session,
    cookie: &str,
    params: &BTreeMap<String, String>,
) -> Result<Response, PageError> {
    let user = match state.store.get_user(&session.user_id).await {
        Ok(u) => u.user_principal_name,
        Err(e) if e.is_not_found() => String::new(),
        Err(e) => return Err(e.into()),
    };
    let confirm = confirmation(cookie);
    let carried = CARRIED
        .iter()
        .filter_map(|name| params.get(*name).map(|v| (*name, v.as_str())))
        .collect();
    let page = ConfirmSignOut {
        user: &user,
        confirm: &confirm,
        carried,
    };
    uncached(&page, "sign-out confirmation page")
}

fn page(note: Option<&str>) -> Result<Response, PageError> {
    uncached(&SignedOut { note }, "signed-out page")
}

/// `page` rendered, as a 200 that is never cached (it depends on the session).
fn uncached(page: &impl Template, what: &str) -> Result<Response, PageError> {
    let html = page
        .render()
        .map_err(|e| PageError::from(crate::error::ServeError::Internal(format!("{what}: {e}"))))?;
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        Html(html),
    )
        .into_response())
}

/// Where to send the browser: `Ok(None)` when no return was asked for, `Err` (a sentence for
/// the person) when it was asked for but cannot be trusted. `hint` is what the `id_token_hint`
/// sent verified to (`Some(None)`: one was sent that this issuer did not sign).
async fn return_to(
    state: &AppState,
    params: &BTreeMap<String, String>,
    hint: Option<&Option<IdTokenClaims>>,
) -> Result<Option<String>, String> {
    let hinted = match hint {
        None => None,
        Some(claims) => Some(claims.as_ref().map(|c| c.aud.clone()).ok_or_else(|| {
            "The application's sign-out request carried an ID token that this service cannot \
             verify, so you were not sent back to it."
                .to_string()
        })?),
    };
    let client_id = match (hinted, params.get("client_id")) {
        (Some(hinted), Some(named)) if hinted != *named => {
            return Err(
                "The application's sign-out request names two different applications, \
                        so you were not sent back to either."
                    .into(),
            )
        }
        (Some(hinted), _) => Some(hinted),
        (None, named) => named.cloned(),
    };
    let Some(uri) = params.get("post_logout_redirect_uri") else {
        return Ok(None);
    };
    let Some(client_id) = client_id else {
        return Err(
            "The application asked to send you back but did not say which application \
                    it is, so you were not sent back."
                .into(),
        );
    };
    let client = match state.store.get_client(&client_id).await {
        Ok(c) => c,
        Err(e) => {
            if !e.is_not_found() {
                tracing::error!(error = %e, "logout: reading the client failed");
            }
            return Err(
                "The application that asked to sign you out is not known here, so you \
                        were not sent back to it."
                    .into(),
            );
        }
    };
    if !client.redirect_uris.iter().any(|r| r == uri) {
        tracing::warn!(client_id = %client.client_id, "logout: unregistered post_logout_redirect_uri");
        return Err(format!(
            "{} asked to send you to an address it has not registered, so you were not sent \
             there.",
            client.display_name
        ));
    }
    let mut target = url::Url::parse(uri).map_err(|_| {
        format!(
            "{} has a malformed address registered, so you were not sent back.",
            client.display_name
        )
    })?;
    if let Some(client_state) = params.get("state") {
        target.query_pairs_mut().append_pair("state", client_state);
    }
    Ok(Some(target.to_string()))
}

/// The claims of an `id_token_hint`, if this issuer signed it as an ID token. Its expiry does
/// not matter: it only says who is asking, for which session.
fn verified_hint(state: &AppState, hint: &str, now: DateTime<Utc>) -> Option<IdTokenClaims> {
    let mut parts = hint.split('.');
    let header = json_part(parts.next()?)?;
    // An access token (typ at+jwt) is not an ID token.
    if header.get("typ").and_then(|t| t.as_str()) != Some("JWT") {
        return None;
    }
    // The audience is read before verifying only to know what to verify against.
    let audience = json_part(parts.next()?)?.get("aud")?.as_str()?.to_string();
    let expect = Expectation {
        issuer: &state.issuer,
        audience: &audience,
        now,
    };
    let verified = state
        .keys()
        .verify_ignoring_expiry::<IdTokenClaims>(hint, &expect);
    verified.ok()
}

fn json_part(part: &str) -> Option<serde_json::Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}
