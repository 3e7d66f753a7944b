//! The Graph error codes the services answer a caller's mistake with. A service names the code;
//! the face picks the HTTP status and the body's shape.

/// A Graph error code for a mistake of the caller's (never for an internal failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `BadRequest`: the input is malformed or asks for something not allowed.
    BadRequest,
    /// `Request_ResourceNotFound`: the input names something that does not exist.
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
    /// `ConditionalAccessLockout`: the change would leave every eligible Global Administrator
    /// unable to activate (a conflict with the tenant's state, overridable with `force`).
    ConditionalAccessLockout,
    /// `ConcurrentChange`: the state kept changing while the change was checked.
    ConcurrentChange,
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
            ErrorCode::ConditionalAccessLockout => "ConditionalAccessLockout",
            ErrorCode::ConcurrentChange => "ConcurrentChange",
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
