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
use crate::signin::flow::REGISTER_SECURITY_INFO;
use crate::state::AppState;
use crate::web::{token_hash, SESSION_COOKIE};
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

/// The user and session behind the cookie, and the fresh proof they hold, if it meets the floor.
async fn signed_in(state: &AppState, jar: &CookieJar) -> Result<Option<Visitor>, ServeError> {
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

async fn page(State(state): State<Arc<AppState>>, jar: CookieJar) -> Result<Response, PageError> {
    match signed_in(&state, &jar).await? {
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
            BodyError::Malformed { .. } | BodyError::NotAnObject { .. } => StatusCode::BAD_REQUEST,
        };
        Refusal(status, e.to_string())
    })
}

/// Ceremony state of a registration: WebAuthn's, or a TOTP secret awaiting its first code.
fn ceremony_state(purpose: &str, state: Value) -> String {
    json!({ "purpose": purpose, "state": state }).to_string()
}

/// The user, when the session holds a fresh proof that meets the floor; `Err` is the refusal.
async fn fresh_user(
    state: &AppState,
    jar: &CookieJar,
) -> Result<Result<Fresh, Response>, ServeError> {
    Ok(match signed_in(state, jar).await? {
        Some(Visitor {
            user,
            methods,
            proof: Some(proof),
        }) => Ok(Fresh {
            user,
            methods,
            proof,
        }),
        Some(_) => Err(refusal(
            StatusCode::UNAUTHORIZED,
            "Prove it is you again to change your security info (open /account): a recent \
             sign-in with one of your methods besides the password, or a temporary access pass.",
        )),
        None => Err(refusal(
            StatusCode::UNAUTHORIZED,
            "Sign in first (open /account).",
        )),
    })
}

/// The body of a change (read strictly) and the user allowed to make it; `Err` is the refusal,
/// a malformed body's first.
async fn fresh_request<T: serde::de::DeserializeOwned>(
    state: &AppState,
    jar: &CookieJar,
    body: &JsonBody,
) -> Result<Result<(Fresh, T), Response>, ServeError> {
    let body = match parse_body(body) {
        Ok(b) => b,
        Err(r) => return Ok(Err(r.into_response())),
    };
    Ok(fresh_user(state, jar).await?.map(|fresh| (fresh, body)))
}

/// A user allowed to change security info now, with the proof that allows it.
struct Fresh {
    user: User,
    methods: Vec<MethodSummary>,
    proof: Vec<ProofMethod>,
}

impl Fresh {
    /// The provenance of a credential registered now, from `peer`.
    async fn provenance(
        &self,
        state: &AppState,
        now: DateTime<Utc>,
        peer: SocketAddr,
    ) -> Result<Provenance, ServeError> {
        let mut methods: Vec<Mode> = Vec::new();
        for m in &self.proof {
            if !methods.contains(&m.method) {
                methods.push(m.method.clone());
            }
        }
        // Who issued the pass of the proof, when a pass is part of it.
        let mut issued_by = None;
        let passes: Vec<&str> = self
            .proof
            .iter()
            .filter(|m| {
                matches!(
                    m.method,
                    Mode::TemporaryAccessPassOneTime | Mode::TemporaryAccessPassMultiUse
                )
            })
            .filter_map(|m| m.credential_id.as_deref())
            .collect();
        if !passes.is_empty() {
            issued_by = state
                .store
                .list_taps(&self.user.id)
                .await?
                .into_iter()
                .find(|p| passes.contains(&p.id.as_str()))
                .map(|p| p.created_by);
            // Named by sign-in name when the issuer is a user of the directory.
            if let Some(id) = issued_by.clone() {
                match state.store.get_user(&id).await {
                    Ok(u) => issued_by = Some(u.user_principal_name),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(Provenance {
            proof: proof_of(&self.proof),
            methods,
            temporary_access_pass_issued_by: issued_by,
            registered_at: now,
            source_address: Some(peer.ip().to_string()),
        })
    }
}

/// Records a change of security info: the audit entry (written with the change, by the caller),
/// the sign-in log, and a message to the user through the outbox.
struct Change<'a> {
    user: &'a User,
    /// "added", "renamed" or "removed".
    verb: &'a str,
    /// What ("Passkey 'YubiKey'").
    what: String,
    provenance: Option<&'a Provenance>,
    peer: SocketAddr,
    proof: &'a [ProofMethod],
}

impl Change<'_> {
    fn audit(&self, state: &AppState, activity: &str, operation: &str) -> AuditEntry {
        let mut entry = AuditEntry::new("UserManagement", activity, operation, state.now())
            .by_user(&self.user.id, Some(&self.user.user_principal_name))
            .target("User", &self.user.id, Some(&self.user.user_principal_name))
            .detail("method", &self.what)
            .detail("ipAddress", &self.peer.ip().to_string())
            .detail("proofMethods", &proof_modes(self.proof).join(","));
        if let Some(p) = self.provenance {
            entry = entry
                .detail("registrationProof", p.proof.as_str())
                .detail("provenance", &p.describe());
        }
        entry
    }

    /// The sign-in log entry and the message to the user; failures here are logged, not shown:
    /// the change itself and its audit entry are already committed.
    async fn tell(&self, state: &AppState) {
        let details = match self.provenance {
            Some(p) => format!(
                "Security info: {} {} ({})",
                self.what,
                self.verb,
                p.describe()
            ),
            None => format!("Security info: {} {}", self.what, self.verb),
        };
        let record = store::SignInRecord {
            id: store::new_id(),
            created_at: state.now(),
            user_id: Some(self.user.id.clone()),
            user_principal_name: self.user.user_principal_name.clone(),
            client_id: Some(PORTAL_CLIENT_ID.into()),
            ip: Some(self.peer.ip().to_string()),
            result: store::SignInResult::Success,
            failure_reason: None,
            methods: proof_modes(self.proof),
            applied_policies: Value::Array(Vec::new()),
            session_id: None,
            additional_details: Some(details.clone()),
        };
        if let Err(e) = state.store.append_signin(&record).await {
            tracing::error!(error = %e, "sign-in log entry of a security-info change not written");
        }
        let preposition = match self.verb {
            "added" => "to",
            "removed" => "from",
            _ => "on",
        };
        let message = format!(
            "Portcullis: {} was {} {preposition} your account {} on {} UTC from {}. If this was \
             not you, tell your administrator now.",
            self.what,
            self.verb,
            self.user.user_principal_name,
            state.now().format("%Y-%m-%d %H:%M"),
            self.peer.ip()
        );
        for recipient in recipients(state, self.user).await {
            if let Err(e) = state
                .sender
                .send(authn::otp::OtpChannel::Email, &recipient, &message)
                .await
            {
                tracing::error!(error = %e, "security-info notice not sent");
            }
        }
    }
}

fn proof_modes(proof: &[ProofMethod]) -> Vec<String> {
    let mut modes: Vec<String> = proof.iter().map(|m| m.method.to_string()).collect();
    modes.dedup();
    modes
}

/// Where security-info notices go: the user's registered e-mail addresses, else the sign-in
/// name (an address in most tenants).
async fn recipients(state: &AppState, user: &User) -> Vec<String> {
    let mut to: Vec<String> = match state.store.list_contact_methods(&user.id).await {
        Ok(c) => c
            .into_iter()
            .filter(|c| c.kind == store::Channel::Email)
            .map(|c| c.address)
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "contact methods not read for a security-info notice");
            Vec::new()
        }
    };
    if to.is_empty() {
        to.push(user.user_principal_name.clone());
    }
    to
}

/// Which authenticator to register.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RegisterOptions {
    /// `securityKey`, `passkey` or `any`.
    #[serde(default)]
    kind: Option<String>,
}

async fn webauthn_options(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    body: JsonBody,
) -> Result<Response, PageError> {
    let user = match fresh_user(&state, &jar).await? {
        Ok(f) => f.user,
        Err(r) => return Ok(r),
    };
    let body: RegisterOptions = if body.is_empty() {
        RegisterOptions::default()
    } else {
        match parse_body(&body) {
            Ok(b) => b,
            Err(r) => return Ok(r.into_response()),
        }
    };
    let Some(webauthn) = &state.webauthn else {
        return Ok(refusal(
            StatusCode::BAD_REQUEST,
            "Security keys and passkeys are not available on this server (its address is not https).",
        ));
    };
    let kind = match body.kind.as_deref() {
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
    Ok(answer(json!({ "ceremonyId": id, "options": options })))
}

/// A finished registration from the page.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    body: JsonBody,
) -> Result<Response, PageError> {
    let (fresh, body): (Fresh, RegisterFinish) = match fresh_request(&state, &jar, &body).await? {
        Ok(r) => r,
        Err(r) => return Ok(r),
    };
    let user = &fresh.user;
    let Some(webauthn) = &state.webauthn else {
        return Ok(refusal(
            StatusCode::BAD_REQUEST,
            "WebAuthn is not available.",
        ));
    };
    let inner = match take_registration(&state, user, &body.ceremony_id, "webauthn").await? {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let ceremony = authn::webauthn::RegistrationCeremony::from_json(&inner.to_string())
        .map_err(|e| ServeError::Internal(format!("stored ceremony: {e}")))?;
    let now = state.now();
    let provenance = fresh.provenance(&state, now, peer).await?;
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
        provenance: Some(provenance.clone()),
    };
    let change = Change {
        user,
        verb: "added",
        what: format!(
            "{} '{}'",
            describe_mode(&registered.mode),
            record.display_name
        ),
        provenance: Some(&provenance),
        peer,
        proof: &fresh.proof,
    };
    let audit = change.audit(&state, "User registered security info", "Add");
    match state
        .store
        .register_method_audited(store::NewMethod::Webauthn(&record), &audit)
        .await
    {
        Ok(()) => {}
        Err(e) if e.is_conflict() => {
            return Ok(refusal(
                StatusCode::CONFLICT,
                "This authenticator is already registered.",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    change.tell(&state).await;
    tracing::info!(user = %user.user_principal_name, mode = %registered.mode, proof = %provenance.proof, "WebAuthn credential registered");
    Ok(answer(json!({
        "id": record.id,
        "method": registered.mode.to_string(),
        "provenance": provenance,
    })))
}

async fn totp_start(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let user = match fresh_user(&state, &jar).await? {
        Ok(f) => f.user,
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
            expires_at: now + SECURITY_INFO_FRESHNESS,
            consumed_at: None,
        })
        .await?;
    Ok(answer(json!({
        "ceremonyId": id,
        "otpauthUri": enrolment.otpauth_uri.expose_secret(),
        "manualEntryKey": enrolment.manual_entry_key.expose_secret(),
        "qrPngBase64": enrolment.qr_png_base64.expose_secret(),
    })))
}

/// The first code from a newly added app.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TotpFinish {
    ceremony_id: String,
    code: String,
    #[serde(default)]
    label: Option<String>,
}

async fn totp_finish(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    body: JsonBody,
) -> Result<Response, PageError> {
    let (fresh, body): (Fresh, TotpFinish) = match fresh_request(&state, &jar, &body).await? {
        Ok(r) => r,
        Err(r) => return Ok(r),
    };
    let user = &fresh.user;
    let secret = match take_registration(&state, user, &body.ceremony_id, "totp").await? {
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
    let provenance = fresh.provenance(&state, now, peer).await?;
    let change = Change {
        user,
        verb: "added",
        what: format!("Authenticator app '{label}'"),
        provenance: Some(&provenance),
        peer,
        proof: &fresh.proof,
    };
    let audit = change.audit(&state, "User registered security info", "Add");
    let credential = store::TotpCredential {
        id: id.clone(),
        user_id: user.id.clone(),
        secret,
        label,
        created_at: now,
        // The enrolment code is spent: it cannot also sign in.
        last_used_step: matched,
        provenance: Some(provenance.clone()),
    };
    state
        .store
        .register_method_audited(store::NewMethod::Totp(&credential), &audit)
        .await?;
    change.tell(&state).await;
    tracing::info!(user = %user.user_principal_name, proof = %provenance.proof, "authenticator app registered");
    Ok(answer(
        json!({ "id": id, "method": "softwareOath", "provenance": provenance }),
    ))
}

fn describe_mode(mode: &Mode) -> String {
    crate::signin::pages::describe(mode)
}

/// A new name for a method.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rename {
    name: String,
}

/// The method `id` of the fresh user that can be managed here, or the refusal.
fn managed<'m>(fresh: &'m Fresh, id: &str) -> Result<&'m MethodSummary, Refusal> {
    fresh
        .methods
        .iter()
        .find(|m| m.id == id && m.keeps_provenance)
        .ok_or_else(|| {
            Refusal(
                StatusCode::NOT_FOUND,
                "You have no such method (passwords and passes are not managed here).".into(),
            )
        })
}

async fn rename_method(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Response, PageError> {
    let (fresh, body): (Fresh, Rename) = match fresh_request(&state, &jar, &body).await? {
        Ok(r) => r,
        Err(r) => return Ok(r),
    };
    let method = match managed(&fresh, &id) {
        Ok(m) => m,
        Err(r) => return Ok(r.into_response()),
    };
    let name: String = body.name.trim().chars().take(64).collect();
    if name.is_empty() || name.chars().any(char::is_control) {
        return Ok(refusal(
            StatusCode::BAD_REQUEST,
            "Give a name of 1 to 64 printable characters.",
        ));
    }
    let change = Change {
        user: &fresh.user,
        verb: "renamed",
        what: format!(
            "{} '{}' (now '{name}')",
            describe_mode(&method.method),
            method.label
        ),
        provenance: None,
        peer,
        proof: &fresh.proof,
    };
    let audit = change.audit(&state, "User renamed security info", "Update");
    match state
        .store
        .rename_method_audited(&fresh.user.id, &id, &name, &audit)
        .await
    {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {
            return Ok(refusal(StatusCode::NOT_FOUND, "You have no such method."))
        }
        Err(e) => return Err(e.into()),
    }
    change.tell(&state).await;
    Ok(answer(json!({ "id": id, "name": name })))
}

async fn remove_method(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let fresh = match fresh_user(&state, &jar).await? {
        Ok(f) => f,
        Err(r) => return Ok(r),
    };
    let method = match managed(&fresh, &id) {
        Ok(m) => m,
        Err(r) => return Ok(r.into_response()),
    };
    // A key that counts for phishing-resistant access is removed only under a proof as strong
    // (such a key, or an administrator's pass): a relayed password and code must not be able to
    // take an administrator's key away.
    let counts = method.method.is_phishing_resistant()
        && method
            .registration()
            .is_some_and(|r| r.vouches_for_phishing_resistance());
    if counts && !proof_of(&fresh.proof).vouches_for_phishing_resistance() {
        let entry = AuditEntry::new(
            "UserManagement",
            "User deleted security info",
            "Delete",
            state.now(),
        )
        .by_user(&fresh.user.id, Some(&fresh.user.user_principal_name))
        .target(
            "User",
            &fresh.user.id,
            Some(&fresh.user.user_principal_name),
        )
        .detail("method", &method.label)
        .detail("proofMethods", &proof_modes(&fresh.proof).join(","))
        .failed(
            "a phishing-resistant key is removed only under a phishing-resistant proof or a pass",
        );
        if let Err(e) = state.store.append_audit(&entry).await {
            tracing::error!(error = %e, "audit entry of a refused removal not written");
        }
        return Ok(refusal(
            StatusCode::FORBIDDEN,
            "This key counts for phishing-resistant access: to remove it, sign in again with one \
             of your keys that count, or with a temporary access pass from an administrator.",
        ));
    }
    let change = Change {
        user: &fresh.user,
        verb: "removed",
        what: format!("{} '{}'", describe_mode(&method.method), method.label),
        provenance: method.provenance.as_ref(),
        peer,
        proof: &fresh.proof,
    };
    let audit = change.audit(&state, "User deleted security info", "Delete");
    match state
        .store
        .remove_method_audited(&fresh.user.id, &id, &audit)
        .await
    {
        Ok(_) => {}
        Err(e) if e.is_not_found() => {
            return Ok(refusal(StatusCode::NOT_FOUND, "You have no such method."))
        }
        Err(e) => return Err(e.into()),
    }
    change.tell(&state).await;
    tracing::info!(user = %fresh.user.user_principal_name, method = %method.method, "method removed");
    Ok(answer(json!({ "id": id, "removed": true })))
}
