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
//! **Lockout guard**: a change after which no user eligible for Global Administrator could
//! satisfy what activating it requires (the strengths of the enabled policies on its
//! authentication context, checked against the methods each has registered), while before it
//! some could, is refused (`409 ConditionalAccessLockout`, naming who lacks what) unless the
//! request says `?force=true`. The check and the write are tied by the configuration's
//! generation: a change that landed in between makes the write retry against the new state.

use crate::graph::admin::{entry, refused};
use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::error::GraphError;
use crate::graph::odata::QueryError;
use crate::posture::{methods_of, role_settings};
use crate::state::AppState;
use app::authz::{ManageConditionalAccess, ReadConditionalAccess};
use app::Authorized;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use policy::api_write::write_violations;
use policy::conditional_access::ConditionalAccessPolicy;
use policy::directory::GLOBAL_ADMINISTRATOR;
use policy::engine::Engine;
use policy::posture::{eligible_users, preflight_activation};
use policy::{Severity, Tenant};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use store::ConfigKind;

/// What a write's body is, for errors.
const POLICY: &str = "a conditionalAccessPolicy";

/// How often a write is tried again when another change lands between its check and its write.
const ATTEMPTS: usize = 3;

fn context(state: &AppState) -> String {
    format!(
        "{}/v1.0/$metadata#identity/conditionalAccess/policies",
        state.issuer
    )
}

fn render(policy: &ConditionalAccessPolicy) -> Result<Value, serde_json::Error> {
    serde_json::to_value(policy)
}

fn unrenderable(e: serde_json::Error) -> GraphError {
    crate::error::ServeError::Internal(format!("a stored policy does not serialize: {e}")).into()
}

/// `GET /v1.0/identity/conditionalAccess/policies`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Value>, GraphError> {
    caller.authorize::<ReadConditionalAccess>(&state).await?;
    let policies: Vec<ConditionalAccessPolicy> =
        state.store.list_config(ConfigKind::Policy).await?;
    let value = policies
        .iter()
        .map(render)
        .collect::<Result<Vec<_>, _>>()
        .map_err(unrenderable)?;
    Ok(Json(
        json!({ "@odata.context": context(&state), "value": value }),
    ))
}

/// `GET …/policies/{id}`.
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, GraphError> {
    caller.authorize::<ReadConditionalAccess>(&state).await?;
    let policy = stored(&state, &id).await?;
    let mut value = render(&policy).map_err(unrenderable)?;
    value["@odata.context"] = Value::String(format!("{}/$entity", context(&state)));
    Ok(Json(value))
}

async fn stored(state: &AppState, id: &str) -> Result<ConditionalAccessPolicy, GraphError> {
    match state.store.get_config(ConfigKind::Policy, id).await {
        Ok(p) => Ok(p),
        Err(e) if e.is_not_found() => Err(GraphError::not_found("Conditional Access policy", id)),
        Err(e) => Err(e.into()),
    }
}

/// `?force=true` (or nothing).
fn forced(query: Option<&str>) -> Result<bool, QueryError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| QueryError(format!("The query is malformed: {e}")))?;
    let mut force = false;
    for (name, value) in pairs {
        match (name.as_str(), value.as_str()) {
            ("force", "true") => force = true,
            ("force", "false") => force = false,
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
    Ok(force)
}

fn parse(value: Value) -> Result<ConditionalAccessPolicy, QueryError> {
    serde_json::from_value(value)
        .map_err(|e| QueryError(format!("The body is not a conditionalAccessPolicy: {e}")))
}

/// What the API refuses in `after` beyond what an import keeps (values Graph does not define,
/// numbers out of range; see [`policy::api_write`]) and `before` did not already carry: a
/// write is not blamed for what an import put there, but cannot add more of it.
fn new_write_violations(
    before: Option<&ConditionalAccessPolicy>,
    after: &ConditionalAccessPolicy,
) -> Vec<String> {
    let old: BTreeSet<String> = before
        .map(write_violations)
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    write_violations(after)
        .iter()
        .map(ToString::to_string)
        .filter(|v| !old.contains(v))
        .collect()
}

/// The tenant with `policy` in place of the one with its id (added if new), or without `id`.
fn with_change(tenant: &Tenant, id: &str, policy: Option<&ConditionalAccessPolicy>) -> Tenant {
    let mut after = tenant.clone();
    after
        .conditional_access_policies
        .retain(|p| !p.id.eq_ignore_ascii_case(id));
    if let Some(p) = policy {
        after.conditional_access_policies.push(p.clone());
    }
    after
}

/// The validation errors `after` has that `before` had not.
fn new_errors(before: &Tenant, after: &Tenant) -> Vec<String> {
    let errors = |t: &Tenant| -> BTreeSet<String> {
        policy::validate::validate(&Engine::new(t.clone()))
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.to_string())
            .collect()
    };
    let old = errors(before);
    errors(after)
        .into_iter()
        .filter(|e| !old.contains(e))
        .collect()
}

/// The users eligible for Global Administrator who could activate it under `tenant`: all of
/// them when its activation requires no context, or its context has no strength to check.
async fn able_global_admins(
    state: &AppState,
    tenant: &Tenant,
    context: &str,
    now: DateTime<Utc>,
) -> Result<(BTreeSet<String>, Vec<String>), GraphError> {
    let eligible = eligible_users(tenant, GLOBAL_ADMINISTRATOR, &[]);
    let methods = methods_of(&state.store, &eligible, &|_| true, now)
        .await
        .map_err(|e| crate::error::ServeError::Internal(format!("{e:?}")))?;
    let all: BTreeSet<String> = eligible.iter().map(|u| u.id.clone()).collect();
    let Ok(preflight) = preflight_activation(tenant, context, &eligible, &|id| {
        methods.get(id).cloned().unwrap_or_default()
    }) else {
        return Ok((all, Vec::new()));
    };
    let unable = preflight.unable_users();
    let lacking = preflight
        .policies
        .iter()
        .flat_map(|p| {
            p.report
                .cannot
                .iter()
                .chain(&p.report.break_glass)
                .filter(|r| !r.is_ready())
                .map(move |r| {
                    format!(
                        "{} cannot satisfy '{}' of policy '{}' ({})",
                        r.user.user_principal_name,
                        p.report.strength_name,
                        p.policy_name,
                        r.advice
                            .as_deref()
                            .unwrap_or("no registrable method satisfies it")
                    )
                })
        })
        .collect();
    Ok((all.difference(&unable).cloned().collect(), lacking))
}

/// Why the change from `before` to `after` would lock every Global Administrator out of
/// activation, if it would.
async fn lockout(
    state: &AppState,
    before: &Tenant,
    after: &Tenant,
    now: DateTime<Utc>,
) -> Result<Option<String>, GraphError> {
    let roles = role_settings(&state.store, now)
        .await
        .map_err(|e| crate::error::ServeError::Internal(format!("{e:?}")))?;
    let Some(context) = roles
        .iter()
        .find(|r| r.definition.id.eq_ignore_ascii_case(GLOBAL_ADMINISTRATOR))
        .and_then(|r| r.required_context())
        .map(|c| c.to_string())
    else {
        return Ok(None);
    };
    let (able_after, lacking) = able_global_admins(state, after, &context, now).await?;
    if !able_after.is_empty() {
        return Ok(None);
    }
    let (able_before, _) = able_global_admins(state, before, &context, now).await?;
    if able_before.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "After this change no user eligible for Global Administrator could activate it: its \
         activation requires authentication context {context}, and {}. Have them register a \
         method that satisfies it first (see /v1.0/portcullis/preflight?role=Global%20Administrator), \
         or send the change again with ?force=true.",
        lacking.join("; ")
    )))
}

/// A change to one policy: the document after it (`None`: deleted).
enum Change {
    Create(Value),
    Patch(String, Value),
    Delete(String),
}

/// Applies `change` under the lockout guard, audited; returns the policy as stored (or, for a
/// delete, `None`).
async fn write(
    state: &AppState,
    allowed: &Authorized<ManageConditionalAccess>,
    change: Change,
    force: bool,
) -> Result<Option<ConditionalAccessPolicy>, GraphError> {
    let now = state.now();
    let (activity, operation) = match &change {
        Change::Create(_) => ("Add conditional access policy", "Add"),
        Change::Patch(..) => ("Update conditional access policy", "Update"),
        Change::Delete(_) => ("Delete conditional access policy", "Delete"),
    };
    let new_id = store::new_id();
    for _ in 0..ATTEMPTS {
        let generation = state.store.config_generation().await?;
        let before = state.store.load_tenant(now).await?;
        let (id, before_policy, after_policy) = match &change {
            Change::Create(body) => {
                let mut body = body.clone();
                body["id"] = Value::String(new_id.clone());
                body["createdDateTime"] = Value::String(now.to_rfc3339());
                if let Some(fields) = body.as_object_mut() {
                    fields.remove("modifiedDateTime");
                    fields.remove("@odata.context");
                }
                let p = parse(body)?;
                (new_id.clone(), None, Some(p))
            }
            Change::Patch(id, patch) => {
                let current = stored(state, id).await?;
                if patch
                    .get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|given| !given.eq_ignore_ascii_case(&current.id))
                {
                    return Err(GraphError::bad_request(
                        "BadRequest",
                        "A policy's id cannot be changed.",
                    ));
                }
                let mut document = render(&current).map_err(unrenderable)?;
                policy::merge_patch::merge_patch(&mut document, patch);
                document["id"] = Value::String(current.id.clone());
                document["modifiedDateTime"] = Value::String(now.to_rfc3339());
                let after = parse(document)?;
                (current.id.clone(), Some(current), Some(after))
            }
            Change::Delete(id) => {
                let current = stored(state, id).await?;
                (current.id.clone(), Some(current), None)
            }
        };
        let after = with_change(&before, &id, after_policy.as_ref());
        let audit_entry = || {
            let name = after_policy
                .as_ref()
                .map(|p| p.display_name.clone())
                .unwrap_or_default();
            AuditEntryExt::policy(
                entry(allowed.caller(), activity, operation, state),
                &id,
                &name,
            )
        };
        if let Some(p) = &after_policy {
            let refused_values = new_write_violations(before_policy.as_ref(), p);
            if !refused_values.is_empty() {
                let e = GraphError::bad_request(
                    "BadRequest",
                    format!(
                        "The policy cannot be written: {}.",
                        refused_values.join("; ")
                    ),
                );
                return Err(refused(state, audit_entry(), e).await);
            }
        }
        let errors = new_errors(&before, &after);
        if !errors.is_empty() {
            let e = GraphError::bad_request(
                "BadRequest",
                format!("The policy is not valid: {}.", errors.join("; ")),
            );
            return Err(refused(state, audit_entry(), e).await);
        }
        let enforced_after = after_policy
            .as_ref()
            .is_some_and(policy::posture::is_enforced);
        if enforced_after {
            if let Some(reason) = lockout(state, &before, &after, now).await? {
                if force {
                    tracing::warn!(policy = %id, by = %allowed.caller().user.user_principal_name, "lockout guard overridden with force=true");
                } else {
                    let e =
                        GraphError::new(StatusCode::CONFLICT, "ConditionalAccessLockout", reason);
                    return Err(refused(state, audit_entry(), e).await);
                }
            }
        }
        let mut audit = audit_entry();
        if force {
            audit = audit.detail("force", "true");
        }
        let written = state
            .store
            .write_config_checked(
                ConfigKind::Policy,
                &id,
                after_policy.as_ref(),
                generation,
                &audit,
            )
            .await?;
        if written {
            state.tenant_changed();
            return Ok(after_policy);
        }
    }
    Err(GraphError::new(
        StatusCode::CONFLICT,
        "ConcurrentChange",
        "The Conditional Access configuration kept changing while this change was checked; \
         send it again.",
    ))
}

/// Audit entries about a policy.
trait AuditEntryExt {
    fn policy(self, id: &str, name: &str) -> Self;
}

impl AuditEntryExt for store::AuditEntry {
    fn policy(self, id: &str, name: &str) -> Self {
        store::AuditEntry {
            category: "Policy".into(),
            ..self
        }
        .target("Policy", id, (!name.is_empty()).then_some(name))
    }
}

/// The permission to change policies, if the caller has it, and whether the query says
/// `force=true`.
async fn writer(
    state: &AppState,
    caller: &Caller,
    query: Option<&str>,
) -> Result<(Authorized<ManageConditionalAccess>, bool), GraphError> {
    let allowed = caller.authorize::<ManageConditionalAccess>(state).await?;
    Ok((allowed, forced(query)?))
}

/// `POST …/policies`: `201` with the policy as stored (a fresh id).
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), GraphError> {
    let (allowed, force) = writer(&state, &caller, query.as_deref()).await?;
    let body = body.object(POLICY)?;
    let written = write(&state, &allowed, Change::Create(body), force).await?;
    let value = written
        .as_ref()
        .map(render)
        .transpose()
        .map_err(unrenderable)?
        .unwrap_or(Value::Null);
    Ok((StatusCode::CREATED, Json(value)))
}

/// `PATCH …/policies/{id}`: `204`.
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<StatusCode, GraphError> {
    let (allowed, force) = writer(&state, &caller, query.as_deref()).await?;
    let patch = body.object(POLICY)?;
    write(&state, &allowed, Change::Patch(id, patch), force).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE …/policies/{id}`: `204`.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, GraphError> {
    let (allowed, force) = writer(&state, &caller, query.as_deref()).await?;
    write(&state, &allowed, Change::Delete(id), force).await?;
    Ok(StatusCode::NO_CONTENT)
}
