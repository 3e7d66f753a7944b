//! Writing one Conditional Access document (a context, a named location, a strength) tied to
//! the configuration's generation, so that what a write checked is what it changes.

use crate::Core;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::future::Future;
use store::{AuditEntry, ConfigKind, StoreError};

/// How often a write is tried again when another change lands between its read and its write.
pub(super) const ATTEMPTS: u32 = 8;

/// Waits before attempt `attempt` (from 1) of a generation-tied write that lost to another
/// change: a random time up to 4, 8, 16… ms (at most 128), so that writers racing on several
/// nodes spread out instead of colliding again in step.
pub(super) async fn back_off(attempt: u32) {
    let ceiling_ms = 2u64.saturating_pow(attempt.saturating_add(1)).min(128);
    let random = u64::from(uuid::Uuid::new_v4().as_bytes()[0]);
    let wait = ceiling_ms * random / 255;
    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
}

/// What one attempt decided to write: the document's id, the document (`None`: delete it),
/// whether one was stored before, and the audit entry of the write.
pub(crate) struct Decided<T> {
    pub(crate) id: String,
    pub(crate) document: Option<T>,
    pub(crate) existed: bool,
    pub(crate) audit: AuditEntry,
}

/// A new document from a client's `body`: the service's `id` and `createdDateTime`, the
/// `fixed` fields set, and neither `modifiedDateTime` nor `@odata.context` taken from the
/// client.
pub(crate) fn fresh_document(
    body: &Value,
    id: &str,
    now: DateTime<Utc>,
    fixed: &[(&str, &str)],
) -> Value {
    let mut document = body.clone();
    document["id"] = Value::String(id.to_string());
    document["createdDateTime"] = Value::String(now.to_rfc3339());
    for (name, value) in fixed {
        document[*name] = Value::String((*value).to_string());
    }
    if let Some(fields) = document.as_object_mut() {
        fields.remove("modifiedDateTime");
        fields.remove("@odata.context");
    }
    document
}

impl Core {
    /// Stores the new `document` under `id` with `audit` (see
    /// [`Core::write_config_document`]); returns it.
    pub(crate) async fn create_config_document<T, E>(
        &self,
        kind: ConfigKind,
        id: &str,
        document: T,
        audit: AuditEntry,
        concurrent: impl Fn() -> E,
    ) -> Result<T, E>
    where
        T: Serialize + Clone,
        E: From<StoreError>,
    {
        let (document, audit) = (&document, &audit);
        let decided = self
            .write_config_document(
                kind,
                move || async move {
                    Ok(Decided {
                        id: id.to_string(),
                        document: Some(document.clone()),
                        existed: false,
                        audit: audit.clone(),
                    })
                },
                concurrent,
            )
            .await?;
        Ok(decided.document.unwrap_or_else(|| document.clone()))
    }

    /// Runs `decide` (which reads what it needs and says what to write, or refuses) and writes
    /// its decision if the configuration is still at the generation read before it; otherwise
    /// decides again, up to three times, then fails with `concurrent()`. The engine cache is
    /// told of the write. Returns the decision written.
    ///
    /// `decide` is a closure returning a future (not an async closure): the futures of the
    /// Graph handlers that call this must be `Send`, which an async closure's are not provably.
    pub(crate) async fn write_config_document<T, E, Fut>(
        &self,
        kind: ConfigKind,
        decide: impl Fn() -> Fut,
        concurrent: impl Fn() -> E,
    ) -> Result<Decided<T>, E>
    where
        T: Serialize,
        E: From<StoreError>,
        Fut: Future<Output = Result<Decided<T>, E>>,
    {
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                back_off(attempt).await;
            }
            let generation = self.store.config_generation().await?;
            let decided = decide().await?;
            if self
                .store
                .write_config_checked(
                    kind,
                    &decided.id,
                    decided.document.as_ref(),
                    generation,
                    &decided.audit,
                )
                .await?
            {
                self.tenant_changed();
                return Ok(decided);
            }
        }
        Err(concurrent())
    }
}
