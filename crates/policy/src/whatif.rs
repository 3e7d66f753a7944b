//! The What-If tool: Graph's evaluate response, plus Portcullis' decision.

use crate::conditional_access::PolicyState;
use crate::engine::{Engine, EvaluateError};
use crate::outcome::{AppliedResult, Decision, Requirement, WhatIfReason};
use crate::signin::{EvaluateRequest, RequestError};
use crate::tri::Tri;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One policy in the What-If answer (Graph `conditionalAccessWhatIfPolicy`, abridged).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WhatIfPolicy {
    /// Policy id.
    pub id: String,
    /// Policy name.
    pub display_name: String,
    /// Policy state.
    pub state: PolicyState,
    /// Whether the policy applies. A policy whose conditions could not all be known is reported
    /// as applying, with `analysisReasons: notEnoughInformation`, because it is enforced so.
    pub policy_applies: bool,
    /// Why it does not apply (`notSet` when it does).
    pub analysis_reasons: String,
    /// The result it would log (`success`, `failure`, `notApplied`, `reportOnly…`).
    pub result: AppliedResult,
    /// Conditions that could not be known.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown_conditions: Vec<String>,
    /// When not satisfied: any one of these sets of requirements would satisfy it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requirements: Vec<Vec<Requirement>>,
}

/// The What-If answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIfResponse {
    /// Policies, in tenant order (only those that apply with `appliedPoliciesOnly`).
    pub value: Vec<WhatIfPolicy>,
    /// What the enforced policies add up to.
    pub decision: Decision,
}

/// Why a What-If request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhatIfError {
    /// The request body is invalid.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The sign-in cannot be evaluated against this tenant.
    #[error(transparent)]
    Evaluate(#[from] EvaluateError),
}

/// Evaluates a Graph evaluate request against the tenant at time `at`.
pub fn what_if(
    engine: &Engine,
    request: &EvaluateRequest,
    at: DateTime<Utc>,
) -> Result<WhatIfResponse, WhatIfError> {
    let sign_in = request.to_sign_in()?;
    let evaluations = engine.evaluate_all(&sign_in, at)?;
    let decision = engine.decision(&evaluations);
    let policies = &engine.tenant().conditional_access_policies;
    let value = evaluations
        .into_iter()
        .filter(|e| !request.applied_policies_only || e.applies != Tri::False)
        .map(|e| {
            let p = &policies[e.policy];
            WhatIfPolicy {
                id: p.id.clone(),
                display_name: p.display_name.clone(),
                state: p.state.clone(),
                policy_applies: e.applies != Tri::False,
                analysis_reasons: WhatIfReason::join(&e.reasons),
                result: e.result,
                unknown_conditions: e.unknown_conditions,
                requirements: e.any_of,
            }
        })
        .collect();
    Ok(WhatIfResponse { value, decision })
}
