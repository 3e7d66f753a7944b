//! Where a sign-in stands: which of the session's methods count, what Conditional Access decides
//! for the client application and for each requested authentication context, and therefore
//! whether a code may be issued or what the user must still do.
//!
//! Nothing here is remembered between pages: every step re-reads the session's events and
//! re-evaluates, so a page can never grant more than the policies do at that moment.

use crate::error::ServeError;
use crate::oidc::request::{AcrRequest, AuthorizationRequest};
use crate::state::AppState;
use chrono::{DateTime, Duration, Utc};
use policy::conditional_access::{
    ClientAppType, ConditionalAccessPolicy, DevicePlatform, PolicyState,
};
use policy::context::ContextId;
use policy::engine::Engine;
use policy::method::AuthenticationMethodMode as Mode;
use policy::outcome::{Decision, DecisionResult, PolicyEvaluation, Requirement};
use policy::registration::{
    fresh_proof, security_info_floor, Floor, ProofMethod, RegistrationProof,
    SECURITY_INFO_FRESHNESS,
};
use policy::session::{AuthenticationSession, PerformedMethod};
use policy::signin::{SignIn, SignInConditions, Target};
use policy::strength::PHISHING_RESISTANT_MFA_STRENGTH_ID;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use store::SessionAuthEvent;

/// Facts about the request the engine reads as sign-in conditions.
#[derive(Debug, Clone, Default)]
pub struct Circumstances {
    /// Client IP address.
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
}

impl Circumstances {
    /// The engine's sign-in conditions: a browser, the platform the user agent names (unknown
    /// when it names none, which policies with a platform condition treat as applying).
    pub fn conditions(&self) -> SignInConditions {
        let mut c = SignInConditions {
            client_app_type: Some(ClientAppType::Browser),
            device_platform: self.user_agent.as_deref().and_then(platform_of),
            ..SignInConditions::default()
        };
        c.location.ip_address = self.ip;
        c
    }
}

fn platform_of(user_agent: &str) -> Option<DevicePlatform> {
    // Order matters: Android user agents say "Linux", iOS ones say "like Mac OS X".
    let ua = user_agent.to_ascii_lowercase();
    if ua.contains("android") {
        Some(DevicePlatform::Android)
    } else if ua.contains("iphone") || ua.contains("ipad") {
        Some(DevicePlatform::Ios)
    } else if ua.contains("windows phone") {
        Some(DevicePlatform::WindowsPhone)
    } else if ua.contains("windows") {
        Some(DevicePlatform::Windows)
    } else if ua.contains("mac os x") || ua.contains("macintosh") {
        Some(DevicePlatform::MacOs)
    } else if ua.contains("linux") || ua.contains("x11") {
        Some(DevicePlatform::Linux)
    } else {
        None
    }
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

/// The user action of registering security info (`/account`).
pub const REGISTER_SECURITY_INFO: &str = "urn:user:registersecurityinfo";

/// What the provenance rule and the security-info floor need to know about the user, read
/// before the (synchronous) assessment.
#[derive(Debug, Clone, Default)]
struct UserFacts {
    /// Holds or is eligible for a directory role: weakly registered keys do not count.
    privileged: bool,
    /// The tenant relaxed the provenance rule.
    relaxed: bool,
    /// For a security-info sign-in: the floor its fresh proof must meet.
    floor: Option<Floor>,
}

/// What is assessed.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// The user.
    pub user_id: &'a str,
    /// Events of the user's session (empty before a first factor).
    pub events: &'a [SessionAuthEvent],
    /// The transaction start.
    pub transaction_started_at: DateTime<Utc>,
    /// The transaction id (events performed for it carry it).
    pub transaction_id: Option<&'a str>,
    /// The request.
    pub request: &'a AuthorizationRequest,
    /// Where from.
    pub circumstances: &'a Circumstances,
}

/// Assesses a transaction at `now`.
pub async fn assess(
    state: &AppState,
    subject: &Subject<'_>,
    now: DateTime<Utc>,
) -> Result<Assessment, ServeError> {
    let mut engine = state.engine().await?;
    if engine.user(subject.user_id).is_none() {
        // A user created since the engine was built: build it again, once.
        state.tenant_changed();
        engine = state.engine().await?;
    }
    let privileged = engine.is_privileged(subject.user_id);
    // The setting is read only when it can matter: a privileged user who used a
    // phishing-resistant credential.
    let relaxed = privileged
        && subject
            .events
            .iter()
            .any(|e| e.method.is_phishing_resistant())
        && state.store.registration_provenance_relaxed().await?;
    let floor = if subject.request.user_action.as_deref() == Some(REGISTER_SECURITY_INFO) {
        let held: Vec<_> = state
            .store
            .list_methods(subject.user_id, now)
            .await?
            .iter()
            .map(store::MethodSummary::held)
            .collect();
        Some(security_info_floor(&held))
    } else {
        None
    };
    let facts = UserFacts {
        privileged,
        relaxed,
        floor,
    };
    assess_with(&engine, subject, &facts, now)
}

/// The phishing-resistant credentials among `events` that do not count for the user: a
/// privileged user's keys registered under a weaker proof (unless the tenant relaxed the rule),
/// as `(credential id, how it was registered)`, so that the page can say why a key did not help.
pub async fn discounted_keys(
    state: &AppState,
    user_id: &str,
    events: &[SessionAuthEvent],
) -> Result<Vec<(String, RegistrationProof)>, ServeError> {
    let weak: Vec<&SessionAuthEvent> = events
        .iter()
        .filter(|e| {
            e.performed_method(true, false)
                .registered_under_weaker_proof
        })
        .collect();
    if weak.is_empty()
        || !state.engine().await?.is_privileged(user_id)
        || state.store.registration_provenance_relaxed().await?
    {
        return Ok(Vec::new());
    }
    Ok(weak
        .into_iter()
        .filter_map(|e| {
            Some((
                e.credential_id.clone()?,
                e.registration
                    .clone()
                    .unwrap_or(RegistrationProof::Unrecorded),
            ))
        })
        .collect())
}

fn assess_with(
    engine: &Arc<Engine>,
    subject: &Subject<'_>,
    facts: &UserFacts,
    now: DateTime<Utc>,
) -> Result<Assessment, ServeError> {
    let request = subject.request;
    // prompt=login, or an authentication older than max_age, discards what the session held
    // before this transaction (OIDC Core §3.1.2.1).
    let last_auth = subject.events.iter().map(|e| e.performed_at).max();
    let fresh_required = request.prompt_login
        || request
            .max_age
            .is_some_and(|age| last_auth.is_none_or(|t| now - t > Duration::seconds(age)));
    let counted: Vec<&SessionAuthEvent> = subject
        .events
        .iter()
        .filter(|e| e.performed_at <= now)
        .filter(|e| !fresh_required || e.performed_at >= subject.transaction_started_at)
        .collect();
    let performed = |e: &&SessionAuthEvent| e.performed_method(facts.privileged, facts.relaxed);
    let session = AuthenticationSession {
        transaction_started_at: Some(subject.transaction_started_at),
        methods: counted.iter().map(performed).collect(),
        mfa_claimed_at: None,
    };
    let mut applied = Vec::new();
    let mut needs = Vec::new();

    if !counted.iter().any(|e| is_first_factor(&e.method)) {
        needs.push(Need {
            reason: if fresh_required && !subject.events.is_empty() {
                "The application asks you to sign in again.".into()
            } else {
                "Sign in.".into()
            },
            methods: first_factors(),
            performed_after: fresh_required.then_some(subject.transaction_started_at),
        });
        // Conditional Access is evaluated once the user is known to be who they say.
        return Ok(Assessment {
            verdict: Verdict::Challenge(needs),
            applied_policies: Value::Array(applied),
        });
    }

    // A PIM step-up: the session of this transaction alone, for contexts whose policies demand
    // a strength or sign-in frequency `everyTime` (DESIGN §8).
    let step_up = request
        .step_up_request
        .as_ref()
        .map(|_| AuthenticationSession {
            transaction_started_at: Some(subject.transaction_started_at),
            methods: counted
                .iter()
                .filter(|e| e.performed_at >= subject.transaction_started_at)
                .map(performed)
                .collect(),
            mfa_claimed_at: None,
        });
    // The built-in floor of security info (DESIGN §8.5): no policy needed, Conditional Access on
    // the user action still applies on top.
    if let Some(floor) = &facts.floor {
        let proof: Vec<ProofMethod> = counted.iter().map(|e| e.proof_method()).collect();
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
    let conditions = subject.circumstances.conditions();
    let sign_in = |target: Target| SignIn {
        user_id: subject.user_id.to_string(),
        target,
        conditions: conditions.clone(),
        session: session.clone(),
    };

    // The application itself.
    let app = sign_in(match &request.user_action {
        Some(action) => Target::UserAction(action.clone()),
        None => Target::Applications(vec![request.client_id.clone()]),
    });
    let evaluations = engine.evaluate_all(&app, now)?;
    let decision = engine.decision(&evaluations);
    push_applied(&mut applied, engine, &evaluations, "application");
    if let Some(block) = absorb(engine, &decision, &mut needs) {
        return Ok(blocked(block, applied));
    }

    // Every requested authentication context (acrs): each must be satisfied.
    let mut acrs = Vec::new();
    for context in request.contexts() {
        let Ok(id) = ContextId::parse(&context) else {
            continue;
        };
        let (satisfied, block) = assess_context(
            engine,
            &sign_in,
            id,
            now,
            &mut applied,
            &mut needs,
            &session,
            step_up.as_ref(),
        )?;
        if let Some(block) = block {
            return Ok(blocked(block, applied));
        }
        if satisfied {
            acrs.push(context);
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
                let mut scratch = Vec::new();
                let (met, block) = assess_context(
                    engine,
                    &sign_in,
                    id,
                    now,
                    &mut scratch,
                    &mut local,
                    &session,
                    step_up.as_ref(),
                )?;
                if block.is_some() {
                    false
                } else {
                    if met {
                        applied.extend(scratch);
                    }
                    met
                }
            }
            AcrRequest::PhishingResistant => {
                let met = session.methods.iter().any(|m| m.is_phishing_resistant());
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
                let met = tokens::amr::amr(counted.iter().map(|e| &e.method))
                    .iter()
                    .any(|v| v == "mfa");
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
    let modes: Vec<&Mode> = counted.iter().map(|e| &e.method).collect();
    let amr = tokens::amr::amr(modes.iter().copied());
    let acr = acr_met.unwrap_or_else(|| achieved_level(&session.methods, &amr));
    let mut methods: Vec<String> = modes.iter().map(|m| m.to_string()).collect();
    methods.dedup();
    let auth_time = counted
        .iter()
        .map(|e| e.performed_at)
        .max()
        .unwrap_or(subject.transaction_started_at);
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

fn phishing_resistant(engine: &Engine) -> BTreeSet<Mode> {
    engine
        .strength(PHISHING_RESISTANT_MFA_STRENGTH_ID)
        .map(|s| {
            s.allowed_combinations
                .iter()
                .flat_map(|c| c.modes().cloned())
                .collect()
        })
        .unwrap_or_else(|| {
            [Mode::Fido2, Mode::WindowsHelloForBusiness]
                .into_iter()
                .collect()
        })
}

/// Evaluates one authentication context. A context that no enforced policy targets falls back
/// to requiring MFA (as Entra does), and the applied-policies entry says so.
#[allow(clippy::too_many_arguments)]
fn assess_context(
    engine: &Engine,
    sign_in: &dyn Fn(Target) -> SignIn,
    id: ContextId,
    now: DateTime<Utc>,
    applied: &mut Vec<Value>,
    needs: &mut Vec<Need>,
    session: &AuthenticationSession,
    step_up: Option<&AuthenticationSession>,
) -> Result<(bool, Option<String>), ServeError> {
    let context = id.to_string();
    let mut targeting = engine
        .tenant()
        .conditional_access_policies
        .iter()
        .filter(|p| enforced_on_context(p, &context))
        .peekable();
    let targeted = targeting.peek().is_some();
    if !targeted {
        let amr = tokens::amr::amr(session.methods.iter().map(|m: &PerformedMethod| &m.method));
        let met = amr.iter().any(|v| v == "mfa");
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
                performed_after: None,
            });
        }
        return Ok((met, None));
    }
    // Only for a PIM step-up, and only where a targeting policy demands a strength or a fresh
    // sign-in, do the methods of this transaction alone count.
    let demanding = targeting.any(|p| {
        p.grant_controls
            .as_ref()
            .is_some_and(|g| g.authentication_strength.is_some())
            || p.sign_in_frequency().is_some_and(|f| {
                f.frequency_interval
                    .as_ref()
                    .is_some_and(|i| i.to_string() == "everyTime")
            })
    });
    let mut signed = sign_in(Target::AuthenticationContext(id));
    if let (true, Some(fresh)) = (demanding, step_up) {
        signed.session = fresh.clone();
    }
    let evaluations = engine.evaluate_all(&signed, now)?;
    let decision = engine.decision(&evaluations);
    push_applied(applied, engine, &evaluations, &context);
    let before = needs.len();
    let block = absorb(engine, &decision, needs);
    Ok((block.is_none() && needs.len() == before, block))
}

/// Whether `p` is enforced and targets authentication context `context`.
fn enforced_on_context(p: &ConditionalAccessPolicy, context: &str) -> bool {
    !matches!(
        p.state,
        PolicyState::Disabled | PolicyState::EnabledForReportingButNotEnforced
    ) && p.conditions.applications.as_ref().is_some_and(|a| {
        a.include_authentication_context_class_references
            .iter()
            .any(|c| c.eq_ignore_ascii_case(context))
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
                            Requirement::AuthenticationStrength { id, .. } => Some(
                                engine
                                    .strength(id)
                                    .map(|s| {
                                        s.allowed_combinations
                                            .iter()
                                            .flat_map(|c| c.modes().cloned())
                                            .collect()
                                    })
                                    .unwrap_or_default(),
                            ),
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
/// report-only), tagged with what was evaluated (`application` or a context id).
fn push_applied(
    out: &mut Vec<Value>,
    engine: &Engine,
    evaluations: &[PolicyEvaluation],
    target: &str,
) {
    let policies = &engine.tenant().conditional_access_policies;
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
            "evaluatedFor": target,
        }));
    }
}

/// Conditional Access at a refresh-token exchange: the session must still be live and the
/// application still granted with what the session holds (a sign-in frequency that has run out
/// refuses the refresh). Returns the requested contexts that still hold (a context whose policy
/// asks for a fresh proof, such as `everyTime`, does not survive a refresh), or why the refresh
/// is refused. `circumstances` are those of the client presenting the refresh token.
pub async fn reassess_for_refresh(
    state: &AppState,
    user_id: &str,
    session_id: Option<&str>,
    client_id: &str,
    acrs: &[String],
    circumstances: &Circumstances,
    now: DateTime<Utc>,
) -> Result<Result<Vec<String>, String>, ServeError> {
    let Some(session_id) = session_id else {
        return Ok(Err("the sign-in session of this grant has ended".into()));
    };
    let session = match state.store.get_session(session_id).await {
        Ok(s) => s,
        Err(e) if e.is_not_found() => {
            return Ok(Err("the sign-in session of this grant has ended".into()))
        }
        Err(e) => return Err(e.into()),
    };
    if !session.is_live_at(now) || session.user_id != user_id {
        return Ok(Err("the sign-in session of this grant has ended".into()));
    }
    match state.store.get_user(user_id).await {
        Ok(u) if u.account_enabled => {}
        Ok(_) => return Ok(Err("the account is disabled".into())),
        Err(e) if e.is_not_found() => return Ok(Err("the account no longer exists".into())),
        Err(e) => return Err(e.into()),
    }
    let events = state.store.session_events(session_id).await?;
    let request = AuthorizationRequest {
        client_id: client_id.to_string(),
        redirect_uri: String::new(),
        scope: String::new(),
        state: None,
        nonce: None,
        code_challenge: None,
        prompt_login: false,
        prompt_none: true,
        max_age: None,
        acr: Vec::new(),
        acr_essential: false,
        acrs: Vec::new(),
        claims: None,
        login_hint: None,
        user_action: None,
        step_up_request: None,
    };
    let subject = Subject {
        user_id,
        events: &events,
        transaction_started_at: now,
        transaction_id: None,
        request: &request,
        circumstances,
    };
    match assess(state, &subject, now).await?.verdict {
        Verdict::Grant(_) => {}
        Verdict::Challenge(needs) => {
            let why: Vec<String> = needs.into_iter().map(|n| n.reason).collect();
            return Ok(Err(format!("interaction required: {}", why.join(" "))));
        }
        Verdict::Block(reason) => return Ok(Err(reason)),
    }
    let mut still = Vec::new();
    for context in acrs {
        let request = AuthorizationRequest {
            acrs: vec![context.clone()],
            ..request.clone()
        };
        let subject = Subject {
            request: &request,
            ..subject.clone()
        };
        if matches!(
            assess(state, &subject, now).await?.verdict,
            Verdict::Grant(_)
        ) {
            still.push(context.clone());
        }
    }
    Ok(Ok(still))
}
