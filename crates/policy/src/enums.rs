//! Graph enumerations that keep values they do not know.
//!
//! Microsoft adds enum members over time (`unknownFutureValue`, new platforms, new controls). A
//! value Portcullis does not know is kept verbatim so it survives a round trip, and callers can
//! ask whether it is known in order to report it as not enforced.

/// Declares a Graph string enumeration with an `Unknown(String)` catch-all (used by the `pim`
/// crate too; the expansion needs `serde` in the calling crate).
#[macro_export]
macro_rules! graph_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of Portcullis does not know; kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// Every value this version knows, in Graph spelling order.
            pub const KNOWN: &'static [$name] = &[ $( $name::$variant ),+ ];

            /// The Graph spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )+
                    $name::Unknown(s) => s.as_str(),
                }
            }

            /// Whether this version of Portcullis knows (and so can enforce) the value.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }

            /// Parses a Graph spelling; matching is case-insensitive, as Graph's is.
            pub fn parse(s: &str) -> Self {
                $( if s.eq_ignore_ascii_case($text) { return $name::$variant; } )+
                $name::Unknown(s.to_string())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::parse(s))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                Ok(Self::parse(&s))
            }
        }
    };
}

pub(crate) use crate::graph_enum;

/// A Graph "flags" value: several enum members joined by commas in one string
/// (`"deviceCodeFlow,authenticationTransfer"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flags<T>(pub Vec<T>);

impl<T> Default for Flags<T> {
    fn default() -> Self {
        Flags(Vec::new())
    }
}

impl<T: std::str::FromStr<Err = std::convert::Infallible>> Flags<T> {
    /// Parses a comma-joined list, ignoring blanks around members.
    pub fn parse(s: &str) -> Self {
        Flags(
            s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .filter_map(|p| p.parse().ok())
                .collect(),
        )
    }
}

impl<T: std::fmt::Display> serde::Serialize for Flags<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let joined: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        s.serialize_str(&joined.join(","))
    }
}

impl<'de, T: std::str::FromStr<Err = std::convert::Infallible>> serde::Deserialize<'de>
    for Flags<T>
{
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        Ok(Flags::parse(&s))
    }
}
