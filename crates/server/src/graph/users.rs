//! `/v1.0/users`: the directory's users in Graph's `user` shape. Anyone signed in reads them;
//! User and Global Administrators create, change (`displayName`, `accountEnabled`,
//! `userPrincipalName`, `userType`) and delete them, under the rules of [`app::users`]: only a
//! Global Administrator touches a user who holds or may activate a role, and disabling or
//! deleting the last Global Administrators who could activate goes through the lockout guard
//! (`?force=true`).

use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::conditional_access::forced;
use crate::graph::error::GraphError;
use crate::graph::odata::{self, Accepts};
use crate::graph::openapi as doc;
use crate::state::AppState;
use app::authz::ManageUsers;
use app::users::{NewUser, UserError};
use authn::password::hash_password;
use authn::secrecy::SecretString;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;
use store::User;

/// What a write's body is, for errors.
const USER: &str = "a user";

/// The properties `$filter` may name.
const FILTER: &[&str] = &[
    "id",
    "userPrincipalName",
    "displayName",
    "accountEnabled",
    "userType",
];

/// The shortest password a new user may be given (Entra's minimum).
pub(crate) const MIN_PASSWORD: usize = 8;

impl From<UserError> for GraphError {
    fn from(e: UserError) -> Self {
        GraphError::from_service(e.code(), e)
    }
}

fn collection_context(state: &AppState) -> String {
    format!("{}/v1.0/$metadata#users", state.issuer)
}

/// A user in Graph's shape.
fn render(user: &User) -> Value {
    json!({
        "id": user.id,
        "userPrincipalName": user.user_principal_name,
        "displayName": user.display_name,
        "accountEnabled": user.account_enabled,
        "userType": user.user_type,
        "createdDateTime": user.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// `GET /v1.0/users`, with `$filter`, `$top` and `$count`.
#[utoipa::path(
    get,
    path = "/v1.0/users",
    tag = "directory",
    params(
        doc::ListOptions,
    ),
    responses(
        (status = 200, description = "The users.", body = doc::Collection<doc::User>),
    ),
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    let options = odata::list_options(query.as_deref(), FILTER)?;
    let users = state.users(&caller).await?;
    Ok(Json(odata::collection(
        collection_context(&state),
        users.iter().map(render).collect(),
        &options,
        &state.issuer,
        uri.path(),
    )))
}

/// A method in Graph's shape, with how it was registered (`registeredWith`, a Portcullis
/// extension: the proof it was added under, `null` when none was kept).
/// `GET /v1.0/users/{id | userPrincipalName}`.
#[utoipa::path(
    get,
    path = "/v1.0/users/{id}",
    tag = "directory",
    params(
        ("id" = String, Path, description = "The user's id or userPrincipalName."),
    ),
    responses(
        (status = 200, description = "The user.", body = doc::User),
    ),
)]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    odata::parse(query.as_deref(), &Accepts::default())?;
    let user = state.user(&caller, &key).await?;
    Ok(Json(odata::entity(
        render(&user),
        format!("{}/$entity", collection_context(&state)),
    )))
}

/// `POST /v1.0/users`: `accountEnabled`, `displayName`, `userPrincipalName` and
/// `passwordProfile.password` (at least eight characters; stored as an argon2id hash only).
/// `201` with the user.
#[utoipa::path(
    post,
    path = "/v1.0/users",
    tag = "directory",
    request_body = doc::NewUser,
    responses(
        (status = 201, description = "The user.", body = doc::User),
    ),
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let allowed = caller.authorize::<ManageUsers>(&state).await?;
    let body = body.object(USER)?;
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    let mut problems = Vec::new();
    let upn = text("userPrincipalName").unwrap_or_default();
    if upn.is_empty() {
        problems.push("userPrincipalName is required".to_string());
    }
    let display_name = text("displayName").unwrap_or_default();
    let account_enabled = match body.get("accountEnabled") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            problems.push(format!("accountEnabled is true or false, not {other}"));
            true
        }
    };
    let password = body
        .get("passwordProfile")
        .and_then(|p| p.get("password"))
        .and_then(Value::as_str)
        .map(str::to_string);
    match &password {
        None => problems.push("passwordProfile.password is required".into()),
        Some(p) if p.chars().count() < MIN_PASSWORD => problems.push(format!(
            "passwordProfile.password needs at least {MIN_PASSWORD} characters"
        )),
        Some(_) => {}
    }
    if !problems.is_empty() {
        return Err(UserError::Invalid(problems).into());
    }
    let password_phc = match password {
        Some(p) => Some(hashed(&state, p).await?),
        None => None,
    };
    let user = state
        .create_user(
            &allowed,
            NewUser {
                user_principal_name: upn,
                display_name,
                account_enabled,
                password_phc,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(render(&user))))
}

/// Hashes a new password off the request threads (argon2id is slow on purpose).
async fn hashed(state: &Arc<AppState>, password: String) -> Result<String, GraphError> {
    let params = state.config.password;
    let hash =
        tokio::task::spawn_blocking(move || hash_password(&params, &SecretString::from(password)))
            .await
            .map_err(|e| crate::error::ServeError::Internal(format!("hashing a password: {e}")))?
            .map_err(|e| crate::error::ServeError::Internal(format!("hashing a password: {e}")))?;
    Ok(hash.as_str().to_string())
}

/// `PATCH /v1.0/users/{id | userPrincipalName}[?force=true]`: `204`.
#[utoipa::path(
    patch,
    path = "/v1.0/users/{id}",
    tag = "directory",
    params(
        ("id" = String, Path, description = "The user's id or userPrincipalName."),
        doc::Force,
    ),
    request_body = doc::UserPatch,
    responses(
        (status = 204, description = "Changed."),
    ),
)]
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<StatusCode, GraphError> {
    let allowed = caller.authorize::<ManageUsers>(&state).await?;
    let guard = forced(query.as_deref())?;
    let patch = body.object(USER)?;
    state.update_user(&allowed, &key, &patch, guard).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1.0/users/{id | userPrincipalName}[?force=true]`: `204`.
#[utoipa::path(
    delete,
    path = "/v1.0/users/{id}",
    tag = "directory",
    params(
        ("id" = String, Path, description = "The user's id or userPrincipalName."),
        doc::Force,
    ),
    responses(
        (status = 204, description = "Deleted."),
    ),
)]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, GraphError> {
    let allowed = caller.authorize::<ManageUsers>(&state).await?;
    let guard = forced(query.as_deref())?;
    state.delete_user(&allowed, &key, guard).await?;
    Ok(StatusCode::NO_CONTENT)
}
