//! Authentication strengths as a service: the three built-in ones (read only) and the tenant's
//! custom ones (created, changed, deleted when nothing uses them).
//!
//! Changing which combinations a strength allows can leave the administrators who must satisfy
//! it without a method that counts: such a change goes through the lockout guard, like a
//! policy write (refused unless overridden, and then audited as forced). A strength that a
//! Conditional Access policy requires cannot be deleted.

use crate::authz::{ManageConditionalAccess, ReadConditionalAccess};
use crate::code::ErrorCode;
use crate::conditional_access::documents::{fresh_document, Decided};
use crate::conditional_access::{AdminLockout, LockoutGuard};
use crate::posture::PostureError;
use crate::{Authorized, Core};
use chrono::{DateTime, Utc};
use policy::conditional_access::ConditionalAccessPolicy;
use policy::ids::StrengthId;
use policy::method::MethodCombination;
use policy::strength::{
    built_in_strengths, AuthenticationStrengthPolicy, CombinationConfiguration,
};
use policy::TenantChange;
use serde_json::Value;
use store::{ConfigKind, StoreError};

/// Why a strength could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StrengthError {
    /// No strength has this id.
    #[error("Authentication strength '{0}' does not exist.")]
    NotFound(String),
    /// The strength has no combination configuration with this id.
    #[error("Combination configuration '{0}' does not exist.")]
    ConfigurationNotFound(String),
    /// Built-in strengths are Microsoft's: read only.
    #[error("'{0}' is a built-in authentication strength: it cannot be changed or deleted.")]
    BuiltIn(String),
    /// The body is not an authenticationStrengthPolicy.
    #[error("The body is not an authenticationStrengthPolicy: {0}")]
    NotAStrength(serde_json::Error),
    /// What Graph would refuse in it, one sentence each.
    #[error("The authentication strength cannot be written: {}.", .0.join("; "))]
    Invalid(Vec<String>),
    /// A policy requires it.
    #[error(
        "Authentication strength '{id}' cannot be deleted: {} require it. Change them first.",
        .policies.join(", ")
    )]
    InUse {
        /// The strength.
        id: String,
        /// The policies that require it, for people.
        policies: Vec<String>,
    },
    /// The change would lock every eligible Global Administrator out of activation.
    #[error(
        "{0} Have them register a method that satisfies it first, or send the change again \
         with ?force=true."
    )]
    Lockout(AdminLockout),
    /// Other writes kept landing between the read and the write.
    #[error("The Conditional Access configuration kept changing; send the change again.")]
    ConcurrentChange,
    /// The lockout guard could not read what it checks (internal).
    #[error(transparent)]
    Posture(#[from] PostureError),
    /// The store failed (internal).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl StrengthError {
    /// The Graph error code of a caller's mistake; `None` for an internal failure.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            StrengthError::NotFound(_) | StrengthError::ConfigurationNotFound(_) => {
                Some(ErrorCode::ResourceNotFound)
            }
            StrengthError::BuiltIn(_)
            | StrengthError::NotAStrength(_)
            | StrengthError::Invalid(_)
            | StrengthError::InUse { .. } => Some(ErrorCode::BadRequest),
            StrengthError::Lockout(_) => Some(ErrorCode::ConditionalAccessLockout),
            StrengthError::ConcurrentChange => Some(ErrorCode::ConcurrentChange),
            StrengthError::Posture(_) | StrengthError::Store(_) => None,
        }
    }
}

/// Where a strength is required: Graph's `authenticationStrengthUsage` (policies whose grant
/// is satisfied with MFA, and the others).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StrengthUsage {
    /// Policies requiring the strength, when it satisfies MFA.
    pub mfa: Vec<ConditionalAccessPolicy>,
    /// Policies requiring it otherwise.
    pub none: Vec<ConditionalAccessPolicy>,
}

/// What Graph refuses in a custom strength, one sentence each.
fn problems(strength: &AuthenticationStrengthPolicy) -> Vec<String> {
    let mut out = Vec::new();
    if strength
        .display_name
        .as_deref()
        .is_none_or(|n| n.trim().is_empty())
    {
        out.push("displayName is required".to_string());
    }
    if strength.allowed_combinations.is_empty() {
        out.push("allowedCombinations needs at least one combination".into());
    }
    for c in &strength.allowed_combinations {
        if c.is_empty() {
            out.push("an allowed combination names no method".into());
        }
        for m in c.unknown_modes() {
            out.push(format!(
                "'{m}' in allowedCombinations is not an authentication method mode"
            ));
        }
    }
    for config in &strength.combination_configurations {
        out.extend(configuration_problems(config));
        for c in &config.applies_to_combinations {
            if !strength.allowed_combinations.contains(c) {
                out.push(format!(
                    "a combination configuration applies to '{c}', which the strength does not allow"
                ));
            }
        }
    }
    out
}

/// The `combinationConfigurations` array of a strength's document (made when absent).
fn configurations_of(document: &mut Value) -> Result<&mut Vec<Value>, StrengthError> {
    if document
        .get("combinationConfigurations")
        .is_none_or(Value::is_null)
    {
        document["combinationConfigurations"] = Value::Array(Vec::new());
    }
    document["combinationConfigurations"]
        .as_array_mut()
        .ok_or_else(|| StrengthError::Invalid(vec!["combinationConfigurations is a list".into()]))
}

/// Configuration `config_id` of `strength`, as written.
fn configuration(
    strength: &AuthenticationStrengthPolicy,
    config_id: &str,
) -> Result<CombinationConfiguration, StrengthError> {
    strength
        .combination_configurations
        .iter()
        .find(|c| c.id.as_deref() == Some(config_id))
        .cloned()
        .ok_or_else(|| StrengthError::ConfigurationNotFound(config_id.to_string()))
}

/// What Graph refuses in one combination configuration, one sentence each: a kind it defines,
/// the combinations it applies to, and restrictions of that kind that can be checked (AAGUIDs
/// are UUIDs).
fn configuration_problems(config: &CombinationConfiguration) -> Vec<String> {
    const FIDO2: &str = "#microsoft.graph.fido2CombinationConfiguration";
    const X509: &str = "#microsoft.graph.x509CertificateCombinationConfiguration";
    let mut out = Vec::new();
    let kind = config.extra.get("@odata.type").and_then(Value::as_str);
    if config.applies_to_combinations.is_empty() {
        out.push("a combination configuration needs appliesToCombinations".into());
    }
    match kind {
        Some(k) if k.eq_ignore_ascii_case(FIDO2) => {
            match &config.allowed_aaguids {
                None => out.push("a fido2CombinationConfiguration needs allowedAAGUIDs".into()),
                Some(aaguids) => {
                    for a in aaguids {
                        if uuid::Uuid::parse_str(a).is_err() {
                            out.push(format!("'{a}' in allowedAAGUIDs is not an AAGUID (a UUID)"));
                        }
                    }
                }
            }
            let fido2 = MethodCombination::parse("fido2");
            for c in &config.applies_to_combinations {
                if *c != fido2 {
                    out.push(format!(
                        "a fido2CombinationConfiguration applies to 'fido2' only, not '{c}'"
                    ));
                }
            }
        }
        Some(k) if k.eq_ignore_ascii_case(X509) => {}
        Some(other) => out.push(format!(
            "'{other}' is not a combination configuration kind ({FIDO2}, {X509})"
        )),
        None if config.allowed_aaguids.is_some() => {}
        None => out.push(format!(
            "a combination configuration names its kind in @odata.type ({FIDO2}, {X509})"
        )),
    }
    out
}

/// A new custom strength from a client's `body`, under the service's `id` and
/// `createdDateTime`, refused when Graph would refuse it.
pub(crate) fn new_strength(
    body: &Value,
    id: &str,
    now: DateTime<Utc>,
) -> Result<AuthenticationStrengthPolicy, StrengthError> {
    let fixed = [("policyType", "custom"), ("requirementsSatisfied", "mfa")];
    let strength: AuthenticationStrengthPolicy =
        serde_json::from_value(fresh_document(body, id, now, &fixed))
            .map_err(StrengthError::NotAStrength)?;
    let refused = problems(&strength);
    if !refused.is_empty() {
        return Err(StrengthError::Invalid(refused));
    }
    Ok(strength)
}

/// Custom strength `current` changed by `change` (applied to its JSON document), still custom,
/// refused when Graph would refuse the result.
pub(crate) fn changed_strength(
    current: &AuthenticationStrengthPolicy,
    change: impl Fn(&mut Value) -> Result<(), StrengthError>,
    now: DateTime<Utc>,
) -> Result<AuthenticationStrengthPolicy, StrengthError> {
    let mut document = serde_json::to_value(current).map_err(StrengthError::NotAStrength)?;
    change(&mut document)?;
    document["id"] = Value::String(current.id.clone());
    document["policyType"] = Value::String("custom".into());
    document["modifiedDateTime"] = Value::String(now.to_rfc3339());
    let after: AuthenticationStrengthPolicy =
        serde_json::from_value(document).map_err(StrengthError::NotAStrength)?;
    let refused = problems(&after);
    if !refused.is_empty() {
        return Err(StrengthError::Invalid(refused));
    }
    Ok(after)
}

/// Whether `policy` requires strength `id`.
fn requires(policy: &ConditionalAccessPolicy, id: &StrengthId) -> bool {
    policy
        .grant_controls
        .as_ref()
        .and_then(|g| g.authentication_strength.as_ref())
        .is_some_and(|s| id.is(&s.id))
}

impl Core {
    /// The built-in strengths, then the custom ones by name.
    pub async fn authentication_strengths(
        &self,
        _allowed: &Authorized<ReadConditionalAccess>,
    ) -> Result<Vec<AuthenticationStrengthPolicy>, StrengthError> {
        let mut custom: Vec<AuthenticationStrengthPolicy> = self
            .store
            .list_config(ConfigKind::AuthenticationStrength)
            .await?;
        custom.sort_by_key(|s| s.name().to_lowercase());
        let mut all = built_in_strengths();
        all.extend(custom);
        Ok(all)
    }

    /// One strength, built-in or custom.
    pub async fn authentication_strength(
        &self,
        _allowed: &Authorized<ReadConditionalAccess>,
        id: &StrengthId,
    ) -> Result<AuthenticationStrengthPolicy, StrengthError> {
        match built_in_strengths().into_iter().find(|s| id.is(&s.id)) {
            Some(s) => Ok(s),
            None => self.custom_strength(id).await,
        }
    }

    async fn custom_strength(
        &self,
        id: &StrengthId,
    ) -> Result<AuthenticationStrengthPolicy, StrengthError> {
        self.store
            .find_config(ConfigKind::AuthenticationStrength, id.as_str())
            .await?
            .ok_or_else(|| StrengthError::NotFound(id.to_string()))
    }

    /// The policies that require strength `id`.
    pub async fn strength_usage(
        &self,
        allowed: &Authorized<ReadConditionalAccess>,
        id: &StrengthId,
    ) -> Result<StrengthUsage, StrengthError> {
        let strength = self.authentication_strength(allowed, id).await?;
        let policies: Vec<ConditionalAccessPolicy> =
            self.store.list_config(ConfigKind::Policy).await?;
        let using: Vec<ConditionalAccessPolicy> =
            policies.into_iter().filter(|p| requires(p, id)).collect();
        let mut usage = StrengthUsage::default();
        if strength.requirements_satisfied.as_deref() == Some("mfa") {
            usage.mfa = using;
        } else {
            usage.none = using;
        }
        Ok(usage)
    }

    /// Creates a custom strength from `body` (a fresh id; `policyType` custom, `requirementsSatisfied`
    /// mfa, `createdDateTime` set). Audited.
    pub async fn create_authentication_strength(
        &self,
        allowed: &Authorized<ManageConditionalAccess>,
        body: &Value,
    ) -> Result<AuthenticationStrengthPolicy, StrengthError> {
        let now = self.now();
        let id = store::new_id();
        let strength = new_strength(body, &id, now)?;
        let audit = allowed
            .caller()
            .audit("Policy", "Add authentication strength", "Add", now)
            .target(
                "AuthenticationStrengthPolicy",
                &id,
                strength.display_name.as_deref(),
            );
        self.create_config_document(
            ConfigKind::AuthenticationStrength,
            &id,
            strength,
            audit,
            || StrengthError::ConcurrentChange,
        )
        .await
    }

    /// Merges `patch` into custom strength `id` (its name, description, allowed combinations
    /// and their configurations). A change after which no eligible Global Administrator could
    /// activate is refused unless `guard` overrides it. Audited, also when refused.
    pub async fn update_authentication_strength(
        &self,
        allowed: &Authorized<ManageConditionalAccess>,
        id: &StrengthId,
        patch: &Value,
        guard: LockoutGuard,
    ) -> Result<AuthenticationStrengthPolicy, StrengthError> {
        self.change_strength(allowed, id, guard, |document| {
            policy::merge_patch::merge_patch(document, patch);
            Ok(())
        })
        .await
    }

    /// The combination configurations of strength `id` (its `combinationConfigurations`).
    pub async fn combination_configurations(
        &self,
        allowed: &Authorized<ReadConditionalAccess>,
        id: &StrengthId,
    ) -> Result<Vec<CombinationConfiguration>, StrengthError> {
        Ok(self
            .authentication_strength(allowed, id)
            .await?
            .combination_configurations)
    }

    /// Adds a combination configuration (a `fido2CombinationConfiguration` or an
    /// `x509CertificateCombinationConfiguration`, with a fresh id) to custom strength `id`,
    /// through the checks and the lockout guard of any change to the strength.
    pub async fn add_combination_configuration(
        &self,
        allowed: &Authorized<ManageConditionalAccess>,
        id: &StrengthId,
        body: &Value,
        guard: LockoutGuard,
    ) -> Result<CombinationConfiguration, StrengthError> {
        let Value::Object(fields) = body else {
            return Err(StrengthError::Invalid(vec![
                "the body is a JSON object (an authenticationCombinationConfiguration)".into(),
            ]));
        };
        // The collection holds an abstract type: what is added names its kind, as in Graph.
        if !fields.get("@odata.type").is_some_and(Value::is_string) {
            return Err(StrengthError::Invalid(vec![
                "a combination configuration names its kind in @odata.type \
                 (#microsoft.graph.fido2CombinationConfiguration or \
                 #microsoft.graph.x509CertificateCombinationConfiguration)"
                    .into(),
            ]));
        }
        let config_id = store::new_id();
        let mut config = Value::Object(fields.clone());
        config["id"] = Value::String(config_id.clone());
        let after = self
            .change_strength(allowed, id, guard, |document| {
                configurations_of(document)?.push(config.clone());
                Ok(())
            })
            .await?;
        configuration(&after, &config_id)
    }

    /// Merges `patch` into combination configuration `config_id` of custom strength `id` (its
    /// id and kind stay), through the checks and the lockout guard of any change to the strength.
    pub async fn update_combination_configuration(
        &self,
        allowed: &Authorized<ManageConditionalAccess>,
        (id, config_id): (&StrengthId, &str),
        patch: &Value,
        guard: LockoutGuard,
    ) -> Result<CombinationConfiguration, StrengthError> {
        let after = self
            .change_strength(allowed, id, guard, |document| {
                let config = configurations_of(document)?
                    .iter_mut()
                    .find(|c| c["id"].as_str() == Some(config_id))
                    .ok_or_else(|| StrengthError::ConfigurationNotFound(config_id.to_string()))?;
                let kept = (config["id"].clone(), config["@odata.type"].clone());
                policy::merge_patch::merge_patch(config, patch);
                config["id"] = kept.0;
                config["@odata.type"] = kept.1;
                Ok(())
            })
            .await?;
        configuration(&after, config_id)
    }

    /// Removes combination configuration `config_id` from custom strength `id`; removing a
    /// restriction widens the strength, so it locks nobody out.
    pub async fn delete_combination_configuration(
        &self,
        allowed: &Authorized<ManageConditionalAccess>,
        (id, config_id): (&StrengthId, &str),
    ) -> Result<(), StrengthError> {
        self.change_strength(allowed, id, LockoutGuard::Enforce, |document| {
            let configs = configurations_of(document)?;
            let before = configs.len();
            configs.retain(|c| c["id"].as_str() != Some(config_id));
            if configs.len() == before {
                return Err(StrengthError::ConfigurationNotFound(config_id.to_string()));
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Changes custom strength `id` by `change` (applied to its stored JSON document, inside the
    /// generation-tied write, so that a concurrent change is never lost), then checks it as
    /// Graph would and through the lockout guard. Audited, also when refused.
    async fn change_strength<F>(
        &self,
        allowed: &Authorized<ManageConditionalAccess>,
        id: &StrengthId,
        guard: LockoutGuard,
        change: F,
    ) -> Result<AuthenticationStrengthPolicy, StrengthError>
    where
        F: Fn(&mut Value) -> Result<(), StrengthError> + Sync,
    {
        if let Some(b) = built_in_strengths().into_iter().find(|s| id.is(&s.id)) {
            return Err(StrengthError::BuiltIn(b.name().to_string()));
        }
        let now = self.now();
        let core = self;
        let change = &change;
        let decided = self
            .write_config_document(
                ConfigKind::AuthenticationStrength,
                move || async move {
                    let current = core.custom_strength(id).await?;
                    let after = changed_strength(&current, change, now)?;
                    let audit = allowed
                        .caller()
                        .audit("Policy", "Update authentication strength", "Update", now)
                        .target(
                            "AuthenticationStrengthPolicy",
                            &current.id,
                            after.display_name.as_deref(),
                        );
                    let upserted = TenantChange::StrengthUpserted(after.clone());
                    let audit = core
                        .guard_tenant_change(
                            audit,
                            guard,
                            |t| upserted.apply_to(t),
                            StrengthError::Lockout,
                        )
                        .await?;
                    Ok(Decided {
                        id: current.id,
                        document: Some(after),
                        existed: true,
                        audit,
                    })
                },
                || StrengthError::ConcurrentChange,
            )
            .await?;
        decided
            .document
            .ok_or_else(|| StrengthError::NotFound(id.to_string()))
    }

    /// Deletes custom strength `id`, refused (and audited) while a policy requires it.
    pub async fn delete_authentication_strength(
        &self,
        allowed: &Authorized<ManageConditionalAccess>,
        id: &StrengthId,
    ) -> Result<(), StrengthError> {
        if let Some(b) = built_in_strengths().into_iter().find(|s| id.is(&s.id)) {
            return Err(StrengthError::BuiltIn(b.name().to_string()));
        }
        let now = self.now();
        let core = self;
        self.write_config_document::<AuthenticationStrengthPolicy, _, _>(
            ConfigKind::AuthenticationStrength,
            move || async move {
                let current = core.custom_strength(id).await?;
                let audit = allowed
                    .caller()
                    .audit("Policy", "Delete authentication strength", "Delete", now)
                    .target(
                        "AuthenticationStrengthPolicy",
                        &current.id,
                        current.display_name.as_deref(),
                    );
                let policies: Vec<ConditionalAccessPolicy> =
                    core.store.list_config(ConfigKind::Policy).await?;
                let using: Vec<String> = policies
                    .iter()
                    .filter(|p| requires(p, id))
                    .map(|p| format!("policy '{}' ({})", p.display_name, p.id))
                    .collect();
                if !using.is_empty() {
                    let refused = StrengthError::InUse {
                        id: current.id.clone(),
                        policies: using,
                    };
                    core.audit_refusal(audit, &refused).await;
                    return Err(refused);
                }
                Ok(Decided {
                    id: current.id,
                    document: None,
                    existed: true,
                    audit,
                })
            },
            || StrengthError::ConcurrentChange,
        )
        .await?;
        Ok(())
    }
}
