//! The Graph error codes the services answer a caller's mistake with. A service names the code;
//! the face picks the HTTP status and the body's shape.

/// A Graph error code for a mistake of the caller's (never for an internal failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `BadRequest`: the input is malformed or asks for something not allowed.
    BadRequest,
    /// `Request_ResourceNotFound`: the input names something that does not exist.
    NotFound,
    /// `ConditionalAccessLockout`: the change would leave every eligible Global Administrator
    /// unable to activate (a conflict with the tenant's state, overridable with `force`).
    ConditionalAccessLockout,
    /// `ConcurrentChange`: the state kept changing while the change was checked.
    ConcurrentChange,
}

impl ErrorCode {
    /// The code as Graph spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "BadRequest",
            ErrorCode::NotFound => "Request_ResourceNotFound",
            ErrorCode::ConditionalAccessLockout => "ConditionalAccessLockout",
            ErrorCode::ConcurrentChange => "ConcurrentChange",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
