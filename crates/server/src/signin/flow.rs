//! Where a sign-in stands, read from the store: the engine, what the provenance rule and the
//! security-info floor need to know about the user, and the session's events, handed to the pure
//! assessment ([`policy::assessment::assess`]), which decides.
//!
//! Nothing here is remembered between pages: every step re-reads the session's events and
//! re-evaluates, so a page can never grant more than the policies do at that moment.

use crate::error::ServeError;
use crate::oidc::request::AuthorizationRequest;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use policy::assessment::{AssessmentRequest, SessionEvent, SignInState};
use policy::conditional_access::{ClientAppType, DevicePlatform};
use policy::engine::Engine;
use policy::registration::{security_info_floor, Floor, RegistrationProof};
use policy::signin::SignInConditions;
use std::net::IpAddr;
use store::SessionAuthEvent;

/// The assessment's shapes live in the pure `policy` crate; the pages and the token endpoint
/// read them from here.
pub use policy::assessment::{
    is_first_factor, Assessment, Grant, Need, Verdict, REGISTER_SECURITY_INFO,
};

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
    assess_with(&engine, subject, facts, now)
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

/// The adapter: the request, the user's facts and the session's events as `policy` values, and
/// the pure assessment over them.
fn assess_with(
    engine: &Engine,
    subject: &Subject<'_>,
    facts: UserFacts,
    now: DateTime<Utc>,
) -> Result<Assessment, ServeError> {
    let request = subject.request;
    let wanted = AssessmentRequest {
        client_id: request.client_id.clone(),
        user_action: request.user_action.clone(),
        contexts: request.contexts(),
        acr: request.acr.clone(),
        acr_essential: request.acr_essential,
        prompt_login: request.prompt_login,
        max_age: request.max_age,
        step_up: request.step_up_request.is_some(),
    };
    let events: Vec<SessionEvent> = subject
        .events
        .iter()
        .map(|e| SessionEvent {
            performed: e.performed_method(facts.privileged, facts.relaxed),
            proof: e.proof_method(),
        })
        .collect();
    let state = SignInState {
        user_id: subject.user_id,
        events: &events,
        transaction_started_at: subject.transaction_started_at,
        conditions: subject.circumstances.conditions(),
        floor: facts.floor,
    };
    Ok(policy::assessment::assess(engine, &wanted, &state, now)?)
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
