//! Whether a caller can satisfy what an activation's authentication context asks of them: for
//! each enforced policy on the context that requires an authentication strength and applies to
//! the caller, the strength and, when none of the caller's registered methods satisfies it,
//! what they have, the nearest combinations they could register and what to do.
//!
//! One reading serves every face: the Graph API's step-up challenge (`methodsToRegister`) and
//! the portal's *My roles*, which says so before the user clicks *Activate*.

use crate::posture::{methods_of, PostureError};
use crate::{Caller, Core};
use policy::method::MethodCombination;
use policy::posture::{
    preflight_activation_on, PolicyPreflight, PreflightError, RegisteredMethod, Shortfall,
    TargetUser, UserReadiness,
};

/// What the enforced policies on one authentication context ask of one caller.
#[derive(Debug, Clone)]
pub struct ContextReadiness {
    /// The context (`c1`…).
    pub context: String,
    /// Its name, if the tenant defines it.
    pub context_name: Option<String>,
    /// Each enforced policy on the context that requires a strength and applies to the caller.
    pub policies: Vec<StrengthDemand>,
    /// Why no strength is checked, when none is: no enforced policy targets the context (the
    /// fallback is MFA), or those that do require none.
    pub without_strength: Option<PreflightError>,
}

impl ContextReadiness {
    /// Whether the caller has registered methods that satisfy every strength asked of them.
    pub fn can_satisfy(&self) -> bool {
        self.policies.iter().all(|p| p.lacking.is_none())
    }

    /// The demands the caller cannot satisfy with what they have registered.
    pub fn unmet(&self) -> impl Iterator<Item = (&StrengthDemand, &Lacking)> {
        self.policies
            .iter()
            .filter_map(|p| p.lacking.as_ref().map(|l| (p, l)))
    }
}

/// One policy's strength, as asked of the caller.
#[derive(Debug, Clone)]
pub struct StrengthDemand {
    /// The policy's id.
    pub policy_id: String,
    /// Its name.
    pub policy_name: String,
    /// Whether its sign-in frequency is every time (only a proof made for this request counts).
    pub every_time: bool,
    /// The strength's id.
    pub strength_id: String,
    /// The strength's name.
    pub strength_name: String,
    /// The combinations, any one of which satisfies it.
    pub allowed_combinations: Vec<MethodCombination>,
    /// `None` when the caller's registered methods satisfy it.
    pub lacking: Option<Lacking>,
}

/// Why a caller cannot satisfy a strength, and what to do.
#[derive(Debug, Clone)]
pub struct Lacking {
    /// What the caller has registered.
    pub registered: Vec<RegisteredMethod>,
    /// The nearest combinations Portcullis can register, fewest missing methods first.
    pub shortfalls: Vec<Shortfall>,
    /// What to do, in a sentence.
    pub advice: Option<String>,
}

/// What the enforced policies on `context` ask of `caller` activating `role`, which requires
/// it, checked against the caller's registered methods now (a policy that includes the role's
/// holders counts, as at the step-up). The caller counts as privileged (they
/// are activating a role), so a key registered under a weaker proof does not count (DESIGN §8.5).
pub async fn for_caller(
    core: &Core,
    caller: &Caller,
    role: &str,
    context: &str,
) -> Result<ContextReadiness, PostureError> {
    let now = core.now();
    let engine = core.engine().await.map_err(|source| PostureError::Read {
        what: "the Conditional Access configuration",
        source,
    })?;
    let me = TargetUser {
        id: caller.user.id.clone(),
        user_principal_name: caller.user.user_principal_name.clone(),
        display_name: None,
        is_break_glass: false,
        via: Vec::new(),
    };
    let methods = methods_of(&core.store, std::slice::from_ref(&me), &|_| true, now).await?;
    let preflight = preflight_activation_on(engine.as_ref(), context, Some(role), &[me], &|id| {
        methods.get(id).cloned().unwrap_or_default()
    });
    Ok(match preflight {
        Ok(preflight) => ContextReadiness {
            context: preflight.context,
            context_name: preflight.context_name,
            policies: preflight.policies.iter().filter_map(demand).collect(),
            without_strength: None,
        },
        Err(reason) => ContextReadiness {
            context: context.to_string(),
            context_name: engine
                .tenant()
                .authentication_context_class_references
                .iter()
                .find(|c| c.id.eq_ignore_ascii_case(context))
                .and_then(|c| c.display_name.clone()),
            policies: Vec::new(),
            without_strength: Some(reason),
        },
    })
}

/// The policy's demand on the one user pre-flighted; `None` when the policy does not apply to
/// them (they are excluded from it).
fn demand(p: &PolicyPreflight) -> Option<StrengthDemand> {
    let report = &p.report;
    let (readiness, ready): (&UserReadiness, bool) =
        match (report.can.first(), report.cannot.first()) {
            (Some(r), _) => (r, true),
            (None, Some(r)) => (r, false),
            (None, None) => return None,
        };
    Some(StrengthDemand {
        policy_id: p.policy_id.clone(),
        policy_name: p.policy_name.clone(),
        every_time: p.every_time,
        strength_id: report.strength_id.clone(),
        strength_name: report.strength_name.clone(),
        allowed_combinations: report.allowed_combinations.clone(),
        lacking: (!ready).then(|| Lacking {
            registered: readiness.registered.clone(),
            shortfalls: readiness.shortfalls.clone(),
            advice: readiness.advice.clone(),
        }),
    })
}
