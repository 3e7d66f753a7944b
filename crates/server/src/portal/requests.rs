//! *My requests*: the caller's activation, deactivation, extension and renewal requests and
//! where each stands, newest first, with *Cancel* on each that still waits — for its step-up,
//! its approval or an administrator's decision — through the service behind the Graph API's
//! `…/cancel` ([`app::pim::activation::cancel_of`]).

use super::roles::{internal, status_of};
use super::{render, sign_in_first, when, Current, Return};
use crate::error::PageError;
use crate::error::PageForm;
use crate::session::BrowserSession;
use crate::state::AppState;
use app::pim::activation::{self, ActivationError};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use pim::{ScheduleKind, Status};
use policy::ids::RequestId;
use serde::Deserialize;
use std::sync::Arc;
use store::{ScheduleRequestQuery, ScheduleRequestRecord};

/// How many of the caller's requests the page lists, newest first.
const LISTED: u32 = 100;

struct RequestRow {
    /// The request's id (the *Cancel* form names it).
    id: String,
    role: String,
    what: String,
    status: String,
    requested: String,
    justification: String,
    /// Whether it still waits, so that the caller may cancel it.
    cancel: bool,
}

#[derive(Template)]
#[template(path = "portal_requests.html")]
struct RequestsPage {
    upn: String,
    current: Current,
    notice: Option<String>,
    error: Option<String>,
    requests: Vec<RequestRow>,
}

/// The page's query after a cancellation: the request to report on.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RequestsQuery {
    canceled: Option<String>,
}

/// `GET /my/requests`.
pub(super) async fn mine(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Query(query): Query<RequestsQuery>,
) -> Result<Response, PageError> {
    let Some(session) = session else {
        return sign_in_first(&state, jar, Return::Requests).await;
    };
    let notice = match query.canceled.as_deref().map(RequestId::parse) {
        Some(Ok(id)) => canceled_notice(&state, &session, &id).await?,
        _ => None,
    };
    page(&state, &session, StatusCode::OK, notice, None).await
}

/// What the page says about a request the caller just canceled.
async fn canceled_notice(
    state: &AppState,
    session: &BrowserSession,
    id: &RequestId,
) -> Result<Option<String>, PageError> {
    let Some(record) = super::holder::own(state, session, id).await? else {
        return Ok(None);
    };
    if record.status() != Status::Canceled {
        return Ok(None);
    }
    let names = RoleNames::read(state).await?;
    Ok(Some(format!(
        "Your request ({} of {}) is canceled: nothing more will come of it.",
        what(&record).to_lowercase(),
        names.of(&record.request.role_definition_id),
    )))
}

/// *My requests* with `notice` or `error` at the top, answered with `status`.
async fn page(
    state: &AppState,
    session: &BrowserSession,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let records = state
        .store
        .list_schedule_requests(&ScheduleRequestQuery {
            principal_id: Some(session.caller.user.id.clone()),
            limit: LISTED,
            ..ScheduleRequestQuery::default()
        })
        .await?;
    let names = RoleNames::read(state).await?;
    let requests = records
        .iter()
        .map(|r| RequestRow {
            id: r.id().to_string(),
            role: names.of(&r.request.role_definition_id),
            what: what(r),
            status: r.status().to_string(),
            requested: r.request.created_date_time.map(when).unwrap_or_default(),
            justification: r.request.justification.clone().unwrap_or_default(),
            cancel: waits(&r.status()),
        })
        .collect();
    render(
        status,
        &RequestsPage {
            upn: session.caller.user.user_principal_name.clone(),
            current: Current::Requests,
            notice,
            error,
            requests,
        },
    )
}

/// Whether a request in `status` still waits — what the caller may cancel. (The state machine
/// decides; the page offers *Cancel* only where it would.)
fn waits(status: &Status) -> bool {
    matches!(
        status,
        Status::PendingStepUp | Status::PendingApproval | Status::PendingAdminDecision
    )
}

/// The form field that names the request to cancel.
#[derive(Debug, Default, Deserialize)]
pub(super) struct CancelForm {
    #[serde(default)]
    request: String,
}

/// `POST /my/requests/cancel`: withdraws one of the caller's requests that still waits.
pub(super) async fn cancel(
    State(state): State<Arc<AppState>>,
    session: Option<BrowserSession>,
    PageForm(form): PageForm<CancelForm>,
) -> Result<Response, PageError> {
    let Some(session) = session else {
        return Err(PageError::new(
            StatusCode::UNAUTHORIZED,
            "Sign in first",
            "Your session has ended; open My requests (/my/requests) and sign in again. \
             Nothing was canceled.",
        ));
    };
    let not_yours = "Nothing was canceled: this request is not one of yours, or does not exist.";
    let Ok(id) = RequestId::parse(form.request.trim()) else {
        return page(
            &state,
            &session,
            StatusCode::NOT_FOUND,
            None,
            Some(not_yours.into()),
        )
        .await;
    };
    // The request's kind, as the caller's own (another's is not found, whatever its kind).
    let kind = match super::holder::own(&state, &session, &id).await? {
        Some(record) => record.kind,
        None => ScheduleKind::Assignment,
    };
    match activation::cancel_of(&state, &session.caller, kind, &id).await {
        Ok(record) => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("canceled", record.id())
                .finish();
            Ok(Redirect::to(&format!("/my/requests?{query}")).into_response())
        }
        Err(ActivationError::Refused(refusal)) => {
            let message = match refusal.kind {
                app::pim::RefusalKind::NotFound => not_yours.to_string(),
                _ => format!("Not canceled: {}", refusal.message),
            };
            page(&state, &session, status_of(&refusal), None, Some(message)).await
        }
        Err(e) => Err(internal(e)),
    }
}

/// What a request asks, in words.
pub(super) fn what(r: &ScheduleRequestRecord) -> String {
    let kind = match r.kind {
        ScheduleKind::Assignment => "active assignment",
        ScheduleKind::Eligibility => "eligibility",
    };
    match r.request.action() {
        pim::Action::SelfActivate => "Activation".to_string(),
        pim::Action::SelfDeactivate => "Deactivation".to_string(),
        pim::Action::SelfExtend => format!("Extension of an {kind}"),
        pim::Action::SelfRenew => format!("Renewal of an {kind}"),
        other => format!("{other} ({kind})"),
    }
}

/// The roles' names by id.
pub(super) struct RoleNames(Vec<store::RoleDefinition>);

impl RoleNames {
    /// Every role's name.
    pub(super) async fn read(state: &AppState) -> Result<RoleNames, PageError> {
        Ok(RoleNames(state.store.list_role_definitions().await?))
    }

    /// The name of role `id` (its id when no role has it).
    pub(super) fn of(&self, id: &str) -> String {
        self.0
            .iter()
            .find(|d| d.id.eq_ignore_ascii_case(id))
            .map_or_else(|| id.to_string(), |d| d.display_name.clone())
    }
}
