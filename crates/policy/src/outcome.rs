//! What an evaluation says: per-policy results, reasons, requirements and the decision.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Graph `conditionalAccessWhatIfReasons` members Portcullis reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum WhatIfReason {
    /// The policy applies.
    NotSet,
    /// A condition could not be known.
    NotEnoughInformation,
    /// A condition is malformed.
    InvalidCondition,
    /// The user is not included, or is excluded.
    Users,
    /// The policy targets workload identities, not users.
    WorkloadIdentities,
    /// The application is not targeted.
    Application,
    /// The user action is not targeted.
    UserActions,
    /// The authentication context is not targeted.
    AuthenticationContext,
    /// The device platform is not targeted.
    DevicePlatform,
    /// The device filter does not match.
    Devices,
    /// The client app type is not targeted.
    ClientApps,
    /// The location is not targeted.
    Location,
    /// The sign-in risk is not targeted.
    SignInRisk,
    /// The user risk is not targeted.
    UserRisk,
    /// The authentication flow is not targeted.
    AuthenticationFlow,
    /// The policy is malformed.
    InvalidPolicy,
    /// The policy is disabled.
    PolicyNotEnabled,
}

impl WhatIfReason {
    /// Graph spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WhatIfReason::NotSet => "notSet",
            WhatIfReason::NotEnoughInformation => "notEnoughInformation",
            WhatIfReason::InvalidCondition => "invalidCondition",
            WhatIfReason::Users => "users",
            WhatIfReason::WorkloadIdentities => "workloadIdentities",
            WhatIfReason::Application => "application",
            WhatIfReason::UserActions => "userActions",
            WhatIfReason::AuthenticationContext => "authenticationContext",
            WhatIfReason::DevicePlatform => "devicePlatform",
            WhatIfReason::Devices => "devices",
            WhatIfReason::ClientApps => "clientApps",
            WhatIfReason::Location => "location",
            WhatIfReason::SignInRisk => "signInRisk",
            WhatIfReason::UserRisk => "userRisk",
            WhatIfReason::AuthenticationFlow => "authenticationFlow",
            WhatIfReason::InvalidPolicy => "invalidPolicy",
            WhatIfReason::PolicyNotEnabled => "policyNotEnabled",
        }
    }

    /// Graph's flags spelling of several reasons: comma-joined, `notSet` when there are none.
    pub fn join(reasons: &[WhatIfReason]) -> String {
        if reasons.is_empty() {
            return WhatIfReason::NotSet.as_str().to_string();
        }
        reasons
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Graph `appliedConditionalAccessPolicyResult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AppliedResult {
    /// Enforced, applies, satisfied.
    Success,
    /// Enforced, applies, not satisfied.
    Failure,
    /// Enforced, does not apply.
    NotApplied,
    /// Disabled.
    NotEnabled,
    /// Report-only, applies, satisfied.
    ReportOnlySuccess,
    /// Report-only, applies, not satisfiable by authenticating (block, device controls).
    ReportOnlyFailure,
    /// Report-only, does not apply.
    ReportOnlyNotApplied,
    /// Report-only, applies, would have asked the user to authenticate.
    ReportOnlyInterrupted,
}

/// One thing a user must still do (or cannot do) to satisfy a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Requirement {
    /// Access is blocked; nothing the user does helps.
    Block,
    /// Multifactor authentication (a claim check).
    #[serde(rename_all = "camelCase")]
    Mfa {
        /// Only proof made at or after this time counts.
        #[serde(skip_serializing_if = "Option::is_none")]
        performed_after: Option<DateTime<Utc>>,
    },
    /// An authentication strength (a method check).
    #[serde(rename_all = "camelCase")]
    AuthenticationStrength {
        /// Strength id.
        id: String,
        /// Strength name.
        display_name: String,
        /// Only methods performed at or after this time count.
        #[serde(skip_serializing_if = "Option::is_none")]
        performed_after: Option<DateTime<Utc>>,
    },
    /// Authenticate again (sign-in frequency).
    #[serde(rename_all = "camelCase")]
    Reauthentication {
        /// A first factor must be performed at or after this time.
        performed_after: DateTime<Utc>,
    },
    /// A control authentication cannot satisfy (compliant device, terms of use, an unknown
    /// control, an unknown strength).
    Control {
        /// The control, in Graph spelling, with a note when Portcullis cannot evaluate it.
        control: String,
    },
}

impl Requirement {
    /// Whether the user can meet it by authenticating.
    pub fn is_achievable(&self) -> bool {
        matches!(
            self,
            Requirement::Mfa { .. }
                | Requirement::AuthenticationStrength { .. }
                | Requirement::Reauthentication { .. }
        )
    }
}

/// How one policy stands against one sign-in.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyEvaluation {
    /// Position of the policy in the tenant.
    pub policy: usize,
    /// Whether the policy applies (unknown: a condition could not be known).
    pub applies: crate::tri::Tri,
    /// Why it does not apply, or `notEnoughInformation`.
    pub reasons: Vec<WhatIfReason>,
    /// Conditions that could not be known.
    pub unknown_conditions: Vec<String>,
    /// Whether the grant and session controls are met (applicable policies only).
    pub satisfied: bool,
    /// Ways to satisfy the policy, each a set of requirements that together suffice (empty when
    /// satisfied or not applicable).
    pub any_of: Vec<Vec<Requirement>>,
    /// Graph result.
    pub result: AppliedResult,
    /// Whether the policy takes part in the decision (enabled, or a state Portcullis does not
    /// know, which it enforces rather than ignores).
    pub enforced: bool,
}

impl PolicyEvaluation {
    /// Whether the user could satisfy the policy by authenticating.
    pub fn achievable(&self) -> bool {
        self.any_of
            .iter()
            .any(|alt| alt.iter().all(Requirement::is_achievable))
    }
}

/// The outcome for the sign-in as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DecisionResult {
    /// Every applicable enforced policy is satisfied.
    Grant,
    /// The user must still authenticate (see the requirements).
    Challenge,
    /// Access is refused whatever the user does.
    Block,
}

/// What one unsatisfied policy still asks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRequirements {
    /// Policy id.
    pub policy_id: String,
    /// Policy name.
    pub display_name: String,
    /// Ways to satisfy it: any one of these sets, each in full.
    pub any_of: Vec<Vec<Requirement>>,
}

/// The decision for a sign-in.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// Grant, challenge or block.
    pub result: DecisionResult,
    /// Enforced policies that apply and are not satisfied.
    pub unsatisfied_policies: Vec<String>,
    /// Unsatisfied policies that no authentication can satisfy.
    pub blocking_policies: Vec<String>,
    /// What each unsatisfied policy still asks.
    pub requirements: Vec<PolicyRequirements>,
    /// Enforced policies treated as applying although a condition could not be known.
    pub not_enough_information: Vec<String>,
}
