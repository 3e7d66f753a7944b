//! The admin center at `/admin`: the tenant's configuration for the administrators who govern
//! it, by permission type — a reader sees a section, a writer changes it.
//!
//! Every page is server-rendered and calls the same application-core services as the Graph API,
//! with the same permission types: a page opens only with an [`Authorized`] proof that
//! [`Core::authorize`](app::Core::authorize) made from the caller's *active* roles now (an
//! eligible administrator activates in *My roles* first). Forms `POST` under `/admin/`, which
//! the same-origin check of [`crate::browser`] guards like every page form.
//!
//! **Re-authentication for writes.** A write also needs a recent proof
//! ([`REAUTHENTICATION_SECONDS`]) that satisfies, now, the authentication contexts the
//! activation settings of the caller's granting roles require
//! ([`Core::reauthentication_contexts`](app::Core::reauthentication_contexts)): the session's
//! own sign-in events are assessed again as a sign-in with `max_age` and those contexts would
//! be. Nothing new is stored: a write refused for freshness keeps the form's input and offers
//! the sign-in that makes the proof, which comes back to the page.

mod access_passes;
mod assignments;
mod contexts;
mod forms;
mod groups;
mod locations;
mod logs;
mod policies;
mod policy_form;
mod readiness;
mod roles;
mod strengths;
mod users;
mod what_if;

use crate::error::PageForm;
use crate::error::{PageError, ServeError};
use crate::portal::{self, Return};
use crate::session::BrowserSession;
use crate::state::AppState;
use app::authz::{
    ActiveRoles, AuthorizeError, ManageConditionalAccess, ManageGroups, ManageRoles, ManageUsers,
    ReadAuditLogs, ReadConditionalAccess,
};
use app::signin::{AssessmentRequest, Circumstances, SignInSubject, Verdict};
use app::{Authorized, Caller, Permission};
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use chrono::TimeDelta;
use policy::roles::BuiltInRole;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

/// How recent (seconds) the proof behind an admin center write must be.
pub const REAUTHENTICATION_SECONDS: i64 = 600;

/// The admin center's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin", get(home))
        .route("/admin/reauthenticate", post(reauthenticate))
        .merge(conditional_access_routes())
        .merge(pim_routes())
}

/// The PIM, directory, logs, What If and readiness sections.
fn pim_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/admin/access-passes",
            get(access_passes::page).post(access_passes::issue),
        )
        .route("/admin/access-passes/delete", post(access_passes::delete))
        .route(
            "/admin/assignments",
            get(assignments::page).post(assignments::add),
        )
        .route("/admin/assignments/update", post(assignments::update))
        .route("/admin/assignments/remove", post(assignments::remove))
        .route("/admin/users", get(users::page).post(users::change))
        .route("/admin/groups", get(groups::page).post(groups::change))
        .route("/admin/groups/{id}", get(groups::members))
        .route("/admin/sign-ins", get(logs::sign_ins))
        .route("/admin/audit", get(logs::audit))
        .route("/admin/what-if", get(what_if::page))
        .route("/admin/readiness", get(readiness::page))
        .route("/admin/readiness/on", post(readiness::switch_on))
        .route("/admin/roles", get(roles::list))
        .route("/admin/roles/{id}", get(roles::page))
        .route("/admin/roles/{id}/rules/{rule}", post(roles::save_rule))
}

/// The Conditional Access sections: contexts, strengths, policies and named locations.
fn conditional_access_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/admin/contexts",
            get(contexts::list).post(contexts::create),
        )
        .route(
            "/admin/contexts/{id}",
            get(contexts::one).post(contexts::update),
        )
        .route("/admin/contexts/{id}/delete", post(contexts::delete))
        .merge(policies::routes())
        .merge(strengths::routes())
        .merge(locations::routes())
}

/// A section of the admin center, as the navigation and the home page list it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Home,
    Contexts,
    Strengths,
    Policies,
    Locations,
    Roles,
    Assignments,
    AccessPasses,
    Users,
    Groups,
    SignIns,
    Audit,
    WhatIf,
    Readiness,
}

impl Section {
    /// Every section, in the navigation's order.
    pub(crate) const ALL: [Section; 14] = [
        Section::Home,
        Section::Readiness,
        Section::Contexts,
        Section::Strengths,
        Section::Policies,
        Section::Locations,
        Section::WhatIf,
        Section::Roles,
        Section::Assignments,
        Section::AccessPasses,
        Section::Users,
        Section::Groups,
        Section::SignIns,
        Section::Audit,
    ];

    /// The section's name.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Section::Home => "Overview",
            Section::Contexts => "Authentication contexts",
            Section::Strengths => "Authentication strengths",
            Section::Policies => "Conditional Access policies",
            Section::Locations => "Named locations",
            Section::Roles => "Roles and settings",
            Section::Assignments => "Assignments",
            Section::AccessPasses => "Temporary access passes",
            Section::Users => "Users",
            Section::Groups => "Groups",
            Section::SignIns => "Sign-in log",
            Section::Audit => "Audit log",
            Section::WhatIf => "What If",
            Section::Readiness => "Rollout readiness",
        }
    }

    /// Where the section lives.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Section::Home => "/admin",
            Section::Contexts => "/admin/contexts",
            Section::Strengths => "/admin/strengths",
            Section::Policies => "/admin/policies",
            Section::Locations => "/admin/locations",
            Section::Roles => "/admin/roles",
            Section::Assignments => "/admin/assignments",
            Section::AccessPasses => "/admin/access-passes",
            Section::Users => "/admin/users",
            Section::Groups => "/admin/groups",
            Section::SignIns => "/admin/sign-ins",
            Section::Audit => "/admin/audit",
            Section::WhatIf => "/admin/what-if",
            Section::Readiness => "/admin/readiness",
        }
    }

    /// What the section is for, in a sentence of the overview.
    pub(crate) fn summary(self) -> &'static str {
        match self {
            Section::Home => "What you may see and change here.",
            Section::Contexts => "The contexts (c1…c99) that roles and applications ask for.",
            Section::Strengths => "Which method combinations satisfy a policy's strength.",
            Section::Policies => "Who must prove what, for what, and how often.",
            Section::Locations => "Trusted networks and countries that policies name.",
            Section::Roles => "Each role's activation, assignment and notification rules.",
            Section::Assignments => "Who is eligible for or holds each role, and until when.",
            Section::AccessPasses => "Time-limited passes to register a first credential.",
            Section::Users => "The people of the tenant.",
            Section::Groups => "Groups, their members, and role-assignable groups.",
            Section::SignIns => "Each sign-in with every policy's result.",
            Section::Audit => "Every change, in a verified chain.",
            Section::WhatIf => "Which policies would apply to a sign-in, and why.",
            Section::Readiness => "Before a policy goes On: who can pass it, what is wrong.",
        }
    }

    /// Whether the caller, holding `held`, may open the section (read it) and change it.
    pub(crate) fn access(self, held: &ActiveRoles) -> Access {
        let (read, write) = match self {
            Section::Home => (true, false),
            Section::Contexts
            | Section::Strengths
            | Section::Policies
            | Section::Locations
            | Section::WhatIf => (
                held.allow::<ReadConditionalAccess>(),
                held.allow::<ManageConditionalAccess>(),
            ),
            Section::Roles | Section::Assignments | Section::AccessPasses | Section::Readiness => {
                let manage = held.allow::<ManageRoles>();
                (manage, manage)
            }
            Section::Users => {
                let manage = held.allow::<ManageUsers>();
                (manage, manage)
            }
            Section::Groups => {
                let manage = held.allow::<ManageGroups>();
                (manage, manage)
            }
            Section::SignIns | Section::Audit => (held.allow::<ReadAuditLogs>(), false),
        };
        Access { read, write }
    }
}

/// What the caller may do with a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Access {
    /// May open it.
    pub read: bool,
    /// May change it.
    pub write: bool,
}

/// One entry of the admin navigation.
pub(crate) struct NavItem {
    /// The section.
    pub section: Section,
    /// What the caller may do there.
    pub access: Access,
}

/// What every admin page's layout shows: who is signed in, the sections they may open, and
/// which one this page is.
pub(crate) struct Frame {
    /// The caller's user principal name.
    pub upn: String,
    /// The sections the caller may open.
    pub nav: Vec<NavItem>,
    /// This page's section.
    pub current: Section,
}

impl Frame {
    /// The frame of `current` for `caller`.
    pub(crate) async fn of(
        state: &AppState,
        caller: &Caller,
        current: Section,
    ) -> Result<Frame, PageError> {
        // One read of the caller's roles for every section.
        let held = state.core.active_roles(caller).await?;
        let nav = Section::ALL
            .into_iter()
            .map(|section| NavItem {
                section,
                access: section.access(&held),
            })
            .filter(|item| item.access.read)
            .collect();
        Ok(Frame {
            upn: caller.user.user_principal_name.clone(),
            nav,
            current,
        })
    }
}

/// An admin page opened by a caller holding `P`: the proof, the session and the frame.
pub(crate) struct Admin<P: Permission> {
    /// The permission, as only the authorization check makes it.
    pub allowed: Authorized<P>,
    /// The browser session.
    pub session: BrowserSession,
    /// The layout's frame.
    pub frame: Frame,
}

/// Opens an admin page of `section` that needs `P`: `Err(response)` sends a visitor without
/// a session to the sign-in (and back to `back`, a path under `/admin`), and refuses with a
/// `403` page a caller without `P` active now, saying which roles grant it.
pub(crate) async fn open<P: Permission>(
    state: &AppState,
    jar: CookieJar,
    session: Option<BrowserSession>,
    section: Section,
    back: &str,
) -> Result<Result<Admin<P>, Response>, PageError> {
    let Some(session) = session else {
        let back = portal::admin_path(back).unwrap_or_else(|| "/admin".into());
        return Ok(Err(
            portal::sign_in_first(state, jar, Return::Admin(back)).await?
        ));
    };
    let allowed = match state.core.authorize::<P>(&session.caller).await {
        Ok(allowed) => allowed,
        Err(AuthorizeError::Denied(_)) => return Err(denied::<P>()),
        Err(AuthorizeError::Store(e)) => return Err(e.into()),
    };
    let frame = Frame::of(state, &session.caller, section).await?;
    Ok(Ok(Admin {
        allowed,
        session,
        frame,
    }))
}

/// The `403` page of a caller without `P`.
pub(crate) fn denied<P: Permission>() -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "Not allowed",
        format!(
            "{} requires an active {} assignment, and you hold none now. If you are eligible \
             for one of these roles, activate it in My roles (/my/roles), then open this page \
             again.",
            P::WHAT,
            P::ROLE_NAMES
        ),
    )
}

/// Whether a write may go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// The session proved itself recently enough, on every context required.
    Fresh,
    /// It must prove itself again: the contexts the proof must satisfy (maybe none), and why.
    Stale {
        /// The authentication contexts the re-authentication asks for.
        contexts: Vec<String>,
        /// Why, in a sentence for the page.
        reason: String,
    },
}

/// Whether `admin`'s session may write now (see the module's documentation). A page that gets
/// [`Freshness::Stale`] re-renders its form with the input kept and a
/// [`ReauthenticateForm`] button.
pub(crate) async fn freshness<P: Permission>(
    state: &AppState,
    admin: &Admin<P>,
    circumstances: &Circumstances,
) -> Result<Freshness, PageError> {
    let caller = admin.allowed.caller();
    let contexts = state.core.reauthentication_contexts::<P>(caller).await?;
    let events = state
        .store
        .session_events(&admin.session.session.id)
        .await?;
    let now = state.now();
    let request = AssessmentRequest {
        client_id: portal::CLIENT_ID.into(),
        contexts: contexts.clone(),
        max_age: Some(REAUTHENTICATION_SECONDS),
        ..AssessmentRequest::default()
    };
    let subject = SignInSubject {
        user_id: &caller.user.id,
        events: &events,
        transaction_started_at: now - TimeDelta::seconds(REAUTHENTICATION_SECONDS),
        request: &request,
        circumstances,
    };
    let assessment = state
        .core
        .assess_sign_in(&subject, now)
        .await
        .map_err(crate::signin::flow::internal)?;
    Ok(match assessment.verdict {
        Verdict::Grant(_) => Freshness::Fresh,
        Verdict::Challenge(needs) => Freshness::Stale {
            reason: stale_reason(&contexts, needs.iter().map(|n| n.reason.as_str())),
            contexts,
        },
        Verdict::Block(why) => Freshness::Stale {
            reason: why,
            contexts,
        },
    })
}

fn stale_reason<'a>(contexts: &[String], needs: impl Iterator<Item = &'a str>) -> String {
    let minutes = REAUTHENTICATION_SECONDS / 60;
    let mut reason = if contexts.is_empty() {
        format!("Changes in the admin center need a sign-in from the last {minutes} minutes.")
    } else {
        format!(
            "Changes in the admin center need a sign-in from the last {minutes} minutes that \
             satisfies {}, as your role's activation settings require.",
            contexts.join(", ")
        )
    };
    for need in needs {
        reason.push(' ');
        reason.push_str(need);
    }
    reason
}

/// The request facts Conditional Access reads, for a handler's [`freshness`] check.
pub(crate) fn circumstances(peer: SocketAddr, headers: &HeaderMap) -> Circumstances {
    crate::signin::circumstances(peer, headers)
}

/// The form behind a page's *Confirm it's you* button.
#[derive(Debug, Deserialize)]
pub(crate) struct ReauthenticateForm {
    /// The admin page to return to.
    #[serde(default)]
    back: String,
    /// The contexts to satisfy, comma-separated (checked again here: the form cannot lower
    /// them).
    #[serde(default)]
    contexts: String,
}

/// `POST /admin/reauthenticate`: the sign-in that makes a fresh proof, back to the page.
async fn reauthenticate(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    PageForm(form): PageForm<ReauthenticateForm>,
) -> Result<Response, PageError> {
    let back = portal::admin_path(&form.back).unwrap_or_else(|| "/admin".into());
    let Some(session) = session else {
        return portal::sign_in_first(&state, jar, Return::Admin(back)).await;
    };
    // The contexts the form names, and at least those the caller's roles require now.
    let mut contexts: Vec<String> = form
        .contexts
        .split(',')
        .map(str::trim)
        .filter(|c| policy::context::ContextId::parse(c).is_ok())
        .map(str::to_string)
        .collect();
    for required in required_contexts(&state, &session.caller).await? {
        if !contexts.contains(&required) {
            contexts.push(required);
        }
    }
    portal::reauthenticate(
        &state,
        jar,
        Return::Admin(back),
        &contexts,
        REAUTHENTICATION_SECONDS,
    )
    .await
}

/// Every context any of the caller's admin permissions asks a write to re-prove.
async fn required_contexts(state: &AppState, caller: &Caller) -> Result<Vec<String>, PageError> {
    // The roles of every admin permission that writes, read once.
    let roles: Vec<BuiltInRole> = [
        ManageConditionalAccess::ROLES,
        ManageRoles::ROLES,
        ManageUsers::ROLES,
        ManageGroups::ROLES,
    ]
    .concat();
    Ok(state
        .core
        .reauthentication_contexts_of(caller, &roles)
        .await?)
}

#[derive(Template)]
#[template(path = "admin_home.html")]
struct HomePage {
    frame: Frame,
    sections: Vec<NavItem>,
}

/// `GET /admin`: the sections the caller may open, and a word for one who may open none.
async fn home(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
) -> Result<Response, PageError> {
    let Some(session) = session else {
        return portal::sign_in_first(&state, jar, Return::Admin("/admin".into())).await;
    };
    let frame = Frame::of(&state, &session.caller, Section::Home).await?;
    let sections = Section::ALL
        .into_iter()
        .filter(|s| *s != Section::Home)
        .filter_map(|section| {
            frame
                .nav
                .iter()
                .find(|n| n.section == section)
                .map(|n| NavItem {
                    section,
                    access: n.access,
                })
        })
        .collect();
    portal::render(StatusCode::OK, &HomePage { frame, sections })
}

/// The status of a page refused by a service's [`Refusal`](app::pim::Refusal).
pub(crate) fn status_of(refusal: &app::pim::Refusal) -> StatusCode {
    use app::pim::RefusalKind;
    match refusal.kind {
        RefusalKind::Invalid => StatusCode::BAD_REQUEST,
        RefusalKind::Forbidden => StatusCode::FORBIDDEN,
        RefusalKind::NotFound => StatusCode::NOT_FOUND,
        RefusalKind::Conflict => StatusCode::CONFLICT,
    }
}

/// A failure of the pages' own making (a template, a service's unexpected error).
pub(crate) fn internal(what: &str, e: impl std::fmt::Display) -> PageError {
    ServeError::Internal(format!("{what}: {e}")).into()
}

/// What a form page shows when a write was refused for freshness: why, and the button
/// (`admin_reauth.html`) that starts the sign-in making the proof and comes back to `back`.
#[derive(Debug, Clone)]
pub(crate) struct Reauth {
    /// Why the write needs a new proof.
    pub reason: String,
    /// The page to come back to.
    pub back: String,
    /// The contexts, comma-separated.
    pub contexts: String,
}

impl Reauth {
    /// The notice for a [`Freshness::Stale`] write on the page `back`.
    pub(crate) fn new(back: &str, contexts: &[String], reason: String) -> Reauth {
        Reauth {
            reason,
            back: back.to_string(),
            contexts: contexts.join(","),
        }
    }
}
