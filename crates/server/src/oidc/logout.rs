//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ends the browser's session,
//! then sends the browser back to the application, or shows that it is signed out.
//!
//! The browser is sent back only to a URI registered for the application, named by a valid
//! `id_token_hint` (expired ones are fine: they only identify) or by `client_id`; anything else
//! gets the signed-out page, never a redirect.

use crate::error::PageError;
use crate::oidc::token::{form_params, is_form};
use crate::state::AppState;
use crate::web::{removal, token_hash, SESSION_COOKIE};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokens::keys::Expectation;
use tokens::IdTokenClaims;

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOut<'a> {
    note: Option<&'a str>,
}

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
    // The browser is signed out whatever the request says: that is what the person asked for.
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        match state
            .store
            .revoke_session(&token_hash(cookie.value()), now)
            .await
        {
            Ok(()) => tracing::info!("signed out"),
            // Already signed out, or rotated away: nothing left to end.
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    let jar = jar.add(removal(SESSION_COOKIE, state.secure_cookies));
    let destination = match params {
        Ok(params) => return_to(&state, &params, now).await,
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

fn page(note: Option<&str>) -> Result<Response, PageError> {
    let html = SignedOut { note }.render().map_err(|e| {
        PageError::from(crate::error::ServeError::Internal(format!(
            "signed-out page: {e}"
        )))
    })?;
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        Html(html),
    )
        .into_response())
}

/// Where to send the browser: `Ok(None)` when no return was asked for, `Err` (a sentence for
/// the person) when it was asked for but cannot be trusted.
async fn return_to(
    state: &AppState,
    params: &BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Result<Option<String>, String> {
    let hinted = match params.get("id_token_hint") {
        None => None,
        Some(hint) => Some(hinted_client(state, hint, now).ok_or_else(|| {
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

/// The client an `id_token_hint` was issued to, if this issuer signed it as an ID token. Its
/// expiry does not matter: it only says who is asking.
fn hinted_client(state: &AppState, hint: &str, now: DateTime<Utc>) -> Option<String> {
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
    verified.ok().map(|claims| claims.aud)
}

fn json_part(part: &str) -> Option<serde_json::Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}
