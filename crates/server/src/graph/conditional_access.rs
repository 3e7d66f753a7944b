//! Conditional Access policies over the Graph API (`conditionalAccessPolicy`):
//! `GET`/`POST /v1.0/identity/conditionalAccess/policies`, `GET`/`PATCH`/`DELETE …/{id}`.
//!
//! Readers: active Global, Conditional Access, Security or Privileged Role Administrators,
//! Security and Global Readers. Writers: active Global, Conditional Access or Security
//! Administrators. A policy is stored as Graph JSON, unknown fields kept; `PATCH` is a JSON merge
//! patch (RFC 7386) of the stored document. A change that adds a validation error is refused
//! with the error named. Writes are stricter than a tenant import: a value Graph does not define
//! (`"state": "bogus"`, `"operator": "XOR"`, an unknown built-in control) or a number out of
//! Entra's range is refused naming the field, the value and what is allowed — a typo in a policy
//! meant to be report-only would otherwise enforce it. What an import kept is not held against a
//! later write that leaves it alone. The body must be sent as JSON (`415` otherwise).
//!
//! **Lockout guard**: a change that would leave every user eligible for Global Administrator
//! unable to activate it is refused (`409 ConditionalAccessLockout`, naming who lacks what)
//! unless the request says `?force=true`. The rules, the guard and the audit are the service's
//! ([`app::conditional_access`]); this face parses the request and renders Graph JSON.

use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::error::GraphError;
use crate::graph::odata::QueryError;
use crate::graph::openapi as doc;
use crate::state::AppState;
use app::authz::{ManageConditionalAccess, ReadConditionalAccess};
use app::conditional_access::{LockoutGuard, PolicyChange, PolicyError};
use app::Authorized;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use policy::conditional_access::ConditionalAccessPolicy;
use policy::ids::PolicyId;
use serde_json::{json, Value};
use std::sync::Arc;

/// What a write's body is, for errors.
const POLICY: &str = "a conditionalAccessPolicy";

impl From<PolicyError> for GraphError {
    fn from(e: PolicyError) -> Self {
        GraphError::from_service(e.code(), e)
    }
}

fn context(state: &AppState) -> String {
    format!(
        "{}/v1.0/$metadata#identity/conditionalAccess/policies",
        state.issuer
    )
}

fn render(policy: &ConditionalAccessPolicy) -> Result<Value, PolicyError> {
    serde_json::to_value(policy).map_err(PolicyError::Unrenderable)
}

/// The policy id of a path.
fn policy_id(id: &str) -> Result<PolicyId, QueryError> {
    PolicyId::parse(id).map_err(|e| QueryError(format!("{e}.")))
}

/// `GET /v1.0/identity/conditionalAccess/policies`.
#[utoipa::path(
    get,
    path = "/v1.0/identity/conditionalAccess/policies",
    tag = "conditionalAccess",
    responses(
        (status = 200, description = "The policies.", body = doc::Collection<doc::ConditionalAccessPolicy>),
    ),
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Value>, GraphError> {
    let allowed = caller.authorize::<ReadConditionalAccess>(&state).await?;
    let policies = state.core.conditional_access_policies(&allowed).await?;
    let value = policies.iter().map(render).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(
        json!({ "@odata.context": context(&state), "value": value }),
    ))
}

/// `GET …/policies/{id}`.
#[utoipa::path(
    get,
    path = "/v1.0/identity/conditionalAccess/policies/{id}",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "The resource's id."),
    ),
    responses(
        (status = 200, description = "The policy.", body = doc::ConditionalAccessPolicy),
    ),
)]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, GraphError> {
    let allowed = caller.authorize::<ReadConditionalAccess>(&state).await?;
    let id = policy_id(&id)?;
    let policy = state.core.conditional_access_policy(&allowed, &id).await?;
    let mut value = render(&policy)?;
    value["@odata.context"] = Value::String(format!("{}/$entity", context(&state)));
    Ok(Json(value))
}

/// `?force=true` (or nothing).
pub(crate) fn forced(query: Option<&str>) -> Result<LockoutGuard, QueryError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| QueryError(format!("The query is malformed: {e}")))?;
    let mut guard = LockoutGuard::Enforce;
    for (name, value) in pairs {
        match (name.as_str(), value.as_str()) {
            ("force", "true") => guard = LockoutGuard::Override,
            ("force", "false") => guard = LockoutGuard::Enforce,
            ("force", other) => {
                return Err(QueryError(format!(
                    "force must be true or false, not '{other}'."
                )))
            }
            (other, _) => {
                return Err(QueryError(format!(
                    "Unknown query parameter '{other}'; this route takes force."
                )))
            }
        }
    }
    Ok(guard)
}

/// The permission to change policies, if the caller has it, and whether the query overrides
/// the lockout guard.
async fn writer(
    state: &AppState,
    caller: &Caller,
    query: Option<&str>,
) -> Result<(Authorized<ManageConditionalAccess>, LockoutGuard), GraphError> {
    let allowed = caller.authorize::<ManageConditionalAccess>(state).await?;
    Ok((allowed, forced(query)?))
}

/// `POST …/policies`: `201` with the policy as stored (a fresh id).
#[utoipa::path(
    post,
    path = "/v1.0/identity/conditionalAccess/policies",
    tag = "conditionalAccess",
    params(
        doc::Force,
    ),
    request_body = doc::ConditionalAccessPolicyInput,
    responses(
        (status = 201, description = "The policy as stored.", body = doc::ConditionalAccessPolicy),
    ),
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let (allowed, guard) = writer(&state, &caller, query.as_deref()).await?;
    let body = body.object(POLICY)?;
    let written = state
        .core
        .write_conditional_access_policy(&allowed, PolicyChange::Create(body), guard)
        .await?;
    let value = written
        .policy
        .as_ref()
        .map(render)
        .transpose()?
        .unwrap_or(Value::Null);
    Ok((StatusCode::CREATED, Json(value)))
}

/// `PATCH …/policies/{id}`: `204`.
#[utoipa::path(
    patch,
    path = "/v1.0/identity/conditionalAccess/policies/{id}",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "The resource's id."),
        doc::Force,
    ),
    request_body = doc::ConditionalAccessPolicyInput,
    responses(
        (status = 204, description = "Changed."),
    ),
)]
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<StatusCode, GraphError> {
    let (allowed, guard) = writer(&state, &caller, query.as_deref()).await?;
    let id = policy_id(&id)?;
    let patch = body.object(POLICY)?;
    state
        .core
        .write_conditional_access_policy(&allowed, PolicyChange::Patch(id, patch), guard)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE …/policies/{id}`: `204`.
#[utoipa::path(
    delete,
    path = "/v1.0/identity/conditionalAccess/policies/{id}",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "The resource's id."),
        doc::Force,
    ),
    responses(
        (status = 204, description = "Deleted."),
    ),
)]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, GraphError> {
    let (allowed, guard) = writer(&state, &caller, query.as_deref()).await?;
    let id = policy_id(&id)?;
    state
        .core
        .write_conditional_access_policy(&allowed, PolicyChange::Delete(id), guard)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
