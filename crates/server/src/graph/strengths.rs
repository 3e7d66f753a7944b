//! `/v1.0/policies/authenticationStrengthPolicies`: the three built-in strengths (read only) and
//! the tenant's custom ones. Reading needs a Conditional Access reader's role; writing a
//! Conditional Access administrator's. Changing a strength's combinations goes through the
//! lockout guard (`?force=true` overrides it, audited). The rules are in
//! [`app::conditional_access::strengths`].

use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::conditional_access::forced;
use crate::graph::error::GraphError;
use crate::graph::odata::{self, to_value, Accepts, QueryError};
use crate::graph::openapi as doc;
use crate::state::AppState;
use app::authz::{ManageConditionalAccess, ReadConditionalAccess};
use app::conditional_access::strengths::StrengthError;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use policy::ids::StrengthId;
use serde_json::{json, Value};
use std::sync::Arc;

/// What a write's body is, for errors.
const STRENGTH: &str = "an authenticationStrengthPolicy";

/// The properties `$filter` may name.
const FILTER: &[&str] = &["id", "displayName", "policyType", "requirementsSatisfied"];

impl From<StrengthError> for GraphError {
    fn from(e: StrengthError) -> Self {
        GraphError::from_service(e.code(), e)
    }
}

fn collection_context(state: &AppState) -> String {
    format!(
        "{}/v1.0/$metadata#policies/authenticationStrengthPolicies",
        state.issuer
    )
}

fn strength_id(id: &str) -> Result<StrengthId, QueryError> {
    StrengthId::parse(id).map_err(|e| QueryError(format!("{e}.")))
}

/// `GET …/authenticationStrengthPolicies`, with `$filter`, `$top` and `$count`.
#[utoipa::path(
    get,
    path = "/v1.0/policies/authenticationStrengthPolicies",
    tag = "conditionalAccess",
    params(
        doc::ListOptions,
    ),
    responses(
        (status = 200, description = "The strengths, built-in and custom.", body = doc::Collection<doc::AuthenticationStrength>),
    ),
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    let options = odata::list_options(query.as_deref(), FILTER)?;
    let allowed = caller.authorize::<ReadConditionalAccess>(&state).await?;
    let strengths = state.authentication_strengths(&allowed).await?;
    Ok(Json(odata::listed(
        collection_context(&state),
        &strengths,
        &options,
        &state.issuer,
        uri.path(),
    )?))
}

/// `GET …/authenticationStrengthPolicies/{id}`.
#[utoipa::path(
    get,
    path = "/v1.0/policies/authenticationStrengthPolicies/{id}",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "The resource's id."),
    ),
    responses(
        (status = 200, description = "The strength.", body = doc::AuthenticationStrength),
    ),
)]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    odata::parse(query.as_deref(), &Accepts::default())?;
    let allowed = caller.authorize::<ReadConditionalAccess>(&state).await?;
    let strength = state
        .authentication_strength(&allowed, &strength_id(&id)?)
        .await?;
    Ok(Json(odata::one(&collection_context(&state), &strength)?))
}

/// `GET …/authenticationStrengthPolicies/{id}/usage`: the policies that require it.
#[utoipa::path(
    get,
    path = "/v1.0/policies/authenticationStrengthPolicies/{id}/usage",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "The resource's id."),
    ),
    responses(
        (status = 200, description = "The policies that require it.", body = doc::StrengthUsage),
    ),
)]
pub async fn usage(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, GraphError> {
    let allowed = caller.authorize::<ReadConditionalAccess>(&state).await?;
    let usage = state.strength_usage(&allowed, &strength_id(&id)?).await?;
    let mut value = to_value(&usage)?;
    value["@odata.context"] = Value::String(format!(
        "{}/v1.0/$metadata#microsoft.graph.authenticationStrengthUsage",
        state.issuer
    ));
    Ok(Json(value))
}

/// `POST …/authenticationStrengthPolicies`: `201` with the custom strength as stored.
#[utoipa::path(
    post,
    path = "/v1.0/policies/authenticationStrengthPolicies",
    tag = "conditionalAccess",
    request_body = doc::AuthenticationStrengthInput,
    responses(
        (status = 201, description = "The custom strength as stored.", body = doc::AuthenticationStrength),
    ),
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let allowed = caller.authorize::<ManageConditionalAccess>(&state).await?;
    let body = body.object(STRENGTH)?;
    let strength = state
        .create_authentication_strength(&allowed, &body)
        .await?;
    Ok((StatusCode::CREATED, Json(to_value(&strength)?)))
}

/// `PATCH …/authenticationStrengthPolicies/{id}[?force=true]`: `204`.
#[utoipa::path(
    patch,
    path = "/v1.0/policies/authenticationStrengthPolicies/{id}",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "The resource's id."),
        doc::Force,
    ),
    request_body = doc::AuthenticationStrengthInput,
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
    let allowed = caller.authorize::<ManageConditionalAccess>(&state).await?;
    let guard = forced(query.as_deref())?;
    let patch = body.object(STRENGTH)?;
    state
        .update_authentication_strength(&allowed, &strength_id(&id)?, &patch, guard)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/authenticationStrengthPolicies/{id}/updateAllowedCombinations[?force=true]`: the
/// combinations before and after (Graph's `updateAllowedCombinationsResult`).
#[utoipa::path(
    post,
    path = "/v1.0/policies/authenticationStrengthPolicies/{id}/updateAllowedCombinations",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "The resource's id."),
        doc::Force,
    ),
    request_body = doc::AllowedCombinations,
    responses(
        (status = 200, description = "The combinations before and after.", body = doc::UpdateAllowedCombinationsResult),
    ),
)]
pub async fn update_allowed_combinations(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<Json<Value>, GraphError> {
    let allowed = caller.authorize::<ManageConditionalAccess>(&state).await?;
    let guard = forced(query.as_deref())?;
    let body = body.object("an updateAllowedCombinations body")?;
    let Some(combinations) = body.get("allowedCombinations").filter(|c| c.is_array()) else {
        return Err(GraphError::bad_request(
            "BadRequest",
            "The body needs allowedCombinations: an array of combinations.",
        ));
    };
    let id = strength_id(&id)?;
    let reader = caller.authorize::<ReadConditionalAccess>(&state).await?;
    let before = state.authentication_strength(&reader, &id).await?;
    let after = state
        .update_authentication_strength(
            &allowed,
            &id,
            &json!({ "allowedCombinations": combinations }),
            guard,
        )
        .await?;
    let usage = state.strength_usage(&reader, &id).await?;
    let references: Vec<&str> = usage
        .mfa
        .iter()
        .chain(&usage.none)
        .map(|p| p.id.as_str())
        .collect();
    Ok(Json(json!({
        "@odata.context": format!("{}/v1.0/$metadata#microsoft.graph.updateAllowedCombinationsResult", state.issuer),
        "previousCombinations": to_value(&before.allowed_combinations)?,
        "currentCombinations": to_value(&after.allowed_combinations)?,
        "conditionalAccessReferences": references,
        "additionalInformation": Value::Null,
    })))
}

/// `DELETE …/authenticationStrengthPolicies/{id}`: `204`.
#[utoipa::path(
    delete,
    path = "/v1.0/policies/authenticationStrengthPolicies/{id}",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "The resource's id."),
    ),
    responses(
        (status = 204, description = "Deleted."),
    ),
)]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, GraphError> {
    let allowed = caller.authorize::<ManageConditionalAccess>(&state).await?;
    state
        .delete_authentication_strength(&allowed, &strength_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
