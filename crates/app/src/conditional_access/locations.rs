//! Named locations (IP ranges, countries) as a service: reading them, creating, changing and
//! deleting one.
//!
//! A write is checked as Graph checks it: the kind (`@odata.type`
//! `#microsoft.graph.ipNamedLocation` or `#microsoft.graph.countryNamedLocation`) is given on
//! create and cannot change, a name is required, an IP location's ranges are CIDR ranges
//! (IPv4 or IPv6; at least one), a country location's are ISO 3166-1 alpha-2 codes (at least
//! one). A location that a Conditional Access policy includes or excludes cannot be deleted
//! (the refusal names the policies). Locations are not part of the lockout guard: the guard
//! checks the strengths a Global Administrator's activation needs against registered methods,
//! which no location changes.

use crate::authz::{ManageConditionalAccess, ReadConditionalAccess};
use crate::code::ErrorCode;
use crate::conditional_access::documents::{fresh_document, Decided};
use crate::{Authorized, Core};
use chrono::{DateTime, Utc};
use policy::ids::LocationId;
use policy::location::{LocationKind, NamedLocation};
use serde_json::Value;
use store::{ConfigKind, StoreError};

const IP: &str = "#microsoft.graph.ipNamedLocation";
const COUNTRY: &str = "#microsoft.graph.countryNamedLocation";

/// Why a named location could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    /// No location has this id.
    #[error("Named location '{0}' does not exist.")]
    NotFound(String),
    /// The body is not a namedLocation.
    #[error("The body is not a namedLocation: {0}")]
    NotALocation(serde_json::Error),
    /// What Graph would refuse in it, one sentence each.
    #[error("The named location cannot be written: {}.", .0.join("; "))]
    Invalid(Vec<String>),
    /// A policy includes or excludes it.
    #[error(
        "Named location '{id}' cannot be deleted: {} use it. Change them first.",
        .policies.join(", ")
    )]
    InUse {
        /// The location.
        id: String,
        /// The policies that name it, for people.
        policies: Vec<String>,
    },
    /// Other writes kept landing between the read and the write.
    #[error("The Conditional Access configuration kept changing; send the change again.")]
    ConcurrentChange,
    /// The store failed (internal).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LocationError {
    /// The Graph error code of a caller's mistake; `None` for an internal failure.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            LocationError::NotFound(_) => Some(ErrorCode::ResourceNotFound),
            LocationError::NotALocation(_)
            | LocationError::Invalid(_)
            | LocationError::InUse { .. } => Some(ErrorCode::BadRequest),
            LocationError::ConcurrentChange => Some(ErrorCode::ConcurrentChange),
            LocationError::Store(_) => None,
        }
    }
}

/// What Graph refuses in a named location, one sentence each.
fn problems(location: &NamedLocation) -> Vec<String> {
    let mut out = Vec::new();
    if location
        .display_name
        .as_deref()
        .is_none_or(|n| n.trim().is_empty())
    {
        out.push("displayName is required".to_string());
    }
    // A kind that is not a string would be kept as given and served back in the place of
    // Graph's type name; `kind()` would meanwhile guess the kind from the other fields.
    if location
        .extra
        .get("@odata.type")
        .is_some_and(|t| !t.is_string())
    {
        out.push(format!("@odata.type must be {IP} or {COUNTRY}"));
        return out;
    }
    match location.kind() {
        LocationKind::Ip => {
            if location.ip_ranges.as_ref().is_none_or(Vec::is_empty) {
                out.push("an IP location needs at least one range in ipRanges".into());
            }
            for bad in location.malformed_ranges() {
                out.push(format!("'{bad}' is not an IPv4 or IPv6 CIDR range"));
            }
        }
        LocationKind::Country => {
            let codes = location
                .countries_and_regions
                .as_deref()
                .unwrap_or_default();
            if codes.is_empty() {
                out.push(
                    "a country location needs at least one code in countriesAndRegions".into(),
                );
            }
            for code in codes {
                if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
                    out.push(format!(
                        "'{code}' is not an ISO 3166-1 alpha-2 country or region code"
                    ));
                }
            }
        }
        LocationKind::Other => out.push(format!(
            "@odata.type must be {IP} or {COUNTRY}; this service cannot evaluate other kinds"
        )),
    }
    out
}

fn odata_type(location: &NamedLocation) -> Option<&str> {
    location.extra.get("@odata.type").and_then(Value::as_str)
}

/// A new named location from a client's `body`, under the service's `id` and
/// `createdDateTime`, refused when Graph would refuse it.
pub(crate) fn new_location(
    body: &Value,
    id: &str,
    now: DateTime<Utc>,
) -> Result<NamedLocation, LocationError> {
    let location: NamedLocation = serde_json::from_value(fresh_document(body, id, now, &[]))
        .map_err(LocationError::NotALocation)?;
    let refused = problems(&location);
    if !refused.is_empty() {
        return Err(LocationError::Invalid(refused));
    }
    Ok(location)
}

/// `current` with the merge patch `patch` applied, refused when Graph would refuse the result
/// or when the patch changes the location's kind or id.
pub(crate) fn patched_location(
    current: &NamedLocation,
    patch: &Value,
    now: DateTime<Utc>,
) -> Result<NamedLocation, LocationError> {
    let mut document = serde_json::to_value(current).map_err(LocationError::NotALocation)?;
    policy::merge_patch::merge_patch(&mut document, patch);
    document["id"] = Value::String(current.id.clone());
    document["modifiedDateTime"] = Value::String(now.to_rfc3339());
    let after: NamedLocation =
        serde_json::from_value(document).map_err(LocationError::NotALocation)?;
    let mut refused = problems(&after);
    if odata_type(&after) != odata_type(current) {
        refused.push("a named location's @odata.type cannot change".into());
    }
    if patch
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|given| !given.eq_ignore_ascii_case(&current.id))
    {
        refused.push("a named location's id cannot change".into());
    }
    if !refused.is_empty() {
        return Err(LocationError::Invalid(refused));
    }
    Ok(after)
}

impl Core {
    /// Every named location, ordered by name.
    pub async fn named_locations(
        &self,
        _allowed: &Authorized<ReadConditionalAccess>,
    ) -> Result<Vec<NamedLocation>, LocationError> {
        let mut all: Vec<NamedLocation> = self.store.list_config(ConfigKind::NamedLocation).await?;
        all.sort_by_key(|l| l.name().to_lowercase());
        Ok(all)
    }

    /// One named location.
    pub async fn named_location(
        &self,
        _allowed: &Authorized<ReadConditionalAccess>,
        id: &LocationId,
    ) -> Result<NamedLocation, LocationError> {
        self.stored_location(id).await
    }

    async fn stored_location(&self, id: &LocationId) -> Result<NamedLocation, LocationError> {
        self.store
            .find_config(ConfigKind::NamedLocation, id.as_str())
            .await?
            .ok_or_else(|| LocationError::NotFound(id.to_string()))
    }

    /// Creates a named location from `body` (a fresh id; `createdDateTime` set). Audited.
    pub async fn create_named_location(
        &self,
        allowed: &Authorized<ManageConditionalAccess>,
        body: &Value,
    ) -> Result<NamedLocation, LocationError> {
        let now = self.now();
        let id = store::new_id();
        let location = new_location(body, &id, now)?;
        let audit = allowed
            .caller()
            .audit("Policy", "Add named location", "Add", now)
            .target("NamedLocation", &id, location.display_name.as_deref());
        self.create_config_document(ConfigKind::NamedLocation, &id, location, audit, || {
            LocationError::ConcurrentChange
        })
        .await
    }

    /// Merges `patch` (RFC 7386) into named location `id`; its kind cannot change. Audited.
    pub async fn update_named_location(
        &self,
        allowed: &Authorized<ManageConditionalAccess>,
        id: &LocationId,
        patch: &Value,
    ) -> Result<NamedLocation, LocationError> {
        let now = self.now();
        let core = self;
        let decided = self
            .write_config_document(
                ConfigKind::NamedLocation,
                move || async move {
                    let current = core.stored_location(id).await?;
                    let after = patched_location(&current, patch, now)?;
                    Ok(Decided {
                        id: current.id.clone(),
                        existed: true,
                        audit: allowed
                            .caller()
                            .audit("Policy", "Update named location", "Update", now)
                            .target("NamedLocation", &current.id, after.display_name.as_deref()),
                        document: Some(after),
                    })
                },
                || LocationError::ConcurrentChange,
            )
            .await?;
        decided
            .document
            .ok_or_else(|| LocationError::NotFound(id.to_string()))
    }

    /// Deletes named location `id`, refused (and audited) while a policy includes or excludes
    /// it.
    pub async fn delete_named_location(
        &self,
        allowed: &Authorized<ManageConditionalAccess>,
        id: &LocationId,
    ) -> Result<(), LocationError> {
        let now = self.now();
        let core = self;
        self.write_config_document::<NamedLocation, _, _>(
            ConfigKind::NamedLocation,
            move || async move {
                let current = core.stored_location(id).await?;
                let audit = allowed
                    .caller()
                    .audit("Policy", "Delete named location", "Delete", now)
                    .target(
                        "NamedLocation",
                        &current.id,
                        current.display_name.as_deref(),
                    );
                let policies = core.policies_naming_location(id).await?;
                if !policies.is_empty() {
                    let refused = LocationError::InUse {
                        id: current.id.clone(),
                        policies,
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
            || LocationError::ConcurrentChange,
        )
        .await?;
        Ok(())
    }

    /// The policies that include or exclude location `id`, named for people.
    async fn policies_naming_location(&self, id: &LocationId) -> Result<Vec<String>, StoreError> {
        let policies: Vec<policy::conditional_access::ConditionalAccessPolicy> =
            self.store.list_config(ConfigKind::Policy).await?;
        Ok(policies
            .iter()
            .filter(|p| {
                p.conditions.locations.as_ref().is_some_and(|l| {
                    l.include_locations
                        .iter()
                        .chain(&l.exclude_locations)
                        .any(|x| id.is(x))
                })
            })
            .map(|p| format!("policy '{}' ({})", p.display_name, p.id))
            .collect())
    }
}
