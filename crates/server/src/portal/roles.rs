//! *My roles*: the caller's eligible and active roles with their end times, and *Activate*
//! with what the role's settings require (read through [`app::pim::my_roles`]). A role whose
//! activation requires an authentication context says so before the click; the click records
//! the request and goes straight to its step-up sign-in, whose code `/my/callback` turns into
//! the proof that activates it. A caller with no method that counts for the context is told
//! which would, with the way to Security info, instead of a form that could not succeed.
//! *Deactivate*, *Extend* and *Renew* on the same page are [`super::holder`]'s.

use super::holder::ExtendCard;
use super::{render, to_sign_in, when, Current, Return};
use crate::error::PageForm;
use crate::error::{PageError, ServeError};
use crate::session::BrowserSession;
use crate::signin::pages::describe;
use crate::state::AppState;
use app::pim::activation::{self, ActivationError, ActivationOutcome, Presented, SignInProof};
use app::pim::my_roles::{my_roles, EligibleRole, MyRoles, Requirements};
use app::pim::readiness::ContextReadiness;
use app::pim::{Refusal, RefusalKind};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use chrono::TimeDelta;
use pim::request::{ExpirationPattern, ExpirationType, RequestSchedule, TicketInfo};
use pim::validate::MINIMUM_ACTIVE_DURATION;
use pim::{Action, ScheduleKind, ScheduleRequest, Status};
use policy::ids::RequestId;
use serde::Deserialize;
use std::sync::Arc;

/// What the activation form sends; every field as typed, so that a refused form shows it again.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ActivateForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    duration: String,
    #[serde(default)]
    justification: String,
    #[serde(default)]
    ticket_number: String,
    #[serde(default)]
    ticket_system: String,
}

impl ActivateForm {
    /// The `selfActivate` request the form asks for.
    fn request(&self) -> ScheduleRequest {
        let given = |s: &str| Some(s.to_string()).filter(|s| !s.trim().is_empty());
        let ticket = (given(&self.ticket_number).is_some() || given(&self.ticket_system).is_some())
            .then(|| TicketInfo {
                ticket_number: given(&self.ticket_number),
                ticket_system: given(&self.ticket_system),
                ..TicketInfo::default()
            });
        ScheduleRequest {
            action: Some(Action::SelfActivate),
            role_definition_id: self.role.trim().to_string(),
            directory_scope_id: Some("/".into()),
            justification: given(&self.justification),
            ticket_info: ticket,
            schedule_info: Some(RequestSchedule {
                // No duration chosen: the role's maximum, as the API does.
                expiration: given(&self.duration).map(|d| ExpirationPattern {
                    kind: Some(ExpirationType::AfterDuration),
                    duration: Some(d.trim().to_string()),
                    ..ExpirationPattern::default()
                }),
                ..RequestSchedule::default()
            }),
            ..ScheduleRequest::default()
        }
    }
}

/// The page's query after an action: the request to report on.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RolesQuery {
    activated: Option<String>,
    approval: Option<String>,
    deactivated: Option<String>,
    extension: Option<String>,
}

/// `GET /my/roles`.
pub(super) async fn page(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Query(query): Query<RolesQuery>,
) -> Result<Response, PageError> {
    let Some(session) = session else {
        return super::sign_in_first(&state, jar, Return::Roles).await;
    };
    let roles = read(&state, &session).await?;
    let notice = match notice(&state, &session, &roles, &query).await? {
        Some(notice) => Some(notice),
        None => {
            super::holder::notice(
                &state,
                &session,
                &roles,
                query.deactivated.as_deref(),
                query.extension.as_deref(),
            )
            .await?
        }
    };
    render(
        StatusCode::OK,
        &view(&state, &session, &roles, notice, None, None),
    )
}

/// The name of role `id` as *My roles* lists it (its id when it is not listed).
pub(super) fn name_of(roles: &MyRoles, id: &str) -> String {
    roles
        .eligible
        .iter()
        .map(|e| &e.role)
        .chain(roles.active.iter().map(|a| &a.role))
        .chain(roles.extendable.iter().map(|x| &x.role))
        .find(|r| r.id.eq_ignore_ascii_case(id))
        .map_or_else(|| id.to_string(), |r| r.display_name.clone())
}

/// What the page says about the request an activation just made, if it is the caller's.
async fn notice(
    state: &AppState,
    session: &BrowserSession,
    roles: &MyRoles,
    query: &RolesQuery,
) -> Result<Option<String>, PageError> {
    let (id, approval) = match (&query.activated, &query.approval) {
        (Some(id), _) => (id, false),
        (None, Some(id)) => (id, true),
        (None, None) => return Ok(None),
    };
    let Ok(id) = RequestId::parse(id) else {
        return Ok(None);
    };
    let record = match activation::own_request(
        state,
        &session.caller,
        ScheduleKind::Assignment,
        &id,
    )
    .await
    {
        Ok(r) => r,
        // Not the caller's (or no such request): nothing to report.
        Err(ActivationError::Refused(_)) => return Ok(None),
        Err(e) => return Err(internal(e)),
    };
    let role = &record.request.role_definition_id;
    let name = name_of(roles, role);
    Ok(match record.status() {
        Status::Provisioned if !approval => {
            let until = roles
                .active
                .iter()
                .find(|a| a.role.id.eq_ignore_ascii_case(role))
                .map(|a| a.until);
            Some(match until {
                Some(Some(end)) => format!("{name} is active until {}.", when(end)),
                Some(None) => format!("{name} is active."),
                None => format!("{name} was activated."),
            })
        }
        Status::PendingApproval if approval => Some(format!(
            "Your request to activate {name} waits for approval; it becomes active when it is \
             approved."
        )),
        _ => None,
    })
}

/// `POST /my/roles/activate`: records the activation and, when the role requires a context,
/// goes straight to its step-up; a refused form comes back with what was typed and why.
pub(super) async fn activate(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    PageForm(form): PageForm<ActivateForm>,
) -> Result<Response, PageError> {
    let Some(session) = session else {
        return Err(signed_out());
    };
    let methods: Vec<_> = state
        .store
        .session_events(&session.session.id)
        .await?
        .into_iter()
        .map(|e| e.method)
        .collect();
    let presented = Presented::from_session(&methods);
    match activation::activate(&state, &session.caller, &presented, form.request()).await {
        Ok(ActivationOutcome::StepUpRequired { record, context }) => {
            let request = super::portal_request(
                &state,
                &Return::Roles,
                Some((record.id(), context.as_str())),
            );
            to_sign_in(&state, jar, &request).await
        }
        Ok(ActivationOutcome::Activated(record)) => Ok(after(record.id(), false)),
        Ok(ActivationOutcome::PendingApproval(record)) => Ok(after(record.id(), true)),
        Ok(ActivationOutcome::ValidatedOnly(_)) => Err(internal_message(
            "an activation from the portal was only validated",
        )),
        Err(ActivationError::Refused(refusal)) => {
            let roles = read(&state, &session).await?;
            let status = status_of(&refusal);
            let refused = Refused::Activate(form, refusal.message);
            let page = view(&state, &session, &roles, None, None, Some(refused));
            render(status, &page)
        }
        Err(e) => Err(internal(e)),
    }
}

/// The form field that names a waiting request.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ResumeForm {
    #[serde(default)]
    request: String,
}

/// `POST /my/roles/step-up`: the step-up of a request that still waits for one (the user left
/// the sign-in page, say): the same sign-in, bound to that request.
pub(super) async fn resume_step_up(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    PageForm(form): PageForm<ResumeForm>,
) -> Result<Response, PageError> {
    let Some(session) = session else {
        return Err(signed_out());
    };
    let gone = "This request no longer waits for a step-up (it was activated, canceled or has \
                expired); activate the role again.";
    let Ok(id) = RequestId::parse(form.request.trim()) else {
        return refused(&state, &session, StatusCode::NOT_FOUND, gone.into()).await;
    };
    let record =
        match activation::own_request(&state, &session.caller, ScheduleKind::Assignment, &id).await
        {
            Ok(r) if r.status() == Status::PendingStepUp => r,
            Ok(_) | Err(ActivationError::Refused(_)) => {
                return refused(&state, &session, StatusCode::BAD_REQUEST, gone.into()).await
            }
            Err(e) => return Err(internal(e)),
        };
    let settings = state
        .role_settings(&record.request.role_definition_id)
        .await?;
    let context = pim::activation_requirements(&settings.policy)
        .ok()
        .and_then(|r| r.context);
    let Some(context) = context else {
        return refused(
            &state,
            &session,
            StatusCode::BAD_REQUEST,
            "The role's settings no longer require a step-up: activate it again.".into(),
        )
        .await;
    };
    let request = super::portal_request(
        &state,
        &Return::Roles,
        Some((record.id(), &context.to_string())),
    );
    to_sign_in(&state, jar, &request).await
}

/// The end of a step-up: the redeemed code of the sign-in for `request_id` is the proof, and the
/// request as recorded is sent again with it — exactly what a Graph client does with the token
/// of its step-up. A proof activates once: a second presentation is refused by the core.
pub(super) async fn finish_step_up(
    state: &AppState,
    session: &BrowserSession,
    request_id: &str,
    code: &store::AuthorizationCode,
) -> Result<Response, PageError> {
    let caller = &session.caller;
    let not_found = || {
        refused(
            state,
            session,
            StatusCode::NOT_FOUND,
            "The request this sign-in was for is not yours, or does not exist; nothing was \
             activated."
                .into(),
        )
    };
    let Ok(id) = RequestId::parse(request_id) else {
        return not_found().await;
    };
    let record = match activation::own_request(state, caller, ScheduleKind::Assignment, &id).await {
        Ok(r) => r,
        Err(ActivationError::Refused(_)) => return not_found().await,
        Err(e) => return Err(internal(e)),
    };
    let presented = Presented::from_step_up_sign_in(
        request_id,
        &code.user_id,
        state.now(),
        &SignInProof {
            auth_time: code.auth_time,
            acrs: &code.acrs,
            amr: &code.amr,
        },
        &code.code_hash,
    );
    match activation::activate(state, caller, &presented, record.request).await {
        Ok(ActivationOutcome::Activated(record)) => Ok(after(record.id(), false)),
        Ok(ActivationOutcome::PendingApproval(record)) => Ok(after(record.id(), true)),
        Ok(ActivationOutcome::StepUpRequired { .. } | ActivationOutcome::ValidatedOnly(_)) => Err(
            internal_message("a verified step-up did not complete its activation"),
        ),
        Err(ActivationError::Refused(refusal)) => {
            let status = status_of(&refusal);
            refused(
                state,
                session,
                status,
                format!("Not activated: {}", refusal.message),
            )
            .await
        }
        Err(e) => Err(internal(e)),
    }
}

/// *My roles* with `message` at the top, answered with `status`.
pub(super) async fn refused(
    state: &AppState,
    session: &BrowserSession,
    status: StatusCode,
    message: String,
) -> Result<Response, PageError> {
    let roles = read(state, session).await?;
    render(
        status,
        &view(state, session, &roles, None, Some(message), None),
    )
}

/// Back to *My roles*, reporting on request `id` (`303`: the form is not sent again on reload).
fn after(id: &str, approval: bool) -> Response {
    let key = if approval { "approval" } else { "activated" };
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(key, id)
        .finish();
    Redirect::to(&format!("/my/roles?{query}")).into_response()
}

fn signed_out() -> PageError {
    PageError::new(
        StatusCode::UNAUTHORIZED,
        "Sign in first",
        "Your session has ended; open My roles (/my/roles) and sign in again. Nothing was \
         activated.",
    )
}

/// The status of a page that shows `refusal`.
pub(super) fn status_of(refusal: &Refusal) -> StatusCode {
    match refusal.kind {
        RefusalKind::Invalid => StatusCode::BAD_REQUEST,
        RefusalKind::Forbidden => StatusCode::FORBIDDEN,
        RefusalKind::NotFound => StatusCode::NOT_FOUND,
        RefusalKind::Conflict => StatusCode::CONFLICT,
    }
}

/// An activation service's failure that is not the caller's.
pub(super) fn internal(e: ActivationError) -> PageError {
    match e {
        ActivationError::Store(e) => e.into(),
        other => internal_message(&other.to_string()),
    }
}

/// An inconsistency of the portal's (a bug), as an internal error page.
pub(super) fn internal_message(what: &str) -> PageError {
    ServeError::Internal(format!("My roles: {what}")).into()
}

/// The caller's roles.
pub(super) async fn read(state: &AppState, session: &BrowserSession) -> Result<MyRoles, PageError> {
    my_roles(state, &session.caller)
        .await
        .map_err(|e| ServeError::Internal(format!("My roles: {e}")).into())
}

// The page.

#[derive(Template)]
#[template(path = "portal_roles.html")]
pub(super) struct RolesPage {
    upn: String,
    current: Current,
    notice: Option<String>,
    error: Option<String>,
    eligible: Vec<RoleCard>,
    active: Vec<ActiveRow>,
    waiting: Vec<WaitingRow>,
    extendable: Vec<ExtendCard>,
}

/// One eligible role.
struct RoleCard {
    /// For element ids: the role's id.
    id: String,
    name: String,
    eligibility: String,
    /// "Active until …", when it is active now.
    active: Option<String>,
    /// What the settings require, in words.
    requires: Vec<String>,
    /// The context's step-up, said before the click.
    step_up: Option<StepUpView>,
    /// Why the caller cannot step up yet, and what to do.
    cannot: Option<CannotView>,
    /// Why no one can activate the role (its settings are broken).
    broken: Option<String>,
    /// The form, when the role can be activated now.
    form: Option<FormView>,
}

struct StepUpView {
    context: String,
    /// What the policies ask, one sentence each.
    asks: Vec<String>,
}

struct CannotView {
    /// Per policy: what it requires and the advice.
    reasons: Vec<String>,
    /// Methods that would count.
    would_count: Vec<String>,
    /// The caller's methods, with why a key does not count.
    registered: Vec<String>,
}

struct FormView {
    durations: Vec<DurationOption>,
    justification: String,
    justification_required: bool,
    ticket_required: bool,
    ticket_number: String,
    ticket_system: String,
    error: Option<String>,
    /// The button's words: the step-up comes right after it.
    button: String,
}

/// One choice of a duration.
pub(super) struct DurationOption {
    pub(super) value: String,
    pub(super) label: String,
    pub(super) selected: bool,
}

struct ActiveRow {
    /// The role's id (the *Deactivate* form names it).
    id: String,
    name: String,
    until: String,
    how: String,
    /// An activation the caller can end now.
    deactivate: bool,
    /// An activation too young to end: from when it can be.
    deactivate_from: Option<String>,
}

/// A form the page shows again as typed, with the sentence that refused it.
pub(super) enum Refused {
    /// *Activate*.
    Activate(ActivateForm, String),
    /// *Extend* or *Renew* (the action says which).
    Extend(super::holder::ExtendForm, Action, String),
}

struct WaitingRow {
    id: String,
    name: String,
    since: String,
}

/// The page for `roles`; `refused` re-renders a form as typed with the refusal's sentence.
pub(super) fn view(
    state: &AppState,
    session: &BrowserSession,
    roles: &MyRoles,
    notice: Option<String>,
    error: Option<String>,
    refused: Option<Refused>,
) -> RolesPage {
    let now = state.now();
    let (activate, extend) = match &refused {
        Some(Refused::Activate(form, message)) => (Some((form, message.as_str())), None),
        Some(Refused::Extend(form, action, message)) => {
            (None, Some((form, action, message.as_str())))
        }
        None => (None, None),
    };
    let eligible: Vec<RoleCard> = roles
        .eligible
        .iter()
        .map(|e| {
            let input =
                activate.filter(|(form, _)| e.role.id.eq_ignore_ascii_case(form.role.trim()));
            card(e, input)
        })
        .collect();
    let (extendable, extend_shown) = super::holder::cards(&roles.extendable, extend, now);
    // A refusal no form on the page can show (the role is active now, or not the caller's)
    // is said at the top.
    let in_a_form = extend_shown
        || eligible
            .iter()
            .any(|c| c.form.as_ref().is_some_and(|f| f.error.is_some()));
    let error = error.or_else(|| {
        let message = match &refused {
            Some(Refused::Activate(_, message) | Refused::Extend(_, _, message)) => message,
            None => return None,
        };
        (!in_a_form).then(|| message.clone())
    });
    RolesPage {
        upn: session.caller.user.user_principal_name.clone(),
        current: Current::Roles,
        notice,
        error,
        eligible,
        active: roles
            .active
            .iter()
            .map(|a| ActiveRow {
                id: a.role.id.clone(),
                deactivate: a.activated && now >= a.since + MINIMUM_ACTIVE_DURATION,
                deactivate_from: (a.activated && now < a.since + MINIMUM_ACTIVE_DURATION)
                    .then(|| when(a.since + MINIMUM_ACTIVE_DURATION)),
                name: a.role.display_name.clone(),
                until: a.until.map_or_else(
                    || "no end".to_string(),
                    |end| format!("until {}", when(end)),
                ),
                how: match (a.activated, a.through_group) {
                    (true, _) => format!("activated by you at {}", when(a.since)),
                    (false, true) => "assigned to a group you are in".to_string(),
                    (false, false) => "assigned by an administrator".to_string(),
                },
            })
            .collect(),
        waiting: roles
            .waiting_for_step_up
            .iter()
            .map(|w| WaitingRow {
                id: w.record.id().to_string(),
                name: w.role.display_name.clone(),
                since: w
                    .record
                    .request
                    .created_date_time
                    .map(when)
                    .unwrap_or_default(),
            })
            .collect(),
        extendable,
    }
}

fn card(e: &EligibleRole, refused: Option<(&ActivateForm, &str)>) -> RoleCard {
    let mut card = RoleCard {
        id: e.role.id.clone(),
        name: e.role.display_name.clone(),
        eligibility: match (e.eligible_until, e.through_group) {
            (Some(end), false) => format!("Eligible until {}", when(end)),
            (None, false) => "Eligible, with no end".to_string(),
            (Some(end), true) => format!("Eligible through a group until {}", when(end)),
            (None, true) => "Eligible through a group, with no end".to_string(),
        },
        active: e.active_until.map(|until| match until {
            Some(end) => format!("Active until {}", when(end)),
            None => "Active, with no end".to_string(),
        }),
        requires: Vec::new(),
        step_up: None,
        cannot: None,
        broken: None,
        form: None,
    };
    let requirements = match &e.requirements {
        Ok(r) => r,
        Err(violations) => {
            card.broken = Some(format!(
                "This role cannot be activated: its settings are unusable ({}). Tell an \
                 administrator.",
                violations
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
            return card;
        }
    };
    card.requires = requires(requirements);
    if let Some(readiness) = &requirements.context {
        card.step_up = Some(step_up_view(readiness));
        if !readiness.can_satisfy() {
            card.cannot = Some(cannot_view(readiness));
        }
    }
    if e.active_until.is_none() && requirements.can_step_up() {
        card.form = Some(form_view(requirements, refused));
    }
    card
}

/// What the settings ask of the request, in words.
fn requires(r: &Requirements) -> Vec<String> {
    let s = &r.settings;
    let mut out = Vec::new();
    out.push(match s.maximum_duration {
        Some(max) => format!("For up to {}.", duration_label(max)),
        None => "For as long as you choose (no maximum).".to_string(),
    });
    if s.justification {
        out.push("A justification is required.".into());
    }
    if s.ticket {
        out.push("A ticket number and ticket system are required.".into());
    }
    if s.approval {
        out.push("An approver must approve it before it is active.".into());
    }
    if s.mfa_claim {
        out.push(
            "Multifactor authentication: an MFA done when you signed in counts (no new proof is \
             asked)."
                .into(),
        );
    }
    out
}

fn context_label(r: &ContextReadiness) -> String {
    match &r.context_name {
        Some(name) => format!("{} ({name})", r.context),
        None => r.context.clone(),
    }
}

fn step_up_view(r: &ContextReadiness) -> StepUpView {
    let mut asks: Vec<String> = r
        .policies
        .iter()
        .map(|p| {
            format!(
                "Policy '{}' asks for {}{}. Any of: {}.",
                p.policy_name,
                p.strength_name,
                if p.every_time {
                    ", made for this request (an earlier sign-in does not count)"
                } else {
                    ""
                },
                methods_of(&p.allowed_combinations).join("; "),
            )
        })
        .collect();
    match &r.without_strength {
        Some(reason) => asks.push(format!("No authentication strength is checked: {reason}.")),
        // Policies require a strength on the context, but none applies to this caller (they
        // target role holders, say, and the caller is only eligible): say so rather than
        // promise a proof that will not be asked for.
        None if asks.is_empty() => asks.push(
            "No policy requiring an authentication strength on this context applies to you: \
             the step-up asks for nothing beyond your sign-in. Tell your administrator."
                .into(),
        ),
        None => {}
    }
    StepUpView {
        context: context_label(r),
        asks,
    }
}

fn cannot_view(r: &ContextReadiness) -> CannotView {
    let mut would_count: Vec<String> = Vec::new();
    let mut registered: Vec<String> = Vec::new();
    let mut reasons = Vec::new();
    for (demand, lacking) in r.unmet() {
        reasons.push(format!(
            "Policy '{}' requires {}, and none of your sign-in methods satisfies it: {}.",
            demand.policy_name,
            demand.strength_name,
            lacking
                .advice
                .as_deref()
                .unwrap_or("register a method it allows")
        ));
        for words in methods_of(&demand.allowed_combinations) {
            if !would_count.contains(&words) {
                would_count.push(words);
            }
        }
        for m in &lacking.registered {
            let kind = describe(&m.method);
            let mut line = if m.label.is_empty() || m.label == kind {
                kind
            } else {
                format!("{kind}: {}", m.label)
            };
            if m.registered_under_weaker_proof {
                let how = m.provenance.as_ref().map_or_else(
                    || "a weaker proof".to_string(),
                    |p| p.proof.describe().to_string(),
                );
                line.push_str(&format!(
                    " — does not count: registered with {how}, which is weaker than the key"
                ));
            }
            if !registered.contains(&line) {
                registered.push(line);
            }
        }
    }
    CannotView {
        reasons,
        would_count,
        registered,
    }
}

/// Each combination of a strength in words ("Password and Authenticator app code (TOTP)").
fn methods_of(combinations: &[policy::method::MethodCombination]) -> Vec<String> {
    combinations
        .iter()
        .map(|c| c.modes().map(describe).collect::<Vec<_>>().join(" and "))
        .collect()
}

fn form_view(r: &Requirements, refused: Option<(&ActivateForm, &str)>) -> FormView {
    let (input, error) = match refused {
        Some((form, message)) => (form.clone(), Some(message.to_string())),
        None => (ActivateForm::default(), None),
    };
    FormView {
        durations: durations(r.settings.maximum_duration, &input.duration),
        justification: input.justification,
        justification_required: r.settings.justification,
        ticket_required: r.settings.ticket,
        ticket_number: input.ticket_number,
        ticket_system: input.ticket_system,
        error,
        button: if r.context.is_some() {
            "Activate (you will prove it is you again)".into()
        } else {
            "Activate".into()
        },
    }
}

/// The durations offered: common ones up to the maximum, and the maximum itself; `chosen` (the
/// refused form's) or one hour is selected.
fn durations(maximum: Option<TimeDelta>, chosen: &str) -> Vec<DurationOption> {
    let mut offered: Vec<TimeDelta> = [30, 60, 120, 240, 480, 720, 1440]
        .into_iter()
        .map(TimeDelta::minutes)
        .filter(|d| maximum.is_none_or(|max| *d <= max))
        .collect();
    if let Some(max) = maximum {
        if max > TimeDelta::zero() && !offered.contains(&max) {
            offered.push(max);
        }
    }
    let values: Vec<String> = offered.iter().map(|d| iso_duration(*d)).collect();
    let chosen = chosen.trim();
    let selected = if values.iter().any(|v| v == chosen) {
        chosen.to_string()
    } else if values.iter().any(|v| v == "PT1H") {
        "PT1H".to_string()
    } else {
        values.first().cloned().unwrap_or_default()
    };
    offered
        .into_iter()
        .zip(values)
        .map(|(d, value)| DurationOption {
            selected: value == selected,
            label: duration_label(d),
            value,
        })
        .collect()
}

/// `PT1H30M`.
fn iso_duration(d: TimeDelta) -> String {
    let minutes = d.num_minutes().max(1);
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("PT{m}M"),
        (h, 0) => format!("PT{h}H"),
        (h, m) => format!("PT{h}H{m}M"),
    }
}

/// "1 hour 30 minutes".
fn duration_label(d: TimeDelta) -> String {
    let minutes = d.num_minutes();
    let unit = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    match (minutes / 60, minutes % 60) {
        (0, m) => unit(m, "minute", "minutes"),
        (h, 0) => unit(h, "hour", "hours"),
        (h, m) => format!(
            "{} {}",
            unit(h, "hour", "hours"),
            unit(m, "minute", "minutes")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_go_up_to_the_maximum_and_keep_the_choice() {
        let offered = durations(Some(TimeDelta::minutes(150)), "PT2H");
        let values: Vec<&str> = offered.iter().map(|d| d.value.as_str()).collect();
        assert_eq!(values, ["PT30M", "PT1H", "PT2H", "PT2H30M"]);
        let selected: Vec<&str> = offered
            .iter()
            .filter(|d| d.selected)
            .map(|d| d.label.as_str())
            .collect();
        assert_eq!(selected, ["2 hours"]);
        // An unknown choice falls back to one hour; a short maximum is offered alone.
        assert!(durations(Some(TimeDelta::hours(8)), "P9D")
            .iter()
            .any(|d| d.selected && d.value == "PT1H"));
        let short = durations(Some(TimeDelta::minutes(20)), "");
        assert_eq!(short.len(), 1);
        assert!(short[0].selected && short[0].value == "PT20M");
    }

    #[test]
    fn the_form_becomes_the_request_the_api_takes() {
        let form = ActivateForm {
            role: " 9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3 ".into(),
            duration: "PT2H".into(),
            justification: "Incident 4711".into(),
            ticket_number: "".into(),
            ticket_system: "  ".into(),
        };
        let r = serde_json::to_value(form.request()).unwrap_or_default();
        assert_eq!(r["action"], "selfActivate");
        assert_eq!(
            r["roleDefinitionId"],
            "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
        );
        assert_eq!(r["directoryScopeId"], "/");
        assert_eq!(r["scheduleInfo"]["expiration"]["duration"], "PT2H");
        assert_eq!(r["scheduleInfo"]["expiration"]["type"], "afterDuration");
        assert!(r.get("ticketInfo").is_none(), "{r}");
        assert_eq!(duration_label(TimeDelta::minutes(61)), "1 hour 1 minute");
    }
}
