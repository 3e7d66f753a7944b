//! `roleAssignmentScheduleRequests`: self-activation of an eligible role, gated by a fresh,
//! request-bound step-up when the role's settings require an authentication context;
//! self-deactivation; cancellation; reading requests. The rules live in
//! [`app::pim::activation`]; this face parses, calls, and answers in Graph's shape.
//!
//! The gate (DESIGN §8): the request is recorded first, as `PendingStepUp`, and answered
//! `401 RoleAssignmentRequestAcrsValidationFailed` with both challenge forms. The client signs
//! in at `/authorize` with the claims and `step_up_request=<id>`; Conditional Access for the
//! context counts only methods performed in that step-up, after the request. The access token
//! it yields names the request; presented again with the same request body, it activates the
//! role — once.

use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::error::GraphError;
use crate::graph::openapi as doc;
use crate::graph::pim_map::{
    admin_request, extension_request, request_item, requests_list, to_value,
};
use crate::state::AppState;
use app::conditional_access::LockoutGuard;
use app::pim::activation::{self, ActivationOutcome, DeactivationOutcome, Presented};
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use base64::Engine as _;
use pim::{Action, ScheduleKind, ScheduleRequest};
use policy::ids::RequestId;
use serde_json::{json, Value};
use std::sync::Arc;

pub use app::pim::jobs::STEP_UP_WINDOW;
pub use pim::PROOF_LIFETIME;

const ACRS_FAILED: &str = "RoleAssignmentRequestAcrsValidationFailed";

/// The claims challenge for `context`, in both forms of DESIGN §7.
fn step_up_challenge(state: &AppState, record_id: &str, context: &str) -> GraphError {
    let claims = json!({ "access_token": { "acrs": { "essential": true, "value": context } } });
    let encoded = base64::engine::general_purpose::STANDARD.encode(claims.to_string());
    let mut e = GraphError::new(
        StatusCode::UNAUTHORIZED,
        ACRS_FAILED,
        format!(
            "Activating this role requires authentication context {context}: sign in again at \
             {}/authorize with the claims below and step_up_request={record_id}, then send this \
             request again with the new access token. Only methods performed in that sign-in, \
             after this request, count.",
            state.issuer
        ),
    )
    .with_inner(json!({
        "requestId": record_id,
        "claims": claims.to_string(),
        "authorizeParameters": {
            "claims": claims.to_string(),
            "acr_values": context,
            "step_up_request": record_id,
        },
    }));
    e.challenges.push(format!(
        "Bearer realm=\"portcullis\", error=\"insufficient_claims\", claims=\"{encoded}\""
    ));
    e.challenges.push(format!(
        "Bearer realm=\"portcullis\", error=\"insufficient_user_authentication\", acr_values=\"{context}\", max_age=0"
    ));
    e
}

/// When the caller has no registered method that satisfies a strength the policies on
/// `context` require of them ([`app::pim::readiness`]): a sentence saying which policy, which
/// strength and what to register, and the details (`methodsToRegister`) for the client. `None`
/// when they can.
async fn lacking_methods(
    state: &AppState,
    caller: &app::Caller,
    role: &str,
    context: &str,
) -> Result<Option<(String, Value)>, GraphError> {
    let readiness = app::pim::readiness::for_caller(state, caller, role, context)
        .await
        .map_err(|e| crate::error::ServeError::Internal(format!("{e:?}")))?;
    if readiness.can_satisfy() {
        return Ok(None);
    }
    let sentences: Vec<String> = readiness
        .unmet()
        .map(|(p, lacking)| {
            format!(
                "Policy '{}' requires authentication strength '{}' for {context}, and none of \
                 your registered methods satisfies it: {}.",
                p.policy_name,
                p.strength_name,
                lacking
                    .advice
                    .as_deref()
                    .unwrap_or("register a method it allows")
            )
        })
        .collect();
    let details: Vec<Value> = readiness
        .unmet()
        .map(|(p, lacking)| {
            json!({
                "policyId": p.policy_id,
                "policyName": p.policy_name,
                "strengthId": p.strength_id,
                "strengthName": p.strength_name,
                "registered": lacking.registered,
                "shortfalls": lacking.shortfalls,
                "advice": lacking.advice,
                "securityInfo": format!("{}/account", state.issuer),
            })
        })
        .collect();
    Ok(Some((sentences.join(" "), Value::Array(details))))
}

/// The `401` for a request that waits for its step-up: the challenge, where the demo's page
/// is, and what the caller must register first if none of their methods can satisfy it.
async fn step_up_required(
    state: &AppState,
    caller: &Caller,
    record_id: &str,
    role: &str,
    context: &str,
) -> Result<GraphError, GraphError> {
    let mut challenge = step_up_challenge(state, record_id, context);
    // Where a person goes for the step-up: the demo's page builds the sign-in for them.
    if crate::demo_client::is_registered(state).await? {
        let page = crate::demo_client::step_up_page(state, context, record_id);
        challenge.message = format!(
            "{} With the demo, open {page} to step up.",
            challenge.message
        );
        if let Some(inner) = challenge.inner.as_mut() {
            inner["stepUpPage"] = json!(page);
        }
    }
    if let Some(lacking) = lacking_methods(state, caller, role, context).await? {
        challenge.message = format!("{} {}", lacking.0, challenge.message);
        if let Some(inner) = challenge.inner.as_mut() {
            inner["methodsToRegister"] = lacking.1;
        }
    }
    Ok(challenge)
}

/// `POST /v1.0/roleManagement/directory/roleAssignmentScheduleRequests`: `selfActivate`,
/// `selfDeactivate`, `selfExtend`, `selfRenew` and the administrators' actions on active
/// assignments.
#[utoipa::path(
    post,
    path = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests",
    tag = "pim",
    request_body = doc::NewScheduleRequest,
    responses(
        (status = 201, description = "The request as stored.", body = doc::ScheduleRequest),
        (status = 200, description = "A validation only (`isValidationOnly`): the request echoed.", body = doc::AnyObject),
    ),
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let request: ScheduleRequest = body.parse("a unifiedRoleAssignmentScheduleRequest")?;
    let action = request.action();
    match action {
        Action::SelfExtend | Action::SelfRenew => {
            extension_request(&state, &caller, request, ScheduleKind::Assignment).await
        }
        _ if action.is_admin() => {
            // Active assignments are not what the lockout guard weighs.
            admin_request(
                &state,
                &caller,
                request,
                ScheduleKind::Assignment,
                LockoutGuard::Enforce,
            )
            .await
        }
        Action::SelfActivate => {
            let presented = Presented::from_access_token(&caller.claims);
            match activation::activate(&state, &caller, &presented, request).await? {
                ActivationOutcome::ValidatedOnly(echoed) => {
                    Ok((StatusCode::OK, Json(to_value(&echoed)?)))
                }
                ActivationOutcome::Activated(record)
                | ActivationOutcome::PendingApproval(record) => {
                    Ok((StatusCode::CREATED, Json(to_value(&record.request)?)))
                }
                ActivationOutcome::StepUpRequired { record, context } => Err(step_up_required(
                    &state,
                    &caller,
                    record.id(),
                    &record.request.role_definition_id,
                    &context,
                )
                .await?),
            }
        }
        Action::SelfDeactivate => match activation::deactivate(&state, &caller, request).await? {
            DeactivationOutcome::ValidatedOnly(echoed) => {
                Ok((StatusCode::OK, Json(to_value(&echoed)?)))
            }
            DeactivationOutcome::Deactivated(record) => {
                Ok((StatusCode::CREATED, Json(to_value(&record.request)?)))
            }
        },
        _ => Err(GraphError::bad_request(
            "BadRequest",
            format!(
                "The action '{action}' is not available here; this version handles \
                 selfActivate, selfDeactivate and the administrators' actions (adminAssign, \
                 adminUpdate, adminExtend, adminRenew, adminRemove)."
            ),
        )),
    }
}

/// `GET …/roleAssignmentScheduleRequests`: every one, newest first, with `$filter` and `$top`
/// (active role administrators only).
#[utoipa::path(
    get,
    path = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests",
    tag = "pim",
    params(
        doc::ListOptions,
    ),
    responses(
        (status = 200, description = "The requests, newest first.", body = doc::Collection<doc::ScheduleRequest>),
    ),
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    requests_list(
        &state,
        &caller,
        ScheduleKind::Assignment,
        &uri,
        query.as_deref(),
    )
    .await
}

/// `GET …/roleAssignmentScheduleRequests/{id}`: one request (the caller's own; any, for an
/// active role administrator); and `…/filterByCurrentUser(on='principal')`: the caller's,
/// newest first.
#[utoipa::path(
    get,
    path = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests/{id}",
    tag = "pim",
    params(
        ("id" = String, Path, description = "A request id, or `filterByCurrentUser(on='principal')`."),
        doc::ListOptions,
    ),
    responses(
        (status = 200, description = "The request, or the caller's requests.", body = doc::OneOrCollection<doc::ScheduleRequest>),
    ),
)]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    uri: Uri,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    let kind = ScheduleKind::Assignment;
    request_item(&state, &caller, kind, &uri, &segment, query.as_deref()).await
}

/// A request id from the path, `404` when the segment cannot be an id (it names no request).
fn request_id(segment: &str) -> Result<RequestId, Box<GraphError>> {
    RequestId::parse(segment).map_err(|_| Box::new(GraphError::not_found("Request", segment)))
}

/// `POST …/roleAssignmentScheduleRequests/{id}/cancel`: the requester withdraws a request that
/// still waits (for its step-up, its approval or an administrator's decision). `204`; audited.
#[utoipa::path(
    post,
    path = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests/{id}/cancel",
    tag = "pim",
    params(
        ("id" = String, Path, description = "The request id."),
    ),
    responses(
        (status = 204, description = "Cancelled."),
    ),
)]
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, GraphError> {
    activation::cancel(&state, &caller, &request_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Fails requests that waited too long (see [`app::pim::jobs::fail_overdue_requests`]).
pub async fn fail_overdue_requests(state: &AppState) -> Result<usize, GraphError> {
    Ok(app::pim::jobs::fail_overdue_requests(state).await?)
}

/// The durable expiry job (see [`app::pim::jobs::expire_due`]).
pub async fn expire_due(state: &AppState) -> Result<usize, crate::error::ServeError> {
    Ok(app::pim::jobs::expire_due(state).await?)
}
