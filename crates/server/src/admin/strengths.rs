//! *Authentication strengths* (`/admin/strengths`): the built-in strengths and the tenant's
//! custom ones with their allowed combinations — listed for a Conditional Access reader; a
//! custom strength created, changed (its name, description and combinations, chosen among the
//! combinations Entra knows), restricted to FIDO2 authenticator models (allowed AAGUIDs) and
//! deleted by a writer, through the services the Graph API's handlers call
//! ([`app::conditional_access::strengths`]): a change that would lock every eligible Global
//! Administrator out is refused by the same guard, and the page says so.

use super::forms::{self, Fields, Writer, STALE};
use super::policies::Choice;
use super::policy_form::merged;
use super::{Frame, Reauth, Section};
use crate::error::PageError;
use crate::error::PageForm;
use crate::portal::render;
use crate::session::BrowserSession;
use crate::state::AppState;
use app::authz::{ManageConditionalAccess, ReadConditionalAccess};
use app::conditional_access::strengths::StrengthError;
use app::conditional_access::LockoutGuard;
use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use policy::ids::StrengthId;
use policy::strength::{built_in_strengths, AuthenticationStrengthPolicy, MFA_STRENGTH_ID};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

const LIST: &str = "/admin/strengths";
const NEW: &str = "/admin/strengths/new";
const FIDO2_CONFIGURATION: &str = "#microsoft.graph.fido2CombinationConfiguration";

/// The strength pages' routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(LIST, get(list).post(create))
        .route(NEW, get(new))
        .route("/admin/strengths/{id}", get(one).post(update))
        .route("/admin/strengths/{id}/fido2", post(fido2))
        .route("/admin/strengths/{id}/delete", post(delete))
}

/// A strength's form, as typed.
#[derive(Debug, Clone, Default)]
pub(crate) struct StrengthForm {
    name: String,
    description: String,
    combinations: Vec<String>,
    /// Allowed FIDO2 models, one AAGUID a line.
    aaguids: String,
}

impl StrengthForm {
    fn of(s: &AuthenticationStrengthPolicy) -> StrengthForm {
        StrengthForm {
            name: s.display_name.clone().unwrap_or_default(),
            description: s.description.clone().unwrap_or_default(),
            combinations: combinations(s),
            aaguids: fido2_of(s)
                .and_then(|c| c.allowed_aaguids.clone())
                .unwrap_or_default()
                .join("\n"),
        }
    }

    fn from_fields(fields: &Fields) -> StrengthForm {
        StrengthForm {
            name: fields.one("name"),
            description: fields.one("description"),
            combinations: fields.all("combinations"),
            aaguids: fields.one("aaguids"),
        }
    }

    fn aaguids(&self) -> Vec<String> {
        self.aaguids
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect()
    }
}

fn combinations(s: &AuthenticationStrengthPolicy) -> Vec<String> {
    s.allowed_combinations
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn fido2_of(
    s: &AuthenticationStrengthPolicy,
) -> Option<&policy::strength::CombinationConfiguration> {
    s.combination_configurations.iter().find(|c| {
        c.extra.get("@odata.type").and_then(|t| t.as_str()) == Some(FIDO2_CONFIGURATION)
            || c.allowed_aaguids.is_some()
    })
}

/// The combinations a custom strength may allow (those of the built-in MFA strength, which
/// Entra offers), with what the strength allows checked.
fn combination_choices(chosen: &[String]) -> Vec<Choice> {
    let known: Vec<String> = built_in_strengths()
        .iter()
        .find(|s| s.id == MFA_STRENGTH_ID)
        .map(combinations)
        .unwrap_or_default();
    let mut out: Vec<Choice> = known
        .iter()
        .map(|k| Choice::new(k, k.clone(), chosen.contains(k)))
        .collect();
    for c in chosen {
        if !known.contains(c) {
            out.push(Choice::new(c, c.clone(), true));
        }
    }
    out
}

struct Row {
    id: String,
    name: String,
    built_in: bool,
    combinations: String,
}

#[derive(Template)]
#[template(path = "admin_strengths.html")]
struct ListPage {
    frame: Frame,
    strengths: Vec<Row>,
    write: bool,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_strength.html")]
struct OnePage {
    frame: Frame,
    /// `None`: a new strength.
    id: Option<String>,
    built_in: bool,
    write: bool,
    form: StrengthForm,
    choices: Vec<Choice>,
    error: Option<String>,
    notice: Option<String>,
    reauth: Option<Reauth>,
}

impl OnePage {
    fn new(
        frame: Frame,
        stored: Option<&AuthenticationStrengthPolicy>,
        write: bool,
        form: StrengthForm,
    ) -> OnePage {
        let built_in = stored.is_some_and(|s| s.policy_type.as_deref() == Some("builtIn"));
        OnePage {
            frame,
            id: stored.map(|s| s.id.clone()),
            built_in,
            write: write && !built_in,
            choices: combination_choices(&form.combinations),
            form,
            error: None,
            notice: None,
            reauth: None,
        }
    }
}

/// The pages' query after a change.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Done {
    saved: Option<String>,
    deleted: Option<String>,
}

fn open_error(e: StrengthError) -> PageError {
    match forms::refusal(e.code(), &e) {
        Ok((status, message)) => PageError::new(status, "No such authentication strength", message),
        Err(internal) => internal,
    }
}

/// `GET /admin/strengths`.
async fn list(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let admin =
        match super::open::<ReadConditionalAccess>(&state, jar, session, Section::Strengths, LIST)
            .await?
        {
            Ok(admin) => admin,
            Err(response) => return Ok(response),
        };
    let strengths = state
        .authentication_strengths(&admin.allowed)
        .await
        .map_err(open_error)?
        .iter()
        .map(|s| Row {
            id: s.id.clone(),
            name: s.name().to_string(),
            built_in: s.policy_type.as_deref() == Some("builtIn"),
            combinations: combinations(s).join("; "),
        })
        .collect();
    let notice = match (done.saved, done.deleted) {
        (Some(_), _) => Some("The authentication strength was saved.".to_string()),
        (None, Some(_)) => Some("The authentication strength was deleted.".to_string()),
        _ => None,
    };
    let page = ListPage {
        write: forms::may_write(&admin.frame),
        frame: admin.frame,
        strengths,
        notice,
    };
    render(StatusCode::OK, &page)
}

/// `GET /admin/strengths/new`.
async fn new(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
) -> Result<Response, PageError> {
    let admin =
        match super::open::<ManageConditionalAccess>(&state, jar, session, Section::Strengths, NEW)
            .await?
        {
            Ok(admin) => admin,
            Err(response) => return Ok(response),
        };
    render(
        StatusCode::OK,
        &OnePage::new(admin.frame, None, true, StrengthForm::default()),
    )
}

/// `GET /admin/strengths/{id}`.
async fn one(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let back = format!("{LIST}/{id}");
    let admin =
        match super::open::<ReadConditionalAccess>(&state, jar, session, Section::Strengths, &back)
            .await?
        {
            Ok(admin) => admin,
            Err(response) => return Ok(response),
        };
    let strength = stored(&state, &admin.allowed, &id).await?;
    let write = forms::may_write(&admin.frame);
    let mut page = OnePage::new(
        admin.frame,
        Some(&strength),
        write,
        StrengthForm::of(&strength),
    );
    page.notice = done
        .saved
        .map(|_| "The authentication strength was saved.".to_string());
    render(StatusCode::OK, &page)
}

async fn stored(
    state: &AppState,
    allowed: &app::Authorized<ReadConditionalAccess>,
    id: &str,
) -> Result<AuthenticationStrengthPolicy, PageError> {
    let Ok(strength_id) = StrengthId::parse(id) else {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            "No such authentication strength",
            format!("'{id}' is not an authentication strength's id."),
        ));
    };
    state
        .authentication_strength(allowed, &strength_id)
        .await
        .map_err(open_error)
}

/// The write a form asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Save,
    Fido2,
    Delete,
}

/// Runs a write of the strength pages: the gate, the service, and the page again on a refusal.
#[allow(clippy::too_many_arguments)]
async fn write(
    state: &AppState,
    jar: CookieJar,
    session: Option<BrowserSession>,
    back: &str,
    request: forms::Request<'_>,
    form: StrengthForm,
    id: Option<&str>,
    change: Change,
) -> Result<Response, PageError> {
    let (admin, stale) =
        match forms::writer(state, jar, session, Section::Strengths, back, request).await? {
            Writer::Refused(response) => return Ok(response),
            Writer::Open { admin, stale } => (*admin, stale),
        };
    let reader = forms::reader(state, admin.allowed.caller()).await?;
    let current = match id {
        Some(id) => Some(stored(state, &reader, id).await?),
        None => None,
    };
    let mut form = form;
    if change != Change::Save {
        // Only the AAGUIDs (or nothing) came with the form: the rest is as stored.
        if let Some(c) = &current {
            let aaguids = std::mem::take(&mut form.aaguids);
            form = StrengthForm::of(c);
            if change == Change::Fido2 {
                form.aaguids = aaguids;
            }
        }
    }
    let mut page = OnePage::new(admin.frame, current.as_ref(), true, form.clone());
    if let Some(reauth) = stale {
        page.reauth = Some(reauth);
        return render(STALE, &page);
    }
    let written = match (&current, change) {
        (None, _) => state
            .create_authentication_strength(
                &admin.allowed,
                &json!({
                    "displayName": form.name.trim(),
                    "description": form.description.trim(),
                    "allowedCombinations": form.combinations,
                }),
            )
            .await
            .map(|s| format!("{LIST}/{}?saved=1", s.id)),
        (Some(c), change) => {
            let Ok(strength_id) = StrengthId::parse(&c.id) else {
                return Err(super::internal("a strength", "its id does not parse"));
            };
            match change {
                Change::Save => {
                    let stored = combinations(c);
                    let mut patch = json!({
                        "displayName": form.name.trim(),
                        "description": form.description.trim(),
                    });
                    let chosen = merged(&stored, &form.combinations);
                    if chosen != stored {
                        patch["allowedCombinations"] = json!(chosen);
                    }
                    state
                        .update_authentication_strength(
                            &admin.allowed,
                            &strength_id,
                            &patch,
                            LockoutGuard::Enforce,
                        )
                        .await
                        .map(|s| format!("{LIST}/{}?saved=1", s.id))
                }
                Change::Fido2 => {
                    let aaguids = form.aaguids();
                    let existing = fido2_of(c).and_then(|f| f.id.clone());
                    let done = match (existing, aaguids.is_empty()) {
                        (Some(config), true) => {
                            state
                                .delete_combination_configuration(
                                    &admin.allowed,
                                    (&strength_id, &config),
                                )
                                .await
                        }
                        (Some(config), false) => state
                            .update_combination_configuration(
                                &admin.allowed,
                                (&strength_id, &config),
                                &json!({ "allowedAAGUIDs": aaguids }),
                                LockoutGuard::Enforce,
                            )
                            .await
                            .map(|_| ()),
                        (None, true) => Ok(()),
                        (None, false) => state
                            .add_combination_configuration(
                                &admin.allowed,
                                &strength_id,
                                &json!({
                                    "@odata.type": FIDO2_CONFIGURATION,
                                    "appliesToCombinations": ["fido2"],
                                    "allowedAAGUIDs": aaguids,
                                }),
                                LockoutGuard::Enforce,
                            )
                            .await
                            .map(|_| ()),
                    };
                    done.map(|()| format!("{LIST}/{}?saved=1", c.id))
                }
                Change::Delete => state
                    .delete_authentication_strength(&admin.allowed, &strength_id)
                    .await
                    .map(|()| format!("{LIST}?deleted=1")),
            }
        }
    };
    match written {
        Ok(to) => Ok(Redirect::to(&to).into_response()),
        Err(e) => {
            let (status, message) = forms::refusal(e.code(), &e)?;
            page.error = Some(message);
            render(status, &page)
        }
    }
}

/// `POST /admin/strengths`: creates a custom strength.
async fn create(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let form = StrengthForm::from_fields(&Fields::new(pairs));
    let request = forms::Request {
        peer,
        headers: &headers,
    };
    write(&state, jar, session, NEW, request, form, None, Change::Save).await
}

/// `POST /admin/strengths/{id}`: changes a custom strength.
async fn update(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Path(id): Path<String>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let form = StrengthForm::from_fields(&Fields::new(pairs));
    let back = format!("{LIST}/{id}");
    let request = forms::Request {
        peer,
        headers: &headers,
    };
    write(
        &state,
        jar,
        session,
        &back,
        request,
        form,
        Some(&id),
        Change::Save,
    )
    .await
}

/// `POST /admin/strengths/{id}/fido2`: the FIDO2 models the strength's `fido2` combination
/// accepts (none listed: any).
async fn fido2(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Path(id): Path<String>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let form = StrengthForm::from_fields(&Fields::new(pairs));
    let back = format!("{LIST}/{id}");
    let request = forms::Request {
        peer,
        headers: &headers,
    };
    write(
        &state,
        jar,
        session,
        &back,
        request,
        form,
        Some(&id),
        Change::Fido2,
    )
    .await
}

/// `POST /admin/strengths/{id}/delete`: deletes a custom strength no policy requires.
async fn delete(
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
    write(
        &state,
        jar,
        session,
        &back,
        request,
        StrengthForm::default(),
        Some(&id),
        Change::Delete,
    )
    .await
}
