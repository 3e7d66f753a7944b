//! Authentication method modes (Graph `authenticationMethodModes`) and combinations.

use crate::enums::graph_enum;
use std::collections::BTreeSet;

graph_enum! {
    /// One way of proving identity, as Graph names it.
    pub enum AuthenticationMethodMode {
        /// Password (argon2id in Portcullis).
        Password = "password",
        /// One-time code by voice call.
        Voice = "voice",
        /// OATH hardware token.
        HardwareOath = "hardwareOath",
        /// TOTP authenticator app.
        SoftwareOath = "softwareOath",
        /// One-time code by SMS.
        Sms = "sms",
        /// One-time code by e-mail.
        Email = "email",
        /// WebAuthn roaming authenticator or passkey.
        Fido2 = "fido2",
        /// WebAuthn platform authenticator with user verification.
        WindowsHelloForBusiness = "windowsHelloForBusiness",
        /// Authenticator app push.
        MicrosoftAuthenticatorPush = "microsoftAuthenticatorPush",
        /// Device-bound push (passwordless phone sign-in).
        DeviceBasedPush = "deviceBasedPush",
        /// Temporary access pass usable once.
        TemporaryAccessPassOneTime = "temporaryAccessPassOneTime",
        /// Temporary access pass usable many times within its lifetime.
        TemporaryAccessPassMultiUse = "temporaryAccessPassMultiUse",
        /// Client certificate counted as one factor.
        X509CertificateSingleFactor = "x509CertificateSingleFactor",
        /// Client certificate counted as multifactor.
        X509CertificateMultiFactor = "x509CertificateMultiFactor",
        /// Federated identity provider, single factor.
        FederatedSingleFactor = "federatedSingleFactor",
        /// Federated identity provider, multifactor.
        FederatedMultiFactor = "federatedMultiFactor",
        /// QR code with PIN.
        QrCodePin = "qrCodePin",
    }
}

impl AuthenticationMethodMode {
    /// Phishing-resistant per NIST 800-63B (verifier-name or channel binding).
    pub fn is_phishing_resistant(&self) -> bool {
        matches!(
            self,
            Self::Fido2 | Self::WindowsHelloForBusiness | Self::X509CertificateMultiFactor
        )
    }

    /// Whether the method can serve as the first factor of a sign-in. A sign-in frequency of
    /// `primaryAndSecondaryAuthentication` needs one of these to have been performed again.
    pub fn can_be_primary(&self) -> bool {
        !matches!(
            self,
            Self::SoftwareOath | Self::HardwareOath | Self::Voice | Self::Unknown(_)
        )
    }

    /// Whether the method only ever stands as a first factor; a sign-in frequency of
    /// `secondaryAuthentication` does not age these out.
    pub fn is_first_factor_only(&self) -> bool {
        matches!(
            self,
            Self::Password | Self::FederatedSingleFactor | Self::X509CertificateSingleFactor
        )
    }
}

/// A set of modes that together satisfy a strength (`"password,softwareOath"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MethodCombination(BTreeSet<AuthenticationMethodMode>);

impl MethodCombination {
    /// Parses Graph's comma-joined spelling. Order and blanks do not matter.
    pub fn parse(s: &str) -> Self {
        MethodCombination(
            s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(AuthenticationMethodMode::parse)
                .collect(),
        )
    }

    /// The modes of the combination.
    pub fn modes(&self) -> impl Iterator<Item = &AuthenticationMethodMode> {
        self.0.iter()
    }

    /// Whether the combination contains `mode`.
    pub fn contains(&self, mode: &AuthenticationMethodMode) -> bool {
        self.0.contains(mode)
    }

    /// Modes in the combination that this version does not know.
    pub fn unknown_modes(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter(|m| !m.is_known()).map(|m| m.as_str())
    }

    /// Whether the combination names no mode at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for MethodCombination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for m in &self.0 {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            f.write_str(m.as_str())?;
        }
        Ok(())
    }
}

impl serde::Serialize for MethodCombination {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for MethodCombination {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        Ok(MethodCombination::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combination_ignores_order_and_blanks() {
        assert_eq!(
            MethodCombination::parse("softwareOath, password"),
            MethodCombination::parse("password,softwareOath")
        );
        assert_eq!(
            MethodCombination::parse("password,softwareOath").to_string(),
            "password,softwareOath"
        );
    }

    #[test]
    fn unknown_mode_is_kept_verbatim() {
        let c = MethodCombination::parse("password,quantumPigeon");
        assert_eq!(c.unknown_modes().collect::<Vec<_>>(), vec!["quantumPigeon"]);
        assert!(c.to_string().contains("quantumPigeon"));
    }

    #[test]
    fn only_fido2_hello_and_multifactor_certificates_are_phishing_resistant() {
        let resistant: Vec<_> = AuthenticationMethodMode::KNOWN
            .iter()
            .filter(|m| m.is_phishing_resistant())
            .map(|m| m.as_str())
            .collect();
        assert_eq!(
            resistant,
            vec![
                "fido2",
                "windowsHelloForBusiness",
                "x509CertificateMultiFactor"
            ]
        );
    }

    #[test]
    fn parse_is_case_insensitive() {
        assert_eq!(
            AuthenticationMethodMode::parse("FIDO2"),
            AuthenticationMethodMode::Fido2
        );
    }
}
