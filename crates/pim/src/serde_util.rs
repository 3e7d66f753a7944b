//! Serde helpers for Graph's habits: `null` where a collection is empty, and derived types named
//! by an `@odata.type` annotation.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// Reads `null` (or an absent field, with `#[serde(default)]`) as the type's default.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The key Graph uses to name a derived type.
pub(crate) const ODATA_TYPE: &str = "@odata.type";

/// Whether two `@odata.type` values name the same type: Graph writes them with or without the
/// leading `#`, and matches names case-insensitively.
pub(crate) fn same_odata_type(a: &str, b: &str) -> bool {
    let strip = |s: &str| s.trim().trim_start_matches('#').to_ascii_lowercase();
    strip(a) == strip(b)
}

/// Serializes `value` as a JSON object whose first member is `@odata.type`.
pub(crate) fn with_odata_type<T: serde::Serialize>(
    odata_type: &str,
    value: &T,
) -> Result<Map<String, Value>, serde_json::Error> {
    let mut out = Map::new();
    out.insert(
        ODATA_TYPE.to_string(),
        Value::String(odata_type.to_string()),
    );
    if let Value::Object(fields) = serde_json::to_value(value)? {
        for (k, v) in fields {
            if k != ODATA_TYPE {
                out.insert(k, v);
            }
        }
    }
    Ok(out)
}
