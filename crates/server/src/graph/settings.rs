//! Role settings: `/v1.0/policies/roleManagementPolicies` (one `unifiedRoleManagementPolicy`
//! per role, id `DirectoryRole_{roleDefinitionId}`, with its 17 rules), its rules one by one
//! (read by anyone signed in; changed by an active role administrator only), and
//! `/v1.0/policies/roleManagementPolicyAssignments` (which policy governs which role). The
//! rules of a change (optimistic, audited, `409` when it keeps losing to another) live in
//! [`app::pim::settings`].

use crate::error::ServeError;
use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::conditional_access::forced;
use crate::graph::error::GraphError;
use crate::graph::odata::{self, Accepts};
use crate::graph::openapi as doc;
use crate::state::AppState;
use app::pim::settings;
use axum::extract::{Path, RawQuery, State};
use axum::http::Uri;
use axum::Json;
use pim::{RoleManagementPolicy, RoleManagementPolicyAssignment, RuleId};
use serde_json::{json, Value};
use std::sync::Arc;
use store::RoleDefinition;

const POLICY_FILTER: &[&str] = &["id", "scopeId", "scopeType"];
const ASSIGNMENT_FILTER: &[&str] = &["id", "policyId", "roleDefinitionId", "scopeId", "scopeType"];

/// The role a policy id names (`404` when none).
async fn role_of_policy(state: &AppState, policy_id: &str) -> Result<RoleDefinition, GraphError> {
    Ok(settings::role_of_policy(state, policy_id).await?)
}

use odata::to_value;

/// `GET /v1.0/policies/roleManagementPolicies` (`$filter` on scope, `$expand=rules`).
#[utoipa::path(
    get,
    path = "/v1.0/policies/roleManagementPolicies",
    tag = "pim",
    params(
        doc::ListOptions,
        ("$expand" = Option<String>, Query, description = "`rules`."),
    ),
    responses(
        (status = 200, description = "The roles' settings.", body = doc::Collection<doc::RoleManagementPolicy>),
    ),
)]
pub async fn list_policies(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    let options = odata::parse(
        query.as_deref(),
        &Accepts {
            filter: POLICY_FILTER,
            paging: true,
            select: true,
            expand: &["rules"],
        },
    )?;
    let items = settings::all(&state)
        .await?
        .iter()
        .map(|(_, policy)| to_value(policy))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(odata::collection(
        format!(
            "{}/v1.0/$metadata#policies/roleManagementPolicies",
            state.issuer
        ),
        items,
        &options,
        &state.issuer,
        uri.path(),
    )))
}

/// `GET /v1.0/policies/roleManagementPolicies/{id}` (rules always included; `$expand=rules`
/// accepted).
#[utoipa::path(
    get,
    path = "/v1.0/policies/roleManagementPolicies/{id}",
    tag = "pim",
    params(
        ("id" = String, Path, description = "`DirectoryRole_{roleDefinitionId}`."),
        ("$expand" = Option<String>, Query, description = "`rules`."),
    ),
    responses(
        (status = 200, description = "The settings with their rules.", body = doc::RoleManagementPolicy),
    ),
)]
pub async fn get_policy(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    odata::parse(
        query.as_deref(),
        &Accepts {
            expand: &["rules"],
            ..Accepts::default()
        },
    )?;
    let role = role_of_policy(&state, &id).await?;
    let policy = state.role_settings(&role.id).await?.policy;
    Ok(Json(odata::entity(
        to_value(&policy)?,
        format!(
            "{}/v1.0/$metadata#policies/roleManagementPolicies(rules())/$entity",
            state.issuer
        ),
    )))
}

/// `GET /v1.0/policies/roleManagementPolicies/{id}/rules`.
#[utoipa::path(
    get,
    path = "/v1.0/policies/roleManagementPolicies/{id}/rules",
    tag = "pim",
    params(
        ("id" = String, Path, description = "`DirectoryRole_{roleDefinitionId}`."),
    ),
    responses(
        (status = 200, description = "The rules.", body = doc::Collection<doc::RoleManagementPolicyRule>),
    ),
)]
pub async fn list_rules(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    odata::parse(query.as_deref(), &Accepts::default())?;
    let role = role_of_policy(&state, &id).await?;
    let policy = state.role_settings(&role.id).await?.policy;
    Ok(Json(json!({
        "@odata.context": format!(
            "{}/v1.0/$metadata#policies/roleManagementPolicies('{}')/rules",
            state.issuer, policy.id
        ),
        "value": to_value(&policy.rules)?,
    })))
}

/// `GET /v1.0/policies/roleManagementPolicies/{id}/rules/{ruleId}`.
#[utoipa::path(
    get,
    path = "/v1.0/policies/roleManagementPolicies/{id}/rules/{rule_id}",
    tag = "pim",
    params(
        ("id" = String, Path, description = "`DirectoryRole_{roleDefinitionId}`."),
        ("rule_id" = String, Path, description = "The rule's id."),
    ),
    responses(
        (status = 200, description = "The rule.", body = doc::RoleManagementPolicyRule),
    ),
)]
pub async fn get_rule(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path((id, rule_id)): Path<(String, String)>,
) -> Result<Json<Value>, GraphError> {
    let role = role_of_policy(&state, &id).await?;
    let policy = state.role_settings(&role.id).await?.policy;
    let rule = policy
        .rule(&RuleId::parse(&rule_id))
        .ok_or_else(|| GraphError::not_found("Role management policy rule", &rule_id))?;
    Ok(Json(odata::entity(
        to_value(rule)?,
        format!(
            "{}/v1.0/$metadata#policies/roleManagementPolicies('{}')/rules/$entity",
            state.issuer, policy.id
        ),
    )))
}

/// `PATCH /v1.0/policies/roleManagementPolicies/{id}/rules/{ruleId}`: active role
/// administrators only; `?force=true` overrides the lockout guard (Global Administrator's
/// context). Answers `200` with the rule as it now is.
#[utoipa::path(
    patch,
    path = "/v1.0/policies/roleManagementPolicies/{id}/rules/{rule_id}",
    tag = "pim",
    params(
        ("id" = String, Path, description = "`DirectoryRole_{roleDefinitionId}`."),
        ("rule_id" = String, Path, description = "The rule's id."),
        doc::Force,
    ),
    request_body = doc::RoleManagementPolicyRule,
    responses(
        (status = 200, description = "The rule as it now is.", body = doc::RoleManagementPolicyRule),
    ),
)]
pub async fn patch_rule(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, rule_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: JsonBody,
) -> Result<Json<Value>, GraphError> {
    let guard = forced(query.as_deref())?;
    let role = role_of_policy(&state, &id).await?;
    let admin = settings::authorize_change(&state, &caller, &role, &rule_id).await?;
    let body: Value = body.parse("JSON describing a unifiedRoleManagementPolicyRule")?;
    let rule = settings::patch_rule(&state, &admin, &role, &rule_id, &body, guard).await?;
    Ok(Json(to_value(&rule)?))
}

fn assignment_value(
    policy: &RoleManagementPolicy,
    role: &RoleDefinition,
    expand_policy: bool,
) -> Result<Value, ServeError> {
    let mut value = to_value(&RoleManagementPolicyAssignment::new(policy, &role.id))?;
    if expand_policy {
        if let Value::Object(map) = &mut value {
            map.insert("policy".into(), to_value(policy)?);
        }
    }
    Ok(value)
}

/// `GET /v1.0/policies/roleManagementPolicyAssignments?$filter=scopeId eq '/' and scopeType eq
/// 'DirectoryRole' and roleDefinitionId eq '…'` (`$expand=policy` embeds the settings).
#[utoipa::path(
    get,
    path = "/v1.0/policies/roleManagementPolicyAssignments",
    tag = "pim",
    params(
        doc::ListOptions,
        ("$expand" = Option<String>, Query, description = "`policy`."),
    ),
    responses(
        (status = 200, description = "The assignments of settings to roles.", body = doc::Collection<doc::RoleManagementPolicyAssignment>),
    ),
)]
pub async fn list_policy_assignments(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    let options = odata::parse(
        query.as_deref(),
        &Accepts {
            filter: ASSIGNMENT_FILTER,
            paging: true,
            select: true,
            expand: &["policy"],
        },
    )?;
    let expand = options.expands("policy");
    let items = settings::all(&state)
        .await?
        .iter()
        .map(|(role, policy)| assignment_value(policy, role, expand))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(odata::collection(
        format!(
            "{}/v1.0/$metadata#policies/roleManagementPolicyAssignments",
            state.issuer
        ),
        items,
        &options,
        &state.issuer,
        uri.path(),
    )))
}

/// `GET /v1.0/policies/roleManagementPolicyAssignments/{id}` (`{policyId}_{roleDefinitionId}`).
#[utoipa::path(
    get,
    path = "/v1.0/policies/roleManagementPolicyAssignments/{id}",
    tag = "pim",
    params(
        ("id" = String, Path, description = "`{policyId}_{roleDefinitionId}`."),
        ("$expand" = Option<String>, Query, description = "`policy`."),
    ),
    responses(
        (status = 200, description = "The assignment.", body = doc::RoleManagementPolicyAssignment),
    ),
)]
pub async fn get_policy_assignment(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    let options = odata::parse(
        query.as_deref(),
        &Accepts {
            expand: &["policy"],
            ..Accepts::default()
        },
    )?;
    for (role, policy) in settings::all(&state).await? {
        let item = assignment_value(&policy, &role, options.expands("policy"))?;
        if item["id"]
            .as_str()
            .is_some_and(|i| i.eq_ignore_ascii_case(&id))
        {
            return Ok(Json(odata::entity(
                item,
                format!(
                    "{}/v1.0/$metadata#policies/roleManagementPolicyAssignments/$entity",
                    state.issuer
                ),
            )));
        }
    }
    Err(GraphError::not_found(
        "Role management policy assignment",
        &id,
    ))
}
