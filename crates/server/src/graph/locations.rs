//! `/v1.0/identity/conditionalAccess/namedLocations`: IP and country named locations. Reading
//! needs a Conditional Access reader's role; `POST`, `PATCH …/{id}` and `DELETE …/{id}` (refused
//! while a policy names the location) a Conditional Access administrator's. The rules are in
//! [`app::conditional_access::locations`].

use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::error::GraphError;
use crate::graph::odata::{self, to_value, Accepts, QueryError};
use crate::graph::openapi as doc;
use crate::state::AppState;
use app::authz::{ManageConditionalAccess, ReadConditionalAccess};
use app::conditional_access::locations::LocationError;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use policy::ids::LocationId;
use serde_json::Value;
use std::sync::Arc;

/// What a write's body is, for errors.
const LOCATION: &str = "a namedLocation";

/// The properties `$filter` may name.
const FILTER: &[&str] = &["id", "displayName", "isTrusted"];

impl From<LocationError> for GraphError {
    fn from(e: LocationError) -> Self {
        GraphError::from_service(e.code(), e)
    }
}

fn collection_context(state: &AppState) -> String {
    format!(
        "{}/v1.0/$metadata#identity/conditionalAccess/namedLocations",
        state.issuer
    )
}

/// The location id of a path.
fn location_id(id: &str) -> Result<LocationId, QueryError> {
    LocationId::parse(id).map_err(|e| QueryError(format!("{e}.")))
}

/// `GET …/namedLocations`, with `$filter`, `$top` and `$count`.
#[utoipa::path(
    get,
    path = "/v1.0/identity/conditionalAccess/namedLocations",
    tag = "conditionalAccess",
    params(
        doc::ListOptions,
    ),
    responses(
        (status = 200, description = "The named locations.", body = doc::Collection<doc::NamedLocation>),
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
    let locations = state.named_locations(&allowed).await?;
    Ok(Json(odata::listed(
        collection_context(&state),
        &locations,
        &options,
        &state.issuer,
        uri.path(),
    )?))
}

/// `GET …/namedLocations/{id}`.
#[utoipa::path(
    get,
    path = "/v1.0/identity/conditionalAccess/namedLocations/{id}",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "The resource's id."),
    ),
    responses(
        (status = 200, description = "The location.", body = doc::NamedLocation),
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
    let location = state.named_location(&allowed, &location_id(&id)?).await?;
    Ok(Json(odata::one(&collection_context(&state), &location)?))
}

/// `POST …/namedLocations`: `201` with the location as stored (a fresh id).
#[utoipa::path(
    post,
    path = "/v1.0/identity/conditionalAccess/namedLocations",
    tag = "conditionalAccess",
    request_body = doc::NamedLocationInput,
    responses(
        (status = 201, description = "The location as stored.", body = doc::NamedLocation),
    ),
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let allowed = caller.authorize::<ManageConditionalAccess>(&state).await?;
    let body = body.object(LOCATION)?;
    let location = state.create_named_location(&allowed, &body).await?;
    Ok((StatusCode::CREATED, Json(to_value(&location)?)))
}

/// `PATCH …/namedLocations/{id}`: `204`.
#[utoipa::path(
    patch,
    path = "/v1.0/identity/conditionalAccess/namedLocations/{id}",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "The resource's id."),
    ),
    request_body = doc::NamedLocationInput,
    responses(
        (status = 204, description = "Changed."),
    ),
)]
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<StatusCode, GraphError> {
    let allowed = caller.authorize::<ManageConditionalAccess>(&state).await?;
    let id = location_id(&id)?;
    let patch = body.object(LOCATION)?;
    state.update_named_location(&allowed, &id, &patch).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE …/namedLocations/{id}`: `204`.
#[utoipa::path(
    delete,
    path = "/v1.0/identity/conditionalAccess/namedLocations/{id}",
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
        .delete_named_location(&allowed, &location_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
