//! One-time codes sent by SMS, voice or e-mail: sending one, and checking it.

use super::*;

/// The "send me a code" form.
#[derive(Deserialize)]
pub struct SendForm {
    /// The phone number or address to send to (its id).
    pub contact_id: String,
}

/// Sends a one-time code by SMS, voice or e-mail (through the outbox).
pub async fn otp_send(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(tx): Path<String>,
    jar: CookieJar,
    PageForm(form): PageForm<SendForm>,
) -> Result<Response, PageError> {
    let step = Step::load(state, peer, &headers, &tx, jar).await?;
    let user_id = step.user_id()?;
    let contacts = step.state.store.list_contact_methods(&user_id).await?;
    let Some(contact) = contacts.into_iter().find(|c| c.id == form.contact_id) else {
        return step
            .again("That phone number or address is not registered to you.".into())
            .await;
    };
    // A code sent while locked would only be refused when entered.
    let attempt = step.attempt().await?;
    if let Some(lock) = lockout::check(&step.state, &attempt).await? {
        return step
            .refuse(&crate::outbox::otp_channel(contact.kind).mode(), &lock)
            .await;
    }
    let now = step.state.now();
    let challenge_id = uuid::Uuid::new_v4();
    let issued = authn::otp::issue_otp(&step.state.otp_key, challenge_id, now, OTP_TTL)
        .map_err(|e| ServeError::Internal(format!("one-time code: {e}")))?;
    step.state
        .store
        .create_otp(&store::OtpChallenge {
            id: challenge_id.to_string(),
            user_id: user_id.clone(),
            channel: contact.kind,
            code_hash: issued.code_hash.clone(),
            created_at: now,
            expires_at: issued.expires_at,
            attempts: 0,
            consumed_at: None,
        })
        .await?;
    let channel = crate::outbox::otp_channel(contact.kind);
    let body = authn::otp::otp_message(channel, &issued.code, "Portcullis");
    let sent = step
        .state
        .sender
        .send(
            channel,
            &contact.address,
            authn::secrecy::ExposeSecret::expose_secret(&body),
        )
        .await;
    if let Err(e) = sent {
        tracing::error!(user = %user_id, error = %e, "one-time code not sent");
        return step
            .again("The code could not be sent. Try another method, or again later.".into())
            .await;
    }
    tracing::info!(user = %user_id, channel = %contact.kind.as_str(), "one-time code sent");
    Ok((
        step.jar,
        Redirect::to(&format!("{}?otp={challenge_id}", step.ctx.page_path())),
    )
        .into_response())
}

/// The one-time code form.
#[derive(Deserialize)]
pub struct OtpForm {
    /// The challenge the code was sent for.
    pub challenge_id: String,
    /// The code.
    pub code: String,
}

/// Verifies a one-time code: attempts are counted in the store before the check, and a good
/// code is consumed atomically, so it works once.
pub async fn otp_verify(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(tx): Path<String>,
    jar: CookieJar,
    PageForm(form): PageForm<OtpForm>,
) -> Result<Response, PageError> {
    let step = Step::load(state, peer, &headers, &tx, jar).await?;
    let user_id = step.user_id()?;
    let now = step.state.now();
    let Ok(challenge_uuid) = uuid::Uuid::parse_str(&form.challenge_id) else {
        return step
            .again("That code request is not known; send a new code.".into())
            .await;
    };
    let challenge = match step.state.store.get_otp(&form.challenge_id).await {
        Ok(c) if c.user_id == user_id => c,
        Ok(_) => {
            return step
                .again("That code request is not known; send a new code.".into())
                .await
        }
        Err(e) if e.is_not_found() => {
            return step
                .again("That code request is not known; send a new code.".into())
                .await
        }
        Err(e) => return Err(e.into()),
    };
    let mode = crate::outbox::otp_channel(challenge.channel).mode();
    // Checked before the attempt is counted against the code: a refused guess is no guess.
    let attempt = step.attempt().await?;
    if let Some(lock) = lockout::check(&step.state, &attempt).await? {
        return step.refuse(&mode, &lock).await;
    }
    let Some(counted) = step
        .state
        .store
        .record_otp_attempt(&challenge.id, now, OTP_MAX_ATTEMPTS)
        .await?
    else {
        return step
            .failed(
                &attempt,
                &mode,
                "This code has expired, was used, or was guessed too often; send a new one.".into(),
            )
            .await;
    };
    let state_before = authn::otp::OtpState {
        code_hash: counted.code_hash.clone(),
        expires_at: counted.expires_at,
        attempts: u32::try_from(counted.attempts.saturating_sub(1)).unwrap_or(u32::MAX),
        consumed: counted.consumed_at.is_some(),
    };
    match authn::otp::verify_otp(
        &state_before,
        &form.code,
        now,
        &step.state.otp_key,
        challenge_uuid,
    ) {
        Ok(_) => {
            if !step.state.store.consume_otp(&challenge.id, now).await? {
                return step
                    .failed(&attempt, &mode, "This code has already been used.".into())
                    .await;
            }
            // The challenge does not name the number or address it went to: the weakest of
            // the user's on that channel stands for it, so that a number added with the
            // password alone never lends a better one its provenance.
            let contact = step
                .state
                .store
                .list_contact_methods(&user_id)
                .await?
                .into_iter()
                .filter(|c| c.kind == challenge.channel)
                .min_by_key(|c| store::registration_of(&c.provenance).rank());
            let performed = match contact {
                Some(c) => {
                    Performed::with(mode, &c.id, Some(store::registration_of(&c.provenance)))
                }
                None => Performed::bare(mode),
            };
            step.succeeded(performed).await
        }
        Err(rejected) => {
            step.failed(&attempt, &mode, rejected.reason.to_string())
                .await
        }
    }
}
