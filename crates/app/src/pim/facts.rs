//! What the services read before they decide: a role's settings, what a principal holds of a
//! role now, the role definitions.

use crate::pim::Refusal;
use crate::Core;
use chrono::{DateTime, Utc};
use pim::validate::{ActiveAssignment, ActiveKind, Window};
use pim::{RoleManagementPolicy, ScheduleKind};
use policy::directory::AssignmentStatus;
use policy::ids::{PrincipalId, RoleId, UserId};
use store::{AssignmentQuery, RoleAssignment, RoleDefinition, StoreError};

/// A role's settings and the version a change must name (0: none stored, the defaults).
#[derive(Debug, Clone)]
pub struct RoleSettings {
    /// The settings.
    pub policy: RoleManagementPolicy,
    /// Their version.
    pub version: u64,
}

impl Core {
    /// The role's settings: stored, or the defaults.
    pub async fn role_settings(&self, role: &str) -> Result<RoleSettings, StoreError> {
        Ok(match self.store.get_role_policy(role).await? {
            Some(stored) => RoleSettings {
                policy: stored.policy,
                version: stored.version,
            },
            None => RoleSettings {
                policy: RoleManagementPolicy::default_for(role, self.now()),
                version: 0,
            },
        })
    }

    /// The role definition `role` names, with its id as defined (the store keys settings and
    /// assignments by that spelling); a `404` refusal if there is none.
    pub async fn role_definition<E>(&self, role: &RoleId) -> Result<RoleDefinition, E>
    where
        E: From<Refusal> + From<StoreError>,
    {
        self.store
            .list_role_definitions()
            .await?
            .into_iter()
            .find(|d| role.is(&d.id))
            .ok_or_else(|| Refusal::not_found("Role definition", role.as_str()).into())
    }
}

/// What the store says about a principal and a role at one instant.
pub(crate) struct Holdings {
    /// The eligible window (direct or through a group); the longest-lasting one.
    pub eligibility: Option<Window>,
    /// The active assignment, with its id.
    pub active: Option<(ActiveAssignment, String)>,
}

/// Whether window `w` lasts longer than `than` (no end lasts longest).
fn lasts_longer(w: &Window, than: Option<&Window>) -> bool {
    match (than.map(|t| t.end), w.end) {
        (None, _) => true,
        (Some(_), None) => true,
        (Some(None), Some(_)) => false,
        (Some(Some(a)), Some(b)) => b > a,
    }
}

/// The principal's eligible window for the role (direct or through a group) and its active
/// assignment, at `now`.
pub(crate) async fn holdings(
    core: &Core,
    user: &UserId,
    role: &str,
    now: DateTime<Utc>,
) -> Result<Holdings, StoreError> {
    let mut principals = vec![user.as_str().to_string()];
    principals.extend(core.store.transitive_groups(user.as_str()).await?);
    let mut eligibility: Option<Window> = None;
    for p in &principals {
        for s in core
            .store
            .list_scheduled_assignments(&AssignmentQuery {
                principal_id: Some(p.clone()),
                role_definition_id: Some(role.to_string()),
                status: Some(AssignmentStatus::Eligible),
                in_force_at: Some(now),
                request_id: None,
            })
            .await?
        {
            let w = Window {
                start: s.assignment.start_at,
                end: s.assignment.end_at,
            };
            // The longest-lasting eligibility counts.
            if lasts_longer(&w, eligibility.as_ref()) {
                eligibility = Some(w);
            }
        }
    }
    // An activation (made by the holder's `selfActivate`) is what the holder may end; an
    // active assignment an administrator made — directly, or by granting the holder's
    // extension or renewal — is not, though it came from a request too. With both, the
    // activation is the one reported.
    let mut active = None;
    for s in core
        .store
        .list_scheduled_assignments(&AssignmentQuery {
            principal_id: Some(user.as_str().to_string()),
            role_definition_id: Some(role.to_string()),
            status: Some(AssignmentStatus::Active),
            in_force_at: Some(now),
            request_id: None,
        })
        .await?
    {
        let activated = is_activation(core, &s).await?;
        if active.is_some() && !activated {
            continue;
        }
        active = Some((
            ActiveAssignment {
                window: Window {
                    start: s.assignment.start_at,
                    end: s.assignment.end_at,
                },
                assignment_type: if activated {
                    ActiveKind::Activated
                } else {
                    ActiveKind::Assigned
                },
            },
            s.assignment.id,
        ));
        if activated {
            break;
        }
    }
    Ok(Holdings {
        eligibility,
        active,
    })
}

/// The principal's schedule of `kind` for the role that has not ended (the longest-lasting
/// one); for a renewal (`ended`), the one that ended last.
pub(crate) async fn existing(
    core: &Core,
    kind: ScheduleKind,
    principal_id: &str,
    role: &str,
    ended: bool,
) -> Result<Option<Window>, StoreError> {
    let now = core.now();
    let mut found: Option<Window> = None;
    for s in core
        .store
        .list_scheduled_assignments(&AssignmentQuery {
            principal_id: Some(principal_id.to_string()),
            role_definition_id: Some(role.to_string()),
            status: Some(status_of(kind)),
            ..AssignmentQuery::default()
        })
        .await?
    {
        let a = &s.assignment;
        let has_ended = s.closed_at.is_some() || a.end_at.is_some_and(|end| end <= now);
        if has_ended != ended {
            continue;
        }
        // An activation is not extended or renewed: its holder activates again, within the
        // eligibility, under the role's activation rules.
        if kind == ScheduleKind::Assignment && is_activation(core, &s).await? {
            continue;
        }
        let w = Window {
            start: a.start_at,
            end: a.end_at,
        };
        if lasts_longer(&w, found.as_ref()) {
            found = Some(w);
        }
    }
    Ok(found)
}

fn status_of(kind: ScheduleKind) -> AssignmentStatus {
    match kind {
        ScheduleKind::Eligibility => AssignmentStatus::Eligible,
        ScheduleKind::Assignment => AssignmentStatus::Active,
    }
}

/// A new schedule of `kind` (an eligible or an active assignment) for `principal` and `role`.
pub fn new_schedule(
    kind: ScheduleKind,
    principal: &str,
    role: &str,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
) -> RoleAssignment {
    RoleAssignment {
        id: store::new_id(),
        principal_id: PrincipalId::trusted(principal),
        role_definition_id: RoleId::trusted(role),
        directory_scope_id: "/".into(),
        status: status_of(kind),
        start_at: start,
        end_at: end,
    }
}

/// Whether an active assignment is an activation: made by the holder's own `selfActivate`
/// (not by an administrator, nor by granting the holder's `selfExtend` or `selfRenew`).
pub(crate) async fn is_activation(
    core: &Core,
    s: &store::ScheduledAssignment,
) -> Result<bool, StoreError> {
    let Some(id) = &s.request_id else {
        return Ok(false);
    };
    match core.store.get_schedule_request(id).await {
        Ok(r) => Ok(r.request.action() == pim::Action::SelfActivate),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}
