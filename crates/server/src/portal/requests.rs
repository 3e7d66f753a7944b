//! *My requests* (the caller's activation, extension and renewal requests and where each
//! stands) and *Approvals* (the requests waiting for the caller's decision), read through the
//! application core. Both only read in this version: cancelling a request and deciding an
//! approval are done over the Graph API (docs/pim.md) until the portal offers them.

use super::{render, sign_in_first, when, Current, Return};
use crate::error::{PageError, ServeError};
use crate::session::BrowserSession;
use crate::state::AppState;
use app::pim::approvals::{self, Approval, ApprovalError};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use pim::ScheduleKind;
use std::sync::Arc;
use store::{ScheduleRequestQuery, ScheduleRequestRecord};

/// How many of the caller's requests the page lists, newest first.
const LISTED: u32 = 100;

struct RequestRow {
    role: String,
    what: String,
    status: String,
    requested: String,
    justification: String,
}

#[derive(Template)]
#[template(path = "portal_requests.html")]
struct RequestsPage {
    upn: String,
    current: Current,
    requests: Vec<RequestRow>,
}

#[derive(Template)]
#[template(path = "portal_approvals.html")]
struct ApprovalsPage {
    upn: String,
    current: Current,
    approvals: Vec<ApprovalRow>,
}

struct ApprovalRow {
    role: String,
    requester: String,
    requested: String,
    justification: String,
    step: String,
}

/// `GET /my/requests`.
pub(super) async fn mine(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
) -> Result<Response, PageError> {
    let Some(session) = session else {
        return sign_in_first(&state, jar, Return::Requests).await;
    };
    let records = state
        .store
        .list_schedule_requests(&ScheduleRequestQuery {
            principal_id: Some(session.caller.user.id.clone()),
            limit: LISTED,
            ..ScheduleRequestQuery::default()
        })
        .await?;
    let names = RoleNames::read(&state).await?;
    let requests = records
        .iter()
        .map(|r| RequestRow {
            role: names.of(&r.request.role_definition_id),
            what: what(r),
            status: r.status().to_string(),
            requested: r.request.created_date_time.map(when).unwrap_or_default(),
            justification: r.request.justification.clone().unwrap_or_default(),
        })
        .collect();
    render(
        StatusCode::OK,
        &RequestsPage {
            upn: session.caller.user.user_principal_name.clone(),
            current: Current::Requests,
            requests,
        },
    )
}

/// `GET /my/approvals`.
pub(super) async fn approvals(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
) -> Result<Response, PageError> {
    let Some(session) = session else {
        return sign_in_first(&state, jar, Return::Approvals).await;
    };
    let waiting = waiting_for_me(&state, &session.caller).await?;
    let names = RoleNames::read(&state).await?;
    let mut rows = Vec::new();
    for approval in &waiting {
        let request = &approval.record.request;
        let requester = match state.store.get_user(&request.principal_id).await {
            Ok(u) => u.user_principal_name,
            Err(e) if e.is_not_found() => request.principal_id.clone(),
            Err(e) => return Err(e.into()),
        };
        rows.push(ApprovalRow {
            role: names.of(&request.role_definition_id),
            requester,
            requested: request.created_date_time.map(when).unwrap_or_default(),
            justification: request.justification.clone().unwrap_or_default(),
            step: approval
                .steps(&session.caller.id())
                .into_iter()
                .find(|s| s.assigned_to_me)
                .map(|s| s.display_name)
                .unwrap_or_default(),
        });
    }
    render(
        StatusCode::OK,
        &ApprovalsPage {
            upn: session.caller.user.user_principal_name.clone(),
            current: Current::Approvals,
            approvals: rows,
        },
    )
}

/// The approvals waiting for the caller's decision.
pub(super) async fn waiting_for_me(
    state: &AppState,
    caller: &app::Caller,
) -> Result<Vec<Approval>, PageError> {
    approvals::waiting_for(state, caller)
        .await
        .map_err(|e| match e {
            ApprovalError::Store(e) => e.into(),
            other => ServeError::Internal(format!("approvals: {other}")).into(),
        })
}

/// What a request asks, in words.
fn what(r: &ScheduleRequestRecord) -> String {
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
struct RoleNames(Vec<store::RoleDefinition>);

impl RoleNames {
    async fn read(state: &AppState) -> Result<RoleNames, PageError> {
        Ok(RoleNames(state.store.list_role_definitions().await?))
    }

    fn of(&self, id: &str) -> String {
        self.0
            .iter()
            .find(|d| d.id.eq_ignore_ascii_case(id))
            .map_or_else(|| id.to_string(), |d| d.display_name.clone())
    }
}
