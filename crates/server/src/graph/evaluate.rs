//! `POST /v1.0/identity/conditionalAccess/evaluate`: What-If over HTTP (Graph's evaluate body,
//! see `docs/whatif.md`), for Conditional Access readers. `?at=RFC3339` (a Portcullis
//! extension, like `portcullis whatif --at`) evaluates at another time than now.

use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::error::GraphError;
use crate::graph::odata::{to_value, QueryError};
use crate::graph::openapi as doc;
use crate::state::AppState;
use app::authz::ReadConditionalAccess;
use app::what_if::EvaluateError;
use axum::extract::{RawQuery, State};
use axum::Json;
use chrono::{DateTime, Utc};
use policy::EvaluateRequest;
use serde_json::Value;
use std::sync::Arc;

impl From<EvaluateError> for GraphError {
    fn from(e: EvaluateError) -> Self {
        GraphError::from_service(e.code(), e)
    }
}

/// The time of `?at=`, or `now`.
fn at(query: Option<&str>, now: DateTime<Utc>) -> Result<DateTime<Utc>, QueryError> {
    let mut at = now;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "at" => {
                at = DateTime::parse_from_rfc3339(&v)
                    .map_err(|_| {
                        QueryError(format!(
                            "at='{v}' is not an RFC 3339 time such as 2026-11-21T09:00:00Z."
                        ))
                    })?
                    .with_timezone(&Utc)
            }
            other => {
                return Err(QueryError(format!(
                    "The query option {other} is not supported by this endpoint; supported: at."
                )))
            }
        }
    }
    Ok(at)
}

/// `POST …/conditionalAccess/evaluate`: `200` with the policies' results and the decision.
#[utoipa::path(
    post,
    path = "/v1.0/identity/conditionalAccess/evaluate",
    tag = "conditionalAccess",
    params(
        ("at" = Option<String>, Query, description = "Evaluate at this RFC 3339 time instead of now (Portcullis extension)."),
    ),
    request_body = doc::EvaluateRequest,
    responses(
        (status = 200, description = "The policies' results.", body = doc::EvaluateResponse),
    ),
)]
pub async fn evaluate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<Json<Value>, GraphError> {
    let allowed = caller.authorize::<ReadConditionalAccess>(&state).await?;
    let at = at(query.as_deref(), state.now())?;
    let request: EvaluateRequest = body.parse("an evaluate request")?;
    let response = state.what_if(&allowed, &request, at).await?;
    Ok(Json(to_value(&response)?))
}
