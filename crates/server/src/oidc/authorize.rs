//! `/authorize`: validates the request, opens a sign-in transaction bound to this browser, and
//! hands over to the sign-in pages.

use crate::error::PageError;
use crate::oidc::request::{validate, AuthorizeParams, RequestError};
use crate::signin::redirect_with;
use crate::state::AppState;
use crate::web::{cookie, random_token, token_hash, BROWSER_COOKIE};
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use chrono::Duration;
use std::sync::Arc;
use store::SignInTransaction;

/// How long a user has to finish signing in.
pub const TRANSACTION_TTL: Duration = Duration::minutes(15);

/// The browser-binding cookie lives a year; it carries no authority on its own.
const BROWSER_COOKIE_SECONDS: i64 = 365 * 24 * 3600;

/// `GET /authorize`.
pub async fn authorize(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let params = parse_params(query.as_deref().unwrap_or(""))?;
    let client = match params.client_id.as_deref() {
        Some(id) if !id.is_empty() => match state.store.get_client(id).await {
            Ok(c) => Some(c),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        },
        _ => None,
    };
    let request = match validate(&params, client.as_ref()) {
        Ok(r) => r,
        Err(RequestError::Page(message)) => {
            return Err(PageError::bad_request(
                "The application's request is invalid",
                message,
            ))
        }
        Err(RequestError::Redirect {
            redirect_uri,
            error,
            description,
            state: client_state,
        }) => {
            let target = redirect_with(
                &redirect_uri,
                &[
                    ("error", Some(error)),
                    ("error_description", Some(description.as_str())),
                    ("state", client_state.as_deref()),
                    ("iss", Some(state.issuer.as_str())),
                ],
            );
            return Ok(Redirect::to(&target).into_response());
        }
    };
    let (jar, tx) = open_transaction(&state, jar, &request).await?;
    Ok((jar, Redirect::to(&format!("/signin/{tx}"))).into_response())
}

/// Opens a sign-in transaction for `request`, bound to this browser (setting the browser
/// cookie when it has none); returns the jar to send and the transaction id.
pub async fn open_transaction(
    state: &AppState,
    jar: CookieJar,
    request: &crate::oidc::request::AuthorizationRequest,
) -> Result<(CookieJar, String), PageError> {
    let (jar, browser) = match jar.get(BROWSER_COOKIE).map(|c| c.value().to_string()) {
        Some(b) if b.len() >= 43 => (jar, b),
        _ => {
            let b = random_token()?;
            let jar = jar.add(cookie(
                BROWSER_COOKIE,
                b.clone(),
                state.secure_cookies,
                BROWSER_COOKIE_SECONDS,
            ));
            (jar, b)
        }
    };
    let now = state.now();
    let transaction = SignInTransaction {
        id: random_token()?,
        browser_hash: token_hash(&browser),
        client_id: request.client_id.clone(),
        request: serde_json::to_value(request).map_err(|e| {
            crate::error::ServeError::Internal(format!("authorization request: {e}"))
        })?,
        user_id: None,
        created_at: now,
        expires_at: now + TRANSACTION_TTL,
        completed_at: None,
    };
    state.store.create_transaction(&transaction).await?;
    Ok((jar, transaction.id))
}

/// Reads the query, refusing repeated parameters (RFC 6749 §3.1: "MUST NOT be included more
/// than once").
pub fn parse_params(query: &str) -> Result<AuthorizeParams, PageError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|e| {
        PageError::bad_request(
            "The application's request is invalid",
            format!("The query cannot be read: {e}"),
        )
    })?;
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        if map.contains_key(&k) {
            return Err(PageError::bad_request(
                "The application's request is invalid",
                format!("The parameter '{k}' is repeated."),
            ));
        }
        map.insert(k, serde_json::Value::String(v));
    }
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| {
        PageError::bad_request(
            "The application's request is invalid",
            format!("The query cannot be read: {e}"),
        )
    })
}
