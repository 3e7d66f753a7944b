//! What every request handler shares: the store, the configuration, signing keys, the WebAuthn
//! relying party, the clock, metrics, and the Conditional Access engine built from the tenant.

use crate::config::Config;
use crate::error::ServeError;
use crate::metrics::Metrics;
use app::Core;
use authn::webauthn::{Webauthn, WebauthnConfig};
use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, PoisonError, RwLock};
use store::Store;
use tokens::keys::{KeySet, SigningKey};

pub use app::Clock;

/// The shared state of the service.
pub struct AppState {
    /// The application core (the store, the clock, the engine); [`AppState`] derefs to it.
    pub core: Core,
    /// The configuration it was started with.
    pub config: Config,
    /// The issuer URL, without a trailing slash.
    pub issuer: String,
    /// Whether cookies get the `Secure` attribute (the issuer is `https`).
    pub secure_cookies: bool,
    /// The WebAuthn relying party (id: the issuer's host; origin: the issuer's origin); `None`
    /// when the issuer cannot be one (plain `http` on a host other than `localhost`, an IP
    /// address), in which case security keys and passkeys are not offered.
    pub webauthn: Option<Webauthn>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Delivers one-time codes (by default: the outbox table).
    pub sender: Arc<dyn authn::otp::Sender>,
    /// The HMAC key of one-time codes (shared through the store by every node).
    pub otp_key: authn::otp::OtpKey,
    keys: RwLock<KeySet>,
}

impl std::ops::Deref for AppState {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

async fn otp_key(store: &Store, now: DateTime<Utc>) -> Result<authn::otp::OtpKey, ServeError> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut candidate = [0u8; 32];
    getrandom::fill(&mut candidate)
        .map_err(|e| ServeError::Internal(format!("no randomness: {e}")))?;
    let stored = store
        .secret_or_insert("otp-hmac-key", &engine.encode(candidate), now)
        .await?;
    let bytes = engine
        .decode(stored)
        .map_err(|e| ServeError::Internal(format!("stored one-time-code key: {e}")))?;
    authn::otp::OtpKey::from_bytes(bytes)
        .map_err(|e| ServeError::Internal(format!("stored one-time-code key: {e}")))
}

impl AppState {
    /// Builds the state over an open store: loads (or creates) the signing keys.
    pub async fn new(
        store: Store,
        config: Config,
        issuer: String,
        clock: Clock,
    ) -> Result<AppState, ServeError> {
        let url = url::Url::parse(&issuer)
            .map_err(|e| ServeError::Config(format!("issuer '{issuer}': {e}")))?;
        let host = url
            .host_str()
            .ok_or_else(|| ServeError::Config(format!("issuer '{issuer}' has no host")))?
            .to_string();
        let origin = url::Url::parse(&url.origin().ascii_serialization())
            .map_err(|e| ServeError::Config(format!("issuer '{issuer}': {e}")))?;
        let webauthn = match Webauthn::new(WebauthnConfig::new(host, "Portcullis", origin)) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(%issuer, error = %e, "WebAuthn is disabled: the issuer cannot be a relying party (use https, or http://localhost)");
                None
            }
        };
        let otp_key = otp_key(&store, clock.now()).await?;
        let metrics = Metrics::default();
        // The engine cache lives in the core; its catch-ups are counted here.
        let engine_updates = metrics.engine_updates.clone();
        let state = AppState {
            sender: Arc::new(crate::outbox::OutboxSender::new(store.clone())),
            otp_key,
            core: Core::observed(
                store,
                clock,
                Box::new(move |how| {
                    engine_updates
                        .get_or_create(&crate::metrics::EngineLabels { how: how.into() })
                        .inc();
                }),
            ),
            secure_cookies: url.scheme() == "https",
            config,
            issuer,
            webauthn,
            metrics,
            keys: RwLock::new(KeySet::default()),
        };
        state.refresh_keys().await?;
        Ok(state)
    }

    /// The longest any token lives: a retired key keeps verifying this long.
    pub fn max_token_lifetime(&self) -> Duration {
        Duration::minutes(i64::from(self.config.lifetimes.token_minutes))
    }

    /// Reads the keys from the store; creates the first key, and rotates the active one once it
    /// is older than the configured key lifetime. One node rotates at a time
    /// ([`store::Job::KeyRotation`]); a node that finds another rotating waits for its key.
    pub async fn refresh_keys(&self) -> Result<(), ServeError> {
        let now = self.now();
        for _ in 0..50 {
            let rotated = self
                .store
                .run_exclusively(store::Job::KeyRotation, || self.rotate_if_stale(now))
                .await?;
            if rotated.is_some() || self.has_fresh_key(now).await? {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.load_keys(now).await
    }

    /// Whether the store holds an active key younger than the key lifetime.
    async fn has_fresh_key(&self, now: DateTime<Utc>) -> Result<bool, ServeError> {
        Ok(self.any_fresh(&self.store.list_signing_keys().await?, now))
    }

    /// Whether `stored` holds an active key younger than the key lifetime.
    fn any_fresh(&self, stored: &[store::SigningKey], now: DateTime<Utc>) -> bool {
        let rotate_after = Duration::days(i64::from(self.config.lifetimes.signing_key_days));
        stored.iter().any(|k| {
            k.retired_at.is_none() && k.activated_at.is_some_and(|a| now - a < rotate_after)
        })
    }

    /// Creates and activates a new key, retiring the others, unless the active one is fresh
    /// (decided again under the job's lock, so that a node that waited does not rotate twice).
    async fn rotate_if_stale(&self, now: DateTime<Utc>) -> Result<(), ServeError> {
        let stored = self.store.list_signing_keys().await?;
        if !self.any_fresh(&stored, now) {
            let new = SigningKey::generate(now)?;
            let jwk = serde_json::to_value(new.public_jwk()?)
                .map_err(|e| ServeError::Internal(format!("JWK: {e}")))?;
            self.store
                .insert_signing_key(&store::SigningKey {
                    kid: new.kid().to_string(),
                    alg: "ES256".into(),
                    private_pkcs8: new.to_pkcs8_der()?,
                    public_jwk: jwk,
                    created_at: now,
                    activated_at: Some(now),
                    retired_at: None,
                    not_after: None,
                })
                .await?;
            for old in stored.iter().filter(|k| k.retired_at.is_none()) {
                self.store.retire_signing_key(&old.kid, now).await?;
            }
            tracing::info!(kid = new.kid(), "signing key created and activated");
        }
        Ok(())
    }

    /// Loads the stored keys into the key set this node signs and publishes with.
    async fn load_keys(&self, now: DateTime<Utc>) -> Result<(), ServeError> {
        let stored = self.store.list_signing_keys().await?;
        let mut keys = Vec::new();
        for k in stored {
            let Some(activated_at) = k.activated_at else {
                continue;
            };
            let mut key = SigningKey::from_pkcs8_der(&k.private_pkcs8, activated_at)?;
            key.retired_at = k.retired_at;
            key.keep_until = k.retired_at.map(|r| r + self.max_token_lifetime());
            keys.push(key);
        }
        let mut set = KeySet::from_keys(keys);
        set.prune(now);
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = set;
        Ok(())
    }

    /// The signing keys (active first).
    pub fn keys(&self) -> std::sync::RwLockReadGuard<'_, KeySet> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }
}
