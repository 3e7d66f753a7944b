//! The Microsoft Graph–compatible API (`/v1.0/…`): JSON in Graph shapes, Graph error bodies,
//! bearer access tokens from this provider.

pub mod access_passes;
pub mod activation;
pub mod approvals;
pub mod auth;
pub mod body;
pub mod combinations;
pub mod conditional_access;
pub mod contexts;
pub mod eligibility;
pub mod error;
pub mod evaluate;
pub mod groups;
pub mod locations;
pub mod logs;
pub mod methods;
pub mod odata;
pub mod openapi;
pub mod pim_map;
pub mod posture;
pub mod role_assignments;
pub mod roles;
pub mod schedules;
pub mod settings;
pub mod strengths;
pub mod users;

use crate::state::AppState;
use axum::routing::{any, delete, get, post};
use axum::Router;
use std::sync::Arc;

/// Graph's answer to `/v1.0//users` is the users: Microsoft's SDKs send such paths (the Python
/// SDK joins its base URL, which its HTTP client ends with `/`, and `/users`), and Graph
/// accepts them. A request under `/v1.0` has each run of slashes in its path taken as one before
/// it is routed; other paths are left as they are.
pub fn collapse_repeated_slashes<B>(mut request: axum::http::Request<B>) -> axum::http::Request<B> {
    let path = request.uri().path();
    if !path.contains("//") {
        return request;
    }
    let mut collapsed = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && collapsed.ends_with('/')) {
            collapsed.push(c);
        }
    }
    if collapsed != "/v1.0" && !collapsed.starts_with("/v1.0/") {
        return request;
    }
    if let Some(query) = request.uri().query() {
        collapsed = format!("{collapsed}?{query}");
    }
    let mut parts = request.uri().clone().into_parts();
    // The path came from a valid URI and only lost slashes: it parses again.
    if let Ok(path_and_query) = axum::http::uri::PathAndQuery::try_from(collapsed) {
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// The API's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/v1.0/roleManagement/directory/roleDefinitions",
            get(roles::list_definitions),
        )
        .route(
            "/v1.0/roleManagement/directory/roleDefinitions/{id}",
            get(roles::get_definition),
        )
        // Direct role assignments (graph/role_assignments.rs).
        .route(
            "/v1.0/roleManagement/directory/roleAssignments",
            get(role_assignments::list).post(role_assignments::create),
        )
        .route(
            "/v1.0/roleManagement/directory/roleAssignments/{id}",
            get(role_assignments::get).delete(role_assignments::delete),
        )
        .route(
            "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests",
            post(activation::create).get(activation::list),
        )
        .route(
            "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests/{id}",
            get(activation::get),
        )
        .route(
            "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests/{id}/cancel",
            post(activation::cancel),
        )
        // Approvals (graph/approvals.rs); `{id}` is a request id or
        // `filterByCurrentUser(on='approver')`.
        .route(
            "/v1.0/roleManagement/directory/roleAssignmentApprovals/{id}",
            get(approvals::get),
        )
        .route(
            "/v1.0/roleManagement/directory/roleAssignmentApprovals/{id}/steps",
            get(approvals::list_steps),
        )
        .route(
            "/v1.0/roleManagement/directory/roleAssignmentApprovals/{id}/steps/{step_id}",
            get(approvals::get_step).patch(approvals::decide),
        )
        // Conditional Access policies (graph/conditional_access.rs).
        .route(
            "/v1.0/identity/conditionalAccess/policies",
            get(conditional_access::list).post(conditional_access::create),
        )
        .route(
            "/v1.0/identity/conditionalAccess/policies/{id}",
            get(conditional_access::get)
                .patch(conditional_access::update)
                .delete(conditional_access::delete),
        )
        // What-If (graph/evaluate.rs).
        .route(
            "/v1.0/identity/conditionalAccess/evaluate",
            post(evaluate::evaluate),
        )
        // Authentication contexts (graph/contexts.rs).
        .route(
            "/v1.0/identity/conditionalAccess/authenticationContextClassReferences",
            get(contexts::list).post(contexts::create),
        )
        .route(
            "/v1.0/identity/conditionalAccess/authenticationContextClassReferences/{id}",
            get(contexts::get)
                .patch(contexts::upsert)
                .delete(contexts::delete),
        )
        // Groups (graph/groups.rs).
        .route("/v1.0/groups", get(groups::list).post(groups::create))
        .route(
            "/v1.0/groups/{id}",
            get(groups::get)
                .patch(groups::update)
                .delete(groups::delete),
        )
        .route("/v1.0/groups/{id}/members", get(groups::members))
        .route("/v1.0/groups/{id}/members/$ref", post(groups::add_member))
        .route(
            "/v1.0/groups/{id}/members/{member}/$ref",
            delete(groups::remove_member),
        )
        // Users (graph/users.rs).
        .route("/v1.0/users", get(users::list).post(users::create))
        .route(
            "/v1.0/users/{id}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        // Authentication strengths (graph/strengths.rs).
        .route(
            "/v1.0/policies/authenticationStrengthPolicies",
            get(strengths::list).post(strengths::create),
        )
        .route(
            "/v1.0/policies/authenticationStrengthPolicies/{id}",
            get(strengths::get)
                .patch(strengths::update)
                .delete(strengths::delete),
        )
        .route(
            "/v1.0/policies/authenticationStrengthPolicies/{id}/usage",
            get(strengths::usage),
        )
        .route(
            "/v1.0/policies/authenticationStrengthPolicies/{id}/combinationConfigurations",
            get(combinations::list).post(combinations::create),
        )
        .route(
            "/v1.0/policies/authenticationStrengthPolicies/{id}/combinationConfigurations/{configuration_id}",
            get(combinations::get)
                .patch(combinations::update)
                .delete(combinations::delete),
        )
        .route(
            "/v1.0/policies/authenticationStrengthPolicies/{id}/updateAllowedCombinations",
            post(strengths::update_allowed_combinations),
        )
        // Named locations (graph/locations.rs).
        .route(
            "/v1.0/identity/conditionalAccess/namedLocations",
            get(locations::list).post(locations::create),
        )
        .route(
            "/v1.0/identity/conditionalAccess/namedLocations/{id}",
            get(locations::get)
                .patch(locations::update)
                .delete(locations::delete),
        )
        // The sign-in and audit logs (graph/logs.rs).
        .route("/v1.0/auditLogs/signIns", get(logs::sign_ins))
        .route("/v1.0/auditLogs/signIns/{id}", get(logs::sign_in))
        .route(
            "/v1.0/auditLogs/directoryAudits",
            get(logs::directory_audits),
        )
        .route(
            "/v1.0/auditLogs/directoryAudits/{id}",
            get(logs::directory_audit),
        )
        // Authentication methods, all and per kind (graph/methods.rs).
        .route("/v1.0/users/{id}/authentication/methods", get(methods::all))
        .route(
            "/v1.0/users/{id}/authentication/fido2Methods",
            get(methods::fido2_methods),
        )
        .route(
            "/v1.0/users/{id}/authentication/fido2Methods/{method_id}",
            get(methods::fido2_method).delete(methods::delete_fido2_method),
        )
        .route(
            "/v1.0/users/{id}/authentication/windowsHelloForBusinessMethods",
            get(methods::windows_hello_methods),
        )
        .route(
            "/v1.0/users/{id}/authentication/windowsHelloForBusinessMethods/{method_id}",
            get(methods::windows_hello_method).delete(methods::delete_windows_hello_method),
        )
        .route(
            "/v1.0/users/{id}/authentication/softwareOathMethods",
            get(methods::software_oath_methods),
        )
        .route(
            "/v1.0/users/{id}/authentication/softwareOathMethods/{method_id}",
            get(methods::software_oath_method).delete(methods::delete_software_oath_method),
        )
        .route(
            "/v1.0/users/{id}/authentication/phoneMethods",
            get(methods::phone_methods),
        )
        .route(
            "/v1.0/users/{id}/authentication/phoneMethods/{method_id}",
            get(methods::phone_method).delete(methods::delete_phone_method),
        )
        .route(
            "/v1.0/users/{id}/authentication/emailMethods",
            get(methods::email_methods),
        )
        .route(
            "/v1.0/users/{id}/authentication/emailMethods/{method_id}",
            get(methods::email_method).delete(methods::delete_email_method),
        )
        .route(
            "/v1.0/users/{id}/authentication/passwordMethods",
            get(methods::password_methods),
        )
        .route(
            "/v1.0/users/{id}/authentication/passwordMethods/{method_id}",
            get(methods::password_method).delete(methods::delete_password_method),
        )
        // Temporary access passes (graph/access_passes.rs).
        .route(
            "/v1.0/users/{id}/authentication/temporaryAccessPassMethods",
            get(access_passes::list).post(access_passes::issue),
        )
        .route(
            "/v1.0/users/{id}/authentication/temporaryAccessPassMethods/{pass_id}",
            delete(access_passes::delete),
        )
        // Lint and pre-flight (graph/posture.rs), Portcullis extensions.
        .route("/v1.0/portcullis/lint", get(posture::lint))
        .route("/v1.0/portcullis/preflight", get(posture::preflight))
        // Role settings (graph/settings.rs).
        .route(
            "/v1.0/policies/roleManagementPolicies",
            get(settings::list_policies),
        )
        .route(
            "/v1.0/policies/roleManagementPolicies/{id}",
            get(settings::get_policy),
        )
        .route(
            "/v1.0/policies/roleManagementPolicies/{id}/rules",
            get(settings::list_rules),
        )
        .route(
            "/v1.0/policies/roleManagementPolicies/{id}/rules/{rule_id}",
            get(settings::get_rule).patch(settings::patch_rule),
        )
        .route(
            "/v1.0/policies/roleManagementPolicyAssignments",
            get(settings::list_policy_assignments),
        )
        .route(
            "/v1.0/policies/roleManagementPolicyAssignments/{id}",
            get(settings::get_policy_assignment),
        )
        // Schedules and instances (graph/schedules.rs); `{segment}` is an id or
        // `filterByCurrentUser(on='principal')`.
        .route(
            "/v1.0/roleManagement/directory/roleEligibilitySchedules",
            get(schedules::list_eligibility_schedules),
        )
        .route(
            "/v1.0/roleManagement/directory/roleEligibilitySchedules/{segment}",
            get(schedules::eligibility_schedule),
        )
        .route(
            "/v1.0/roleManagement/directory/roleAssignmentSchedules",
            get(schedules::list_assignment_schedules),
        )
        .route(
            "/v1.0/roleManagement/directory/roleAssignmentSchedules/{segment}",
            get(schedules::assignment_schedule),
        )
        .route(
            "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances",
            get(schedules::list_eligibility_instances),
        )
        .route(
            "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances/{segment}",
            get(schedules::eligibility_instance),
        )
        .route(
            "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances",
            get(schedules::list_assignment_instances),
        )
        .route(
            "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances/{segment}",
            get(schedules::assignment_instance),
        )
        // Eligibility requests (graph/eligibility.rs): administrators' actions, holders'
        // extensions and renewals, and their withdrawal.
        .route(
            "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests",
            post(eligibility::create).get(eligibility::list),
        )
        .route(
            "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests/{segment}",
            get(eligibility::item),
        )
        .route(
            "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests/{segment}/cancel",
            post(eligibility::cancel),
        )
        // Below every route above: what no route serves is answered in Graph's error shape,
        // which Graph's clients parse (an empty 404 they cannot).
        .route("/v1.0/{*rest}", any(not_served))
        .layer(axum::middleware::from_fn(method_not_allowed))
}

/// A method that no route of the path takes: `405` in Graph's error shape, which Graph's clients
/// parse (the router's own `405` has no body), keeping its `Allow` header.
async fn method_not_allowed(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse as _;
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut answer = error::GraphError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Request_BadRequest",
        format!("{path} does not take {method}."),
    )
    .into_response();
    if let Some(allow) = allow {
        answer.headers_mut().insert(header::ALLOW, allow);
    }
    answer
}

/// `404 Request_ResourceNotFound` for a path under `/v1.0` that the service does not serve.
async fn not_served(method: axum::http::Method, uri: axum::http::Uri) -> error::GraphError {
    error::GraphError::new(
        axum::http::StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        format!("This service does not serve {method} {}.", uri.path()),
    )
}
