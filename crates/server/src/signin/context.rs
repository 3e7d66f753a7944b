//! The state one sign-in step works on: the transaction (bound to this browser), the request it
//! carries, the user once named, and the user's live browser session, if any.

use crate::error::{PageError, ServeError};
use crate::oidc::request::AuthorizationRequest;
use crate::state::AppState;
use crate::web::{token_hash, BROWSER_COOKIE};
use axum::http::StatusCode;
use axum_extra::extract::cookie::CookieJar;
use store::{Session, SessionAuthEvent, SignInTransaction, User};

/// A loaded sign-in transaction.
#[derive(Debug, Clone)]
pub struct SignInContext {
    /// The transaction.
    pub transaction: SignInTransaction,
    /// The authorization request it serves.
    pub request: AuthorizationRequest,
    /// The user, once named.
    pub user: Option<User>,
    /// The user's live session in this browser.
    pub session: Option<Session>,
}

impl SignInContext {
    /// Loads transaction `id` for the browser presenting `jar`: refuses a transaction begun in
    /// another browser, or one that is over.
    pub async fn load(
        state: &AppState,
        id: &str,
        jar: &CookieJar,
    ) -> Result<SignInContext, PageError> {
        let now = state.now();
        let transaction =
            match state.store.get_transaction(id).await {
                Ok(t) => t,
                Err(e) if e.is_not_found() => return Err(PageError::new(
                    StatusCode::NOT_FOUND,
                    "Unknown sign-in",
                    "This sign-in link is not known. Go back to the application and start again.",
                )),
                Err(e) => return Err(e.into()),
            };
        let bound = jar
            .get(BROWSER_COOKIE)
            .is_some_and(|c| crate::web::same(&token_hash(c.value()), &transaction.browser_hash));
        if !bound {
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                "Sign-in started elsewhere",
                "This sign-in was started in another browser (or your browser refused its \
                 cookie). Go back to the application and start again from this browser.",
            ));
        }
        if !transaction.is_open_at(now) {
            return Err(PageError::bad_request(
                "This sign-in is over",
                "This sign-in has completed or expired. Go back to the application and start \
                 again.",
            ));
        }
        let request: AuthorizationRequest = serde_json::from_value(transaction.request.clone())
            .map_err(|e| ServeError::Internal(format!("stored authorization request: {e}")))?;
        // The session alone: whether its user may sign in is this sign-in's to decide.
        let mut session = crate::session::live_session(state, jar)
            .await?
            .map(|(s, _)| s);
        let mut transaction = transaction;
        match (&transaction.user_id, &session) {
            (Some(u), Some(s)) if &s.user_id != u => session = None,
            // Single sign-on: the session's user is the transaction's.
            (None, Some(s))
                if state
                    .store
                    .set_transaction_user(&transaction.id, &s.user_id, now)
                    .await? =>
            {
                transaction.user_id = Some(s.user_id.clone());
            }
            _ => {}
        }
        let user = match &transaction.user_id {
            Some(u) => match state.store.get_user(u).await {
                Ok(user) => Some(user),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        Ok(SignInContext {
            transaction,
            request,
            user,
            session,
        })
    }

    /// The methods performed in the user's session (none without a session).
    pub async fn events(&self, state: &AppState) -> Result<Vec<SessionAuthEvent>, PageError> {
        match &self.session {
            Some(s) => Ok(state.store.session_events(&s.id).await?),
            None => Ok(Vec::new()),
        }
    }

    /// The path of this transaction's page.
    pub fn page_path(&self) -> String {
        format!("/signin/{}", self.transaction.id)
    }
}
