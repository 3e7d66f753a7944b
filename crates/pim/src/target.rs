//! Graph `unifiedRoleManagementPolicyRuleTarget`: whom and what a rule applies to.

use crate::enums::graph_enum;
use crate::serde_util::nullable;
use policy::Extra;
use serde::{Deserialize, Serialize};

graph_enum! {
    /// Who makes the request a rule governs.
    pub enum Caller {
        /// Nobody in particular.
        None = "None",
        /// An administrator assigning the role to someone.
        Admin = "Admin",
        /// The principal acting on their own assignment (activation, deactivation, …).
        EndUser = "EndUser",
    }
}

graph_enum! {
    /// Which kind of assignment a rule governs.
    pub enum Level {
        /// Eligible assignments (may be activated).
        Eligibility = "Eligibility",
        /// Active assignments (in force).
        Assignment = "Assignment",
    }
}

graph_enum! {
    /// Role management operations a rule governs.
    pub enum Operation {
        /// Every operation.
        All = "All",
        /// Activation.
        Activate = "Activate",
        /// Deactivation.
        Deactivate = "Deactivate",
        /// Assignment by an administrator.
        Assign = "Assign",
        /// Change by an administrator.
        Update = "Update",
        /// Removal by an administrator.
        Remove = "Remove",
        /// Extension of an expiring assignment.
        Extend = "Extend",
        /// Renewal of an expired assignment.
        Renew = "Renew",
    }
}

/// Graph `unifiedRoleManagementPolicyRuleTarget`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleTarget {
    /// `Admin` or `EndUser`; fixed by the rule id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<Caller>,
    /// The operations governed; Entra writes `["All"]` (sometimes `["all"]`).
    #[serde(default, deserialize_with = "nullable")]
    pub operations: Vec<Operation>,
    /// `Eligibility` or `Assignment`; fixed by the rule id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// Settings child scopes may inherit (`All` for all).
    #[serde(default, deserialize_with = "nullable")]
    pub inheritable_settings: Vec<String>,
    /// Settings child scopes may not override (`All` for all).
    #[serde(default, deserialize_with = "nullable")]
    pub enforced_settings: Vec<String>,
    /// Fields Portcullis does not use (`@odata.type`, `targetObjects`, …), kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

impl RuleTarget {
    /// The target Entra gives a rule: every operation, no inherited or enforced settings.
    pub fn new(caller: Caller, level: Level) -> Self {
        RuleTarget {
            caller: Some(caller),
            operations: vec![Operation::All],
            level: Some(level),
            inheritable_settings: Vec::new(),
            enforced_settings: Vec::new(),
            extra: Extra::new(),
        }
    }
}
