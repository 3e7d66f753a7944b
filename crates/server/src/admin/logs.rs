//! The *Sign-in log* (`/admin/sign-ins`: each sign-in with every Conditional Access policy's
//! result, filtered by user, status and day) and the *Audit log* (`/admin/audit`: the entries,
//! newest first, and the state of the hash chain — verified, or the first entry where it
//! breaks, as `portcullis audit verify` reports it). Read only, with `ReadAuditLogs`, through
//! the services of Graph's `auditLogs` (`app::logs`).

use super::{open, Frame, Section};
use crate::error::PageError;
use crate::portal::{render, when};
use crate::session::BrowserSession;
use crate::state::AppState;
use app::authz::ReadAuditLogs;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use chrono::{NaiveDate, TimeDelta};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use store::{AuditQuery, SignInQuery, SignInResult};

/// One policy's result for a sign-in.
struct Applied {
    name: String,
    result: String,
}

struct SignInRow {
    at: String,
    upn: String,
    app: String,
    ip: String,
    result: &'static str,
    reason: String,
    methods: String,
    policies: Vec<Applied>,
}

#[derive(Template)]
#[template(path = "admin_sign_ins.html")]
struct SignInsPage {
    frame: Frame,
    user: String,
    status: String,
    date: String,
    error: Option<String>,
    rows: Vec<SignInRow>,
}

/// The sign-in log's filters.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SignInFilter {
    #[serde(default)]
    user: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    date: String,
}

fn result_text(r: &SignInResult) -> &'static str {
    match r {
        SignInResult::Success => "success",
        SignInResult::Failure => "failure",
        SignInResult::Interrupted => "interrupted",
    }
}

fn applied(policies: &Value) -> Vec<Applied> {
    policies
        .as_array()
        .map(|all| {
            all.iter()
                .map(|p| Applied {
                    name: p["displayName"]
                        .as_str()
                        .or(p["id"].as_str())
                        .unwrap_or("(unnamed)")
                        .to_string(),
                    result: p["result"].as_str().unwrap_or("").to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /admin/sign-ins[?user=UPN&status=success|failure|interrupted&date=YYYY-MM-DD]`.
pub(super) async fn sign_ins(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Query(filter): Query<SignInFilter>,
) -> Result<Response, PageError> {
    let admin =
        match open::<ReadAuditLogs>(&state, jar, session, Section::SignIns, "/admin/sign-ins")
            .await?
        {
            Ok(admin) => admin,
            Err(response) => return Ok(response),
        };
    let mut page = SignInsPage {
        frame: admin.frame,
        user: filter.user.trim().to_string(),
        status: filter.status.trim().to_string(),
        date: filter.date.trim().to_string(),
        error: None,
        rows: Vec::new(),
    };
    let mut query = SignInQuery {
        limit: 200,
        ..SignInQuery::default()
    };
    if !page.user.is_empty() {
        match state.store.get_user_by_upn(&page.user).await {
            Ok(u) => query.user_id = Some(u.id),
            Err(e) if e.is_not_found() => {
                page.error = Some(format!("No user is named '{}'.", page.user));
                return render(StatusCode::BAD_REQUEST, &page);
            }
            Err(e) => return Err(e.into()),
        }
    }
    query.result = match page.status.as_str() {
        "" => None,
        "success" => Some(SignInResult::Success),
        "failure" => Some(SignInResult::Failure),
        "interrupted" => Some(SignInResult::Interrupted),
        _ => {
            page.error = Some("Choose a status: success, failure or interrupted.".into());
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    let mut until = None;
    if !page.date.is_empty() {
        let Ok(day) = NaiveDate::parse_from_str(&page.date, "%Y-%m-%d") else {
            page.error = Some(format!("'{}' is not a day (YYYY-MM-DD).", page.date));
            return render(StatusCode::BAD_REQUEST, &page);
        };
        let since = day.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        query.since = since;
        until = since.map(|s| s + TimeDelta::days(1));
    }
    let records = state.core.sign_ins(&admin.allowed, &query).await?;
    page.rows = records
        .iter()
        .filter(|r| until.is_none_or(|u| r.created_at < u))
        .map(|r| SignInRow {
            at: when(r.created_at),
            upn: r.user_principal_name.clone(),
            app: r.client_id.clone().unwrap_or_default(),
            ip: r.ip.clone().unwrap_or_default(),
            result: result_text(&r.result),
            reason: r.failure_reason.clone().unwrap_or_default(),
            methods: r.methods.join(", "),
            policies: applied(&r.applied_policies),
        })
        .collect();
    render(StatusCode::OK, &page)
}

struct AuditRow {
    seq: u64,
    at: String,
    category: String,
    activity: String,
    result: String,
    by: String,
    targets: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    frame: Frame,
    entries: u64,
    broken: Option<(u64, String)>,
    category: String,
    rows: Vec<AuditRow>,
}

/// The audit log's filter.
#[derive(Debug, Default, Deserialize)]
pub(super) struct AuditFilter {
    #[serde(default)]
    category: String,
}

fn names(v: &Value) -> String {
    let one = |x: &Value| {
        x["userPrincipalName"]
            .as_str()
            .or(x["displayName"].as_str())
            .or(x["user"]["userPrincipalName"].as_str())
            .or(x["user"]["id"].as_str())
            .or(x["id"].as_str())
            .unwrap_or("")
            .to_string()
    };
    match v {
        Value::Array(all) => all
            .iter()
            .map(one)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
        other => one(other),
    }
}

/// `GET /admin/audit[?category=…]`: the newest entries and the chain's state.
pub(super) async fn audit(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Query(filter): Query<AuditFilter>,
) -> Result<Response, PageError> {
    let admin =
        match open::<ReadAuditLogs>(&state, jar, session, Section::Audit, "/admin/audit").await? {
            Ok(admin) => admin,
            Err(response) => return Ok(response),
        };
    let verified = state.core.verify_audit_log(&admin.allowed).await?;
    let category = filter.category.trim().to_string();
    let records = state
        .core
        .directory_audits(
            &admin.allowed,
            &AuditQuery {
                category: (!category.is_empty()).then(|| category.clone()),
                limit: 200,
                ..AuditQuery::default()
            },
        )
        .await?;
    let rows = records
        .iter()
        .map(|r| AuditRow {
            seq: r.seq,
            at: when(r.entry.activity_date_time),
            category: r.entry.category.clone(),
            activity: r.entry.activity_display_name.clone(),
            result: format!("{:?}", r.entry.result).to_lowercase(),
            by: names(&r.entry.initiated_by),
            targets: names(&r.entry.target_resources),
        })
        .collect();
    render(
        StatusCode::OK,
        &AuditPage {
            frame: admin.frame,
            entries: verified.entries,
            broken: verified.first_broken,
            category,
            rows,
        },
    )
}
