//! Security info (`/account`): the signed-in user registers passkeys, security keys and
//! authenticator apps. Reaching it is a sign-in for the user action
//! `urn:user:registersecurityinfo` (so Conditional Access can govern registration, and a
//! temporary access pass can bootstrap a first passkey), and registering needs an
//! authentication made in the last [`FRESHNESS`]: a stolen, hours-old session cookie cannot add
//! an attacker's key.

use crate::error::{PageError, ServeError};
use crate::oidc::authorize::open_transaction;
use crate::oidc::request::AuthorizationRequest;
use crate::state::AppState;
use crate::web::{token_hash, SESSION_COOKIE};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::CookieJar;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::Duration;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use store::{Ceremony, CeremonyKind, OidcClient, Session, User};

/// The service's own client, through which `/account` signs users in.
pub const PORTAL_CLIENT_ID: &str = "portcullis-portal";

/// Registering a method needs an authentication at most this old.
pub const FRESHNESS: Duration = Duration::minutes(10);

/// The security-info routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/account", get(page))
        .route("/account/callback", get(callback))
        .route("/account/webauthn/options", post(webauthn_options))
        .route("/account/webauthn", post(webauthn_finish))
        .route("/account/totp/start", post(totp_start))
        .route("/account/totp", post(totp_finish))
}

/// Registers (or updates) the portal's client: confidential, with a secret nobody holds, so
/// its codes are only ever redeemed by `/account/callback`.
pub async fn register_portal_client(state: &AppState) -> Result<(), ServeError> {
    let existing = match state.store.get_client(PORTAL_CLIENT_ID).await {
        Ok(c) => Some(c),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    let redirect = format!("{}/account/callback", state.issuer);
    if existing
        .as_ref()
        .is_some_and(|c| c.redirect_uris == [redirect.clone()])
    {
        return Ok(());
    }
    let client = OidcClient {
        client_id: PORTAL_CLIENT_ID.into(),
        display_name: "Portcullis security info".into(),
        redirect_uris: vec![redirect],
        is_public: false,
        secret_hash: Some(crate::oidc::clients::hash_secret(
            &crate::web::random_token()?,
        )),
        created_at: state.now(),
    };
    crate::oidc::clients::upsert(&state.store, &client).await
}

fn portal_request(state: &AppState, prompt_login: bool) -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: PORTAL_CLIENT_ID.into(),
        redirect_uri: format!("{}/account/callback", state.issuer),
        scope: "openid".into(),
        state: None,
        nonce: None,
        code_challenge: None,
        prompt_login,
        prompt_none: false,
        max_age: None,
        acr: Vec::new(),
        acr_essential: false,
        acrs: Vec::new(),
        claims: None,
        login_hint: None,
        user_action: Some("urn:user:registersecurityinfo".into()),
        step_up_request: None,
    }
}

/// The user and session behind the cookie, and whether an authentication is fresh enough to
/// register.
async fn signed_in(
    state: &AppState,
    jar: &CookieJar,
) -> Result<Option<(User, Session, bool)>, ServeError> {
    let Some(cookie) = jar.get(SESSION_COOKIE) else {
        return Ok(None);
    };
    let now = state.now();
    let session = match state.store.get_session(&token_hash(cookie.value())).await {
        Ok(s) if s.is_live_at(now) => s,
        Ok(_) => return Ok(None),
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let user = state.store.get_user(&session.user_id).await?;
    if !user.account_enabled {
        return Ok(None);
    }
    let events = state.store.session_events(&session.id).await?;
    let fresh = events
        .iter()
        .any(|e| e.performed_at <= now && now - e.performed_at <= FRESHNESS);
    Ok(Some((user, session, fresh)))
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    upn: String,
    methods: Vec<(String, String)>,
    webauthn: bool,
}

async fn page(State(state): State<Arc<AppState>>, jar: CookieJar) -> Result<Response, PageError> {
    match signed_in(&state, &jar).await? {
        Some((user, _, true)) => {
            let methods = state
                .store
                .list_methods(&user.id, state.now())
                .await?
                .into_iter()
                .map(|m| (crate::signin::pages::describe(&m.method), m.label))
                .collect();
            let html = AccountPage {
                upn: user.user_principal_name,
                methods,
                webauthn: state.webauthn.is_some(),
            }
            .render()
            .map_err(|e| ServeError::Internal(format!("account page: {e}")))?;
            Ok(Html(html).into_response())
        }
        other => {
            // No session, or an old one: sign in (again) for the registration user action.
            let request = portal_request(&state, other.is_some());
            let (jar, tx) = open_transaction(&state, jar, &request).await?;
            Ok((jar, Redirect::to(&format!("/signin/{tx}"))).into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Where the portal's sign-in lands: the code is redeemed (so it cannot be used elsewhere) and
/// must belong to this browser's session.
async fn callback(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    if let Some(error) = query.error {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "You cannot manage security info now",
            query.error_description.unwrap_or(error),
        ));
    }
    let code = query
        .code
        .ok_or_else(|| PageError::bad_request("Missing code", "Open /account again."))?;
    let redeemed = state
        .store
        .consume_code(&token_hash(&code), state.now())
        .await?;
    let session = jar
        .get(SESSION_COOKIE)
        .map(|c| token_hash(c.value()))
        .unwrap_or_default();
    match redeemed {
        Some(c) if c.client_id == PORTAL_CLIENT_ID && crate::web::same(&c.session_id, &session) => {
            Ok(Redirect::to("/account").into_response())
        }
        _ => Err(PageError::bad_request(
            "This sign-in cannot be used",
            "The code is unknown, used, or belongs to another browser. Open /account again.",
        )),
    }
}

fn refusal(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Ceremony state of a registration: WebAuthn's, or a TOTP secret awaiting its first code.
fn ceremony_state(purpose: &str, state: Value) -> String {
    json!({ "purpose": purpose, "state": state }).to_string()
}

async fn fresh_user(
    state: &AppState,
    jar: &CookieJar,
) -> Result<Result<User, Response>, ServeError> {
    Ok(match signed_in(state, jar).await? {
        Some((user, _, true)) => Ok(user),
        Some((_, _, false)) => Err(refusal(
            StatusCode::UNAUTHORIZED,
            "Sign in again to change your security info (open /account).",
        )),
        None => Err(refusal(
            StatusCode::UNAUTHORIZED,
            "Sign in first (open /account).",
        )),
    })
}

/// Which authenticator to register.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterOptions {
    /// `securityKey`, `passkey` or `any`.
    #[serde(default)]
    kind: Option<String>,
}

async fn webauthn_options(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    body: Option<Json<RegisterOptions>>,
) -> Result<Response, PageError> {
    let user = match fresh_user(&state, &jar).await? {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    let Some(webauthn) = &state.webauthn else {
        return Ok(refusal(
            StatusCode::BAD_REQUEST,
            "Security keys and passkeys are not available on this server (its address is not https).",
        ));
    };
    let kind = match body.and_then(|b| b.0.kind).as_deref() {
        Some("securityKey") => authn::webauthn::RegistrationKind::SecurityKey,
        Some("passkey") => authn::webauthn::RegistrationKind::Passkey,
        None | Some("any") => authn::webauthn::RegistrationKind::Any,
        Some(other) => {
            return Ok(refusal(
                StatusCode::BAD_REQUEST,
                format!("Unknown authenticator kind '{other}' (securityKey, passkey or any)."),
            ))
        }
    };
    let Ok(user_uuid) = uuid::Uuid::parse_str(&user.id) else {
        return Ok(refusal(
            StatusCode::BAD_REQUEST,
            "Security keys cannot be used with this account (its id is not a UUID).",
        ));
    };
    let now = state.now();
    let existing: Vec<Vec<u8>> = state
        .store
        .list_webauthn(&user.id)
        .await?
        .into_iter()
        .map(|c| c.credential_id)
        .collect();
    let (options, ceremony) = webauthn
        .start_registration(
            user_uuid,
            &user.user_principal_name,
            &user.display_name,
            &existing,
            kind,
            now,
        )
        .map_err(|e| ServeError::Internal(format!("WebAuthn: {e}")))?;
    let inner: Value = serde_json::from_str(
        &ceremony
            .to_json()
            .map_err(|e| ServeError::Internal(format!("WebAuthn: {e}")))?,
    )
    .map_err(|e| ServeError::Internal(format!("WebAuthn: {e}")))?;
    let id = store::new_id();
    state
        .store
        .create_ceremony(&Ceremony {
            id: id.clone(),
            user_id: Some(user.id.clone()),
            kind: CeremonyKind::Registration,
            state_json: ceremony_state("webauthn", inner),
            created_at: now,
            expires_at: ceremony.expires_at(),
            consumed_at: None,
        })
        .await?;
    let options: Value = serde_json::from_str(&options)
        .map_err(|e| ServeError::Internal(format!("WebAuthn options: {e}")))?;
    Ok(Json(json!({ "ceremonyId": id, "options": options })).into_response())
}

/// A finished registration from the page.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterFinish {
    ceremony_id: String,
    credential: Value,
    #[serde(default)]
    name: Option<String>,
}

/// Takes the caller's registration ceremony for `purpose`; `Err` is the refusal to send.
async fn take_registration(
    state: &AppState,
    user: &User,
    id: &str,
    purpose: &str,
) -> Result<Result<Value, Response>, ServeError> {
    let Some(ceremony) = state.store.take_ceremony(id, state.now()).await? else {
        return Ok(Err(refusal(
            StatusCode::BAD_REQUEST,
            "This registration was already finished or has expired; start again.",
        )));
    };
    if ceremony.kind != CeremonyKind::Registration
        || ceremony.user_id.as_deref() != Some(user.id.as_str())
    {
        return Ok(Err(refusal(
            StatusCode::BAD_REQUEST,
            "This registration belongs to someone else.",
        )));
    }
    let stored: Value = serde_json::from_str(&ceremony.state_json)
        .map_err(|e| ServeError::Internal(format!("stored ceremony: {e}")))?;
    if stored["purpose"] != purpose {
        return Ok(Err(refusal(
            StatusCode::BAD_REQUEST,
            "This registration was started for another kind of method.",
        )));
    }
    Ok(Ok(stored["state"].clone()))
}

async fn webauthn_finish(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    body: Result<Json<RegisterFinish>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, PageError> {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => {
            return Ok(refusal(
                StatusCode::BAD_REQUEST,
                format!("Malformed registration: {e}"),
            ))
        }
    };
    let user = match fresh_user(&state, &jar).await? {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    let Some(webauthn) = &state.webauthn else {
        return Ok(refusal(
            StatusCode::BAD_REQUEST,
            "WebAuthn is not available.",
        ));
    };
    let inner = match take_registration(&state, &user, &body.ceremony_id, "webauthn").await? {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let ceremony = authn::webauthn::RegistrationCeremony::from_json(&inner.to_string())
        .map_err(|e| ServeError::Internal(format!("stored ceremony: {e}")))?;
    let now = state.now();
    let registered = match webauthn.finish_registration(ceremony, &body.credential.to_string(), now)
    {
        Ok(r) => r,
        Err(e) => return Ok(refusal(StatusCode::BAD_REQUEST, format!("{e}"))),
    };
    let name = body
        .name
        .map(|n| n.trim().chars().take(64).collect::<String>())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| crate::signin::pages::describe(&registered.mode));
    let record = store::WebauthnCredential {
        id: store::new_id(),
        user_id: user.id.clone(),
        credential_id: registered.credential_id.clone(),
        passkey_json: registered.credential_json.clone(),
        aaguid: registered.aaguid.map(|a| a.to_string()),
        attachment: match registered.attachment {
            authn::webauthn::Attachment::Platform => store::Attachment::Platform,
            authn::webauthn::Attachment::CrossPlatform => store::Attachment::CrossPlatform,
        },
        user_verified: registered.user_verified,
        sign_count: 0,
        display_name: name,
        created_at: now,
        last_used_at: None,
    };
    match state.store.add_webauthn(&record).await {
        Ok(()) => {}
        Err(e) if e.is_conflict() => {
            return Ok(refusal(
                StatusCode::CONFLICT,
                "This authenticator is already registered.",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(user = %user.user_principal_name, mode = %registered.mode, "WebAuthn credential registered");
    Ok(Json(json!({ "id": record.id, "method": registered.mode.to_string() })).into_response())
}

async fn totp_start(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let user = match fresh_user(&state, &jar).await? {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    let enrolment = authn::totp::TotpEnrolment::new("Portcullis", &user.user_principal_name)
        .map_err(|e| ServeError::Internal(format!("TOTP enrolment: {e}")))?;
    use authn::secrecy::ExposeSecret;
    let now = state.now();
    let id = store::new_id();
    state
        .store
        .create_ceremony(&Ceremony {
            id: id.clone(),
            user_id: Some(user.id.clone()),
            kind: CeremonyKind::Registration,
            state_json: ceremony_state(
                "totp",
                json!(STANDARD.encode(enrolment.secret.expose_secret())),
            ),
            created_at: now,
            expires_at: now + FRESHNESS,
            consumed_at: None,
        })
        .await?;
    Ok(Json(json!({
        "ceremonyId": id,
        "otpauthUri": enrolment.otpauth_uri.expose_secret(),
        "manualEntryKey": enrolment.manual_entry_key.expose_secret(),
        "qrPngBase64": enrolment.qr_png_base64.expose_secret(),
    }))
    .into_response())
}

/// The first code from a newly added app.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TotpFinish {
    ceremony_id: String,
    code: String,
    #[serde(default)]
    label: Option<String>,
}

async fn totp_finish(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    body: Result<Json<TotpFinish>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, PageError> {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => {
            return Ok(refusal(
                StatusCode::BAD_REQUEST,
                format!("Malformed request: {e}"),
            ))
        }
    };
    let user = match fresh_user(&state, &jar).await? {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    let secret = match take_registration(&state, &user, &body.ceremony_id, "totp").await? {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let secret = secret
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .ok_or_else(|| ServeError::Internal("stored TOTP enrolment is unreadable".into()))?;
    let now = state.now();
    let matched = match authn::totp::verify_totp(
        &authn::secrecy::SecretSlice::from(secret.clone()),
        &body.code,
        now,
        None,
    ) {
        Ok(step) => step,
        Err(e) => {
            return Ok(refusal(
                StatusCode::BAD_REQUEST,
                format!("{e}; start again and enter the code your app shows"),
            ))
        }
    };
    let label = body
        .label
        .map(|l| l.trim().chars().take(64).collect::<String>())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "Authenticator app".into());
    let id = store::new_id();
    state
        .store
        .add_totp(&store::TotpCredential {
            id: id.clone(),
            user_id: user.id.clone(),
            secret,
            label,
            created_at: now,
            // The enrolment code is spent: it cannot also sign in.
            last_used_step: matched,
        })
        .await?;
    tracing::info!(user = %user.user_principal_name, "authenticator app registered");
    Ok(Json(json!({ "id": id, "method": "softwareOath" })).into_response())
}
