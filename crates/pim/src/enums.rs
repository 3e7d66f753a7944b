//! Graph string enumerations that keep values they do not know.
//!
//! The same pattern as the policy crate's: a value Portcullis does not know is kept verbatim so
//! that it survives a round trip, and callers can ask whether it is known (and so enforced).

/// Declares a Graph string enumeration with an `Unknown(String)` catch-all.
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
            /// Every value this version knows, in Graph's order.
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

pub(crate) use graph_enum;
