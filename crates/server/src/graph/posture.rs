//! The posture checks over the API (Portcullis extensions beside the Graph routes, with Graph's
//! error bodies): `GET /v1.0/portcullis/lint` and
//! `GET /v1.0/portcullis/preflight?role=ROLE_ID_OR_NAME` or `?policy=POLICY_ID`, each with
//! `breakGlass=UPN_OR_ID` (repeated, or comma-separated). The answers are those of
//! `portcullis lint --json` and `portcullis preflight --json`. Active role administrators only:
//! they name users and the methods they have registered.

use crate::graph::auth::Caller;
use crate::graph::error::GraphError;
use crate::graph::odata::QueryError;
use crate::graph::openapi as doc;
use crate::posture::{lint as lint_posture, preflight as run_preflight, PostureError, Subject};
use crate::state::AppState;
use app::authz::ManageRoles;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;
use std::sync::Arc;

/// The query's parameters, each name once except `breakGlass`.
struct Params {
    role: Option<String>,
    policy: Option<String>,
    break_glass: Vec<String>,
}

fn params(raw: Option<&str>, allowed: &[&str]) -> Result<Params, QueryError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| QueryError(format!("The query is malformed: {e}")))?;
    let mut p = Params {
        role: None,
        policy: None,
        break_glass: Vec::new(),
    };
    for (name, value) in pairs {
        if !allowed.contains(&name.as_str()) {
            return Err(QueryError(format!(
                "Unknown query parameter '{name}'; this route takes {}.",
                allowed.join(", ")
            )));
        }
        let slot = match name.as_str() {
            "role" => &mut p.role,
            "policy" => &mut p.policy,
            _ => {
                p.break_glass.extend(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(str::to_string),
                );
                continue;
            }
        };
        if slot.replace(value).is_some() {
            return Err(QueryError(format!(
                "The query parameter '{name}' is given twice."
            )));
        }
    }
    Ok(p)
}

fn posture_error(e: PostureError) -> GraphError {
    if e.is_store_failure() {
        return crate::error::ServeError::Internal(format!("posture check: {e:?}")).into();
    }
    let message = e.to_string().replace("--break-glass", "breakGlass");
    if e.is_unknown_subject() {
        GraphError::new(StatusCode::NOT_FOUND, "Request_ResourceNotFound", message)
    } else {
        GraphError::bad_request("NothingToPreflight", message)
    }
}

/// `GET /v1.0/portcullis/lint[?breakGlass=…]`.
#[utoipa::path(
    get,
    path = "/v1.0/portcullis/lint",
    tag = "portcullis",
    params(
        ("breakGlass" = Option<String>, Query, description = "Break-glass accounts (comma-separated ids or names), which policies should exclude."),
    ),
    responses(
        (status = 200, description = "The findings.", body = doc::LintReport),
    ),
)]
pub async fn lint(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    caller.authorize::<ManageRoles>(&state).await?;
    let p = params(query.as_deref(), &["breakGlass"])?;
    let report = lint_posture(&state.store, &p.break_glass, state.now())
        .await
        .map_err(posture_error)?;
    Ok(Json(report.to_json()))
}

/// `GET /v1.0/portcullis/preflight?role=…|policy=…[&breakGlass=…]`.
#[utoipa::path(
    get,
    path = "/v1.0/portcullis/preflight",
    tag = "portcullis",
    params(
        ("role" = Option<String>, Query, description = "A role id or name (this or policy)."),
        ("policy" = Option<String>, Query, description = "A policy id (this or role)."),
        ("breakGlass" = Option<String>, Query, description = "Break-glass accounts."),
    ),
    responses(
        (status = 200, description = "Who could still activate or sign in.", body = doc::AnyObject),
    ),
)]
pub async fn preflight(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    caller.authorize::<ManageRoles>(&state).await?;
    let p = params(query.as_deref(), &["role", "policy", "breakGlass"])?;
    let subject =
        match (&p.role, &p.policy) {
            (Some(role), None) => Subject::Role(role),
            (None, Some(policy)) => Subject::Policy(policy),
            _ => return Err(GraphError::bad_request(
                "BadRequest",
                "Say what to pre-flight: exactly one of role=ROLE_ID_OR_NAME or policy=POLICY_ID.",
            )),
        };
    let result = run_preflight(&state.store, subject, &p.break_glass, state.now())
        .await
        .map_err(posture_error)?;
    Ok(Json(result.to_json()))
}
