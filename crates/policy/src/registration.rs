//! Registration of security info: a credential is only as strong as the proof that registered it
//! (DESIGN §8.5).
//!
//! Three rules live here, pure:
//! - the **floor**: what a fresh proof must contain before anyone may add, rename or remove a
//!   method ([`security_info_floor`]): one of the user's methods besides the password (or a
//!   temporary access pass) once the user has one, the password otherwise;
//! - the **provenance** a new credential receives from the proof under which it was registered
//!   ([`proof_of`]): a phishing-resistant credential used in that proof only lends its strength
//!   when it was itself registered under a phishing-resistant proof or a temporary access pass,
//!   so a key made with a password cannot launder a second key into a strong one;
//! - **what counts**: for a privileged user (holding or eligible for a directory role), a
//!   phishing-resistant credential whose provenance is weaker satisfies no phishing-resistant
//!   authentication strength ([`weaker_than_its_kind`]), unless the tenant relaxed the rule.

use crate::enums::graph_enum;
use crate::method::AuthenticationMethodMode as Mode;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

graph_enum! {
    /// The kind of fresh proof a credential was registered under, weakest first.
    pub enum RegistrationProof {
        /// Registered before Portcullis kept provenance: treated as a password-only proof.
        Unrecorded = "unrecorded",
        /// A password alone (the user had no other method).
        PasswordOnly = "passwordOnly",
        /// A password and a phishable second factor (app code, SMS, voice, e-mail), or a
        /// passwordless credential that was itself registered under such a proof.
        Multifactor = "multifactor",
        /// A temporary access pass that an administrator issued.
        TemporaryAccessPass = "temporaryAccessPass",
        /// A phishing-resistant credential whose own registration counts.
        PhishingResistant = "phishingResistant",
    }
}

impl RegistrationProof {
    /// Whether a phishing-resistant credential registered under this proof satisfies a
    /// phishing-resistant strength for a privileged user: only a phishing-resistant proof or an
    /// administrator's temporary access pass (the onboarding path) vouch for it.
    pub fn vouches_for_phishing_resistance(&self) -> bool {
        matches!(self, Self::PhishingResistant | Self::TemporaryAccessPass)
    }

    /// Its place in the order of strength (higher is stronger).
    pub fn rank(&self) -> u8 {
        match self {
            Self::Unrecorded | Self::Unknown(_) => 0,
            Self::PasswordOnly => 1,
            Self::Multifactor => 2,
            Self::TemporaryAccessPass => 3,
            Self::PhishingResistant => 4,
        }
    }

    /// The proof in words for people ("a password only", …).
    pub fn describe(&self) -> &'static str {
        match self {
            Self::PasswordOnly => "a password only",
            Self::Multifactor => "a password and a one-time code (phishable)",
            Self::TemporaryAccessPass => "a temporary access pass issued by an administrator",
            Self::PhishingResistant => "a phishing-resistant credential",
            Self::Unrecorded | Self::Unknown(_) => {
                "an unrecorded proof (registered before provenance was kept, or set up by an \
                 administrator)"
            }
        }
    }
}

/// How a credential was registered: the fresh proof, its methods, who issued the temporary
/// access pass when one was used, when, and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// The kind of proof.
    pub proof: RegistrationProof,
    /// The methods of the proof, as Graph modes.
    #[serde(default)]
    pub methods: Vec<Mode>,
    /// Who issued the temporary access pass of the proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_access_pass_issued_by: Option<String>,
    /// When the credential was registered.
    pub registered_at: DateTime<Utc>,
    /// The address the registration came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_address: Option<String>,
}

impl Provenance {
    /// The provenance of a credential registered before Portcullis kept it.
    pub fn unrecorded(registered_at: DateTime<Utc>) -> Provenance {
        Provenance {
            proof: RegistrationProof::Unrecorded,
            methods: Vec::new(),
            temporary_access_pass_issued_by: None,
            registered_at,
            source_address: None,
        }
    }

    /// One line for people: "registered with a password only on 2026-12-06 10:00 UTC from …".
    pub fn describe(&self) -> String {
        let mut s = format!(
            "registered with {} on {} UTC",
            self.proof.describe(),
            self.registered_at.format("%Y-%m-%d %H:%M")
        );
        if let Some(by) = &self.temporary_access_pass_issued_by {
            s.push_str(&format!(" (pass issued by {by})"));
        }
        if let Some(ip) = &self.source_address {
            s.push_str(&format!(" from {ip}"));
        }
        s
    }
}

/// How long a proof for security info stays fresh: adding, renaming or removing a method needs
/// an authentication at most this old.
pub const SECURITY_INFO_FRESHNESS: Duration = Duration::minutes(10);

/// One method of a fresh proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofMethod {
    /// What was performed.
    pub method: Mode,
    /// When.
    pub performed_at: DateTime<Utc>,
    /// The credential performed (an app's, a passkey's, a pass's id), when there is one.
    pub credential_id: Option<String>,
    /// For a credential that keeps a provenance (apps, phones, passkeys, security keys): how it
    /// was registered ([`RegistrationProof::Unrecorded`] before provenance was kept). `None` for
    /// the password and passes.
    pub registration: Option<RegistrationProof>,
}

impl ProofMethod {
    /// What this method is worth as a proof: a pass is a pass, the password a password, and a
    /// credential no more than the proof it was registered under (a phishing-resistant one of
    /// unrecorded provenance no more than a password, so that no key launders another).
    fn grade(&self) -> RegistrationProof {
        use RegistrationProof as P;
        match (&self.method, &self.registration) {
            (Mode::TemporaryAccessPassOneTime | Mode::TemporaryAccessPassMultiUse, _) => {
                P::TemporaryAccessPass
            }
            (Mode::Password, _) => P::PasswordOnly,
            (_, Some(P::PasswordOnly)) => P::PasswordOnly,
            (mode, registration) if mode.is_phishing_resistant() => match registration {
                Some(r) if r.vouches_for_phishing_resistance() => P::PhishingResistant,
                Some(P::Multifactor) => P::Multifactor,
                _ => P::PasswordOnly,
            },
            _ => P::Multifactor,
        }
    }
}

/// The kind of proof `methods` make, for the provenance of what is registered under them: the
/// strongest any of them reaches, each worth no more than its own registration.
pub fn proof_of(methods: &[ProofMethod]) -> RegistrationProof {
    methods
        .iter()
        .map(ProofMethod::grade)
        .max_by_key(RegistrationProof::rank)
        .unwrap_or(RegistrationProof::PasswordOnly)
}

/// A method the user has registered, as the floor reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldMethod {
    /// The credential's id (the user's id for the password).
    pub id: String,
    /// Its mode.
    pub method: Mode,
    /// How it was registered, for credentials that keep it.
    pub registration: Option<RegistrationProof>,
}

/// What a fresh proof for security info must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Floor {
    /// The user has nothing stronger than the password (no other method, or only methods that
    /// were themselves registered with a password alone): the password, one of those, or a
    /// temporary access pass.
    Password,
    /// The user has other methods: one of these credentials, or a temporary access pass.
    AnyOf {
        /// The credentials (ids) that meet the floor.
        credentials: BTreeSet<String>,
        /// Their modes, and the passes', for the sign-in page.
        modes: BTreeSet<Mode>,
    },
}

impl Floor {
    /// The method modes that may meet the floor.
    pub fn methods(&self) -> BTreeSet<Mode> {
        match self {
            Floor::Password => [
                Mode::Password,
                Mode::TemporaryAccessPassOneTime,
                Mode::TemporaryAccessPassMultiUse,
            ]
            .into_iter()
            .collect(),
            Floor::AnyOf { modes, .. } => modes.clone(),
        }
    }

    /// Whether one performed method meets the floor.
    fn met_by(&self, m: &ProofMethod) -> bool {
        if matches!(
            m.method,
            Mode::TemporaryAccessPassOneTime | Mode::TemporaryAccessPassMultiUse
        ) {
            return true;
        }
        match self {
            // Every first factor the user holds is at least the password.
            Floor::Password => true,
            Floor::AnyOf { credentials, .. } => m
                .credential_id
                .as_ref()
                .is_some_and(|id| credentials.contains(id)),
        }
    }
}

/// The built-in floor for managing security info, from the user's registered methods (usable
/// temporary access passes among them or not). A method registered with a password alone does
/// not raise it: whoever registered it knew no more than the password.
pub fn security_info_floor(registered: &[HeldMethod]) -> Floor {
    let others: Vec<&HeldMethod> = registered
        .iter()
        .filter(|m| {
            m.method != Mode::Password
                && !matches!(
                    m.method,
                    Mode::TemporaryAccessPassOneTime | Mode::TemporaryAccessPassMultiUse
                )
                && m.registration != Some(RegistrationProof::PasswordOnly)
        })
        .collect();
    if others.is_empty() {
        return Floor::Password;
    }
    let mut modes: BTreeSet<Mode> = others.iter().map(|m| m.method.clone()).collect();
    modes.insert(Mode::TemporaryAccessPassOneTime);
    modes.insert(Mode::TemporaryAccessPassMultiUse);
    Floor::AnyOf {
        credentials: others.iter().map(|m| m.id.clone()).collect(),
        modes,
    }
}

/// The methods of `performed` that make a fresh proof meeting `floor` at `now` (performed within
/// `window` before `now`, none from the future), or `None` when they do not.
pub fn fresh_proof<'p>(
    floor: &Floor,
    performed: &'p [ProofMethod],
    now: DateTime<Utc>,
    window: Duration,
) -> Option<Vec<&'p ProofMethod>> {
    let fresh: Vec<&ProofMethod> = performed
        .iter()
        .filter(|m| m.performed_at <= now && now - m.performed_at <= window)
        .collect();
    fresh.iter().any(|m| floor.met_by(m)).then_some(fresh)
}

/// Whether a performed method is weaker than its kind says: a phishing-resistant credential of a
/// privileged user whose registration does not vouch for it. `relaxed` is the tenant's setting
/// that turns the rule off (flagged by the lint).
pub fn weaker_than_its_kind(
    method: &Mode,
    registration: Option<&RegistrationProof>,
    privileged: bool,
    relaxed: bool,
) -> bool {
    privileged
        && !relaxed
        && method.is_phishing_resistant()
        && !registration.is_some_and(RegistrationProof::vouches_for_phishing_resistance)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::minutes(min)
    }

    fn m(method: Mode, min: i64, registration: Option<RegistrationProof>) -> ProofMethod {
        ProofMethod {
            credential_id: Some(format!("{method}-{registration:?}")),
            method,
            performed_at: at(min),
            registration,
        }
    }

    fn held(method: Mode, registration: Option<RegistrationProof>) -> HeldMethod {
        HeldMethod {
            id: format!("{method}-{registration:?}"),
            method,
            registration,
        }
    }

    const WINDOW: Duration = SECURITY_INFO_FRESHNESS;

    #[test]
    fn floor_is_the_password_only_for_a_password_only_user() {
        assert_eq!(
            security_info_floor(&[held(Mode::Password, None)]),
            Floor::Password
        );
        let floor = security_info_floor(&[
            held(Mode::Password, None),
            held(Mode::SoftwareOath, Some(RegistrationProof::Unrecorded)),
        ]);
        let methods = floor.methods();
        assert!(methods.contains(&Mode::SoftwareOath));
        assert!(methods.contains(&Mode::TemporaryAccessPassOneTime));
        assert!(!methods.contains(&Mode::Password));
    }

    #[test]
    fn a_password_alone_does_not_meet_the_floor_of_a_user_with_an_app() {
        let app = Some(RegistrationProof::Unrecorded);
        let floor = security_info_floor(&[
            held(Mode::Password, None),
            held(Mode::SoftwareOath, app.clone()),
        ]);
        let proof = [m(Mode::Password, 100, None)];
        assert!(fresh_proof(&floor, &proof, at(101), WINDOW).is_none());
        let proof = [
            m(Mode::Password, 100, None),
            m(Mode::SoftwareOath, 100, app),
        ];
        assert!(fresh_proof(&floor, &proof, at(101), WINDOW).is_some());
        let pass = [m(Mode::TemporaryAccessPassOneTime, 100, None)];
        assert!(fresh_proof(&floor, &pass, at(101), WINDOW).is_some());
    }

    #[test]
    fn a_method_registered_with_the_password_alone_does_not_meet_a_higher_floor() {
        // The attacker's app, added with the victim's password before the victim was onboarded,
        // does not open security info once the victim holds a method registered properly.
        let floor = security_info_floor(&[
            held(Mode::Password, None),
            held(Mode::SoftwareOath, Some(RegistrationProof::PasswordOnly)),
            held(Mode::Fido2, Some(RegistrationProof::TemporaryAccessPass)),
        ]);
        let attacker = [
            m(Mode::Password, 100, None),
            m(
                Mode::SoftwareOath,
                100,
                Some(RegistrationProof::PasswordOnly),
            ),
        ];
        assert!(fresh_proof(&floor, &attacker, at(101), WINDOW).is_none());
        // On its own, such a method leaves the floor at the password.
        let floor = security_info_floor(&[
            held(Mode::Password, None),
            held(Mode::Fido2, Some(RegistrationProof::PasswordOnly)),
        ]);
        assert_eq!(floor, Floor::Password);
    }

    #[test]
    fn an_old_or_future_proof_does_not_count() {
        let app = Some(RegistrationProof::Unrecorded);
        let floor = security_info_floor(&[
            held(Mode::Password, None),
            held(Mode::SoftwareOath, app.clone()),
        ]);
        let proof = [
            m(Mode::Password, 100, None),
            m(Mode::SoftwareOath, 100, app),
        ];
        assert!(fresh_proof(&floor, &proof, at(111), WINDOW).is_none());
        assert!(fresh_proof(&floor, &proof, at(99), WINDOW).is_none());
    }

    #[test]
    fn proof_kinds() {
        assert_eq!(
            proof_of(&[m(Mode::Password, 0, None)]),
            RegistrationProof::PasswordOnly
        );
        assert_eq!(
            proof_of(&[
                m(Mode::Password, 0, None),
                m(Mode::Sms, 0, Some(RegistrationProof::Unrecorded))
            ]),
            RegistrationProof::Multifactor
        );
        assert_eq!(
            proof_of(&[
                m(Mode::Password, 0, None),
                m(Mode::SoftwareOath, 0, Some(RegistrationProof::PasswordOnly))
            ]),
            RegistrationProof::PasswordOnly
        );
        assert_eq!(
            proof_of(&[m(Mode::TemporaryAccessPassOneTime, 0, None)]),
            RegistrationProof::TemporaryAccessPass
        );
        assert_eq!(
            proof_of(&[m(
                Mode::Fido2,
                0,
                Some(RegistrationProof::TemporaryAccessPass)
            )]),
            RegistrationProof::PhishingResistant
        );
    }

    #[test]
    fn a_weakly_registered_key_cannot_launder_a_second_key() {
        for weak in [
            RegistrationProof::PasswordOnly,
            RegistrationProof::Unrecorded,
            RegistrationProof::Multifactor,
        ] {
            let proof = proof_of(&[m(Mode::Fido2, 0, Some(weak.clone()))]);
            assert!(!proof.vouches_for_phishing_resistance(), "{weak}");
        }
    }

    #[test]
    fn only_privileged_users_lose_weakly_registered_keys() {
        let weak = Some(&RegistrationProof::Multifactor);
        assert!(weaker_than_its_kind(&Mode::Fido2, weak, true, false));
        assert!(!weaker_than_its_kind(&Mode::Fido2, weak, false, false));
        assert!(!weaker_than_its_kind(&Mode::Fido2, weak, true, true));
        assert!(!weaker_than_its_kind(
            &Mode::Fido2,
            Some(&RegistrationProof::TemporaryAccessPass),
            true,
            false
        ));
        assert!(weaker_than_its_kind(&Mode::Fido2, None, true, false));
        assert!(!weaker_than_its_kind(
            &Mode::SoftwareOath,
            None,
            true,
            false
        ));
    }
}
