//! Portcullis' application core: the services the faces (the Graph API, the sign-in pages, the
//! portal, the CLI) call, between the pure domain (`policy`, `pim`) and the store.
//!
//! This crate knows no HTTP and no templates: a service takes typed input — a [`Caller`], an
//! [`authz::Authorized`] permission that only [`Core::authorize`] can produce, parsed ids — and
//! returns a typed outcome or an error enum of its area. Mapping either to Graph JSON or a page
//! is the face's job.

pub mod access_pass;
pub mod authz;
mod clock;
pub mod code;
pub mod conditional_access;
mod engine;
#[doc(hidden)]
pub mod fuzzing;
pub mod groups;
pub mod lockout;
pub mod logs;
pub mod methods;
pub mod pim;
pub mod posture;
pub mod session;
pub mod signin;
pub mod tenant_import;
pub mod users;
pub mod what_if;

pub use authz::{Authorized, Caller, Denied, Permission};
pub use clock::Clock;
pub use code::ErrorCode;
pub use engine::EngineObserver;

use chrono::{DateTime, Utc};
use policy::engine::Engine;
use std::sync::Arc;
use store::{Store, StoreError};

/// What every service shares: the store, the clock and the Conditional Access engine built from
/// the tenant.
#[derive(Debug)]
pub struct Core {
    /// Persistence.
    pub store: Store,
    /// The clock.
    pub clock: Clock,
    engines: engine::EngineCache,
}

impl Core {
    /// A core over an open store.
    pub fn new(store: Store, clock: Clock) -> Core {
        Core {
            store,
            clock,
            engines: engine::EngineCache::default(),
        }
    }

    /// A core whose engine cache tells `observer` how each catch-up with the store went
    /// (`built`, `followed` or `unchanged`), for the service's metrics.
    pub fn observed(store: Store, clock: Clock, observer: EngineObserver) -> Core {
        Core {
            store,
            clock,
            engines: engine::EngineCache::observed_by(observer),
        }
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The Conditional Access engine over the tenant as it stands.
    pub async fn engine(&self) -> Result<Arc<Engine>, StoreError> {
        self.engines.engine(&self.store, self.now()).await
    }

    /// Says that this process changed the tenant (users, groups, policies…): the next use of the
    /// engine follows the store's change log, reading only what changed.
    pub fn tenant_changed(&self) {
        self.engines.changed();
    }

    /// Says that this process changed role assignments (an activation, a deactivation, an
    /// expiry, an administrator's assignment): the next use of the engine re-reads only the
    /// role assignments of the principals the store's change log names.
    pub fn roles_changed(&self) {
        self.engines.changed();
    }

    /// Records a refused operation in the audit log: `entry`, marked failed with the refusal's
    /// sentence. A failure to write it is logged, not returned: the caller still gets the
    /// refusal, not an internal error.
    pub async fn audit_refusal(&self, entry: store::AuditEntry, refusal: &impl std::fmt::Display) {
        let entry = entry.failed(&refusal.to_string());
        if let Err(e) = self.store.append_audit(&entry).await {
            tracing::error!(error = %e, "audit entry for a refusal not written");
        }
    }
}
