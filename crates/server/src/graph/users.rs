//! Temporary access passes issued by an administrator (Graph
//! `temporaryAccessPassAuthenticationMethod`): `POST`, `GET` and `DELETE`
//! `/v1.0/users/{id | userPrincipalName}/authentication/temporaryAccessPassMethods[/{id}]`.
//!
//! A pass lets a user who has no method yet — or none strong enough — sign in to security info
//! and register a passkey. Only an active role administrator issues one; the pass is shown once,
//! in the answer to the `POST`, and only its hash is kept. A user holds one usable pass at a
//! time, as in Entra. Issuing and deleting are audited in the same transaction. A lifetime
//! (`lifetimeInMinutes`) is 10 to 480 minutes; any other number is refused before it becomes a
//! duration.

use crate::graph::admin::{entry, refused, require_role_admin};
use crate::graph::auth::{caller, Caller};
use crate::graph::body::JsonBody;
use crate::graph::error::GraphError;
use crate::state::AppState;
use authn::secrecy::ExposeSecret;
use authn::tap::{issue_tap, TapPolicy};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use store::{AuditEntry, TemporaryAccessPass, User};

const ODATA_TYPE: &str = "#microsoft.graph.temporaryAccessPassAuthenticationMethod";

/// The user named by an id or a sign-in name.
async fn user(state: &AppState, id_or_upn: &str) -> Result<User, GraphError> {
    let found = if id_or_upn.contains('@') {
        state.store.get_user_by_upn(id_or_upn).await
    } else {
        state.store.get_user(id_or_upn).await
    };
    match found {
        Ok(u) => Ok(u),
        Err(e) if e.is_not_found() => Err(GraphError::not_found("User", id_or_upn)),
        Err(e) => Err(e.into()),
    }
}

fn render(pass: &TemporaryAccessPass, now: DateTime<Utc>) -> Value {
    let reason = if pass.is_usable_once && pass.used_at.is_some() {
        "OneTimeUsed"
    } else if now >= pass.expires_at {
        "Expired"
    } else if now < pass.starts_at {
        "NotYetValid"
    } else {
        "EnabledByPolicy"
    };
    json!({
        "@odata.type": ODATA_TYPE,
        "id": pass.id,
        "createdDateTime": pass.created_at.to_rfc3339(),
        "startDateTime": pass.starts_at.to_rfc3339(),
        "lifetimeInMinutes": (pass.expires_at - pass.starts_at).num_minutes(),
        "isUsableOnce": pass.is_usable_once,
        "isUsable": reason == "EnabledByPolicy",
        "methodUsabilityReason": reason,
    })
}

fn audit(caller: &Caller, activity: &str, target: &User, state: &AppState) -> AuditEntry {
    AuditEntry {
        category: "UserManagement".into(),
        ..entry(caller, activity, "Add", state)
    }
    .target("User", &target.id, Some(&target.user_principal_name))
}

/// The body of an issue request (every field optional).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IssueRequest {
    #[serde(default, rename = "@odata.type")]
    _odata_type: Option<String>,
    #[serde(default)]
    start_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    lifetime_in_minutes: Option<i64>,
    #[serde(default)]
    is_usable_once: Option<bool>,
}

/// A `lifetimeInMinutes` the pass policy does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("lifetimeInMinutes must be from {min} to {max} minutes, not {given}.")]
struct LifetimeOutOfRange {
    given: i64,
    min: i64,
    max: i64,
}

/// `lifetimeInMinutes` as a duration, if `policy` allows it. Checked here, on the number as
/// given, because converting first would overflow for numbers no pass could have (chrono
/// panics on `Duration::minutes(i64::MAX)`).
fn lifetime(policy: &TapPolicy, minutes: i64) -> Result<Duration, LifetimeOutOfRange> {
    let (min, max) = (
        policy.min_lifetime.num_minutes(),
        policy.max_lifetime.num_minutes(),
    );
    (min..=max)
        .contains(&minutes)
        .then(|| Duration::try_minutes(minutes))
        .flatten()
        .ok_or(LifetimeOutOfRange {
            given: minutes,
            min,
            max,
        })
}

/// `POST …/temporaryAccessPassMethods`: `201` with the pass (shown this once).
pub async fn issue(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let caller = caller(&state, &headers).await?;
    require_role_admin(&state, &caller).await?;
    let target = user(&state, &id).await?;
    let now = state.now();
    let request: IssueRequest = body
        .parse_optional(
            "a temporaryAccessPassAuthenticationMethod (startDateTime, lifetimeInMinutes, \
             isUsableOnce)",
        )?
        .unwrap_or_default();
    let activity = "Admin registered temporary access pass method for user";
    let policy = TapPolicy::default();
    let requested = match request
        .lifetime_in_minutes
        .map(|m| lifetime(&policy, m))
        .transpose()
    {
        Ok(requested) => requested,
        Err(e) => {
            let error = GraphError::bad_request("BadRequest", e.to_string());
            return Err(refused(&state, audit(&caller, activity, &target, &state), error).await);
        }
    };
    let issued = match issue_tap(
        &policy,
        now,
        request.start_date_time,
        requested,
        request.is_usable_once.unwrap_or(true),
    ) {
        Ok(issued) => issued,
        Err(e) => {
            let error = GraphError::bad_request("BadRequest", format!("{e}."));
            return Err(refused(&state, audit(&caller, activity, &target, &state), error).await);
        }
    };
    let pass = TemporaryAccessPass {
        id: store::new_id(),
        user_id: target.id.clone(),
        pass_hash: issued.pass_hash.clone(),
        is_usable_once: issued.usable_once,
        starts_at: issued.starts_at,
        expires_at: issued.expires_at,
        used_at: None,
        created_by: caller.user.id.clone(),
        created_at: store::at_ms(now),
    };
    let entry = audit(&caller, activity, &target, &state).detail("methodId", &pass.id);
    match state.store.issue_tap_audited(&pass, &entry).await {
        Ok(()) => {}
        Err(e) if e.is_conflict() => {
            let error = GraphError::bad_request(
                "BadRequest",
                format!(
                    "{} already has a usable temporary access pass; delete it first \
                     (DELETE …/temporaryAccessPassMethods/{{id}}).",
                    target.user_principal_name
                ),
            );
            return Err(refused(&state, audit(&caller, activity, &target, &state), error).await);
        }
        Err(e) => return Err(e.into()),
    }
    let mut body = render(&pass, now);
    body["temporaryAccessPass"] = Value::String(issued.pass.expose_secret().to_string());
    tracing::info!(user = %target.user_principal_name, by = %caller.user.user_principal_name, "temporary access pass issued");
    Ok((StatusCode::CREATED, Json(body)))
}

/// `GET …/temporaryAccessPassMethods`: the user's passes (never the pass itself).
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, GraphError> {
    let caller = caller(&state, &headers).await?;
    require_role_admin(&state, &caller).await?;
    let target = user(&state, &id).await?;
    let now = state.now();
    let passes = state.store.list_taps(&target.id).await?;
    Ok(Json(json!({
        "@odata.context": format!("{}/v1.0/$metadata#users('{}')/authentication/temporaryAccessPassMethods", state.issuer, target.id),
        "value": passes.iter().map(|p| render(p, now)).collect::<Vec<_>>(),
    })))
}

/// `DELETE …/temporaryAccessPassMethods/{passId}`: `204`.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, pass_id)): Path<(String, String)>,
) -> Result<StatusCode, GraphError> {
    let caller = caller(&state, &headers).await?;
    require_role_admin(&state, &caller).await?;
    let target = user(&state, &id).await?;
    let entry = AuditEntry {
        operation_type: "Delete".into(),
        ..audit(
            &caller,
            "Admin deleted temporary access pass method for user",
            &target,
            &state,
        )
    }
    .detail("methodId", &pass_id);
    match state
        .store
        .delete_tap_audited(&target.id, &pass_id, &entry)
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(e) if e.is_not_found() => Err(GraphError::not_found("Temporary access pass", &pass_id)),
        Err(e) => Err(e.into()),
    }
}
