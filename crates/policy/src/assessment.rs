//! Where a sign-in stands: which of the session's methods count, what Conditional Access decides
//! for the client application (or user action) and for each requested authentication context,
//! and therefore whether a code may be issued or what the user must still do.
//!
//! Pure: the caller reads the engine, the user's facts and the session's events, and passes the
//! time. Every decision goes through the engine's index ([`Engine::decide_logged`]); the sign-in
//! log still lists every policy's result, as Graph's `appliedConditionalAccessPolicies` does.

use crate::amr::amr;
use crate::conditional_access::{ConditionalAccessPolicy, FrequencyInterval, PolicyState};
use crate::context::ContextId;
use crate::engine::{Engine, EvaluateError};
use crate::method::AuthenticationMethodMode as Mode;
use crate::outcome::{Decision, DecisionResult, PolicyEvaluation, Requirement};
use crate::posture::policies_targeting_context;
use crate::registration::{fresh_proof, Floor, ProofMethod, SECURITY_INFO_FRESHNESS};
use crate::session::{AuthenticationSession, PerformedMethod};
use crate::signin::{SignIn, SignInConditions, Target};
use crate::strength::PHISHING_RESISTANT_MFA_STRENGTH_ID;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The user action of registering security info (`/account`).
pub const REGISTER_SECURITY_INFO: &str = "urn:user:registersecurityinfo";

/// A requested level of authentication (an `acr` value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "value")]
pub enum AcrRequest {
    /// An authentication context: the policies that target it decide.
    Context(String),
    /// Phishing-resistant authentication.
    PhishingResistant,
    /// Multifactor authentication.
    Mfa,
}

impl AcrRequest {
    /// Reads one requested value; `None` for values Portcullis does not know.
    pub fn parse(value: &str) -> Option<AcrRequest> {
        match value {
            "phr" | "phrh" => Some(AcrRequest::PhishingResistant),
            "mfa" => Some(AcrRequest::Mfa),
            v => ContextId::parse(v)
                .ok()
                .map(|c| AcrRequest::Context(c.to_string())),
        }
    }

    /// Its `acr` spelling.
    pub fn as_acr(&self) -> String {
        match self {
            AcrRequest::Context(c) => c.clone(),
            AcrRequest::PhishingResistant => "phr".into(),
            AcrRequest::Mfa => "mfa".into(),
        }
    }
}

/// What the client application asks of the user's authentication.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AssessmentRequest {
    /// The client application.
    pub client_id: String,
    /// The user action Conditional Access evaluates instead of the application
    /// ([`REGISTER_SECURITY_INFO`] for the service's own pages).
    pub user_action: Option<String>,
    /// Authentication contexts requested for `acrs`: every one must be satisfied.
    pub contexts: Vec<String>,
    /// Requested levels, alternatives in the client's order of preference.
    pub acr: Vec<AcrRequest>,
    /// Whether the `acr` requests are essential (a sign-in that can reach none is refused).
    pub acr_essential: bool,
    /// `prompt=login`: only methods of this transaction count.
    pub prompt_login: bool,
    /// `max_age` in seconds: an older authentication means only this transaction's count.
    pub max_age: Option<i64>,
    /// A PIM step-up for the activation of this role (its definition id): contexts whose
    /// policies demand a strength or an `everyTime` sign-in frequency count only the methods of
    /// this transaction (DESIGN §8), and policies that include the role's holders apply as if
    /// it were held ([`SignIn::activating_role`]).
    pub step_up: Option<String>,
}

/// One method performed in the user's session, as both rules read it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionEvent {
    /// As Conditional Access reads it (a weakly registered key of a privileged user marked so).
    pub performed: PerformedMethod,
    /// As a method of a fresh proof, for the security-info floor.
    pub proof: ProofMethod,
}

/// Who signs in, what the session holds and where from.
#[derive(Debug, Clone, PartialEq)]
pub struct SignInState<'a> {
    /// The user.
    pub user_id: &'a str,
    /// Methods performed in the session (empty before a first factor).
    pub events: &'a [SessionEvent],
    /// The transaction start.
    pub transaction_started_at: DateTime<Utc>,
    /// The sign-in's conditions (client app type, platform, location, …).
    pub conditions: SignInConditions,
    /// For a security-info sign-in: the floor its fresh proof must meet.
    pub floor: Option<Floor>,
}

/// Something the user must still do, and the methods that would do it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// Why, in words for the user ("Policy 'CA004' requires Phishing-resistant MFA").
    pub reason: String,
    /// Methods that would satisfy it.
    pub methods: BTreeSet<Mode>,
    /// Only methods performed at or after this instant count.
    pub performed_after: Option<DateTime<Utc>>,
}

/// The verdict for a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every requirement met: a code may be issued with these claims.
    Grant(Grant),
    /// The user must still authenticate.
    Challenge(Vec<Need>),
    /// Nothing the user can do helps.
    Block(String),
}

/// The authentication facts a code and its tokens carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `acr`.
    pub acr: String,
    /// `amr` (RFC 8176).
    pub amr: Vec<String>,
    /// Satisfied requested contexts.
    pub acrs: Vec<String>,
    /// Time of the latest authentication counted.
    pub auth_time: DateTime<Utc>,
    /// Graph method modes counted.
    pub methods: Vec<String>,
}

/// The full assessment, with what the sign-in log records.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// The verdict.
    pub verdict: Verdict,
    /// Graph `appliedConditionalAccessPolicies` for the application and each context.
    pub applied_policies: Value,
}

/// Methods that prove who the user is on their own (a first factor).
pub fn is_first_factor(mode: &Mode) -> bool {
    matches!(
        mode,
        Mode::Password
            | Mode::Fido2
            | Mode::WindowsHelloForBusiness
            | Mode::TemporaryAccessPassOneTime
            | Mode::TemporaryAccessPassMultiUse
            | Mode::X509CertificateSingleFactor
            | Mode::X509CertificateMultiFactor
    )
}

/// Methods that count as a second factor for the `mfa` grant control.
fn second_factors() -> BTreeSet<Mode> {
    [
        Mode::SoftwareOath,
        Mode::HardwareOath,
        Mode::Sms,
        Mode::Voice,
        Mode::Email,
        Mode::Fido2,
        Mode::WindowsHelloForBusiness,
        Mode::TemporaryAccessPassOneTime,
        Mode::TemporaryAccessPassMultiUse,
    ]
    .into_iter()
    .collect()
}

/// The first factors a sign-in page can offer (certificates are not offered there).
fn first_factors() -> BTreeSet<Mode> {
    [
        Mode::Password,
        Mode::Fido2,
        Mode::WindowsHelloForBusiness,
        Mode::TemporaryAccessPassOneTime,
        Mode::TemporaryAccessPassMultiUse,
    ]
    .into_iter()
    .collect()
}

/// What every context and acr evaluation of one assessment shares.
struct Assessor<'a> {
    engine: &'a Engine,
    user_id: &'a str,
    conditions: SignInConditions,
    now: DateTime<Utc>,
    /// The counted methods.
    session: AuthenticationSession,
    /// For a PIM step-up: the methods of this transaction alone.
    step_up: Option<AuthenticationSession>,
    /// For a PIM step-up: the role being activated.
    activating_role: Option<String>,
}

/// One context's outcome: whether it is satisfied, or why it blocks.
struct ContextOutcome {
    satisfied: bool,
    block: Option<String>,
}

/// Assesses a transaction at `now`.
pub fn assess(
    engine: &Engine,
    request: &AssessmentRequest,
    state: &SignInState<'_>,
    now: DateTime<Utc>,
) -> Result<Assessment, EvaluateError> {
    // prompt=login, or an authentication older than max_age, discards what the session held
    // before this transaction (OIDC Core §3.1.2.1).
    let last_auth = state.events.iter().map(|e| e.performed.performed_at).max();
    let fresh_required = request.prompt_login
        || request.max_age.is_some_and(|age| {
            // A max_age too large for a duration is older than any authentication.
            last_auth.is_none_or(|t| Duration::try_seconds(age).is_some_and(|d| now - t > d))
        });
    let counted: Vec<&SessionEvent> = state
        .events
        .iter()
        .filter(|e| e.performed.performed_at <= now)
        .filter(|e| !fresh_required || e.performed.performed_at >= state.transaction_started_at)
        .collect();
    let session = AuthenticationSession {
        transaction_started_at: Some(state.transaction_started_at),
        methods: counted.iter().map(|e| e.performed.clone()).collect(),
        mfa_claimed_at: None,
    };
    let mut applied = Vec::new();
    let mut needs = Vec::new();

    if !counted.iter().any(|e| is_first_factor(&e.performed.method)) {
        needs.push(Need {
            reason: if fresh_required && !state.events.is_empty() {
                "The application asks you to sign in again.".into()
            } else {
                "Sign in.".into()
            },
            methods: first_factors(),
            performed_after: fresh_required.then_some(state.transaction_started_at),
        });
        // Conditional Access is evaluated once the user is known to be who they say.
        return Ok(Assessment {
            verdict: Verdict::Challenge(needs),
            applied_policies: Value::Array(applied),
        });
    }

    // A PIM step-up: the session of this transaction alone, for contexts whose policies demand
    // a strength or sign-in frequency `everyTime` (DESIGN §8).
    let step_up = request.step_up.as_ref().map(|_| AuthenticationSession {
        transaction_started_at: Some(state.transaction_started_at),
        methods: counted
            .iter()
            .filter(|e| e.performed.performed_at >= state.transaction_started_at)
            .map(|e| e.performed.clone())
            .collect(),
        mfa_claimed_at: None,
    });
    // The built-in floor of security info (DESIGN §8.5): no policy needed, Conditional Access on
    // the user action still applies on top.
    if let Some(floor) = &state.floor {
        let proof: Vec<ProofMethod> = counted.iter().map(|e| e.proof.clone()).collect();
        if fresh_proof(floor, &proof, now, SECURITY_INFO_FRESHNESS).is_none() {
            needs.push(Need {
                reason: match floor {
                    Floor::Password => "Security info needs a fresh sign-in.".into(),
                    Floor::AnyOf { .. } => "Security info needs a fresh proof with one of your \
                                            methods besides the password (or a temporary \
                                            access pass)."
                        .into(),
                },
                methods: floor.methods(),
                performed_after: Some(now - SECURITY_INFO_FRESHNESS),
            });
        }
    }
    let assessor = Assessor {
        engine,
        user_id: state.user_id,
        conditions: state.conditions.clone(),
        now,
        session,
        step_up,
        activating_role: request.step_up.clone(),
    };

    // The application itself (or the user action).
    let app = assessor.sign_in(match &request.user_action {
        Some(action) => Target::UserAction(action.clone()),
        None => Target::Applications(vec![request.client_id.clone()]),
    });
    let (decision, evaluations) = engine.decide_logged(&app, now)?;
    applied.extend(applied_policies(engine, &evaluations, "application"));
    if let Some(block) = absorb(engine, &decision, &mut needs) {
        return Ok(blocked(block, applied));
    }

    // Every requested authentication context (acrs): each must be satisfied.
    let mut acrs = Vec::new();
    for context in &request.contexts {
        let Ok(id) = ContextId::parse(context) else {
            continue;
        };
        let outcome = assessor.context(id, &mut applied, &mut needs)?;
        if let Some(block) = outcome.block {
            return Ok(blocked(block, applied));
        }
        if outcome.satisfied {
            acrs.push(context.clone());
        }
    }

    // Requested acr values are alternatives in order of preference: the first one met is the
    // token's `acr`; when none is met, the first is asked for.
    let mut acr_met: Option<String> = None;
    let mut first_unmet: Option<Vec<Need>> = None;
    for wanted in &request.acr {
        let mut local = Vec::new();
        let met = match wanted {
            AcrRequest::Context(c) => {
                let Ok(id) = ContextId::parse(c) else {
                    continue;
                };
                // An alternative not taken leaves no trace in the log.
                let mut scratch = Vec::new();
                let outcome = assessor.context(id, &mut scratch, &mut local)?;
                if outcome.block.is_some() {
                    false
                } else {
                    if outcome.satisfied {
                        applied.extend(scratch);
                    }
                    outcome.satisfied
                }
            }
            AcrRequest::PhishingResistant => {
                let met = assessor
                    .session
                    .methods
                    .iter()
                    .any(PerformedMethod::is_phishing_resistant);
                if !met {
                    local.push(Need {
                        reason: "The application asks for phishing-resistant authentication."
                            .into(),
                        methods: phishing_resistant(engine),
                        performed_after: None,
                    });
                }
                met
            }
            AcrRequest::Mfa => {
                let met = is_mfa(&assessor.session);
                if !met {
                    local.push(Need {
                        reason: "The application asks for multifactor authentication.".into(),
                        methods: second_factors(),
                        performed_after: None,
                    });
                }
                met
            }
        };
        if met {
            acr_met = Some(wanted.as_acr());
            break;
        }
        if first_unmet.is_none() && !local.is_empty() {
            first_unmet = Some(local);
        }
    }
    if acr_met.is_none() {
        if let Some(unmet) = first_unmet {
            needs.extend(unmet);
        } else if !request.acr.is_empty() && request.acr_essential {
            return Ok(blocked(
                "None of the authentication levels the application requires can be reached.".into(),
                applied,
            ));
        }
    }

    if !needs.is_empty() {
        return Ok(Assessment {
            verdict: Verdict::Challenge(needs),
            applied_policies: Value::Array(applied),
        });
    }
    let modes: Vec<&Mode> = counted.iter().map(|e| &e.performed.method).collect();
    let amr = amr(modes.iter().copied());
    let acr = acr_met.unwrap_or_else(|| achieved_level(&assessor.session.methods, &amr));
    let mut methods: Vec<String> = modes.iter().map(|m| m.to_string()).collect();
    methods.dedup();
    let auth_time = counted
        .iter()
        .map(|e| e.performed.performed_at)
        .max()
        .unwrap_or(state.transaction_started_at);
    Ok(Assessment {
        verdict: Verdict::Grant(Grant {
            acr,
            amr,
            acrs,
            auth_time,
            methods,
        }),
        applied_policies: Value::Array(applied),
    })
}

impl Assessor<'_> {
    fn sign_in(&self, target: Target) -> SignIn {
        SignIn {
            user_id: self.user_id.to_string(),
            target,
            conditions: self.conditions.clone(),
            session: self.session.clone(),
            activating_role: None,
        }
    }

    /// Evaluates one authentication context. A context that no enforced policy targets falls
    /// back to requiring MFA (as Entra does), and the applied-policies entry says so.
    fn context(
        &self,
        id: ContextId,
        applied: &mut Vec<Value>,
        needs: &mut Vec<Need>,
    ) -> Result<ContextOutcome, EvaluateError> {
        let context = id.to_string();
        let targeting = policies_targeting_context(self.engine.tenant(), &context);
        if targeting.is_empty() {
            // A PIM step-up proves the activation it names: even the fallback needs a second
            // factor performed in this transaction (an MFA made before the request proves
            // nothing about it, and the activation would refuse the proof as older than its
            // request); the session's first factor still counts towards the MFA.
            let met = is_mfa(&self.session)
                && self
                    .step_up
                    .as_ref()
                    .is_none_or(|fresh| fresh.methods.iter().any(|m| m.method != Mode::Password));
            applied.push(json!({
                "id": null,
                "displayName": format!("No enabled policy targets {context}: multifactor authentication required (fallback)"),
                "authenticationContext": context,
                "result": if met { "success" } else { "failure" },
                "enforcedGrantControls": ["mfa"],
                "enforcedSessionControls": [],
            }));
            if !met {
                needs.push(Need {
                    reason: format!(
                        "Authentication context {context} is targeted by no enabled policy, so \
                         multifactor authentication is required."
                    ),
                    methods: second_factors(),
                    performed_after: self.step_up.as_ref().and_then(|s| s.transaction_started_at),
                });
            }
            return Ok(ContextOutcome {
                satisfied: met,
                block: None,
            });
        }
        // Only for a PIM step-up, and only where a targeting policy demands a strength or a
        // fresh sign-in, do the methods of this transaction alone count.
        let demanding = targeting.iter().any(|p| demands_fresh_methods(p));
        let mut signed = self.sign_in(Target::AuthenticationContext(id));
        // The contexts are what the activation requires: their policies for the role's
        // members apply to the member about to be.
        signed.activating_role = self.activating_role.clone();
        if let (true, Some(fresh)) = (demanding, &self.step_up) {
            signed.session = fresh.clone();
        }
        let (decision, evaluations) = self.engine.decide_logged(&signed, self.now)?;
        applied.extend(applied_policies(self.engine, &evaluations, &context));
        let before = needs.len();
        let block = absorb(self.engine, &decision, needs);
        Ok(ContextOutcome {
            satisfied: block.is_none() && needs.len() == before,
            block,
        })
    }
}

/// Whether the policy asks for methods rather than claims: an authentication strength, or a
/// sign-in frequency of `everyTime`.
fn demands_fresh_methods(p: &ConditionalAccessPolicy) -> bool {
    p.grant_controls
        .as_ref()
        .is_some_and(|g| g.authentication_strength.is_some())
        || p.sign_in_frequency()
            .is_some_and(|f| matches!(f.frequency_interval, Some(FrequencyInterval::EveryTime)))
}

/// Whether the session's methods amount to multifactor authentication (the `amr` claim's `mfa`).
fn is_mfa(session: &AuthenticationSession) -> bool {
    amr(session.methods.iter().map(|m| &m.method))
        .iter()
        .any(|v| v == "mfa")
}

/// `phr`, `mfa` or `pwd`: the level the counted methods reach (a key that does not count as
/// phishing-resistant for this user does not make `phr`).
fn achieved_level(methods: &[PerformedMethod], amr: &[String]) -> String {
    if methods.iter().any(PerformedMethod::is_phishing_resistant) {
        "phr".into()
    } else if amr.iter().any(|v| v == "mfa") {
        "mfa".into()
    } else {
        "pwd".into()
    }
}

/// The modes of a strength's allowed combinations (none when the strength is unknown).
fn strength_modes(engine: &Engine, id: &str) -> Option<BTreeSet<Mode>> {
    engine.strength(id).map(|s| {
        s.allowed_combinations
            .iter()
            .flat_map(|c| c.modes().cloned())
            .collect()
    })
}

/// The methods that make phishing-resistant authentication.
fn phishing_resistant(engine: &Engine) -> BTreeSet<Mode> {
    strength_modes(engine, PHISHING_RESISTANT_MFA_STRENGTH_ID).unwrap_or_else(|| {
        [Mode::Fido2, Mode::WindowsHelloForBusiness]
            .into_iter()
            .collect()
    })
}

/// Adds a decision's requirements to `needs`; returns why it blocks, if it does.
fn absorb(engine: &Engine, decision: &Decision, needs: &mut Vec<Need>) -> Option<String> {
    match decision.result {
        DecisionResult::Grant => None,
        DecisionResult::Block => Some(format!(
            "Access is blocked by Conditional Access: {}.",
            decision.blocking_policies.join(", ")
        )),
        DecisionResult::Challenge => {
            for policy in &decision.requirements {
                let mut methods = BTreeSet::new();
                let mut alternatives = Vec::new();
                let mut after = None;
                for alternative in policy
                    .any_of
                    .iter()
                    .filter(|a| a.iter().all(Requirement::is_achievable))
                {
                    // Within an alternative every requirement holds at once. A strength names
                    // the methods exactly (its first-factor methods also re-authenticate), so
                    // only those are offered; otherwise any method that meets one of them.
                    let strength: Option<BTreeSet<Mode>> =
                        alternative.iter().find_map(|r| match r {
                            Requirement::AuthenticationStrength { id, .. } => {
                                Some(strength_modes(engine, id).unwrap_or_default())
                            }
                            _ => None,
                        });
                    let mut words = Vec::new();
                    for r in alternative {
                        match r {
                            Requirement::Mfa { performed_after } => {
                                if strength.is_none() {
                                    methods.extend(second_factors());
                                }
                                words.push("multifactor authentication".to_string());
                                after = after.max(*performed_after);
                            }
                            Requirement::AuthenticationStrength {
                                display_name,
                                performed_after,
                                ..
                            } => {
                                words.push(format!("the authentication strength '{display_name}'"));
                                after = after.max(*performed_after);
                            }
                            Requirement::Reauthentication { performed_after } => {
                                if strength.is_none() {
                                    methods.extend(first_factors());
                                }
                                words.push("signing in again".to_string());
                                after = after.max(Some(*performed_after));
                            }
                            Requirement::Block | Requirement::Control { .. } => {}
                        }
                    }
                    if let Some(s) = strength {
                        methods.extend(s);
                    }
                    alternatives.push(words.join(" and "));
                }
                alternatives.dedup();
                needs.push(Need {
                    reason: format!(
                        "Policy '{}' requires {}{}.",
                        policy.display_name,
                        alternatives.join(", or "),
                        if after.is_some() {
                            ", performed now"
                        } else {
                            ""
                        }
                    ),
                    methods,
                    performed_after: after,
                });
            }
            None
        }
    }
}

fn blocked(reason: String, applied: Vec<Value>) -> Assessment {
    Assessment {
        verdict: Verdict::Block(reason),
        applied_policies: Value::Array(applied),
    }
}

/// Graph `appliedConditionalAccessPolicy` entries for the policies that take part (enforced or
/// report-only; disabled ones are left out), tagged with what was evaluated (`application` or a
/// context id).
pub fn applied_policies(
    engine: &Engine,
    evaluations: &[PolicyEvaluation],
    evaluated_for: &str,
) -> Vec<Value> {
    let policies = &engine.tenant().conditional_access_policies;
    let mut out = Vec::new();
    for e in evaluations {
        let Some(p) = policies.get(e.policy) else {
            continue;
        };
        if matches!(p.state, PolicyState::Disabled) {
            continue;
        }
        let mut grant: Vec<String> = p
            .grant_controls
            .as_ref()
            .map(|g| g.built_in_controls.iter().map(|c| c.to_string()).collect())
            .unwrap_or_default();
        if let Some(s) = p
            .grant_controls
            .as_ref()
            .and_then(|g| g.authentication_strength.as_ref())
        {
            grant.push(format!("authenticationStrength:{}", s.name()));
        }
        let session: Vec<&str> = p
            .sign_in_frequency()
            .map(|_| vec!["signInFrequency"])
            .unwrap_or_default();
        out.push(json!({
            "id": p.id,
            "displayName": p.display_name,
            "result": e.result,
            "enforcedGrantControls": grant,
            "enforcedSessionControls": session,
            "evaluatedFor": evaluated_for,
        }));
    }
    out
}
