//! `/v1.0/auditLogs/signIns` and `/v1.0/auditLogs/directoryAudits`: the sign-in log (with each
//! Conditional Access policy's result, `appliedConditionalAccessPolicies`) and the audit log
//! (with its hash chain's fields), newest first, for active Global or Security Administrators
//! and Security or Global Readers (see [`app::authz::ReadAuditLogs`]).
//!
//! `$filter` takes `eq` terms (without regard to case, as Graph compares these) on the
//! properties below, over the newest [`WINDOW`] entries; the result is paged (`$top`,
//! `@odata.nextLink`) and counted (`$count=true`).

use crate::graph::auth::Caller;
use crate::graph::error::GraphError;
use crate::graph::odata::{self, Accepts};
use crate::graph::openapi as doc;
use crate::state::AppState;
use app::authz::ReadAuditLogs;
use axum::extract::{Path, RawQuery, State};
use axum::http::Uri;
use axum::Json;
use serde_json::Value;
use std::sync::Arc;
use store::{AuditQuery, SignInQuery};

/// How many of the newest entries a list reads before `$filter` and paging.
pub const WINDOW: u32 = 10_000;

const SIGN_IN_FILTER: &[&str] = &[
    "userId",
    "userPrincipalName",
    "appId",
    "ipAddress",
    "createdDateTime",
];
const AUDIT_FILTER: &[&str] = &[
    "activityDateTime",
    "category",
    "correlationId",
    "activityDisplayName",
    "operationType",
    "result",
    "loggedByService",
];

fn context(state: &AppState, collection: &str) -> String {
    format!("{}/v1.0/$metadata#auditLogs/{collection}", state.issuer)
}

/// `GET /v1.0/auditLogs/signIns`.
#[utoipa::path(
    get,
    path = "/v1.0/auditLogs/signIns",
    tag = "logs",
    params(
        doc::ListOptions,
    ),
    responses(
        (status = 200, description = "Sign-ins, newest first.", body = doc::Collection<doc::SignIn>),
    ),
)]
pub async fn sign_ins(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    let options = odata::list_options(query.as_deref(), SIGN_IN_FILTER)?;
    let allowed = caller.authorize::<ReadAuditLogs>(&state).await?;
    let records = state
        .sign_ins(
            &allowed,
            &SignInQuery {
                limit: WINDOW,
                ..SignInQuery::default()
            },
        )
        .await?;
    let items = records.iter().map(|r| r.to_graph()).collect();
    Ok(Json(odata::collection(
        context(&state, "signIns"),
        items,
        &options,
        &state.issuer,
        uri.path(),
    )))
}

/// `GET /v1.0/auditLogs/signIns/{id}`.
#[utoipa::path(
    get,
    path = "/v1.0/auditLogs/signIns/{id}",
    tag = "logs",
    params(
        ("id" = String, Path, description = "The resource's id."),
    ),
    responses(
        (status = 200, description = "The sign-in.", body = doc::SignIn),
    ),
)]
pub async fn sign_in(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    odata::parse(query.as_deref(), &Accepts::default())?;
    let allowed = caller.authorize::<ReadAuditLogs>(&state).await?;
    match state.sign_in(&allowed, &id).await? {
        Some(r) => Ok(Json(odata::entity(
            r.to_graph(),
            format!("{}/$entity", context(&state, "signIns")),
        ))),
        None => Err(GraphError::not_found("Sign-in", &id)),
    }
}

/// `GET /v1.0/auditLogs/directoryAudits`.
#[utoipa::path(
    get,
    path = "/v1.0/auditLogs/directoryAudits",
    tag = "logs",
    params(
        doc::ListOptions,
    ),
    responses(
        (status = 200, description = "Audit entries, newest first.", body = doc::Collection<doc::DirectoryAudit>),
    ),
)]
pub async fn directory_audits(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    let options = odata::list_options(query.as_deref(), AUDIT_FILTER)?;
    let allowed = caller.authorize::<ReadAuditLogs>(&state).await?;
    let records = state
        .directory_audits(
            &allowed,
            &AuditQuery {
                limit: WINDOW,
                ..AuditQuery::default()
            },
        )
        .await?;
    Ok(Json(odata::listed(
        context(&state, "directoryAudits"),
        &records,
        &options,
        &state.issuer,
        uri.path(),
    )?))
}

/// `GET /v1.0/auditLogs/directoryAudits/{id}`.
#[utoipa::path(
    get,
    path = "/v1.0/auditLogs/directoryAudits/{id}",
    tag = "logs",
    params(
        ("id" = String, Path, description = "The resource's id."),
    ),
    responses(
        (status = 200, description = "The entry.", body = doc::DirectoryAudit),
    ),
)]
pub async fn directory_audit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    odata::parse(query.as_deref(), &Accepts::default())?;
    let allowed = caller.authorize::<ReadAuditLogs>(&state).await?;
    match state.directory_audit(&allowed, &id).await? {
        Some(r) => Ok(Json(odata::one(&context(&state, "directoryAudits"), &r)?)),
        None => Err(GraphError::not_found("Audit entry", &id)),
    }
}
