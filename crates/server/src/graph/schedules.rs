//! Schedules and their instances: `roleEligibilitySchedules`, `roleAssignmentSchedules`,
//! `roleEligibilityScheduleInstances`, `roleAssignmentScheduleInstances`, each listed whole
//! (active role administrators only), as `filterByCurrentUser(on='principal')` (the caller's
//! own, directly or through groups), or one by id. Which rows, and how each is held, is
//! [`app::pim::schedules`]'s to say; this face renders them in Graph's shape.

use crate::error::ServeError;
use crate::graph::auth::Caller;
use crate::graph::error::GraphError;
use crate::graph::odata::{self, Accepts};
use crate::graph::openapi as doc;
use crate::graph::pim_map::filter_by_current_user;
use crate::state::AppState;
use app::authz::ManageRoles;
use app::pim::schedules::{self, Rows, Shown};
use axum::extract::{Path, RawQuery, State};
use axum::http::Uri;
use axum::Json;
use pim::request::{ExpirationPattern, ExpirationType, RequestSchedule};
use pim::schedule::{RoleSchedule, RoleScheduleInstance};
use pim::Status;
use policy::directory::AssignmentStatus;
use serde_json::Value;
use std::sync::Arc;

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

    /// The rows the collection shows.
    fn rows(self) -> Rows {
        Rows {
            status: self.status(),
            instances: self.is_instance(),
        }
    }
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, ServeError> {
    serde_json::to_value(value).map_err(|e| ServeError::Internal(format!("serializing: {e}")))
}

fn render(collection: Collection, row: &Shown) -> Result<Value, ServeError> {
    let a = &row.scheduled.assignment;
    let assignment_type = collection
        .is_assignment()
        .then(|| row.assignment_type.clone());
    if collection.is_instance() {
        let (eligibility, assignment) = if collection.is_assignment() {
            (None, Some(a.id.clone()))
        } else {
            (Some(a.id.clone()), None)
        };
        return to_value(&RoleScheduleInstance {
            id: a.id.clone(),
            principal_id: row.principal_id.clone(),
            role_definition_id: a.role_definition_id.to_string(),
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
    let created = row.created;
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
        role_definition_id: a.role_definition_id.to_string(),
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

fn render_all(collection: Collection, rows: &[Shown]) -> Result<Vec<Value>, ServeError> {
    rows.iter().map(|row| render(collection, row)).collect()
}

fn accepts(collection: Collection) -> Accepts<'static> {
    Accepts {
        filter: collection.filterable(),
        paging: true,
        select: true,
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
    let admin = caller.authorize::<ManageRoles>(state).await?;
    let rows = schedules::everyone(state, &admin, &collection.rows()).await?;
    let items = render_all(collection, &rows)?;
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
        let rows = schedules::own(state, caller, &collection.rows()).await?;
        let items = render_all(collection, &rows)?;
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
    match schedules::one(state, caller, &collection.rows(), segment).await? {
        Some(row) => Ok(Json(odata::entity(
            render(collection, &row)?,
            format!("{}/$entity", context(state, collection)),
        ))),
        None => Err(GraphError::not_found(collection.what(), segment)),
    }
}

macro_rules! handlers {
    ($($list:ident, $item:ident => $collection:expr, $list_path:literal, $item_path:literal;)+) => {
        $(
            #[doc = concat!("`GET …/", stringify!($list), "`: every one (active role administrators only).")]
            #[utoipa::path(get, path = $list_path, tag = "pim", params(doc::ListOptions),
                responses((status = 200, description = "Every one.", body = doc::Collection<doc::RoleSchedule>)))]
            pub async fn $list(
                State(state): State<Arc<AppState>>,
                caller: Caller,
                uri: Uri,
                RawQuery(query): RawQuery,
            ) -> Result<Json<Value>, GraphError> {
                list(&state, $collection, &caller, &uri, query.as_deref()).await
            }

            #[doc = "`GET …/filterByCurrentUser(on='principal')`, or one by id."]
            #[utoipa::path(get, path = $item_path, tag = "pim",
                params(("segment" = String, Path, description = "An id, or `filterByCurrentUser(on='principal')`."), doc::ListOptions),
                responses((status = 200, description = "The one, or the caller's.", body = doc::OneOrCollection<doc::RoleSchedule>)))]
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
    list_eligibility_schedules, eligibility_schedule => Collection::EligibilitySchedules, "/v1.0/roleManagement/directory/roleEligibilitySchedules", "/v1.0/roleManagement/directory/roleEligibilitySchedules/{segment}";
    list_assignment_schedules, assignment_schedule => Collection::AssignmentSchedules, "/v1.0/roleManagement/directory/roleAssignmentSchedules", "/v1.0/roleManagement/directory/roleAssignmentSchedules/{segment}";
    list_eligibility_instances, eligibility_instance => Collection::EligibilityInstances, "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances", "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances/{segment}";
    list_assignment_instances, assignment_instance => Collection::AssignmentInstances, "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances", "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances/{segment}";
}
