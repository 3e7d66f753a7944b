//! WebAuthn in a sign-in: the page's script asks for options, the authenticator signs the
//! challenge, the script posts the assertion. The ceremony is kept server-side, bound to the
//! transaction, and taken once: a replayed assertion finds no ceremony, an assertion made for
//! another transaction does not match its binding.

use crate::error::{PageError, ServeError};
use crate::signin::context::SignInContext;
use crate::signin::steps::record_method;
use crate::signin::{circumstances, lockout, log_signin};
use crate::state::AppState;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use axum_extra::extract::cookie::CookieJar;
use policy::registration::RegistrationProof;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use store::{Ceremony, CeremonyKind, SignInResult};

const DISABLED: &str =
    "Security keys and passkeys are not available on this server (its address is not https).";

fn refusal(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn webauthn_user(ctx: &SignInContext) -> Result<(String, uuid::Uuid), Box<Response>> {
    let Some(user) = &ctx.user else {
        return Err(Box::new(refusal(
            StatusCode::BAD_REQUEST,
            "Enter your sign-in name first.",
        )));
    };
    match uuid::Uuid::parse_str(&user.id) {
        Ok(u) => Ok((user.id.clone(), u)),
        Err(_) => Err(Box::new(refusal(
            StatusCode::BAD_REQUEST,
            "Security keys cannot be used with this account (its id is not a UUID).",
        ))),
    }
}

/// Starts an authentication ceremony for the transaction's user.
pub async fn options(
    State(state): State<Arc<AppState>>,
    Path(tx): Path<String>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let ctx = SignInContext::load(&state, &tx, &jar).await?;
    let (user_id, user_uuid) = match webauthn_user(&ctx) {
        Ok(u) => u,
        Err(r) => return Ok(*r),
    };
    let now = state.now();
    let credentials: Vec<String> = state
        .store
        .list_webauthn(&user_id)
        .await?
        .into_iter()
        .map(|c| c.passkey_json)
        .collect();
    if credentials.is_empty() {
        return Ok(refusal(
            StatusCode::BAD_REQUEST,
            "You have no security key or passkey registered.",
        ));
    }
    let Some(webauthn) = &state.webauthn else {
        return Ok(refusal(StatusCode::BAD_REQUEST, DISABLED));
    };
    let (options, ceremony) = webauthn
        .start_authentication(
            user_uuid,
            &credentials,
            Some(ctx.transaction.id.as_bytes()),
            now,
        )
        .map_err(|e| ServeError::Internal(format!("WebAuthn: {e}")))?;
    let state_json = ceremony
        .to_json()
        .map_err(|e| ServeError::Internal(format!("WebAuthn: {e}")))?;
    let id = store::new_id();
    state
        .store
        .create_ceremony(&Ceremony {
            id: id.clone(),
            user_id: Some(user_id),
            kind: CeremonyKind::Authentication,
            state_json,
            created_at: now,
            expires_at: ceremony.expires_at(),
            consumed_at: None,
        })
        .await?;
    let options: Value = serde_json::from_str(&options)
        .map_err(|e| ServeError::Internal(format!("WebAuthn options: {e}")))?;
    Ok(Json(json!({ "ceremonyId": id, "options": options })).into_response())
}

/// The assertion the page posts.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finish {
    /// The ceremony started by [`options`].
    pub ceremony_id: String,
    /// The `PublicKeyCredential` as JSON (webauthn-rs / WebAuthn Level 3 `toJSON` shape).
    pub credential: Value,
}

/// Verifies an assertion and records the method.
pub async fn finish(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(tx): Path<String>,
    jar: CookieJar,
    body: Result<Json<Finish>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, PageError> {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => {
            return Ok(refusal(
                StatusCode::BAD_REQUEST,
                format!("Malformed assertion: {e}"),
            ))
        }
    };
    let ctx = SignInContext::load(&state, &tx, &jar).await?;
    let (user_id, _) = match webauthn_user(&ctx) {
        Ok(u) => u,
        Err(r) => return Ok(*r),
    };
    let circumstances = circumstances(peer, &headers);
    let now = state.now();
    // An assertion cannot be guessed, so no lock refuses one; a failed one still counts.
    let fail = |reason: String| {
        let state = state.clone();
        let ctx = ctx.clone();
        let circumstances = circumstances.clone();
        let user_id = user_id.clone();
        let jar = jar.clone();
        async move {
            let attempt = lockout::attempt(&state, &user_id, circumstances.ip, &jar).await?;
            let started = lockout::count_failure(&state, &attempt).await?;
            let logged = lockout::logged_failure(format!("WebAuthn: {reason}"), &started);
            log_signin(
                &state,
                &ctx,
                &circumstances,
                SignInResult::Failure,
                Some(logged),
                vec!["fido2".into()],
                Value::Array(Vec::new()),
            )
            .await?;
            Ok::<Response, PageError>(refusal(StatusCode::BAD_REQUEST, reason))
        }
    };
    let Some(ceremony) = state.store.take_ceremony(&body.ceremony_id, now).await? else {
        return fail("This challenge was already used or has expired; try again.".into()).await;
    };
    if ceremony.kind != CeremonyKind::Authentication
        || ceremony.user_id.as_deref() != Some(user_id.as_str())
    {
        return fail("This challenge was issued for someone else.".into()).await;
    }
    let ceremony = authn::webauthn::AuthenticationCeremony::from_json(&ceremony.state_json)
        .map_err(|e| ServeError::Internal(format!("stored WebAuthn ceremony: {e}")))?;
    let stored = state.store.list_webauthn(&user_id).await?;
    let current: Vec<&str> = stored.iter().map(|c| c.passkey_json.as_str()).collect();
    let response = body.credential.to_string();
    let Some(webauthn) = &state.webauthn else {
        return Ok(refusal(StatusCode::BAD_REQUEST, DISABLED));
    };
    let assertion = match webauthn.finish_authentication(
        ceremony,
        &response,
        Some(ctx.transaction.id.as_bytes()),
        &current,
        now,
    ) {
        Ok(a) => a,
        Err(e) => return fail(format!("{e}")).await,
    };
    let record = stored
        .iter()
        .find(|c| c.credential_id == assertion.credential_id);
    if let Some(record) = record {
        let json = assertion
            .new_credential_json
            .clone()
            .unwrap_or_else(|| record.passkey_json.clone());
        state
            .store
            .update_webauthn_after_use(&record.id, &json, i64::from(assertion.sign_count), now)
            .await?;
    }
    let jar = record_method(
        &state,
        &ctx,
        jar,
        crate::signin::steps::Performed {
            method: assertion.mode.clone(),
            aaguid: assertion.aaguid.map(|a| a.to_string()),
            user_verified: assertion.user_verified,
            credential_id: record.map(|r| r.id.clone()),
            registration: Some(
                record
                    .map(|r| store::registration_of(&r.provenance))
                    .unwrap_or(RegistrationProof::Unrecorded),
            ),
        },
    )
    .await?;
    Ok((jar, Json(json!({ "next": ctx.page_path() }))).into_response())
}
