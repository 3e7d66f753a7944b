//! Role settings: one `unifiedRoleManagementPolicy` per role (id `DirectoryRole_{roleId}`),
//! read by anyone signed in, changed rule by rule by an active role administrator.
//!
//! A rule change is optimistic: the settings are read with their version and written naming it;
//! if another change came in between, the change is made again once on the new settings, then
//! the caller is told to retry. The change and its audit entry are stored together.

use crate::authz::{AuthorizeError, ManageRoles};
use crate::conditional_access::LockoutGuard;
use crate::pim::{capitalise, refuse, ErrorCode, Refusal, RefusalKind};
use crate::{Authorized, Caller, Core};
use pim::{Identity, PolicyRuleError, RoleManagementPolicy, Rule, DIRECTORY_ROLE};
use policy::context::ContextId;
use policy::ids::RoleId;
use policy::roles::BuiltInRole;
use serde_json::Value;
use std::collections::HashMap;
use store::{AuditEntry, ConfigKind, RoleDefinition, StoreError};

crate::pim::area_error! {
    /// Why role settings could not be read or changed.
    SettingsError
}

/// The role a policy id names, if it is `DirectoryRole_{roleDefinitionId}` of an existing role.
pub async fn role_of_policy(core: &Core, policy_id: &str) -> Result<RoleDefinition, SettingsError> {
    let not_found = || Refusal::not_found("Role management policy", policy_id);
    let prefix = format!("{DIRECTORY_ROLE}_");
    let role = policy_id
        .get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(&prefix))
        .and_then(|_| policy_id.get(prefix.len()..))
        .ok_or_else(not_found)?;
    Ok(core
        .store
        .list_role_definitions()
        .await?
        .into_iter()
        .find(|d| RoleId::trusted(d.id.as_str()) == role)
        .ok_or_else(not_found)?)
}

/// Every role with its settings (stored, or the defaults).
pub async fn all(core: &Core) -> Result<Vec<(RoleDefinition, RoleManagementPolicy)>, StoreError> {
    let mut stored: HashMap<RoleId, RoleManagementPolicy> = core
        .store
        .list_role_policies()
        .await?
        .into_iter()
        .map(|p| (RoleId::trusted(p.role_definition_id), p.policy))
        .collect();
    let now = core.now();
    Ok(core
        .store
        .list_role_definitions()
        .await?
        .into_iter()
        .map(|d| {
            let policy = stored
                .remove(&RoleId::trusted(d.id.as_str()))
                .unwrap_or_else(|| RoleManagementPolicy::default_for(&d.id, now));
            (d, policy)
        })
        .collect())
}

fn entry(caller: &Caller, core: &Core, role: &RoleDefinition, rule_id: &str) -> AuditEntry {
    caller
        .audit(
            "RoleManagement",
            "Update role setting in PIM",
            "Update",
            core.now(),
        )
        .target("Role", &role.id, Some(&role.display_name))
        .detail("RuleId", rule_id)
}

/// The permission to change `role`'s rule `rule_id`: held by an active role administrator. A
/// denial is audited.
pub async fn authorize_change(
    core: &Core,
    caller: &Caller,
    role: &RoleDefinition,
    rule_id: &str,
) -> Result<Authorized<ManageRoles>, SettingsError> {
    match core.authorize::<ManageRoles>(caller).await {
        Ok(authorized) => Ok(authorized),
        Err(AuthorizeError::Store(e)) => Err(e.into()),
        Err(AuthorizeError::Denied(denied)) => {
            let audit = entry(caller, core, role, rule_id);
            Err(refuse(core, audit, Refusal::forbidden(denied.message))
                .await
                .into())
        }
    }
}

/// The refusal of a rule change: an unknown rule is not found, anything else invalid, with
/// the domain's code and sentence.
fn rule_refusal(e: &PolicyRuleError, rule_id: &str) -> Refusal {
    let code = ErrorCode::from_code(e.code());
    if matches!(e, PolicyRuleError::RuleNotFound { .. }) {
        return Refusal::new(
            RefusalKind::NotFound,
            code,
            format!("Role management policy rule '{rule_id}' does not exist: {e}."),
        );
    }
    Refusal::invalid(code, capitalise(&e.to_string()))
}

/// The context an authentication-context rule requires, if the tenant does not define it: a
/// role whose activation requires a missing context could never be activated.
async fn missing_context(core: &Core, rule: &Rule) -> Result<Option<ContextId>, StoreError> {
    let Rule::AuthenticationContext(r) = rule else {
        return Ok(None);
    };
    let Ok(Some(context)) = r.required_context() else {
        return Ok(None);
    };
    let defined = core
        .store
        .find_config::<Value>(ConfigKind::AuthenticationContext, &context.to_string())
        .await?;
    Ok(defined.is_none().then_some(context))
}

/// The lockout guard on settings about to be written: only Global Administrator's, and only
/// the context its activation requires, can lock every eligible Global Administrator out.
async fn guard_global_admin_context(
    core: &Core,
    role: &RoleDefinition,
    policy: &RoleManagementPolicy,
    audit: AuditEntry,
    guard: LockoutGuard,
) -> Result<AuditEntry, SettingsError> {
    if BuiltInRole::GlobalAdministrator.id() != role.id {
        return Ok(audit);
    }
    let guarded = async {
        let now = core.now();
        let tenant = core.tenant_as_stored(now).await?;
        core.admin_lockout_with(&tenant, &tenant, Some(policy), now)
            .await
    };
    let lockout = guarded
        .await
        .map_err(|e| SettingsError::Internal(format!("the lockout guard: {e}")))?;
    core.lockout_verdict(lockout, guard, audit, |lockout| {
        SettingsError::Refused(Refusal::conflict(
            ErrorCode::ConditionalAccessLockout,
            format!("{lockout} Send the change again with ?force=true to make it anyway."),
        ))
    })
    .await
}

/// Changes rule `rule_id` of `role`'s settings by the JSON `body` (a merge of the rule's
/// properties), audited; returns the rule as it now is. Refused changes are audited too. A
/// change of the context Global Administrator's activation requires goes through the lockout
/// guard: a context no eligible Global Administrator can satisfy is refused unless overridden.
pub async fn patch_rule(
    core: &Core,
    admin: &Authorized<ManageRoles>,
    role: &RoleDefinition,
    rule_id: &str,
    body: &Value,
    guard: LockoutGuard,
) -> Result<Rule, SettingsError> {
    let caller = admin.caller();
    let by = Identity {
        id: Some(caller.user.id.clone()),
        display_name: Some(caller.user.display_name.clone()),
        extra: Default::default(),
    };
    for attempt in 0..2 {
        let settings = core.role_settings(&role.id).await?;
        let mut policy = settings.policy;
        let rule = match policy.patch_rule(rule_id, body, core.now(), Some(by.clone())) {
            Ok(rule) => rule.clone(),
            Err(e) => {
                let audit = entry(caller, core, role, rule_id);
                return Err(refuse(core, audit, rule_refusal(&e, rule_id)).await.into());
            }
        };
        if let Some(missing) = missing_context(core, &rule).await? {
            let audit = entry(caller, core, role, rule_id);
            let refusal = Refusal::invalid(
                ErrorCode::InvalidPolicyRule,
                format!(
                    "Authentication context '{missing}' does not exist: create it first \
                     (POST /v1.0/identity/conditionalAccess/authenticationContextClassReferences)."
                ),
            );
            return Err(refuse(core, audit, refusal).await.into());
        }
        let rule_json = serde_json::to_value(&rule)
            .map_err(|e| SettingsError::Internal(format!("serializing a rule: {e}")))?;
        let done = entry(caller, core, role, rule_id)
            .target("Policy", &policy.id, None)
            .detail("Rule", &rule_json.to_string());
        let done = guard_global_admin_context(core, role, &policy, done, guard).await?;
        match core
            .store
            .put_role_policy_audited(&policy, settings.version, &done)
            .await
        {
            Ok(_) => {
                tracing::info!(
                    user = %caller.user.user_principal_name,
                    role = %role.id,
                    rule = %rule.id(),
                    "role setting changed"
                );
                return Ok(rule);
            }
            Err(StoreError::Conflict { .. }) if attempt == 0 => continue,
            Err(StoreError::Conflict { .. }) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Refusal::conflict(
        ErrorCode::Conflict,
        "The role's settings were changed by someone else while this change was being made; \
         read them again and retry.",
    )
    .into())
}
