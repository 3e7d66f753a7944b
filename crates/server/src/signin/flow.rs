//! The sign-in pages' and the token endpoint's way into the sign-in decision
//! ([`app::signin`]): the server's authorization request and transaction as the service's
//! input, and the service's errors as the server's.
//!
//! Nothing here is remembered between pages: every step re-reads the session's events and
//! re-evaluates, so a page can never grant more than the policies do at that moment.

use crate::error::ServeError;
use crate::oidc::request::AuthorizationRequest;
use crate::state::AppState;
use app::signin::{AssessmentRequest, SignInError, SignInSubject};
use chrono::{DateTime, Utc};

use store::SessionAuthEvent;

/// The assessment's shapes and the request's circumstances live in the application core; the
/// pages and the token endpoint read them from here.
pub use app::signin::{
    is_first_factor, Assessment, Circumstances, Grant, Need, Verdict, REGISTER_SECURITY_INFO,
};

/// What is assessed.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// The user.
    pub user_id: &'a str,
    /// Events of the user's session (empty before a first factor).
    pub events: &'a [SessionAuthEvent],
    /// The transaction start.
    pub transaction_started_at: DateTime<Utc>,
    /// The transaction id (events performed for it carry it).
    pub transaction_id: Option<&'a str>,
    /// The request.
    pub request: &'a AuthorizationRequest,
    /// Where from.
    pub circumstances: &'a Circumstances,
    /// For a PIM step-up: the role its request activates (read from the request the
    /// authorization request names, never from the client).
    pub activating_role: Option<&'a str>,
}

/// What the authorization request asks of the user's authentication, as the assessment reads
/// it; `activating_role` is the role of the step-up's request, when it is one.
pub fn assessment_request(
    request: &AuthorizationRequest,
    activating_role: Option<&str>,
) -> AssessmentRequest {
    AssessmentRequest {
        client_id: request.client_id.clone(),
        user_action: request.user_action.clone(),
        contexts: request.contexts(),
        acr: request.acr.clone(),
        acr_essential: request.acr_essential,
        prompt_login: request.prompt_login,
        max_age: request.max_age,
        // A step-up whose request names no role still counts only its own methods.
        step_up: request
            .step_up_request
            .as_ref()
            .map(|_| activating_role.unwrap_or_default().to_string()),
    }
}

/// Assesses a transaction at `now` ([`app::Core::assess_sign_in`]).
pub async fn assess(
    state: &AppState,
    subject: &Subject<'_>,
    now: DateTime<Utc>,
) -> Result<Assessment, ServeError> {
    let request = assessment_request(subject.request, subject.activating_role);
    let subject = SignInSubject {
        user_id: subject.user_id,
        events: subject.events,
        transaction_started_at: subject.transaction_started_at,
        request: &request,
        circumstances: subject.circumstances,
    };
    state.assess_sign_in(&subject, now).await.map_err(internal)
}

/// Conditional Access at a refresh-token exchange ([`app::Core::reassess_for_refresh`]): the
/// requested contexts that still hold, or why the refresh is refused (a sentence for the
/// client). `circumstances` are those of the client presenting the refresh token.
pub async fn reassess_for_refresh(
    state: &AppState,
    user_id: &str,
    session_id: Option<&str>,
    client_id: &str,
    acrs: &[String],
    circumstances: &Circumstances,
    now: DateTime<Utc>,
) -> Result<Result<Vec<String>, String>, ServeError> {
    match state
        .reassess_for_refresh(user_id, session_id, client_id, acrs, circumstances, now)
        .await
    {
        Ok(still) => Ok(Ok(still)),
        Err(e) if e.is_refusal() => Ok(Err(e.to_string())),
        Err(e) => Err(internal(e)),
    }
}

/// A failure of the sign-in service as the server's internal error. Only a refresh is ever
/// refused, and its face reports refusals itself; any other one reaching here is a bug.
pub(crate) fn internal(error: SignInError) -> ServeError {
    match error {
        SignInError::Store(e) => e.into(),
        SignInError::Evaluate(e) => e.into(),
        refusal => ServeError::Internal(format!("sign-in refused outside a refresh: {refusal}")),
    }
}
