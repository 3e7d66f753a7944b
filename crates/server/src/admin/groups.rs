//! *Groups* (`/admin/groups`): every group, create one (role-assignable only by those who
//! administer roles), rename, delete; a group's page (`/admin/groups/{id}`) lists its direct
//! members and adds or removes one — through the services of Graph's `/groups`
//! (`app::groups`), with their rules and the lockout guard.

use super::forms::Fields;
use super::{freshness, open, Frame, Freshness, Reauth, Section};
use crate::error::PageError;
use crate::error::PageForm;
use crate::portal::render;
use crate::session::BrowserSession;
use crate::state::AppState;
use app::authz::ManageGroups;
use app::conditional_access::LockoutGuard;
use app::groups::{GroupError, Member};
use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

const PATH: &str = "/admin/groups";

struct GroupRow {
    id: String,
    name: String,
    role_assignable: bool,
}

struct MemberRow {
    id: String,
    name: String,
    kind: &'static str,
}

#[derive(Template)]
#[template(path = "admin_groups.html")]
struct GroupsPage {
    frame: Frame,
    groups: Vec<GroupRow>,
    /// The group whose members are shown, if one.
    group: Option<GroupRow>,
    members: Vec<MemberRow>,
    name: String,
    role_assignable: bool,
    member: String,
    error: Option<String>,
    notice: Option<String>,
    reauth: Option<Reauth>,
}

async fn page_of(
    state: &AppState,
    caller: &app::Caller,
    frame: Frame,
    fields: &Fields,
    group: Option<&str>,
) -> Result<Result<GroupsPage, PageError>, PageError> {
    let mut groups: Vec<GroupRow> = state
        .store
        .list_groups()
        .await?
        .into_iter()
        .map(|g| GroupRow {
            id: g.id,
            name: g.display_name,
            role_assignable: g.is_assignable_to_role,
        })
        .collect();
    groups.sort_by_key(|g| g.name.to_lowercase());
    let mut page = GroupsPage {
        frame,
        groups,
        group: None,
        members: Vec::new(),
        name: fields.trimmed("name").to_string(),
        role_assignable: fields.checked("role_assignable"),
        member: fields.trimmed("member").to_string(),
        error: None,
        notice: None,
        reauth: None,
    };
    if let Some(id) = group {
        let Some(found) = page.groups.iter().find(|g| g.id.eq_ignore_ascii_case(id)) else {
            return Ok(Err(PageError::new(
                StatusCode::NOT_FOUND,
                "No such group",
                "No group has this id; choose one in Groups.",
            )));
        };
        page.group = Some(GroupRow {
            id: found.id.clone(),
            name: found.name.clone(),
            role_assignable: found.role_assignable,
        });
        let members = match state.core.group_members(caller, &found.id).await {
            Ok(members) => members,
            Err(GroupError::Store(e)) => return Err(e.into()),
            Err(e) => return Err(super::internal("group members", e)),
        };
        let members: Vec<MemberRow> = members
            .into_iter()
            .map(|m| match m {
                Member::User(u) => MemberRow {
                    id: u.id,
                    name: u.user_principal_name,
                    kind: "user",
                },
                Member::Group(g) => MemberRow {
                    id: g.id,
                    name: g.display_name,
                    kind: "group",
                },
            })
            .collect();
        page.members = members;
    }
    Ok(Ok(page))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Done {
    #[serde(default)]
    done: Option<String>,
}

/// `GET /admin/groups`.
pub(super) async fn page(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    show(state, jar, session, None, done).await
}

/// `GET /admin/groups/{id}`: the group's members.
pub(super) async fn members(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    show(state, jar, session, Some(id), done).await
}

async fn show(
    state: Arc<AppState>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    group: Option<String>,
    done: Done,
) -> Result<Response, PageError> {
    let back = group
        .as_ref()
        .map_or_else(|| PATH.to_string(), |g| format!("{PATH}/{g}"));
    let admin = match open::<ManageGroups>(&state, jar, session, Section::Groups, &back).await? {
        Ok(admin) => admin,
        Err(response) => return Ok(response),
    };
    let mut page = page_of(
        &state,
        &admin.session.caller,
        admin.frame,
        &Fields::default(),
        group.as_deref(),
    )
    .await??;
    page.notice = done.done.map(|d| format!("Done: {d}."));
    render(StatusCode::OK, &page)
}

fn status_of(e: &GroupError) -> StatusCode {
    match e {
        GroupError::NotFound(_) | GroupError::NoSuchMember(_) => StatusCode::NOT_FOUND,
        GroupError::Lockout(_) => StatusCode::CONFLICT,
        GroupError::RoleAssignable(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// `POST /admin/groups` (`op` = `create`, `rename`, `delete`, `add`, `remove`).
pub(super) async fn change(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = Fields::new(pairs);
    let op = fields.trimmed("op").to_string();
    let group = fields.trimmed("group").to_string();
    let on_group = matches!(op.as_str(), "add" | "remove") && !group.is_empty();
    let back = if on_group {
        format!("{PATH}/{group}")
    } else {
        PATH.to_string()
    };
    let admin = match open::<ManageGroups>(&state, jar, session, Section::Groups, &back).await? {
        Ok(admin) => admin,
        Err(response) => return Ok(response),
    };
    let stale = freshness(&state, &admin, &super::circumstances(peer, &headers)).await?;
    let frame = Frame::of(&state, admin.allowed.caller(), Section::Groups).await?;
    let kept = if matches!(op.as_str(), "create" | "add") {
        fields.clone()
    } else {
        Fields::default()
    };
    let mut page = page_of(
        &state,
        &admin.session.caller,
        frame,
        &kept,
        on_group.then_some(group.as_str()),
    )
    .await??;
    if let Freshness::Stale { contexts, reason } = stale {
        page.reauth = Some(Reauth::new(&back, &contexts, reason));
        return render(super::forms::STALE, &page);
    }
    let core = &state.core;
    let result = match op.as_str() {
        "create" => core
            .create_group(
                &admin.allowed,
                fields.trimmed("name"),
                fields.checked("role_assignable"),
            )
            .await
            .map(|_| "group created"),
        "rename" => core
            .rename_group(&admin.allowed, &group, fields.trimmed("name"))
            .await
            .map(|_| "group renamed"),
        "delete" => core
            .delete_group(&admin.allowed, &group, LockoutGuard::Enforce)
            .await
            .map(|_| "group deleted"),
        "add" => {
            let named = fields.trimmed("member");
            let id = match state.store.get_user_by_upn(named).await {
                Ok(u) => u.id,
                Err(e) if e.is_not_found() => named.to_string(),
                Err(e) => return Err(e.into()),
            };
            core.add_group_member(&admin.allowed, &group, &id)
                .await
                .map(|_| "member added")
        }
        "remove" => core
            .remove_group_member(
                &admin.allowed,
                &group,
                fields.trimmed("member"),
                LockoutGuard::Enforce,
            )
            .await
            .map(|_| "member removed"),
        _ => Err(GroupError::Invalid(vec!["unknown action".into()])),
    };
    match result {
        Ok(done) => {
            let to = if on_group { back } else { PATH.to_string() };
            let done: String = url::form_urlencoded::byte_serialize(done.as_bytes()).collect();
            Ok(Redirect::to(&format!("{to}?done={done}")).into_response())
        }
        Err(GroupError::Store(e)) => Err(e.into()),
        Err(e @ GroupError::Posture(_)) => Err(super::internal("groups", e)),
        Err(e) => {
            let status = status_of(&e);
            page.error = Some(e.to_string());
            render(status, &page)
        }
    }
}
