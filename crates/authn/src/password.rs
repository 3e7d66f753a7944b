//! Passwords: argon2id hashing, verification, rehash detection and the rules for a new password.
//!
//! A verified password proves mode [`MODE`] (`password`), which only ever stands as a first
//! factor. Hashes are PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`); the parameters of
//! new hashes come from [`PasswordParams`], and a hash made with other parameters (an older
//! configuration, or an import) still verifies: [`needs_rehash`] tells the caller to replace it
//! after the next successful sign-in.
//!
//! New passwords follow NIST SP 800-63B §3.1.1.2: a length between 12 and 256 characters (Unicode
//! code points, not bytes), no composition rules, and a check against common and guessable
//! passwords (zxcvbn's frequency lists, which come from password leaks) and against the user's
//! own names.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use policy::method::AuthenticationMethodMode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The method mode a verified password proves.
pub const MODE: AuthenticationMethodMode = AuthenticationMethodMode::Password;

/// Fewest characters a new password may have.
pub const MIN_LENGTH: usize = 12;

/// Most characters a new password may have.
pub const MAX_LENGTH: usize = 256;

/// Lowest zxcvbn score (0–4) a new password must reach.
pub const MIN_SCORE: u8 = 3;

/// Argon2id cost parameters for new hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordParams {
    /// Memory cost in KiB (`m`).
    pub memory_kib: u32,
    /// Number of passes (`t`).
    pub iterations: u32,
    /// Degree of parallelism (`p`).
    pub parallelism: u32,
}

impl Default for PasswordParams {
    /// OWASP's recommended argon2id minimum: 19 MiB, 2 iterations, parallelism 1.
    fn default() -> Self {
        PasswordParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl PasswordParams {
    fn hasher(&self) -> Result<Argon2<'static>, PasswordError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(PasswordError::InvalidParams)?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// A password hash as stored: a PHC string.
///
/// `Debug` shows the algorithm and parameters but not the salt and hash, which are material for
/// an offline guessing attack and have no business in logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string read from storage, without checking it: a malformed one is reported
    /// by [`verify_password`] as [`PasswordError::MalformedHash`].
    pub fn from_stored(phc: impl Into<String>) -> Self {
        PasswordHash(phc.into())
    }

    /// The PHC string, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `$alg$v=..$params$salt$hash`: keep the first three fields.
        let shown: Vec<&str> = self.0.split('$').take(4).collect();
        write!(f, "PasswordHash({:?}$…)", shown.join("$"))
    }
}

/// Why hashing or verifying failed. A wrong password is not an error: it is `Ok(false)`.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The configured parameters are out of argon2's range.
    #[error("invalid argon2 parameters: {0}")]
    InvalidParams(#[source] argon2::Error),
    /// The stored hash is not a complete PHC string.
    #[error("stored password hash is malformed: {0}")]
    MalformedHash(String),
    /// The stored hash names an algorithm other than argon2.
    #[error("stored password hash uses unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// Hashing failed (random salt unavailable, memory, or parameters in the stored hash).
    #[error("password hashing failed: {0}")]
    Hash(#[source] argon2::password_hash::Error),
}

/// Hashes `password` with argon2id, a fresh random 16-byte salt and `params`.
pub fn hash_password(
    params: &PasswordParams,
    password: &SecretString,
) -> Result<PasswordHash, PasswordError> {
    let hash = params
        .hasher()?
        .hash_password(password.expose_secret().as_bytes())
        .map_err(PasswordError::Hash)?;
    Ok(PasswordHash(hash.to_string()))
}

/// Parses a stored hash and checks it is a complete argon2 PHC string.
fn parse_stored(stored: &PasswordHash) -> Result<(argon2::PasswordHash, Algorithm), PasswordError> {
    let parsed = argon2::PasswordHash::new(stored.as_str())
        .map_err(|e| PasswordError::MalformedHash(e.to_string()))?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str())
        .map_err(|_| PasswordError::UnsupportedAlgorithm(parsed.algorithm.as_str().to_string()))?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(PasswordError::MalformedHash(
            "salt or hash missing".to_string(),
        ));
    }
    Ok((parsed, algorithm))
}

/// Checks `candidate` against a stored hash, with the algorithm, version and parameters recorded
/// in the hash (so hashes made under an older configuration still verify). The final comparison
/// is constant-time (argon2's). `Ok(false)` is a wrong password; an unreadable stored hash is an
/// error.
pub fn verify_password(
    stored: &PasswordHash,
    candidate: &SecretString,
) -> Result<bool, PasswordError> {
    let (parsed, _) = parse_stored(stored)?;
    match Argon2::default().verify_password(candidate.expose_secret().as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(PasswordError::Hash(e)),
    }
}

/// Whether a stored hash should be replaced by one made with `params` (at the next successful
/// sign-in, while the plain password is at hand): true when it is not argon2id version 0x13 with
/// exactly these parameters, or cannot be read at all.
pub fn needs_rehash(stored: &PasswordHash, params: &PasswordParams) -> bool {
    let Ok((parsed, algorithm)) = parse_stored(stored) else {
        return true;
    };
    if algorithm != Algorithm::Argon2id || parsed.version != Some(Version::V0x13.into()) {
        return true;
    }
    match Params::try_from(&parsed) {
        Ok(p) => {
            p.m_cost() != params.memory_kib
                || p.t_cost() != params.iterations
                || p.p_cost() != params.parallelism
        }
        Err(_) => true,
    }
}

/// Why a new password is refused. The `Display` text is meant for the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejected {
    /// Fewer than [`MIN_LENGTH`] characters.
    #[error("The password must have at least {min} characters; it has {actual}.")]
    TooShort {
        /// The minimum.
        min: usize,
        /// Characters given.
        actual: usize,
    },
    /// More than [`MAX_LENGTH`] characters.
    #[error("The password must have at most {max} characters; it has {actual}.")]
    TooLong {
        /// The maximum.
        max: usize,
        /// Characters given.
        actual: usize,
    },
    /// Contains the user's sign-in name or display name (or a part of it).
    #[error("The password must not contain your user name or your name.")]
    ContainsPersonalInfo,
    /// Common, breached or otherwise easy to guess (zxcvbn score below [`MIN_SCORE`]).
    #[error("The password is too easy to guess. {feedback}")]
    TooGuessable {
        /// zxcvbn's score, 0–4.
        score: u8,
        /// zxcvbn's warning and suggestions, as sentences.
        feedback: String,
    },
}

/// The pieces of the user's own data a password must not contain, lower-cased: each input
/// whole, the local part of anything shaped like a UPN or e-mail address, and each word of four
/// characters or more (so "Alice Smith" rules out "smith" anywhere in the password).
fn personal_tokens(user_inputs: &[&str]) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut push = |t: &str, min_chars: usize| {
        let t = t.trim().to_lowercase();
        if t.chars().count() >= min_chars && !tokens.contains(&t) {
            tokens.push(t);
        }
    };
    for input in user_inputs {
        push(input, 3);
        if let Some((local, _domain)) = input.split_once('@') {
            push(local, 3);
        }
        for word in input.split(|c: char| !c.is_alphanumeric()) {
            push(word, 4);
        }
    }
    tokens
}

/// Checks a password someone wants to set. `user_inputs` are the user's UPN (or its local part),
/// display name, and other names of theirs; the password may contain none of them, and zxcvbn
/// also counts them as easy guesses.
pub fn check_new_password(
    candidate: &SecretString,
    user_inputs: &[&str],
) -> Result<(), PasswordRejected> {
    let password = candidate.expose_secret();
    let actual = password.chars().count();
    if actual < MIN_LENGTH {
        return Err(PasswordRejected::TooShort {
            min: MIN_LENGTH,
            actual,
        });
    }
    if actual > MAX_LENGTH {
        return Err(PasswordRejected::TooLong {
            max: MAX_LENGTH,
            actual,
        });
    }

    let tokens = personal_tokens(user_inputs);
    let lowered = password.to_lowercase();
    if tokens.iter().any(|t| lowered.contains(t.as_str())) {
        return Err(PasswordRejected::ContainsPersonalInfo);
    }

    let token_refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let entropy = zxcvbn::zxcvbn(password, &token_refs);
    let score = u8::from(entropy.score());
    if score < MIN_SCORE {
        return Err(PasswordRejected::TooGuessable {
            score,
            feedback: feedback_text(entropy.feedback()),
        });
    }
    Ok(())
}

/// Turns zxcvbn's feedback into sentences; a generic hint when it has none.
fn feedback_text(feedback: Option<&zxcvbn::feedback::Feedback>) -> String {
    let mut parts = Vec::new();
    if let Some(fb) = feedback {
        if let Some(w) = fb.warning() {
            parts.push(w.to_string());
        }
        parts.extend(fb.suggestions().iter().map(ToString::to_string));
    }
    if parts.is_empty() {
        parts.push("Add another word or two; uncommon words are better.".to_string());
    }
    parts.join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Small parameters so the tests are fast.
    const FAST: PasswordParams = PasswordParams {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    fn s(p: &str) -> SecretString {
        SecretString::from(p)
    }

    #[test]
    fn default_params_are_owasp() {
        let p = PasswordParams::default();
        assert_eq!((p.memory_kib, p.iterations, p.parallelism), (19456, 2, 1));
    }

    #[test]
    fn hash_then_verify() {
        let h = hash_password(&FAST, &s("tr0ub4dor&3-horse")).unwrap();
        assert!(h.as_str().starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(verify_password(&h, &s("tr0ub4dor&3-horse")).unwrap());
        assert!(!verify_password(&h, &s("tr0ub4dor&3-horsE")).unwrap());
        assert!(!verify_password(&h, &s("")).unwrap());
    }

    #[test]
    fn same_password_gets_a_fresh_salt() {
        let a = hash_password(&FAST, &s("same password")).unwrap();
        let b = hash_password(&FAST, &s("same password")).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn hash_made_with_other_params_still_verifies_and_needs_rehash() {
        let old = PasswordParams {
            memory_kib: 2048,
            iterations: 2,
            parallelism: 2,
        };
        let h = hash_password(&old, &s("an older configuration")).unwrap();
        assert!(verify_password(&h, &s("an older configuration")).unwrap());
        assert!(needs_rehash(&h, &FAST));
        assert!(!needs_rehash(&h, &old));
    }

    #[test]
    fn argon2i_hash_verifies_but_needs_rehash() {
        let params = Params::new(1024, 1, 1, None).unwrap();
        let h = Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
            .hash_password(b"imported")
            .unwrap()
            .to_string();
        let h = PasswordHash::from_stored(h);
        assert!(verify_password(&h, &s("imported")).unwrap());
        assert!(needs_rehash(&h, &FAST));
    }

    #[test]
    fn malformed_stored_hash_is_an_error_not_a_panic() {
        for bad in [
            "",
            "plaintext",
            "$argon2id$v=19$m=1024,t=1,p=1",
            "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ",
            "$argon2id$v=19$m=abc,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        ] {
            let h = PasswordHash::from_stored(bad);
            assert!(verify_password(&h, &s("x")).is_err(), "{bad:?}");
            assert!(needs_rehash(&h, &FAST));
        }
        let scrypt = PasswordHash::from_stored(
            "$scrypt$ln=4,r=8,p=1$c2FsdHNhbHQ$eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg",
        );
        assert!(matches!(
            verify_password(&scrypt, &s("x")),
            Err(PasswordError::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn invalid_params_are_an_error() {
        let bad = PasswordParams {
            memory_kib: 1,
            iterations: 0,
            parallelism: 0,
        };
        assert!(matches!(
            hash_password(&bad, &s("whatever")),
            Err(PasswordError::InvalidParams(_))
        ));
    }

    #[test]
    fn debug_hides_salt_and_hash() {
        let h = hash_password(&FAST, &s("secret value")).unwrap();
        let salt_and_hash: Vec<&str> = h.as_str().rsplitn(3, '$').take(2).collect();
        let shown = format!("{h:?}");
        assert!(shown.contains("argon2id"));
        for part in salt_and_hash {
            assert!(!shown.contains(part), "{shown}");
        }
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // 11 characters, 33 bytes: too short.
        let eleven = "ééééééééééé".replace('é', "日");
        assert_eq!(
            check_new_password(&s(&eleven), &[]),
            Err(PasswordRejected::TooShort {
                min: 12,
                actual: 11
            })
        );
        let too_long = "ab".repeat(129);
        assert!(matches!(
            check_new_password(&s(&too_long), &[]),
            Err(PasswordRejected::TooLong { max: 256, .. })
        ));
    }

    #[test]
    fn common_password_is_refused_with_feedback() {
        match check_new_password(&s("password123456"), &[]) {
            Err(PasswordRejected::TooGuessable { score, feedback }) => {
                assert!(score < 3);
                assert!(!feedback.is_empty());
            }
            other => panic!("expected TooGuessable, got {other:?}"),
        }
    }

    #[test]
    fn strong_passphrase_is_accepted() {
        check_new_password(
            &s("vulpine quartz mango tundra 47"),
            &["alice", "Alice Smith"],
        )
        .unwrap();
    }

    #[test]
    fn personal_info_is_refused() {
        let inputs = ["alice.wonderland@contoso.com", "Alice Wonderland"];
        for p in [
            "alice.wonderland",
            "Alice.Wonderland@contoso.com",
            "xylophone-WONDERLAND-42!",
        ] {
            assert_eq!(
                check_new_password(&s(p), &inputs),
                Err(PasswordRejected::ContainsPersonalInfo),
                "{p}"
            );
        }
    }

    #[test]
    fn short_name_words_do_not_block_everything() {
        // "Al" and "Li" are too short to be meaningful tokens on their own.
        check_new_password(&s("vulpine quartz mango tundra 47"), &["Al Li"]).unwrap();
    }
}
