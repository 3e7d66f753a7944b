//! Temporary access passes issued by an administrator (Graph
//! `temporaryAccessPassAuthenticationMethod`).
//!
//! A pass lets a user who has no method yet — or none strong enough — sign in to security info
//! and register a passkey. Only an active role administrator issues one; the pass is shown once,
//! to the issuer, and only its hash is kept. A user holds one usable pass at a time, as in
//! Entra. Issuing and deleting are audited in the same transaction, and a refused issue is
//! audited too. A lifetime is 10 to 480 minutes; any other number is refused before it becomes
//! a duration.

use crate::authz::ManageRoles;
use crate::code::ErrorCode;
use crate::{Authorized, Core};
use authn::secrecy::SecretString;
use authn::tap::{issue_tap, TapPolicy};
use chrono::{DateTime, Duration, Utc};
use store::{AuditEntry, StoreError, TemporaryAccessPass, User};

const ISSUED: &str = "Admin registered temporary access pass method for user";
const DELETED: &str = "Admin deleted temporary access pass method for user";

/// What an administrator asks for when issuing a pass (Graph's fields, all optional).
#[derive(Debug, Clone, Default)]
pub struct PassRequest {
    /// When the pass starts to work (now if not given).
    pub starts_at: Option<DateTime<Utc>>,
    /// How long it works, in minutes (the policy's default if not given).
    pub lifetime_minutes: Option<i64>,
    /// Whether it works once (`true` if not given).
    pub usable_once: Option<bool>,
    /// Delete the user's earlier passes first, instead of refusing while one is usable.
    pub replace: bool,
    /// Why, recorded in the audit entries (the demo's onboarding says so).
    pub reason: Option<String>,
}

/// A pass as issued.
pub struct IssuedPass {
    /// The user it was issued to.
    pub user: User,
    /// The pass as stored (its hash, never the pass).
    pub method: TemporaryAccessPass,
    /// The pass itself, to show this once.
    pub pass: SecretString,
}

impl std::fmt::Debug for IssuedPass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedPass")
            .field("user", &self.user.user_principal_name)
            .field("method", &self.method.id)
            .finish_non_exhaustive()
    }
}

/// Why a pass is or is not usable now (Graph's `methodUsabilityReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usability {
    /// Usable now.
    EnabledByPolicy,
    /// A one-time pass already used.
    OneTimeUsed,
    /// Past its lifetime.
    Expired,
    /// Before its start.
    NotYetValid,
}

impl Usability {
    /// Whether a pass in this state lets its user sign in now.
    pub fn is_usable(self) -> bool {
        self == Usability::EnabledByPolicy
    }

    /// The reason as Graph spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Usability::EnabledByPolicy => "EnabledByPolicy",
            Usability::OneTimeUsed => "OneTimeUsed",
            Usability::Expired => "Expired",
            Usability::NotYetValid => "NotYetValid",
        }
    }

    /// Whether `pass` is usable at `now`, and if not, why.
    pub fn of(pass: &TemporaryAccessPass, now: DateTime<Utc>) -> Usability {
        if pass.is_usable_once && pass.used_at.is_some() {
            Usability::OneTimeUsed
        } else if now >= pass.expires_at {
            Usability::Expired
        } else if now < pass.starts_at {
            Usability::NotYetValid
        } else {
            Usability::EnabledByPolicy
        }
    }
}

/// Why a pass could not be issued, listed or deleted.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// No user has this id or sign-in name.
    #[error("User '{0}' does not exist.")]
    UnknownUser(String),
    /// The user has no pass with this id.
    #[error("Temporary access pass '{0}' does not exist.")]
    UnknownPass(String),
    /// A `lifetimeInMinutes` the pass policy does not allow.
    #[error("lifetimeInMinutes must be from {min} to {max} minutes, not {given}.")]
    Lifetime {
        /// The number given.
        given: i64,
        /// The shortest lifetime allowed.
        min: i64,
        /// The longest.
        max: i64,
    },
    /// The pass policy refused the request (a start too far ahead…).
    #[error("{0}.")]
    Refused(authn::tap::TapError),
    /// The user already holds a usable pass.
    #[error(
        "{0} already has a usable temporary access pass; delete it first \
         (DELETE …/temporaryAccessPassMethods/{{id}})."
    )]
    AlreadyHasOne(String),
    /// The store failed (internal).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PassError {
    /// The Graph error code of a caller's mistake; `None` for an internal failure.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            PassError::UnknownUser(_) | PassError::UnknownPass(_) => {
                Some(ErrorCode::ResourceNotFound)
            }
            PassError::Lifetime { .. } | PassError::Refused(_) | PassError::AlreadyHasOne(_) => {
                Some(ErrorCode::BadRequest)
            }
            PassError::Store(_) => None,
        }
    }
}

/// `minutes` as a duration, if `policy` allows it. Checked on the number as given, because
/// converting first would overflow for numbers no pass could have (chrono panics on
/// `Duration::minutes(i64::MAX)`).
fn lifetime(policy: &TapPolicy, minutes: i64) -> Result<Duration, PassError> {
    let (min, max) = (
        policy.min_lifetime.num_minutes(),
        policy.max_lifetime.num_minutes(),
    );
    (min..=max)
        .contains(&minutes)
        .then(|| Duration::try_minutes(minutes))
        .flatten()
        .ok_or(PassError::Lifetime {
            given: minutes,
            min,
            max,
        })
}

impl Core {
    /// The user named by an id or a sign-in name.
    async fn pass_holder(&self, id_or_upn: &str) -> Result<User, PassError> {
        let found = if id_or_upn.contains('@') {
            self.store.get_user_by_upn(id_or_upn).await
        } else {
            self.store.get_user(id_or_upn).await
        };
        match found {
            Ok(u) => Ok(u),
            Err(e) if e.is_not_found() => Err(PassError::UnknownUser(id_or_upn.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// Issues the user named by `user` (an id or a sign-in name) a pass, audited; a refusal of
    /// the request's values is audited as failed.
    pub async fn issue_access_pass(
        &self,
        allowed: &Authorized<ManageRoles>,
        user: &str,
        request: PassRequest,
    ) -> Result<IssuedPass, PassError> {
        let target = self.pass_holder(user).await?;
        let now = self.now();
        let entry = |activity: &str, operation: &str| {
            let entry = allowed
                .caller()
                .audit("UserManagement", activity, operation, now)
                .target("User", &target.id, Some(&target.user_principal_name));
            match &request.reason {
                Some(reason) => entry.detail("reason", reason),
                None => entry,
            }
        };
        let policy = TapPolicy::default();
        let issued = request
            .lifetime_minutes
            .map(|m| lifetime(&policy, m))
            .transpose()
            .and_then(|requested| {
                issue_tap(
                    &policy,
                    now,
                    request.starts_at,
                    requested,
                    request.usable_once.unwrap_or(true),
                )
                .map_err(PassError::Refused)
            });
        let issued = match issued {
            Ok(issued) => issued,
            Err(e) => return Err(self.refused_pass(entry(ISSUED, "Add"), e).await),
        };
        if request.replace {
            for old in self.store.list_taps(&target.id).await? {
                let deleted = entry(DELETED, "Delete").detail("methodId", &old.id);
                self.store
                    .delete_tap_audited(&target.id, &old.id, &deleted)
                    .await?;
            }
        }
        let method = TemporaryAccessPass {
            id: store::new_id(),
            user_id: target.id.clone(),
            pass_hash: issued.pass_hash.clone(),
            is_usable_once: issued.usable_once,
            starts_at: issued.starts_at,
            expires_at: issued.expires_at,
            used_at: None,
            created_by: allowed.caller().user.id.clone(),
            created_at: store::at_ms(now),
        };
        let audited = entry(ISSUED, "Add").detail("methodId", &method.id);
        match self.store.issue_tap_audited(&method, &audited).await {
            Ok(()) => {}
            Err(e) if e.is_conflict() => {
                let e = PassError::AlreadyHasOne(target.user_principal_name.clone());
                return Err(self.refused_pass(entry(ISSUED, "Add"), e).await);
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(user = %target.user_principal_name, by = %allowed.caller().user.user_principal_name, "temporary access pass issued");
        Ok(IssuedPass {
            user: target,
            method,
            pass: issued.pass,
        })
    }

    /// The passes of the user named by `user` (never the passes themselves).
    pub async fn access_passes(
        &self,
        _allowed: &Authorized<ManageRoles>,
        user: &str,
    ) -> Result<(User, Vec<TemporaryAccessPass>), PassError> {
        let target = self.pass_holder(user).await?;
        let passes = self.store.list_taps(&target.id).await?;
        Ok((target, passes))
    }

    /// Deletes the pass `pass_id` of the user named by `user`, audited.
    pub async fn delete_access_pass(
        &self,
        allowed: &Authorized<ManageRoles>,
        user: &str,
        pass_id: &str,
    ) -> Result<(), PassError> {
        let target = self.pass_holder(user).await?;
        let entry = allowed
            .caller()
            .audit("UserManagement", DELETED, "Delete", self.now())
            .target("User", &target.id, Some(&target.user_principal_name))
            .detail("methodId", pass_id);
        match self
            .store
            .delete_tap_audited(&target.id, pass_id, &entry)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Err(PassError::UnknownPass(pass_id.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// Records a refused issue in the audit log, then returns the refusal.
    async fn refused_pass(&self, entry: AuditEntry, error: PassError) -> PassError {
        self.audit_refusal(entry, &error).await;
        error
    }
}
