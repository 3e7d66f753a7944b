//! Schedules and their instances: `roleEligibilitySchedules`, `roleAssignmentSchedules`,
//! `roleEligibilityScheduleInstances`, `roleAssignmentScheduleInstances`, each listed whole
//! (active role administrators only), as `filterByCurrentUser(on='principal')` (the caller's
//! own, directly or through groups), or one by id.
//!
//! Each role assignment row is one schedule (its id is the schedule's id) and, while in force,
//! one instance. Schedules are listed while in force or planned (not ended); instances while in
//! force. In the caller's own view, what the caller holds through a group is shown with the
//! caller as `principalId` and `memberType: Group` (what a client activates is the caller's);
//! in the administrators' view every row is shown as held, `memberType: Direct`.

use crate::error::ServeError;
use crate::graph::auth::Caller;
use crate::graph::error::GraphError;
use crate::graph::odata::{self, Accepts, Options};
use crate::graph::pim_map::filter_by_current_user;
use crate::state::AppState;
use app::authz::ManageRoles;
use axum::extract::{Path, RawQuery, State};
use axum::http::Uri;
use axum::Json;
use chrono::{DateTime, Utc};
use pim::request::{ExpirationPattern, ExpirationType, RequestSchedule};
use pim::schedule::{AssignmentType, MemberType, RoleSchedule, RoleScheduleInstance};
use pim::{Action, Status};
use policy::directory::AssignmentStatus;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use store::{AssignmentQuery, ScheduledAssignment};

/// One of the four collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// `roleEligibilitySchedules`.
    EligibilitySchedules,
    /// `roleAssignmentSchedules`.
    AssignmentSchedules,
    /// `roleEligibilityScheduleInstances`.
    EligibilityInstances,
    /// `roleAssignmentScheduleInstances`.
    AssignmentInstances,
}

impl Collection {
    fn name(self) -> &'static str {
        match self {
            Collection::EligibilitySchedules => "roleEligibilitySchedules",
            Collection::AssignmentSchedules => "roleAssignmentSchedules",
            Collection::EligibilityInstances => "roleEligibilityScheduleInstances",
            Collection::AssignmentInstances => "roleAssignmentScheduleInstances",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Collection::EligibilitySchedules => "Role eligibility schedule",
            Collection::AssignmentSchedules => "Role assignment schedule",
            Collection::EligibilityInstances => "Role eligibility schedule instance",
            Collection::AssignmentInstances => "Role assignment schedule instance",
        }
    }

    fn status(self) -> AssignmentStatus {
        match self {
            Collection::EligibilitySchedules | Collection::EligibilityInstances => {
                AssignmentStatus::Eligible
            }
            _ => AssignmentStatus::Active,
        }
    }

    fn is_instance(self) -> bool {
        matches!(
            self,
            Collection::EligibilityInstances | Collection::AssignmentInstances
        )
    }

    fn is_assignment(self) -> bool {
        self.status() == AssignmentStatus::Active
    }

    /// The properties `$filter` may name.
    fn filterable(self) -> &'static [&'static str] {
        match self {
            Collection::EligibilitySchedules => &[
                "id",
                "principalId",
                "roleDefinitionId",
                "directoryScopeId",
                "memberType",
                "status",
                "createdUsing",
            ],
            Collection::AssignmentSchedules => &[
                "id",
                "principalId",
                "roleDefinitionId",
                "directoryScopeId",
                "memberType",
                "status",
                "createdUsing",
                "assignmentType",
            ],
            Collection::EligibilityInstances => &[
                "id",
                "principalId",
                "roleDefinitionId",
                "directoryScopeId",
                "memberType",
                "roleEligibilityScheduleId",
            ],
            Collection::AssignmentInstances => &[
                "id",
                "principalId",
                "roleDefinitionId",
                "directoryScopeId",
                "memberType",
                "assignmentType",
                "roleAssignmentScheduleId",
                "roleAssignmentOriginId",
            ],
        }
    }

    /// Whether a row is listed at `now`: instances while in force, schedules until they end.
    fn lists(self, s: &ScheduledAssignment, now: DateTime<Utc>) -> bool {
        if self.is_instance() {
            s.assignment.in_force_at(now)
        } else {
            s.closed_at.is_none() && s.assignment.end_at.is_none_or(|end| end > now)
        }
    }
}

/// A row and how it is shown.
struct Shown {
    scheduled: ScheduledAssignment,
    principal_id: String,
    member_type: MemberType,
}

/// The rows of `collection` listed now: everyone's, or those the caller holds (directly or
/// through groups).
async fn rows(
    state: &AppState,
    collection: Collection,
    own: Option<&Caller>,
) -> Result<Vec<Shown>, GraphError> {
    let now = state.now();
    let query = |principal: Option<String>| AssignmentQuery {
        principal_id: principal,
        status: Some(collection.status()),
        ..AssignmentQuery::default()
    };
    let mut out = Vec::new();
    match own {
        None => {
            for s in state.store.list_scheduled_assignments(&query(None)).await? {
                out.push(Shown {
                    principal_id: s.assignment.principal_id.clone(),
                    member_type: MemberType::Direct,
                    scheduled: s,
                });
            }
        }
        Some(caller) => {
            let user = caller.user.id.clone();
            let mut principals = vec![user.clone()];
            principals.extend(state.store.transitive_groups(&user).await?);
            for principal in principals {
                let member_type = if principal == user {
                    MemberType::Direct
                } else {
                    MemberType::Group
                };
                for s in state
                    .store
                    .list_scheduled_assignments(&query(Some(principal)))
                    .await?
                {
                    out.push(Shown {
                        principal_id: user.clone(),
                        member_type: member_type.clone(),
                        scheduled: s,
                    });
                }
            }
        }
    }
    out.retain(|s| collection.lists(&s.scheduled, now));
    Ok(out)
}

/// What is known of the requests behind rows: creation time and action.
type Requests = HashMap<String, Option<(DateTime<Utc>, Action)>>;

async fn requests_of(state: &AppState, rows: &[Shown]) -> Result<Requests, GraphError> {
    let mut known = Requests::new();
    for id in rows.iter().filter_map(|r| r.scheduled.request_id.as_ref()) {
        if known.contains_key(id) {
            continue;
        }
        let found = match state.store.get_schedule_request(id).await {
            Ok(r) => r
                .request
                .created_date_time
                .map(|created| (created, r.request.action())),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        known.insert(id.clone(), found);
    }
    Ok(known)
}

fn assignment_type(row: &Shown, requests: &Requests) -> AssignmentType {
    let activated = row
        .scheduled
        .request_id
        .as_ref()
        .and_then(|id| requests.get(id))
        .and_then(Option::as_ref)
        .is_some_and(|(_, action)| action.is_self());
    if activated {
        AssignmentType::Activated
    } else {
        AssignmentType::Assigned
    }
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, ServeError> {
    serde_json::to_value(value).map_err(|e| ServeError::Internal(format!("serializing: {e}")))
}

fn render(collection: Collection, row: &Shown, requests: &Requests) -> Result<Value, ServeError> {
    let a = &row.scheduled.assignment;
    let assignment_type = collection
        .is_assignment()
        .then(|| assignment_type(row, requests));
    if collection.is_instance() {
        let (eligibility, assignment) = if collection.is_assignment() {
            (None, Some(a.id.clone()))
        } else {
            (Some(a.id.clone()), None)
        };
        return to_value(&RoleScheduleInstance {
            id: a.id.clone(),
            principal_id: row.principal_id.clone(),
            role_definition_id: a.role_definition_id.clone(),
            directory_scope_id: Some(a.directory_scope_id.clone()),
            app_scope_id: None,
            start_date_time: Some(a.start_at),
            end_date_time: a.end_at,
            assignment_type,
            member_type: Some(row.member_type.clone()),
            role_assignment_origin_id: assignment.clone(),
            role_assignment_schedule_id: assignment,
            role_eligibility_schedule_id: eligibility,
            extra: Default::default(),
        });
    }
    let created = row
        .scheduled
        .request_id
        .as_ref()
        .and_then(|id| requests.get(id))
        .and_then(Option::as_ref)
        .map(|(created, _)| *created);
    let expiration = match a.end_at {
        Some(end) => ExpirationPattern {
            kind: Some(ExpirationType::AfterDateTime),
            end_date_time: Some(end),
            ..ExpirationPattern::default()
        },
        None => ExpirationPattern {
            kind: Some(ExpirationType::NoExpiration),
            ..ExpirationPattern::default()
        },
    };
    to_value(&RoleSchedule {
        id: a.id.clone(),
        principal_id: row.principal_id.clone(),
        role_definition_id: a.role_definition_id.clone(),
        directory_scope_id: Some(a.directory_scope_id.clone()),
        app_scope_id: None,
        created_using: row.scheduled.request_id.clone(),
        created_date_time: created,
        modified_date_time: None,
        status: Some(Status::Provisioned),
        schedule_info: Some(RequestSchedule {
            start_date_time: Some(a.start_at),
            expiration: Some(expiration),
            ..RequestSchedule::default()
        }),
        assignment_type,
        member_type: Some(row.member_type.clone()),
        extra: Default::default(),
    })
}

async fn render_all(
    state: &AppState,
    collection: Collection,
    rows: &[Shown],
    options: &Options,
) -> Result<Vec<Value>, GraphError> {
    let requests = requests_of(state, rows).await?;
    let mut items = Vec::new();
    for row in rows {
        let item = render(collection, row, &requests)?;
        if options.keeps(&item) {
            items.push(item);
        }
    }
    Ok(items)
}

fn accepts(collection: Collection) -> Accepts<'static> {
    Accepts {
        filter: collection.filterable(),
        paging: true,
        expand: &[],
    }
}

fn context(state: &AppState, collection: Collection) -> String {
    format!(
        "{}/v1.0/$metadata#roleManagement/directory/{}",
        state.issuer,
        collection.name()
    )
}

async fn list(
    state: &AppState,
    collection: Collection,
    caller: &Caller,
    uri: &Uri,
    query: Option<&str>,
) -> Result<Json<Value>, GraphError> {
    let options = odata::parse(query, &accepts(collection))?;
    caller.authorize::<ManageRoles>(state).await?;
    let rows = rows(state, collection, None).await?;
    let items = render_all(state, collection, &rows, &options).await?;
    Ok(Json(odata::collection(
        context(state, collection),
        items,
        &options,
        &state.issuer,
        uri.path(),
    )))
}

async fn item(
    state: &AppState,
    collection: Collection,
    caller: &Caller,
    uri: &Uri,
    segment: &str,
    query: Option<&str>,
) -> Result<Json<Value>, GraphError> {
    if let Some(valid) = filter_by_current_user(segment) {
        valid?;
        let options = odata::parse(query, &accepts(collection))?;
        let rows = rows(state, collection, Some(caller)).await?;
        let items = render_all(state, collection, &rows, &options).await?;
        return Ok(Json(odata::collection(
            context(state, collection),
            items,
            &options,
            &state.issuer,
            uri.path(),
        )));
    }
    odata::parse(query, &Accepts::default())?;
    // Administrators see any; others their own (directly or through a group).
    let own = if state.may::<ManageRoles>(caller).await? {
        None
    } else {
        Some(caller)
    };
    let rows: Vec<Shown> = rows(state, collection, own)
        .await?
        .into_iter()
        .filter(|r| r.scheduled.assignment.id.eq_ignore_ascii_case(segment))
        .take(1)
        .collect();
    let requests = requests_of(state, &rows).await?;
    match rows.first() {
        Some(row) => Ok(Json(odata::entity(
            render(collection, row, &requests)?,
            format!("{}/$entity", context(state, collection)),
        ))),
        None => Err(GraphError::not_found(collection.what(), segment)),
    }
}

macro_rules! handlers {
    ($($list:ident, $item:ident => $collection:expr;)+) => {
        $(
            #[doc = concat!("`GET …/", stringify!($list), "`: every one (active role administrators only).")]
            pub async fn $list(
                State(state): State<Arc<AppState>>,
                caller: Caller,
                uri: Uri,
                RawQuery(query): RawQuery,
            ) -> Result<Json<Value>, GraphError> {
                list(&state, $collection, &caller, &uri, query.as_deref()).await
            }

            #[doc = "`GET …/filterByCurrentUser(on='principal')`, or one by id."]
            pub async fn $item(
                State(state): State<Arc<AppState>>,
                caller: Caller,
                uri: Uri,
                Path(segment): Path<String>,
                RawQuery(query): RawQuery,
            ) -> Result<Json<Value>, GraphError> {
                item(&state, $collection, &caller, &uri, &segment, query.as_deref()).await
            }
        )+
    };
}

handlers! {
    list_eligibility_schedules, eligibility_schedule => Collection::EligibilitySchedules;
    list_assignment_schedules, assignment_schedule => Collection::AssignmentSchedules;
    list_eligibility_instances, eligibility_instance => Collection::EligibilityInstances;
    list_assignment_instances, assignment_instance => Collection::AssignmentInstances;
}
