//! Serde helpers for Graph's habits: `null` where a collection is empty.

use serde::{Deserialize, Deserializer};

/// Reads `null` (or an absent field, with `#[serde(default)]`) as the type's default.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Whether an unknown JSON field carries configuration (rather than nothing, or an annotation).
pub(crate) fn carries_configuration(key: &str, value: &serde_json::Value) -> bool {
    if key.starts_with('@') || key.contains("@odata.") || key.starts_with('#') {
        return false;
    }
    match value {
        serde_json::Value::Null => false,
        serde_json::Value::Array(a) => !a.is_empty(),
        serde_json::Value::Object(o) => o.iter().any(|(k, v)| carries_configuration(k, v)),
        serde_json::Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// Extra JSON fields kept for round-trip.
pub type Extra = serde_json::Map<String, serde_json::Value>;
