//! The Conditional Access engine, built from the tenant and cached between requests.

use chrono::{DateTime, Duration, Utc};
use policy::engine::Engine;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use store::{Store, StoreError};

/// How long a built engine is reused before the tenant is read again. Writes made through this
/// process mark it stale at once ([`EngineCache::tenant_changed`],
/// [`EngineCache::roles_changed`]); this bounds how late a change made by another process (the
/// CLI, another node) is seen.
const ENGINE_TTL: Duration = Duration::seconds(5);

/// The cached engine and the versions that make it stale.
#[derive(Debug, Default)]
pub(crate) struct EngineCache {
    engine: Mutex<Option<CachedEngine>>,
    /// Raised by [`EngineCache::tenant_changed`] and [`EngineCache::roles_changed`]: a cached
    /// engine built before the change is not used after it.
    tenant_version: AtomicU64,
    roles_version: AtomicU64,
    /// One rebuild at a time: requests that find the engine stale wait for it, not each reload.
    rebuilding: tokio::sync::Mutex<()>,
}

/// The engine with what it was built from.
#[derive(Debug)]
struct CachedEngine {
    /// When the tenant was read in full (role-only refreshes keep it, so that a change made by
    /// another process is still seen within [`ENGINE_TTL`]).
    built: DateTime<Utc>,
    tenant_version: u64,
    roles_version: u64,
    engine: Arc<Engine>,
}

impl EngineCache {
    /// The engine over the tenant as it stands at `now`.
    pub(crate) async fn engine(
        &self,
        store: &Store,
        now: DateTime<Utc>,
    ) -> Result<Arc<Engine>, StoreError> {
        if let Some(engine) = self.fresh_engine(now) {
            return Ok(engine);
        }
        let _one = self.rebuilding.lock().await;
        // Another request may have rebuilt it while this one waited.
        if let Some(engine) = self.fresh_engine(now) {
            return Ok(engine);
        }
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
                tenant.role_assignments = store.load_role_assignments(now).await?;
                (built, tenant)
            }
            None => (now, store.load_tenant(now).await?),
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
    fn fresh_engine(&self, now: DateTime<Utc>) -> Option<Arc<Engine>> {
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

    /// Marks the cached engine stale after a change to the tenant.
    pub(crate) fn tenant_changed(&self) {
        self.tenant_version.fetch_add(1, Ordering::SeqCst);
    }

    /// Marks the cached engine stale after a change to role assignments only.
    pub(crate) fn roles_changed(&self) {
        self.roles_version.fetch_add(1, Ordering::SeqCst);
    }
}
