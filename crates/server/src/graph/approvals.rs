//! Approvals of activation requests (Graph `roleAssignmentApprovals`), and administrators'
//! decisions on extensions and renewals: reading them and deciding a step. The rules live in
//! [`app::pim::approvals`]; this face parses, calls, and answers in Graph's shape. The
//! approval's id is the request's; its steps are the stages (`id` "1", "2", …).

use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::error::GraphError;
use crate::graph::openapi as doc;
use crate::graph::pim_map::filter_by_current_user_on;
use crate::state::AppState;
use app::pim::approvals::{self, Approval, Review, Step};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use policy::ids::RequestId;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use store::ReviewResult;

fn step_value(step: &Step<'_>) -> Value {
    let decision = step.decision;
    json!({
        "id": step.number.to_string(),
        "displayName": step.display_name,
        "status": step.status.as_str(),
        "reviewResult": decision.map_or("NotReviewed", |d| d.review_result.as_str()),
        "reviewedBy": decision.map(|d| json!({ "id": d.reviewed_by, "displayName": d.reviewed_by_name })),
        "reviewedDateTime": decision.map(|d| d.reviewed_at.to_rfc3339()),
        "justification": decision.map(|d| d.justification.clone()),
        "assignedToMe": step.assigned_to_me,
    })
}

fn steps(approval: &Approval, caller: &Caller) -> Vec<Value> {
    approval
        .steps(&caller.id())
        .iter()
        .map(step_value)
        .collect()
}

fn render(approval: &Approval, caller: &Caller) -> Value {
    json!({
        "id": approval.record.id(),
        "steps": steps(approval, caller),
    })
}

/// An approval id from the path; one that cannot be an id names no approval.
fn approval_id(segment: &str) -> Result<RequestId, Box<GraphError>> {
    RequestId::parse(segment).map_err(|_| Box::new(GraphError::not_found("Approval", segment)))
}

/// `GET /v1.0/roleManagement/directory/roleAssignmentApprovals/{id}`, or
/// `…/filterByCurrentUser(on='approver')`: the approvals waiting for the caller's decision.
#[utoipa::path(
    get,
    path = "/v1.0/roleManagement/directory/roleAssignmentApprovals/{id}",
    tag = "pim",
    params(
        ("id" = String, Path, description = "A request id, or `filterByCurrentUser(on='approver')`."),
    ),
    responses(
        (status = 200, description = "The approval, or the approvals waiting for the caller.", body = doc::OneOrCollection<doc::Approval>),
    ),
)]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(segment): Path<String>,
) -> Result<Json<Value>, GraphError> {
    if let Some(valid) = filter_by_current_user_on(&segment, "approver") {
        valid?;
        let value: Vec<Value> = approvals::waiting_for(&state, &caller)
            .await?
            .iter()
            .map(|a| render(a, &caller))
            .collect();
        return Ok(Json(json!({
            "@odata.context": format!("{}/v1.0/$metadata#roleManagement/directory/roleAssignmentApprovals", state.issuer),
            "value": value,
        })));
    }
    let approval = approvals::visible(&state, &caller, &approval_id(&segment)?).await?;
    Ok(Json(render(&approval, &caller)))
}

/// `GET …/roleAssignmentApprovals/{id}/steps`.
#[utoipa::path(
    get,
    path = "/v1.0/roleManagement/directory/roleAssignmentApprovals/{id}/steps",
    tag = "pim",
    params(
        ("id" = String, Path, description = "The request id."),
    ),
    responses(
        (status = 200, description = "The approval's steps.", body = doc::Collection<doc::ApprovalStep>),
    ),
)]
pub async fn list_steps(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, GraphError> {
    let approval = approvals::visible(&state, &caller, &approval_id(&id)?).await?;
    Ok(Json(json!({
        "@odata.context": format!(
            "{}/v1.0/$metadata#roleManagement/directory/roleAssignmentApprovals('{}')/steps",
            state.issuer,
            approval.record.id()
        ),
        "value": steps(&approval, &caller),
    })))
}

/// `GET …/roleAssignmentApprovals/{id}/steps/{stepId}`.
#[utoipa::path(
    get,
    path = "/v1.0/roleManagement/directory/roleAssignmentApprovals/{id}/steps/{step_id}",
    tag = "pim",
    params(
        ("id" = String, Path, description = "The request id."),
        ("step_id" = String, Path, description = "The step's number."),
    ),
    responses(
        (status = 200, description = "The step.", body = doc::ApprovalStep),
    ),
)]
pub async fn get_step(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, step)): Path<(String, String)>,
) -> Result<Json<Value>, GraphError> {
    let approval = approvals::visible(&state, &caller, &approval_id(&id)?).await?;
    steps(&approval, &caller)
        .into_iter()
        .find(|s| s["id"] == step.as_str())
        .map(Json)
        .ok_or_else(|| GraphError::not_found("Approval step", &step))
}

/// The body of a decision.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewBody {
    review_result: String,
    #[serde(default)]
    justification: Option<String>,
}

/// `PATCH …/roleAssignmentApprovals/{id}/steps/{stepId}` with `reviewResult` (`Approve` or
/// `Deny`) and `justification`: `204` when the decision is recorded.
#[utoipa::path(
    patch,
    path = "/v1.0/roleManagement/directory/roleAssignmentApprovals/{id}/steps/{step_id}",
    tag = "pim",
    params(
        ("id" = String, Path, description = "The request id."),
        ("step_id" = String, Path, description = "The step's number."),
    ),
    request_body = doc::ApprovalDecision,
    responses(
        (status = 204, description = "The decision is recorded."),
    ),
)]
pub async fn decide(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, step)): Path<(String, String)>,
    body: JsonBody,
) -> Result<StatusCode, GraphError> {
    let review: ReviewBody = body.parse(
        "an approvalStep decision ({\"reviewResult\": \"Approve\" or \"Deny\", \
         \"justification\": \"…\"})",
    )?;
    let Some(result) = ReviewResult::parse(&review.review_result) else {
        return Err(GraphError::bad_request(
            "BadRequest",
            format!(
                "reviewResult must be 'Approve' or 'Deny', not '{}'.",
                review.review_result
            ),
        ));
    };
    let review = Review {
        result,
        justification: review.justification.unwrap_or_default().trim().to_string(),
    };
    approvals::decide(&state, &caller, &approval_id(&id)?, &step, review).await?;
    Ok(StatusCode::NO_CONTENT)
}
