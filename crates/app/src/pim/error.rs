//! Refusals: a typed Graph error code, a sentence, and what kind of refusal it is (which the
//! faces turn into an HTTP status or a page).

use pim::RuleViolation;

pub use crate::code::ErrorCode;

/// What kind of refusal: the faces choose the HTTP status (or the page) from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The request is not acceptable as it stands (400).
    Invalid,
    /// The caller may not do this (403).
    Forbidden,
    /// What it names does not exist, or is not the caller's to see (404).
    NotFound,
    /// Something changed meanwhile; read again (409).
    Conflict,
}

/// A refusal: kind, code and a sentence for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// What kind.
    pub kind: RefusalKind,
    /// The Graph code.
    pub code: ErrorCode,
    /// The sentence.
    pub message: String,
}

impl Refusal {
    /// A refusal of this kind, code and sentence.
    pub fn new(kind: RefusalKind, code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            kind,
            code,
            message: message.into(),
        }
    }

    /// The request is not acceptable.
    pub fn invalid(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal::new(RefusalKind::Invalid, code, message)
    }

    /// `{what} '{id}' does not exist.`
    pub fn not_found(what: &str, id: &str) -> Refusal {
        Refusal::new(
            RefusalKind::NotFound,
            ErrorCode::ResourceNotFound,
            format!("{what} '{id}' does not exist."),
        )
    }

    /// The caller may not do this.
    pub fn forbidden(message: impl Into<String>) -> Refusal {
        Refusal::new(
            RefusalKind::Forbidden,
            ErrorCode::AuthorizationDenied,
            message,
        )
    }

    /// Something changed meanwhile.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal::new(RefusalKind::Conflict, code, message)
    }

    /// The refusal for rule violations: the code `pim` chooses for them, naming the rules.
    pub fn violations(violations: &[RuleViolation]) -> Refusal {
        pim::graph_error(violations).map_or_else(
            || Refusal::invalid(ErrorCode::BadRequest, "The request was refused."),
            |g| Refusal::invalid(ErrorCode::from_code(g.code), g.message),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_codes_map_to_their_variants_and_back() {
        for code in [
            "BadRequest",
            "RoleAssignmentDoesNotExist",
            "InvalidRequestState",
            "SelfApprovalNotAllowed",
            "RoleAssignmentRequestPolicyValidationFailed",
            "InvalidPolicyRule",
        ] {
            let typed = ErrorCode::from_code(code);
            assert!(!matches!(typed, ErrorCode::Other(_)), "{code}");
            assert_eq!(typed.as_str(), code);
        }
        assert_eq!(
            ErrorCode::from_code("SomethingNew"),
            ErrorCode::Other("SomethingNew")
        );
    }
}
