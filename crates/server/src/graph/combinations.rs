//! `/v1.0/policies/authenticationStrengthPolicies/{id}/combinationConfigurations`: the
//! restrictions a custom strength puts on some of its combinations — which FIDO2 authenticator
//! models (AAGUIDs) count, which certificate issuers. Reading needs a Conditional Access reader's
//! role; writing a Conditional Access administrator's, through the checks and the lockout guard
//! of any change to the strength ([`app::conditional_access::strengths`]): restricting the keys
//! that count can lock the administrators out as surely as narrowing the combinations.

use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::conditional_access::forced;
use crate::graph::error::GraphError;
use crate::graph::odata::{self, to_value, Accepts, QueryError};
use crate::graph::openapi as doc;
use crate::state::AppState;
use app::authz::{ManageConditionalAccess, ReadConditionalAccess};
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use policy::ids::StrengthId;
use serde_json::Value;
use std::sync::Arc;

/// What a write's body is, for errors.
const CONFIGURATION: &str = "an authenticationCombinationConfiguration";

fn context(state: &AppState, id: &str) -> String {
    format!(
        "{}/v1.0/$metadata#policies/authenticationStrengthPolicies('{id}')/combinationConfigurations",
        state.issuer
    )
}

fn strength_id(id: &str) -> Result<StrengthId, QueryError> {
    StrengthId::parse(id).map_err(|e| QueryError(format!("{e}.")))
}

/// `GET …/{id}/combinationConfigurations`.
#[utoipa::path(
    get,
    path = "/v1.0/policies/authenticationStrengthPolicies/{id}/combinationConfigurations",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "The strength's id."),
        doc::ListOptions,
    ),
    responses(
        (status = 200, description = "The strength's combination configurations.", body = doc::Collection<doc::CombinationConfiguration>),
    ),
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    let options = odata::list_options(query.as_deref(), &["id"])?;
    let allowed = caller.authorize::<ReadConditionalAccess>(&state).await?;
    let configurations = state
        .combination_configurations(&allowed, &strength_id(&id)?)
        .await?;
    Ok(Json(odata::listed(
        context(&state, &id),
        &configurations,
        &options,
        &state.issuer,
        uri.path(),
    )?))
}

/// `GET …/{id}/combinationConfigurations/{configurationId}`.
#[utoipa::path(
    get,
    path = "/v1.0/policies/authenticationStrengthPolicies/{id}/combinationConfigurations/{configuration_id}",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "The strength's id."),
        ("configuration_id" = String, Path, description = "The configuration's id."),
    ),
    responses(
        (status = 200, description = "The configuration.", body = doc::CombinationConfiguration),
    ),
)]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, configuration_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    odata::parse(query.as_deref(), &Accepts::default())?;
    let allowed = caller.authorize::<ReadConditionalAccess>(&state).await?;
    let configurations = state
        .combination_configurations(&allowed, &strength_id(&id)?)
        .await?;
    match configurations
        .iter()
        .find(|c| c.id.as_deref() == Some(configuration_id.as_str()))
    {
        Some(c) => Ok(Json(odata::one(&context(&state, &id), c)?)),
        None => Err(GraphError::not_found(
            "Combination configuration",
            &configuration_id,
        )),
    }
}

/// `POST …/{id}/combinationConfigurations[?force=true]`: a `fido2CombinationConfiguration`
/// (`allowedAAGUIDs`) or an `x509CertificateCombinationConfiguration`; `201` with it and its id.
#[utoipa::path(
    post,
    path = "/v1.0/policies/authenticationStrengthPolicies/{id}/combinationConfigurations",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "The strength's id."),
        doc::Force,
    ),
    request_body = doc::CombinationConfigurationInput,
    responses(
        (status = 201, description = "The configuration as stored.", body = doc::CombinationConfiguration),
    ),
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let allowed = caller.authorize::<ManageConditionalAccess>(&state).await?;
    let guard = forced(query.as_deref())?;
    let body = body.object(CONFIGURATION)?;
    let made = state
        .add_combination_configuration(&allowed, &strength_id(&id)?, &body, guard)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(odata::one(&context(&state, &id), &made)?),
    ))
}

/// `PATCH …/{id}/combinationConfigurations/{configurationId}[?force=true]`: a merge of its
/// properties (the id and kind stay); `200` with it as it now is.
#[utoipa::path(
    patch,
    path = "/v1.0/policies/authenticationStrengthPolicies/{id}/combinationConfigurations/{configuration_id}",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "The strength's id."),
        ("configuration_id" = String, Path, description = "The configuration's id."),
        doc::Force,
    ),
    request_body = doc::CombinationConfigurationInput,
    responses(
        (status = 200, description = "The configuration as it now is.", body = doc::CombinationConfiguration),
    ),
)]
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, configuration_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<Json<Value>, GraphError> {
    let allowed = caller.authorize::<ManageConditionalAccess>(&state).await?;
    let guard = forced(query.as_deref())?;
    let patch = body.object(CONFIGURATION)?;
    let changed = state
        .update_combination_configuration(
            &allowed,
            (&strength_id(&id)?, &configuration_id),
            &patch,
            guard,
        )
        .await?;
    Ok(Json(to_value(&changed)?))
}

/// `DELETE …/{id}/combinationConfigurations/{configurationId}`: `204`.
#[utoipa::path(
    delete,
    path = "/v1.0/policies/authenticationStrengthPolicies/{id}/combinationConfigurations/{configuration_id}",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "The strength's id."),
        ("configuration_id" = String, Path, description = "The configuration's id."),
    ),
    responses(
        (status = 204, description = "Deleted."),
    ),
)]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, configuration_id)): Path<(String, String)>,
) -> Result<StatusCode, GraphError> {
    let allowed = caller.authorize::<ManageConditionalAccess>(&state).await?;
    state
        .delete_combination_configuration(&allowed, (&strength_id(&id)?, &configuration_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
