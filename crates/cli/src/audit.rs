//! `portcullis audit verify` and `audit list`: the hash-chained audit log (Graph
//! `directoryAudits`).

use crate::clients::with_store;
use crate::service::StoreArgs;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::io::Write;
use std::process::ExitCode;
use store::{AuditQuery, AuditRecord};

/// `portcullis audit verify`: recomputes the chain; exit 1 when it is broken.
pub(crate) fn verify(args: &StoreArgs, as_json: bool) -> Result<ExitCode> {
    let checked = with_store(args, async |store| {
        store
            .verify_audit_chain()
            .await
            .context("cannot read the audit log")
    })?;
    let mut out = std::io::stdout().lock();
    if as_json {
        let broken = checked
            .first_broken
            .as_ref()
            .map(|(seq, reason)| json!({"seq": seq, "reason": reason}));
        let value = json!({
            "entries": checked.entries,
            "intact": checked.is_intact(),
            "firstBroken": broken,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        match &checked.first_broken {
            None if checked.entries == 0 => {
                writeln!(out, "OK: the audit log is empty (0 entries).")?
            }
            None => writeln!(
                out,
                "OK: {} entries, an unbroken hash chain.",
                checked.entries
            )?,
            Some((seq, reason)) => writeln!(
                out,
                "BROKEN at entry {seq} ({} entries read): {reason}.",
                checked.entries
            )?,
        }
    }
    Ok(if checked.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// An entry as Graph's `directoryAudit`, with its place in the chain (`seq`) added.
fn graph_shape(r: &AuditRecord) -> Value {
    let e = &r.entry;
    json!({
        "id": e.id,
        "seq": r.seq,
        "category": e.category,
        "correlationId": e.correlation_id,
        "result": e.result.as_str(),
        "resultReason": e.result_reason,
        "activityDisplayName": e.activity_display_name,
        "activityDateTime": e.activity_date_time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "loggedByService": e.logged_by_service,
        "operationType": e.operation_type,
        "initiatedBy": e.initiated_by,
        "targetResources": e.target_resources,
        "additionalDetails": e.additional_details,
    })
}

/// Who started it: a user's sign-in name (or id), or an application's name.
fn initiator(initiated_by: &Value) -> String {
    let user = &initiated_by["user"];
    let app = &initiated_by["app"];
    user["userPrincipalName"]
        .as_str()
        .or_else(|| user["id"].as_str())
        .or_else(|| app["displayName"].as_str())
        .unwrap_or("-")
        .to_string()
}

/// The targets: `Type name-or-id`, comma-separated.
fn targets(resources: &Value) -> String {
    resources
        .as_array()
        .map(|list| {
            list.iter()
                .map(|t| {
                    let what = t["displayName"]
                        .as_str()
                        .or_else(|| t["id"].as_str())
                        .unwrap_or("?");
                    match t["type"].as_str() {
                        Some(kind) => format!("{kind} {what}"),
                        None => what.to_string(),
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// `portcullis audit list`: the newest entries first.
pub(crate) fn list(args: &StoreArgs, limit: u32, as_json: bool) -> Result<()> {
    if limit == 0 || limit > 10_000 {
        bail!("--limit must be between 1 and 10000");
    }
    let records = with_store(args, async |store| {
        store
            .query_audits(&AuditQuery {
                limit,
                ..AuditQuery::default()
            })
            .await
            .context("cannot read the audit log")
    })?;
    let mut out = std::io::stdout().lock();
    if as_json {
        let value: Vec<Value> = records.iter().map(graph_shape).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    if records.is_empty() {
        writeln!(out, "The audit log is empty.")?;
    }
    for r in &records {
        let e = &r.entry;
        let reason = if e.result_reason.is_empty() {
            String::new()
        } else {
            format!("  ({})", e.result_reason)
        };
        writeln!(
            out,
            "{:>6}  {}  {:<7} {:<16} {}  by {}  on {}{reason}",
            r.seq,
            e.activity_date_time.format("%Y-%m-%d %H:%M:%S"),
            e.result.as_str(),
            e.category,
            e.activity_display_name,
            initiator(&e.initiated_by),
            targets(&e.target_resources),
        )?;
    }
    Ok(())
}
