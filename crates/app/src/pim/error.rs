//! Refusals: a typed Graph error code, a sentence, and what kind of refusal it is (which the
//! faces turn into an HTTP status or a page).

use pim::RuleViolation;

/// The Graph error codes PIM answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `BadRequest`.
    BadRequest,
    /// `Request_ResourceNotFound`.
    ResourceNotFound,
    /// `Authorization_RequestDenied`.
    AuthorizationDenied,
    /// `RoleAssignmentRequestAcrsValidationFailed`: a step-up proof was refused.
    AcrsValidationFailed,
    /// `RoleAssignmentRequestPolicyValidationFailed`: the role's settings refuse the request.
    PolicyValidationFailed,
    /// `RoleAssignmentDoesNotExist`.
    RoleAssignmentDoesNotExist,
    /// `RoleAssignmentExists`.
    RoleAssignmentExists,
    /// `ActiveDurationTooShort`.
    ActiveDurationTooShort,
    /// `InvalidRequestState`: the request is not where the operation needs it.
    InvalidRequestState,
    /// `SelfApprovalNotAllowed`.
    SelfApprovalNotAllowed,
    /// `NotAnApprover`.
    NotAnApprover,
    /// `NotTheRequester`.
    NotTheRequester,
    /// `JustificationRequired`: the approval stage requires the approver's justification.
    JustificationRequired,
    /// `RoleManagementPolicyRuleNotFound`.
    RuleNotFound,
    /// `InvalidPolicy`.
    InvalidPolicy,
    /// `InvalidPolicyRule`.
    InvalidPolicyRule,
    /// `Conflict`: a concurrent change won.
    Conflict,
    /// A code of the domain this enum does not name yet, kept as given.
    Other(&'static str),
}

impl ErrorCode {
    /// The Graph code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "BadRequest",
            ErrorCode::ResourceNotFound => "Request_ResourceNotFound",
            ErrorCode::AuthorizationDenied => "Authorization_RequestDenied",
            ErrorCode::AcrsValidationFailed => "RoleAssignmentRequestAcrsValidationFailed",
            ErrorCode::PolicyValidationFailed => pim::validate::POLICY_VALIDATION_FAILED,
            ErrorCode::RoleAssignmentDoesNotExist => "RoleAssignmentDoesNotExist",
            ErrorCode::RoleAssignmentExists => "RoleAssignmentExists",
            ErrorCode::ActiveDurationTooShort => "ActiveDurationTooShort",
            ErrorCode::InvalidRequestState => "InvalidRequestState",
            ErrorCode::SelfApprovalNotAllowed => "SelfApprovalNotAllowed",
            ErrorCode::NotAnApprover => "NotAnApprover",
            ErrorCode::NotTheRequester => "NotTheRequester",
            ErrorCode::JustificationRequired => "JustificationRequired",
            ErrorCode::RuleNotFound => "RoleManagementPolicyRuleNotFound",
            ErrorCode::InvalidPolicy => "InvalidPolicy",
            ErrorCode::InvalidPolicyRule => "InvalidPolicyRule",
            ErrorCode::Conflict => "Conflict",
            ErrorCode::Other(code) => code,
        }
    }

    /// The typed code for a code the domain (`pim`) gives as a string.
    pub fn from_code(code: &'static str) -> ErrorCode {
        [
            ErrorCode::BadRequest,
            ErrorCode::PolicyValidationFailed,
            ErrorCode::RoleAssignmentDoesNotExist,
            ErrorCode::RoleAssignmentExists,
            ErrorCode::ActiveDurationTooShort,
            ErrorCode::InvalidRequestState,
            ErrorCode::SelfApprovalNotAllowed,
            ErrorCode::NotAnApprover,
            ErrorCode::NotTheRequester,
            ErrorCode::RuleNotFound,
            ErrorCode::InvalidPolicy,
            ErrorCode::InvalidPolicyRule,
        ]
        .into_iter()
        .find(|c| c.as_str() == code)
        .unwrap_or(ErrorCode::Other(code))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
