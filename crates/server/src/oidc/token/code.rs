//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.5): a code redeemed once, its
//! replay revoking what its redemption started.

use super::*;

/// `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.5).
pub(super) async fn redeem_code(
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
    let issue = Issue {
        client_id: &client.client_id,
        user: &user,
        sid: &session.sid,
        scope: &code.scope,
        nonce: code.nonce.as_deref(),
        authentication: &authentication,
        step_up_request: code.step_up_request.as_deref(),
    };
    let (access_token, id_token) = sign_tokens(state, &issue, now)?;
    let refresh_token = if has_scope(&code.scope, "offline_access") {
        let grant = RefreshGrant {
            family_id: store::new_id(),
            session_id: &code.session_id,
            scope: &code.scope,
        };
        let (token, record) = new_refresh_token(state, grant, &issue, now)?;
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
    Ok(Issued::logged(
        state,
        (&client.client_id, &user.id, "authorization_code"),
        Signed {
            access_token,
            id_token,
        },
        code.scope,
        refresh_token,
    ))
}
