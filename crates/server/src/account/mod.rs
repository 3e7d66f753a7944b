//! Security info (`/account`): the signed-in user registers, renames and removes passkeys,
//! security keys and authenticator apps. Reaching it is a sign-in for the user action
//! `urn:user:registersecurityinfo` (so Conditional Access can govern registration, and a
//! temporary access pass can bootstrap a first passkey), and the page and every change need a
//! fresh proof that meets the built-in floor (DESIGN §8.5, `policy::registration`): made in the
//! last [`SECURITY_INFO_FRESHNESS`], with one of the user's methods besides the password (or a
//! temporary access pass) once the user has one. A stolen, hours-old session cookie or a
//! password alone gets a sign-in prompt, not a form.
//!
//! Every credential registered here keeps its provenance (the kind of proof, its methods, who
//! issued the pass, when, from where), shown on the page, written to the audit entry and the
//! sign-in log, and told to the user through the outbox, as is every removal.

use crate::error::{PageError, ServeError};
use crate::graph::body::{BodyError, JsonBody};
use crate::oidc::authorize::open_transaction;
use crate::oidc::request::AuthorizationRequest;
use crate::session::{session_token, BrowserSession};
use crate::signin::flow::REGISTER_SECURITY_INFO;
use crate::state::AppState;
use crate::web::token_hash;
use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::CookieJar;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use policy::method::AuthenticationMethodMode as Mode;
use policy::registration::{
    fresh_proof, proof_of, security_info_floor, ProofMethod, Provenance, SECURITY_INFO_FRESHNESS,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use store::{AuditEntry, Ceremony, CeremonyKind, MethodSummary, OidcClient, User};

/// The service's own client, through which `/account` signs users in.
pub const PORTAL_CLIENT_ID: &str = "portcullis-portal";

mod manage;
mod proof;
mod register;

use manage::{remove_method, rename_method};
use register::{totp_finish, totp_start, webauthn_finish, webauthn_options};

/// The security-info routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/account", get(page))
        .route("/account/callback", get(callback))
        .route("/account/webauthn/options", post(webauthn_options))
        .route("/account/webauthn", post(webauthn_finish))
        .route("/account/totp/start", post(totp_start))
        .route("/account/totp", post(totp_finish))
        .route("/account/methods/{id}/rename", post(rename_method))
        .route("/account/methods/{id}/remove", post(remove_method))
}

/// Registers (or updates) the portal's client: confidential, with a secret nobody holds, so
/// its codes are only ever redeemed by `/account/callback`.
pub async fn register_portal_client(state: &AppState) -> Result<(), ServeError> {
    register_own_client(
        state,
        PORTAL_CLIENT_ID,
        "Portcullis security info",
        "/account/callback",
    )
    .await
}

/// Registers (or updates) one of the service's own pages as a client of itself: confidential,
/// with a secret nobody holds (no one can redeem its codes at `/token`), redirecting only to
/// `callback_path` on the issuer, where the page redeems its codes itself.
pub async fn register_own_client(
    state: &AppState,
    client_id: &str,
    display_name: &str,
    callback_path: &str,
) -> Result<(), ServeError> {
    let existing = match state.store.get_client(client_id).await {
        Ok(c) => Some(c),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    let redirect = format!("{}{callback_path}", state.issuer);
    if existing
        .as_ref()
        .is_some_and(|c| c.redirect_uris == [redirect.clone()])
    {
        return Ok(());
    }
    let client = OidcClient {
        client_id: client_id.into(),
        display_name: display_name.into(),
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
        user_action: Some(REGISTER_SECURITY_INFO.into()),
        step_up_request: None,
    }
}

/// A signed-in user of security info, and whether the session holds a fresh proof that meets
/// the floor.
struct Visitor {
    user: User,
    /// The user's methods now.
    methods: Vec<MethodSummary>,
    /// The methods of the fresh proof, when it meets the floor.
    proof: Option<Vec<ProofMethod>>,
}

/// The signed-in user of `session`, and the fresh proof the session holds, if it meets the
/// floor.
async fn visitor(
    state: &AppState,
    session: Option<BrowserSession>,
) -> Result<Option<Visitor>, ServeError> {
    let Some(BrowserSession {
        session,
        caller: app::Caller { user },
        ..
    }) = session
    else {
        return Ok(None);
    };
    let now = state.now();
    let events: Vec<ProofMethod> = state
        .store
        .session_events(&session.id)
        .await?
        .iter()
        .map(store::SessionAuthEvent::proof_method)
        .collect();
    let methods = state.store.list_methods(&user.id, now).await?;
    let held: Vec<_> = methods.iter().map(MethodSummary::held).collect();
    let floor = security_info_floor(&held);
    let proof = fresh_proof(&floor, &events, now, SECURITY_INFO_FRESHNESS)
        .map(|p| p.into_iter().cloned().collect());
    Ok(Some(Visitor {
        user,
        methods,
        proof,
    }))
}

/// One method as the page shows it.
struct MethodRow {
    id: String,
    kind: String,
    label: String,
    provenance: String,
    /// Whether the user can rename or remove it here.
    manageable: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    upn: String,
    methods: Vec<MethodRow>,
    webauthn: bool,
}

async fn page(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
) -> Result<Response, PageError> {
    match visitor(&state, session).await? {
        Some(Visitor {
            user,
            methods,
            proof: Some(_),
        }) => {
            let methods = methods
                .into_iter()
                .map(|m| MethodRow {
                    kind: crate::signin::pages::describe(&m.method),
                    manageable: m.keeps_provenance,
                    provenance: if m.keeps_provenance {
                        m.provenance
                            .as_ref()
                            .map(Provenance::describe)
                            .unwrap_or_else(|| Provenance::unrecorded(m.created_at).describe())
                    } else {
                        String::new()
                    },
                    id: m.id,
                    label: m.label,
                })
                .collect();
            let html = AccountPage {
                upn: user.user_principal_name,
                methods,
                webauthn: state.webauthn.is_some(),
            }
            .render()
            .map_err(|e| ServeError::Internal(format!("account page: {e}")))?;
            Ok((no_store(), Html(html)).into_response())
        }
        other => {
            // No session, or no fresh proof that meets the floor: sign in (again) for the
            // registration user action; the sign-in asks for exactly what the floor needs.
            let request = portal_request(&state, other.is_some());
            let (jar, tx) = open_transaction(&state, jar, &request).await?;
            Ok((jar, Redirect::to(&format!("/signin/{tx}"))).into_response())
        }
    }
}

/// `Cache-Control: no-store`: security info and its secrets are never kept by a cache.
fn no_store() -> [(axum::http::HeaderName, &'static str); 1] {
    [(axum::http::header::CACHE_CONTROL, "no-store")]
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
        .consume_client_code(&token_hash(&code), PORTAL_CLIENT_ID, state.now())
        .await?;
    // The code must name this browser's session; whether that session is still live is the
    // page's to check when it is opened (the redirect goes there).
    let session = session_token(&jar)
        .map(|t| token_hash(&t))
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
    (status, no_store(), Json(json!({ "error": message.into() }))).into_response()
}

/// A refusal of a security-info request, answered as JSON.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        refusal(self.0, self.1)
    }
}

/// A JSON answer that is never cached.
fn answer(body: Value) -> Response {
    (no_store(), Json(body)).into_response()
}

/// Reads a security-info request body strictly: declared as JSON (`415` otherwise), the expected
/// object with no unknown fields, nested no deeper than serde's limit (`400`), as a JSON error.
fn parse_body<T: serde::de::DeserializeOwned>(body: &JsonBody) -> Result<T, Refusal> {
    body.parse("what this form sends").map_err(|e| {
        let status = match e {
            BodyError::NotJson { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyError::Malformed { .. } | BodyError::NotAnObject { .. } | BodyError::Nul => {
                StatusCode::BAD_REQUEST
            }
        };
        Refusal(status, e.to_string())
    })
}

/// Ceremony state of a registration: WebAuthn's, or a TOTP secret awaiting its first code.
fn ceremony_state(purpose: &str, state: Value) -> String {
    json!({ "purpose": purpose, "state": state }).to_string()
}
