//! Authentication method references (RFC 8176) for the `amr` claim: pure, so that the sign-in
//! assessment reads the same `mfa` the tokens carry (`tokens::amr` re-exports this module).

use crate::method::AuthenticationMethodMode as Mode;

/// The RFC 8176 values a method proves.
///
/// WebAuthn with user verification proves possession of a hardware-bound key (`hwk`) and a
/// verification of the user by the authenticator (`user`); the RFC has no value for the
/// channel binding that makes it phishing-resistant, which `acr`/`acrs` carry instead.
pub fn values(mode: &Mode) -> &'static [&'static str] {
    match mode {
        Mode::Password => &["pwd"],
        Mode::SoftwareOath => &["otp", "swk"],
        Mode::HardwareOath => &["otp", "hwk"],
        Mode::Sms => &["sms", "otp"],
        Mode::Voice => &["tel", "otp"],
        Mode::Email => &["otp"],
        Mode::Fido2 | Mode::WindowsHelloForBusiness => &["hwk", "user"],
        Mode::MicrosoftAuthenticatorPush | Mode::DeviceBasedPush => &["swk", "user"],
        Mode::TemporaryAccessPassOneTime | Mode::TemporaryAccessPassMultiUse => &["otp"],
        Mode::X509CertificateSingleFactor => &["sc"],
        Mode::X509CertificateMultiFactor => &["sc", "pin"],
        Mode::FederatedSingleFactor | Mode::FederatedMultiFactor => &["fed"],
        Mode::QrCodePin => &["pin"],
        Mode::Unknown(_) => &[],
    }
}

/// Whether the mode is multifactor on its own (a key with user verification, a multifactor
/// certificate, a one-time temporary access pass issued to a verified person).
fn is_multifactor(mode: &Mode) -> bool {
    matches!(
        mode,
        Mode::Fido2
            | Mode::WindowsHelloForBusiness
            | Mode::X509CertificateMultiFactor
            | Mode::DeviceBasedPush
            | Mode::TemporaryAccessPassOneTime
            | Mode::TemporaryAccessPassMultiUse
            | Mode::FederatedMultiFactor
    )
}

/// The `amr` claim for a set of performed methods: their RFC 8176 values, sorted and without
/// duplicates, plus `mfa` when the methods amount to multifactor authentication.
pub fn amr<'a>(modes: impl IntoIterator<Item = &'a Mode>) -> Vec<String> {
    let modes: Vec<&Mode> = modes.into_iter().collect();
    let mut out: Vec<String> = modes
        .iter()
        .flat_map(|m| values(m).iter().map(|v| v.to_string()))
        .collect();
    let distinct_factors = modes
        .iter()
        .map(|m| match m {
            Mode::Password | Mode::FederatedSingleFactor | Mode::X509CertificateSingleFactor => 0,
            _ => 1,
        })
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if modes.iter().any(|m| is_multifactor(m)) || distinct_factors > 1 {
        out.push("mfa".into());
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_and_totp_is_mfa() {
        assert_eq!(
            amr([&Mode::Password, &Mode::SoftwareOath]),
            vec!["mfa", "otp", "pwd", "swk"]
        );
    }

    #[test]
    fn password_alone_is_not_mfa() {
        assert_eq!(amr([&Mode::Password]), vec!["pwd"]);
    }

    #[test]
    fn a_verified_security_key_is_mfa_on_its_own() {
        assert_eq!(amr([&Mode::Fido2]), vec!["hwk", "mfa", "user"]);
    }

    #[test]
    fn two_knowledge_factors_are_not_mfa() {
        assert_eq!(
            amr([&Mode::Password, &Mode::FederatedSingleFactor]),
            vec!["fed", "pwd"]
        );
    }
}
