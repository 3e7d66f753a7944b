//! What the holder of a role does with it from *My roles*, besides activating: *Deactivate* an
//! activation (`selfDeactivate`, through [`app::pim::activation::deactivate`]), and ask an
//! administrator to *Extend* a schedule that ends soon or *Renew* one that has ended
//! (`selfExtend`, `selfRenew`, through [`app::pim::extension::request`]) — the services behind
//! the Graph API's `roleAssignmentScheduleRequests` and `roleEligibilityScheduleRequests`,
//! which decide what is allowed; the page offers only what applies
//! ([`app::pim::my_roles::Extendable`]).

use super::roles::{self, internal, internal_message, status_of, DurationOption, Refused};
use super::{render, when};
use crate::error::PageError;
use crate::error::PageForm;
use crate::session::BrowserSession;
use crate::state::AppState;
use app::pim::activation::{self, ActivationError, DeactivationOutcome};
use app::pim::extension::{self, ExtensionError, ExtensionOutcome};
use app::pim::my_roles::{Extendable, MyRoles};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, TimeDelta, Utc};
use pim::request::{ExpirationPattern, ExpirationType, RequestSchedule};
use pim::{Action, ScheduleKind, ScheduleRequest, Status};
use policy::ids::RequestId;
use serde::Deserialize;
use std::sync::Arc;

/// What *Deactivate* sends.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct DeactivateForm {
    #[serde(default)]
    role: String,
}

/// What *Extend* and *Renew* send; every field as typed, so that a refused form shows it again.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ExtendForm {
    #[serde(default)]
    pub(super) role: String,
    /// `eligibility` or `assignment`.
    #[serde(default)]
    pub(super) kind: String,
    #[serde(default)]
    duration: String,
    #[serde(default)]
    justification: String,
}

impl ExtendForm {
    /// The kind of schedule the form names; `None` for anything else.
    pub(super) fn kind(&self) -> Option<ScheduleKind> {
        match self.kind.trim() {
            "eligibility" => Some(ScheduleKind::Eligibility),
            "assignment" => Some(ScheduleKind::Assignment),
            _ => None,
        }
    }

    /// The `selfExtend` or `selfRenew` request the form asks for: the new schedule runs for the
    /// chosen duration from when an administrator grants it.
    fn request(&self, action: Action) -> ScheduleRequest {
        let given = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        ScheduleRequest {
            action: Some(action),
            role_definition_id: self.role.trim().to_string(),
            directory_scope_id: Some("/".into()),
            justification: given(&self.justification),
            schedule_info: Some(RequestSchedule {
                // No duration chosen: the settings' maximum, as the API does.
                expiration: given(&self.duration).map(|d| ExpirationPattern {
                    kind: Some(ExpirationType::AfterDuration),
                    duration: Some(d),
                    ..ExpirationPattern::default()
                }),
                ..RequestSchedule::default()
            }),
            ..ScheduleRequest::default()
        }
    }
}

/// The form value of a kind of schedule.
fn kind_value(kind: ScheduleKind) -> &'static str {
    match kind {
        ScheduleKind::Eligibility => "eligibility",
        ScheduleKind::Assignment => "assignment",
    }
}

/// A POST without a session: nothing was changed.
fn signed_out() -> PageError {
    PageError::new(
        StatusCode::UNAUTHORIZED,
        "Sign in first",
        "Your session has ended; open My roles (/my/roles) and sign in again. Nothing was \
         changed.",
    )
}

/// `POST /my/roles/deactivate`: ends the caller's activation of the role now.
pub(super) async fn deactivate(
    State(state): State<Arc<AppState>>,
    session: Option<BrowserSession>,
    PageForm(form): PageForm<DeactivateForm>,
) -> Result<Response, PageError> {
    let Some(session) = session else {
        return Err(signed_out());
    };
    let request = ScheduleRequest {
        action: Some(Action::SelfDeactivate),
        role_definition_id: form.role.trim().to_string(),
        directory_scope_id: Some("/".into()),
        ..ScheduleRequest::default()
    };
    match activation::deactivate(&state, &session.caller, request).await {
        Ok(DeactivationOutcome::Deactivated(record)) => Ok(after("deactivated", record.id())),
        Ok(DeactivationOutcome::ValidatedOnly(_)) => Err(internal_message(
            "a deactivation from the portal was only validated",
        )),
        Err(ActivationError::Refused(refusal)) => {
            roles::refused(
                &state,
                &session,
                status_of(&refusal),
                format!("Not ended: {}", refusal.message),
            )
            .await
        }
        Err(e) => Err(internal(e)),
    }
}

/// `POST /my/roles/extend`: asks an administrator to extend a schedule that ends soon.
pub(super) async fn extend(
    State(state): State<Arc<AppState>>,
    session: Option<BrowserSession>,
    PageForm(form): PageForm<ExtendForm>,
) -> Result<Response, PageError> {
    ask(&state, session, form, Action::SelfExtend).await
}

/// `POST /my/roles/renew`: asks an administrator to renew a schedule that has ended.
pub(super) async fn renew(
    State(state): State<Arc<AppState>>,
    session: Option<BrowserSession>,
    PageForm(form): PageForm<ExtendForm>,
) -> Result<Response, PageError> {
    ask(&state, session, form, Action::SelfRenew).await
}

async fn ask(
    state: &AppState,
    session: Option<BrowserSession>,
    form: ExtendForm,
    action: Action,
) -> Result<Response, PageError> {
    let Some(session) = session else {
        return Err(signed_out());
    };
    let Some(kind) = form.kind() else {
        return roles::refused(
            state,
            &session,
            StatusCode::BAD_REQUEST,
            "Nothing was requested: the form names no eligibility or active assignment.".into(),
        )
        .await;
    };
    match extension::request(state, &session.caller, form.request(action.clone()), kind).await {
        Ok(ExtensionOutcome::PendingAdminDecision(record)) => Ok(after("extension", record.id())),
        Ok(ExtensionOutcome::ValidatedOnly(_)) => Err(internal_message(
            "an extension from the portal was only validated",
        )),
        Err(ExtensionError::Refused(refusal)) => {
            let roles = roles::read(state, &session).await?;
            let page = roles::view(
                state,
                &session,
                &roles,
                None,
                None,
                Some(Refused::Extend(form, action, refusal.message.clone())),
            );
            render(status_of(&refusal), &page)
        }
        Err(ExtensionError::Store(e)) => Err(e.into()),
        Err(ExtensionError::Internal(e)) => Err(internal_message(&e)),
    }
}

/// Back to *My roles*, reporting on request `id` under `key` (`303`: not sent again on
/// reload).
fn after(key: &str, id: &str) -> Response {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(key, id)
        .finish();
    Redirect::to(&format!("/my/roles?{query}")).into_response()
}

/// What *My roles* says about a deactivation or an extension request just made, if it is the
/// caller's and still stands as the form left it.
pub(super) async fn notice(
    state: &AppState,
    session: &BrowserSession,
    roles: &MyRoles,
    deactivated: Option<&str>,
    extension: Option<&str>,
) -> Result<Option<String>, PageError> {
    let (id, deactivation) = match (deactivated, extension) {
        (Some(id), _) => (id, true),
        (None, Some(id)) => (id, false),
        (None, None) => return Ok(None),
    };
    let Ok(id) = RequestId::parse(id) else {
        return Ok(None);
    };
    let Some(record) = own(state, session, &id).await? else {
        return Ok(None);
    };
    let name = roles::name_of(roles, &record.request.role_definition_id);
    let action = record.request.action();
    Ok(match (deactivation, &action, record.status()) {
        (true, Action::SelfDeactivate, _) => Some(format!(
            "{name} is no longer active: you ended it. Activate it again when you need it."
        )),
        (false, Action::SelfExtend | Action::SelfRenew, Status::PendingAdminDecision) => {
            Some(format!(
                "Your request to {} your {} {name} waits for an administrator's decision; My \
                 requests lists it, and you can cancel it there while it waits.",
                if action == Action::SelfRenew {
                    "renew"
                } else {
                    "extend"
                },
                of_kind(record.kind),
            ))
        }
        _ => None,
    })
}

/// "eligibility for", "active assignment of".
fn of_kind(kind: ScheduleKind) -> &'static str {
    match kind {
        ScheduleKind::Eligibility => "eligibility for",
        ScheduleKind::Assignment => "active assignment of",
    }
}

/// One of the caller's requests, of either kind; `None` when it is not theirs or not there.
pub(super) async fn own(
    state: &AppState,
    session: &BrowserSession,
    id: &RequestId,
) -> Result<Option<store::ScheduleRequestRecord>, PageError> {
    for kind in [ScheduleKind::Assignment, ScheduleKind::Eligibility] {
        match activation::own_request(state, &session.caller, kind, id).await {
            Ok(record) => return Ok(Some(record)),
            Err(ActivationError::Refused(_)) => {}
            Err(e) => return Err(internal(e)),
        }
    }
    Ok(None)
}

// The page's section "Ending soon or ended".

/// One schedule that may be extended or renewed.
pub(super) struct ExtendCard {
    /// For element ids: the kind and the role's id.
    pub(super) id: String,
    pub(super) role_id: String,
    pub(super) kind: &'static str,
    pub(super) name: String,
    /// What it is and when it ends or ended, in a sentence.
    pub(super) summary: String,
    /// Where the form posts.
    pub(super) path: &'static str,
    pub(super) button: &'static str,
    /// The request that already waits for an administrator, in a sentence.
    pub(super) waiting: Option<String>,
    /// Why no duration can be asked for.
    pub(super) cannot: Option<String>,
    pub(super) form: Option<ExtendFormView>,
}

/// The form of an [`ExtendCard`].
pub(super) struct ExtendFormView {
    pub(super) durations: Vec<DurationOption>,
    pub(super) justification: String,
    pub(super) error: Option<String>,
}

/// The cards of `extendable`; `refused` re-renders one form as typed with the refusal's
/// sentence (`None` in the second place when no card shows it).
pub(super) fn cards(
    extendable: &[Extendable],
    refused: Option<(&ExtendForm, &Action, &str)>,
    now: DateTime<Utc>,
) -> (Vec<ExtendCard>, bool) {
    let mut shown = false;
    let cards = extendable
        .iter()
        .map(|x| {
            let input = refused.filter(|(form, action, _)| {
                **action == x.action
                    && form.kind() == Some(x.kind)
                    && x.role.id.eq_ignore_ascii_case(form.role.trim())
            });
            let card = card(x, input, now);
            shown |= card.form.as_ref().is_some_and(|f| f.error.is_some());
            card
        })
        .collect();
    (cards, shown)
}

fn card(
    x: &Extendable,
    refused: Option<(&ExtendForm, &Action, &str)>,
    now: DateTime<Utc>,
) -> ExtendCard {
    let renewing = x.action == Action::SelfRenew;
    let what = match x.kind {
        ScheduleKind::Eligibility => "Your eligibility",
        ScheduleKind::Assignment => "Your active assignment (made by an administrator)",
    };
    let summary = if renewing {
        format!(
            "{what} ended at {}; it can be renewed until {}.",
            when(x.end),
            when(x.end + pim::validate::RENEWAL_WINDOW)
        )
    } else {
        format!(
            "{what} ends at {}, in {}.",
            when(x.end),
            days_label(x.end - now)
        )
    };
    let mut card = ExtendCard {
        id: format!("{}-{}", kind_value(x.kind), x.role.id),
        role_id: x.role.id.clone(),
        kind: kind_value(x.kind),
        // Not the role's name alone: its card under *Eligible roles* has that name already, and
        // each section's name must be its own.
        name: format!(
            "{}: your {}",
            x.role.display_name,
            match x.kind {
                ScheduleKind::Eligibility => "eligibility",
                ScheduleKind::Assignment => "active assignment",
            }
        ),
        summary,
        path: if renewing {
            "/my/roles/renew"
        } else {
            "/my/roles/extend"
        },
        button: if renewing { "Renew" } else { "Extend" },
        waiting: None,
        cannot: None,
        form: None,
    };
    if let Some(waiting) = &x.waiting {
        card.waiting = Some(format!(
            "Your request to {} it, made {}, waits for an administrator's decision (My requests \
             lists it).",
            if renewing { "renew" } else { "extend" },
            waiting
                .request
                .created_date_time
                .map(when)
                .unwrap_or_default()
        ));
        return card;
    }
    // An extension must end later than the schedule does now.
    let at_least = if renewing {
        TimeDelta::zero()
    } else {
        x.end - now
    };
    let chosen = refused.map_or("", |(form, ..)| form.duration.as_str());
    let durations = durations(x.maximum, at_least, chosen);
    if durations.is_empty() {
        card.cannot = Some(format!(
            "The role's settings let an administrator grant at most {}, which would not end \
             later than now: ask an administrator directly.",
            x.maximum.map_or_else(|| "nothing".to_string(), days_label)
        ));
        return card;
    }
    card.form = Some(ExtendFormView {
        durations,
        justification: refused
            .map(|(form, ..)| form.justification.clone())
            .unwrap_or_default(),
        error: refused.map(|(.., message)| message.to_string()),
    });
    card
}

/// The durations offered, from the administrator's grant: common ones longer than `at_least`
/// and up to `maximum`, and the maximum itself; `chosen` (a refused form's) or 30 days, else the
/// first, is selected.
fn durations(maximum: Option<TimeDelta>, at_least: TimeDelta, chosen: &str) -> Vec<DurationOption> {
    let mut offered: Vec<TimeDelta> = [7, 14, 30, 90, 180, 365]
        .into_iter()
        .map(TimeDelta::days)
        .filter(|d| maximum.is_none_or(|max| *d <= max))
        .collect();
    if let Some(max) = maximum {
        if max > TimeDelta::zero() && !offered.contains(&max) {
            offered.push(max);
        }
    }
    offered.retain(|d| *d > at_least);
    let values: Vec<String> = offered.iter().map(|d| iso_days(*d)).collect();
    let chosen = chosen.trim();
    let selected = if values.iter().any(|v| v == chosen) {
        chosen.to_string()
    } else if values.iter().any(|v| v == "P30D") {
        "P30D".to_string()
    } else {
        values.first().cloned().unwrap_or_default()
    };
    offered
        .into_iter()
        .zip(values)
        .map(|(d, value)| DurationOption {
            selected: value == selected,
            label: days_label(d),
            value,
        })
        .collect()
}

/// `P30D`, or the exact ISO 8601 duration when it is not whole days.
fn iso_days(d: TimeDelta) -> String {
    if d.num_seconds() % 86_400 == 0 {
        format!("P{}D", d.num_days())
    } else {
        pim::iso8601::format_duration(d)
    }
}

/// "30 days", "1 day" (to the nearest day), or hours when less than a day is left.
fn days_label(d: TimeDelta) -> String {
    let days = if d >= TimeDelta::days(1) {
        (d + TimeDelta::hours(12)).num_days()
    } else {
        0
    };
    match (days, d.num_hours()) {
        (1, _) => "1 day".to_string(),
        (0, 1) => "1 hour".to_string(),
        (0, h) if h > 0 => format!("{h} hours"),
        (0, _) => "less than an hour".to_string(),
        (n, _) => format!("{n} days"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extension_is_offered_only_durations_that_end_later() {
        // Ten days left, at most 30 days: a week does not end later; 14 and 30 days do.
        let offered = durations(Some(TimeDelta::days(30)), TimeDelta::days(10), "");
        let values: Vec<&str> = offered.iter().map(|d| d.value.as_str()).collect();
        assert_eq!(values, ["P14D", "P30D"]);
        assert!(offered.iter().any(|d| d.selected && d.value == "P30D"));
        // A refused form's choice is kept; a maximum that is not whole days is offered as is.
        let offered = durations(Some(TimeDelta::hours(36)), TimeDelta::zero(), "P1DT12H");
        let values: Vec<&str> = offered.iter().map(|d| d.value.as_str()).collect();
        assert_eq!(values, ["P1DT12H"]);
        assert!(offered[0].selected);
        // Nothing fits: nothing is offered.
        assert!(durations(Some(TimeDelta::days(7)), TimeDelta::days(8), "").is_empty());
    }

    #[test]
    fn the_form_becomes_the_request_the_api_takes() {
        let form = ExtendForm {
            role: " 5d6b6bb7-de71-4623-b4af-96380a352509 ".into(),
            kind: "eligibility".into(),
            duration: "P30D".into(),
            justification: " the audit runs another month ".into(),
        };
        assert_eq!(form.kind(), Some(ScheduleKind::Eligibility));
        let r = serde_json::to_value(form.request(Action::SelfRenew)).unwrap_or_default();
        assert_eq!(r["action"], "selfRenew");
        assert_eq!(
            r["roleDefinitionId"],
            "5d6b6bb7-de71-4623-b4af-96380a352509"
        );
        assert_eq!(r["justification"], "the audit runs another month");
        assert_eq!(r["scheduleInfo"]["expiration"]["duration"], "P30D");
        let odd = ExtendForm {
            kind: "both".into(),
            ..ExtendForm::default()
        };
        assert_eq!(odd.kind(), None);
        assert_eq!(days_label(TimeDelta::hours(5)), "5 hours");
        assert_eq!(
            days_label(TimeDelta::days(10) - TimeDelta::seconds(1)),
            "10 days"
        );
        assert_eq!(days_label(TimeDelta::hours(30)), "1 day");
    }
}
