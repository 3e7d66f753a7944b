//! `grant_type=refresh_token` (RFC 6749 §6): rotation, reuse detection, narrowing the scope, and
//! the checks both grants make of the session and the user.

use super::*;

/// `grant_type=refresh_token` (RFC 6749 §6), with rotation and reuse detection.
pub(super) async fn refresh(
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
    let issue = Issue {
        client_id: &client.client_id,
        user: &user,
        sid: &session.sid,
        scope: &scope,
        // OIDC Core §12.2: an ID token from a refresh carries no nonce.
        nonce: None,
        authentication: &authentication,
        step_up_request: None,
    };
    let grant = RefreshGrant {
        family_id: record.family_id.clone(),
        session_id: &session.id,
        // The successor keeps the grant's scope, whatever this request narrowed (RFC 6749 §6).
        scope: &record.scope,
    };
    let (next_token, next) = new_refresh_token(state, grant, &issue, now)?;
    match state.store.rotate_refresh_token(&hash, &next, now).await? {
        Rotation::Rotated { .. } => {}
        Rotation::Reused { .. } => return Err(reused(client, &record.user_id, None)),
        Rotation::Invalid => return Err(invalid()),
    }
    let (access_token, id_token) = sign_tokens(state, &issue, now)?;
    Ok(Issued::logged(
        state,
        (&client.client_id, &user.id, "refresh_token"),
        Signed {
            access_token,
            id_token,
        },
        scope,
        Some(next_token),
    ))
}

pub(super) fn reused(client: &OidcClient, user_id: &str, revoked: Option<u64>) -> OAuthError {
    tracing::warn!(
        client_id = %client.client_id,
        user_id = %user_id,
        revoked_refresh_tokens = ?revoked,
        "a used refresh token was presented again; every token of its grant is revoked"
    );
    invalid_grant("refresh token already used; every token of this grant has been revoked")
}

/// The scope of a refresh: the grant's, or a subset of it that the request names.
pub(super) fn narrowed_scope(
    granted: &str,
    requested: Option<&String>,
) -> Result<String, OAuthError> {
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

/// The session a grant was made in, if it is still live and the user's. Not the browser
/// session resolver (`crate::session`): a grant names its session by id, with no cookie, and
/// must be refused (`invalid_grant`) when that session ended or belongs to someone else.
pub(super) async fn live_session(
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

pub(super) async fn enabled_user(state: &AppState, user_id: &str) -> Result<User, OAuthError> {
    match state.store.get_user(user_id).await {
        Ok(u) if u.account_enabled => Ok(u),
        Ok(_) => Err(invalid_grant("the account is disabled")),
        Err(e) if e.is_not_found() => Err(invalid_grant("the account no longer exists")),
        Err(e) => Err(e.into()),
    }
}
