//! `/v1.0/identity/conditionalAccess/authenticationContextClassReferences`: the tenant's
//! authentication contexts (`c1`…`c99`). Reading needs a Conditional Access reader's role;
//! `POST` (create), `PATCH …/{id}` (create or update, as Graph's v1.0 documents it) and
//! `DELETE …/{id}` (refused while a policy or a role's settings use the context) need a
//! Conditional Access administrator's. The rules are in [`app::conditional_access::contexts`].

use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::error::GraphError;
use crate::graph::odata::{self, Accepts};
use crate::graph::openapi as doc;
use crate::graph::pim_map::to_value;
use crate::state::AppState;
use app::authz::{ManageConditionalAccess, ReadConditionalAccess};
use app::conditional_access::contexts::ContextError;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use std::sync::Arc;

/// What a write's body is, for errors.
const CONTEXT: &str = "an authenticationContextClassReference";

/// The properties `$filter` may name.
const FILTER: &[&str] = &["id", "displayName", "description", "isAvailable"];

impl From<ContextError> for GraphError {
    fn from(e: ContextError) -> Self {
        GraphError::from_service(e.code(), e)
    }
}

fn collection_context(state: &AppState) -> String {
    format!(
        "{}/v1.0/$metadata#identity/conditionalAccess/authenticationContextClassReferences",
        state.issuer
    )
}

/// `GET …/authenticationContextClassReferences`, with `$filter`, `$top` and `$count`.
#[utoipa::path(
    get,
    path = "/v1.0/identity/conditionalAccess/authenticationContextClassReferences",
    tag = "conditionalAccess",
    params(
        doc::ListOptions,
    ),
    responses(
        (status = 200, description = "The authentication contexts.", body = doc::Collection<doc::AuthenticationContext>),
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
    let contexts = state.authentication_contexts(&allowed).await?;
    Ok(Json(odata::listed(
        collection_context(&state),
        &contexts,
        &options,
        &state.issuer,
        uri.path(),
    )?))
}

/// `GET …/authenticationContextClassReferences/{id}`.
#[utoipa::path(
    get,
    path = "/v1.0/identity/conditionalAccess/authenticationContextClassReferences/{id}",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "`c1`…`c99`."),
    ),
    responses(
        (status = 200, description = "The context.", body = doc::AuthenticationContext),
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
    let context = state.authentication_context(&allowed, &id).await?;
    Ok(Json(odata::one(&collection_context(&state), &context)?))
}

/// `POST …/authenticationContextClassReferences`: `201` with the context as stored; the body
/// names its id (`c1`…`c99`).
#[utoipa::path(
    post,
    path = "/v1.0/identity/conditionalAccess/authenticationContextClassReferences",
    tag = "conditionalAccess",
    request_body = doc::AuthenticationContext,
    responses(
        (status = 201, description = "The context as stored.", body = doc::AuthenticationContext),
    ),
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let allowed = caller.authorize::<ManageConditionalAccess>(&state).await?;
    let body = body.object(CONTEXT)?;
    let Some(id) = body.get("id").and_then(Value::as_str).map(str::to_string) else {
        return Err(GraphError::bad_request(
            "BadRequest",
            "The body names no id: an authentication context's id is one of c1 to c99.",
        ));
    };
    let written = state
        .write_authentication_context(&allowed, &id, &body, false)
        .await?;
    Ok((StatusCode::CREATED, Json(to_value(&written.context)?)))
}

/// `PATCH …/authenticationContextClassReferences/{id}`: creates the context (`201` with it) or
/// merges the body into it (`204`).
#[utoipa::path(
    patch,
    path = "/v1.0/identity/conditionalAccess/authenticationContextClassReferences/{id}",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "`c1`…`c99`."),
    ),
    request_body = doc::AnyObject,
    responses(
        (status = 201, description = "Created.", body = doc::AuthenticationContext),
        (status = 204, description = "Changed."),
    ),
)]
pub async fn upsert(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Response, GraphError> {
    let allowed = caller.authorize::<ManageConditionalAccess>(&state).await?;
    let body = body.object(CONTEXT)?;
    let written = state
        .write_authentication_context(&allowed, &id, &body, true)
        .await?;
    Ok(if written.created {
        (StatusCode::CREATED, Json(to_value(&written.context)?)).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    })
}

/// `DELETE …/authenticationContextClassReferences/{id}`: `204`.
#[utoipa::path(
    delete,
    path = "/v1.0/identity/conditionalAccess/authenticationContextClassReferences/{id}",
    tag = "conditionalAccess",
    params(
        ("id" = String, Path, description = "`c1`…`c99`."),
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
    state.delete_authentication_context(&allowed, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
