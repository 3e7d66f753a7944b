//! The Conditional Access engine, built from the tenant once and then following the store's
//! change log: a write reads again only what it touched (one principal's role assignments, one
//! policy, one user), not the whole tenant.

use chrono::{DateTime, Duration, Utc};
use policy::engine::Engine;
use policy::ids::PrincipalId;
use policy::TenantChange;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use store::{ChangeKind, ConfigKind, Store, StoreError};

/// How long the cached engine is used before the store's tenant version is read again (one row;
/// the changes since, only when it moved). Writes made through this process are followed at the
/// next use ([`EngineCache::changed`]), and so are changes another node announces (the service
/// listens for them on PostgreSQL and calls [`crate::Core::tenant_changed`]); this bounds how
/// late a change is seen when no announcement comes (the CLI on SQLite, a lost listening
/// connection).
const ENGINE_POLL: Duration = Duration::seconds(1);

/// Beyond this many changes behind, reading the whole tenant again is the cheaper way.
const MAX_FOLLOWED_CHANGES: u32 = 1_000;

/// How the engine caught up with the store: `built` (the whole tenant read), `followed` (only
/// what changed read) or `unchanged`.
pub type EngineObserver = Box<dyn Fn(&'static str) + Send + Sync>;

/// The cached engine and what tells it is behind.
#[derive(Default)]
pub(crate) struct EngineCache {
    engine: Mutex<Option<CachedEngine>>,
    /// Raised by [`EngineCache::changed`]: a cached engine that has not read the store since is
    /// not used after it.
    local_changes: AtomicU64,
    /// The engine before the current one and the changes it lacks: the next change is applied
    /// to it (a double buffer), so that following a change costs what the change touches, not a
    /// copy of the tenant, while requests still holding the current engine keep their snapshot.
    /// Used only under `rebuilding`.
    spare: Mutex<Option<(Arc<Engine>, Vec<TenantChange>)>>,
    /// One catch-up at a time: requests that find the engine stale wait for it, not each reload.
    rebuilding: tokio::sync::Mutex<()>,
    /// Told of every catch-up (the service counts them in its metrics).
    observer: Option<EngineObserver>,
}

impl std::fmt::Debug for EngineCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineCache")
            .field("local_changes", &self.local_changes)
            .finish_non_exhaustive()
    }
}

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

struct Followed {
    engine: Arc<Engine>,
    version: u64,
    schedule: BTreeMap<String, DateTime<Utc>>,
}

impl EngineCache {
    /// A cache that tells `observer` how each catch-up went.
    pub(crate) fn observed_by(observer: EngineObserver) -> EngineCache {
        EngineCache {
            observer: Some(observer),
            ..EngineCache::default()
        }
    }

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
        // Another request may have caught up while this one waited.
        if let Some(engine) = self.fresh_engine(now) {
            return Ok(engine);
        }
        // Read before the store: a write made during the catch-up raises it, so that the next
        // use catches up again rather than take this engine for newer than it is.
        let local = self.local_changes.load(Ordering::SeqCst);
        let cached = {
            let guard = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
            guard
                .as_ref()
                .map(|c| (c.engine.clone(), c.version, c.schedule.clone()))
        };
        let followed = match cached {
            Some((engine, version, schedule)) => {
                self.follow(store, engine, version, schedule, now).await?
            }
            None => None,
        };
        let next = match followed {
            Some((next, how)) => {
                self.observe(how);
                next
            }
            None => {
                let next = self.build(store, now).await?;
                self.observe("built");
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

    fn observe(&self, how: &'static str) {
        if let Some(observer) = &self.observer {
            observer(how);
        }
    }

    /// The cached engine, if it is current: nothing written through this process since it
    /// caught up, the store asked within [`ENGINE_POLL`], and no role assignment due to start or
    /// end (an expired activation stops counting at its end, not at the next write).
    fn fresh_engine(&self, now: DateTime<Utc>) -> Option<Arc<Engine>> {
        let guard = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
        let c = guard.as_ref()?;
        (c.local == self.local_changes.load(Ordering::SeqCst)
            && now >= c.checked
            && now - c.checked < ENGINE_POLL
            && c.next_due.is_none_or(|due| now < due))
        .then(|| c.engine.clone())
    }

    /// Reads the whole tenant and builds the engine afresh.
    async fn build(&self, store: &Store, now: DateTime<Utc>) -> Result<Followed, StoreError> {
        // The version first: a change committed during the reads is then followed again, which
        // re-reads what it touched (harmless), rather than missed.
        let version = store.tenant_version().await?;
        let tenant = store.load_tenant(now).await?;
        let schedule = store.role_schedule_changes(now).await?;
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
        store: &Store,
        engine: Arc<Engine>,
        version: u64,
        mut schedule: BTreeMap<String, DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Option<(Followed, &'static str)>, StoreError> {
        let since = store
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
            changes.push(match store.tenant_user(&id).await? {
                Some(user) => TenantChange::UserUpserted(user),
                None => TenantChange::UserDeleted(id),
            });
        }
        for principal_id in principals {
            let roles = store.role_assignments_of(&principal_id, now).await?;
            match roles.next_change {
                Some(due) => schedule.insert(principal_id.clone(), due),
                None => schedule.remove(&principal_id),
            };
            changes.push(TenantChange::RoleAssignmentsOf {
                principal_id: PrincipalId::trusted(principal_id),
                assignments: roles.assignments,
            });
        }
        for (kind, id) in documents {
            changes.push(document_change(store, kind, id).await?);
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

    /// Says that this process changed the tenant (users, groups, policies, role assignments):
    /// the next use of the engine follows the store's change log, reading only what changed.
    pub(crate) fn changed(&self) {
        self.local_changes.fetch_add(1, Ordering::SeqCst);
    }
}

/// The change that a write of this Conditional Access document made, as the store has it.
async fn document_change(
    store: &Store,
    kind: ConfigKind,
    id: String,
) -> Result<TenantChange, StoreError> {
    fn read<T>(got: Result<T, StoreError>) -> Result<Option<T>, StoreError> {
        match got {
            Ok(document) => Ok(Some(document)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
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
