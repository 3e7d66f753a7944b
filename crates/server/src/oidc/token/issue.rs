//! Issuance: signing the access and ID tokens of a grant, and the answer that carries them.

use super::*;

/// What the tokens of one issuance say.
pub(super) struct Issue<'a> {
    pub(super) client_id: &'a str,
    pub(super) user: &'a User,
    pub(super) sid: &'a str,
    pub(super) scope: &'a str,
    pub(super) nonce: Option<&'a str>,
    pub(super) authentication: &'a Authentication,
    /// The PIM request a step-up code proves (code grants only).
    pub(super) step_up_request: Option<&'a str>,
}

/// Signs the access token and, when the scope has `openid`, the ID token.
pub(super) fn sign_tokens(
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

/// Where a new refresh token belongs: its family (a new one for a code grant, the presented
/// token's for a rotation), the browser session it descends from, and the grant's scope (which
/// a rotation keeps, whatever the request narrowed: RFC 6749 §6).
pub(super) struct RefreshGrant<'a> {
    pub(super) family_id: String,
    pub(super) session_id: &'a str,
    pub(super) scope: &'a str,
}

/// A new refresh token of `grant` for the client, user and authentication of `issue`: the
/// token to hand out, and the record to store (which holds only its hash), usable for the
/// configured lifetime from `now`.
pub(super) fn new_refresh_token(
    state: &AppState,
    grant: RefreshGrant<'_>,
    issue: &Issue<'_>,
    now: DateTime<Utc>,
) -> Result<(String, RefreshToken), ServeError> {
    let token = random_token()?;
    let claims = serde_json::to_value(issue.authentication)
        .map_err(|e| ServeError::Internal(format!("refresh token claims: {e}")))?;
    let record = RefreshToken {
        id: store::new_id(),
        token_hash: token_hash(&token),
        family_id: grant.family_id,
        client_id: issue.client_id.to_string(),
        user_id: issue.user.id.clone(),
        session_id: Some(grant.session_id.to_string()),
        scope: grant.scope.to_string(),
        claims,
        created_at: now,
        expires_at: now + Duration::hours(i64::from(state.config.lifetimes.refresh_token_hours)),
        consumed_at: None,
        revoked_at: None,
    };
    Ok((token, record))
}

/// A successful token response (RFC 6749 §5.1), never cached.
#[derive(Debug, Serialize)]
pub(super) struct Issued {
    pub(super) access_token: String,
    pub(super) token_type: &'static str,
    pub(super) expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) id_token: Option<String>,
    pub(super) scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) refresh_token: Option<String>,
}

/// Tokens signed for a grant: the access token and, with `openid`, the ID token.
pub(super) struct Signed {
    pub(super) access_token: String,
    pub(super) id_token: Option<String>,
}

impl Issued {
    /// The response for tokens just issued by `grant_type` to `client_id` for `user_id`,
    /// logged once; the access token lives the service's token lifetime.
    pub(super) fn logged(
        state: &AppState,
        (client_id, user_id, grant_type): (&str, &str, &'static str),
        signed: Signed,
        scope: String,
        refresh_token: Option<String>,
    ) -> Issued {
        tracing::info!(client_id, user_id, grant_type, "tokens issued");
        Issued {
            access_token: signed.access_token,
            token_type: "Bearer",
            expires_in: state.max_token_lifetime().num_seconds(),
            id_token: signed.id_token,
            scope,
            refresh_token,
        }
    }
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
