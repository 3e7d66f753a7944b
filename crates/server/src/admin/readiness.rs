//! *Rollout readiness* (`/admin/readiness`): the order in which a policy on a privileged
//! role's authentication context goes *On*, made visible. For each role whose activation
//! requires a context, and each policy on that context: (a) who among the role's eligible
//! administrators has a method that counts for the policy's strength, with a temporary access
//! pass to issue to those without; (b) the lint's findings with their fixes; (c) a pilot — one
//! named eligible administrator has activated the role with a step-up that satisfied the
//! strength, after the policy's last change (read from the records by
//! [`app::posture::rollout::pilot`]); (d) only then the switch to *On*, through the same write
//! and lockout guard as the API (`Core::write_conditional_access_policy`), refused with the
//! reason until (a) to (c) hold.

use super::{freshness, open, Admin, Frame, Freshness, Reauth, Section};
use crate::error::PageError;
use crate::error::PageForm;
use crate::portal::{render, when};
use crate::session::BrowserSession;
use crate::state::AppState;
use app::authz::{AuthorizeError, ManageConditionalAccess, ManageRoles};
use app::conditional_access::{LockoutGuard, PolicyChange, PolicyError};
use app::posture::rollout::{self, Pilot, PolicyRollout, RoleRollout};
use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use policy::ids::PolicyId;
use policy::posture::{severity_name, UserReadiness};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

const PATH: &str = "/admin/readiness";

/// One eligible administrator against a policy's strength.
struct AdminRow {
    upn: String,
    ready: bool,
    /// The combination satisfied, or what to do.
    detail: String,
    break_glass: bool,
}

/// A finding with its fix.
struct FindingRow {
    severity: &'static str,
    text: String,
}

/// One policy's card.
struct PolicyCard {
    id: String,
    name: String,
    state: String,
    on: bool,
    changed: String,
    /// (a)
    registration_error: Option<String>,
    strength: String,
    admins: Vec<AdminRow>,
    registration_ready: bool,
    /// (b)
    findings: Vec<FindingRow>,
    lint_clean: bool,
    /// (c)
    pilot_user: String,
    pilot: Option<Pilot>,
    /// (d): why the switch is not offered yet, if it is not.
    blocked: Option<String>,
    /// The refusal of the last attempt to switch it on.
    error: Option<String>,
}

struct RoleCard {
    id: String,
    name: String,
    context: String,
    policies: Vec<PolicyCard>,
}

#[derive(Template)]
#[template(path = "admin_readiness.html")]
struct ReadinessPage {
    frame: Frame,
    roles: Vec<RoleCard>,
    notice: Option<String>,
    reauth: Option<Reauth>,
    /// Whether the caller may switch policies on (Conditional Access writers only).
    may_switch: bool,
}

fn admin_row(r: &UserReadiness, break_glass: bool) -> AdminRow {
    AdminRow {
        upn: r.user.user_principal_name.clone(),
        ready: r.is_ready(),
        detail: match &r.satisfied_by {
            Some(c) => format!("ready: {c}"),
            None => r
                .advice
                .clone()
                .unwrap_or_else(|| "has no method that counts".into()),
        },
        break_glass,
    }
}

/// The pilot and the reason the switch is withheld, for a policy.
fn blocked(p: &PolicyRollout, pilot: Option<&Pilot>) -> Option<String> {
    if p.is_on() {
        return Some("The policy is On already.".into());
    }
    if !p.registration_ready() {
        return Some(
            "Not every eligible administrator the policy applies to has a method that counts \
             (a): issue them a temporary access pass and have them register one."
                .into(),
        );
    }
    if !p.lint_clean() {
        return Some("The lint reports errors on this policy or its context (b).".into());
    }
    match pilot {
        Some(pilot) if pilot.passed => None,
        Some(_) => Some("The pilot has not passed yet (c).".into()),
        None => Some("Name a pilot administrator and check that the pilot passed (c).".into()),
    }
}

fn card(
    p: &PolicyRollout,
    pilot_user: &str,
    pilot: Option<Pilot>,
    error: Option<String>,
) -> PolicyCard {
    let (registration_error, strength, admins) = match &p.registration {
        Ok(report) => (
            None,
            report.strength_name.clone(),
            report
                .cannot
                .iter()
                .map(|r| admin_row(r, false))
                .chain(report.can.iter().map(|r| admin_row(r, false)))
                .chain(report.break_glass.iter().map(|r| admin_row(r, true)))
                .collect(),
        ),
        Err(why) => (Some(why.clone()), String::new(), Vec::new()),
    };
    PolicyCard {
        id: p.policy_id.clone(),
        name: p.policy_name.clone(),
        state: p.state.clone(),
        on: p.is_on(),
        changed: p.changed_at.map(when).unwrap_or_default(),
        registration_error,
        strength,
        admins,
        registration_ready: p.registration_ready(),
        findings: p
            .findings
            .iter()
            .map(|f| FindingRow {
                severity: severity_name(f.severity),
                text: format!("{}: {} — fix: {}", f.object, f.message, f.fix),
            })
            .collect(),
        lint_clean: p.lint_clean(),
        blocked: blocked(p, pilot.as_ref()),
        pilot_user: pilot_user.to_string(),
        pilot,
        error,
    }
}

/// Which card the page was asked about: its pilot, or the refusal of its switch.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Focus {
    #[serde(default)]
    role: String,
    #[serde(default)]
    policy: String,
    #[serde(default)]
    pilot: String,
    /// A policy just switched on.
    #[serde(default)]
    on: Option<String>,
}

impl Focus {
    fn is(&self, role: &RoleRollout, policy: &PolicyRollout) -> bool {
        role.role_id.eq_ignore_ascii_case(&self.role)
            && policy.policy_id.eq_ignore_ascii_case(&self.policy)
    }
}

async fn build(
    state: &AppState,
    admin: &Admin<ManageRoles>,
    focus: &Focus,
    error: Option<String>,
) -> Result<Vec<RoleCard>, PageError> {
    let roles = rollout::rollout(state, &admin.allowed)
        .await
        .map_err(|e| super::internal("rollout readiness", e))?;
    let mut cards = Vec::new();
    for role in &roles {
        let mut policies = Vec::new();
        for p in &role.policies {
            let focused = focus.is(role, p);
            let pilot_user = if focused { focus.pilot.trim() } else { "" };
            let pilot = if pilot_user.is_empty() {
                None
            } else {
                Some(
                    rollout::pilot(state, &admin.allowed, role, p, pilot_user)
                        .await
                        .map_err(|e| super::internal("the pilot", e))?,
                )
            };
            let mut c = card(p, pilot_user, pilot, None);
            if focused {
                c.error.clone_from(&error);
            }
            policies.push(c);
        }
        let mut policies_cards = policies;
        // The role's own findings are shown with each of its policies.
        for c in &mut policies_cards {
            c.findings.splice(
                0..0,
                role.findings.iter().map(|f| FindingRow {
                    severity: severity_name(f.severity),
                    text: format!("{}: {}", f.role, f.message),
                }),
            );
            if role
                .findings
                .iter()
                .any(|f| f.severity == policy::Severity::Error)
            {
                c.lint_clean = false;
                if c.blocked.is_none() {
                    c.blocked = Some("The lint reports errors on the role's settings (b).".into());
                }
            }
        }
        cards.push(RoleCard {
            id: role.role_id.clone(),
            name: role.role_name.clone(),
            context: role.context.clone(),
            policies: policies_cards,
        });
    }
    Ok(cards)
}

/// `GET /admin/readiness[?role=…&policy=…&pilot=UPN]`.
pub(super) async fn page(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Query(focus): Query<Focus>,
) -> Result<Response, PageError> {
    let admin = match open::<ManageRoles>(&state, jar, session, Section::Readiness, PATH).await? {
        Ok(admin) => admin,
        Err(response) => return Ok(response),
    };
    let roles = build(&state, &admin, &focus, None).await?;
    let may_switch = state
        .core
        .may::<ManageConditionalAccess>(admin.allowed.caller())
        .await?;
    let notice = focus.on.as_ref().map(|_| "The policy is On.".to_string());
    render(
        StatusCode::OK,
        &ReadinessPage {
            frame: admin.frame,
            roles,
            notice,
            reauth: None,
            may_switch,
        },
    )
}

/// The switch's form.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SwitchForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    policy: String,
    #[serde(default)]
    pilot: String,
}

/// `POST /admin/readiness/on`: switches the policy on once (a) to (c) hold, checked again
/// here, through the API's write and its lockout guard.
pub(super) async fn switch_on(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    PageForm(form): PageForm<SwitchForm>,
) -> Result<Response, PageError> {
    let admin = match open::<ManageRoles>(&state, jar, session, Section::Readiness, PATH).await? {
        Ok(admin) => admin,
        Err(response) => return Ok(response),
    };
    let focus = Focus {
        role: form.role.clone(),
        policy: form.policy.clone(),
        pilot: form.pilot.clone(),
        on: None,
    };
    let caller = admin.allowed.caller().clone();
    let refused = |status: StatusCode, why: String, reauth: Option<Reauth>| {
        let state = state.clone();
        let focus = &focus;
        let admin = &admin;
        async move {
            let roles = build(&state, admin, focus, Some(why)).await?;
            let may_switch = state.core.may::<ManageConditionalAccess>(&caller).await?;
            let frame = Frame::of(&state, &caller, Section::Readiness).await?;
            render(
                status,
                &ReadinessPage {
                    frame,
                    roles,
                    notice: None,
                    reauth,
                    may_switch,
                },
            )
        }
    };
    let writer = match state
        .core
        .authorize::<ManageConditionalAccess>(admin.allowed.caller())
        .await
    {
        Ok(w) => w,
        Err(AuthorizeError::Denied(d)) => {
            return refused(StatusCode::FORBIDDEN, d.message, None).await;
        }
        Err(AuthorizeError::Store(e)) => return Err(e.into()),
    };
    let circumstances = super::circumstances(peer, &headers);
    let writer = Admin {
        allowed: writer,
        session: admin.session.clone(),
        frame: Frame::of(&state, admin.allowed.caller(), Section::Readiness).await?,
    };
    for stale in [
        freshness(&state, &admin, &circumstances).await?,
        freshness(&state, &writer, &circumstances).await?,
    ] {
        if let Freshness::Stale { contexts, reason } = stale {
            let reauth = Reauth::new(PATH, &contexts, reason);
            return refused(
                super::forms::STALE,
                "Not switched on: confirm it's you first.".into(),
                Some(reauth),
            )
            .await;
        }
    }
    // (a) to (c), again: the form's word is not taken for them.
    let roles = rollout::rollout(&state, &admin.allowed)
        .await
        .map_err(|e| super::internal("rollout readiness", e))?;
    let found = roles
        .iter()
        .find_map(|r| r.policies.iter().find(|p| focus.is(r, p)).map(|p| (r, p)));
    let Some((role, policy)) = found else {
        return refused(
            StatusCode::NOT_FOUND,
            "No such policy on this role's context.".into(),
            None,
        )
        .await;
    };
    let pilot = if focus.pilot.trim().is_empty() {
        None
    } else {
        Some(
            rollout::pilot(&state, &admin.allowed, role, policy, focus.pilot.trim())
                .await
                .map_err(|e| super::internal("the pilot", e))?,
        )
    };
    let mut why = blocked(policy, pilot.as_ref());
    if why.is_none()
        && role
            .findings
            .iter()
            .any(|f| f.severity == policy::Severity::Error)
    {
        why = Some("The lint reports errors on the role's settings (b).".into());
    }
    if let Some(why) = why {
        return refused(
            StatusCode::CONFLICT,
            format!("Not switched on: {why}"),
            None,
        )
        .await;
    }
    let id = match PolicyId::parse(&policy.policy_id) {
        Ok(id) => id,
        Err(e) => return refused(StatusCode::BAD_REQUEST, e.to_string(), None).await,
    };
    match state
        .core
        .write_conditional_access_policy(
            &writer.allowed,
            PolicyChange::Patch(id, serde_json::json!({ "state": "enabled" })),
            LockoutGuard::Enforce,
        )
        .await
    {
        Ok(_) => {
            let policy: String =
                url::form_urlencoded::byte_serialize(policy.policy_id.as_bytes()).collect();
            Ok(Redirect::to(&format!("{PATH}?on={policy}")).into_response())
        }
        Err(e) if e.code().is_some() => {
            let status = match e {
                PolicyError::Lockout { .. } | PolicyError::ConcurrentChange => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            refused(status, format!("Not switched on: {e}"), None).await
        }
        Err(e) => Err(super::internal("switching a policy on", e)),
    }
}
