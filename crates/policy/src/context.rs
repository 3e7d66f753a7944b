//! Authentication contexts (`c1`…`c99`).

use crate::serde_util::Extra;
use serde::{Deserialize, Serialize};

/// A valid authentication context id: `c1` to `c99`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContextId(u8);

/// Why a string is not a context id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an authentication context id: ids run from c1 to c99")]
pub struct InvalidContextId(pub String);

impl ContextId {
    /// Parses `c1`…`c99` exactly (lower-case `c`, no leading zero).
    pub fn parse(s: &str) -> Result<Self, InvalidContextId> {
        let err = || InvalidContextId(s.to_string());
        let digits = s.strip_prefix('c').ok_or_else(err)?;
        if digits.is_empty() || digits.len() > 2 || digits.starts_with('0') {
            return Err(err());
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let n: u8 = digits.parse().map_err(|_| err())?;
        Ok(ContextId(n))
    }

    /// The number, 1 to 99.
    pub fn number(self) -> u8 {
        self.0
    }
}

impl std::fmt::Display for ContextId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// Graph `authenticationContextClassReference`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationContextClassReference {
    /// `c1`…`c99`, kept as written so that a bad id can be reported.
    #[serde(default)]
    pub id: String,
    /// Name shown to administrators and users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// "Publish to apps".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_available: Option<bool>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_c1_to_c99_only() {
        assert_eq!(ContextId::parse("c1").map(ContextId::number), Ok(1));
        assert_eq!(ContextId::parse("c99").map(ContextId::number), Ok(99));
        for bad in [
            "c0", "c100", "c01", "C1", "c", "1", "cx", "c-1", " c1", "c1 ", "c١",
        ] {
            assert!(ContextId::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn displays_as_graph_writes_it() {
        assert_eq!(
            ContextId::parse("c42").map(|c| c.to_string()),
            Ok("c42".into())
        );
    }
}
