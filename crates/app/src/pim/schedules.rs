//! Reading schedules and their instances: every role assignment row is one schedule (its id is
//! the schedule's id) and, while in force, one instance. Schedules are listed while in force or
//! planned (not ended); instances while in force. In the caller's own view, what the caller
//! holds through a group is shown with the caller as principal and `Group` as member type; in
//! the administrators' view every row is shown as held, `Direct`.

use crate::authz::ManageRoles;
use crate::{Authorized, Caller, Core};
use chrono::{DateTime, Utc};
use pim::schedule::{AssignmentType, MemberType};
use pim::Action;
use policy::directory::AssignmentStatus;
use std::collections::HashMap;
use store::{AssignmentQuery, ScheduledAssignment, StoreError};

/// Which rows: eligible or active assignments, as schedules or as instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rows {
    /// Eligible or active.
    pub status: AssignmentStatus,
    /// Instances (in force now) rather than schedules (not ended).
    pub instances: bool,
}

impl Rows {
    /// Whether a row is listed at `now`: instances while in force, schedules until they end.
    fn lists(&self, s: &ScheduledAssignment, now: DateTime<Utc>) -> bool {
        if self.instances {
            s.assignment.in_force_at(now)
        } else {
            s.closed_at.is_none() && s.assignment.end_at.is_none_or(|end| end > now)
        }
    }
}

/// A row and how it is shown.
#[derive(Debug, Clone)]
pub struct Shown {
    /// The assignment.
    pub scheduled: ScheduledAssignment,
    /// The principal shown (the caller, in their own view).
    pub principal_id: String,
    /// Held directly or through a group.
    pub member_type: MemberType,
    /// When the request behind it was made, if a request made it.
    pub created: Option<DateTime<Utc>>,
    /// Whether it is an activation (made by a self-service request) or an assignment.
    pub assignment_type: AssignmentType,
}

/// Every row of `rows` listed now (the administrators' view).
pub async fn everyone(
    core: &Core,
    _admin: &Authorized<ManageRoles>,
    rows: &Rows,
) -> Result<Vec<Shown>, StoreError> {
    let mut out = Vec::new();
    for s in core
        .store
        .list_scheduled_assignments(&query(rows, None))
        .await?
    {
        out.push((s.assignment.principal_id.to_string(), MemberType::Direct, s));
    }
    shown(core, rows, out).await
}

/// The rows of `rows` the caller holds now, directly or through groups.
pub async fn own(core: &Core, caller: &Caller, rows: &Rows) -> Result<Vec<Shown>, StoreError> {
    let user = caller.user.id.clone();
    let mut principals = vec![user.clone()];
    principals.extend(core.store.transitive_groups(&user).await?);
    let mut out = Vec::new();
    for principal in principals {
        let member_type = if principal == user {
            MemberType::Direct
        } else {
            MemberType::Group
        };
        for s in core
            .store
            .list_scheduled_assignments(&query(rows, Some(principal)))
            .await?
        {
            out.push((user.clone(), member_type.clone(), s));
        }
    }
    shown(core, rows, out).await
}

/// One row by id: any, for a caller who may administer roles; the caller's own otherwise.
pub async fn one(
    core: &Core,
    caller: &Caller,
    rows: &Rows,
    id: &str,
) -> Result<Option<Shown>, StoreError> {
    let all = match core.authorize::<ManageRoles>(caller).await {
        Ok(admin) => everyone(core, &admin, rows).await?,
        Err(crate::authz::AuthorizeError::Store(e)) => return Err(e),
        Err(crate::authz::AuthorizeError::Denied(_)) => own(core, caller, rows).await?,
    };
    Ok(all
        .into_iter()
        .find(|r| r.scheduled.assignment.id.eq_ignore_ascii_case(id)))
}

fn query(rows: &Rows, principal: Option<String>) -> AssignmentQuery {
    AssignmentQuery {
        principal_id: principal,
        status: Some(rows.status.clone()),
        ..AssignmentQuery::default()
    }
}

/// The rows listed now, with what the requests behind them say (read once per request).
async fn shown(
    core: &Core,
    rows: &Rows,
    found: Vec<(String, MemberType, ScheduledAssignment)>,
) -> Result<Vec<Shown>, StoreError> {
    let now = core.now();
    let mut requests: HashMap<String, Option<(DateTime<Utc>, Action)>> = HashMap::new();
    let mut out = Vec::new();
    for (principal_id, member_type, scheduled) in found {
        if !rows.lists(&scheduled, now) {
            continue;
        }
        let request = match &scheduled.request_id {
            Some(id) => {
                if !requests.contains_key(id) {
                    let found = match core.store.get_schedule_request(id).await {
                        Ok(r) => r
                            .request
                            .created_date_time
                            .map(|created| (created, r.request.action())),
                        Err(e) if e.is_not_found() => None,
                        Err(e) => return Err(e),
                    };
                    requests.insert(id.clone(), found);
                }
                requests.get(id).cloned().flatten()
            }
            None => None,
        };
        let activated = request.as_ref().is_some_and(|(_, action)| action.is_self());
        out.push(Shown {
            scheduled,
            principal_id,
            member_type,
            created: request.map(|(created, _)| created),
            assignment_type: if activated {
                AssignmentType::Activated
            } else {
                AssignmentType::Assigned
            },
        });
    }
    Ok(out)
}
