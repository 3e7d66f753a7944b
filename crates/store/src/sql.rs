//! Value conversions shared by every module: how Rust values are written to, and read from, the
//! portable columns (BIGINT milliseconds, BIGINT 0/1 flags, TEXT JSON).

use crate::StoreError;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Decode, Row, Type};

/// A time as stored: Unix milliseconds. Finer precision is dropped.
pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// An optional time as stored.
pub(crate) fn opt_ms(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(ms)
}

/// A flag as stored: 0 or 1.
pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// A value as stored JSON text.
pub(crate) fn to_json<T: Serialize + ?Sized>(
    what: &'static str,
    value: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid {
        what,
        detail: e.to_string(),
    })
}

/// Typed access to the columns of a row; a value that does not decode is [`StoreError::Corrupt`].
pub(crate) trait RowExt {
    /// Any column, decoded as `T`.
    fn col<T>(&self, name: &'static str) -> Result<T, StoreError>
    where
        T: for<'r> Decode<'r, Any> + Type<Any>;

    /// A TEXT column.
    fn text(&self, name: &'static str) -> Result<String, StoreError> {
        self.col(name)
    }

    /// A nullable TEXT column.
    fn opt_text(&self, name: &'static str) -> Result<Option<String>, StoreError> {
        self.col(name)
    }

    /// A BIGINT column.
    fn int(&self, name: &'static str) -> Result<i64, StoreError> {
        self.col(name)
    }

    /// A BIGINT 0/1 column.
    fn flag(&self, name: &'static str) -> Result<bool, StoreError> {
        Ok(self.int(name)? != 0)
    }

    /// A BYTEA column.
    fn bytes(&self, name: &'static str) -> Result<Vec<u8>, StoreError> {
        self.col(name)
    }

    /// A BIGINT milliseconds column.
    fn time(&self, name: &'static str) -> Result<DateTime<Utc>, StoreError> {
        from_ms(name, self.int(name)?)
    }

    /// A nullable BIGINT milliseconds column.
    fn opt_time(&self, name: &'static str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.col::<Option<i64>>(name)?
            .map(|v| from_ms(name, v))
            .transpose()
    }

    /// A TEXT JSON column.
    fn json<T: DeserializeOwned>(&self, name: &'static str) -> Result<T, StoreError> {
        let text = self.text(name)?;
        serde_json::from_str(&text).map_err(|e| StoreError::corrupt(name, e))
    }

    /// A nullable TEXT JSON column.
    fn opt_json<T: DeserializeOwned>(&self, name: &'static str) -> Result<Option<T>, StoreError> {
        self.opt_text(name)?
            .map(|text| serde_json::from_str(&text).map_err(|e| StoreError::corrupt(name, e)))
            .transpose()
    }
}

impl RowExt for AnyRow {
    fn col<T>(&self, name: &'static str) -> Result<T, StoreError>
    where
        T: for<'r> Decode<'r, Any> + Type<Any>,
    {
        self.try_get(name).map_err(|e| StoreError::corrupt(name, e))
    }
}

fn from_ms(name: &'static str, v: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(v)
        .ok_or_else(|| StoreError::corrupt(name, format!("{v} is not a time")))
}

/// Declares an enumeration stored as one of a fixed set of TEXT values (a CHECK constraint in
/// the migrations lists the same values).
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// The stored (and Graph) spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// Reads the stored spelling back.
            #[allow(dead_code)]
            pub(crate) fn from_column(s: &str) -> Result<Self, $crate::StoreError> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    other => Err($crate::StoreError::corrupt(
                        stringify!($name),
                        format!("unknown value '{other}'"),
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;
