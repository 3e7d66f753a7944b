//! The audit log (Graph `directoryAudit`): appended to, never changed, and hash-chained.
//!
//! Entry `n` (its `seq`, from 1 without gaps) stores `hash = SHA-256(prev_hash || canonical JSON
//! of the entry)` in lower-case hex, where `prev_hash` is entry `n − 1`'s hash (64 zeros for the
//! first) and the canonical JSON is the entry with its `seq`, object keys sorted, no spaces, and
//! the time as Unix milliseconds. Changing, removing or reordering an entry breaks the chain at
//! that entry; [`Store::verify_audit_chain`] finds where. A one-row head (`audit_head`) holds the
//! last `seq` and hash: appending updates it first, which serializes appends on both backends,
//! and lets the check notice a truncated tail. Someone who can rewrite the whole table and the
//! head can forge a consistent chain: anchor the head elsewhere to rule that out.
//!
//! Changes that are audited (PIM's) append their entry inside their own transaction, so the
//! change and its audit entry are stored together or not at all.

use crate::error::on_write;
use crate::sql::{ms, text_enum, to_json, RowExt};
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How many entries the check reads at a time.
const VERIFY_PAGE: i64 = 500;

text_enum! {
    /// How an audited operation ended (Graph `operationResult`).
    pub enum AuditResult {
        /// It succeeded.
        Success = "success",
        /// It failed or was refused.
        Failure = "failure",
        /// It was not completed in time.
        Timeout = "timeout",
    }
}

/// One audited operation, as written (Graph `directoryAudit`, without the chain fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Entry id (a UUID).
    pub id: String,
    /// When the operation happened (kept to the millisecond).
    pub activity_date_time: DateTime<Utc>,
    /// Graph category: `RoleManagement`, `Policy`, `UserManagement`, …
    pub category: String,
    /// What happened, in Entra's words (`Add member to role completed (PIM activation)`, …).
    pub activity_display_name: String,
    /// `Add`, `Update`, `Delete`, `Assign`, `Unassign` or `Other`.
    pub operation_type: String,
    /// Success, failure or timeout.
    pub result: AuditResult,
    /// Why it failed; empty on success.
    pub result_reason: String,
    /// The service that logged it (`PIM`, `Core Directory`, …).
    pub logged_by_service: String,
    /// Ties entries of one operation together (a schedule request's id, …).
    pub correlation_id: Option<String>,
    /// Graph `auditActivityInitiator`: `{"user": {…}}` or `{"app": {…}}`.
    pub initiated_by: Value,
    /// Graph `targetResource` array.
    pub target_resources: Value,
    /// Graph `keyValue` array.
    pub additional_details: Value,
}

impl AuditEntry {
    /// A successful operation with a fresh id, logged by `PIM`, with no initiator, target or
    /// detail yet (add them with the methods below).
    pub fn new(
        category: &str,
        activity_display_name: &str,
        operation_type: &str,
        at: DateTime<Utc>,
    ) -> AuditEntry {
        AuditEntry {
            id: crate::new_id(),
            activity_date_time: crate::at_ms(at),
            category: category.to_string(),
            activity_display_name: activity_display_name.to_string(),
            operation_type: operation_type.to_string(),
            result: AuditResult::Success,
            result_reason: String::new(),
            logged_by_service: "PIM".to_string(),
            correlation_id: None,
            initiated_by: json!({}),
            target_resources: json!([]),
            additional_details: json!([]),
        }
    }

    /// Initiated by a user.
    pub fn by_user(mut self, id: &str, user_principal_name: Option<&str>) -> AuditEntry {
        self.initiated_by = json!({"user": {
            "id": id,
            "displayName": null,
            "userPrincipalName": user_principal_name,
            "ipAddress": null,
        }});
        self
    }

    /// Initiated by the service itself or an application (the expiry job, …).
    pub fn by_app(mut self, display_name: &str) -> AuditEntry {
        self.initiated_by = json!({"app": {
            "appId": null,
            "displayName": display_name,
            "servicePrincipalId": null,
            "servicePrincipalName": null,
        }});
        self
    }

    /// Adds a target resource (`type`: `User`, `Group`, `Role`, `Request`, `Policy`, …).
    pub fn target(mut self, kind: &str, id: &str, display_name: Option<&str>) -> AuditEntry {
        let target = json!({
            "id": id,
            "displayName": display_name,
            "type": kind,
            "modifiedProperties": [],
        });
        match self.target_resources.as_array_mut() {
            Some(list) => list.push(target),
            None => self.target_resources = json!([target]),
        }
        self
    }

    /// Adds a detail (`key`, `value`).
    pub fn detail(mut self, key: &str, value: &str) -> AuditEntry {
        let detail = json!({"key": key, "value": value});
        match self.additional_details.as_array_mut() {
            Some(list) => list.push(detail),
            None => self.additional_details = json!([detail]),
        }
        self
    }

    /// Ties the entry to an operation (a request id, …).
    pub fn correlation(mut self, id: &str) -> AuditEntry {
        self.correlation_id = Some(id.to_string());
        self
    }

    /// Marks the operation failed (or refused), saying why.
    pub fn failed(mut self, reason: &str) -> AuditEntry {
        self.result = AuditResult::Failure;
        self.result_reason = reason.to_string();
        self
    }

    /// The text hashed for this entry at position `seq`.
    fn canonical(&self, seq: i64) -> String {
        let doc = json!({
            "seq": seq,
            "id": self.id,
            "activityDateTime": ms(self.activity_date_time),
            "category": self.category,
            "activityDisplayName": self.activity_display_name,
            "operationType": self.operation_type,
            "result": self.result.as_str(),
            "resultReason": self.result_reason,
            "loggedByService": self.logged_by_service,
            "correlationId": self.correlation_id,
            "initiatedBy": self.initiated_by,
            "targetResources": self.target_resources,
            "additionalDetails": self.additional_details,
        });
        let mut out = String::new();
        canonical_json(&doc, &mut out);
        out
    }
}

/// An entry of the log, with its place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// Position in the log, from 1, without gaps.
    pub seq: u64,
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// The previous entry's hash (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256(prev_hash || canonical JSON of the entry), hex.
    pub hash: String,
}

/// What the check of the chain found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditVerification {
    /// How many entries were read.
    pub entries: u64,
    /// The first entry at which the chain is broken, and why; `None` if it is intact.
    pub first_broken: Option<(u64, String)>,
}

impl AuditVerification {
    /// Whether the chain is intact.
    pub fn is_intact(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// Which entries to read; every filter set must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only of this category.
    pub category: Option<String>,
    /// Only with this correlation id.
    pub correlation_id: Option<String>,
    /// Only entries before this position (to page back through the log).
    pub before_seq: Option<u64>,
    /// At most this many.
    pub limit: u32,
}

impl Default for AuditQuery {
    fn default() -> Self {
        AuditQuery {
            since: None,
            until: None,
            category: None,
            correlation_id: None,
            before_seq: None,
            limit: 100,
        }
    }
}

/// Writes `value` as JSON with every object's keys sorted and no whitespace.
fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    canonical_json(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(v, out);
            }
            out.push(']');
        }
        // Scalars: serde_json's compact form is already canonical.
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// SHA-256(prev_hash || canonical), lower-case hex.
fn chain_hash(prev_hash: &str, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(canonical.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

macro_rules! audit_columns {
    () => {
        "seq, id, activity_date_time, category, activity_display_name, operation_type, result, \
         result_reason, logged_by_service, correlation_id, initiated_by, target_resources, \
         additional_details, prev_hash, hash"
    };
}

fn seq_of(name: &'static str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::corrupt(name, format!("{v} is not a position")))
}

pub(crate) fn to_i64(what: &'static str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Invalid {
        what,
        detail: format!("{v} is too large"),
    })
}

fn record_from_row(row: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        seq: seq_of("audit seq", row.int("seq")?)?,
        entry: AuditEntry {
            id: row.text("id")?,
            activity_date_time: row.time("activity_date_time")?,
            category: row.text("category")?,
            activity_display_name: row.text("activity_display_name")?,
            operation_type: row.text("operation_type")?,
            result: AuditResult::from_column(&row.text("result")?)?,
            result_reason: row.text("result_reason")?,
            logged_by_service: row.text("logged_by_service")?,
            correlation_id: row.opt_text("correlation_id")?,
            initiated_by: row.json("initiated_by")?,
            target_resources: row.json("target_resources")?,
            additional_details: row.json("additional_details")?,
        },
        prev_hash: row.text("prev_hash")?,
        hash: row.text("hash")?,
    })
}

/// Appends `entry` to the chain inside `tx` (whose commit stores it). Takes the head's lock:
/// call it last in a transaction, so that the lock is held briefly and always taken after
/// every other.
pub(crate) async fn append_in(
    tx: &mut Transaction<'static, Any>,
    entry: &AuditEntry,
) -> Result<AuditRecord, StoreError> {
    let head = sqlx::query(
        "UPDATE audit_head SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq, last_hash",
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| StoreError::corrupt("audit log", "its head row is missing"))?;
    let seq = head.int("last_seq")?;
    let prev_hash = head.text("last_hash")?;
    let entry = AuditEntry {
        activity_date_time: crate::at_ms(entry.activity_date_time),
        ..entry.clone()
    };
    let hash = chain_hash(&prev_hash, &entry.canonical(seq));
    sqlx::query(concat!(
        "INSERT INTO directory_audits (",
        audit_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(seq)
    .bind(&entry.id)
    .bind(ms(entry.activity_date_time))
    .bind(&entry.category)
    .bind(&entry.activity_display_name)
    .bind(&entry.operation_type)
    .bind(entry.result.as_str())
    .bind(&entry.result_reason)
    .bind(&entry.logged_by_service)
    .bind(&entry.correlation_id)
    .bind(to_json("audit initiator", &entry.initiated_by)?)
    .bind(to_json("audit targets", &entry.target_resources)?)
    .bind(to_json("audit details", &entry.additional_details)?)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut **tx)
    .await
    .map_err(on_write("audit entry"))?;
    sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE id = 1")
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
    Ok(AuditRecord {
        seq: seq_of("audit seq", seq)?,
        entry,
        prev_hash,
        hash,
    })
}

impl Store {
    /// Appends an entry to the audit log, chained to the one before it.
    pub async fn append_audit(&self, entry: &AuditEntry) -> Result<AuditRecord, StoreError> {
        let mut tx = self.begin().await?;
        let record = append_in(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// The entry with this id.
    pub async fn get_audit(&self, id: &str) -> Result<AuditRecord, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM directory_audits WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("audit entry", id))?;
        record_from_row(&row)
    }

    /// Entries matching `query`, newest first.
    pub async fn query_audits(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let before = query
            .before_seq
            .map(|s| to_i64("audit position", s))
            .transpose()?;
        sqlx::query(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM directory_audits \
             WHERE ($1 IS NULL OR activity_date_time >= $1) \
             AND ($2 IS NULL OR activity_date_time < $2) \
             AND ($3 IS NULL OR category = $3) AND ($4 IS NULL OR correlation_id = $4) \
             AND ($5 IS NULL OR seq < $5) ORDER BY seq DESC LIMIT $6"
        ))
        .bind(query.since.map(ms))
        .bind(query.until.map(ms))
        .bind(&query.category)
        .bind(&query.correlation_id)
        .bind(before)
        .bind(i64::from(query.limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(record_from_row)
        .collect()
    }

    /// Recomputes the whole chain, in one consistent view of the log, and reports the first
    /// entry at which it breaks: a missing position, an entry that does not follow the one
    /// before it, an entry whose content does not match its hash, or a tail cut off after the
    /// head's last position.
    pub async fn verify_audit_chain(&self) -> Result<AuditVerification, StoreError> {
        let mut tx = self.begin_read().await?;
        let head = sqlx::query("SELECT last_seq, last_hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::corrupt("audit log", "its head row is missing"))?;
        let head_seq = head.int("last_seq")?;
        let head_hash = head.text("last_hash")?;

        let mut entries: u64 = 0;
        let mut first_broken: Option<(u64, String)> = None;
        let mut expected: i64 = 1;
        let mut prev_hash = GENESIS_HASH.to_string();
        let mut after: i64 = 0;
        loop {
            let rows = sqlx::query(concat!(
                "SELECT ",
                audit_columns!(),
                " FROM directory_audits WHERE seq > $1 ORDER BY seq LIMIT $2"
            ))
            .bind(after)
            .bind(VERIFY_PAGE)
            .fetch_all(&mut *tx)
            .await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.int("seq")?;
            for row in &rows {
                entries += 1;
                let seq = row.int("seq")?;
                let hash = row.text("hash")?;
                if first_broken.is_none() {
                    first_broken = check_row(row, seq, expected, &prev_hash, &hash)
                        .map(|(at, why)| (seq_of("audit seq", at).unwrap_or(0), why));
                }
                expected = seq.saturating_add(1);
                prev_hash = hash;
            }
        }
        tx.commit().await?;

        let last_seen = expected - 1;
        if first_broken.is_none() {
            first_broken = if head_seq > last_seen {
                Some((
                    seq_of("audit seq", last_seen + 1)?,
                    format!(
                        "entries {} to {head_seq} are missing: the log was cut short",
                        last_seen + 1
                    ),
                ))
            } else if head_seq < last_seen {
                Some((
                    seq_of("audit seq", head_seq + 1)?,
                    "entries were added past the head of the log, outside the store".to_string(),
                ))
            } else if head_hash != prev_hash {
                Some((
                    seq_of("audit seq", last_seen)?,
                    "the last entry's hash differs from the one the head of the log recorded"
                        .to_string(),
                ))
            } else {
                None
            };
        }
        Ok(AuditVerification {
            entries,
            first_broken,
        })
    }
}

/// Why the entry in `row`, at `seq`, breaks the chain (the position to report and the reason),
/// or `None` if it follows on correctly.
fn check_row(
    row: &AnyRow,
    seq: i64,
    expected: i64,
    prev_hash: &str,
    hash: &str,
) -> Option<(i64, String)> {
    if seq != expected {
        return Some((
            expected,
            if seq == expected + 1 {
                format!("entry {expected} is missing")
            } else {
                format!("entries {expected} to {} are missing", seq - 1)
            },
        ));
    }
    match row.text("prev_hash") {
        Ok(stored_prev) if stored_prev == prev_hash => {}
        Ok(_) => {
            return Some((
                seq,
                "it does not follow the entry before it (prev_hash differs)".to_string(),
            ))
        }
        Err(e) => return Some((seq, format!("it cannot be read: {e}"))),
    }
    let record = match record_from_row(row) {
        Ok(record) => record,
        Err(e) => return Some((seq, format!("it cannot be read: {e}"))),
    };
    if chain_hash(prev_hash, &record.entry.canonical(seq)) != hash {
        return Some((
            seq,
            "its content does not match its hash: it was changed".to_string(),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"d": [1, {"z": 2, "y": null}], "c": "x"}}"#)
                .unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a": {"c": "x", "d": [1, {"y": null, "z": 2}]}, "b": 1}"#)
                .unwrap();
        let (mut ca, mut cb) = (String::new(), String::new());
        canonical_json(&a, &mut ca);
        canonical_json(&b, &mut cb);
        assert_eq!(ca, r#"{"a":{"c":"x","d":[1,{"y":null,"z":2}]},"b":1}"#);
        assert_eq!(ca, cb);
    }

    #[test]
    fn hash_is_hex_sha256() {
        // SHA-256("abc"), split across the two parts.
        assert_eq!(
            chain_hash("a", "bc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
