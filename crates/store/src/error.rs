//! What can go wrong in the store, in words fit for an operator: SQL never reaches a message.

use sqlx::error::ErrorKind;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No record has that id.
    #[error("{what} '{id}' not found")]
    NotFound {
        /// The kind of record (`user`, `group`, …).
        what: &'static str,
        /// The id looked for.
        id: String,
    },
    /// The change clashes with what is stored (a duplicate, a dangling or live reference).
    #[error("{what}: {detail}")]
    Conflict {
        /// The kind of record written.
        what: &'static str,
        /// What clashed.
        detail: String,
    },
    /// The database was migrated by a newer Portcullis; this build refuses to touch it.
    #[error(
        "the database schema is at version {found}, newer than the {known} this build knows: \
         run the newer Portcullis, or restore a backup taken before the upgrade"
    )]
    NewerSchema {
        /// Highest migration applied to the database.
        found: i64,
        /// Highest migration this build carries.
        known: i64,
    },
    /// The database failed; the source says how (log it, do not show it).
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// The database cannot be reached: refused, unreachable, a certificate that does not
    /// verify, wrong credentials. The sentence is the driver's, which never holds the URL.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// The database URL is not one the store can open.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// Stored data cannot be read back (a bad JSON document, an impossible time, …).
    #[error("stored {what} cannot be read: {detail}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// Why it could not be.
        detail: String,
    },
    /// The database is being served by another process (SQLite serves one node).
    #[error("{0}")]
    InUse(String),
    /// A backup or a restore cannot be made as asked; the sentence says why.
    #[error("{0}")]
    Backup(String),
    /// A value cannot be stored as given (a user without a sign-in name, …).
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// What was being written.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

impl StoreError {
    /// Whether this is [`StoreError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }

    /// Whether this is [`StoreError::Conflict`].
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }

    pub(crate) fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        StoreError::NotFound {
            what,
            id: id.into(),
        }
    }

    pub(crate) fn corrupt(what: &'static str, detail: impl ToString) -> Self {
        StoreError::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

/// Maps the failure of a write about `what`: constraint violations become conflicts, so that
/// callers can tell "already exists" from "the database is down" without reading SQL.
pub(crate) fn on_write(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| {
        let kind = match &e {
            sqlx::Error::Database(db) => db.kind(),
            _ => return StoreError::Database(e),
        };
        let detail = match kind {
            ErrorKind::UniqueViolation => "already exists",
            ErrorKind::ForeignKeyViolation => {
                "refers to a record that does not exist, or is still referred to"
            }
            ErrorKind::CheckViolation | ErrorKind::NotNullViolation => {
                return StoreError::Invalid {
                    what,
                    detail: "a value is missing or out of range".into(),
                }
            }
            _ => return StoreError::Database(e),
        };
        StoreError::Conflict {
            what,
            detail: detail.into(),
        }
    }
}
