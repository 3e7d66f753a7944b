//! `portcullis signins`: the sign-in log, newest first.

use crate::clients::with_store;
use crate::service::StoreArgs;
use anyhow::{bail, Context, Result};
use store::{SignInQuery, SignInResult};

/// Filters given on the command line.
pub(crate) struct Filters<'a> {
    /// A user's sign-in name.
    pub upn: Option<&'a str>,
    /// `success`, `failure` or `interrupted`.
    pub result: Option<&'a str>,
    /// RFC 3339.
    pub since: Option<&'a str>,
    /// At most this many.
    pub limit: u32,
}

/// Prints the sign-ins that match, as text or as Graph-shaped JSON.
pub(crate) fn list(args: &StoreArgs, filters: &Filters<'_>, as_json: bool) -> Result<()> {
    let result = match filters.result {
        None => None,
        Some("success") => Some(SignInResult::Success),
        Some("failure") => Some(SignInResult::Failure),
        Some("interrupted") => Some(SignInResult::Interrupted),
        Some(other) => bail!("--result '{other}' is not one of success, failure, interrupted"),
    };
    let since = filters
        .since
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&chrono::Utc))
                .with_context(|| format!("--since '{s}' is not an RFC 3339 time"))
        })
        .transpose()?;
    if filters.limit == 0 || filters.limit > 10_000 {
        bail!("--limit must be between 1 and 10000");
    }
    let records = with_store(args, async |store| {
        let user_id = match filters.upn {
            Some(upn) => match store.get_user_by_upn(upn).await {
                Ok(u) => Some(u.id),
                Err(e) if e.is_not_found() => bail!("no user is named '{upn}'"),
                Err(e) => return Err(e).context("cannot read the directory"),
            },
            None => None,
        };
        store
            .query_signins(&SignInQuery {
                user_id,
                since,
                result,
                limit: filters.limit,
            })
            .await
            .context("cannot read the sign-in log")
    })?;
    if as_json {
        let value: Vec<serde_json::Value> = records.iter().map(|r| r.to_graph()).collect();
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    if records.is_empty() {
        println!("No sign-ins match.");
    }
    for r in &records {
        let policies: Vec<String> = r
            .applied_policies
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        format!(
                            "{}={}",
                            p["displayName"].as_str().unwrap_or("?"),
                            p["result"].as_str().unwrap_or("?")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        println!(
            "{}  {:<11} {:<32} {:<18} {}{}{}",
            r.created_at.format("%Y-%m-%d %H:%M:%S"),
            r.result.as_str(),
            r.user_principal_name,
            r.client_id.as_deref().unwrap_or("-"),
            r.methods.join("+"),
            r.failure_reason
                .as_deref()
                .or(r.additional_details.as_deref())
                .map(|f| format!("  ({f})"))
                .unwrap_or_default(),
            if policies.is_empty() {
                String::new()
            } else {
                format!("  [{}]", policies.join("; "))
            }
        );
    }
    Ok(())
}
