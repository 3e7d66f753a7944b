//! Attack scenarios against the credential modules, driven through the public API the way the
//! server will drive it: load state, verify with the clock as a value, store the new state.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use authn::otp::{self, MemoryOutbox, OtpChannel, OtpError, OtpKey, OtpState, Sender};
use authn::password::{self, PasswordParams, PasswordRejected};
use authn::tap::{self, TapError, TapPolicy};
use authn::totp::{self, TotpError};
use chrono::{DateTime, Duration, TimeZone, Utc};
use policy::method::AuthenticationMethodMode as Mode;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use uuid::Uuid;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 15, 10, 0, 0)
        .single()
        .unwrap()
}

const FAST: PasswordParams = PasswordParams {
    memory_kib: 1024,
    iterations: 1,
    parallelism: 1,
};

// ---------------------------------------------------------------- passwords

#[test]
fn breached_password_is_refused() {
    let err = password::check_new_password(&SecretString::from("password123456"), &[]);
    assert!(
        matches!(err, Err(PasswordRejected::TooGuessable { .. })),
        "{err:?}"
    );
    // The message is readable on its own.
    let text = err.unwrap_err().to_string();
    assert!(
        text.starts_with("The password is too easy to guess."),
        "{text}"
    );
}

#[test]
fn password_equal_to_upn_is_refused() {
    let upn = "megan.bowen@contoso.com";
    let local = upn.split('@').next().unwrap();
    for candidate in [upn, "megan.bowen@contoso.com", "Megan.Bowen2025!"] {
        assert_eq!(
            password::check_new_password(&SecretString::from(candidate), &[local, "Megan Bowen"]),
            Err(PasswordRejected::ContainsPersonalInfo),
            "{candidate}"
        );
    }
}

#[test]
fn password_sign_in_with_rehash() {
    let old = PasswordParams {
        memory_kib: 2048,
        ..FAST
    };
    let stored =
        password::hash_password(&old, &SecretString::from("tundra mango vulpine 47")).unwrap();
    assert!(!password::verify_password(&stored, &SecretString::from("guess")).unwrap());
    let right = SecretString::from("tundra mango vulpine 47");
    assert!(password::verify_password(&stored, &right).unwrap());
    // The hash was made under older parameters: replace it now that the password is at hand.
    assert!(password::needs_rehash(&stored, &FAST));
    let fresh = password::hash_password(&FAST, &right).unwrap();
    assert!(!password::needs_rehash(&fresh, &FAST));
    assert_eq!(password::MODE, Mode::Password);
}

// ---------------------------------------------------------------- TOTP

fn rfc_secret() -> SecretSlice<u8> {
    SecretSlice::from(b"12345678901234567890".to_vec())
}

#[test]
fn replayed_totp_code_is_refused() {
    // The stored last-used step travels between the two attempts as the caller would store it.
    let last = totp::verify_totp(&rfc_secret(), "287082", at(59), None).unwrap();
    let replay = totp::verify_totp(&rfc_secret(), "287082", at(65), Some(last));
    assert_eq!(replay, Err(TotpError::Replayed { step: 1 }));
}

#[test]
fn totp_code_from_two_steps_ago_is_refused() {
    // 287082 is the code of step 1 (t = 30..59); at t = 90 the current step is 3.
    assert_eq!(
        totp::verify_totp(&rfc_secret(), "287082", at(90), None),
        Err(TotpError::Mismatch)
    );
    // One step late is still fine.
    assert_eq!(
        totp::verify_totp(&rfc_secret(), "287082", at(89), None),
        Ok(1)
    );
}

#[test]
fn malformed_totp_codes_are_typed_errors() {
    for bad in ["28708", "2870820", "28708x", "", "   "] {
        assert_eq!(
            totp::verify_totp(&rfc_secret(), bad, at(59), None),
            Err(TotpError::Malformed),
            "{bad:?}"
        );
    }
}

// ---------------------------------------------------------------- OTP

/// Issues a code for `challenge` and delivers it through `outbox`, as the server will.
fn send_code(outbox: &MemoryOutbox, key: &OtpKey, challenge: Uuid, to: &str) -> OtpState {
    let issued = otp::issue_otp(key, challenge, t0(), otp::DEFAULT_TTL).unwrap();
    let text = otp::otp_message(OtpChannel::Sms, &issued.code, "Contoso");
    otp::ready_now(outbox.send(OtpChannel::Sms, to, text.expose_secret()))
        .unwrap()
        .unwrap();
    issued.state()
}

/// Reads the code back from the outbox, as a person would from their phone.
fn code_from_outbox(outbox: &MemoryOutbox, to: &str) -> String {
    let msg = outbox.last_to(to).unwrap();
    msg.body.expose_secret().chars().take(6).collect()
}

#[test]
fn otp_round_trip_through_the_outbox() {
    let outbox = MemoryOutbox::new();
    let key = OtpKey::generate().unwrap();
    let challenge = Uuid::new_v4();
    let state = send_code(&outbox, &key, challenge, "+15550100");
    let code = code_from_outbox(&outbox, "+15550100");
    let after = otp::verify_otp(&state, &code, t0(), &key, challenge).unwrap();
    assert!(after.consumed);
    assert_eq!(OtpChannel::Sms.mode(), Mode::Sms);
    assert!(!OtpChannel::Sms.mode().is_phishing_resistant());
}

#[test]
fn otp_brute_force_is_stopped_after_five_attempts() {
    let outbox = MemoryOutbox::new();
    let key = OtpKey::generate().unwrap();
    let challenge = Uuid::new_v4();
    let mut state = send_code(&outbox, &key, challenge, "+15550100");
    let code = code_from_outbox(&outbox, "+15550100");
    // An attacker walks the code space; the stored state is updated after every guess.
    let mut tried = 0;
    for n in 0..1_000_000u32 {
        let guess = format!("{n:06}");
        if guess == code {
            continue; // make the attacker unlucky, so the limit is what stops them
        }
        match otp::verify_otp(&state, &guess, t0(), &key, challenge) {
            Ok(_) => panic!("a wrong guess was accepted"),
            Err(rejected) => {
                state = rejected.state;
                match rejected.reason {
                    OtpError::Mismatch { .. } => tried += 1,
                    OtpError::TooManyAttempts => break,
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }
    assert_eq!(tried, 5);
    // Even the right code is dead now.
    let r = otp::verify_otp(&state, &code, t0(), &key, challenge).unwrap_err();
    assert_eq!(r.reason, OtpError::TooManyAttempts);
}

#[test]
fn expired_otp_is_refused() {
    let outbox = MemoryOutbox::new();
    let key = OtpKey::generate().unwrap();
    let challenge = Uuid::new_v4();
    let state = send_code(&outbox, &key, challenge, "a@contoso.com");
    let code = code_from_outbox(&outbox, "a@contoso.com");
    let late = t0() + otp::DEFAULT_TTL;
    let r = otp::verify_otp(&state, &code, late, &key, challenge).unwrap_err();
    assert_eq!(r.reason, OtpError::Expired);
}

#[test]
fn database_leak_does_not_reveal_the_code() {
    use sha2::{Digest, Sha256};
    let key = OtpKey::generate().unwrap();
    let challenge = Uuid::new_v4();
    let issued = otp::issue_otp(&key, challenge, t0(), otp::DEFAULT_TTL).unwrap();
    let code = issued.code.expose_secret();
    let row = serde_json::to_string(&issued.state()).unwrap();
    assert!(!row.contains(code));
    // The stored hash is keyed: an unkeyed hash of the code (which a thief could tabulate for
    // all 10^6 codes) is not it…
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut with_challenge = challenge.as_bytes().to_vec();
    with_challenge.extend_from_slice(code.as_bytes());
    assert_ne!(issued.code_hash, hex(&Sha256::digest(code.as_bytes())));
    assert_ne!(issued.code_hash, hex(&Sha256::digest(&with_challenge)));
    // …and without the right key even the right code does not verify.
    let thief_key = OtpKey::generate().unwrap();
    let r = otp::verify_otp(&issued.state(), code, t0(), &thief_key, challenge).unwrap_err();
    assert!(matches!(r.reason, OtpError::Mismatch { .. }));
}

// ---------------------------------------------------------------- TAP

#[test]
fn reused_one_time_tap_is_refused() {
    let issued = tap::issue_tap(&TapPolicy::default(), t0(), None, None, true).unwrap();
    let first =
        tap::verify_tap(&issued.state(), &issued.pass, t0() + Duration::minutes(1)).unwrap();
    assert_eq!(first.mode, Mode::TemporaryAccessPassOneTime);
    let again = tap::verify_tap(&first.state, &issued.pass, t0() + Duration::minutes(2));
    assert!(matches!(again, Err(TapError::AlreadyUsed { .. })));
}

#[test]
fn tap_before_start_is_refused() {
    let start = t0() + Duration::hours(3);
    let issued = tap::issue_tap(&TapPolicy::default(), t0(), Some(start), None, false).unwrap();
    assert_eq!(
        tap::verify_tap(&issued.state(), &issued.pass, t0()),
        Err(TapError::NotYetValid { starts_at: start })
    );
}

#[test]
fn wrong_tap_is_refused() {
    let issued = tap::issue_tap(&TapPolicy::default(), t0(), None, None, false).unwrap();
    let other = tap::issue_tap(&TapPolicy::default(), t0(), None, None, false).unwrap();
    assert_eq!(
        tap::verify_tap(&issued.state(), &other.pass, t0()),
        Err(TapError::Mismatch)
    );
}

#[test]
fn expired_tap_is_refused() {
    let issued = tap::issue_tap(
        &TapPolicy::default(),
        t0(),
        None,
        Some(Duration::minutes(10)),
        false,
    )
    .unwrap();
    assert!(matches!(
        tap::verify_tap(&issued.state(), &issued.pass, t0() + Duration::minutes(10)),
        Err(TapError::Expired { .. })
    ));
}

#[test]
fn tap_lifetime_outside_policy_is_refused() {
    assert!(matches!(
        tap::issue_tap(
            &TapPolicy::default(),
            t0(),
            None,
            Some(Duration::hours(9)),
            true
        ),
        Err(TapError::LifetimeOutOfBounds { .. })
    ));
}

// ---------------------------------------------------------------- secrets stay out of logs

#[test]
fn no_secret_reaches_debug_output() {
    let tap = tap::issue_tap(&TapPolicy::default(), t0(), None, None, true).unwrap();
    let otp_key = OtpKey::generate().unwrap();
    let otp = otp::issue_otp(&otp_key, Uuid::new_v4(), t0(), otp::DEFAULT_TTL).unwrap();
    let enrol = totp::TotpEnrolment::new("Contoso", "megan@contoso.com").unwrap();
    let pw = SecretString::from("tundra mango vulpine 47");
    let dump = format!("{tap:?} {otp:?} {enrol:?} {pw:?} {otp_key:?}");
    assert!(!dump.contains(tap.pass.expose_secret()));
    assert!(!dump.contains(otp.code.expose_secret()));
    assert!(!dump.contains(enrol.manual_entry_key.expose_secret()));
    assert!(!dump.contains("tundra"));
}
