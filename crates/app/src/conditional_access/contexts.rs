//! Authentication contexts (`c1`…`c99`) as a service: reading them, creating or updating one,
//! and deleting one that nothing uses.
//!
//! A context's object carries only its name, description and `isAvailable`: evaluation reads the
//! ids the policies and the role settings name, never these objects, so no write here can lock
//! anyone out and the lockout guard has nothing to check. What can break is a reference: a
//! context that an enabled policy targets or a role's activation requires cannot be deleted
//! (the refusal names who uses it).

use crate::authz::{ManageConditionalAccess, ReadConditionalAccess};
use crate::code::ErrorCode;
use crate::conditional_access::documents::Decided;
use crate::{Authorized, Core};
use policy::context::{AuthenticationContextClassReference, ContextId, InvalidContextId};
use policy::ids::RoleId;
use policy::posture::targets_context;
use serde_json::Value;
use store::{ConfigKind, StoreError};

/// Why a context could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// No context has this id.
    #[error("Authentication context '{0}' does not exist.")]
    NotFound(String),
    /// The id is not `c1`…`c99`.
    #[error("{0}.")]
    InvalidId(#[from] InvalidContextId),
    /// A create named a context that exists.
    #[error("Authentication context '{0}' already exists; update it with PATCH.")]
    Exists(String),
    /// The body names another id than the path.
    #[error(
        "The body's id '{given}' is not the context's id '{id}'; a context's id cannot change."
    )]
    IdChanged {
        /// The id in the path.
        id: String,
        /// The id in the body.
        given: String,
    },
    /// The body is not an authenticationContextClassReference.
    #[error("The body is not an authenticationContextClassReference: {0}")]
    NotAContext(serde_json::Error),
    /// A policy or a role's settings use it.
    #[error(
        "Authentication context '{id}' cannot be deleted: {} use it. Change them first.",
        .users.join(", ")
    )]
    InUse {
        /// The context.
        id: String,
        /// Who uses it, for people (`policy 'Tier 0' (id)`, `the activation of role …`).
        users: Vec<String>,
    },
    /// Other writes kept landing between the read and the write.
    #[error("The Conditional Access configuration kept changing; send the change again.")]
    ConcurrentChange,
    /// The store failed (internal).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ContextError {
    /// The Graph error code of a caller's mistake; `None` for an internal failure.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ContextError::NotFound(_) => Some(ErrorCode::ResourceNotFound),
            ContextError::InvalidId(_)
            | ContextError::IdChanged { .. }
            | ContextError::NotAContext(_)
            | ContextError::InUse { .. } => Some(ErrorCode::BadRequest),
            ContextError::Exists(_) => Some(ErrorCode::Conflict),
            ContextError::ConcurrentChange => Some(ErrorCode::ConcurrentChange),
            ContextError::Store(_) => None,
        }
    }
}

/// A context as written, and whether the write created it.
#[derive(Debug, Clone)]
pub struct ContextWritten {
    /// The context as stored.
    pub context: AuthenticationContextClassReference,
    /// Whether it did not exist before.
    pub created: bool,
}

/// The context a write names in its path (`id`), which the body may repeat but not change.
pub(crate) fn context_id(id: &str, body: &Value) -> Result<ContextId, ContextError> {
    let id = ContextId::parse(id)?;
    if let Some(given) = body.get("id").and_then(Value::as_str) {
        if ContextId::parse(given).ok() != Some(id) {
            return Err(ContextError::IdChanged {
                id: id.to_string(),
                given: given.to_string(),
            });
        }
    }
    Ok(id)
}

/// Context `id` as `body` writes it: merged into `current`, or made from `body` alone.
pub(crate) fn written_context(
    current: Option<&AuthenticationContextClassReference>,
    id: ContextId,
    body: &Value,
) -> Result<AuthenticationContextClassReference, ContextError> {
    let mut document = match current {
        Some(c) => serde_json::to_value(c).map_err(ContextError::NotAContext)?,
        None => serde_json::json!({}),
    };
    policy::merge_patch::merge_patch(&mut document, body);
    document["id"] = Value::String(id.to_string());
    if let Some(fields) = document.as_object_mut() {
        fields.remove("@odata.context");
    }
    serde_json::from_value(document).map_err(ContextError::NotAContext)
}

impl Core {
    /// Every authentication context, ordered by number.
    pub async fn authentication_contexts(
        &self,
        _allowed: &Authorized<ReadConditionalAccess>,
    ) -> Result<Vec<AuthenticationContextClassReference>, ContextError> {
        let mut all: Vec<AuthenticationContextClassReference> = self
            .store
            .list_config(ConfigKind::AuthenticationContext)
            .await?;
        all.sort_by_key(|c| {
            ContextId::parse(&c.id)
                .map(ContextId::number)
                .unwrap_or(u8::MAX)
        });
        Ok(all)
    }

    /// One authentication context.
    pub async fn authentication_context(
        &self,
        _allowed: &Authorized<ReadConditionalAccess>,
        id: &str,
    ) -> Result<AuthenticationContextClassReference, ContextError> {
        let id = ContextId::parse(id)?;
        self.stored_context(id)
            .await?
            .ok_or_else(|| ContextError::NotFound(id.to_string()))
    }

    async fn stored_context(
        &self,
        id: ContextId,
    ) -> Result<Option<AuthenticationContextClassReference>, StoreError> {
        self.store
            .find_config(ConfigKind::AuthenticationContext, &id.to_string())
            .await
    }

    /// Creates context `id` from `body` (`POST`; refused if it exists), or, with `upsert`,
    /// creates it or merges `body` into it (`PATCH`, Graph's "create or update"). Audited.
    pub async fn write_authentication_context(
        &self,
        allowed: &Authorized<ManageConditionalAccess>,
        id: &str,
        body: &Value,
        upsert: bool,
    ) -> Result<ContextWritten, ContextError> {
        let id = context_id(id, body)?;
        let now = self.now();
        let core = self;
        let decided = self
            .write_config_document(
                ConfigKind::AuthenticationContext,
                move || async move {
                    let current = core.stored_context(id).await?;
                    if current.is_some() && !upsert {
                        return Err(ContextError::Exists(id.to_string()));
                    }
                    let created = current.is_none();
                    let context = written_context(current.as_ref(), id, body)?;
                    let (activity, operation) = if created {
                        ("Add authentication context", "Add")
                    } else {
                        ("Update authentication context", "Update")
                    };
                    Ok(Decided {
                        id: context.id.clone(),
                        existed: !created,
                        audit: allowed
                            .caller()
                            .audit("Policy", activity, operation, now)
                            .target(
                                "AuthenticationContextClassReference",
                                &context.id,
                                context.display_name.as_deref(),
                            ),
                        document: Some(context),
                    })
                },
                || ContextError::ConcurrentChange,
            )
            .await?;
        let created = !decided.existed;
        let context = decided
            .document
            .ok_or_else(|| ContextError::NotFound(id.to_string()))?;
        Ok(ContextWritten { context, created })
    }

    /// Deletes context `id`, refused (and audited) while a Conditional Access policy targets it
    /// or a role's activation requires it.
    pub async fn delete_authentication_context(
        &self,
        allowed: &Authorized<ManageConditionalAccess>,
        id: &str,
    ) -> Result<(), ContextError> {
        let id = ContextId::parse(id)?;
        let now = self.now();
        let core = self;
        self.write_config_document::<AuthenticationContextClassReference, _, _>(
            ConfigKind::AuthenticationContext,
            move || async move {
                let Some(current) = core.stored_context(id).await? else {
                    return Err(ContextError::NotFound(id.to_string()));
                };
                let audit = allowed
                    .caller()
                    .audit("Policy", "Delete authentication context", "Delete", now)
                    .target(
                        "AuthenticationContextClassReference",
                        &current.id,
                        current.display_name.as_deref(),
                    );
                let users = core.users_of_context(id).await?;
                if !users.is_empty() {
                    let refused = ContextError::InUse {
                        id: id.to_string(),
                        users,
                    };
                    core.audit_refusal(audit, &refused).await;
                    return Err(refused);
                }
                Ok(Decided {
                    id: current.id,
                    document: None,
                    existed: true,
                    audit,
                })
            },
            || ContextError::ConcurrentChange,
        )
        .await?;
        Ok(())
    }

    /// The policies that target context `id` and the roles whose activation requires it, named
    /// for people.
    pub async fn users_of_context(&self, id: ContextId) -> Result<Vec<String>, StoreError> {
        let context = id.to_string();
        let policies: Vec<policy::conditional_access::ConditionalAccessPolicy> =
            self.store.list_config(ConfigKind::Policy).await?;
        let mut users: Vec<String> = policies
            .iter()
            .filter(|p| targets_context(p, &context))
            .map(|p| format!("policy '{}' ({})", p.display_name, p.id))
            .collect();
        let definitions = self.store.list_role_definitions().await?;
        for stored in self.store.list_role_policies().await? {
            let required = stored
                .policy
                .authentication_context()
                .and_then(|r| r.required_context().ok().flatten());
            if required == Some(id) {
                let role = definitions
                    .iter()
                    .find(|d| RoleId::trusted(d.id.as_str()) == stored.role_definition_id)
                    .map_or(stored.role_definition_id.as_str(), |d| {
                        d.display_name.as_str()
                    });
                users.push(format!("the activation settings of role '{role}'"));
            }
        }
        Ok(users)
    }
}
