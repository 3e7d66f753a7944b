//! Role settings: `/v1.0/policies/roleManagementPolicies` (one `unifiedRoleManagementPolicy`
//! per role, id `DirectoryRole_{roleDefinitionId}`, with its 17 rules), its rules one by one
//! (read by anyone signed in; changed by an active role administrator only), and
//! `/v1.0/policies/roleManagementPolicyAssignments` (which policy governs which role).
//!
//! A rule change is optimistic: the settings are read with their version and written naming it;
//! if another change came in between, the change is made again once on the new settings, then
//! the caller is told to retry (`409`). The change and its audit entry are stored together.

use crate::error::ServeError;
use crate::graph::admin::{entry, refused, require_role_admin};
use crate::graph::auth::Caller;
use crate::graph::body::JsonBody;
use crate::graph::error::GraphError;
use crate::graph::odata::{self, Accepts};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use pim::{
    Identity, PolicyRuleError, RoleManagementPolicy, RoleManagementPolicyAssignment, RuleId,
    DIRECTORY_ROLE,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use store::{RoleDefinition, StoreError};

const POLICY_FILTER: &[&str] = &["id", "scopeId", "scopeType"];
const ASSIGNMENT_FILTER: &[&str] = &["id", "policyId", "roleDefinitionId", "scopeId", "scopeType"];

/// The role a policy id names, if it is `DirectoryRole_{roleDefinitionId}` of an existing role.
async fn role_of_policy(state: &AppState, policy_id: &str) -> Result<RoleDefinition, GraphError> {
    let not_found = || GraphError::not_found("Role management policy", policy_id);
    let prefix = format!("{DIRECTORY_ROLE}_");
    let role = policy_id
        .get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(&prefix))
        .map(|_| &policy_id[prefix.len()..])
        .ok_or_else(not_found)?;
    state
        .store
        .list_role_definitions()
        .await?
        .into_iter()
        .find(|d| d.id.eq_ignore_ascii_case(role))
        .ok_or_else(not_found)
}

/// The role's settings (stored, or the defaults) and their version (0: none stored).
pub async fn load_policy(
    state: &AppState,
    role_definition_id: &str,
) -> Result<(RoleManagementPolicy, u64), GraphError> {
    let settings = state.role_settings(role_definition_id).await?;
    Ok((settings.policy, settings.version))
}

/// Every role with its settings.
async fn all_policies(
    state: &AppState,
) -> Result<Vec<(RoleDefinition, RoleManagementPolicy)>, GraphError> {
    let mut stored: HashMap<String, RoleManagementPolicy> = state
        .store
        .list_role_policies()
        .await?
        .into_iter()
        .map(|p| (p.role_definition_id.to_ascii_lowercase(), p.policy))
        .collect();
    let now = state.now();
    Ok(state
        .store
        .list_role_definitions()
        .await?
        .into_iter()
        .map(|d| {
            let policy = stored
                .remove(&d.id.to_ascii_lowercase())
                .unwrap_or_else(|| RoleManagementPolicy::default_for(&d.id, now));
            (d, policy)
        })
        .collect())
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, ServeError> {
    serde_json::to_value(value).map_err(|e| ServeError::Internal(format!("serializing: {e}")))
}

/// `GET /v1.0/policies/roleManagementPolicies` (`$filter` on scope, `$expand=rules`).
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
            expand: &["rules"],
        },
    )?;
    let mut items = Vec::new();
    for (_, policy) in all_policies(&state).await? {
        let item = to_value(&policy)?;
        if options.keeps(&item) {
            items.push(item);
        }
    }
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
    let (policy, _) = load_policy(&state, &role.id).await?;
    Ok(Json(odata::entity(
        to_value(&policy)?,
        format!(
            "{}/v1.0/$metadata#policies/roleManagementPolicies(rules())/$entity",
            state.issuer
        ),
    )))
}

/// `GET /v1.0/policies/roleManagementPolicies/{id}/rules`.
pub async fn list_rules(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    odata::parse(query.as_deref(), &Accepts::default())?;
    let role = role_of_policy(&state, &id).await?;
    let (policy, _) = load_policy(&state, &role.id).await?;
    Ok(Json(json!({
        "@odata.context": format!(
            "{}/v1.0/$metadata#policies/roleManagementPolicies('{}')/rules",
            state.issuer, policy.id
        ),
        "value": to_value(&policy.rules)?,
    })))
}

/// `GET /v1.0/policies/roleManagementPolicies/{id}/rules/{ruleId}`.
pub async fn get_rule(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path((id, rule_id)): Path<(String, String)>,
) -> Result<Json<Value>, GraphError> {
    let role = role_of_policy(&state, &id).await?;
    let (policy, _) = load_policy(&state, &role.id).await?;
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

/// The Graph error for a refused rule update: an unknown rule is `404`, anything else `400`
/// with the error's code and sentence.
fn rule_error(e: &PolicyRuleError, rule_id: &str) -> GraphError {
    if matches!(e, PolicyRuleError::RuleNotFound { .. }) {
        return GraphError::new(
            StatusCode::NOT_FOUND,
            e.code(),
            format!("Role management policy rule '{rule_id}' does not exist: {e}."),
        );
    }
    let text = e.to_string();
    let mut chars = text.chars();
    let sentence = match chars.next() {
        Some(first) => format!("{}{}", first.to_uppercase(), chars.as_str()),
        None => text,
    };
    GraphError::bad_request(e.code(), sentence)
}

/// `PATCH /v1.0/policies/roleManagementPolicies/{id}/rules/{ruleId}`: active role
/// administrators only. Answers `200` with the rule as it now is.
pub async fn patch_rule(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, rule_id)): Path<(String, String)>,
    body: JsonBody,
) -> Result<Json<Value>, GraphError> {
    let role = role_of_policy(&state, &id).await?;
    let audit = |activity: &str| {
        entry(&caller, activity, "Update", &state)
            .target("Role", &role.id, Some(&role.display_name))
            .detail("RuleId", &rule_id)
    };
    if let Err(e) = require_role_admin(&state, &caller).await {
        return Err(refused(&state, audit("Update role setting in PIM"), e).await);
    }
    let body: Value = body.parse("JSON describing a unifiedRoleManagementPolicyRule")?;
    let by = Identity {
        id: Some(caller.user.id.clone()),
        display_name: Some(caller.user.display_name.clone()),
        extra: Default::default(),
    };
    for attempt in 0..2 {
        let (mut policy, version) = load_policy(&state, &role.id).await?;
        let rule = match policy.patch_rule(&rule_id, &body, state.now(), Some(by.clone())) {
            Ok(rule) => rule.clone(),
            Err(e) => {
                return Err(refused(
                    &state,
                    audit("Update role setting in PIM"),
                    rule_error(&e, &rule_id),
                )
                .await)
            }
        };
        let rule_json = to_value(&rule)?;
        let done = audit("Update role setting in PIM")
            .target("Policy", &policy.id, None)
            .detail("Rule", &rule_json.to_string());
        match state
            .store
            .put_role_policy_audited(&policy, version, &done)
            .await
        {
            Ok(_) => {
                tracing::info!(
                    user = %caller.user.user_principal_name,
                    role = %role.id,
                    rule = %rule.id(),
                    "role setting changed"
                );
                return Ok(Json(rule_json));
            }
            Err(StoreError::Conflict { .. }) if attempt == 0 => continue,
            Err(StoreError::Conflict { .. }) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Err(GraphError::new(
        StatusCode::CONFLICT,
        "Conflict",
        "The role's settings were changed by someone else while this change was being made; \
         read them again and retry.",
    ))
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
            expand: &["policy"],
        },
    )?;
    let expand = options.expands("policy");
    let mut items = Vec::new();
    for (role, policy) in all_policies(&state).await? {
        let item = assignment_value(&policy, &role, expand)?;
        if options.keeps(&item) {
            items.push(item);
        }
    }
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
    for (role, policy) in all_policies(&state).await? {
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
