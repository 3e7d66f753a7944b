//! The sign-in decision for a transaction, read from the store: the engine, what the provenance
//! rule and the security-info floor need to know about the user, and the session's events,
//! handed to the pure assessment ([`policy::assessment::assess`]), which decides.
//!
//! Nothing here is remembered between calls: every page of a sign-in and every refresh re-reads
//! the session's events and re-evaluates, so no face can grant more than the policies do at that
//! moment. The faces convert their own request types into an [`AssessmentRequest`].

use crate::Core;
use chrono::{DateTime, Utc};
use policy::assessment::{SessionEvent, SignInState};
use policy::conditional_access::{ClientAppType, DevicePlatform};
use policy::engine::{Engine, EvaluateError};
use policy::registration::{security_info_floor, Floor, RegistrationProof};
use policy::signin::SignInConditions;
use std::net::IpAddr;
use store::{SessionAuthEvent, StoreError};

/// The assessment's shapes live in the pure `policy` crate; the faces read them from here.
pub use policy::assessment::{
    is_first_factor, Assessment, AssessmentRequest, Grant, Need, Verdict, REGISTER_SECURITY_INFO,
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

/// What is assessed: who, what the session holds, what the application asks and where from.
#[derive(Debug, Clone)]
pub struct SignInSubject<'a> {
    /// The user.
    pub user_id: &'a str,
    /// Events of the user's session (empty before a first factor).
    pub events: &'a [SessionAuthEvent],
    /// The transaction start.
    pub transaction_started_at: DateTime<Utc>,
    /// What the application asks of the user's authentication.
    pub request: &'a AssessmentRequest,
    /// Where from.
    pub circumstances: &'a Circumstances,
}

/// Why a sign-in could not be assessed, or why a refresh is refused.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The session the grant was made in has ended (or belongs to someone else).
    #[error("the sign-in session of this grant has ended")]
    SessionEnded,
    /// The account is disabled.
    #[error("the account is disabled")]
    AccountDisabled,
    /// The account was deleted.
    #[error("the account no longer exists")]
    AccountDeleted,
    /// Conditional Access wants the user to do more than the session holds (the reasons).
    #[error("interaction required: {}", .0.join(" "))]
    InteractionRequired(Vec<String>),
    /// Conditional Access blocks the application (the reason).
    #[error("{0}")]
    Blocked(String),
    /// The engine cannot evaluate the sign-in (internal: a user the tenant does not hold).
    #[error("conditional access: {0}")]
    Evaluate(#[from] EvaluateError),
    /// The store failed (internal).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SignInError {
    /// Whether this is a refusal to report to the client, rather than an internal failure.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, SignInError::Evaluate(_) | SignInError::Store(_))
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

impl Core {
    /// Assesses a sign-in at `now`: whether a code may be issued, or what the user must still
    /// do, or why the application is blocked.
    pub async fn assess_sign_in(
        &self,
        subject: &SignInSubject<'_>,
        now: DateTime<Utc>,
    ) -> Result<Assessment, SignInError> {
        let mut engine = self.engine().await?;
        if engine.user(subject.user_id).is_none() {
            // A user created since the engine was built: build it again, once.
            self.tenant_changed();
            engine = self.engine().await?;
        }
        let privileged = engine.is_privileged(subject.user_id);
        // The setting is read only when it can matter: a privileged user who used a
        // phishing-resistant credential.
        let relaxed = privileged
            && subject
                .events
                .iter()
                .any(|e| e.method.is_phishing_resistant())
            && self.store.registration_provenance_relaxed().await?;
        let floor = if subject.request.user_action.as_deref() == Some(REGISTER_SECURITY_INFO) {
            let held: Vec<_> = self
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
        Ok(assess_with(&engine, subject, facts, now)?)
    }

    /// The phishing-resistant credentials among `events` that do not count for the user: a
    /// privileged user's keys registered under a weaker proof (unless the tenant relaxed the
    /// rule), as `(credential id, how it was registered)`, so that a face can say why a key did
    /// not help.
    pub async fn discounted_keys(
        &self,
        user_id: &str,
        events: &[SessionAuthEvent],
    ) -> Result<Vec<(String, RegistrationProof)>, SignInError> {
        let weak: Vec<&SessionAuthEvent> = events
            .iter()
            .filter(|e| {
                e.performed_method(true, false)
                    .registered_under_weaker_proof
            })
            .collect();
        if weak.is_empty()
            || !self.engine().await?.is_privileged(user_id)
            || self.store.registration_provenance_relaxed().await?
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

    /// Conditional Access at a refresh-token exchange: the session must still be live and the
    /// application still granted with what the session holds (a sign-in frequency that has run
    /// out refuses the refresh). Returns the contexts among `acrs` that still hold (a context
    /// whose policy asks for a fresh proof, such as `everyTime`, does not survive a refresh), or
    /// the refusal. `circumstances` are those of the client presenting the refresh token.
    pub async fn reassess_for_refresh(
        &self,
        user_id: &str,
        session_id: Option<&str>,
        client_id: &str,
        acrs: &[String],
        circumstances: &Circumstances,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, SignInError> {
        let Some(session_id) = session_id else {
            return Err(SignInError::SessionEnded);
        };
        let session = match self.store.get_session(session_id).await {
            Ok(s) => s,
            Err(e) if e.is_not_found() => return Err(SignInError::SessionEnded),
            Err(e) => return Err(e.into()),
        };
        if !session.is_live_at(now) || session.user_id != user_id {
            return Err(SignInError::SessionEnded);
        }
        match self.store.get_user(user_id).await {
            Ok(u) if u.account_enabled => {}
            Ok(_) => return Err(SignInError::AccountDisabled),
            Err(e) if e.is_not_found() => return Err(SignInError::AccountDeleted),
            Err(e) => return Err(e.into()),
        }
        let events = self.store.session_events(session_id).await?;
        // A refresh asks for the application alone: no level, no prompt, no step-up; each
        // context granted before is then asked for on its own.
        let request = AssessmentRequest {
            client_id: client_id.to_string(),
            ..AssessmentRequest::default()
        };
        let subject = SignInSubject {
            user_id,
            events: &events,
            transaction_started_at: now,
            request: &request,
            circumstances,
        };
        match self.assess_sign_in(&subject, now).await?.verdict {
            Verdict::Grant(_) => {}
            Verdict::Challenge(needs) => {
                return Err(SignInError::InteractionRequired(
                    needs.into_iter().map(|n| n.reason).collect(),
                ))
            }
            Verdict::Block(reason) => return Err(SignInError::Blocked(reason)),
        }
        let mut still = Vec::new();
        for context in acrs {
            let request = AssessmentRequest {
                contexts: vec![context.clone()],
                ..request.clone()
            };
            let subject = SignInSubject {
                request: &request,
                ..subject.clone()
            };
            if matches!(
                self.assess_sign_in(&subject, now).await?.verdict,
                Verdict::Grant(_)
            ) {
                still.push(context.clone());
            }
        }
        Ok(still)
    }
}

/// The adapter: the user's facts and the session's events as `policy` values, and the pure
/// assessment over them.
fn assess_with(
    engine: &Engine,
    subject: &SignInSubject<'_>,
    facts: UserFacts,
    now: DateTime<Utc>,
) -> Result<Assessment, EvaluateError> {
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
    policy::assessment::assess(engine, subject.request, &state, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_agent_names_the_platform() {
        let platform = |ua: &str| {
            Circumstances {
                ip: None,
                user_agent: Some(ua.into()),
            }
            .conditions()
            .device_platform
        };
        assert_eq!(
            platform("Mozilla/5.0 (Linux; Android 14; Pixel 8)"),
            Some(DevicePlatform::Android)
        );
        assert_eq!(
            platform("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"),
            Some(DevicePlatform::Ios)
        );
        assert_eq!(
            platform("Mozilla/5.0 (Windows NT 10.0; Win64; x64)"),
            Some(DevicePlatform::Windows)
        );
        assert_eq!(
            platform("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0)"),
            Some(DevicePlatform::MacOs)
        );
        assert_eq!(platform("curl/8.5.0"), None);
        assert_eq!(
            Circumstances::default().conditions().client_app_type,
            Some(ClientAppType::Browser)
        );
    }
}
