//! The checks the Conditional Access writes and the tenant import make before anything reaches
//! the store, reachable without one, for the fuzz targets (`fuzz/`). Each is the function the
//! service's write calls; only the store's part (references, the lockout guard, the write) is
//! left out. Not an API.

use crate::conditional_access::contexts::{context_id, written_context, ContextError};
use crate::conditional_access::locations::{new_location, patched_location, LocationError};
use crate::conditional_access::strengths::{changed_strength, new_strength, StrengthError};
use crate::conditional_access::{
    check_write, created_policy, patched_policy, with_change, PolicyError,
};
use crate::tenant_import::imported_settings;
use chrono::{DateTime, Utc};
use pim::RoleManagementPolicy;
use policy::conditional_access::ConditionalAccessPolicy;
use policy::context::AuthenticationContextClassReference;
use policy::location::NamedLocation;
use policy::strength::AuthenticationStrengthPolicy;
use policy::Tenant;
use serde_json::Value;

/// The id a created document gets (the service draws a fresh one).
pub const NEW_ID: &str = "5f2a0c3e-9d41-4b7a-8e6f-0f0220000001";

/// `POST …/conditionalAccess/policies` with `body` (a JSON object) on `before`.
pub fn create_policy(
    before: &Tenant,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<ConditionalAccessPolicy, PolicyError> {
    let policy = created_policy(body, NEW_ID, now)?;
    let after = with_change(before, NEW_ID, Some(&policy));
    check_write(before, &after, None, Some(&policy))?;
    Ok(policy)
}

/// `PATCH …/conditionalAccess/policies/{id}` of `current` (a policy of `before`) with `patch`.
pub fn patch_policy(
    before: &Tenant,
    current: &ConditionalAccessPolicy,
    patch: &Value,
    now: DateTime<Utc>,
) -> Result<ConditionalAccessPolicy, PolicyError> {
    let policy = patched_policy(current, patch, now)?;
    let after = with_change(before, &current.id, Some(&policy));
    check_write(before, &after, Some(current), Some(&policy))?;
    Ok(policy)
}

/// `POST …/conditionalAccess/namedLocations` with `body`.
pub fn create_location(body: &Value, now: DateTime<Utc>) -> Result<NamedLocation, LocationError> {
    new_location(body, NEW_ID, now)
}

/// `PATCH …/conditionalAccess/namedLocations/{id}` of `current` with `patch`.
pub fn patch_location(
    current: &NamedLocation,
    patch: &Value,
    now: DateTime<Utc>,
) -> Result<NamedLocation, LocationError> {
    patched_location(current, patch, now)
}

/// `POST …/authenticationStrength/policies` with `body`.
pub fn create_strength(
    body: &Value,
    now: DateTime<Utc>,
) -> Result<AuthenticationStrengthPolicy, StrengthError> {
    new_strength(body, NEW_ID, now)
}

/// `PATCH …/authenticationStrength/policies/{id}` of custom strength `current` with `patch`.
pub fn patch_strength(
    current: &AuthenticationStrengthPolicy,
    patch: &Value,
    now: DateTime<Utc>,
) -> Result<AuthenticationStrengthPolicy, StrengthError> {
    changed_strength(
        current,
        |document| {
            policy::merge_patch::merge_patch(document, patch);
            Ok(())
        },
        now,
    )
}

/// `POST` (no `current`) or `PATCH` of authentication context `id` with `body`.
pub fn write_context(
    current: Option<&AuthenticationContextClassReference>,
    id: &str,
    body: &Value,
) -> Result<AuthenticationContextClassReference, ContextError> {
    let id = context_id(id, body)?;
    written_context(current, id, body)
}

/// The settings a tenant import writes for a role: its `current` settings with each rule of the
/// `imported` ones applied as a rule PATCH applies it.
pub fn import_role_settings(
    current: &RoleManagementPolicy,
    imported: &RoleManagementPolicy,
    now: DateTime<Utc>,
) -> Result<RoleManagementPolicy, String> {
    imported_settings(current, imported, now)
}
