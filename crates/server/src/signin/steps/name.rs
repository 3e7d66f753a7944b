//! Naming the user of a sign-in, and starting over as someone else.

use super::*;

/// The sign-in name form.
#[derive(Debug, Deserialize)]
pub struct UsernameForm {
    /// `userPrincipalName`.
    pub username: String,
}

/// Names the user of the transaction.
pub async fn username(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(tx): Path<String>,
    jar: CookieJar,
    PageForm(form): PageForm<UsernameForm>,
) -> Result<Response, PageError> {
    let step = Step::load(state, peer, &headers, &tx, jar).await?;
    let name = form.username.trim();
    if name.is_empty() || name.len() > 256 {
        return step
            .again("Enter your sign-in name (for example alice@example.com).".into())
            .await;
    }
    let user = match step.state.store.get_user_by_upn(name).await {
        Ok(u) => u,
        Err(e) if e.is_not_found() => {
            return step
                .again(format!("No account is named '{name}'. Check the spelling."))
                .await
        }
        Err(e) => return Err(e.into()),
    };
    let now = step.state.now();
    if !step
        .state
        .store
        .set_transaction_user(&step.ctx.transaction.id, &user.id, now)
        .await?
    {
        return Err(PageError::bad_request(
            "This sign-in is over",
            "This sign-in already names another account, or has expired. Go back to the \
             application and start again.",
        ));
    }
    Ok((step.jar, Redirect::to(&step.ctx.page_path())).into_response())
}

/// Forgets the named user of a transaction ("not you?").
pub async fn restart(
    State(state): State<Arc<AppState>>,
    Path(tx): Path<String>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let ctx = SignInContext::load(&state, &tx, &jar).await?;
    // A new transaction for the same request: the old one keeps its user and is closed.
    let now = state.now();
    if !state
        .store
        .complete_transaction(&ctx.transaction.id, now)
        .await?
    {
        return Err(PageError::bad_request(
            "This sign-in is over",
            "Start again from the application.",
        ));
    }
    let fresh = store::SignInTransaction {
        id: random_token()?,
        user_id: None,
        created_at: now,
        completed_at: None,
        expires_at: now + crate::oidc::authorize::TRANSACTION_TTL,
        ..ctx.transaction.clone()
    };
    state.store.create_transaction(&fresh).await?;
    let jar = jar.add(crate::web::removal(SESSION_COOKIE, state.secure_cookies));
    Ok((jar, Redirect::to(&format!("/signin/{}", fresh.id))).into_response())
}
