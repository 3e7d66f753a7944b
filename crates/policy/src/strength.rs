//! Authentication strengths: which method combinations satisfy a grant.
//!
//! A strength is a *method check*: it is satisfied only by methods actually performed, never by an
//! `mfa` claim.

use crate::method::{AuthenticationMethodMode, MethodCombination};
use crate::serde_util::{nullable, Extra};
use crate::session::PerformedMethod;
use serde::{Deserialize, Serialize};

/// Id of the built-in "Multifactor authentication" strength.
pub const MFA_STRENGTH_ID: &str = "00000000-0000-0000-0000-000000000002";
/// Id of the built-in "Passwordless MFA" strength.
pub const PASSWORDLESS_MFA_STRENGTH_ID: &str = "00000000-0000-0000-0000-000000000003";
/// Id of the built-in "Phishing-resistant MFA" strength.
pub const PHISHING_RESISTANT_MFA_STRENGTH_ID: &str = "00000000-0000-0000-0000-000000000004";

/// Graph `authenticationStrengthPolicy`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationStrengthPolicy {
    /// Unique id; built-ins use fixed ids.
    #[serde(default)]
    pub id: String,
    /// Name shown to administrators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `builtIn` or `custom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_type: Option<String>,
    /// `mfa` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements_satisfied: Option<String>,
    /// Combinations of which any one satisfies the strength.
    #[serde(default, deserialize_with = "nullable")]
    pub allowed_combinations: Vec<MethodCombination>,
    /// Further restrictions on some combinations (FIDO2 AAGUIDs, certificate issuers).
    #[serde(default, deserialize_with = "nullable")]
    pub combination_configurations: Vec<CombinationConfiguration>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A restriction on how a combination may be performed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CombinationConfiguration {
    /// Configuration id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The combinations this configuration restricts (e.g. `["fido2"]`).
    #[serde(default, deserialize_with = "nullable")]
    pub applies_to_combinations: Vec<MethodCombination>,
    /// `fido2CombinationConfiguration`: the authenticator models allowed.
    #[serde(
        rename = "allowedAAGUIDs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub allowed_aaguids: Option<Vec<String>>,
    /// `x509CertificateCombinationConfiguration`: issuing CAs allowed, by subject key identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_issuer_skis: Option<Vec<String>>,
    /// `x509CertificateCombinationConfiguration`: certificate policy OIDs allowed.
    #[serde(
        rename = "allowedPolicyOIDs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub allowed_policy_oids: Option<Vec<String>>,
    /// Fields Portcullis does not use (`@odata.type` among them), kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

impl CombinationConfiguration {
    /// Whether a performed method meets this configuration.
    fn admits(&self, method: &PerformedMethod) -> bool {
        if let Some(aaguids) = &self.allowed_aaguids {
            if method.method == AuthenticationMethodMode::Fido2 {
                return method.aaguid.as_deref().is_some_and(|a| {
                    aaguids
                        .iter()
                        .any(|allowed| allowed.eq_ignore_ascii_case(a))
                });
            }
        }
        let skis = self.allowed_issuer_skis.as_deref().unwrap_or_default();
        let oids = self.allowed_policy_oids.as_deref().unwrap_or_default();
        let is_certificate = matches!(
            method.method,
            AuthenticationMethodMode::X509CertificateMultiFactor
                | AuthenticationMethodMode::X509CertificateSingleFactor
        );
        if is_certificate && (!skis.is_empty() || !oids.is_empty()) {
            // Issuer list OR policy-OID list (DESIGN §3).
            let issuer_ok = method
                .certificate_issuer_ski
                .as_deref()
                .is_some_and(|s| skis.iter().any(|k| k.eq_ignore_ascii_case(s)));
            let oid_ok = method
                .certificate_policy_oids
                .iter()
                .any(|o| oids.iter().any(|k| k == o));
            return issuer_ok || oid_ok;
        }
        true
    }
}

impl AuthenticationStrengthPolicy {
    /// The name to show, falling back to the id.
    pub fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.id)
    }

    /// Whether the strength carries its own definition (rather than only naming an id).
    pub fn is_defined(&self) -> bool {
        !self.allowed_combinations.is_empty()
    }

    /// The combination of `methods` that satisfies this strength, if any.
    ///
    /// Every mode of the combination must have been performed, each by a method that meets the
    /// configurations that apply to that combination.
    pub fn satisfied_by<'m>(
        &self,
        methods: impl IntoIterator<Item = &'m PerformedMethod> + Clone,
    ) -> Option<&MethodCombination> {
        // A key registered under a weaker proof does not count for a phishing-resistant
        // strength (DESIGN §8.5); for any other strength it counts as its kind.
        let phishing_resistant = self.allows_only_phishing_resistant();
        self.allowed_combinations.iter().find(|combination| {
            let configs: Vec<&CombinationConfiguration> = self
                .combination_configurations
                .iter()
                .filter(|c| c.applies_to_combinations.contains(combination))
                .collect();
            combination.modes().all(|mode| {
                mode.is_known()
                    && methods.clone().into_iter().any(|m| {
                        &m.method == mode
                            && !(phishing_resistant && m.registered_under_weaker_proof)
                            && configs.iter().all(|c| c.admits(m))
                    })
            })
        })
    }

    /// Whether any allowed combination is made only of phishing-resistant methods.
    pub fn allows_only_phishing_resistant(&self) -> bool {
        !self.allowed_combinations.is_empty()
            && self
                .allowed_combinations
                .iter()
                .all(|c| c.modes().any(|m| m.is_phishing_resistant()))
    }

    /// Whether any allowed combination uses a one-time code by SMS or voice.
    pub fn allows_telephony(&self) -> bool {
        self.allowed_combinations.iter().any(|c| {
            c.contains(&AuthenticationMethodMode::Sms)
                || c.contains(&AuthenticationMethodMode::Voice)
        })
    }
}

fn built_in(
    id: &str,
    name: &str,
    description: &str,
    combos: &[&str],
) -> AuthenticationStrengthPolicy {
    AuthenticationStrengthPolicy {
        id: id.to_string(),
        display_name: Some(name.to_string()),
        description: Some(description.to_string()),
        policy_type: Some("builtIn".to_string()),
        requirements_satisfied: Some("mfa".to_string()),
        allowed_combinations: combos.iter().map(|c| MethodCombination::parse(c)).collect(),
        combination_configurations: Vec::new(),
        extra: Extra::new(),
    }
}

/// The three built-in strengths, with Graph's fixed ids and combinations.
pub fn built_in_strengths() -> Vec<AuthenticationStrengthPolicy> {
    vec![
        built_in(
            MFA_STRENGTH_ID,
            "Multifactor authentication",
            "Combinations of methods that satisfy strong authentication, such as a password + SMS",
            &[
                "windowsHelloForBusiness",
                "fido2",
                "x509CertificateMultiFactor",
                "deviceBasedPush",
                "temporaryAccessPassOneTime",
                "temporaryAccessPassMultiUse",
                "password,microsoftAuthenticatorPush",
                "password,softwareOath",
                "password,hardwareOath",
                "password,sms",
                "password,voice",
                "federatedMultiFactor",
                "microsoftAuthenticatorPush,federatedSingleFactor",
                "softwareOath,federatedSingleFactor",
                "hardwareOath,federatedSingleFactor",
                "sms,federatedSingleFactor",
                "voice,federatedSingleFactor",
            ],
        ),
        built_in(
            PASSWORDLESS_MFA_STRENGTH_ID,
            "Passwordless MFA",
            "Passwordless methods that satisfy strong authentication, such as Passwordless sign-in with the Microsoft Authenticator",
            &[
                "windowsHelloForBusiness",
                "fido2",
                "x509CertificateMultiFactor",
                "deviceBasedPush",
            ],
        ),
        built_in(
            PHISHING_RESISTANT_MFA_STRENGTH_ID,
            "Phishing-resistant MFA",
            "Phishing-resistant, Passwordless methods for the strongest authentication, such as a FIDO2 security key",
            &["windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor"],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn performed(mode: &str) -> PerformedMethod {
        PerformedMethod::new(
            AuthenticationMethodMode::parse(mode),
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
        )
    }

    fn strength(id: &str) -> AuthenticationStrengthPolicy {
        built_in_strengths()
            .into_iter()
            .find(|s| s.id == id)
            .unwrap_or_default()
    }

    #[test]
    fn built_in_ids_and_counts_match_graph() {
        let s = built_in_strengths();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].allowed_combinations.len(), 17);
        assert_eq!(s[1].allowed_combinations.len(), 4);
        assert_eq!(s[2].allowed_combinations.len(), 3);
        assert!(s[2].allows_only_phishing_resistant());
        assert!(!s[0].allows_only_phishing_resistant());
        assert!(s[0].allows_telephony());
    }

    #[test]
    fn password_and_totp_satisfy_mfa_but_not_phishing_resistant() {
        let methods = [performed("password"), performed("softwareOath")];
        assert!(strength(MFA_STRENGTH_ID).satisfied_by(&methods).is_some());
        assert!(strength(PHISHING_RESISTANT_MFA_STRENGTH_ID)
            .satisfied_by(&methods)
            .is_none());
        assert!(strength(PASSWORDLESS_MFA_STRENGTH_ID)
            .satisfied_by(&methods)
            .is_none());
    }

    #[test]
    fn password_alone_satisfies_nothing() {
        let methods = [performed("password")];
        for s in built_in_strengths() {
            assert!(s.satisfied_by(&methods).is_none(), "{}", s.id);
        }
    }

    #[test]
    fn fido2_aaguid_restriction_is_enforced() {
        let mut s = AuthenticationStrengthPolicy {
            id: "custom".into(),
            allowed_combinations: vec![MethodCombination::parse("fido2")],
            ..Default::default()
        };
        s.combination_configurations.push(CombinationConfiguration {
            applies_to_combinations: vec![MethodCombination::parse("fido2")],
            allowed_aaguids: Some(vec!["CB69481E-8FF7-4039-93EC-0A2729A154A8".into()]),
            ..Default::default()
        });
        let mut key = performed("fido2");
        assert!(s.satisfied_by([&key]).is_none(), "no AAGUID recorded");
        key.aaguid = Some("00000000-0000-0000-0000-000000000000".into());
        assert!(s.satisfied_by([&key]).is_none(), "AAGUID not allowed");
        key.aaguid = Some("cb69481e-8ff7-4039-93ec-0a2729a154a8".into());
        assert!(s.satisfied_by([&key]).is_some(), "allowed AAGUID, any case");
    }

    #[test]
    fn certificate_issuer_or_policy_oid_is_enforced() {
        let mut s = AuthenticationStrengthPolicy {
            id: "custom".into(),
            allowed_combinations: vec![MethodCombination::parse("x509CertificateMultiFactor")],
            ..Default::default()
        };
        s.combination_configurations.push(CombinationConfiguration {
            applies_to_combinations: vec![MethodCombination::parse("x509CertificateMultiFactor")],
            allowed_issuer_skis: Some(vec!["AB12".into()]),
            allowed_policy_oids: Some(vec!["1.2.3.4".into()]),
            ..Default::default()
        });
        let mut cert = performed("x509CertificateMultiFactor");
        assert!(s.satisfied_by([&cert]).is_none());
        cert.certificate_issuer_ski = Some("ab12".into());
        assert!(s.satisfied_by([&cert]).is_some());
        cert.certificate_issuer_ski = Some("ffff".into());
        cert.certificate_policy_oids = vec!["1.2.3.4".into()];
        assert!(s.satisfied_by([&cert]).is_some());
    }

    #[test]
    fn unknown_mode_in_a_combination_is_never_satisfied() {
        let s = AuthenticationStrengthPolicy {
            id: "custom".into(),
            allowed_combinations: vec![MethodCombination::parse("futureMethod")],
            ..Default::default()
        };
        let m = PerformedMethod::new(AuthenticationMethodMode::parse("futureMethod"), Utc::now());
        assert!(s.satisfied_by([&m]).is_none());
    }
}
