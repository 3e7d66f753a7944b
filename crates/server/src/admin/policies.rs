//! *Conditional Access policies* (`/admin/policies`): the list with each policy's state and
//! how many posture findings concern it; a policy's page with those findings and their fixes;
//! and, for a writer, the create/edit form — users, groups and roles included and excluded,
//! target resources (applications, user actions, authentication contexts), conditions (client
//! app types, platforms, locations, risk levels), grant (block, or controls and an
//! authentication strength with AND/OR), session (sign-in frequency, every time included) and
//! state.
//!
//! The form builds the policy's Graph document ([`super::policy_form`]) and writes it with
//! [`app::Core::write_conditional_access_policy`] — a new policy as the API's `POST`, an edit
//! as a merge patch of only what the form changed — so the same checks refuse the same
//! documents, the lockout guard included (a change that would leave every eligible Global
//! Administrator unable to activate is refused, and the page says who lacks what). A refused
//! form comes back with what was chosen.

use super::forms::{self, Fields, Writer, STALE};
use super::policy_form::PolicyInput;
use super::{Admin, Frame, Reauth, Section};
use crate::error::PageError;
use crate::error::PageForm;
use crate::portal::render;
use crate::session::BrowserSession;
use crate::state::AppState;
use app::authz::{ManageConditionalAccess, ReadConditionalAccess};
use app::conditional_access::{LockoutGuard, PolicyChange, PolicyError};
use app::Authorized;
use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use policy::conditional_access::ConditionalAccessPolicy;
use policy::ids::PolicyId;
use policy::posture::{severity_name, PostureFinding};
use serde::Deserialize;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;

const LIST: &str = "/admin/policies";
const NEW: &str = "/admin/policies/new";

/// The policy pages' routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(LIST, get(list).post(create))
        .route(NEW, get(new))
        .route("/admin/policies/{id}", get(one).post(update))
        .route("/admin/policies/{id}/delete", post(delete))
}

/// One checkbox (or option) of a form.
pub(crate) struct Choice {
    /// What the form sends.
    pub value: String,
    /// What the page says.
    pub label: String,
    /// Whether it is chosen.
    pub checked: bool,
}

impl Choice {
    /// A choice of `value`, shown as `label`.
    pub(crate) fn new(value: &str, label: String, checked: bool) -> Choice {
        Choice {
            value: value.to_string(),
            label,
            checked,
        }
    }
}

/// A group of checkboxes: one list of the policy.
pub(crate) struct Checks {
    name: &'static str,
    legend: &'static str,
    choices: Vec<Choice>,
}

/// The form as the page shows it.
pub(crate) struct FormView {
    input: PolicyInput,
    users: Vec<Checks>,
    resources: Vec<Checks>,
    conditions: Vec<Checks>,
    controls: Checks,
    strengths: Vec<Choice>,
}

/// A posture finding as the page shows it.
struct FindingView {
    severity: &'static str,
    message: String,
    fix: String,
}

impl FindingView {
    fn of(f: &PostureFinding) -> FindingView {
        FindingView {
            severity: severity_name(f.severity),
            message: format!("{}: {}", f.object, f.message),
            fix: f.fix.clone(),
        }
    }
}

/// One row of the list.
struct Row {
    id: String,
    name: String,
    state: &'static str,
    findings: usize,
}

#[derive(Template)]
#[template(path = "admin_policies.html")]
struct ListPage {
    frame: Frame,
    policies: Vec<Row>,
    write: bool,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_policy.html")]
struct PolicyPage {
    frame: Frame,
    /// The stored policy's id (`None`: a new one).
    id: Option<String>,
    name: String,
    state: &'static str,
    findings: Vec<FindingView>,
    /// The form, for a writer.
    form: Option<FormView>,
    /// The stored document, for a reader.
    document: String,
    error: Option<String>,
    notice: Option<String>,
    reauth: Option<Reauth>,
}

/// A state as people read it.
fn state_label(state: &str) -> &'static str {
    match state {
        "enabled" => "On",
        "disabled" => "Off",
        "enabledForReportingButNotEnforced" => "Report-only",
        _ => "Unknown state (enforced)",
    }
}

/// The page's query after a change.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Done {
    saved: Option<String>,
    deleted: Option<String>,
}

fn render_policy(p: &ConditionalAccessPolicy) -> Result<Value, PageError> {
    serde_json::to_value(p).map_err(|e| super::internal("a stored policy", e))
}

fn policy_error(e: PolicyError) -> Result<(StatusCode, String), PageError> {
    let lockout = matches!(e, PolicyError::Lockout { .. });
    let (status, mut message) = forms::refusal(e.code(), &e)?;
    if lockout {
        // The sentence is the API's; the page has no override, on purpose.
        message
            .push_str(" The admin center does not override the lockout guard: nothing was saved.");
    }
    Ok((status, message))
}

/// `GET /admin/policies`.
async fn list(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let admin =
        match super::open::<ReadConditionalAccess>(&state, jar, session, Section::Policies, LIST)
            .await?
        {
            Ok(admin) => admin,
            Err(response) => return Ok(response),
        };
    let policies = state
        .core
        .conditional_access_policies(&admin.allowed)
        .await
        .map_err(|e| super::internal("policies", e))?;
    let findings = findings(&state, &admin.allowed).await?;
    let mut rows: Vec<Row> = policies
        .iter()
        .map(|p| Row {
            id: p.id.clone(),
            name: p.name().to_string(),
            state: state_label(p.state.as_str()),
            findings: findings
                .iter()
                .filter(|f| app::posture::concerns(f, p))
                .count(),
        })
        .collect();
    rows.sort_by_key(|r| r.name.to_lowercase());
    let notice = done
        .deleted
        .filter(|_| done.saved.is_none())
        .map(|name| format!("Policy '{name}' was deleted."));
    let page = ListPage {
        write: forms::may_write(&admin.frame),
        frame: admin.frame,
        policies: rows,
        notice,
    };
    render(StatusCode::OK, &page)
}

async fn findings(
    state: &AppState,
    allowed: &Authorized<ReadConditionalAccess>,
) -> Result<Vec<PostureFinding>, PageError> {
    state
        .core
        .conditional_access_findings(allowed)
        .await
        .map_err(|e| super::internal("the posture lint", e))
}

fn choice(value: &str, label: String, chosen: &[String]) -> Choice {
    Choice {
        value: value.to_string(),
        label,
        checked: chosen.iter().any(|c| c == value),
    }
}

/// The checkboxes of `options` (value, label) with `chosen` checked; a chosen value that is
/// no option (an id an import brought, a value Graph knows and the form does not list) is
/// shown checked, so that sending the form again keeps it.
fn choices(options: Vec<(String, String)>, chosen: &[String]) -> Vec<Choice> {
    let mut out: Vec<Choice> = options
        .into_iter()
        .map(|(value, label)| {
            // The stored spelling of a value wins, so that an unchanged form changes nothing.
            let value = chosen
                .iter()
                .find(|c| c.eq_ignore_ascii_case(&value))
                .cloned()
                .unwrap_or(value);
            choice(&value, label, chosen)
        })
        .collect();
    for c in chosen {
        if !out.iter().any(|o| &o.value == c) {
            out.push(Choice {
                value: c.clone(),
                label: format!("{c} (as stored; not among this tenant's choices)"),
                checked: true,
            });
        }
    }
    out
}

fn fixed(options: &[(&str, &str)]) -> Vec<(String, String)> {
    options
        .iter()
        .map(|(v, l)| ((*v).to_string(), (*l).to_string()))
        .collect()
}

/// The form for `input`, its choices read from the tenant.
async fn form_view(
    state: &AppState,
    allowed: &Authorized<ReadConditionalAccess>,
    input: PolicyInput,
) -> Result<FormView, PageError> {
    let caller = allowed.caller();
    let mut users: Vec<(String, String)> = state
        .core
        .users(caller)
        .await?
        .into_iter()
        .map(|u| {
            let label = format!("{} ({})", u.display_name, u.user_principal_name);
            (u.id, label)
        })
        .collect();
    users.sort_by_key(|a| a.1.to_lowercase());
    let mut groups: Vec<(String, String)> = state
        .core
        .groups(caller)
        .await?
        .into_iter()
        .map(|g| (g.id, g.display_name))
        .collect();
    groups.sort_by_key(|a| a.1.to_lowercase());
    // The directory's role definitions, as the Graph API's roleDefinitions lists them.
    let mut roles: Vec<(String, String)> = state
        .store
        .list_role_definitions()
        .await?
        .into_iter()
        .map(|d| (d.id, d.display_name))
        .collect();
    roles.sort_by(|a, b| a.1.cmp(&b.1));
    let mut apps = fixed(&[("All", "All applications")]);
    apps.extend(
        state
            .store
            .list_clients()
            .await?
            .into_iter()
            .map(|c| (c.client_id, c.display_name)),
    );
    let contexts: Vec<(String, String)> = state
        .authentication_contexts(allowed)
        .await
        .map_err(|e| super::internal("authentication contexts", e))?
        .into_iter()
        .map(|c| {
            let label = format!("{} — {}", c.id, c.display_name.as_deref().unwrap_or(""));
            (c.id, label)
        })
        .collect();
    let mut locations = fixed(&[
        ("All", "Any location"),
        ("AllTrusted", "All trusted locations"),
    ]);
    locations.extend(
        state
            .named_locations(allowed)
            .await
            .map_err(|e| super::internal("named locations", e))?
            .into_iter()
            .map(|l| {
                let label = l.name().to_string();
                (l.id, label)
            }),
    );
    let strengths = state
        .authentication_strengths(allowed)
        .await
        .map_err(|e| super::internal("authentication strengths", e))?;
    let mut strength_choices = vec![Choice {
        value: String::new(),
        label: "No authentication strength".into(),
        checked: input.strength.is_empty(),
    }];
    strength_choices.extend(strengths.iter().map(|s| Choice {
        checked: s.id.eq_ignore_ascii_case(&input.strength),
        value: s.id.clone(),
        label: s.name().to_string(),
    }));
    if !input.strength.is_empty() && !strength_choices.iter().any(|c| c.checked) {
        strength_choices.push(Choice {
            value: input.strength.clone(),
            label: format!("{} (not defined in this tenant)", input.strength),
            checked: true,
        });
    }
    let platforms = fixed(&[
        ("all", "Any platform"),
        ("android", "Android"),
        ("iOS", "iOS and iPadOS"),
        ("windows", "Windows"),
        ("macOS", "macOS"),
        ("linux", "Linux"),
        ("windowsPhone", "Windows Phone"),
    ]);
    let risks = fixed(&[
        ("high", "High"),
        ("medium", "Medium"),
        ("low", "Low"),
        ("none", "No risk"),
    ]);
    let checks =
        |name: &'static str, legend: &'static str, options: Vec<(String, String)>| Checks {
            name,
            legend,
            choices: choices(options, input.list(name)),
        };
    let mut include_users = fixed(&[("All", "All users")]);
    include_users.extend(users.iter().cloned());
    Ok(FormView {
        users: vec![
            checks("include_users", "Include users", include_users),
            checks("exclude_users", "Exclude users", users),
            checks("include_groups", "Include groups", groups.clone()),
            checks("exclude_groups", "Exclude groups", groups),
            checks(
                "include_roles",
                "Include directory roles (their active holders)",
                roles.clone(),
            ),
            checks("exclude_roles", "Exclude directory roles", roles),
        ],
        resources: vec![
            checks("include_apps", "Include applications", apps.clone()),
            checks(
                "exclude_apps",
                "Exclude applications",
                apps.into_iter().filter(|(v, _)| v != "All").collect(),
            ),
            checks(
                "user_actions",
                "User actions",
                fixed(&[
                    (
                        "urn:user:registersecurityinfo",
                        "Register security information",
                    ),
                    ("urn:user:registerdevice", "Register or join devices"),
                ]),
            ),
            checks("contexts", "Authentication contexts", contexts),
        ],
        conditions: vec![
            checks(
                "client_app_types",
                "Client apps",
                fixed(&[
                    ("all", "Any client app"),
                    ("browser", "Browser"),
                    (
                        "mobileAppsAndDesktopClients",
                        "Mobile apps and desktop clients",
                    ),
                    ("exchangeActiveSync", "Exchange ActiveSync clients"),
                    ("other", "Other (legacy) clients"),
                ]),
            ),
            checks(
                "include_platforms",
                "Include device platforms",
                platforms.clone(),
            ),
            checks(
                "exclude_platforms",
                "Exclude device platforms",
                platforms.into_iter().filter(|(v, _)| v != "all").collect(),
            ),
            checks("include_locations", "Include locations", locations.clone()),
            checks(
                "exclude_locations",
                "Exclude locations",
                locations.into_iter().filter(|(v, _)| v != "All").collect(),
            ),
            checks("sign_in_risk", "Sign-in risk", risks.clone()),
            checks("user_risk", "User risk", risks),
        ],
        controls: Checks {
            name: "controls",
            legend: "Grant controls",
            choices: choices(
                fixed(&[
                    ("mfa", "Require multifactor authentication"),
                    ("compliantDevice", "Require a compliant device"),
                    ("domainJoinedDevice", "Require a hybrid joined device"),
                    ("approvedApplication", "Require an approved client app"),
                    ("compliantApplication", "Require an app protection policy"),
                    ("passwordChange", "Require a password change"),
                ]),
                &input.controls,
            ),
        },
        strengths: strength_choices,
        input,
    })
}

/// The page of policy `stored` (`None`: a new one) for `allowed`'s caller, with `form` when
/// the caller may change it.
#[allow(clippy::too_many_arguments)]
async fn policy_page(
    state: &AppState,
    allowed: &Authorized<ReadConditionalAccess>,
    frame: Frame,
    stored: Option<&ConditionalAccessPolicy>,
    form: Option<PolicyInput>,
    error: Option<String>,
    notice: Option<String>,
    reauth: Option<Reauth>,
) -> Result<PolicyPage, PageError> {
    let findings = match stored {
        Some(p) => findings(state, allowed)
            .await?
            .iter()
            .filter(|f| app::posture::concerns(f, p))
            .map(FindingView::of)
            .collect(),
        None => Vec::new(),
    };
    let document = match stored {
        Some(p) => {
            serde_json::to_string_pretty(p).map_err(|e| super::internal("a stored policy", e))?
        }
        None => String::new(),
    };
    let form = match form {
        Some(input) => Some(form_view(state, allowed, input).await?),
        None => None,
    };
    Ok(PolicyPage {
        id: stored.map(|p| p.id.clone()),
        name: stored.map(|p| p.name().to_string()).unwrap_or_default(),
        state: stored.map_or("Off", |p| state_label(p.state.as_str())),
        findings,
        form,
        document,
        error,
        notice,
        reauth,
        frame,
    })
}

/// A new policy's form: the clients it applies to preset to any (as Entra presets them).
fn blank() -> PolicyInput {
    let mut input = PolicyInput::of(&serde_json::json!({
        "state": "enabledForReportingButNotEnforced",
        "conditions": { "clientAppTypes": ["all"] }
    }));
    input.grant = "grant".into();
    input
}

/// `GET /admin/policies/new`.
async fn new(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
) -> Result<Response, PageError> {
    let admin =
        match super::open::<ManageConditionalAccess>(&state, jar, session, Section::Policies, NEW)
            .await?
        {
            Ok(admin) => admin,
            Err(response) => return Ok(response),
        };
    let reader = forms::reader(&state, admin.allowed.caller()).await?;
    let page = policy_page(
        &state,
        &reader,
        admin.frame,
        None,
        Some(blank()),
        None,
        None,
        None,
    )
    .await?;
    render(StatusCode::OK, &page)
}

/// `GET /admin/policies/{id}`.
async fn one(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let back = format!("{LIST}/{id}");
    let admin =
        match super::open::<ReadConditionalAccess>(&state, jar, session, Section::Policies, &back)
            .await?
        {
            Ok(admin) => admin,
            Err(response) => return Ok(response),
        };
    let stored = stored(&state, &admin.allowed, &id).await?;
    let write = forms::may_write(&admin.frame);
    let form = if write {
        Some(PolicyInput::of(&render_policy(&stored)?))
    } else {
        None
    };
    let notice = done
        .saved
        .is_some()
        .then(|| format!("Policy '{}' was saved.", stored.name()));
    let page = policy_page(
        &state,
        &admin.allowed,
        admin.frame,
        Some(&stored),
        form,
        None,
        notice,
        None,
    )
    .await?;
    render(StatusCode::OK, &page)
}

async fn stored(
    state: &AppState,
    allowed: &Authorized<ReadConditionalAccess>,
    id: &str,
) -> Result<ConditionalAccessPolicy, PageError> {
    let not_found =
        |message: String| PageError::new(StatusCode::NOT_FOUND, "No such policy", message);
    let Ok(policy_id) = PolicyId::parse(id) else {
        return Err(not_found(format!("'{id}' is not a policy id.")));
    };
    match state
        .core
        .conditional_access_policy(allowed, &policy_id)
        .await
    {
        Ok(p) => Ok(p),
        Err(e) => {
            let (status, message) = policy_error(e)?;
            Err(PageError::new(status, "No such policy", message))
        }
    }
}

/// Opens a write of the policy pages, coming back to `back`.
async fn writer(
    state: &AppState,
    jar: CookieJar,
    session: Option<BrowserSession>,
    back: &str,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Result<(Admin<ManageConditionalAccess>, Option<Reauth>), Response>, PageError> {
    let request = forms::Request { peer, headers };
    Ok(
        match forms::writer(state, jar, session, Section::Policies, back, request).await? {
            Writer::Refused(response) => Err(response),
            Writer::Open { admin, stale } => Ok((*admin, stale)),
        },
    )
}

/// A refused form's page: the form again, with what was chosen.
struct Again<'a> {
    state: &'a AppState,
    reader: &'a Authorized<ReadConditionalAccess>,
    frame: Frame,
    stored: Option<&'a ConditionalAccessPolicy>,
    input: PolicyInput,
}

impl Again<'_> {
    async fn render(
        self,
        status: StatusCode,
        error: Option<String>,
        reauth: Option<Reauth>,
    ) -> Result<Response, PageError> {
        let page = policy_page(
            self.state,
            self.reader,
            self.frame,
            self.stored,
            Some(self.input),
            error,
            None,
            reauth,
        )
        .await?;
        render(status, &page)
    }
}

/// `POST /admin/policies`: creates a policy from the form.
async fn create(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let input = PolicyInput::from_fields(&Fields::new(pairs));
    let (admin, stale) = match writer(&state, jar, session, NEW, peer, &headers).await? {
        Ok(open) => open,
        Err(response) => return Ok(response),
    };
    let reader = forms::reader(&state, admin.allowed.caller()).await?;
    let again = Again {
        state: &state,
        reader: &reader,
        frame: admin.frame,
        stored: None,
        input: input.clone(),
    };
    if let Some(reauth) = stale {
        return again.render(STALE, None, Some(reauth)).await;
    }
    let document = match input.document(&serde_json::json!({})) {
        Ok(d) => d,
        Err(message) => {
            return again
                .render(StatusCode::BAD_REQUEST, Some(message), None)
                .await
        }
    };
    match state
        .core
        .write_conditional_access_policy(
            &admin.allowed,
            PolicyChange::Create(document),
            LockoutGuard::Enforce,
        )
        .await
    {
        Ok(written) => Ok(Redirect::to(&format!("{LIST}/{}?saved=1", written.id)).into_response()),
        Err(e) => {
            let (status, message) = policy_error(e)?;
            again.render(status, Some(message), None).await
        }
    }
}

/// `POST /admin/policies/{id}`: writes what the form changed.
async fn update(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Path(id): Path<String>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let input = PolicyInput::from_fields(&Fields::new(pairs));
    let back = format!("{LIST}/{id}");
    let (admin, stale) = match writer(&state, jar, session, &back, peer, &headers).await? {
        Ok(open) => open,
        Err(response) => return Ok(response),
    };
    let reader = forms::reader(&state, admin.allowed.caller()).await?;
    let current = stored(&state, &reader, &id).await?;
    let again = Again {
        state: &state,
        reader: &reader,
        frame: admin.frame,
        stored: Some(&current),
        input: input.clone(),
    };
    if let Some(reauth) = stale {
        return again.render(STALE, None, Some(reauth)).await;
    }
    let before = render_policy(&current)?;
    let after = match input.document(&before) {
        Ok(d) => d,
        Err(message) => {
            return again
                .render(StatusCode::BAD_REQUEST, Some(message), None)
                .await
        }
    };
    let patch = super::policy_form::merge_patch(&before, &after);
    let Ok(policy_id) = PolicyId::parse(&current.id) else {
        return Err(super::internal("a stored policy", "its id does not parse"));
    };
    match state
        .core
        .write_conditional_access_policy(
            &admin.allowed,
            PolicyChange::Patch(policy_id, patch),
            LockoutGuard::Enforce,
        )
        .await
    {
        Ok(written) => Ok(Redirect::to(&format!("{LIST}/{}?saved=1", written.id)).into_response()),
        Err(e) => {
            let (status, message) = policy_error(e)?;
            again.render(status, Some(message), None).await
        }
    }
}

/// `POST /admin/policies/{id}/delete`.
async fn delete(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let back = format!("{LIST}/{id}");
    let (admin, stale) = match writer(&state, jar, session, &back, peer, &headers).await? {
        Ok(open) => open,
        Err(response) => return Ok(response),
    };
    let reader = forms::reader(&state, admin.allowed.caller()).await?;
    let current = stored(&state, &reader, &id).await?;
    let (status, error, reauth) = match stale {
        Some(reauth) => (STALE, None, Some(reauth)),
        None => {
            let Ok(policy_id) = PolicyId::parse(&current.id) else {
                return Err(super::internal("a stored policy", "its id does not parse"));
            };
            match state
                .core
                .write_conditional_access_policy(
                    &admin.allowed,
                    PolicyChange::Delete(policy_id),
                    LockoutGuard::Enforce,
                )
                .await
            {
                Ok(_) => {
                    let name: String =
                        url::form_urlencoded::byte_serialize(current.name().as_bytes()).collect();
                    return Ok(Redirect::to(&format!("{LIST}?deleted={name}")).into_response());
                }
                Err(e) => {
                    let (status, message) = policy_error(e)?;
                    (status, Some(message), None)
                }
            }
        }
    };
    let input = PolicyInput::of(&render_policy(&current)?);
    let page = policy_page(
        &state,
        &reader,
        admin.frame,
        Some(&current),
        Some(input),
        error,
        None,
        reauth,
    )
    .await?;
    render(status, &page)
}
