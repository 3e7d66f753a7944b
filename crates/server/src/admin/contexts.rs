//! *Authentication contexts* (`/admin/contexts`): the tenant's contexts `c1`…`c99` — listed for
//! a Conditional Access reader; created, changed and deleted by a writer through the services
//! the Graph API's handlers call ([`app::conditional_access::contexts`]), with their refusals
//! (a taken or malformed id, a context in use) shown next to the form.

use super::forms::{self, Fields, Writer, STALE};
use super::{Frame, Reauth, Section};
use crate::error::PageError;
use crate::error::PageForm;
use crate::portal::render;
use crate::session::BrowserSession;
use crate::state::AppState;
use app::authz::ReadConditionalAccess;
use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use policy::context::AuthenticationContextClassReference;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

const LIST: &str = "/admin/contexts";

/// A context's form, as typed.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContextForm {
    id: String,
    name: String,
    description: String,
    available: bool,
}

impl ContextForm {
    fn of(c: &AuthenticationContextClassReference) -> ContextForm {
        ContextForm {
            id: c.id.clone(),
            name: c.display_name.clone().unwrap_or_default(),
            description: c.description.clone().unwrap_or_default(),
            available: c.is_available.unwrap_or(false),
        }
    }

    fn from_fields(fields: &Fields) -> ContextForm {
        ContextForm {
            id: fields.one("id").trim().to_string(),
            name: fields.one("name"),
            description: fields.one("description"),
            available: fields.checked("available"),
        }
    }

    /// The Graph body the form writes.
    fn body(&self) -> serde_json::Value {
        json!({
            "displayName": self.name.trim(),
            "description": self.description.trim(),
            "isAvailable": self.available,
        })
    }
}

/// One row of the list.
struct Row {
    id: String,
    name: String,
    description: String,
    available: bool,
}

#[derive(Template)]
#[template(path = "admin_contexts.html")]
struct ListPage {
    frame: Frame,
    contexts: Vec<Row>,
    write: bool,
    form: ContextForm,
    error: Option<String>,
    notice: Option<String>,
    reauth: Option<Reauth>,
}

#[derive(Template)]
#[template(path = "admin_context.html")]
struct OnePage {
    frame: Frame,
    write: bool,
    form: ContextForm,
    error: Option<String>,
    reauth: Option<Reauth>,
}

/// The list page's query after a change.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Done {
    saved: Option<String>,
    deleted: Option<String>,
}

/// The page's words about the change just made.
fn notice(done: &Done) -> Option<String> {
    let plain = |s: &String| s.chars().all(|c| c.is_ascii_alphanumeric());
    match (&done.saved, &done.deleted) {
        (Some(id), _) if plain(id) => Some(format!("Authentication context {id} was saved.")),
        (None, Some(id)) if plain(id) => Some(format!("Authentication context {id} was deleted.")),
        _ => None,
    }
}

async fn rows(
    state: &AppState,
    allowed: &app::Authorized<ReadConditionalAccess>,
) -> Result<Vec<Row>, PageError> {
    let contexts = state
        .authentication_contexts(allowed)
        .await
        .map_err(|e| super::internal("authentication contexts", e))?;
    Ok(contexts
        .iter()
        .map(|c| Row {
            id: c.id.clone(),
            name: c.display_name.clone().unwrap_or_default(),
            description: c.description.clone().unwrap_or_default(),
            available: c.is_available.unwrap_or(false),
        })
        .collect())
}

/// The list with the new-context form again, around a refused write of `admin`.
async fn list_page(
    state: &AppState,
    admin: super::Admin<app::authz::ManageConditionalAccess>,
    form: ContextForm,
    error: Option<String>,
    reauth: Option<Reauth>,
) -> Result<ListPage, PageError> {
    let reader = forms::reader(state, admin.allowed.caller()).await?;
    let contexts = rows(state, &reader).await?;
    Ok(ListPage {
        write: true,
        frame: admin.frame,
        contexts,
        form,
        error,
        notice: None,
        reauth,
    })
}

/// `GET /admin/contexts`.
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let admin =
        match super::open::<ReadConditionalAccess>(&state, jar, session, Section::Contexts, LIST)
            .await?
        {
            Ok(admin) => admin,
            Err(response) => return Ok(response),
        };
    let contexts = rows(&state, &admin.allowed).await?;
    let page = ListPage {
        write: forms::may_write(&admin.frame),
        frame: admin.frame,
        contexts,
        form: ContextForm {
            available: true,
            ..ContextForm::default()
        },
        error: None,
        notice: notice(&done),
        reauth: None,
    };
    render(StatusCode::OK, &page)
}

/// `POST /admin/contexts`: creates a context.
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let form = ContextForm::from_fields(&Fields::new(pairs));
    let request = forms::Request {
        peer,
        headers: &headers,
    };
    let (admin, stale) =
        match forms::writer(&state, jar, session, Section::Contexts, LIST, request).await? {
            Writer::Refused(response) => return Ok(response),
            Writer::Open { admin, stale } => (*admin, stale),
        };
    if let Some(reauth) = stale {
        let page = list_page(&state, admin, form, None, Some(reauth)).await?;
        return render(STALE, &page);
    }
    match state
        .write_authentication_context(&admin.allowed, &form.id, &form.body(), false)
        .await
    {
        Ok(written) => {
            Ok(Redirect::to(&format!("{LIST}?saved={}", written.context.id)).into_response())
        }
        Err(e) => {
            let (status, message) = forms::refusal(e.code(), &e)?;
            let page = list_page(&state, admin, form, Some(message), None).await?;
            render(status, &page)
        }
    }
}

/// `GET /admin/contexts/{id}`.
pub(crate) async fn one(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let back = format!("{LIST}/{id}");
    let admin =
        match super::open::<ReadConditionalAccess>(&state, jar, session, Section::Contexts, &back)
            .await?
        {
            Ok(admin) => admin,
            Err(response) => return Ok(response),
        };
    let context = match state.authentication_context(&admin.allowed, &id).await {
        Ok(c) => c,
        Err(e) => {
            let (status, message) = forms::refusal(e.code(), &e)?;
            return Err(PageError::new(status, "No such context", message));
        }
    };
    let page = OnePage {
        write: forms::may_write(&admin.frame),
        frame: admin.frame,
        form: ContextForm::of(&context),
        error: None,
        reauth: None,
    };
    render(StatusCode::OK, &page)
}

/// `POST /admin/contexts/{id}`: changes a context's name, description and availability.
pub(crate) async fn update(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Path(id): Path<String>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let mut form = ContextForm::from_fields(&Fields::new(pairs));
    form.id = id.clone();
    let back = format!("{LIST}/{id}");
    let request = forms::Request {
        peer,
        headers: &headers,
    };
    let (admin, stale) =
        match forms::writer(&state, jar, session, Section::Contexts, &back, request).await? {
            Writer::Refused(response) => return Ok(response),
            Writer::Open { admin, stale } => (*admin, stale),
        };
    let refused = |admin: super::Admin<_>, form, error, reauth, status| {
        let page = OnePage {
            write: true,
            frame: admin.frame,
            form,
            error,
            reauth,
        };
        render(status, &page)
    };
    if let Some(reauth) = stale {
        return refused(admin, form, None, Some(reauth), STALE);
    }
    // The path names the context; a write to one that does not exist is no way to create it.
    let reader = forms::reader(&state, admin.allowed.caller()).await?;
    if let Err(e) = state.authentication_context(&reader, &id).await {
        let (status, message) = forms::refusal(e.code(), &e)?;
        return refused(admin, form, Some(message), None, status);
    }
    match state
        .write_authentication_context(&admin.allowed, &id, &form.body(), true)
        .await
    {
        Ok(written) => {
            Ok(Redirect::to(&format!("{LIST}?saved={}", written.context.id)).into_response())
        }
        Err(e) => {
            let (status, message) = forms::refusal(e.code(), &e)?;
            refused(admin, form, Some(message), None, status)
        }
    }
}

/// `POST /admin/contexts/{id}/delete`: deletes a context nothing uses.
pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let back = format!("{LIST}/{id}");
    let request = forms::Request {
        peer,
        headers: &headers,
    };
    let (admin, stale) =
        match forms::writer(&state, jar, session, Section::Contexts, &back, request).await? {
            Writer::Refused(response) => return Ok(response),
            Writer::Open { admin, stale } => (*admin, stale),
        };
    let reader = forms::reader(&state, admin.allowed.caller()).await?;
    let current = match state.authentication_context(&reader, &id).await {
        Ok(c) => c,
        Err(e) => {
            let (status, message) = forms::refusal(e.code(), &e)?;
            return Err(PageError::new(status, "No such context", message));
        }
    };
    let (status, error, reauth) = match stale {
        Some(reauth) => (STALE, None, Some(reauth)),
        None => match state
            .delete_authentication_context(&admin.allowed, &id)
            .await
        {
            Ok(()) => {
                return Ok(Redirect::to(&format!("{LIST}?deleted={}", current.id)).into_response())
            }
            Err(e) => {
                let (status, message) = forms::refusal(e.code(), &e)?;
                (status, Some(message), None)
            }
        },
    };
    let page = OnePage {
        write: true,
        frame: admin.frame,
        form: ContextForm::of(&current),
        error,
        reauth,
    };
    render(status, &page)
}
