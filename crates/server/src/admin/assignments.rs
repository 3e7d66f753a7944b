//! *Assignments* (`/admin/assignments`): the eligible and active assignments of every role,
//! current and future, with a form to add one for a user or a role-assignable group (start,
//! end or permanent where the role's rules allow), to change one's end, and to remove one —
//! each an administrator's schedule request (`adminAssign`, `adminUpdate`, `adminRemove`)
//! through [`app::pim::admin::request`], the service behind Graph's
//! `roleEligibilityScheduleRequests` and `roleAssignmentScheduleRequests`.

use super::forms::Fields;
use super::roles::Choice;
use super::{freshness, open, Admin, Frame, Freshness, Reauth, Section};
use crate::error::PageForm;
use crate::error::{PageError, ServeError};
use crate::portal::{render, when};
use crate::session::BrowserSession;
use crate::state::AppState;
use app::authz::ManageRoles;
use app::conditional_access::LockoutGuard;
use app::pim::admin::{self, AdminError};
use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use chrono::{DateTime, NaiveDateTime, Utc};
use pim::{ScheduleKind, ScheduleRequest};
use policy::directory::AssignmentStatus;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use store::AssignmentQuery;

const PATH: &str = "/admin/assignments";

struct Row {
    kind: &'static str,
    role_id: String,
    role: String,
    principal_id: String,
    principal: String,
    start: String,
    end: String,
    /// The end as the form's `datetime-local` value.
    end_value: String,
}

#[derive(Template)]
#[template(path = "admin_assignments.html")]
struct AssignmentsPage {
    frame: Frame,
    rows: Vec<Row>,
    roles: Vec<Choice>,
    kind: String,
    principal: String,
    start: String,
    end: String,
    permanent: bool,
    justification: String,
    error: Option<String>,
    notice: Option<String>,
    reauth: Option<Reauth>,
}

/// The form's `datetime-local` value of a time (UTC).
fn local(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M").to_string()
}

/// A `datetime-local` value (read as UTC), or an RFC 3339 time.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc())
}

async fn rows(state: &AppState) -> Result<Vec<Row>, PageError> {
    let now = state.now();
    let roles: HashMap<String, String> = state
        .store
        .list_role_definitions()
        .await?
        .into_iter()
        .map(|d| (d.id.to_ascii_lowercase(), d.display_name))
        .collect();
    // The principals' names from the engine the service keeps current: reading every user of
    // a large tenant at each view cost over a second at 100,000 users.
    let engine = state.core.engine().await?;
    let mut names: HashMap<String, String> = HashMap::new();
    for g in state.store.list_groups().await? {
        names.insert(
            g.id.to_ascii_lowercase(),
            format!("group {}", g.display_name),
        );
    }
    let mut rows: Vec<Row> = state
        .store
        .list_scheduled_assignments(&AssignmentQuery::default())
        .await?
        .into_iter()
        .filter(|a| a.closed_at.is_none())
        .filter(|a| a.assignment.end_at.is_none_or(|e| e > now))
        .filter_map(|a| {
            let a = a.assignment;
            let kind = match a.status {
                AssignmentStatus::Eligible => "eligible",
                AssignmentStatus::Active => "active",
                _ => return None,
            };
            let principal = a.principal_id.canonical();
            Some(Row {
                kind,
                role: roles
                    .get(&a.role_definition_id.canonical())
                    .cloned()
                    .unwrap_or_else(|| a.role_definition_id.as_str().to_string()),
                role_id: a.role_definition_id.as_str().to_string(),
                principal: engine
                    .user(&principal)
                    .and_then(|u| u.user_principal_name.clone())
                    .or_else(|| names.get(&principal).cloned())
                    .unwrap_or_else(|| principal.clone()),
                principal_id: a.principal_id.as_str().to_string(),
                start: when(a.start_at),
                end: a.end_at.map_or_else(|| "permanent".into(), when),
                end_value: a.end_at.map(local).unwrap_or_default(),
            })
        })
        .collect();
    rows.sort_by(|a, b| (&a.role, a.kind, &a.principal).cmp(&(&b.role, b.kind, &b.principal)));
    Ok(rows)
}

async fn page_of(
    state: &AppState,
    frame: Frame,
    fields: &Fields,
) -> Result<AssignmentsPage, PageError> {
    let chosen = fields.trimmed("role");
    let mut roles: Vec<Choice> = state
        .store
        .list_role_definitions()
        .await?
        .into_iter()
        .map(|d| Choice {
            selected: d.id.eq_ignore_ascii_case(chosen),
            value: d.id,
            label: d.display_name,
        })
        .collect();
    roles.sort_by_key(|c| c.label.to_lowercase());
    Ok(AssignmentsPage {
        frame,
        rows: rows(state).await?,
        roles,
        kind: match fields.trimmed("kind") {
            "active" => "active".into(),
            _ => "eligible".into(),
        },
        principal: fields.trimmed("principal").to_string(),
        start: fields.trimmed("start").to_string(),
        end: fields.trimmed("end").to_string(),
        permanent: fields.checked("permanent"),
        justification: fields.trimmed("justification").to_string(),
        error: None,
        notice: None,
        reauth: None,
    })
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Done {
    #[serde(default)]
    done: Option<String>,
}

/// `GET /admin/assignments`.
pub(super) async fn page(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let admin = match open::<ManageRoles>(&state, jar, session, Section::Assignments, PATH).await? {
        Ok(admin) => admin,
        Err(response) => return Ok(response),
    };
    let mut page = page_of(&state, admin.frame, &Fields::default()).await?;
    page.notice = done.done.map(|d| match d.as_str() {
        "added" => "The assignment was added.".to_string(),
        "updated" => "The assignment was changed.".to_string(),
        _ => "The assignment was removed.".to_string(),
    });
    render(StatusCode::OK, &page)
}

/// A user (by sign-in name or id) or a group (by name or id): its id.
async fn principal_id(state: &AppState, named: &str) -> Result<Option<String>, PageError> {
    match state.store.get_user_by_upn(named).await {
        Ok(u) => return Ok(Some(u.id)),
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    match state.store.get_user(named).await {
        Ok(u) => return Ok(Some(u.id)),
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    Ok(state
        .store
        .list_groups()
        .await?
        .into_iter()
        .find(|g| g.id.eq_ignore_ascii_case(named) || g.display_name.eq_ignore_ascii_case(named))
        .map(|g| g.id))
}

/// Whether the session carries an MFA claim (the `…_Admin_…` enablement rules check it).
async fn mfa_claim(state: &AppState, admin: &Admin<ManageRoles>) -> Result<bool, PageError> {
    let methods: Vec<_> = state
        .store
        .session_events(&admin.session.session.id)
        .await?
        .into_iter()
        .map(|e| e.method)
        .collect();
    Ok(policy::amr::amr(&methods).iter().any(|v| v == "mfa"))
}

/// The request a form stands for, or why it cannot be one.
fn request_of(
    action: &str,
    fields: &Fields,
    principal: &str,
    now: DateTime<Utc>,
) -> Result<ScheduleRequest, String> {
    let start = match fields.trimmed("start") {
        "" => None,
        s => Some(parse_time(s).ok_or_else(|| format!("'{s}' is not a date and time."))?),
    };
    let end = match fields.trimmed("end") {
        "" => None,
        s => Some(parse_time(s).ok_or_else(|| format!("'{s}' is not a date and time."))?),
    };
    let permanent = fields.checked("permanent");
    let expiration = if action == "adminRemove" {
        None
    } else if permanent {
        if end.is_some() {
            return Err("Give an end, or tick permanent, not both.".into());
        }
        Some(json!({ "type": "noExpiration" }))
    } else {
        let Some(end) = end else {
            return Err("Give the end, or tick permanent where the role's rules allow it.".into());
        };
        if end <= now {
            return Err("The end is in the past.".into());
        }
        if start.is_some_and(|s| end <= s) {
            return Err("The end is before the start.".into());
        }
        Some(json!({ "type": "afterDateTime", "endDateTime": end }))
    };
    let mut body = json!({
        "action": action,
        "principalId": principal,
        "roleDefinitionId": fields.trimmed("role"),
        "directoryScopeId": "/",
    });
    let justification = fields.trimmed("justification");
    if !justification.is_empty() {
        body["justification"] = json!(justification);
    }
    if let Some(expiration) = expiration {
        let mut schedule = json!({ "expiration": expiration });
        if let Some(start) = start {
            schedule["startDateTime"] = json!(start);
        }
        body["scheduleInfo"] = schedule;
    }
    serde_json::from_value(body).map_err(|e| format!("The request is malformed: {e}."))
}

/// `POST /admin/assignments` (add), `/admin/assignments/update`, `/admin/assignments/remove`.
async fn act(
    state: Arc<AppState>,
    peer: SocketAddr,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    pairs: Vec<(String, String)>,
    action: &'static str,
) -> Result<Response, PageError> {
    let admin = match open::<ManageRoles>(&state, jar, session, Section::Assignments, PATH).await? {
        Ok(admin) => admin,
        Err(response) => return Ok(response),
    };
    let fields = Fields::new(pairs);
    let stale = freshness(&state, &admin, &super::circumstances(peer, &headers)).await?;
    let frame = Frame::of(&state, admin.allowed.caller(), Section::Assignments).await?;
    // An update or removal of a listed row is not the add form's input: the add form stays
    // empty then.
    let kept = if action == "adminAssign" {
        fields.clone()
    } else {
        Fields::default()
    };
    let mut page = page_of(&state, frame, &kept).await?;
    if let Freshness::Stale { contexts, reason } = stale {
        page.reauth = Some(Reauth::new(PATH, &contexts, reason));
        return render(super::forms::STALE, &page);
    }
    let refuse = |mut page: AssignmentsPage, status: StatusCode, why: String| {
        page.error = Some(why);
        render(status, &page)
    };
    let kind = match fields.trimmed("kind") {
        "eligible" => ScheduleKind::Eligibility,
        "active" => ScheduleKind::Assignment,
        _ => {
            return refuse(
                page,
                StatusCode::BAD_REQUEST,
                "Choose eligible or active.".into(),
            )
        }
    };
    let named = fields.trimmed("principal");
    if named.is_empty() {
        return refuse(
            page,
            StatusCode::BAD_REQUEST,
            "Name the user (sign-in name) or the group.".into(),
        );
    }
    let Some(principal) = principal_id(&state, named).await? else {
        return refuse(
            page,
            StatusCode::NOT_FOUND,
            format!("No user or group is named '{named}'."),
        );
    };
    let request = match request_of(action, &fields, &principal, state.now()) {
        Ok(r) => r,
        Err(why) => return refuse(page, StatusCode::BAD_REQUEST, why),
    };
    let mfa = mfa_claim(&state, &admin).await?;
    match admin::request(
        &state,
        &admin.allowed,
        mfa,
        request,
        kind,
        LockoutGuard::Enforce,
    )
    .await
    {
        Ok(_) => {
            let done = match action {
                "adminAssign" => "added",
                "adminUpdate" => "updated",
                _ => "removed",
            };
            Ok(Redirect::to(&format!("{PATH}?done={done}")).into_response())
        }
        Err(AdminError::Refused(refusal)) => {
            refuse(page, super::status_of(&refusal), refusal.message)
        }
        Err(AdminError::Store(e)) => Err(e.into()),
        Err(AdminError::Internal(e)) => Err(ServeError::Internal(e).into()),
    }
}

/// `POST /admin/assignments`: `adminAssign`.
pub(super) async fn add(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    act(state, peer, headers, jar, session, pairs, "adminAssign").await
}

/// `POST /admin/assignments/update`: `adminUpdate` (a new end).
pub(super) async fn update(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    act(state, peer, headers, jar, session, pairs, "adminUpdate").await
}

/// `POST /admin/assignments/remove`: `adminRemove`.
pub(super) async fn remove(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    act(state, peer, headers, jar, session, pairs, "adminRemove").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_times_are_utc_and_ends_are_checked() {
        let t = parse_time("2030-01-02T03:04").unwrap_or_default();
        assert_eq!(t.to_rfc3339(), "2030-01-02T03:04:00+00:00");
        assert!(parse_time("tomorrow").is_none());
        let now = parse_time("2029-01-01T00:00").unwrap_or_default();
        let f = |pairs: &[(&str, &str)]| {
            Fields::new(
                pairs
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
            )
        };
        for (form, says) in [
            (vec![("end", "2028-01-01T00:00")], "past"),
            (
                vec![("start", "2029-06-01T00:00"), ("end", "2029-05-01T00:00")],
                "before the start",
            ),
            (vec![], "Give the end"),
            (vec![("end", "soon")], "not a date"),
            (
                vec![("end", "2030-01-01T00:00"), ("permanent", "on")],
                "not both",
            ),
        ] {
            let e = request_of("adminAssign", &f(&form), "u", now).err();
            assert!(
                e.as_deref().is_some_and(|e| e.contains(says)),
                "{form:?}: {e:?}"
            );
        }
        let ok = request_of(
            "adminAssign",
            &f(&[("role", "r"), ("end", "2030-01-01T00:00")]),
            "u",
            now,
        );
        assert!(ok.is_ok(), "{ok:?}");
        assert!(request_of("adminRemove", &f(&[("role", "r")]), "u", now).is_ok());
    }
}
