//! Directory object ids as types (authentication contexts, `c1`…`c99`, have their own stricter
//! [`ContextId`], re-exported here): a user id cannot be passed where a role id is expected, and
//! the case-insensitivity of Graph ids is built into equality, hashing and ordering instead of
//! being remembered at every comparison (`eq_ignore_ascii_case` at each call site let an
//! upper-case role id read the default settings once).
//!
//! An id keeps the spelling it was given ([`UserId::as_str`]): the store keys rows by the id as
//! defined, and Graph answers echo what the client sent. Only comparisons fold case.

pub use crate::context::ContextId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

/// Why a string is not an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidId {
    /// Empty or only white space.
    #[error("{kind} id is empty")]
    Empty {
        /// What kind of id ("user", "role definition"…).
        kind: &'static str,
    },
    /// Longer than any Graph id.
    #[error("{kind} id is longer than {MAX_ID_LEN} characters")]
    TooLong {
        /// What kind of id.
        kind: &'static str,
    },
    /// Holds a character no Graph id has (control characters, `/`, `?`, `#`, quotes, spaces).
    #[error("{kind} id '{id}' holds a character an id cannot hold")]
    BadCharacter {
        /// What kind of id.
        kind: &'static str,
        /// The id as given (truncated).
        id: String,
    },
}

/// The longest id accepted: GUIDs are 36 characters; Graph's other ids (a user principal name
/// used as a user id) stay well below this.
pub const MAX_ID_LEN: usize = 256;

fn check(kind: &'static str, s: &str) -> Result<(), InvalidId> {
    if s.trim().is_empty() {
        return Err(InvalidId::Empty { kind });
    }
    if s.len() > MAX_ID_LEN {
        return Err(InvalidId::TooLong { kind });
    }
    if s.chars().any(|c| {
        c.is_control() || c.is_whitespace() || matches!(c, '/' | '?' | '#' | '"' | '\'' | '\\')
    }) {
        return Err(InvalidId::BadCharacter {
            kind,
            id: s.chars().take(64).collect(),
        });
    }
    Ok(())
}

macro_rules! graph_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Parses an id received from outside (a path segment, a body, a claim).
            pub fn parse(s: &str) -> Result<Self, InvalidId> {
                check($kind, s)?;
                Ok($name(s.to_string()))
            }

            /// The id as it was spelled when given.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id in lower case (the canonical form for keys built outside this type).
            pub fn canonical(&self) -> String {
                self.0.to_ascii_lowercase()
            }

            /// Whether `other` spells this id (in any case).
            pub fn is(&self, other: &str) -> bool {
                self.0.eq_ignore_ascii_case(other)
            }

            /// Wraps an id that this service made or read back from its own store, where it
            /// was checked when first written.
            pub fn trusted(s: impl Into<String>) -> Self {
                $name(s.into())
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.eq_ignore_ascii_case(&other.0)
            }
        }

        impl Eq for $name {}

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0.eq_ignore_ascii_case(other)
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0.eq_ignore_ascii_case(other)
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0.eq_ignore_ascii_case(other)
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self.eq_ignore_ascii_case(&other.0)
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self.eq_ignore_ascii_case(&other.0)
            }
        }

        impl Hash for $name {
            fn hash<H: Hasher>(&self, state: &mut H) {
                for b in self.0.bytes() {
                    state.write_u8(b.to_ascii_lowercase());
                }
                state.write_u8(0xff);
            }
        }

        impl Ord for $name {
            fn cmp(&self, other: &Self) -> Ordering {
                self.0
                    .bytes()
                    .map(|b| b.to_ascii_lowercase())
                    .cmp(other.0.bytes().map(|b| b.to_ascii_lowercase()))
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

graph_id!(
    /// A user's object id.
    UserId,
    "user"
);
graph_id!(
    /// A group's object id.
    GroupId,
    "group"
);
graph_id!(
    /// A role definition's id (for built-in roles, the template id).
    RoleId,
    "role definition"
);
graph_id!(
    /// A Conditional Access policy's id.
    PolicyId,
    "conditional access policy"
);
graph_id!(
    /// An authentication strength policy's id.
    StrengthId,
    "authentication strength"
);
graph_id!(
    /// A PIM schedule request's id (also the id of its approval).
    RequestId,
    "request"
);
graph_id!(
    /// A named location's id.
    LocationId,
    "named location"
);
graph_id!(
    /// The id of a principal that can hold a role: a user or a role-assignable group (Graph's
    /// `principalId`, a directory object id that does not say which).
    PrincipalId,
    "principal"
);

impl From<UserId> for PrincipalId {
    fn from(u: UserId) -> Self {
        PrincipalId(u.0)
    }
}

impl From<&UserId> for PrincipalId {
    fn from(u: &UserId) -> Self {
        PrincipalId(u.0.clone())
    }
}

impl From<GroupId> for PrincipalId {
    fn from(g: GroupId) -> Self {
        PrincipalId(g.0)
    }
}

impl PartialEq<UserId> for PrincipalId {
    fn eq(&self, other: &UserId) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl PartialEq<PrincipalId> for UserId {
    fn eq(&self, other: &PrincipalId) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::collections::{BTreeSet, HashSet};

    #[test]
    fn ids_compare_and_hash_without_regard_to_case() {
        let a = RoleId::parse("62E90394-69F5-4237-9190-012177145E10").unwrap();
        let b = RoleId::parse("62e90394-69f5-4237-9190-012177145e10").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, "62e90394-69f5-4237-9190-012177145e10");
        assert_eq!(HashSet::from([a.clone()]).len(), 1);
        assert!(HashSet::from([a.clone()]).contains(&b));
        assert_eq!(BTreeSet::from([a.clone(), b.clone()]).len(), 1);
        // The spelling given is kept.
        assert_eq!(a.as_str(), "62E90394-69F5-4237-9190-012177145E10");
        assert_eq!(a.canonical(), b.as_str());
    }

    #[test]
    fn malformed_ids_are_refused_with_their_kind() {
        assert_eq!(
            UserId::parse(" ").unwrap_err(),
            InvalidId::Empty { kind: "user" }
        );
        assert!(matches!(
            RequestId::parse("a/../b"),
            Err(InvalidId::BadCharacter {
                kind: "request",
                ..
            })
        ));
        assert!(matches!(
            GroupId::parse(&"x".repeat(MAX_ID_LEN + 1)),
            Err(InvalidId::TooLong { kind: "group" })
        ));
        assert!(UserId::parse("adele@contoso.com").is_ok());
    }

    #[test]
    fn ids_deserialize_through_the_parser() {
        let id: UserId = serde_json::from_str("\"ABC\"").unwrap();
        assert_eq!(id, UserId::parse("abc").unwrap());
        assert!(serde_json::from_str::<UserId>("\"\"").is_err());
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"ABC\"");
    }

    proptest::proptest! {
        #[test]
        fn equality_is_case_folding_and_hash_agrees(s in "[A-Za-z0-9-]{1,40}") {
            let upper = UserId::parse(&s.to_ascii_uppercase()).unwrap();
            let lower = UserId::parse(&s.to_ascii_lowercase()).unwrap();
            proptest::prop_assert_eq!(&upper, &lower);
            use std::hash::BuildHasher;
            let state = std::collections::hash_map::RandomState::new();
            proptest::prop_assert_eq!(state.hash_one(&upper), state.hash_one(&lower));
            proptest::prop_assert_eq!(upper.cmp(&lower), Ordering::Equal);
        }
    }
}
