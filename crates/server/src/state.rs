//! What every request handler shares: the store, the configuration, signing keys, the WebAuthn
//! relying party, the clock, metrics, and the Conditional Access engine built from the tenant.

use crate::config::Config;
use crate::error::ServeError;
use crate::metrics::Metrics;
use authn::webauthn::{Webauthn, WebauthnConfig};
use chrono::{DateTime, Duration, Utc};
use policy::engine::Engine;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use store::Store;
use tokens::keys::{KeySet, SigningKey};

/// How long a built engine is reused before the tenant is read again. Writes made through this
/// process mark it stale at once ([`AppState::tenant_changed`], [`AppState::roles_changed`]);
/// this bounds how late a change made by another process (the CLI, another node) is seen.
const ENGINE_TTL: Duration = Duration::seconds(5);

/// The service clock: the system clock plus an offset that tests move forward.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock forward (tests of expiry and sign-in frequency).
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

/// The shared state of the service.
pub struct AppState {
    /// Persistence.
    pub store: Store,
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
    /// The clock.
    pub clock: Clock,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Delivers one-time codes (by default: the outbox table).
    pub sender: Arc<dyn authn::otp::Sender>,
    /// The HMAC key of one-time codes (shared through the store by every node).
    pub otp_key: authn::otp::OtpKey,
    keys: RwLock<KeySet>,
    engine: Mutex<Option<CachedEngine>>,
    /// Raised by [`AppState::tenant_changed`] and [`AppState::roles_changed`]: a cached engine
    /// built before the change is not used after it.
    tenant_version: AtomicU64,
    roles_version: AtomicU64,
    /// One rebuild at a time: requests that find the engine stale wait for it, not each reload.
    rebuilding: tokio::sync::Mutex<()>,
}

/// The engine with what it was built from.
struct CachedEngine {
    /// When the tenant was read in full (role-only refreshes keep it, so that a change made by
    /// another process is still seen within [`ENGINE_TTL`]).
    built: DateTime<Utc>,
    tenant_version: u64,
    roles_version: u64,
    engine: Arc<Engine>,
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
        let state = AppState {
            sender: Arc::new(crate::outbox::OutboxSender::new(store.clone())),
            otp_key,
            store,
            secure_cookies: url.scheme() == "https",
            config,
            issuer,
            webauthn,
            clock,
            metrics: Metrics::default(),
            keys: RwLock::new(KeySet::default()),
            engine: Mutex::new(None),
            tenant_version: AtomicU64::new(0),
            roles_version: AtomicU64::new(0),
            rebuilding: tokio::sync::Mutex::new(()),
        };
        state.refresh_keys().await?;
        Ok(state)
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The longest any token lives: a retired key keeps verifying this long.
    pub fn max_token_lifetime(&self) -> Duration {
        Duration::minutes(i64::from(self.config.lifetimes.token_minutes))
    }

    /// Reads the keys from the store; creates the first key, and rotates the active one once it
    /// is older than the configured key lifetime.
    pub async fn refresh_keys(&self) -> Result<(), ServeError> {
        let now = self.now();
        let stored = self.store.list_signing_keys().await?;
        let rotate_after = Duration::days(i64::from(self.config.lifetimes.signing_key_days));
        let active_is_fresh = stored.iter().any(|k| {
            k.retired_at.is_none() && k.activated_at.is_some_and(|a| now - a < rotate_after)
        });
        if !active_is_fresh {
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

    /// The Conditional Access engine over the tenant as it stands.
    pub async fn engine(&self) -> Result<Arc<Engine>, ServeError> {
        if let Some(engine) = self.fresh_engine() {
            return Ok(engine);
        }
        let _one = self.rebuilding.lock().await;
        // Another request may have rebuilt it while this one waited.
        if let Some(engine) = self.fresh_engine() {
            return Ok(engine);
        }
        let now = self.now();
        // The versions are read before the store: a change committed during the read raises
        // them, so what is built now is not taken for newer than it is.
        let tenant_version = self.tenant_version.load(Ordering::SeqCst);
        let roles_version = self.roles_version.load(Ordering::SeqCst);
        let reusable = self.cached().filter(|(version, built, _)| {
            *version == tenant_version && Self::within_ttl(*built, now)
        });
        let (built, tenant) = match reusable {
            // Only role assignments changed (an activation, an expiry): read just those.
            Some((_, built, engine)) => {
                let mut tenant = engine.tenant().clone();
                tenant.role_assignments = self.store.load_role_assignments(now).await?;
                (built, tenant)
            }
            None => (now, self.store.load_tenant(now).await?),
        };
        let engine = Arc::new(Engine::new(tenant));
        *self.engine.lock().unwrap_or_else(PoisonError::into_inner) = Some(CachedEngine {
            built,
            tenant_version,
            roles_version,
            engine: engine.clone(),
        });
        Ok(engine)
    }

    fn within_ttl(built: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now - built < ENGINE_TTL && now >= built
    }

    /// The cached engine, if it is current.
    fn fresh_engine(&self) -> Option<Arc<Engine>> {
        let now = self.now();
        let guard = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
        let c = guard.as_ref()?;
        (c.tenant_version == self.tenant_version.load(Ordering::SeqCst)
            && c.roles_version == self.roles_version.load(Ordering::SeqCst)
            && Self::within_ttl(c.built, now))
        .then(|| c.engine.clone())
    }

    /// The cached engine, current or not, with its tenant version and full-read time.
    fn cached(&self) -> Option<(u64, DateTime<Utc>, Arc<Engine>)> {
        let guard = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
        guard
            .as_ref()
            .map(|c| (c.tenant_version, c.built, c.engine.clone()))
    }

    /// Marks the cached engine stale after a change to the tenant (users, groups, policies…).
    pub fn tenant_changed(&self) {
        self.tenant_version.fetch_add(1, Ordering::SeqCst);
    }

    /// Marks the cached engine stale after a change to role assignments only (an activation, a
    /// deactivation, an expiry, an administrator's assignment): the next use reads just the
    /// role assignments in force, not the whole tenant.
    pub fn roles_changed(&self) {
        self.roles_version.fetch_add(1, Ordering::SeqCst);
    }
}
