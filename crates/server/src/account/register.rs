//! Registering a passkey, security key or authenticator app, under the provenance of the fresh
//! proof.

use super::proof::*;
use super::*;

/// Which authenticator to register.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RegisterOptions {
    /// `securityKey`, `passkey` or `any`.
    #[serde(default)]
    kind: Option<String>,
}

pub(super) async fn webauthn_options(
    State(state): State<Arc<AppState>>,
    session: Option<BrowserSession>,
    body: JsonBody,
) -> Result<Response, PageError> {
    let user = match fresh_user(&state, session).await? {
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
pub(super) struct RegisterFinish {
    ceremony_id: String,
    credential: Value,
    #[serde(default)]
    name: Option<String>,
}

/// Takes the caller's registration ceremony for `purpose`; `Err` is the refusal to send.
pub(super) async fn take_registration(
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

pub(super) async fn webauthn_finish(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Option<BrowserSession>,
    body: JsonBody,
) -> Result<Response, PageError> {
    let (fresh, body): (Fresh, RegisterFinish) = match fresh_request(&state, session, &body).await?
    {
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

pub(super) async fn totp_start(
    State(state): State<Arc<AppState>>,
    session: Option<BrowserSession>,
) -> Result<Response, PageError> {
    let user = match fresh_user(&state, session).await? {
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
pub(super) struct TotpFinish {
    ceremony_id: String,
    code: String,
    #[serde(default)]
    label: Option<String>,
}

pub(super) async fn totp_finish(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Option<BrowserSession>,
    body: JsonBody,
) -> Result<Response, PageError> {
    let (fresh, body): (Fresh, TotpFinish) = match fresh_request(&state, session, &body).await? {
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
