//! WebAuthn security keys, passkeys and platform authenticators (on top of `webauthn-rs` 0.6).
//!
//! # Modes
//! A credential maps to a Graph `authenticationMethodModes` value (DESIGN §2):
//! - roaming authenticator (security key, phone over hybrid) or synced passkey → `fido2`;
//! - platform authenticator, device-bound, with user verification → `windowsHelloForBusiness`
//!   (shown to people as "Platform authenticator").
//!
//! See [`mode_for`]. A platform credential that is *backup eligible* (a synced passkey in a
//! password manager or an OS keychain) is a passkey, not a device-bound platform authenticator,
//! and so maps to `fido2`. Nothing here ever yields `windowsHelloForBusiness` without a positive
//! "platform" signal.
//!
//! # What is trusted, and how much
//! - **Attachment** ([`Attachment`]) comes from the registration response's
//!   `authenticatorAttachment` (WebAuthn L3, set by the browser), else from the transports the
//!   client reported (`["internal"]` alone means platform), else it is taken as cross-platform.
//!   None of these is signed by the authenticator: they are the *client's* report, trusted as far
//!   as the user's browser is. The consequence is bounded: both `fido2` and
//!   `windowsHelloForBusiness` are phishing-resistant and appear in the same built-in strengths;
//!   only a custom strength that allows one and not the other could be steered by a lying client,
//!   and such a strength should rely on `allowedAAGUIDs` with attestation ([`AttestationTrust`])
//!   instead.
//! - **Backup eligibility** (BE flag) is in the authenticator data, which is signed in every
//!   assertion; `webauthn-rs` refuses a credential whose BE flag changes except the upgrade
//!   false → true, which then turns the mode into `fido2` (and which is refused outright for an
//!   attested, hence device-bound, credential).
//! - **AAGUID** is read from the attested credential data of the registration response (the same
//!   bytes `webauthn-rs` verified). How far it can be believed is recorded next to it as
//!   [`AttestationTrust`]: only [`AttestationTrust::Verified`] (the attestation chain validated
//!   against the configured [`AttestationCaList`]) makes it a guarantee; otherwise it is the
//!   authenticator's claim as relayed by the client — the equivalent of Entra's FIDO2 policy
//!   with "enforce attestation" off. An all-zero AAGUID (sent by synced passkeys and by browsers
//!   that anonymise `attestation: "none"`) is recorded as `None`.
//!
//! # Attestation
//! Without a CA list ([`WebauthnConfig::attestation_cas`] = `None`) registrations use
//! `webauthn-rs`'s passkey ceremony: user verification required, any authenticator (security keys,
//! platform authenticators, synced passkeys), attestation not requested; whatever statement the
//! authenticator sends is still cryptographically checked by `webauthn-rs` and kept in the stored
//! credential. With a CA list, registrations use the *attested passkey* ceremony: direct
//! attestation, the chain must lead to one of the listed roots and the AAGUID must be one the root
//! vouches for; synced (backup-eligible) passkeys cannot be attested and are refused.
//!
//! # User verification
//! Required in both ceremonies (`userVerification: "required"`; the UV flag is checked by
//! `webauthn-rs` and again here).
//!
//! # Ceremony state, single use, replay
//! `start_*` return the options for the browser and a serialisable ceremony
//! ([`RegistrationCeremony`], [`AuthenticationCeremony`], JSON through `to_json`/`from_json`,
//! which is what `webauthn-rs`'s `danger-allow-state-serialisation` feature is for). The caller
//! stores it server-side until [`RegistrationCeremony::expires_at`]; `finish_*` take it **by
//! value** and the store must hand a given ceremony out once (delete-on-read), so the random
//! challenge inside can be answered once. A replayed assertion is refused because
//! 1. its ceremony is gone (challenge consumed): nothing to finish it with;
//! 2. finished against a copy of the ceremony anyway, it is compared to the credential's
//!    **current** stored signature counter (passed to [`Webauthn::finish_authentication`], not
//!    the snapshot inside the ceremony): a counter that did not go up is
//!    [`WebauthnError::CredentialCloned`];
//! 3. an answer to another ceremony has the wrong challenge ([`WebauthnError::CeremonyMismatch`]).
//!
//! Authenticators without a counter (always 0, typical of synced passkeys) rely on 1 and 3 only.
//! The store should update the counter with a compare-and-set on the old value.
//!
//! # Binding
//! [`Webauthn::start_authentication`] takes an optional binding (for a PIM step-up: the
//! activation request id and its nonce, DESIGN §8). `webauthn-rs` draws its own random challenge;
//! the binding's SHA-256 is recorded in the ceremony next to that challenge, and finishing with
//! another binding (or none) is [`WebauthnError::CeremonyMismatch`]. Since the ceremony is
//! server-side and single-use, an assertion over its challenge proves a fresh user verification
//! for exactly that binding.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use policy::method::AuthenticationMethodMode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;
use webauthn_rs::prelude as wa;

pub use webauthn_rs::prelude::{AttestationCaList, AttestationCaListBuilder, Url};

/// Default lifetime of a ceremony, and the timeout the browser is given (WebAuthn's
/// recommended 5 minutes).
pub const DEFAULT_CEREMONY_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// Version of the stored-credential envelope ([`StoredCredential`]).
const STORED_VERSION: u32 = 1;

/// Domain separation for the binding hash.
const BINDING_DOMAIN: &[u8] = b"portcullis/webauthn/binding/v1\0";

/// Why a ceremony could not be started or finished.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebauthnError {
    /// The service configuration is invalid (rp id not a domain of the origin, non-https origin).
    #[error("webauthn configuration: {0}")]
    Configuration(String),
    /// The response was made for another origin or relying party (phishing, or a misrouted
    /// response): client data origin, cross-origin flag or rp id hash do not match.
    #[error("the response was made for another origin or relying party")]
    WrongOrigin,
    /// The authenticator did not verify the user (PIN, biometric); required here.
    #[error("the authenticator did not verify the user")]
    UserNotVerified,
    /// The signature counter did not go up: a cloned authenticator, or a replayed assertion.
    #[error("signature counter did not increase: cloned authenticator or replayed assertion")]
    CredentialCloned,
    /// The credential is not one of the user's (or not one this ceremony allowed).
    #[error("unknown credential")]
    UnknownCredential,
    /// The response or the binding does not belong to this ceremony.
    #[error("response or binding does not belong to this ceremony")]
    CeremonyMismatch,
    /// The ceremony is past its expiry.
    #[error("the ceremony has expired")]
    CeremonyExpired,
    /// Input that cannot be parsed (response JSON, stored state or credential).
    #[error("malformed: {0}")]
    Malformed(String),
    /// Anything else the verification refused (bad signature, attestation not trusted, …).
    #[error("rejected: {0}")]
    Rejected(String),
}

impl WebauthnError {
    fn from_webauthn(e: wa::WebauthnError) -> Self {
        use wa::WebauthnError as E;
        match e {
            E::InvalidRPOrigin | E::InvalidRPIDHash | E::CredentialCrossOrigin => Self::WrongOrigin,
            E::UserNotVerified => Self::UserNotVerified,
            E::CredentialPossibleCompromise => Self::CredentialCloned,
            E::CredentialNotFound => Self::UnknownCredential,
            E::MismatchedChallenge | E::InvalidClientDataType => Self::CeremonyMismatch,
            E::ParseBase64Failure(_)
            | E::ParseCBORFailure(_)
            | E::ParseJSONFailure(_)
            | E::ParseNOMFailure
            | E::ParseInsufficientBytesAvailable
            | E::MissingAttestationCredentialData
            | E::COSEKeyInvalidCBORValue
            | E::COSEKeyInvalidType => Self::Malformed(e.to_string()),
            E::Configuration => Self::Configuration(e.to_string()),
            other => Self::Rejected(other.to_string()),
        }
    }
}

/// How the authenticator is attached to the client device, as the client reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Attachment {
    /// Built into the device (Windows Hello, Touch ID, Android screen lock).
    #[serde(rename = "platform")]
    Platform,
    /// Removable or remote: USB/NFC/BLE security key, phone over hybrid.
    #[serde(rename = "cross-platform")]
    CrossPlatform,
}

/// How far the recorded AAGUID can be believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttestationTrust {
    /// No attestation statement (`fmt: "none"`): the AAGUID is unsigned, the client relayed it.
    None,
    /// Self attestation, signed by the credential key itself: says nothing about the model.
    SelfAttested,
    /// Signed by an attestation certificate whose chain was not checked against trusted roots
    /// (no CA list configured): a claim, not a guarantee.
    Unverified,
    /// The chain was validated against the configured [`AttestationCaList`] and the CA vouches
    /// for the AAGUID: the AAGUID identifies the authenticator model.
    Verified,
}

/// What the caller wants to register; a hint to the browser's picker (and, for security keys, a
/// check that a removable authenticator answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RegistrationKind {
    /// Any authenticator.
    Any,
    /// A removable security key: the browser is asked for a cross-platform authenticator and a
    /// response that reports a platform attachment is refused.
    SecurityKey,
    /// A passkey on this device or a phone: the browser is hinted towards client-device and
    /// hybrid, and asked for a discoverable credential if possible.
    Passkey,
}

/// Relying-party configuration.
#[derive(Debug, Clone)]
pub struct WebauthnConfig {
    /// Relying party id, the registrable domain credentials are bound to (`example.com`). It can
    /// never change without invalidating every credential.
    pub rp_id: String,
    /// Name shown by the authenticator.
    pub rp_name: String,
    /// The exact origin of the portal (`https://login.example.com`).
    pub origin: Url,
    /// Accept subdomains of `origin` too. Keep `false` unless you run regional front ends.
    pub allow_subdomains: bool,
    /// Ceremony lifetime, also given to the browser as its timeout.
    pub ceremony_ttl: std::time::Duration,
    /// Trusted attestation roots. `Some` makes attestation mandatory at registration (and
    /// refuses synced passkeys); see the module documentation.
    pub attestation_cas: Option<AttestationCaList>,
}

impl WebauthnConfig {
    /// A configuration with the defaults: no subdomains, 5-minute ceremonies, no attestation CA
    /// list.
    pub fn new(rp_id: impl Into<String>, rp_name: impl Into<String>, origin: Url) -> Self {
        WebauthnConfig {
            rp_id: rp_id.into(),
            rp_name: rp_name.into(),
            origin,
            allow_subdomains: false,
            ceremony_ttl: DEFAULT_CEREMONY_TTL,
            attestation_cas: None,
        }
    }
}

/// The WebAuthn service of one relying party.
#[derive(Debug, Clone)]
pub struct Webauthn {
    inner: wa::Webauthn,
    ttl: ChronoDuration,
    attestation_cas: Option<AttestationCaList>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "flow", content = "state", rename_all = "camelCase")]
enum RegistrationState {
    Passkey(wa::PasskeyRegistration),
    Attested(wa::AttestedPasskeyRegistration),
}

/// Server-side state of one registration; store it until [`Self::expires_at`] and hand it back
/// to [`Webauthn::finish_registration`] once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationCeremony {
    state: RegistrationState,
    user_id: Uuid,
    kind: RegistrationKind,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl RegistrationCeremony {
    /// The user registering.
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }
    /// What was asked for.
    pub fn kind(&self) -> RegistrationKind {
        self.kind
    }
    /// When the ceremony started.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// After this instant the ceremony is refused.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }
    /// Serialises for server-side storage.
    pub fn to_json(&self) -> Result<String, WebauthnError> {
        serde_json::to_string(self).map_err(|e| WebauthnError::Malformed(e.to_string()))
    }
    /// Reads back what [`Self::to_json`] wrote.
    pub fn from_json(json: &str) -> Result<Self, WebauthnError> {
        serde_json::from_str(json)
            .map_err(|e| WebauthnError::Malformed(format!("registration ceremony: {e}")))
    }
}

/// Server-side state of one authentication; store it until [`Self::expires_at`] and hand it back
/// to [`Webauthn::finish_authentication`] once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationCeremony {
    state: wa::PasskeyAuthentication,
    binding_hash: Option<String>,
    user_id: Uuid,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl AuthenticationCeremony {
    /// The user authenticating.
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }
    /// Hex SHA-256 of the binding the challenge was issued for, if any.
    pub fn binding_hash(&self) -> Option<&str> {
        self.binding_hash.as_deref()
    }
    /// When the ceremony started.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// After this instant the ceremony is refused.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }
    /// Serialises for server-side storage.
    pub fn to_json(&self) -> Result<String, WebauthnError> {
        serde_json::to_string(self).map_err(|e| WebauthnError::Malformed(e.to_string()))
    }
    /// Reads back what [`Self::to_json`] wrote.
    pub fn from_json(json: &str) -> Result<Self, WebauthnError> {
        serde_json::from_str(json)
            .map_err(|e| WebauthnError::Malformed(format!("authentication ceremony: {e}")))
    }
}

/// The stored form of a credential (`credential_json`): the `webauthn-rs` credential (public key,
/// counter, flags, attestation) with what Portcullis learnt at registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCredential {
    version: u32,
    user_id: Uuid,
    attachment: Attachment,
    aaguid: Option<Uuid>,
    attestation: AttestationTrust,
    credential: wa::Credential,
}

impl StoredCredential {
    /// Parses a stored `credential_json`.
    pub fn from_json(json: &str) -> Result<Self, WebauthnError> {
        let s: StoredCredential = serde_json::from_str(json)
            .map_err(|e| WebauthnError::Malformed(format!("stored credential: {e}")))?;
        if s.version != STORED_VERSION {
            return Err(WebauthnError::Malformed(format!(
                "stored credential: unknown version {}",
                s.version
            )));
        }
        Ok(s)
    }
    /// Serialises for storage.
    pub fn to_json(&self) -> Result<String, WebauthnError> {
        serde_json::to_string(self).map_err(|e| WebauthnError::Malformed(e.to_string()))
    }
    /// The credential id.
    pub fn credential_id(&self) -> &[u8] {
        self.credential.cred_id.as_ref()
    }
    /// The user the credential was registered to.
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }
    /// The authenticator model, if it sent a non-zero AAGUID.
    pub fn aaguid(&self) -> Option<Uuid> {
        self.aaguid
    }
    /// How far [`Self::aaguid`] can be believed.
    pub fn attestation(&self) -> AttestationTrust {
        self.attestation
    }
    /// Attachment reported at registration.
    pub fn attachment(&self) -> Attachment {
        self.attachment
    }
    /// The last signature counter seen.
    pub fn sign_count(&self) -> u32 {
        self.credential.counter
    }
    /// Whether the credential may be synced/backed up (a passkey).
    pub fn backup_eligible(&self) -> bool {
        self.credential.backup_eligible
    }
    /// The Graph mode this credential performs.
    pub fn mode(&self) -> AuthenticationMethodMode {
        mode_for(
            self.attachment,
            self.credential.backup_eligible,
            self.credential.user_verified,
        )
    }
}

/// A credential that finished registration; persist `credential_json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredCredential {
    /// The credential id (what the browser sends back as `rawId`).
    pub credential_id: Vec<u8>,
    /// The serialised [`StoredCredential`] to persist.
    pub credential_json: String,
    /// The user it belongs to.
    pub user_id: Uuid,
    /// The authenticator model, if it sent a non-zero AAGUID.
    pub aaguid: Option<Uuid>,
    /// How far `aaguid` can be believed.
    pub attestation: AttestationTrust,
    /// Attachment, as the client reported it.
    pub attachment: Attachment,
    /// Whether the credential may be synced/backed up (a passkey).
    pub backup_eligible: bool,
    /// Whether the user was verified at registration (always `true`: it is required).
    pub user_verified: bool,
    /// The Graph mode the credential performs.
    pub mode: AuthenticationMethodMode,
}

/// A successful authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// The credential used.
    pub credential_id: Vec<u8>,
    /// Its owner.
    pub user_id: Uuid,
    /// The updated stored credential (counter, backup flags) to persist with a compare-and-set,
    /// or `None` when nothing changed.
    pub new_credential_json: Option<String>,
    /// The signature counter of this assertion (0 for authenticators without a counter).
    pub sign_count: u32,
    /// Whether the user was verified (always `true`: it is required).
    pub user_verified: bool,
    /// The Graph mode performed.
    pub mode: AuthenticationMethodMode,
    /// The authenticator model recorded at registration.
    pub aaguid: Option<Uuid>,
    /// How far `aaguid` can be believed.
    pub attestation: AttestationTrust,
    /// Hex SHA-256 of the binding this assertion was made for, if any.
    pub binding_hash: Option<String>,
}

/// The Graph mode of a WebAuthn credential: a device-bound platform authenticator with user
/// verification is `windowsHelloForBusiness`; everything else (roaming authenticators, synced
/// passkeys) is `fido2`.
pub fn mode_for(
    attachment: Attachment,
    backup_eligible: bool,
    user_verified: bool,
) -> AuthenticationMethodMode {
    if attachment == Attachment::Platform && !backup_eligible && user_verified {
        AuthenticationMethodMode::WindowsHelloForBusiness
    } else {
        AuthenticationMethodMode::Fido2
    }
}

/// Hex SHA-256 of a binding, as recorded in [`AuthenticationCeremony::binding_hash`].
pub fn binding_hash(binding: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(BINDING_DOMAIN)
        .chain_update(binding)
        .finalize();
    hex(digest.as_slice())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

fn same_binding(expected: Option<&str>, presented: Option<&str>) -> bool {
    match (expected, presented) {
        (None, None) => true,
        (Some(a), Some(b)) => a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes())),
        _ => false,
    }
}

impl Webauthn {
    /// Builds the service. The origin must be `https` (or `http://localhost`) and `rp_id` must be
    /// its host or a parent domain of it.
    pub fn new(config: WebauthnConfig) -> Result<Self, WebauthnError> {
        let host = config.origin.host_str().unwrap_or_default();
        let secure = config.origin.scheme() == "https"
            || (config.origin.scheme() == "http" && host == "localhost");
        if !secure {
            return Err(WebauthnError::Configuration(format!(
                "origin {} must be https",
                config.origin
            )));
        }
        if config
            .attestation_cas
            .as_ref()
            .is_some_and(|l| l.is_empty())
        {
            return Err(WebauthnError::Configuration(
                "attestation CA list is empty".to_string(),
            ));
        }
        let ttl = ChronoDuration::from_std(config.ceremony_ttl)
            .map_err(|e| WebauthnError::Configuration(format!("ceremony_ttl: {e}")))?;
        let inner = wa::WebauthnBuilder::new(&config.rp_id, &config.origin)
            .map_err(|_| {
                WebauthnError::Configuration(format!(
                    "rp_id {} is not the host of {} or a parent domain of it",
                    config.rp_id, config.origin
                ))
            })?
            .rp_name(&config.rp_name)
            .allow_subdomains(config.allow_subdomains)
            .timeout(config.ceremony_ttl)
            .build()
            .map_err(WebauthnError::from_webauthn)?;
        Ok(Webauthn {
            inner,
            ttl,
            attestation_cas: config.attestation_cas,
        })
    }

    /// Starts registering a credential for `user_id`. `existing` are the ids of the user's
    /// registered credentials (the authenticator refuses to register twice). Returns the
    /// `CreationChallengeResponse` JSON for `navigator.credentials.create()` and the ceremony to
    /// store.
    pub fn start_registration(
        &self,
        user_id: Uuid,
        user_name: &str,
        display_name: &str,
        existing: &[Vec<u8>],
        kind: RegistrationKind,
        now: DateTime<Utc>,
    ) -> Result<(String, RegistrationCeremony), WebauthnError> {
        let exclude: Option<Vec<wa::CredentialID>> = if existing.is_empty() {
            None
        } else {
            Some(existing.to_vec())
        };
        let hint = match kind {
            RegistrationKind::SecurityKey => Some(wa::AuthenticatorAttachment::CrossPlatform),
            RegistrationKind::Any | RegistrationKind::Passkey => None,
        };
        let (mut ccr, state) = match &self.attestation_cas {
            Some(cas) => {
                let (ccr, st) = self
                    .inner
                    .start_attested_passkey_registration(
                        user_id,
                        user_name,
                        display_name,
                        exclude,
                        cas.clone(),
                        hint,
                    )
                    .map_err(WebauthnError::from_webauthn)?;
                (ccr, RegistrationState::Attested(st))
            }
            None => {
                let (ccr, st) = self
                    .inner
                    .start_passkey_registration(user_id, user_name, display_name, exclude)
                    .map_err(WebauthnError::from_webauthn)?;
                (ccr, RegistrationState::Passkey(st))
            }
        };
        // Client-side hints only: webauthn-rs does not verify them and they change nothing the
        // server checks (the verification of the response stays webauthn-rs's).
        let hints = match kind {
            RegistrationKind::Any => None,
            RegistrationKind::SecurityKey => Some(serde_json::json!(["security-key"])),
            // Hybrid (phone) authenticators cannot be attested: not offered when attestation is
            // required.
            RegistrationKind::Passkey if self.attestation_cas.is_some() => {
                Some(serde_json::json!(["client-device"]))
            }
            RegistrationKind::Passkey => Some(serde_json::json!(["client-device", "hybrid"])),
        };
        if let Some(hints) = hints {
            ccr.public_key.hints = Some(
                serde_json::from_value(hints)
                    .map_err(|e| WebauthnError::Rejected(e.to_string()))?,
            );
        }
        if let Some(sel) = ccr.public_key.authenticator_selection.as_mut() {
            if hint.is_some() {
                sel.authenticator_attachment = hint;
            }
            if kind == RegistrationKind::Passkey {
                sel.resident_key = Some(
                    serde_json::from_value(serde_json::json!("preferred"))
                        .map_err(|e| WebauthnError::Rejected(e.to_string()))?,
                );
            }
        }
        let json =
            serde_json::to_string(&ccr).map_err(|e| WebauthnError::Rejected(e.to_string()))?;
        Ok((
            json,
            RegistrationCeremony {
                state,
                user_id,
                kind,
                created_at: now,
                expires_at: now + self.ttl,
            },
        ))
    }

    /// Finishes a registration with the browser's `PublicKeyCredential` JSON (as produced by
    /// `toJSON()`, including `authenticatorAttachment` when the browser sets it). Consumes the
    /// ceremony.
    pub fn finish_registration(
        &self,
        ceremony: RegistrationCeremony,
        response_json: &str,
        now: DateTime<Utc>,
    ) -> Result<RegisteredCredential, WebauthnError> {
        if now > ceremony.expires_at {
            return Err(WebauthnError::CeremonyExpired);
        }
        let value: serde_json::Value = serde_json::from_str(response_json)
            .map_err(|e| WebauthnError::Malformed(format!("registration response: {e}")))?;
        let reported_attachment = value
            .get("authenticatorAttachment")
            .and_then(serde_json::Value::as_str)
            .and_then(|a| match a {
                "platform" => Some(Attachment::Platform),
                "cross-platform" => Some(Attachment::CrossPlatform),
                _ => None,
            });
        let transports: Option<Vec<String>> = value
            .pointer("/response/transports")
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(serde_json::Value::as_str)
                    .map(str::to_owned)
                    .collect()
            });
        let reg: wa::RegisterPublicKeyCredential = serde_json::from_value(value)
            .map_err(|e| WebauthnError::Malformed(format!("registration response: {e}")))?;

        let (credential, verified_chain): (wa::Credential, bool) = match &ceremony.state {
            RegistrationState::Passkey(st) => (
                self.inner
                    .finish_passkey_registration(&reg, st)
                    .map_err(WebauthnError::from_webauthn)?
                    .into(),
                false,
            ),
            RegistrationState::Attested(st) => (
                self.inner
                    .finish_attested_passkey_registration(&reg, st)
                    .map_err(WebauthnError::from_webauthn)?
                    .into(),
                true,
            ),
        };
        if !credential.user_verified {
            return Err(WebauthnError::UserNotVerified);
        }

        let attachment = reported_attachment
            .unwrap_or_else(|| attachment_from_transports(transports.as_deref()));
        if ceremony.kind == RegistrationKind::SecurityKey && attachment == Attachment::Platform {
            return Err(WebauthnError::Rejected(
                "a security key was asked for and a platform authenticator answered".to_string(),
            ));
        }

        let aaguid = aaguid_from_attestation_object(
            &reg.response.attestation_object,
            credential.cred_id.as_ref(),
        )?;
        let attestation = match &credential.attestation.data {
            wa::ParsedAttestationData::None => AttestationTrust::None,
            wa::ParsedAttestationData::Self_ => AttestationTrust::SelfAttested,
            _ if verified_chain => AttestationTrust::Verified,
            _ => AttestationTrust::Unverified,
        };

        let stored = StoredCredential {
            version: STORED_VERSION,
            user_id: ceremony.user_id,
            attachment,
            aaguid,
            attestation,
            credential,
        };
        Ok(RegisteredCredential {
            credential_id: stored.credential_id().to_vec(),
            credential_json: stored.to_json()?,
            user_id: stored.user_id,
            aaguid,
            attestation,
            attachment,
            backup_eligible: stored.backup_eligible(),
            user_verified: stored.credential.user_verified,
            mode: stored.mode(),
        })
    }

    /// Starts authenticating `user_id` with one of `credentials` (their stored
    /// `credential_json`). `binding` ties the challenge to a purpose (a PIM activation request);
    /// the same binding must be presented to finish. Returns the `RequestChallengeResponse` JSON
    /// for `navigator.credentials.get()` and the ceremony to store.
    pub fn start_authentication<S: AsRef<str>>(
        &self,
        user_id: Uuid,
        credentials: &[S],
        binding: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> Result<(String, AuthenticationCeremony), WebauthnError> {
        let mut passkeys = Vec::with_capacity(credentials.len());
        for json in credentials {
            let stored = StoredCredential::from_json(json.as_ref())?;
            if stored.user_id != user_id {
                return Err(WebauthnError::UnknownCredential);
            }
            passkeys.push(wa::Passkey::from(stored.credential));
        }
        if passkeys.is_empty() {
            return Err(WebauthnError::UnknownCredential);
        }
        let (rcr, state) = self
            .inner
            .start_passkey_authentication(&passkeys)
            .map_err(WebauthnError::from_webauthn)?;
        let json =
            serde_json::to_string(&rcr).map_err(|e| WebauthnError::Rejected(e.to_string()))?;
        Ok((
            json,
            AuthenticationCeremony {
                state,
                binding_hash: binding.map(binding_hash),
                user_id,
                created_at: now,
                expires_at: now + self.ttl,
            },
        ))
    }

    /// Finishes an authentication with the browser's `PublicKeyCredential` JSON. Consumes the
    /// ceremony. `binding` must be the one given to [`Self::start_authentication`]. `current` are
    /// the user's stored credentials **as they are now** (re-read from storage, not the ones the
    /// ceremony started with): the signature counter is checked against them.
    pub fn finish_authentication<S: AsRef<str>>(
        &self,
        ceremony: AuthenticationCeremony,
        response_json: &str,
        binding: Option<&[u8]>,
        current: &[S],
        now: DateTime<Utc>,
    ) -> Result<Assertion, WebauthnError> {
        if now > ceremony.expires_at {
            return Err(WebauthnError::CeremonyExpired);
        }
        let presented = binding.map(binding_hash);
        if !same_binding(ceremony.binding_hash.as_deref(), presented.as_deref()) {
            return Err(WebauthnError::CeremonyMismatch);
        }
        let rsp: wa::PublicKeyCredential = serde_json::from_str(response_json)
            .map_err(|e| WebauthnError::Malformed(format!("authentication response: {e}")))?;

        let mut stored = None;
        for json in current {
            let s = StoredCredential::from_json(json.as_ref())?;
            if s.credential_id() == rsp.raw_id.as_slice() {
                stored = Some(s);
                break;
            }
        }
        let mut stored = stored.ok_or(WebauthnError::UnknownCredential)?;
        if stored.user_id != ceremony.user_id {
            return Err(WebauthnError::UnknownCredential);
        }
        if let Some(handle) = rsp.response.user_handle.as_ref() {
            if handle.as_slice() != ceremony.user_id.as_bytes() {
                return Err(WebauthnError::Rejected(
                    "the user handle names another user".to_string(),
                ));
            }
        }

        let result = self
            .inner
            .finish_passkey_authentication(&rsp, &ceremony.state)
            .map_err(WebauthnError::from_webauthn)?;
        if !result.user_verified() {
            return Err(WebauthnError::UserNotVerified);
        }
        if stored.attestation == AttestationTrust::Verified && result.backup_eligible() {
            return Err(WebauthnError::Rejected(
                "an attested, device-bound credential now claims to be backup eligible".to_string(),
            ));
        }
        // The counter inside the ceremony is a snapshot from its start; compare with the stored
        // one as it is now, so that a replay against a copied ceremony is refused too.
        let counter = result.counter();
        let stored_counter = stored.credential.counter;
        if (counter > 0 || stored_counter > 0) && counter <= stored_counter {
            return Err(WebauthnError::CredentialCloned);
        }

        let mut passkey = wa::Passkey::from(stored.credential.clone());
        let new_credential_json = match passkey.update_credential(&result) {
            Some(true) => {
                stored.credential = passkey.into();
                Some(stored.to_json()?)
            }
            _ => None,
        };
        Ok(Assertion {
            credential_id: stored.credential_id().to_vec(),
            user_id: stored.user_id,
            new_credential_json,
            sign_count: counter,
            user_verified: result.user_verified(),
            mode: mode_for(
                stored.attachment,
                stored.credential.backup_eligible || result.backup_eligible(),
                result.user_verified(),
            ),
            aaguid: stored.aaguid,
            attestation: stored.attestation,
            binding_hash: ceremony.binding_hash,
        })
    }
}

/// Platform only when the client reported nothing but `internal`; anything else, or nothing, is
/// taken as cross-platform (the conservative reading: `fido2`). Unknown transport names are
/// ignored.
fn attachment_from_transports(transports: Option<&[String]>) -> Attachment {
    let known: Vec<&str> = transports
        .unwrap_or_default()
        .iter()
        .map(String::as_str)
        .filter(|t| {
            matches!(
                *t,
                "usb" | "nfc" | "ble" | "hybrid" | "smart-card" | "internal"
            )
        })
        .collect();
    if !known.is_empty() && known.iter().all(|t| *t == "internal") {
        Attachment::Platform
    } else {
        Attachment::CrossPlatform
    }
}

/// The AAGUID of the attested credential data in a registration's attestation object, checked to
/// describe `credential_id` (the credential `webauthn-rs` verified). `None` when all zeros.
fn aaguid_from_attestation_object(
    attestation_object: &[u8],
    credential_id: &[u8],
) -> Result<Option<Uuid>, WebauthnError> {
    let malformed = |what: &str| WebauthnError::Malformed(format!("attestation object: {what}"));
    let value: serde_cbor_2::Value =
        serde_cbor_2::from_slice(attestation_object).map_err(|e| malformed(&e.to_string()))?;
    let serde_cbor_2::Value::Map(map) = value else {
        return Err(malformed("not a map"));
    };
    let auth_data = match map.get(&serde_cbor_2::Value::Text("authData".to_string())) {
        Some(serde_cbor_2::Value::Bytes(b)) => b,
        _ => return Err(malformed("no authData")),
    };
    // rpIdHash (32) | flags (1) | signCount (4) | aaguid (16) | credIdLen (2) | credId | key
    const FLAGS: usize = 32;
    const AAGUID: usize = 37;
    const CRED_ID_LEN: usize = 53;
    const CRED_ID: usize = 55;
    let flags = auth_data
        .get(FLAGS)
        .ok_or_else(|| malformed("authData too short"))?;
    if flags & 0x40 == 0 {
        return Err(malformed("no attested credential data"));
    }
    let aaguid: [u8; 16] = auth_data
        .get(AAGUID..CRED_ID_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| malformed("authData too short"))?;
    let len = auth_data
        .get(CRED_ID_LEN..CRED_ID)
        .and_then(|s| <[u8; 2]>::try_from(s).ok())
        .map(|b| usize::from(u16::from_be_bytes(b)))
        .ok_or_else(|| malformed("authData too short"))?;
    let id = auth_data
        .get(CRED_ID..CRED_ID + len)
        .ok_or_else(|| malformed("authData too short"))?;
    if id != credential_id {
        return Err(malformed("credential id differs from the verified one"));
    }
    let aaguid = Uuid::from_bytes(aaguid);
    Ok((!aaguid.is_nil()).then_some(aaguid))
}
