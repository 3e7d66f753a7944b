//! *Named locations* (`/admin/locations`): the tenant's IP-range and country locations —
//! listed for a Conditional Access reader; created, changed and deleted by a writer through the
//! services the Graph API's handlers call ([`app::conditional_access::locations`]), whose
//! refusals (a malformed CIDR range, an unknown country code, a missing name, a location a
//! policy names) the page shows next to the form with what was typed.

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
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use policy::ids::LocationId;
use policy::location::{LocationKind, NamedLocation};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

const LIST: &str = "/admin/locations";
const NEW: &str = "/admin/locations/new";
const IP: &str = "#microsoft.graph.ipNamedLocation";
const COUNTRY: &str = "#microsoft.graph.countryNamedLocation";

/// The named location pages' routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(LIST, get(list).post(create))
        .route(NEW, get(new))
        .route("/admin/locations/{id}", get(one).post(update))
        .route("/admin/locations/{id}/delete", post(delete))
}

/// A location's form, as typed.
#[derive(Debug, Clone, Default)]
pub(crate) struct LocationForm {
    /// `ip` or `country`.
    kind: String,
    name: String,
    /// CIDR ranges, one a line.
    ranges: String,
    trusted: bool,
    /// Country codes, separated by commas, spaces or lines.
    countries: String,
    unknown_countries: bool,
}

impl LocationForm {
    fn of(l: &NamedLocation) -> LocationForm {
        LocationForm {
            kind: if l.kind() == LocationKind::Country {
                "country"
            } else {
                "ip"
            }
            .into(),
            name: l.display_name.clone().unwrap_or_default(),
            ranges: l
                .ip_ranges
                .iter()
                .flatten()
                .map(|r| r.cidr_address.clone())
                .collect::<Vec<_>>()
                .join("\n"),
            trusted: l.is_trusted.unwrap_or(false),
            countries: l
                .countries_and_regions
                .clone()
                .unwrap_or_default()
                .join(", "),
            unknown_countries: l.include_unknown_countries_and_regions,
        }
    }

    fn from_fields(fields: &Fields) -> LocationForm {
        LocationForm {
            kind: fields.one("kind"),
            name: fields.one("name"),
            ranges: fields.one("ranges"),
            trusted: fields.checked("trusted"),
            countries: fields.one("countries"),
            unknown_countries: fields.checked("unknown_countries"),
        }
    }

    fn ranges(&self) -> Vec<String> {
        self.ranges
            .lines()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn countries(&self) -> Vec<String> {
        self.countries
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|c| !c.is_empty())
            .map(str::to_uppercase)
            .collect()
    }

    /// The Graph body of the form; for an edit of `stored`, only what changed (a range kept
    /// as stored keeps its stored object).
    fn body(&self, stored: Option<&NamedLocation>) -> Value {
        let mut body = json!({ "displayName": self.name.trim() });
        if self.kind == "country" {
            if stored.is_none() {
                body["@odata.type"] = json!(COUNTRY);
            }
            body["countriesAndRegions"] = json!(self.countries());
            body["includeUnknownCountriesAndRegions"] = json!(self.unknown_countries);
        } else {
            if stored.is_none() {
                body["@odata.type"] = json!(IP);
            }
            let ranges: Vec<Value> = self
                .ranges()
                .into_iter()
                .map(|cidr| {
                    let kept = stored
                        .and_then(|s| s.ip_ranges.as_ref())
                        .and_then(|rs| rs.iter().find(|r| r.cidr_address == cidr))
                        .and_then(|r| serde_json::to_value(r).ok());
                    kept.unwrap_or_else(|| {
                        let kind = if cidr.contains(':') {
                            "#microsoft.graph.iPv6CidrRange"
                        } else {
                            "#microsoft.graph.iPv4CidrRange"
                        };
                        json!({ "@odata.type": kind, "cidrAddress": cidr })
                    })
                })
                .collect();
            body["ipRanges"] = json!(ranges);
            body["isTrusted"] = json!(self.trusted);
        }
        body
    }
}

struct Row {
    id: String,
    name: String,
    kind: &'static str,
    what: String,
    trusted: bool,
}

#[derive(Template)]
#[template(path = "admin_locations.html")]
struct ListPage {
    frame: Frame,
    locations: Vec<Row>,
    write: bool,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_location.html")]
struct OnePage {
    frame: Frame,
    /// `None`: a new location.
    id: Option<String>,
    write: bool,
    form: LocationForm,
    error: Option<String>,
    notice: Option<String>,
    reauth: Option<Reauth>,
}

/// The pages' query after a change.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Done {
    saved: Option<String>,
    deleted: Option<String>,
}

fn open_error(e: app::conditional_access::locations::LocationError) -> PageError {
    match forms::refusal(e.code(), &e) {
        Ok((status, message)) => PageError::new(status, "No such named location", message),
        Err(internal) => internal,
    }
}

/// `GET /admin/locations`.
async fn list(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let admin =
        match super::open::<ReadConditionalAccess>(&state, jar, session, Section::Locations, LIST)
            .await?
        {
            Ok(admin) => admin,
            Err(response) => return Ok(response),
        };
    let locations = state
        .named_locations(&admin.allowed)
        .await
        .map_err(open_error)?
        .iter()
        .map(|l| Row {
            id: l.id.clone(),
            name: l.name().to_string(),
            kind: match l.kind() {
                LocationKind::Ip => "IP ranges",
                LocationKind::Country => "Countries",
                LocationKind::Other => "Other",
            },
            what: match l.kind() {
                LocationKind::Country => l
                    .countries_and_regions
                    .clone()
                    .unwrap_or_default()
                    .join(", "),
                _ => l
                    .ip_ranges
                    .iter()
                    .flatten()
                    .map(|r| r.cidr_address.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            },
            trusted: l.is_trusted.unwrap_or(false),
        })
        .collect();
    let notice = match (done.saved, done.deleted) {
        (Some(_), _) => Some("The named location was saved.".to_string()),
        (None, Some(_)) => Some("The named location was deleted.".to_string()),
        _ => None,
    };
    let page = ListPage {
        write: forms::may_write(&admin.frame),
        frame: admin.frame,
        locations,
        notice,
    };
    render(StatusCode::OK, &page)
}

/// `GET /admin/locations/new`.
async fn new(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
) -> Result<Response, PageError> {
    let admin = match super::open::<app::authz::ManageConditionalAccess>(
        &state,
        jar,
        session,
        Section::Locations,
        NEW,
    )
    .await?
    {
        Ok(admin) => admin,
        Err(response) => return Ok(response),
    };
    let page = OnePage {
        frame: admin.frame,
        id: None,
        write: true,
        form: LocationForm {
            kind: "ip".into(),
            ..LocationForm::default()
        },
        error: None,
        notice: None,
        reauth: None,
    };
    render(StatusCode::OK, &page)
}

/// `GET /admin/locations/{id}`.
async fn one(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let back = format!("{LIST}/{id}");
    let admin =
        match super::open::<ReadConditionalAccess>(&state, jar, session, Section::Locations, &back)
            .await?
        {
            Ok(admin) => admin,
            Err(response) => return Ok(response),
        };
    let location = stored(&state, &admin.allowed, &id).await?;
    let page = OnePage {
        write: forms::may_write(&admin.frame),
        frame: admin.frame,
        id: Some(location.id.clone()),
        form: LocationForm::of(&location),
        error: None,
        notice: done
            .saved
            .map(|_| "The named location was saved.".to_string()),
        reauth: None,
    };
    render(StatusCode::OK, &page)
}

async fn stored(
    state: &AppState,
    allowed: &app::Authorized<ReadConditionalAccess>,
    id: &str,
) -> Result<NamedLocation, PageError> {
    let Ok(location_id) = LocationId::parse(id) else {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            "No such named location",
            format!("'{id}' is not a named location's id."),
        ));
    };
    state
        .named_location(allowed, &location_id)
        .await
        .map_err(open_error)
}

/// The write the form asks for.
enum Change<'a> {
    Create,
    Update(&'a NamedLocation),
    Delete(&'a NamedLocation),
}

/// Runs a write of the location pages: the gate, the service, and the page again on a refusal.
#[allow(clippy::too_many_arguments)]
async fn write(
    state: &AppState,
    jar: CookieJar,
    session: Option<BrowserSession>,
    back: &str,
    peer: SocketAddr,
    headers: &HeaderMap,
    form: LocationForm,
    id: Option<&str>,
    deleting: bool,
) -> Result<Response, PageError> {
    let request = forms::Request { peer, headers };
    let (admin, stale) =
        match forms::writer(state, jar, session, Section::Locations, back, request).await? {
            Writer::Refused(response) => return Ok(response),
            Writer::Open { admin, stale } => (*admin, stale),
        };
    let reader = forms::reader(state, admin.allowed.caller()).await?;
    let current = match id {
        Some(id) => Some(stored(state, &reader, id).await?),
        None => None,
    };
    let change = match (&current, deleting) {
        (None, _) => Change::Create,
        (Some(c), false) => Change::Update(c),
        (Some(c), true) => Change::Delete(c),
    };
    let form = match change {
        Change::Delete(c) => LocationForm::of(c),
        _ => form,
    };
    let page = |status, error, reauth| {
        render(
            status,
            &OnePage {
                frame: admin.frame,
                id: current.as_ref().map(|c| c.id.clone()),
                write: true,
                form: form.clone(),
                error,
                notice: None,
                reauth,
            },
        )
    };
    if let Some(reauth) = stale {
        return page(STALE, None, Some(reauth));
    }
    let done = match change {
        Change::Create => state
            .create_named_location(&admin.allowed, &form.body(None))
            .await
            .map(|l| format!("{LIST}/{}?saved=1", l.id)),
        Change::Update(c) => match LocationId::parse(&c.id) {
            Ok(location_id) => state
                .update_named_location(&admin.allowed, &location_id, &form.body(Some(c)))
                .await
                .map(|l| format!("{LIST}/{}?saved=1", l.id)),
            Err(_) => return Err(super::internal("a named location", "its id does not parse")),
        },
        Change::Delete(c) => match LocationId::parse(&c.id) {
            Ok(location_id) => state
                .delete_named_location(&admin.allowed, &location_id)
                .await
                .map(|()| format!("{LIST}?deleted=1")),
            Err(_) => return Err(super::internal("a named location", "its id does not parse")),
        },
    };
    match done {
        Ok(to) => Ok(Redirect::to(&to).into_response()),
        Err(e) => {
            let (status, message) = forms::refusal(e.code(), &e)?;
            page(status, Some(message), None)
        }
    }
}

/// `POST /admin/locations`: creates a named location.
async fn create(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let form = LocationForm::from_fields(&Fields::new(pairs));
    write(&state, jar, session, NEW, peer, &headers, form, None, false).await
}

/// `POST /admin/locations/{id}`: changes a named location.
async fn update(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Path(id): Path<String>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let form = LocationForm::from_fields(&Fields::new(pairs));
    let back = format!("{LIST}/{id}");
    write(
        &state,
        jar,
        session,
        &back,
        peer,
        &headers,
        form,
        Some(&id),
        false,
    )
    .await
}

/// `POST /admin/locations/{id}/delete`: deletes a named location no policy names.
async fn delete(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let back = format!("{LIST}/{id}");
    write(
        &state,
        jar,
        session,
        &back,
        peer,
        &headers,
        LocationForm::default(),
        Some(&id),
        true,
    )
    .await
}
