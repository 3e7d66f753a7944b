//! What a caller may activate and holds now, as the portal's *My roles* shows it: each eligible
//! role with the end of its eligibility, whether it is active now, and what its activation
//! requires (read from the role's settings as the activation rules apply them) — including,
//! when that is an authentication context, whether the caller has registered a method that
//! counts for it ([`crate::pim::readiness`]) — and which of the caller's schedules may be
//! extended or renewed ([`Extendable`]).

use crate::pim::readiness::{self, ContextReadiness};
use crate::pim::schedules::{self, Rows, Shown};
use crate::posture::PostureError;
use crate::{Caller, Core};
use chrono::{DateTime, TimeDelta, Utc};
use pim::schedule::{AssignmentType, MemberType};
use pim::validate::{EXTENSION_WINDOW, RENEWAL_WINDOW};
use pim::{
    Action, ActivationRequirements, RoleManagementPolicy, Rule, RuleId, RuleViolation,
    ScheduleKind, Status,
};
use policy::directory::AssignmentStatus;
use policy::ids::RoleId;
use std::collections::BTreeMap;
use store::{
    AssignmentQuery, RoleDefinition, ScheduleRequestQuery, ScheduleRequestRecord, StoreError,
};

/// Why *My roles* could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MyRolesError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The Conditional Access configuration or a user's methods could not be read.
    #[error(transparent)]
    Posture(#[from] PostureError),
}

/// The caller's roles.
#[derive(Debug, Clone, Default)]
pub struct MyRoles {
    /// Roles the caller is eligible for now (directly or through a group), by name.
    pub eligible: Vec<EligibleRole>,
    /// Active assignments in force now, by name: activations and administrators' assignments.
    pub active: Vec<ActiveRole>,
    /// The caller's activation requests that wait for their step-up, newest first.
    pub waiting_for_step_up: Vec<WaitingRequest>,
    /// The caller's own schedules (eligibilities, administrators' active assignments) that
    /// end soon enough to ask for an extension or ended recently enough to ask for a renewal,
    /// by role name.
    pub extendable: Vec<Extendable>,
}

/// A schedule the caller holds directly (an eligibility, or an active assignment an
/// administrator made; never an activation, which is activated again instead) and may ask an
/// administrator to extend (`selfExtend`: it ends within [`EXTENSION_WINDOW`]) or renew
/// (`selfRenew`: it ended within [`RENEWAL_WINDOW`] and nothing of its kind replaced it).
#[derive(Debug, Clone)]
pub struct Extendable {
    /// The role.
    pub role: RoleDefinition,
    /// Eligible or active.
    pub kind: ScheduleKind,
    /// `SelfExtend` or `SelfRenew`.
    pub action: Action,
    /// When it ends, or ended.
    pub end: DateTime<Utc>,
    /// The longest schedule of its kind the role's settings let an administrator grant
    /// (`Expiration_Admin_*`); `None` when they set none, or when it cannot be read (the
    /// request is then refused with the reason).
    pub maximum: Option<TimeDelta>,
    /// The caller's request for it that already waits for an administrator, if any.
    pub waiting: Option<ScheduleRequestRecord>,
}

/// A role the caller may activate.
#[derive(Debug, Clone)]
pub struct EligibleRole {
    /// The role.
    pub role: RoleDefinition,
    /// When the eligibility ends; `None` when it does not.
    pub eligible_until: Option<DateTime<Utc>>,
    /// Whether the caller is eligible only through a group.
    pub through_group: bool,
    /// The end of the caller's active assignment of the role, when there is one now (`Some(None)`
    /// for one without an end).
    pub active_until: Option<Option<DateTime<Utc>>>,
    /// What activating it requires, or why its settings make every activation fail.
    pub requirements: Result<Requirements, Vec<RuleViolation>>,
}

/// What activating a role requires, with what the caller can do about a context.
#[derive(Debug, Clone)]
pub struct Requirements {
    /// The settings' demands (justification, ticket, maximum duration, context, approval).
    pub settings: ActivationRequirements,
    /// For a required context: what its policies ask of the caller.
    pub context: Option<ContextReadiness>,
}

impl Requirements {
    /// Whether the caller can activate with what they have registered: no context, or one whose
    /// strengths their methods satisfy.
    pub fn can_step_up(&self) -> bool {
        self.context
            .as_ref()
            .is_none_or(ContextReadiness::can_satisfy)
    }
}

/// An active assignment of the caller's.
#[derive(Debug, Clone)]
pub struct ActiveRole {
    /// The role.
    pub role: RoleDefinition,
    /// When it ends; `None` when it does not.
    pub until: Option<DateTime<Utc>>,
    /// Since when.
    pub since: DateTime<Utc>,
    /// Activated by the caller, or assigned by an administrator.
    pub activated: bool,
    /// Held through a group.
    pub through_group: bool,
}

/// An activation request of the caller's that waits for its step-up.
#[derive(Debug, Clone)]
pub struct WaitingRequest {
    /// The request.
    pub record: ScheduleRequestRecord,
    /// Its role.
    pub role: RoleDefinition,
}

/// The caller's roles now.
pub async fn my_roles(core: &Core, caller: &Caller) -> Result<MyRoles, MyRolesError> {
    let definitions = core.store.list_role_definitions().await?;
    let definition = |id: &str| {
        let wanted = RoleId::trusted(id);
        definitions
            .iter()
            .find(|d| wanted.is(&d.id))
            .cloned()
            .unwrap_or_else(|| RoleDefinition {
                id: id.to_string(),
                display_name: id.to_string(),
                description: String::new(),
                is_built_in: false,
            })
    };
    let rows = |status| Rows {
        status,
        instances: true,
    };
    let eligible_rows = schedules::own(core, caller, &rows(AssignmentStatus::Eligible)).await?;
    let active_rows = schedules::own(core, caller, &rows(AssignmentStatus::Active)).await?;

    let active: Vec<ActiveRole> = active_rows
        .iter()
        .map(|s| ActiveRole {
            role: definition(s.scheduled.assignment.role_definition_id.as_str()),
            until: s.scheduled.assignment.end_at,
            since: s.scheduled.assignment.start_at,
            activated: s.assignment_type == AssignmentType::Activated,
            through_group: s.member_type == MemberType::Group,
        })
        .collect();

    let mut eligible: Vec<EligibleRole> = Vec::new();
    for row in &eligible_rows {
        let role = row.scheduled.assignment.role_definition_id.as_str();
        if let Some(known) = eligible
            .iter_mut()
            .find(|e| RoleId::trusted(role).is(&e.role.id))
        {
            merge(known, row);
            continue;
        }
        let active_until = active_rows
            .iter()
            .find(|a| RoleId::trusted(role) == a.scheduled.assignment.role_definition_id)
            .map(|a| a.scheduled.assignment.end_at);
        eligible.push(EligibleRole {
            role: definition(role),
            eligible_until: row.scheduled.assignment.end_at,
            through_group: row.member_type == MemberType::Group,
            active_until,
            requirements: requirements(core, caller, role).await?,
        });
    }
    eligible.sort_by(|a, b| a.role.display_name.cmp(&b.role.display_name));

    let waiting = core
        .store
        .list_schedule_requests(&ScheduleRequestQuery {
            kind: Some(ScheduleKind::Assignment),
            principal_id: Some(caller.user.id.clone()),
            status: Some(Status::PendingStepUp),
            limit: 50,
            ..ScheduleRequestQuery::default()
        })
        .await?
        .into_iter()
        .map(|record| WaitingRequest {
            role: definition(&record.request.role_definition_id),
            record,
        })
        .collect();
    let extendable = extendable(core, caller, &definition).await?;
    Ok(MyRoles {
        eligible,
        active,
        waiting_for_step_up: waiting,
        extendable,
    })
}

/// The caller's schedules that may be extended or renewed now (see [`Extendable`]), by role
/// name, eligibilities first.
async fn extendable(
    core: &Core,
    caller: &Caller,
    definition: &impl Fn(&str) -> RoleDefinition,
) -> Result<Vec<Extendable>, MyRolesError> {
    let now = core.now();
    let mut out = Vec::new();
    for kind in [ScheduleKind::Eligibility, ScheduleKind::Assignment] {
        let status = match kind {
            ScheduleKind::Eligibility => AssignmentStatus::Eligible,
            ScheduleKind::Assignment => AssignmentStatus::Active,
        };
        // Per role (as the store spells it): the schedule not yet ended that lasts longest,
        // and the one that ended last — what `selfExtend` and `selfRenew` act on.
        let mut by_role: BTreeMap<String, Ends> = BTreeMap::new();
        for s in core
            .store
            .list_scheduled_assignments(&AssignmentQuery {
                principal_id: Some(caller.user.id.clone()),
                status: Some(status),
                ..AssignmentQuery::default()
            })
            .await?
        {
            if kind == ScheduleKind::Assignment && super::facts::is_activation(core, &s).await? {
                continue;
            }
            let a = &s.assignment;
            let slot = by_role
                .entry(a.role_definition_id.as_str().to_ascii_lowercase())
                .or_default();
            let ended = s.closed_at.is_some() || a.end_at.is_some_and(|end| end <= now);
            match (ended, a.end_at) {
                (false, end) => {
                    slot.live = Some(match slot.live {
                        None => end,
                        Some(known) => known.zip(end).map(|(x, y)| x.max(y)),
                    });
                }
                (true, end) => {
                    let end = end.or(s.closed_at).unwrap_or(now);
                    slot.ended = Some(slot.ended.map_or(end, |known| known.max(end)));
                }
            }
        }
        for (role, ends) in by_role {
            let (action, end) = match (ends.live, ends.ended) {
                (Some(Some(end)), _) if end - EXTENSION_WINDOW <= now => (Action::SelfExtend, end),
                (None, Some(end)) if now - end <= RENEWAL_WINDOW => (Action::SelfRenew, end),
                _ => continue,
            };
            let role = definition(&role);
            let waiting = core
                .store
                .list_schedule_requests(&ScheduleRequestQuery {
                    kind: Some(kind),
                    principal_id: Some(caller.user.id.clone()),
                    role_definition_id: Some(role.id.clone()),
                    status: Some(Status::PendingAdminDecision),
                    limit: 1,
                    ..ScheduleRequestQuery::default()
                })
                .await?
                .into_iter()
                .next();
            let policy = core.role_settings(&role.id).await?.policy;
            out.push(Extendable {
                maximum: admin_maximum(&policy, kind),
                role,
                kind,
                action,
                end,
                waiting,
            });
        }
    }
    out.sort_by(|a, b| {
        (a.kind == ScheduleKind::Assignment, &a.role.display_name)
            .cmp(&(b.kind == ScheduleKind::Assignment, &b.role.display_name))
    });
    Ok(out)
}

/// The ends of a principal's schedules of one kind for one role.
#[derive(Default)]
struct Ends {
    /// Of the one not yet ended that lasts longest (`Some(None)`: one without an end).
    live: Option<Option<DateTime<Utc>>>,
    /// Of the one that ended last.
    ended: Option<DateTime<Utc>>,
}

/// The maximum duration of `Expiration_Admin_Eligibility` or `Expiration_Admin_Assignment`.
fn admin_maximum(policy: &RoleManagementPolicy, kind: ScheduleKind) -> Option<TimeDelta> {
    let id = match kind {
        ScheduleKind::Eligibility => RuleId::ExpirationAdminEligibility,
        ScheduleKind::Assignment => RuleId::ExpirationAdminAssignment,
    };
    match policy.rule(&id) {
        Some(Rule::Expiration(r)) => r.maximum().and_then(Result::ok),
        _ => None,
    }
}

/// Another eligibility for the same role: the longest-lasting one counts, and a direct one
/// makes the role the caller's directly.
fn merge(known: &mut EligibleRole, row: &Shown) {
    let end = row.scheduled.assignment.end_at;
    known.eligible_until = match (known.eligible_until, end) {
        (None, _) | (_, None) => None,
        (Some(a), Some(b)) => Some(a.max(b)),
    };
    known.through_group &= row.member_type == MemberType::Group;
}

/// What activating `role` requires of `caller`, read from its settings now.
async fn requirements(
    core: &Core,
    caller: &Caller,
    role: &str,
) -> Result<Result<Requirements, Vec<RuleViolation>>, MyRolesError> {
    let policy = core.role_settings(role).await?.policy;
    let settings = match pim::activation_requirements(&policy) {
        Ok(settings) => settings,
        Err(violations) => return Ok(Err(violations)),
    };
    let context = match &settings.context {
        Some(context) => {
            Some(readiness::for_caller(core, caller, role, &context.to_string()).await?)
        }
        None => None,
    };
    Ok(Ok(Requirements { settings, context }))
}
