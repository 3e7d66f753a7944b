//! *Temporary access passes* (`/admin/access-passes`): issue a user a pass (lifetime, one-time
//! or not), shown once on the page that answers the issuing — never stored, never in an address
//! — and each user's passes with whether they can be used now, to delete. Through the same
//! services as Graph's `temporaryAccessPassMethods` (`app::access_pass`).

use super::forms::Fields;
use super::{freshness, open, Admin, Frame, Freshness, Reauth, Section};
use crate::error::PageError;
use crate::error::PageForm;
use crate::portal::{render, when};
use crate::session::BrowserSession;
use crate::state::AppState;
use app::access_pass::{PassError, PassRequest, Usability};
use app::authz::ManageRoles;
use askama::Template;
use authn::secrecy::ExposeSecret;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

const PATH: &str = "/admin/access-passes";

/// One pass of the list.
struct PassRow {
    id: String,
    created: String,
    expires: String,
    once: bool,
    usable: bool,
    usability: &'static str,
}

/// The pass just issued, shown this once.
struct Issued {
    upn: String,
    pass: String,
    expires: String,
    once: bool,
}

#[derive(Template)]
#[template(path = "admin_access_passes.html")]
struct PassesPage {
    frame: Frame,
    /// The issue form: user, lifetime (minutes), one-time.
    user: String,
    lifetime: String,
    once: bool,
    error: Option<String>,
    notice: Option<String>,
    reauth: Option<Reauth>,
    issued: Option<Issued>,
    /// The user whose passes are listed, and the list.
    listed: Option<String>,
    passes: Vec<PassRow>,
}

fn usability_text(u: Usability) -> &'static str {
    match u {
        Usability::EnabledByPolicy => "usable now",
        Usability::OneTimeUsed => "used (one-time)",
        Usability::Expired => "expired",
        Usability::NotYetValid => "not yet valid",
    }
}

/// The passes of `user` (id or sign-in name), or why they cannot be listed.
async fn passes_of(
    state: &AppState,
    admin: &Admin<ManageRoles>,
    user: &str,
) -> Result<Result<(String, Vec<PassRow>), String>, PageError> {
    match state.core.access_passes(&admin.allowed, user).await {
        Ok((user, passes)) => {
            let now = state.now();
            let rows = passes
                .iter()
                .map(|p| {
                    let u = Usability::of(p, now);
                    PassRow {
                        id: p.id.clone(),
                        created: when(p.created_at),
                        expires: when(p.expires_at),
                        once: p.is_usable_once,
                        usable: u.is_usable(),
                        usability: usability_text(u),
                    }
                })
                .collect();
            Ok(Ok((user.user_principal_name, rows)))
        }
        Err(PassError::Store(e)) => Err(e.into()),
        Err(e) => Ok(Err(e.to_string())),
    }
}

fn blank(frame: Frame) -> PassesPage {
    PassesPage {
        frame,
        user: String::new(),
        lifetime: "60".into(),
        once: true,
        error: None,
        notice: None,
        reauth: None,
        issued: None,
        listed: None,
        passes: Vec::new(),
    }
}

/// The page's query: whose passes to list.
#[derive(Debug, Default, Deserialize)]
pub(super) struct PassesQuery {
    #[serde(default)]
    user: String,
    #[serde(default)]
    deleted: Option<String>,
}

/// `GET /admin/access-passes[?user=UPN]`.
pub(super) async fn page(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Query(query): Query<PassesQuery>,
) -> Result<Response, PageError> {
    let admin = match open::<ManageRoles>(&state, jar, session, Section::AccessPasses, PATH).await?
    {
        Ok(admin) => admin,
        Err(response) => return Ok(response),
    };
    let user = query.user.trim().to_string();
    let listed = if user.is_empty() {
        None
    } else {
        Some(passes_of(&state, &admin, &user).await?)
    };
    let mut page = blank(admin.frame);
    page.user = user;
    if query.deleted.is_some() {
        page.notice = Some("The pass was deleted.".into());
    }
    match listed {
        Some(Ok((upn, passes))) => {
            page.listed = Some(upn);
            page.passes = passes;
        }
        Some(Err(why)) => page.error = Some(why),
        None => {}
    }
    render(StatusCode::OK, &page)
}

/// `POST /admin/access-passes`: issues a pass and shows it, this once.
pub(super) async fn issue(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let admin = match open::<ManageRoles>(&state, jar, session, Section::AccessPasses, PATH).await?
    {
        Ok(admin) => admin,
        Err(response) => return Ok(response),
    };
    let fields = Fields::new(pairs);
    let user = fields.trimmed("user").to_string();
    let lifetime = fields.trimmed("lifetime").to_string();
    let once = fields.checked("once");
    let stale = freshness(&state, &admin, &super::circumstances(peer, &headers)).await?;
    let frame = Frame::of(&state, admin.allowed.caller(), Section::AccessPasses).await?;
    let mut page = blank(frame);
    page.user.clone_from(&user);
    page.lifetime.clone_from(&lifetime);
    page.once = once;
    if let Freshness::Stale { contexts, reason } = stale {
        page.reauth = Some(Reauth::new(PATH, &contexts, reason));
        return render(super::forms::STALE, &page);
    }
    let refuse = |mut page: PassesPage, why: String| {
        page.error = Some(why);
        render(StatusCode::BAD_REQUEST, &page)
    };
    if user.is_empty() {
        return refuse(page, "Name the user (their sign-in name).".into());
    }
    let lifetime_minutes = match lifetime.parse::<i64>() {
        Ok(m) => m,
        Err(_) => return refuse(page, "The lifetime is a number of minutes.".into()),
    };
    let request = PassRequest {
        lifetime_minutes: Some(lifetime_minutes),
        usable_once: Some(once),
        ..PassRequest::default()
    };
    match state
        .core
        .issue_access_pass(&admin.allowed, &user, request)
        .await
    {
        Ok(issued) => {
            page.issued = Some(Issued {
                upn: issued.user.user_principal_name.clone(),
                pass: issued.pass.expose_secret().to_string(),
                expires: when(issued.method.expires_at),
                once: issued.method.is_usable_once,
            });
            if let Ok((upn, passes)) = passes_of(&state, &admin, &issued.user.id).await? {
                page.listed = Some(upn);
                page.passes = passes;
            }
            render(StatusCode::OK, &page)
        }
        Err(PassError::Store(e)) => Err(e.into()),
        Err(e @ PassError::UnknownUser(_)) => {
            page.error = Some(e.to_string());
            render(StatusCode::NOT_FOUND, &page)
        }
        Err(e) => refuse(page, e.to_string()),
    }
}

/// The delete button's form.
#[derive(Debug, Default, Deserialize)]
pub(super) struct DeleteForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    pass: String,
}

/// `POST /admin/access-passes/delete`.
pub(super) async fn delete(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    PageForm(form): PageForm<DeleteForm>,
) -> Result<Response, PageError> {
    let admin = match open::<ManageRoles>(&state, jar, session, Section::AccessPasses, PATH).await?
    {
        Ok(admin) => admin,
        Err(response) => return Ok(response),
    };
    let stale = freshness(&state, &admin, &super::circumstances(peer, &headers)).await?;
    let listed = passes_of(&state, &admin, &form.user).await?;
    let frame = Frame::of(&state, admin.allowed.caller(), Section::AccessPasses).await?;
    let mut page = blank(frame);
    page.user.clone_from(&form.user);
    if let Ok((upn, passes)) = listed {
        page.listed = Some(upn);
        page.passes = passes;
    }
    if let Freshness::Stale { contexts, reason } = stale {
        page.reauth = Some(Reauth::new(PATH, &contexts, reason));
        return render(super::forms::STALE, &page);
    }
    match state
        .core
        .delete_access_pass(&admin.allowed, &form.user, &form.pass)
        .await
    {
        Ok(()) => {
            let user: String = url::form_urlencoded::byte_serialize(form.user.as_bytes()).collect();
            Ok(Redirect::to(&format!("{PATH}?user={user}&deleted=1")).into_response())
        }
        Err(PassError::Store(e)) => Err(e.into()),
        Err(e) => {
            page.error = Some(e.to_string());
            render(StatusCode::NOT_FOUND, &page)
        }
    }
}
