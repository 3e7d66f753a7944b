//! One-time codes sent by SMS, voice call or e-mail.
//!
//! A verified code proves the mode of its channel ([`OtpChannel::mode`]: `sms`, `voice` or
//! `email`). **None of these is ever phishing-resistant** (NIST SP 800-63B): the code travels to
//! the person over a channel not bound to the site, so a proxy that asks for it can relay it;
//! SMS and voice are also open to SIM swap and number porting, e-mail to mailbox takeover.
//!
//! The flow: [`issue_otp`] draws a 6-digit code from the operating system's CSPRNG and returns
//! it with the state to store. Only a keyed hash of the code is stored —
//! HMAC-SHA256(server key, challenge id ‖ code) — so a copy of the database does not reveal live
//! codes, and a code cannot be moved to another challenge. [`otp_message`] builds the text and a
//! [`Sender`] delivers it. [`verify_otp`] checks a code against the stored state and returns the
//! state to store next: at most [`MAX_ATTEMPTS`] guesses per code, one success, expiry.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use policy::method::AuthenticationMethodMode;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// Digits in a code.
pub const CODE_DIGITS: usize = 6;

/// Guesses allowed per issued code; the next one is refused even if right.
pub const MAX_ATTEMPTS: u32 = 5;

/// A sensible lifetime for a code.
pub const DEFAULT_TTL: Duration = Duration::minutes(5);

/// The longest lifetime [`issue_otp`] accepts (NIST SP 800-63B's limit for out-of-band codes).
pub const MAX_TTL: Duration = Duration::minutes(10);

/// How a code reaches the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OtpChannel {
    /// Text message.
    Sms,
    /// Voice call reading the code out.
    Voice,
    /// E-mail.
    Email,
}

impl OtpChannel {
    /// The method mode a code verified on this channel proves. Never phishing-resistant.
    pub fn mode(self) -> AuthenticationMethodMode {
        match self {
            OtpChannel::Sms => AuthenticationMethodMode::Sms,
            OtpChannel::Voice => AuthenticationMethodMode::Voice,
            OtpChannel::Email => AuthenticationMethodMode::Email,
        }
    }
}

/// The server's key for hashing codes. At least [`OtpKey::MIN_BYTES`] bytes; `Debug` is redacted.
#[derive(Debug, Clone)]
pub struct OtpKey(SecretSlice<u8>);

impl OtpKey {
    /// Fewest bytes a key may have.
    pub const MIN_BYTES: usize = 32;

    /// Wraps key material loaded from configuration.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, OtpIssueError> {
        if bytes.len() < Self::MIN_BYTES {
            return Err(OtpIssueError::KeyTooShort(bytes.len()));
        }
        Ok(OtpKey(SecretSlice::from(bytes)))
    }

    /// A fresh random key of [`OtpKey::MIN_BYTES`] bytes.
    pub fn generate() -> Result<Self, OtpIssueError> {
        let mut bytes = vec![0u8; Self::MIN_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| OtpIssueError::Random(e.to_string()))?;
        Ok(OtpKey(SecretSlice::from(bytes)))
    }

    /// HMAC-SHA256(key, challenge id ‖ code), lower-case hex.
    fn code_hash(&self, challenge_id: Uuid, code: &str) -> String {
        // HMAC takes keys of any length, so this cannot fail; keep the compiler honest anyway.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.0.expose_secret()) else {
            return String::new();
        };
        mac.update(challenge_id.as_bytes());
        mac.update(code.as_bytes());
        to_hex(&mac.finalize().into_bytes())
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// A code just issued: `code` goes to the person, the rest into storage.
#[derive(Debug, Clone)]
pub struct IssuedOtp {
    /// The code, [`CODE_DIGITS`] digits.
    pub code: SecretString,
    /// HMAC-SHA256(server key, challenge id ‖ code), hex.
    pub code_hash: String,
    /// The code is refused from this instant on.
    pub expires_at: DateTime<Utc>,
}

impl IssuedOtp {
    /// The state to store for the challenge.
    pub fn state(&self) -> OtpState {
        OtpState {
            code_hash: self.code_hash.clone(),
            expires_at: self.expires_at,
            attempts: 0,
            consumed: false,
        }
    }
}

/// What is stored about an issued code between the sending and the checking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtpState {
    /// HMAC-SHA256(server key, challenge id ‖ code), hex.
    pub code_hash: String,
    /// The code is refused from this instant on.
    pub expires_at: DateTime<Utc>,
    /// Well-formed guesses made so far, right or wrong.
    pub attempts: u32,
    /// The code was accepted once and is spent.
    pub consumed: bool,
}

/// Why a code could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OtpIssueError {
    /// The lifetime is not positive or longer than [`MAX_TTL`].
    #[error("a code's lifetime must be positive and at most {} minutes", MAX_TTL.num_minutes())]
    InvalidTtl,
    /// `now + ttl` is beyond the representable range.
    #[error("expiry out of range")]
    OutOfRange,
    /// The server key is shorter than [`OtpKey::MIN_BYTES`].
    #[error("the code key has {0} bytes; at least {min} are needed", min = OtpKey::MIN_BYTES)]
    KeyTooShort(usize),
    /// The operating system's random source failed.
    #[error("random source unavailable: {0}")]
    Random(String),
}

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OtpError {
    /// The code's lifetime is over.
    #[error("the code has expired; request a new one")]
    Expired,
    /// The code was already accepted once.
    #[error("the code has already been used; request a new one")]
    Consumed,
    /// [`MAX_ATTEMPTS`] guesses were made; this code is dead even if the guess is right.
    #[error("too many attempts; request a new code")]
    TooManyAttempts,
    /// Wrong code; `remaining` guesses are left (0: request a new code).
    #[error("the code is not valid ({remaining} attempts left)")]
    Mismatch {
        /// Guesses left for this code.
        remaining: u32,
    },
    /// Not six ASCII digits (spaces aside). Does not use up an attempt: it cannot match.
    #[error("the code must be {CODE_DIGITS} digits")]
    Malformed,
}

/// A refused code, with the state to store in place of the old one (the attempt counter may
/// have moved). Always store `state` before answering, or the attempt limit does nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct OtpRejected {
    /// Why.
    pub reason: OtpError,
    /// The state to store.
    pub state: OtpState,
}

/// Draws a uniformly random `CODE_DIGITS`-digit code from the OS CSPRNG (rejection sampling, so
/// no digit string is likelier than another).
fn random_code() -> Result<String, OtpIssueError> {
    const RANGE: u32 = 1_000_000; // 10^CODE_DIGITS
    const LIMIT: u32 = u32::MAX - (u32::MAX % RANGE); // largest multiple of RANGE
    loop {
        let mut buf = [0u8; 4];
        getrandom::fill(&mut buf).map_err(|e| OtpIssueError::Random(e.to_string()))?;
        let n = u32::from_le_bytes(buf);
        if n < LIMIT {
            return Ok(format!("{:06}", n % RANGE));
        }
    }
}

/// Issues a code for challenge `challenge_id` (the id under which the caller stores the state),
/// valid from `now` for `ttl` (at most [`MAX_TTL`]).
pub fn issue_otp(
    key: &OtpKey,
    challenge_id: Uuid,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<IssuedOtp, OtpIssueError> {
    if ttl <= Duration::zero() || ttl > MAX_TTL {
        return Err(OtpIssueError::InvalidTtl);
    }
    let expires_at = now
        .checked_add_signed(ttl)
        .ok_or(OtpIssueError::OutOfRange)?;
    let code = random_code()?;
    Ok(IssuedOtp {
        code_hash: key.code_hash(challenge_id, &code),
        code: SecretString::from(code),
        expires_at,
    })
}

/// Strips whitespace and checks that six ASCII digits remain.
fn normalize_code(code: &str) -> Option<String> {
    if code.len() > 64 {
        return None;
    }
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// Checks `code` for the challenge `challenge_id` whose stored state is `stored`.
///
/// Checked in this order: spent ([`OtpError::Consumed`]), out of attempts
/// ([`OtpError::TooManyAttempts`]), expired ([`OtpError::Expired`]), malformed; then the code is
/// compared in constant time. A wrong code uses up an attempt. On success the returned state is
/// marked consumed; on refusal [`OtpRejected::state`] is what to store.
pub fn verify_otp(
    stored: &OtpState,
    code: &str,
    now: DateTime<Utc>,
    key: &OtpKey,
    challenge_id: Uuid,
) -> Result<OtpState, OtpRejected> {
    let reject = |reason: OtpError, state: OtpState| Err(OtpRejected { reason, state });
    if stored.consumed {
        return reject(OtpError::Consumed, stored.clone());
    }
    if stored.attempts >= MAX_ATTEMPTS {
        return reject(OtpError::TooManyAttempts, stored.clone());
    }
    if now >= stored.expires_at {
        return reject(OtpError::Expired, stored.clone());
    }
    let Some(code) = normalize_code(code) else {
        return reject(OtpError::Malformed, stored.clone());
    };
    let mut next = stored.clone();
    next.attempts = stored.attempts.saturating_add(1);
    let computed = key.code_hash(challenge_id, &code);
    let matches: bool = computed
        .as_bytes()
        .ct_eq(stored.code_hash.as_bytes())
        .into();
    if matches {
        next.consumed = true;
        Ok(next)
    } else {
        let remaining = MAX_ATTEMPTS.saturating_sub(next.attempts);
        reject(OtpError::Mismatch { remaining }, next)
    }
}

/// The text that carries `code` to the person. `issuer` is the name they know the service by;
/// control characters in it are dropped. The text contains the code, so it is returned wrapped.
pub fn otp_message(channel: OtpChannel, code: &SecretString, issuer: &str) -> SecretString {
    let issuer: String = issuer.chars().filter(|c| !c.is_control()).collect();
    let issuer = issuer.trim();
    let code = code.expose_secret();
    let text = match channel {
        OtpChannel::Sms => format!(
            "{code} is your {issuer} verification code. Do not share it with anyone, \
             including {issuer} staff."
        ),
        OtpChannel::Voice => {
            let spoken = code
                .chars()
                .map(String::from)
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "This is {issuer}. Your verification code is: {spoken}. \
                 Again, your code is: {spoken}. Do not share it with anyone."
            )
        }
        OtpChannel::Email => format!(
            "Your {issuer} verification code is:\n\n    {code}\n\n\
             Enter it on the sign-in page; do not share it with anyone. If you did not try to \
             sign in, someone may know your password: change it, and ignore this message."
        ),
    };
    SecretString::from(text)
}

/// Why a message could not be handed over for delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The recipient address or number is not usable on this channel.
    #[error("invalid recipient: {0}")]
    InvalidRecipient(String),
    /// The channel is not configured or its provider refused or failed.
    #[error("delivery unavailable: {0}")]
    Unavailable(String),
}

/// What [`Sender::send`] returns: delivery is I/O (an outbox table, a provider's API), so it is
/// awaited; boxed so that senders can be chosen at run time (`dyn Sender`).
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// Delivers messages. Implementations hand the message over (to a provider or an outbox) and
/// return; delivery itself is not confirmed.
pub trait Sender: Send + Sync {
    /// Sends `message` to `recipient` (a phone number for SMS and voice, an address for e-mail).
    fn send<'a>(
        &'a self,
        channel: OtpChannel,
        recipient: &'a str,
        message: &'a str,
    ) -> SendFuture<'a>;
}

/// A message handed to a [`Sender`].
#[derive(Debug, Clone)]
pub struct Message {
    /// The channel.
    pub channel: OtpChannel,
    /// Phone number or address.
    pub recipient: String,
    /// The text; it carries a code, so it is wrapped.
    pub body: SecretString,
}

/// A [`Sender`] that keeps messages in memory, for tests and local development.
#[derive(Debug, Default)]
pub struct MemoryOutbox {
    messages: Mutex<Vec<Message>>,
}

impl MemoryOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything sent so far, oldest first.
    pub fn messages(&self) -> Vec<Message> {
        self.messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The latest message to `recipient`.
    pub fn last_to(&self, recipient: &str) -> Option<Message> {
        self.messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .rev()
            .find(|m| m.recipient == recipient)
            .cloned()
    }

    /// Removes and returns everything sent so far.
    pub fn take(&self) -> Vec<Message> {
        std::mem::take(&mut *self.messages.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Sender for MemoryOutbox {
    fn send<'a>(
        &'a self,
        channel: OtpChannel,
        recipient: &'a str,
        message: &'a str,
    ) -> SendFuture<'a> {
        let result = if recipient.trim().is_empty() {
            Err(SendError::InvalidRecipient("empty".to_string()))
        } else {
            self.messages
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Message {
                    channel,
                    recipient: recipient.to_string(),
                    body: SecretString::from(message),
                });
            Ok(())
        };
        Box::pin(std::future::ready(result))
    }
}

/// Runs a future that is already complete (a [`MemoryOutbox`] send) without an executor;
/// `None` if it is not ready.
pub fn ready_now<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn key() -> OtpKey {
        OtpKey::from_bytes(vec![7u8; 32]).unwrap()
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).single().unwrap()
    }

    fn issue(id: Uuid) -> IssuedOtp {
        issue_otp(&key(), id, t0(), DEFAULT_TTL).unwrap()
    }

    /// A six-digit code other than `code`.
    fn wrong(code: &str) -> String {
        let n: u32 = code.parse().unwrap();
        format!("{:06}", (n + 1) % 1_000_000)
    }

    #[test]
    fn issued_code_is_six_digits_and_only_its_hash_is_stored() {
        let id = Uuid::new_v4();
        let otp = issue(id);
        let code = otp.code.expose_secret();
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(otp.code_hash.len(), 64);
        assert!(!otp.code_hash.contains(code));
        assert_eq!(otp.expires_at, t0() + DEFAULT_TTL);
        let state = otp.state();
        assert_eq!(state.attempts, 0);
        assert!(!state.consumed);
        let json = serde_json::to_string(&state).unwrap();
        assert!(!json.contains(code));
        assert!(!format!("{otp:?}").contains(code));
    }

    #[test]
    fn right_code_is_accepted_once() {
        let id = Uuid::new_v4();
        let otp = issue(id);
        let code = otp.code.expose_secret().to_string();
        let after = verify_otp(&otp.state(), &code, t0(), &key(), id).unwrap();
        assert!(after.consumed);
        let again = verify_otp(&after, &code, t0(), &key(), id).unwrap_err();
        assert_eq!(again.reason, OtpError::Consumed);
    }

    #[test]
    fn brute_force_is_stopped_after_five_attempts() {
        let id = Uuid::new_v4();
        let otp = issue(id);
        let code = otp.code.expose_secret().to_string();
        let mut state = otp.state();
        for expected_remaining in (0..5).rev() {
            let r = verify_otp(&state, &wrong(&code), t0(), &key(), id).unwrap_err();
            assert_eq!(
                r.reason,
                OtpError::Mismatch {
                    remaining: expected_remaining
                }
            );
            state = r.state;
        }
        assert_eq!(state.attempts, 5);
        // The sixth guess is refused even though it is right.
        let r = verify_otp(&state, &code, t0(), &key(), id).unwrap_err();
        assert_eq!(r.reason, OtpError::TooManyAttempts);
        assert_eq!(r.state, state);
    }

    #[test]
    fn fifth_guess_can_still_succeed() {
        let id = Uuid::new_v4();
        let otp = issue(id);
        let code = otp.code.expose_secret().to_string();
        let mut state = otp.state();
        for _ in 0..4 {
            state = verify_otp(&state, &wrong(&code), t0(), &key(), id)
                .unwrap_err()
                .state;
        }
        assert!(
            verify_otp(&state, &code, t0(), &key(), id)
                .unwrap()
                .consumed
        );
    }

    #[test]
    fn expired_code_is_refused_without_using_an_attempt() {
        let id = Uuid::new_v4();
        let otp = issue(id);
        let code = otp.code.expose_secret().to_string();
        let just_before = otp.expires_at - Duration::seconds(1);
        assert!(verify_otp(&otp.state(), &code, just_before, &key(), id).is_ok());
        let r = verify_otp(&otp.state(), &code, otp.expires_at, &key(), id).unwrap_err();
        assert_eq!(r.reason, OtpError::Expired);
        assert_eq!(r.state.attempts, 0);
    }

    #[test]
    fn code_is_bound_to_its_challenge_and_key() {
        let id = Uuid::new_v4();
        let otp = issue(id);
        let code = otp.code.expose_secret().to_string();
        let other_challenge = verify_otp(&otp.state(), &code, t0(), &key(), Uuid::new_v4());
        assert!(matches!(
            other_challenge.unwrap_err().reason,
            OtpError::Mismatch { remaining: 4 }
        ));
        let other_key = OtpKey::from_bytes(vec![8u8; 32]).unwrap();
        assert!(verify_otp(&otp.state(), &code, t0(), &other_key, id).is_err());
    }

    #[test]
    fn malformed_code_does_not_use_an_attempt() {
        let id = Uuid::new_v4();
        let otp = issue(id);
        for bad in ["", "12345", "1234567", "abcdef", "１２３４５６"] {
            let r = verify_otp(&otp.state(), bad, t0(), &key(), id).unwrap_err();
            assert_eq!(r.reason, OtpError::Malformed, "{bad:?}");
            assert_eq!(r.state.attempts, 0);
        }
        let spaced = otp
            .code
            .expose_secret()
            .chars()
            .fold(String::new(), |mut s, c| {
                s.push(c);
                s.push(' ');
                s
            });
        assert!(verify_otp(&otp.state(), &spaced, t0(), &key(), id).is_ok());
    }

    #[test]
    fn ttl_bounds_and_key_length() {
        let id = Uuid::new_v4();
        for ttl in [
            Duration::zero(),
            Duration::seconds(-5),
            MAX_TTL + Duration::seconds(1),
        ] {
            assert_eq!(
                issue_otp(&key(), id, t0(), ttl).unwrap_err(),
                OtpIssueError::InvalidTtl
            );
        }
        assert!(issue_otp(&key(), id, t0(), MAX_TTL).is_ok());
        assert_eq!(
            issue_otp(&key(), id, DateTime::<Utc>::MAX_UTC, DEFAULT_TTL).unwrap_err(),
            OtpIssueError::OutOfRange
        );
        assert_eq!(
            OtpKey::from_bytes(vec![1; 31]).unwrap_err(),
            OtpIssueError::KeyTooShort(31)
        );
        assert!(!format!("{:?}", key()).contains('7'));
    }

    #[test]
    fn codes_look_uniform() {
        // 2000 codes: all well-formed, and the leading digit takes all ten values.
        let mut first = [0u32; 10];
        for _ in 0..2000 {
            let c = random_code().unwrap();
            assert_eq!(c.len(), 6);
            let d = usize::from(c.as_bytes()[0] - b'0');
            first[d] += 1;
        }
        assert!(first.iter().all(|&n| n > 100), "{first:?}");
    }

    #[test]
    fn channels_map_to_modes_none_phishing_resistant() {
        for (c, m) in [
            (OtpChannel::Sms, "sms"),
            (OtpChannel::Voice, "voice"),
            (OtpChannel::Email, "email"),
        ] {
            assert_eq!(c.mode().as_str(), m);
            assert!(!c.mode().is_phishing_resistant());
        }
    }

    #[test]
    fn messages_carry_the_code_and_issuer() {
        let code = SecretString::from("012345");
        let sms = otp_message(OtpChannel::Sms, &code, "Contoso\r\nEvil");
        assert!(sms
            .expose_secret()
            .starts_with("012345 is your ContosoEvil"));
        let voice = otp_message(OtpChannel::Voice, &code, "Contoso");
        assert!(voice.expose_secret().contains("0, 1, 2, 3, 4, 5"));
        let email = otp_message(OtpChannel::Email, &code, "Contoso");
        assert!(email.expose_secret().contains("012345"));
        assert!(!format!("{email:?}").contains("012345"));
    }

    #[test]
    fn memory_outbox_records_messages() {
        let outbox = MemoryOutbox::new();
        let sender: &dyn Sender = &outbox;
        let send = |c, to, m| ready_now(sender.send(c, to, m)).unwrap();
        send(OtpChannel::Sms, "+15550100", "hello 1").unwrap();
        send(OtpChannel::Email, "a@b.test", "hello 2").unwrap();
        send(OtpChannel::Sms, "+15550100", "hello 3").unwrap();
        assert!(matches!(
            send(OtpChannel::Sms, " ", "x"),
            Err(SendError::InvalidRecipient(_))
        ));
        assert_eq!(outbox.messages().len(), 3);
        let last = outbox.last_to("+15550100").unwrap();
        assert_eq!(last.body.expose_secret(), "hello 3");
        assert_eq!(last.channel, OtpChannel::Sms);
        assert_eq!(outbox.take().len(), 3);
        assert!(outbox.messages().is_empty());
    }
}
