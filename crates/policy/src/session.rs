//! The user's authentication session: what was performed, and when.

use crate::method::AuthenticationMethodMode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One method the user performed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerformedMethod {
    /// The method mode.
    pub method: AuthenticationMethodMode,
    /// When it was completed.
    pub performed_at: DateTime<Utc>,
    /// The authenticator model, for FIDO2 / platform authenticators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aaguid: Option<String>,
    /// Subject key identifier of the issuing CA, for certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_issuer_ski: Option<String>,
    /// Policy OIDs of the certificate, for certificates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_policy_oids: Vec<String>,
    /// A phishing-resistant credential of a privileged user that was registered under a weaker
    /// proof (DESIGN §8.5): it satisfies no phishing-resistant authentication strength.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub registered_under_weaker_proof: bool,
}

impl PerformedMethod {
    /// A method with no authenticator details.
    pub fn new(method: AuthenticationMethodMode, performed_at: DateTime<Utc>) -> Self {
        PerformedMethod {
            method,
            performed_at,
            aaguid: None,
            certificate_issuer_ski: None,
            certificate_policy_oids: Vec::new(),
            registered_under_weaker_proof: false,
        }
    }

    /// Whether the method counts as phishing-resistant: its kind is, and its registration does
    /// not make it weaker.
    pub fn is_phishing_resistant(&self) -> bool {
        self.method.is_phishing_resistant() && !self.registered_under_weaker_proof
    }
}

/// What the user has proven in this session.
///
/// The *transaction* is the authentication exchange now under way (a sign-in or a step-up): a
/// sign-in frequency of `everyTime` counts only methods performed at or after its start.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationSession {
    /// Start of the current authentication transaction. `None`: no transaction is under way, so
    /// nothing counts as performed "in this transaction".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_started_at: Option<DateTime<Utc>>,
    /// Methods performed in the session, oldest first or in any order.
    #[serde(default)]
    pub methods: Vec<PerformedMethod>,
    /// When an `mfa` claim was asserted to this session by someone else (a federated IdP or an
    /// earlier token). It satisfies the `mfa` grant control (a claim check) but never an
    /// authentication strength (a method check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_claimed_at: Option<DateTime<Utc>>,
}

impl AuthenticationSession {
    /// Methods performed no later than `at`: a method from the future is not evidence.
    pub fn methods_until(
        &self,
        at: DateTime<Utc>,
    ) -> impl Iterator<Item = &PerformedMethod> + Clone {
        self.methods.iter().filter(move |m| m.performed_at <= at)
    }

    /// Whether any method was performed by `at` whose mode is `mode`.
    pub fn performed(&self, mode: &AuthenticationMethodMode, at: DateTime<Utc>) -> bool {
        self.methods_until(at).any(|m| &m.method == mode)
    }
}
