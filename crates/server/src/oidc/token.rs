//! The token endpoint (RFC 6749 §3.2): an authorization code or a refresh token in; an ID token,
//! a JWT access token and, with `offline_access`, a refresh token out.
//!
//! - **Clients** authenticate with HTTP Basic (`client_secret_basic`) or form fields
//!   (`client_secret_post`); a public client sends its `client_id` alone, never a secret.
//! - **Codes** are single-use (redeemed atomically by the store). A redeemed code presented again
//!   is a replay: the refresh tokens its redemption started are revoked (RFC 6749 §4.1.2).
//! - **Refresh tokens** rotate at every use; presenting a used one again revokes every token of
//!   the grant. A refresh needs the browser session still live and Conditional Access still
//!   granting the application.
//! - **Errors** are RFC 6749 §5.2 JSON; nothing here panics on a malformed request.

use crate::error::{OAuthError, ServeError};
use crate::oidc::clients::hash_secret;
use crate::signin::flow::Circumstances;
use crate::state::AppState;
use crate::web::{pkce_s256, random_token, same, token_hash};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use store::{OidcClient, RefreshToken, Rotation, Session, User};
use tokens::{AccessTokenClaims, IdTokenClaims};

/// `POST /token`.
pub async fn token(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let circumstances = Circumstances {
        ip: Some(peer.ip()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    };
    let (grant_type, outcome) = exchange(&state, &headers, &body, &circumstances).await;
    match outcome {
        Ok(issued) => {
            state.metrics.token(grant_type, "success");
            issued.into_response()
        }
        Err(e) => {
            state.metrics.token(grant_type, e.error);
            e.into_response()
        }
    }
}

/// The grant type (as a metrics label: only known values) and the outcome of a token request.
async fn exchange(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    circumstances: &Circumstances,
) -> (&'static str, Result<Issued, OAuthError>) {
    let params = match read_form(headers, body) {
        Ok(p) => p,
        Err(e) => return ("unknown", Err(e)),
    };
    let grant_type = match params.get("grant_type").map(String::as_str) {
        Some("authorization_code") => "authorization_code",
        Some("refresh_token") => "refresh_token",
        Some(other) => {
            return (
                "unsupported",
                Err(OAuthError::bad_request(
                    "unsupported_grant_type",
                    format!(
                        "grant_type '{}' is not supported; use authorization_code or \
                         refresh_token",
                        shorten(other)
                    ),
                )),
            )
        }
        None => return ("unknown", Err(invalid_request("grant_type is required"))),
    };
    let outcome = async {
        let client = authenticate(state, headers, &params).await?;
        let now = state.now();
        match grant_type {
            "authorization_code" => redeem_code(state, &client, &params, now).await,
            _ => refresh(state, &client, &params, circumstances, now).await,
        }
    }
    .await;
    (grant_type, outcome)
}

// ---------------------------------------------------------------------------------------------
// Request parsing and client authentication

/// Reads an `application/x-www-form-urlencoded` body into its parameters. Parameters without a
/// value count as omitted (RFC 6749 §3.1); a parameter sent twice is an error naming it (RFC
/// 6749 §3.1, §3.2).
pub fn form_params(body: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let mut params = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if value.is_empty() {
            continue;
        }
        let name = name.into_owned();
        if params.contains_key(&name) {
            return Err(format!("parameter '{}' is repeated", shorten(&name)));
        }
        params.insert(name, value.into_owned());
    }
    Ok(params)
}

/// Whether the request declares a form body.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

fn read_form(headers: &HeaderMap, body: &[u8]) -> Result<BTreeMap<String, String>, OAuthError> {
    if !is_form(headers) {
        return Err(invalid_request(
            "the request body must be application/x-www-form-urlencoded",
        ));
    }
    form_params(body).map_err(invalid_request)
}

/// What the client presented to authenticate.
struct Credentials {
    client_id: String,
    secret: Option<String>,
}

fn credentials(
    headers: &HeaderMap,
    params: &BTreeMap<String, String>,
) -> Result<Credentials, OAuthError> {
    let mut authorization = headers.get_all(header::AUTHORIZATION).iter();
    let first = authorization.next();
    if authorization.next().is_some() {
        return Err(invalid_request("the Authorization header is repeated"));
    }
    let Some(value) = first else {
        let client_id = params.get("client_id").ok_or_else(|| {
            OAuthError::invalid_client(
                "no client authentication: send HTTP Basic credentials, or client_id (with \
                 client_secret for a confidential client) in the form",
            )
        })?;
        return Ok(Credentials {
            client_id: client_id.clone(),
            secret: params.get("client_secret").cloned(),
        });
    };
    let malformed = || OAuthError::invalid_client("malformed HTTP Basic client credentials");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.trim().split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "unsupported client authentication scheme: use HTTP Basic (client_secret_basic)",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    // RFC 6749 §2.3.1: both are form-urlencoded before being joined.
    let client_id = form_decode(id).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    if params.contains_key("client_secret") {
        return Err(invalid_request(
            "the client authenticated twice (HTTP Basic and client_secret): use one method",
        ));
    }
    if params.get("client_id").is_some_and(|id| *id != client_id) {
        return Err(invalid_request(
            "client_id in the form differs from the HTTP Basic credentials",
        ));
    }
    if client_id.is_empty() {
        return Err(malformed());
    }
    Ok(Credentials {
        client_id,
        secret: Some(secret),
    })
}

/// Decodes one `application/x-www-form-urlencoded` value: `+` is a space, `%XX` a byte; `None`
/// for a broken escape or bytes that are not UTF-8.
fn form_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = char::from(bytes.next()?).to_digit(16)?;
                let lo = char::from(bytes.next()?).to_digit(16)?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

/// The authenticated client. A confidential client (one with a secret) must prove it; a public
/// client must not send a secret.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &BTreeMap<String, String>,
) -> Result<OidcClient, OAuthError> {
    let credentials = credentials(headers, params)?;
    let client = match state.store.get_client(&credentials.client_id).await {
        Ok(c) => c,
        Err(e) if e.is_not_found() => return Err(OAuthError::invalid_client("unknown client")),
        Err(e) => return Err(e.into()),
    };
    match (&client.secret_hash, credentials.secret) {
        (Some(expected), Some(secret)) => {
            if same(&hash_secret(&secret), expected) {
                Ok(client)
            } else {
                Err(OAuthError::invalid_client("client authentication failed"))
            }
        }
        (Some(_), None) => Err(OAuthError::invalid_client(
            "this client is confidential: authenticate with client_secret_basic or \
             client_secret_post",
        )),
        (None, Some(_)) => Err(OAuthError::invalid_client(
            "this client is public and has no secret: send only client_id",
        )),
        (None, None) if client.is_public => Ok(client),
        (None, None) => Err(OAuthError::invalid_client(
            "this client is registered as confidential but has no secret; it cannot \
             authenticate",
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Grants

/// The authentication a grant carries, as kept in a refresh token's `claims`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Authentication {
    /// Seconds since the epoch.
    auth_time: i64,
    #[serde(default)]
    acr: Option<String>,
    #[serde(default)]
    amr: Vec<String>,
    #[serde(default)]
    acrs: Vec<String>,
}

/// `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.5).
async fn redeem_code(
    state: &AppState,
    client: &OidcClient,
    params: &BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Result<Issued, OAuthError> {
    let presented = required(params, "code")?;
    let redirect_uri = required(params, "redirect_uri")?;
    let verifier = params.get("code_verifier");
    let code_hash = token_hash(presented);
    let Some(code) = state.store.consume_code(&code_hash, now).await? else {
        if let Some(revoked) = state.store.revoke_replayed_code(&code_hash, now).await? {
            tracing::warn!(
                client_id = %client.client_id,
                revoked_refresh_tokens = revoked,
                "an authorization code was presented again; the tokens it granted are revoked"
            );
            return Err(invalid_grant("authorization code already used"));
        }
        return Err(invalid_grant(
            "the authorization code is invalid or has expired",
        ));
    };
    if code.client_id != client.client_id {
        return Err(invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if code.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            "redirect_uri differs from the one of the authorization request",
        ));
    }
    match (&code.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            if !is_pkce_verifier(verifier) {
                return Err(invalid_grant(
                    "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', \
                     '_' and '~' (RFC 7636 §4.1)",
                ));
            }
            if !same(&pkce_s256(verifier), challenge) {
                return Err(invalid_grant(
                    "PKCE verification failed: code_verifier does not match code_challenge",
                ));
            }
        }
        (Some(_), None) => {
            return Err(invalid_grant(
                "code_verifier is required: the authorization request had a code_challenge",
            ))
        }
        (None, Some(_)) => {
            return Err(invalid_grant(
                "code_verifier was sent, but the authorization request had no code_challenge",
            ))
        }
        (None, None) if client.is_public => {
            return Err(invalid_grant("a public client must use PKCE"))
        }
        (None, None) => {}
    }
    let session = live_session(state, Some(&code.session_id), &code.user_id, now).await?;
    let user = enabled_user(state, &code.user_id).await?;
    let authentication = Authentication {
        auth_time: code.auth_time.timestamp(),
        acr: code.acr.clone(),
        amr: code.amr.clone(),
        acrs: code.acrs.clone(),
    };
    let (access_token, id_token) = sign_tokens(
        state,
        &Issue {
            client_id: &client.client_id,
            user: &user,
            sid: &session.sid,
            scope: &code.scope,
            nonce: code.nonce.as_deref(),
            authentication: &authentication,
            step_up_request: code.step_up_request.as_deref(),
        },
        now,
    )?;
    let refresh_token = if has_scope(&code.scope, "offline_access") {
        let token = random_token()?;
        let record = RefreshToken {
            id: store::new_id(),
            token_hash: token_hash(&token),
            family_id: store::new_id(),
            client_id: client.client_id.clone(),
            user_id: user.id.clone(),
            session_id: Some(code.session_id.clone()),
            scope: code.scope.clone(),
            claims: claims_json(&authentication)?,
            created_at: now,
            expires_at: refresh_expiry(state, now),
            consumed_at: None,
            revoked_at: None,
        };
        if !state
            .store
            .insert_code_refresh_token(&code_hash, &record)
            .await?
        {
            // A replay of the code got in between its redemption and now.
            tracing::warn!(
                client_id = %client.client_id,
                "an authorization code was replayed while it was being redeemed; no tokens issued"
            );
            return Err(invalid_grant("authorization code already used"));
        }
        Some(token)
    } else {
        None
    };
    tracing::info!(
        client_id = %client.client_id,
        user_id = %user.id,
        grant_type = "authorization_code",
        "tokens issued"
    );
    Ok(Issued {
        access_token,
        token_type: "Bearer",
        expires_in: state.max_token_lifetime().num_seconds(),
        id_token,
        scope: code.scope,
        refresh_token,
    })
}

/// `grant_type=refresh_token` (RFC 6749 §6), with rotation and reuse detection.
async fn refresh(
    state: &AppState,
    client: &OidcClient,
    params: &BTreeMap<String, String>,
    circumstances: &Circumstances,
    now: DateTime<Utc>,
) -> Result<Issued, OAuthError> {
    let presented = required(params, "refresh_token")?;
    let hash = token_hash(presented);
    let invalid = || invalid_grant("the refresh token is invalid, expired or revoked");
    let record = match state.store.get_refresh_token(&hash).await {
        Ok(r) => r,
        Err(e) if e.is_not_found() => return Err(invalid()),
        Err(e) => return Err(e.into()),
    };
    if record.client_id != client.client_id {
        return Err(invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if record.consumed_at.is_some() {
        // Exchanged before: the token was copied. End the whole grant.
        let revoked = state
            .store
            .revoke_token_family(&record.family_id, now)
            .await?;
        return Err(reused(client, &record.user_id, Some(revoked)));
    }
    if record.revoked_at.is_some() || now >= record.expires_at {
        return Err(invalid());
    }
    let scope = narrowed_scope(&record.scope, params.get("scope"))?;
    let mut authentication: Authentication = serde_json::from_value(record.claims.clone())
        .map_err(|e| ServeError::Internal(format!("refresh token claims: {e}")))?;
    let session = live_session(state, record.session_id.as_deref(), &record.user_id, now).await?;
    let user = enabled_user(state, &record.user_id).await?;
    match crate::signin::flow::reassess_for_refresh(
        state,
        &record.user_id,
        Some(&session.id),
        &client.client_id,
        &authentication.acrs,
        circumstances,
        now,
    )
    .await?
    {
        Ok(still) => {
            // A context that no longer holds leaves `acrs`, and `acr` if it named it.
            if authentication.acr.as_deref().is_some_and(|acr| {
                policy::context::ContextId::parse(acr).is_ok() && !still.iter().any(|c| c == acr)
            }) {
                authentication.acr = None;
            }
            authentication.acrs = still;
        }
        Err(reason) => return Err(invalid_grant(reason)),
    }
    let next_token = random_token()?;
    let next = RefreshToken {
        id: store::new_id(),
        token_hash: token_hash(&next_token),
        family_id: record.family_id.clone(),
        client_id: client.client_id.clone(),
        user_id: user.id.clone(),
        session_id: Some(session.id.clone()),
        // The successor keeps the grant's scope, whatever this request narrowed (RFC 6749 §6).
        scope: record.scope.clone(),
        claims: claims_json(&authentication)?,
        created_at: now,
        expires_at: refresh_expiry(state, now),
        consumed_at: None,
        revoked_at: None,
    };
    match state.store.rotate_refresh_token(&hash, &next, now).await? {
        Rotation::Rotated { .. } => {}
        Rotation::Reused { .. } => return Err(reused(client, &record.user_id, None)),
        Rotation::Invalid => return Err(invalid()),
    }
    let (access_token, id_token) = sign_tokens(
        state,
        &Issue {
            client_id: &client.client_id,
            user: &user,
            sid: &session.sid,
            scope: &scope,
            // OIDC Core §12.2: an ID token from a refresh carries no nonce.
            nonce: None,
            authentication: &authentication,
            step_up_request: None,
        },
        now,
    )?;
    tracing::info!(
        client_id = %client.client_id,
        user_id = %user.id,
        grant_type = "refresh_token",
        "tokens issued"
    );
    Ok(Issued {
        access_token,
        token_type: "Bearer",
        expires_in: state.max_token_lifetime().num_seconds(),
        id_token,
        scope,
        refresh_token: Some(next_token),
    })
}

fn reused(client: &OidcClient, user_id: &str, revoked: Option<u64>) -> OAuthError {
    tracing::warn!(
        client_id = %client.client_id,
        user_id = %user_id,
        revoked_refresh_tokens = ?revoked,
        "a used refresh token was presented again; every token of its grant is revoked"
    );
    invalid_grant("refresh token already used; every token of this grant has been revoked")
}

/// The scope of a refresh: the grant's, or a subset of it that the request names.
fn narrowed_scope(granted: &str, requested: Option<&String>) -> Result<String, OAuthError> {
    let Some(requested) = requested else {
        return Ok(granted.to_string());
    };
    let mut scopes: Vec<&str> = Vec::new();
    for s in requested.split(' ').filter(|s| !s.is_empty()) {
        if !has_scope(granted, s) {
            return Err(OAuthError::bad_request(
                "invalid_scope",
                format!(
                    "scope '{}' was not granted: a refresh may only narrow the scope",
                    shorten(s)
                ),
            ));
        }
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    if scopes.is_empty() {
        return Ok(granted.to_string());
    }
    Ok(scopes.join(" "))
}

/// The session a grant was made in, if it is still live and the user's.
async fn live_session(
    state: &AppState,
    session_id: Option<&str>,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<Session, OAuthError> {
    let ended = || invalid_grant("the sign-in session of this grant has ended");
    let Some(session_id) = session_id else {
        return Err(ended());
    };
    match state.store.get_session(session_id).await {
        Ok(s) if s.is_live_at(now) && s.user_id == user_id => Ok(s),
        Ok(_) => Err(ended()),
        Err(e) if e.is_not_found() => Err(ended()),
        Err(e) => Err(e.into()),
    }
}

async fn enabled_user(state: &AppState, user_id: &str) -> Result<User, OAuthError> {
    match state.store.get_user(user_id).await {
        Ok(u) if u.account_enabled => Ok(u),
        Ok(_) => Err(invalid_grant("the account is disabled")),
        Err(e) if e.is_not_found() => Err(invalid_grant("the account no longer exists")),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Issuance

/// What the tokens of one issuance say.
struct Issue<'a> {
    client_id: &'a str,
    user: &'a User,
    sid: &'a str,
    scope: &'a str,
    nonce: Option<&'a str>,
    authentication: &'a Authentication,
    /// The PIM request a step-up code proves (code grants only).
    step_up_request: Option<&'a str>,
}

/// Signs the access token and, when the scope has `openid`, the ID token.
fn sign_tokens(
    state: &AppState,
    issue: &Issue<'_>,
    now: DateTime<Utc>,
) -> Result<(String, Option<String>), ServeError> {
    let iat = now.timestamp();
    let exp = (now + state.max_token_lifetime()).timestamp();
    let auth = issue.authentication;
    let access = AccessTokenClaims {
        iss: state.issuer.clone(),
        sub: issue.user.id.clone(),
        aud: state.issuer.clone(),
        client_id: issue.client_id.to_string(),
        exp,
        iat,
        jti: random_token()?,
        scope: issue.scope.to_string(),
        auth_time: auth.auth_time,
        acr: auth.acr.clone(),
        amr: auth.amr.clone(),
        acrs: auth.acrs.clone(),
        sid: issue.sid.to_string(),
        cnf: None,
        step_up_request: issue.step_up_request.map(str::to_string),
    };
    let profile = has_scope(issue.scope, "profile");
    let id = has_scope(issue.scope, "openid").then(|| IdTokenClaims {
        iss: state.issuer.clone(),
        sub: issue.user.id.clone(),
        aud: issue.client_id.to_string(),
        exp,
        iat,
        auth_time: auth.auth_time,
        nonce: issue.nonce.map(str::to_string),
        acr: auth.acr.clone(),
        amr: auth.amr.clone(),
        acrs: auth.acrs.clone(),
        sid: issue.sid.to_string(),
        preferred_username: profile.then(|| issue.user.user_principal_name.clone()),
        name: profile.then(|| issue.user.display_name.clone()),
    });
    // Synchronous: the read guard never lives across an await.
    let keys = state.keys();
    let access = keys.sign(&access, "at+jwt")?;
    let id = id.map(|claims| keys.sign(&claims, "JWT")).transpose()?;
    Ok((access, id))
}

fn claims_json(authentication: &Authentication) -> Result<serde_json::Value, ServeError> {
    serde_json::to_value(authentication)
        .map_err(|e| ServeError::Internal(format!("refresh token claims: {e}")))
}

fn refresh_expiry(state: &AppState, now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::hours(i64::from(state.config.lifetimes.refresh_token_hours))
}

/// A successful token response (RFC 6749 §5.1), never cached.
#[derive(Debug, Serialize)]
struct Issued {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

impl IntoResponse for Issued {
    fn into_response(self) -> Response {
        (
            StatusCode::OK,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            Json(self),
        )
            .into_response()
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/// Whether a space-separated scope contains `scope`.
pub fn has_scope(scopes: &str, scope: &str) -> bool {
    scopes.split(' ').any(|s| s == scope)
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters.
fn is_pkce_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn required<'a>(params: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    params
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| invalid_request(format!("{name} is required")))
}

fn invalid_request(description: impl Into<String>) -> OAuthError {
    OAuthError::bad_request("invalid_request", description)
}

fn invalid_grant(description: impl Into<String>) -> OAuthError {
    OAuthError::bad_request("invalid_grant", description)
}

/// A value echoed in an error, cut to a readable length.
fn shorten(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_decode_as_rfc_6749_section_2_3_1_says() {
        assert_eq!(form_decode("a%3Ab+c%25").as_deref(), Some("a:b c%"));
        assert_eq!(form_decode("plain").as_deref(), Some("plain"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%ff"), None);
    }

    #[test]
    fn repeated_parameters_are_refused_and_empty_ones_ignored() {
        assert!(form_params(b"a=1&a=2").is_err());
        let params = form_params(b"a=&a=2&b=x%20y").unwrap_or_default();
        assert_eq!(params.get("a").map(String::as_str), Some("2"));
        assert_eq!(params.get("b").map(String::as_str), Some("x y"));
    }

    #[test]
    fn a_refresh_may_only_narrow_the_scope() {
        let granted = "openid profile offline_access";
        assert_eq!(
            narrowed_scope(granted, Some(&"openid openid".to_string())).ok(),
            Some("openid".to_string())
        );
        assert_eq!(
            narrowed_scope(granted, None).ok(),
            Some(granted.to_string())
        );
        assert!(narrowed_scope(granted, Some(&"openid email".to_string())).is_err());
    }

    #[test]
    fn pkce_verifiers_are_checked_for_shape() {
        assert!(is_pkce_verifier(&"a".repeat(43)));
        assert!(is_pkce_verifier(&"-._~".repeat(32)));
        assert!(!is_pkce_verifier(&"a".repeat(42)));
        assert!(!is_pkce_verifier(&"a".repeat(129)));
        assert!(!is_pkce_verifier(&format!("{}+", "a".repeat(43))));
    }
}
