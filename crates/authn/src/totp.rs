//! Time-based one-time passwords (RFC 6238) from an authenticator app.
//!
//! A verified code proves mode [`MODE`] (`softwareOath`). Parameters are the ones every app
//! supports: HMAC-SHA-1, 6 digits, 30-second steps, and one step of clock skew either way.
//! A TOTP code is not phishing-resistant: a proxy can relay it within its lifetime.
//!
//! Each code is accepted once: the caller stores the matched step returned by [`verify_totp`]
//! and passes it back as `last_used_step`; a code for that step or an earlier one is refused as a
//! replay. Mismatches are not counted here: the caller counts them against the account (the
//! service does so in the store's lockout counters), since six digits alone do not stop a
//! patient guesser.
//!
//! A new secret is not trusted until the user has typed one code from the app
//! (`verify_totp(&enrolment.secret, code, now, None)`), which proves the app holds it.

use chrono::{DateTime, Utc};
use policy::method::AuthenticationMethodMode;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TotpUrlError, TOTP};

/// The method mode a verified TOTP code proves. (An OATH hardware token verifies the same way
/// but proves `hardwareOath`; that is the caller's choice by credential kind.)
pub const MODE: AuthenticationMethodMode = AuthenticationMethodMode::SoftwareOath;

/// Digits in a code.
pub const DIGITS: usize = 6;

/// Seconds in a step.
pub const STEP_SECONDS: i64 = 30;

/// Steps of clock skew accepted either side of the current one.
pub const SKEW_STEPS: i64 = 1;

/// Bytes of a new secret (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;

/// Fewest bytes a stored secret may have (128 bits, RFC 4226's minimum).
pub const MIN_SECRET_BYTES: usize = 16;

/// Why enrolment or verification failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The code is not exactly six ASCII digits (spaces aside).
    #[error("the code must be {DIGITS} digits")]
    Malformed,
    /// The code matches none of the accepted steps.
    #[error("the code is not valid")]
    Mismatch,
    /// The code matches a step already used (or older than one already used).
    #[error("the code has already been used")]
    Replayed {
        /// The step the code was for.
        step: i64,
    },
    /// The stored secret is shorter than [`MIN_SECRET_BYTES`].
    #[error("the stored secret has {0} bytes; at least {MIN_SECRET_BYTES} are needed")]
    SecretTooShort(usize),
    /// The clock is before 1970, where steps are not defined.
    #[error("time {0} is before the Unix epoch")]
    ClockOutOfRange(DateTime<Utc>),
    /// The issuer or account name cannot go into an `otpauth://` label.
    #[error("invalid {field}: {reason}")]
    InvalidLabel {
        /// `issuer` or `account_name`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The QR code could not be drawn.
    #[error("QR code rendering failed: {0}")]
    Qr(String),
    /// The operating system's random source failed.
    #[error("random source unavailable: {0}")]
    Random(String),
}

/// What the user needs to add the account to an authenticator app, and what the caller stores.
///
/// Everything here carries the secret (the URI and the QR code contain it too), so every field
/// is wrapped and none shows in `Debug`. Show it to the user once, store `secret` (encrypted at
/// rest), and drop the rest.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    /// The shared secret (raw bytes, [`SECRET_BYTES`] of them).
    pub secret: SecretSlice<u8>,
    /// The secret in base32 without padding, for typing into an app by hand.
    pub manual_entry_key: SecretString,
    /// `otpauth://totp/Issuer:account?secret=…&issuer=Issuer`.
    pub otpauth_uri: SecretString,
    /// The URI as a QR code: a PNG, base64-encoded (for a `data:image/png;base64,` URL).
    pub qr_png_base64: SecretString,
}

impl TotpEnrolment {
    /// Generates a fresh random secret for `account_name` (usually the UPN) at `issuer` (the
    /// name the app shows, e.g. the tenant's). Neither may be empty or contain `:`.
    pub fn new(issuer: &str, account_name: &str) -> Result<Self, TotpError> {
        check_label("issuer", issuer)?;
        check_label("account_name", account_name)?;
        let mut secret = vec![0u8; SECRET_BYTES];
        getrandom::fill(&mut secret).map_err(|e| TotpError::Random(e.to_string()))?;
        let totp = TOTP::new(
            Algorithm::SHA1,
            DIGITS,
            1,
            STEP_SECONDS as u64,
            secret.clone(),
            Some(issuer.to_string()),
            account_name.to_string(),
        )
        .map_err(|e| match e {
            TotpUrlError::Issuer(_) => TotpError::InvalidLabel {
                field: "issuer",
                reason: "must not contain ':'".to_string(),
            },
            TotpUrlError::AccountName(_) => TotpError::InvalidLabel {
                field: "account_name",
                reason: "must not contain ':'".to_string(),
            },
            other => TotpError::InvalidLabel {
                field: "issuer",
                reason: other.to_string(),
            },
        })?;
        let qr = totp.get_qr_base64().map_err(TotpError::Qr)?;
        Ok(TotpEnrolment {
            manual_entry_key: SecretString::from(totp.get_secret_base32()),
            otpauth_uri: SecretString::from(totp.get_url()),
            qr_png_base64: SecretString::from(qr),
            secret: SecretSlice::from(secret),
        })
    }

    /// The method mode this credential proves.
    pub fn mode(&self) -> AuthenticationMethodMode {
        MODE
    }
}

fn check_label(field: &'static str, value: &str) -> Result<(), TotpError> {
    let reason = if value.trim().is_empty() {
        "must not be empty"
    } else if value.contains(':') {
        "must not contain ':'"
    } else if value.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(TotpError::InvalidLabel {
        field,
        reason: reason.to_string(),
    })
}

/// The step `now` falls in: whole [`STEP_SECONDS`] since the Unix epoch.
pub fn step_at(now: DateTime<Utc>) -> i64 {
    now.timestamp().div_euclid(STEP_SECONDS)
}

/// Strips whitespace (apps show "123 456") and checks that six ASCII digits remain.
fn normalize_code(code: &str) -> Result<String, TotpError> {
    if code.len() > 64 {
        return Err(TotpError::Malformed);
    }
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(TotpError::Malformed)
    }
}

/// Checks `code` against `secret` at `now`, accepting the codes of the previous, current and
/// next step, but only for a step after `last_used_step`. Returns the matched step, which the
/// caller must store as the new `last_used_step` before reporting success.
///
/// Every accepted step is computed and compared in constant time before deciding, so the time
/// taken does not depend on which step (if any) matched.
pub fn verify_totp(
    secret: &SecretSlice<u8>,
    code: &str,
    now: DateTime<Utc>,
    last_used_step: Option<i64>,
) -> Result<i64, TotpError> {
    let code = normalize_code(code)?;
    let secret = secret.expose_secret();
    if secret.len() < MIN_SECRET_BYTES {
        return Err(TotpError::SecretTooShort(secret.len()));
    }
    if now.timestamp() < 0 {
        return Err(TotpError::ClockOutOfRange(now));
    }
    let totp = TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECONDS as u64,
        secret.to_vec(),
        None,
        String::new(),
    );
    let current = step_at(now);
    let mut accepted: Option<i64> = None;
    let mut replayed: Option<i64> = None;
    for step in (current - SKEW_STEPS)..=(current + SKEW_STEPS) {
        // Steps before the epoch do not exist.
        let Ok(unsigned) = u64::try_from(step) else {
            continue;
        };
        let expected = totp.generate(unsigned.saturating_mul(STEP_SECONDS as u64));
        let matches: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        if matches {
            if last_used_step.is_some_and(|last| step <= last) {
                replayed = replayed.or(Some(step));
            } else {
                accepted = accepted.or(Some(step));
            }
        }
    }
    match (accepted, replayed) {
        (Some(step), _) => Ok(step),
        (None, Some(step)) => Err(TotpError::Replayed { step }),
        (None, None) => Err(TotpError::Mismatch),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// RFC 6238 Appendix B's SHA-1 secret.
    fn rfc_secret() -> SecretSlice<u8> {
        SecretSlice::from(b"12345678901234567890".to_vec())
    }

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).single().unwrap()
    }

    /// The 8-digit values of RFC 6238 Appendix B, truncated to 6 digits (the last six, since
    /// the code is the HOTP value modulo 10^digits).
    const VECTORS: &[(i64, &str)] = &[
        (59, "287082"),
        (1_111_111_109, "081804"),
        (1_111_111_111, "050471"),
        (1_234_567_890, "005924"),
        (2_000_000_000, "279037"),
        (20_000_000_000, "353130"),
    ];

    #[test]
    fn rfc6238_vectors() {
        for (t, code) in VECTORS {
            assert_eq!(
                verify_totp(&rfc_secret(), code, at(*t), None),
                Ok(t / 30),
                "time {t}"
            );
        }
    }

    #[test]
    fn code_is_accepted_once_only() {
        let step = verify_totp(&rfc_secret(), "287082", at(59), None).unwrap();
        assert_eq!(step, 1);
        assert_eq!(
            verify_totp(&rfc_secret(), "287082", at(60), Some(step)),
            Err(TotpError::Replayed { step: 1 })
        );
    }

    #[test]
    fn older_code_after_newer_one_is_replay() {
        // Code for step 37037036 (t=1111111109) after the code of the next step was used.
        let newer = totp_code(37_037_037);
        let used = verify_totp(&rfc_secret(), &newer, at(1_111_111_111), None).unwrap();
        assert_eq!(used, 37_037_037);
        assert_eq!(
            verify_totp(&rfc_secret(), "081804", at(1_111_111_111), Some(used)),
            Err(TotpError::Replayed { step: 37_037_036 })
        );
    }

    fn totp_code(step: u64) -> String {
        TOTP::new_unchecked(
            Algorithm::SHA1,
            6,
            1,
            30,
            b"12345678901234567890".to_vec(),
            None,
            String::new(),
        )
        .generate(step * 30)
    }

    #[test]
    fn skew_of_one_step_is_accepted_two_is_refused() {
        let step = 1_111_111_109 / 30; // 37037036
        let now = at(step * 30 + 10);
        let code = |s: i64| totp_code(u64::try_from(s).unwrap());
        assert_eq!(
            verify_totp(&rfc_secret(), &code(step - 1), now, None),
            Ok(step - 1)
        );
        assert_eq!(
            verify_totp(&rfc_secret(), &code(step + 1), now, None),
            Ok(step + 1)
        );
        assert_eq!(
            verify_totp(&rfc_secret(), &code(step - 2), now, None),
            Err(TotpError::Mismatch)
        );
        assert_eq!(
            verify_totp(&rfc_secret(), &code(step + 2), now, None),
            Err(TotpError::Mismatch)
        );
    }

    #[test]
    fn step_boundaries() {
        // t=59 is in step 1; at t=90 (step 3) step 1 is two steps back.
        assert_eq!(verify_totp(&rfc_secret(), "287082", at(89), None), Ok(1));
        assert_eq!(
            verify_totp(&rfc_secret(), "287082", at(90), None),
            Err(TotpError::Mismatch)
        );
        // Around the epoch there is no step -1: no panic, the code of step 0 still works.
        assert_eq!(
            verify_totp(&rfc_secret(), &totp_code(0), at(0), None),
            Ok(0)
        );
    }

    #[test]
    fn malformed_codes() {
        for bad in [
            "",
            "28708",
            "2870822",
            "28708a",
            "+87082",
            "-87082",
            "２８７０８２",
            "٢٨٧٠٨٢",
            "287 08",
            "0x1234",
        ] {
            assert_eq!(
                verify_totp(&rfc_secret(), bad, at(59), None),
                Err(TotpError::Malformed),
                "{bad:?}"
            );
        }
        let huge = "1".repeat(10_000);
        assert_eq!(
            verify_totp(&rfc_secret(), &huge, at(59), None),
            Err(TotpError::Malformed)
        );
    }

    #[test]
    fn spaces_are_ignored() {
        assert_eq!(verify_totp(&rfc_secret(), " 287 082 ", at(59), None), Ok(1));
    }

    #[test]
    fn wrong_code_is_mismatch() {
        assert_eq!(
            verify_totp(&rfc_secret(), "287083", at(59), None),
            Err(TotpError::Mismatch)
        );
    }

    #[test]
    fn short_secret_and_pre_epoch_clock_are_errors() {
        let short = SecretSlice::from(vec![1u8; 10]);
        assert_eq!(
            verify_totp(&short, "123456", at(59), None),
            Err(TotpError::SecretTooShort(10))
        );
        assert!(matches!(
            verify_totp(&rfc_secret(), "123456", at(-100), None),
            Err(TotpError::ClockOutOfRange(_))
        ));
    }

    #[test]
    fn enrolment_produces_a_working_secret_uri_and_qr() {
        let e = TotpEnrolment::new("Portcullis Contoso", "alice@contoso.com").unwrap();
        assert_eq!(e.secret.expose_secret().len(), SECRET_BYTES);
        let uri = e.otpauth_uri.expose_secret();
        assert!(uri.starts_with("otpauth://totp/Portcullis%20Contoso:alice%40contoso.com?"));
        assert!(uri.contains(&format!("secret={}", e.manual_entry_key.expose_secret())));
        assert!(uri.contains("issuer=Portcullis%20Contoso"));
        assert!(e.qr_png_base64.expose_secret().starts_with("iVBORw0KGgo")); // PNG magic
                                                                             // The app's current code verifies.
        let now = Utc::now();
        let code = TOTP::new_unchecked(
            Algorithm::SHA1,
            6,
            1,
            30,
            e.secret.expose_secret().to_vec(),
            None,
            String::new(),
        )
        .generate(u64::try_from(now.timestamp()).unwrap());
        assert_eq!(verify_totp(&e.secret, &code, now, None), Ok(step_at(now)));
        // Two enrolments never share a secret.
        let f = TotpEnrolment::new("Portcullis Contoso", "alice@contoso.com").unwrap();
        assert_ne!(e.secret.expose_secret(), f.secret.expose_secret());
    }

    #[test]
    fn enrolment_debug_shows_no_secret() {
        let e = TotpEnrolment::new("Portcullis", "bob").unwrap();
        let shown = format!("{e:?}");
        assert!(!shown.contains(e.manual_entry_key.expose_secret()));
        assert!(!shown.contains("otpauth://"));
        assert!(shown.contains("REDACTED"));
    }

    #[test]
    fn enrolment_rejects_bad_labels() {
        for (issuer, account) in [
            ("Evil:Corp", "bob"),
            ("Portcullis", "a:b"),
            ("", "bob"),
            ("P", " "),
        ] {
            assert!(
                matches!(
                    TotpEnrolment::new(issuer, account),
                    Err(TotpError::InvalidLabel { .. })
                ),
                "{issuer:?} {account:?}"
            );
        }
    }
}
