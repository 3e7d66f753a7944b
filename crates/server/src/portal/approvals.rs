//! *Approvals*: the requests waiting for the caller's decision, each with *Approve* and *Deny*
//! and the approver's justification, decided through the service behind the Graph API's
//! `roleAssignmentApprovals/{id}/steps/{stepId}` ([`app::pim::approvals::decide`]); and the
//! caller's own requests that wait for a decision, which they never make — also when they are
//! one of the approvers: those are listed without a decision, and a decision sent anyway is
//! refused by the service (`SelfApprovalNotAllowed`, audited) and said on the page.

use super::requests::{what, RoleNames};
use super::roles::{internal_message, status_of};
use super::{render, sign_in_first, when, Current, Return};
use crate::error::PageError;
use crate::error::PageForm;
use crate::session::BrowserSession;
use crate::state::AppState;
use app::pim::approvals::{self, Approval, ApprovalError, Review};
use app::pim::{ErrorCode, Refusal, RefusalKind};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use pim::Status;
use policy::ids::RequestId;
use serde::Deserialize;
use std::sync::Arc;
use store::ReviewResult;

#[derive(Template)]
#[template(path = "portal_approvals.html")]
struct ApprovalsPage {
    upn: String,
    current: Current,
    notice: Option<String>,
    error: Option<String>,
    approvals: Vec<ApprovalRow>,
    own: Vec<OwnRow>,
}

/// A request waiting for the caller's decision, with its form.
struct ApprovalRow {
    /// The request's (and the approval's) id.
    id: String,
    role: String,
    what: String,
    requester: String,
    requested: String,
    justification: String,
    /// The step in progress: its number (the form sends it) and its name.
    step: usize,
    step_name: String,
    /// A refused decision's justification, kept.
    input: String,
    /// Why the decision was refused.
    error: Option<String>,
}

/// One of the caller's own requests waiting for a decision: shown, never decided here.
struct OwnRow {
    id: String,
    role: String,
    what: String,
    requested: String,
    /// Who decides it, and why not the caller.
    note: String,
}

/// The page's query after a decision: the request to report on.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ApprovalsQuery {
    decided: Option<String>,
}

/// What the decision form sends; every field as typed, so that a refused form shows it again.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct DecideForm {
    #[serde(default)]
    request: String,
    #[serde(default)]
    step: String,
    /// `approve` or `deny` (the button pressed).
    #[serde(default)]
    decision: String,
    #[serde(default)]
    justification: String,
}

/// `GET /my/approvals`.
pub(super) async fn page(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Query(query): Query<ApprovalsQuery>,
) -> Result<Response, PageError> {
    let Some(session) = session else {
        return sign_in_first(&state, jar, Return::Approvals).await;
    };
    let notice = match query.decided.as_deref().map(RequestId::parse) {
        Some(Ok(id)) => decided_notice(&state, &session, &id).await?,
        _ => None,
    };
    show(&state, &session, StatusCode::OK, notice, None).await
}

/// The page with `notice` at the top, or a refusal: at the top, or in the form of the request
/// it concerns with what was typed.
async fn show(
    state: &AppState,
    session: &BrowserSession,
    status: StatusCode,
    notice: Option<String>,
    refused: Option<(DecideForm, String)>,
) -> Result<Response, PageError> {
    let caller = &session.caller;
    let names = RoleNames::read(state).await?;
    let mut rows = Vec::new();
    for approval in waiting_for_me(state, caller).await? {
        let record = &approval.record;
        let request = &record.request;
        let step = approval
            .steps(&caller.id())
            .into_iter()
            .find(|s| s.assigned_to_me);
        let input = refused
            .as_ref()
            .filter(|(form, _)| form.request.trim().eq_ignore_ascii_case(record.id()));
        rows.push(ApprovalRow {
            id: record.id().to_string(),
            role: names.of(&request.role_definition_id),
            what: what(record),
            requester: requester(state, &request.principal_id).await?,
            requested: request.created_date_time.map(when).unwrap_or_default(),
            justification: request.justification.clone().unwrap_or_default(),
            step: step.as_ref().map_or(1, |s| s.number),
            step_name: step.map(|s| s.display_name).unwrap_or_default(),
            input: input
                .map(|(form, _)| form.justification.clone())
                .unwrap_or_default(),
            error: input.map(|(_, message)| message.clone()),
        });
    }
    let own = approvals::requested_by(state, caller)
        .await
        .map_err(approval_error)?
        .iter()
        .map(|approval| {
            let record = &approval.record;
            let note = if approvals::is_admin_decision(record) {
                "Waits for an administrator's decision."
            } else if approval.is_approver_now(&caller.id()) {
                "Waits for another approver: you approve this role's requests, but never your \
                 own."
            } else {
                "Waits for its approvers."
            };
            OwnRow {
                id: record.id().to_string(),
                role: names.of(&record.request.role_definition_id),
                what: what(record),
                requested: record
                    .request
                    .created_date_time
                    .map(when)
                    .unwrap_or_default(),
                note: note.to_string(),
            }
        })
        .collect();
    // A refusal no form on the page can show (one's own request, one decided meanwhile) is
    // said at the top.
    let error = refused
        .filter(|_| !rows.iter().any(|r| r.error.is_some()))
        .map(|(_, message)| message);
    render(
        status,
        &ApprovalsPage {
            upn: caller.user.user_principal_name.clone(),
            current: Current::Approvals,
            notice,
            error,
            approvals: rows,
            own,
        },
    )
}

/// The sign-in name of user `id` (the id when the user is gone).
async fn requester(state: &AppState, id: &str) -> Result<String, PageError> {
    match state.store.get_user(id).await {
        Ok(u) => Ok(u.user_principal_name),
        Err(e) if e.is_not_found() => Ok(id.to_string()),
        Err(e) => Err(e.into()),
    }
}

/// What the page says about a decision the caller just made on request `id`.
async fn decided_notice(
    state: &AppState,
    session: &BrowserSession,
    id: &RequestId,
) -> Result<Option<String>, PageError> {
    let caller = &session.caller;
    let approval = match approvals::visible(state, caller, id).await {
        Ok(approval) => approval,
        Err(ApprovalError::Refused(_)) => return Ok(None),
        Err(e) => return Err(approval_error(e)),
    };
    let me = caller.id();
    let Some(decision) = approval
        .steps(&me)
        .into_iter()
        .filter_map(|s| s.decision.cloned())
        .find(|d| me == d.reviewed_by)
    else {
        return Ok(None);
    };
    let record = &approval.record;
    let names = RoleNames::read(state).await?;
    let whose = format!(
        "{}'s request ({} of {})",
        requester(state, &record.request.principal_id).await?,
        what(record).to_lowercase(),
        names.of(&record.request.role_definition_id),
    );
    Ok(Some(match (decision.review_result, record.status()) {
        (ReviewResult::Deny, _) => format!("You denied {whose}; it will not be granted."),
        (ReviewResult::Approve, Status::Provisioned) => {
            format!("You approved {whose}: it is granted and in force now.")
        }
        (ReviewResult::Approve, Status::PendingApproval) => format!(
            "You approved {whose} at stage {}; it now waits for stage {}.",
            decision.stage + 1,
            record.approval_stage + 1
        ),
        (ReviewResult::Approve, status) => format!("You approved {whose}; it is now {status}."),
    }))
}

/// `POST /my/approvals/decide`: records the caller's decision on the step in progress.
pub(super) async fn decide(
    State(state): State<Arc<AppState>>,
    session: Option<BrowserSession>,
    PageForm(form): PageForm<DecideForm>,
) -> Result<Response, PageError> {
    let Some(session) = session else {
        return Err(PageError::new(
            StatusCode::UNAUTHORIZED,
            "Sign in first",
            "Your session has ended; open Approvals (/my/approvals) and sign in again. No \
             decision was recorded.",
        ));
    };
    let refuse = |status: StatusCode, message: String| {
        let form = form.clone();
        let session = &session;
        let state = &state;
        async move { show(state, session, status, None, Some((form, message))).await }
    };
    let result = match form.decision.trim() {
        "approve" => ReviewResult::Approve,
        "deny" => ReviewResult::Deny,
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "No decision was recorded: choose Approve or Deny.".into(),
            )
            .await
        }
    };
    let justification = form.justification.trim().to_string();
    if justification.is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "No decision was recorded: say why you approve or deny (the requester and the audit \
             log see it)."
                .into(),
        )
        .await;
    }
    let not_mine = "No decision was recorded: this request is not waiting for your decision \
                    (you are not one of its approvers, or it does not exist).";
    let Ok(id) = RequestId::parse(form.request.trim()) else {
        return refuse(StatusCode::NOT_FOUND, not_mine.into()).await;
    };
    let review = Review {
        result,
        justification,
    };
    match approvals::decide(&state, &session.caller, &id, &form.step, review).await {
        Ok(()) => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("decided", id.as_str())
                .finish();
            Ok(Redirect::to(&format!("/my/approvals?{query}")).into_response())
        }
        Err(ApprovalError::Refused(refusal)) => {
            let message = refused_message(&refusal, not_mine);
            refuse(status_of(&refusal), message).await
        }
        Err(e) => Err(approval_error(e)),
    }
}

/// A refused decision in words.
fn refused_message(refusal: &Refusal, not_mine: &str) -> String {
    match refusal.kind {
        RefusalKind::NotFound => not_mine.to_string(),
        _ if refusal.code == ErrorCode::SelfApprovalNotAllowed => {
            "No decision was recorded: you cannot approve or deny your own request; another \
             approver decides it."
                .to_string()
        }
        _ => format!("No decision was recorded: {}", refusal.message),
    }
}

/// The approvals waiting for the caller's decision.
pub(super) async fn waiting_for_me(
    state: &AppState,
    caller: &app::Caller,
) -> Result<Vec<Approval>, PageError> {
    approvals::waiting_for(state, caller)
        .await
        .map_err(approval_error)
}

fn approval_error(e: ApprovalError) -> PageError {
    match e {
        ApprovalError::Store(e) => e.into(),
        other => internal_message(&format!("approvals: {other}")),
    }
}
