//! What every request handler shares: the store, the configuration, signing keys, the WebAuthn
//! relying party, the clock, metrics, and the Conditional Access engine built from the tenant.

use crate::config::Config;
use crate::error::ServeError;
use crate::metrics::Metrics;
use authn::webauthn::{Webauthn, WebauthnConfig};
use chrono::{DateTime, Duration, Utc};
use policy::engine::Engine;
use policy::TenantChange;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use store::{ChangeKind, ConfigKind, Store, StoreError};
use tokens::keys::{KeySet, SigningKey};

/// How long the cached engine is used before the store's tenant version is read again (one row;
/// the changes since, only when it moved). Writes made through this process are followed at the
/// next use ([`AppState::tenant_changed`], [`AppState::roles_changed`]); this bounds how late a
/// change made by another process (the CLI, another node) is seen.
const ENGINE_POLL: Duration = Duration::seconds(1);

/// Beyond this many changes behind, reading the whole tenant again is the cheaper way.
const MAX_FOLLOWED_CHANGES: u32 = 1_000;

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
    /// that has not read the store since is not used after it.
    local_changes: AtomicU64,
    /// The engine before the current one and the changes it lacks: the next change is applied
    /// to it (a double buffer), so that following a change costs what the change touches, not a
    /// copy of the tenant, while requests still holding the current engine keep their snapshot.
    /// Used only under `rebuilding`.
    spare: Mutex<Option<(Arc<Engine>, Vec<TenantChange>)>>,
    /// One catch-up at a time: requests that find the engine stale wait for it, not each reload.
    rebuilding: tokio::sync::Mutex<()>,
}

/// The engine with where it stands.
struct CachedEngine {
    engine: Arc<Engine>,
    /// The store's tenant version the engine reflects.
    version: u64,
    /// When the store was last asked whether the tenant changed.
    checked: DateTime<Utc>,
    /// `local_changes` when it was.
    local: u64,
    /// Each principal whose role assignments in force change by time alone (an activation
    /// starts or ends without any write), with when.
    schedule: BTreeMap<String, DateTime<Utc>>,
    /// The soonest of `schedule`.
    next_due: Option<DateTime<Utc>>,
}

/// What a catch-up produced.
struct Followed {
    engine: Arc<Engine>,
    version: u64,
    schedule: BTreeMap<String, DateTime<Utc>>,
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
            local_changes: AtomicU64::new(0),
            spare: Mutex::new(None),
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
        // Another request may have caught up while this one waited.
        if let Some(engine) = self.fresh_engine() {
            return Ok(engine);
        }
        // Read before the store: a write made during the catch-up raises it, so that the next
        // use catches up again rather than take this engine for newer than it is.
        let local = self.local_changes.load(Ordering::SeqCst);
        let now = self.now();
        let cached = {
            let guard = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
            guard
                .as_ref()
                .map(|c| (c.engine.clone(), c.version, c.schedule.clone()))
        };
        let followed = match cached {
            Some((engine, version, schedule)) => {
                self.follow(engine, version, schedule, now).await?
            }
            None => None,
        };
        let next = match followed {
            Some((next, how)) => {
                self.metrics.engine_update(how);
                next
            }
            None => {
                let next = self.build(now).await?;
                self.metrics.engine_update("built");
                next
            }
        };
        let engine = next.engine.clone();
        *self.engine.lock().unwrap_or_else(PoisonError::into_inner) = Some(CachedEngine {
            engine: next.engine,
            version: next.version,
            checked: now,
            local,
            next_due: next.schedule.values().min().copied(),
            schedule: next.schedule,
        });
        Ok(engine)
    }

    /// The cached engine, if it is current: nothing written through this process since it
    /// caught up, the store asked within [`ENGINE_POLL`], and no role assignment due to start or
    /// end (an expired activation stops counting at its end, not at the next write).
    fn fresh_engine(&self) -> Option<Arc<Engine>> {
        let now = self.now();
        let guard = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
        let c = guard.as_ref()?;
        (c.local == self.local_changes.load(Ordering::SeqCst)
            && now >= c.checked
            && now - c.checked < ENGINE_POLL
            && c.next_due.is_none_or(|due| now < due))
        .then(|| c.engine.clone())
    }

    /// Reads the whole tenant and builds the engine afresh.
    async fn build(&self, now: DateTime<Utc>) -> Result<Followed, ServeError> {
        // The version first: a change committed during the reads is then followed again, which
        // re-reads what it touched (harmless), rather than missed.
        let version = self.store.tenant_version().await?;
        let tenant = self.store.load_tenant(now).await?;
        let schedule = self.store.role_schedule_changes(now).await?;
        *self.spare.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(Followed {
            engine: Arc::new(Engine::new(tenant)),
            version,
            schedule,
        })
    }

    /// Follows the store's change log from `version`, reading only what changed (and the role
    /// assignments of principals whose schedule is due); `None` when the tenant must be read
    /// in full (a change to groups, an import, or the log no longer reaching back).
    async fn follow(
        &self,
        engine: Arc<Engine>,
        version: u64,
        mut schedule: BTreeMap<String, DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Option<(Followed, &'static str)>, ServeError> {
        let since = self
            .store
            .tenant_changes_since(version, MAX_FOLLOWED_CHANGES)
            .await?;
        let Some(records) = since.changes else {
            return Ok(None);
        };
        let mut principals: BTreeSet<String> = schedule
            .iter()
            .filter(|(_, due)| **due <= now)
            .map(|(p, _)| p.clone())
            .collect();
        let mut users = BTreeSet::new();
        let mut documents: Vec<(ConfigKind, String)> = Vec::new();
        for r in records {
            match r.kind {
                ChangeKind::RoleAssignments => {
                    principals.insert(r.subject_id);
                }
                ChangeKind::User => {
                    users.insert(r.subject_id);
                }
                ChangeKind::Config(kind) => {
                    let key = (kind, r.subject_id);
                    if !documents.contains(&key) {
                        documents.push(key);
                    }
                }
                // Memberships reach through nested groups, and an import touches anything.
                ChangeKind::Group | ChangeKind::Everything => return Ok(None),
            }
        }
        let mut changes = Vec::new();
        for id in users {
            changes.push(match self.store.tenant_user(&id).await? {
                Some(user) => TenantChange::UserUpserted(user),
                None => TenantChange::UserDeleted(id),
            });
        }
        for principal_id in principals {
            let roles = self.store.role_assignments_of(&principal_id, now).await?;
            match roles.next_change {
                Some(due) => schedule.insert(principal_id.clone(), due),
                None => schedule.remove(&principal_id),
            };
            changes.push(TenantChange::RoleAssignmentsOf {
                principal_id,
                assignments: roles.assignments,
            });
        }
        for (kind, id) in documents {
            changes.push(self.document_change(kind, id).await?);
        }
        let (engine, how) = if changes.is_empty() {
            (engine, "unchanged")
        } else {
            (self.next_engine(&engine, changes), "followed")
        };
        let followed = Followed {
            engine,
            version: since.version,
            schedule,
        };
        Ok(Some((followed, how)))
    }

    /// The change that a write of this Conditional Access document made, as the store has it.
    async fn document_change(
        &self,
        kind: ConfigKind,
        id: String,
    ) -> Result<TenantChange, ServeError> {
        fn read<T>(got: Result<T, StoreError>) -> Result<Option<T>, StoreError> {
            match got {
                Ok(document) => Ok(Some(document)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        }
        let store = &self.store;
        Ok(match kind {
            ConfigKind::Policy => match read(store.get_config(kind, &id).await)? {
                Some(p) => TenantChange::PolicyUpserted(Box::new(p)),
                None => TenantChange::PolicyDeleted(id),
            },
            ConfigKind::NamedLocation => match read(store.get_config(kind, &id).await)? {
                Some(l) => TenantChange::NamedLocationUpserted(l),
                None => TenantChange::NamedLocationDeleted(id),
            },
            ConfigKind::AuthenticationStrength => match read(store.get_config(kind, &id).await)? {
                Some(s) => TenantChange::StrengthUpserted(s),
                None => TenantChange::StrengthDeleted(id),
            },
            ConfigKind::AuthenticationContext => match read(store.get_config(kind, &id).await)? {
                Some(c) => TenantChange::ContextUpserted(c),
                None => TenantChange::ContextDeleted(id),
            },
        })
    }

    /// `current` with `changes` applied, as a new engine: the spare one brought up to date
    /// when no request holds it any more, a copy of `current` otherwise (the first change after
    /// a build, or a request that outlived two changes).
    fn next_engine(&self, current: &Arc<Engine>, changes: Vec<TenantChange>) -> Arc<Engine> {
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        let reused = spare.take().and_then(|(old, missed)| {
            let mut engine = Arc::try_unwrap(old).ok()?;
            for change in missed {
                engine.apply(change);
            }
            Some(engine)
        });
        let mut next = reused.unwrap_or_else(|| Engine::clone(current));
        for change in changes.iter().cloned() {
            next.apply(change);
        }
        *spare = Some((current.clone(), changes));
        Arc::new(next)
    }

    /// Says that this process changed the tenant (users, groups, policies…): the next use of the
    /// engine follows the store's change log, reading only what changed.
    pub fn tenant_changed(&self) {
        self.local_changes.fetch_add(1, Ordering::SeqCst);
    }

    /// Says that this process changed role assignments (an activation, a deactivation, an
    /// expiry, an administrator's assignment): the next use of the engine reads again only the
    /// role assignments of the principals the store's change log names.
    pub fn roles_changed(&self) {
        self.local_changes.fetch_add(1, Ordering::SeqCst);
    }
}
