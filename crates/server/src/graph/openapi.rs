//! The OpenAPI 3.1 document of the Graph API, served at `GET /openapi.json` (no token needed).
//!
//! It is generated from the code: each handler of [`super::routes`] carries a `#[utoipa::path]`
//! annotation (method, path, parameters, body, success answers), and [`ApiDoc`] lists them.
//! What every operation shares — the bearer scheme, the Graph error body for `4XX` answers — is
//! added once by [`Conventions`]. The handlers answer `serde_json::Value` built in Graph's
//! shapes, so the schemas below describe those shapes (main fields typed; Graph resources may
//! carry more properties) rather than serialize anything. A test in this module checks that the
//! document and the router table in `graph/mod.rs` name the same routes.

use super::{
    access_passes, activation, approvals, combinations, conditional_access, contexts, eligibility,
    evaluate, groups, locations, logs, methods, posture, role_assignments, roles, schedules,
    settings, strengths, users,
};
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::Value;
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

/// The document's assembly: every operation of the API, by its handler.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portcullis Graph API",
        description = "Microsoft Graph v1.0–compatible administration of Portcullis: users, \
                       groups, PIM roles and requests, role settings, Conditional Access, \
                       authentication contexts and strengths, named locations, logs, What-If. \
                       Every operation takes a bearer access token issued by this provider; \
                       errors are Graph error bodies."
    ),
    paths(
        roles::list_definitions,
        roles::get_definition,
        activation::create,
        activation::list,
        activation::get,
        activation::cancel,
        approvals::get,
        approvals::list_steps,
        approvals::get_step,
        approvals::decide,
        conditional_access::list,
        conditional_access::create,
        conditional_access::get,
        conditional_access::update,
        conditional_access::delete,
        evaluate::evaluate,
        contexts::list,
        contexts::create,
        contexts::get,
        contexts::upsert,
        contexts::delete,
        groups::list,
        groups::create,
        groups::get,
        groups::update,
        groups::delete,
        groups::members,
        groups::add_member,
        groups::remove_member,
        users::list,
        users::create,
        users::get,
        users::update,
        users::delete,
        methods::all,
        methods::fido2_methods,
        methods::fido2_method,
        methods::delete_fido2_method,
        methods::windows_hello_methods,
        methods::windows_hello_method,
        methods::delete_windows_hello_method,
        methods::software_oath_methods,
        methods::software_oath_method,
        methods::delete_software_oath_method,
        methods::phone_methods,
        methods::phone_method,
        methods::delete_phone_method,
        methods::email_methods,
        methods::email_method,
        methods::delete_email_method,
        methods::password_methods,
        methods::password_method,
        methods::delete_password_method,
        role_assignments::list,
        role_assignments::create,
        role_assignments::get,
        role_assignments::delete,
        strengths::list,
        strengths::create,
        strengths::get,
        strengths::update,
        strengths::delete,
        strengths::usage,
        strengths::update_allowed_combinations,
        combinations::list,
        combinations::create,
        combinations::get,
        combinations::update,
        combinations::delete,
        locations::list,
        locations::create,
        locations::get,
        locations::update,
        locations::delete,
        logs::sign_ins,
        logs::sign_in,
        logs::directory_audits,
        logs::directory_audit,
        access_passes::list,
        access_passes::issue,
        access_passes::delete,
        posture::lint,
        posture::preflight,
        settings::list_policies,
        settings::get_policy,
        settings::list_rules,
        settings::get_rule,
        settings::patch_rule,
        settings::list_policy_assignments,
        settings::get_policy_assignment,
        schedules::list_eligibility_schedules,
        schedules::eligibility_schedule,
        schedules::list_assignment_schedules,
        schedules::assignment_schedule,
        schedules::list_eligibility_instances,
        schedules::eligibility_instance,
        schedules::list_assignment_instances,
        schedules::assignment_instance,
        eligibility::create,
        eligibility::list,
        eligibility::item,
        eligibility::cancel,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Conventions),
)]
pub struct ApiDoc;

/// The name of the bearer security scheme in the document.
const BEARER: &str = "bearer";

/// What every operation shares: the bearer scheme (required everywhere) and Graph error bodies
/// for `4XX` answers (a bad token, a missing role, a bad query or body, a missing resource).
pub struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.info.version = env!("CARGO_PKG_VERSION").to_string();
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token of this provider (ES256, `typ: at+jwt`), from the \
                         authorization code flow at /authorize and /token.",
                    ))
                    .build(),
            ),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            BEARER,
            Vec::<String>::new(),
        )]);
        let error = ResponseBuilder::new()
            .description(
                "A Graph error: 400 bad query or body, 401 no valid token, 403 a role is \
                 missing, 404 no such resource, 409 a conflict (e.g. the lockout guard).",
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "ErrorBody",
                    ))))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                operation
                    .responses
                    .responses
                    .entry("4XX".to_string())
                    .or_insert_with(|| RefOr::T(error.clone()));
            }
        }
    }
}

/// The document, generated once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null))
}

/// `GET /openapi.json`: the document (public: it describes the API, not the tenant).
pub async fn serve() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        axum::Json(document()),
    )
}

// ---- Query options --------------------------------------------------------------------------

/// The OData options of a paged, filterable collection (`odata::list_options`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOptions {
    /// `eq` terms joined by `and` on the collection's filterable properties, e.g.
    /// `displayName eq 'Sales'`.
    #[param(rename = "$filter")]
    pub filter: Option<String>,
    /// The page size, 1 to 999.
    #[param(rename = "$top", minimum = 1, maximum = 999)]
    pub top: Option<u32>,
    /// Whether to answer `@odata.count`, the number of matching items.
    #[param(rename = "$count")]
    pub count: Option<bool>,
    /// The position of a page, as `@odata.nextLink` gives it.
    #[param(rename = "$skiptoken")]
    pub skiptoken: Option<String>,
}

/// `?force=true`: apply a change that the lockout guard would refuse (audited as forced).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Force {
    /// Force past the lockout guard.
    pub force: Option<bool>,
}

// ---- Shapes ---------------------------------------------------------------------------------

/// A Graph error body.
#[derive(ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Graph's error code (`Request_ResourceNotFound`, `BadRequest`, …).
    pub code: String,
    /// A sentence for the caller.
    pub message: String,
    /// The request's date and id, and details of some refusals.
    pub inner_error: Option<Value>,
}

/// A page of a Graph collection.
#[derive(ToSchema)]
pub struct Collection<T> {
    /// The collection's metadata URL.
    #[schema(rename = "@odata.context")]
    pub context: String,
    /// The number of matching items (with `$count=true`).
    #[schema(rename = "@odata.count")]
    pub count: Option<u64>,
    /// The next page, when there is one.
    #[schema(rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    /// The items of this page.
    pub value: Vec<T>,
}

/// Either a collection (`…/filterByCurrentUser(on='…')`) or one item (an id), as a path
/// segment that takes both answers.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum OneOrCollection<T> {
    /// The caller's items.
    Collection(Collection<T>),
    /// One item.
    One(T),
}

/// Graph `user`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Object id.
    pub id: String,
    /// Sign-in name.
    pub user_principal_name: String,
    /// Name shown.
    pub display_name: Option<String>,
    /// Whether the user may sign in.
    pub account_enabled: bool,
    /// `Member` or `Guest`.
    pub user_type: Option<String>,
    /// When the user was created.
    pub created_date_time: Option<String>,
}

/// The body of `POST /v1.0/users`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "accountEnabled": true,
    "displayName": "Adele Vance",
    "userPrincipalName": "adele@example.test",
    "passwordProfile": { "password": "correct horse battery" }
}))]
pub struct NewUser {
    /// Sign-in name.
    #[schema(min_length = 1)]
    pub user_principal_name: String,
    /// Name shown.
    #[schema(min_length = 1)]
    pub display_name: String,
    /// Whether the user may sign in (default true).
    pub account_enabled: Option<bool>,
    /// The first password.
    pub password_profile: PasswordProfile,
}

/// Graph `passwordProfile`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordProfile {
    /// At least eight characters; stored as an argon2id hash only.
    #[schema(min_length = 8)]
    pub password: String,
}

/// The body of `PATCH /v1.0/users/{id}`: the properties to change.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPatch {
    /// Name shown.
    pub display_name: Option<String>,
    /// Whether the user may sign in.
    pub account_enabled: Option<bool>,
    /// Sign-in name.
    pub user_principal_name: Option<String>,
    /// `Member` or `Guest`.
    pub user_type: Option<String>,
}

/// Graph `group`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Object id.
    pub id: String,
    /// Name shown.
    pub display_name: String,
    /// Whether roles may be assigned to the group.
    pub is_assignable_to_role: bool,
    /// Always true: Portcullis groups are security groups.
    pub security_enabled: Option<bool>,
    /// Always false.
    pub mail_enabled: Option<bool>,
    /// When the group was created.
    pub created_date_time: Option<String>,
}

/// The body of `POST /v1.0/groups`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({ "displayName": "Tier 0 operators", "isAssignableToRole": true }))]
pub struct NewGroup {
    /// Name shown.
    #[schema(min_length = 1)]
    pub display_name: String,
    /// Whether roles may be assigned to the group.
    pub is_assignable_to_role: Option<bool>,
}

/// The body of `PATCH /v1.0/groups/{id}`: the new name (`isAssignableToRole` cannot change).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({ "displayName": "Tier 0 operators (EU)" }))]
pub struct GroupPatch {
    /// Name shown.
    #[schema(min_length = 1)]
    pub display_name: String,
}

/// A member of a group: a user or a group (Graph `directoryObject`).
#[derive(ToSchema)]
pub struct DirectoryObject {
    /// `#microsoft.graph.user` or `#microsoft.graph.group`.
    #[schema(rename = "@odata.type")]
    pub odata_type: String,
    /// Object id.
    pub id: String,
    /// Name shown.
    #[schema(rename = "displayName")]
    pub display_name: Option<String>,
}

/// A `$ref` body: `{"@odata.id": "…/directoryObjects/{id}"}`.
#[derive(ToSchema)]
#[schema(example = json!({
    "@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/00000000-0000-0000-0000-000000000000"
}))]
pub struct Reference {
    /// The URL of the directory object (`…/directoryObjects/{id}`, `…/users/{id}`,
    /// `…/groups/{id}`).
    #[schema(rename = "@odata.id")]
    pub odata_id: String,
}

/// Graph `authenticationMethod` (of a kind), with how it was registered.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationMethod {
    /// `#microsoft.graph.fido2AuthenticationMethod`, …
    #[schema(rename = "@odata.type")]
    pub odata_type: String,
    /// Method id.
    pub id: String,
    /// Label.
    pub display_name: Option<String>,
    /// When it was registered.
    pub created_date_time: Option<String>,
    /// The authenticator model (FIDO2).
    pub aa_guid: Option<String>,
    /// The Graph method mode.
    pub method_mode: String,
    /// The proof it was registered under (Portcullis extension).
    pub registered_with: Option<String>,
}

/// Graph `temporaryAccessPassAuthenticationMethod`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemporaryAccessPass {
    /// `#microsoft.graph.temporaryAccessPassAuthenticationMethod`.
    #[schema(rename = "@odata.type")]
    pub odata_type: Option<String>,
    /// Pass id.
    pub id: String,
    /// The pass itself, in the answer to its issue only.
    pub temporary_access_pass: Option<String>,
    /// When it was issued.
    pub created_date_time: Option<String>,
    /// From when it is valid.
    pub start_date_time: String,
    /// How long it is valid.
    pub lifetime_in_minutes: i64,
    /// Whether one sign-in uses it up.
    pub is_usable_once: bool,
    /// Whether it can be used now.
    pub is_usable: bool,
    /// Why (or why not).
    pub method_usability_reason: String,
}

/// The body of `POST …/temporaryAccessPassMethods` (every field optional).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({ "lifetimeInMinutes": 60, "isUsableOnce": true }))]
pub struct NewTemporaryAccessPass {
    /// From when it is valid (default now).
    #[schema(format = DateTime)]
    pub start_date_time: Option<String>,
    /// How long it is valid, in minutes (the pass policy's bounds, by default 10 to 480).
    pub lifetime_in_minutes: Option<i64>,
    /// Whether one sign-in uses it up.
    pub is_usable_once: Option<bool>,
}

/// Graph `unifiedRoleDefinition`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    /// Role id (the template id).
    pub id: String,
    /// The template id.
    pub template_id: String,
    /// Name shown.
    pub display_name: String,
    /// What the role may do.
    pub description: Option<String>,
    /// Whether Microsoft defines the role.
    pub is_built_in: bool,
    /// Always true.
    pub is_enabled: bool,
}

/// Graph `unifiedRoleAssignment`: a direct, permanent, active assignment.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    /// Assignment id.
    pub id: String,
    /// Who holds the role.
    pub principal_id: String,
    /// The role.
    pub role_definition_id: String,
    /// `/`.
    pub directory_scope_id: String,
}

/// The body of `POST …/roleAssignments`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "principalId": "00000000-0000-0000-0000-000000000000",
    "roleDefinitionId": "5d6b6bb7-de71-4623-b4af-96380a352509",
    "directoryScopeId": "/"
}))]
pub struct NewRoleAssignment {
    /// Who is to hold the role.
    pub principal_id: String,
    /// The role.
    pub role_definition_id: String,
    /// `/`.
    pub directory_scope_id: String,
}

/// Graph `unifiedRoleAssignmentScheduleRequest` or `unifiedRoleEligibilityScheduleRequest`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRequest {
    /// Request id.
    pub id: String,
    /// `selfActivate`, `adminAssign`, …
    pub action: String,
    /// Who the request is for.
    pub principal_id: String,
    /// The role.
    pub role_definition_id: String,
    /// `/`.
    pub directory_scope_id: Option<String>,
    /// `Provisioned`, `PendingApproval`, `Denied`, …
    pub status: String,
    /// Why.
    pub justification: Option<String>,
    /// When and for how long.
    pub schedule_info: Option<Value>,
    /// When it was made.
    pub created_date_time: Option<String>,
}

/// The body of a schedule request.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "action": "adminAssign",
    "principalId": "00000000-0000-0000-0000-000000000000",
    "roleDefinitionId": "5d6b6bb7-de71-4623-b4af-96380a352509",
    "directoryScopeId": "/",
    "justification": "On call this week",
    "scheduleInfo": {
        "startDateTime": "2026-12-07T09:00:00Z",
        "expiration": { "type": "afterDuration", "duration": "PT8H" }
    }
}))]
pub struct NewScheduleRequest {
    /// What the request does.
    pub action: ScheduleAction,
    /// Who the request is for.
    pub principal_id: String,
    /// The role.
    pub role_definition_id: String,
    /// `/`.
    pub directory_scope_id: String,
    /// Why.
    pub justification: Option<String>,
    /// When and for how long (`startDateTime`, `expiration`).
    pub schedule_info: Option<Value>,
}

/// Graph `unifiedRoleScheduleRequestActions`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ScheduleAction {
    /// The caller activates an eligible role.
    SelfActivate,
    /// The caller ends an active role early.
    SelfDeactivate,
    /// The caller asks to extend an expiring one.
    SelfExtend,
    /// The caller asks to renew an expired one.
    SelfRenew,
    /// An administrator assigns.
    AdminAssign,
    /// An administrator removes.
    AdminRemove,
    /// An administrator changes.
    AdminUpdate,
    /// An administrator extends.
    AdminExtend,
    /// An administrator renews.
    AdminRenew,
}

/// A schedule or an instance: Graph `unifiedRoleEligibilitySchedule(Instance)` or
/// `unifiedRoleAssignmentSchedule(Instance)`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleSchedule {
    /// Id.
    pub id: String,
    /// Who holds the role.
    pub principal_id: String,
    /// The role.
    pub role_definition_id: String,
    /// `/`.
    pub directory_scope_id: Option<String>,
}

/// Graph `approval`.
#[derive(ToSchema)]
pub struct Approval {
    /// The request's id.
    pub id: String,
    /// Its stages.
    pub steps: Vec<ApprovalStep>,
}

/// Graph `approvalStep`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalStep {
    /// The stage's number.
    pub id: String,
    /// Name shown.
    pub display_name: Option<String>,
    /// `InProgress`, `Completed`, …
    pub status: String,
    /// `NotReviewed`, `Approve` or `Deny`.
    pub review_result: String,
    /// Who decided.
    pub reviewed_by: Option<Value>,
    /// When.
    pub reviewed_date_time: Option<String>,
    /// Why.
    pub justification: Option<String>,
    /// Whether the caller may decide it.
    pub assigned_to_me: bool,
}

/// The body of a decision on an approval step.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalDecision {
    /// `Approve` or `Deny`.
    #[schema(pattern = "^(Approve|Deny)$")]
    pub review_result: String,
    /// Why.
    pub justification: String,
}

/// Graph `unifiedRoleManagementPolicy` (a role's settings).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleManagementPolicy {
    /// `DirectoryRole_{roleDefinitionId}`.
    pub id: String,
    /// `/`.
    pub scope_id: Option<String>,
    /// `DirectoryRole`.
    pub scope_type: Option<String>,
    /// The rules.
    pub rules: Option<Vec<RoleManagementPolicyRule>>,
}

/// Graph `unifiedRoleManagementPolicyRule` (of a kind).
#[derive(ToSchema)]
pub struct RoleManagementPolicyRule {
    /// `#microsoft.graph.unifiedRoleManagementPolicyExpirationRule`, …
    #[schema(rename = "@odata.type")]
    pub odata_type: String,
    /// `Expiration_EndUser_Assignment`, …
    pub id: String,
    /// Which requests the rule applies to.
    pub target: Option<Value>,
}

/// Graph `unifiedRoleManagementPolicyAssignment`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleManagementPolicyAssignment {
    /// `{policyId}_{roleDefinitionId}`.
    pub id: String,
    /// The settings.
    pub policy_id: String,
    /// `/`.
    pub scope_id: String,
    /// `DirectoryRole`.
    pub scope_type: String,
    /// The role.
    pub role_definition_id: String,
    /// The settings, with `$expand=policy`.
    pub policy: Option<RoleManagementPolicy>,
}

/// Graph `conditionalAccessPolicy`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalAccessPolicy {
    /// Policy id.
    pub id: String,
    /// Name shown.
    pub display_name: String,
    /// Whether it is enforced.
    pub state: PolicyState,
    /// Who, what and under which circumstances.
    pub conditions: Value,
    /// What must be satisfied to get access.
    pub grant_controls: Option<Value>,
    /// Session behaviour (sign-in frequency, …).
    pub session_controls: Option<Value>,
    /// When it was created.
    pub created_date_time: Option<String>,
    /// When it last changed.
    pub modified_date_time: Option<String>,
}

/// The body of a Conditional Access policy write (Graph `conditionalAccessPolicy`).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "displayName": "Require MFA for administrators",
    "state": "enabledForReportingButNotEnforced",
    "conditions": {
        "users": { "includeRoles": ["62e90394-69f5-4237-9190-012177145e10"] },
        "applications": { "includeApplications": ["All"] },
        "clientAppTypes": ["all"]
    },
    "grantControls": { "operator": "OR", "builtInControls": ["mfa"] }
}))]
pub struct ConditionalAccessPolicyInput {
    /// Name shown.
    pub display_name: Option<String>,
    /// Whether it is enforced.
    pub state: Option<PolicyState>,
    /// Who, what and under which circumstances.
    pub conditions: Option<Value>,
    /// What must be satisfied to get access.
    pub grant_controls: Option<Value>,
    /// Session behaviour.
    pub session_controls: Option<Value>,
}

/// Graph `conditionalAccessPolicyState`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum PolicyState {
    /// Enforced.
    Enabled,
    /// Not evaluated.
    Disabled,
    /// Evaluated and logged, not enforced.
    EnabledForReportingButNotEnforced,
}

/// Graph `authenticationContextClassReference`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "c7",
    "displayName": "Tier 0 Role Activation",
    "description": "Sign-in every time",
    "isAvailable": true
}))]
pub struct AuthenticationContext {
    /// `c1`…`c99`.
    #[schema(pattern = "^c([1-9]|[1-9][0-9])$")]
    pub id: String,
    /// Name shown.
    pub display_name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Whether apps may request it.
    pub is_available: Option<bool>,
}

/// Graph `authenticationStrengthPolicy`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationStrength {
    /// Strength id.
    pub id: String,
    /// Name shown.
    pub display_name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// `builtIn` or `custom`.
    pub policy_type: Option<String>,
    /// `mfa` or `none`.
    pub requirements_satisfied: Option<String>,
    /// Method combinations, any one of which satisfies the strength (`fido2`, `password,sms`, …).
    pub allowed_combinations: Vec<String>,
    /// Restrictions on some combinations (FIDO2 AAGUIDs).
    pub combination_configurations: Vec<Value>,
}

/// The body of a strength write.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "displayName": "FIDO2 or Hello",
    "description": "Phishing-resistant, without certificates",
    "allowedCombinations": ["fido2", "windowsHelloForBusiness"]
}))]
pub struct AuthenticationStrengthInput {
    /// Name shown.
    pub display_name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Method combinations.
    pub allowed_combinations: Option<Vec<String>>,
}

/// Graph `authenticationCombinationConfiguration` (`fido2CombinationConfiguration`,
/// `x509CertificateCombinationConfiguration`).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CombinationConfiguration {
    /// Configuration id.
    pub id: String,
    /// The combinations it restricts (`fido2` for a FIDO2 configuration).
    pub applies_to_combinations: Vec<String>,
    /// The FIDO2 authenticator models that count (AAGUIDs).
    #[serde(rename = "allowedAAGUIDs")]
    pub allowed_aaguids: Option<Vec<String>>,
}

/// The body of a combination configuration write.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "@odata.type": "#microsoft.graph.fido2CombinationConfiguration",
    "appliesToCombinations": ["fido2"],
    "allowedAAGUIDs": ["cb69481e-8ff7-4039-93ec-0a2729a154a8"]
}))]
pub struct CombinationConfigurationInput {
    /// The kind: `#microsoft.graph.fido2CombinationConfiguration` or
    /// `#microsoft.graph.x509CertificateCombinationConfiguration`.
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    /// The combinations it restricts.
    pub applies_to_combinations: Option<Vec<String>>,
    /// The FIDO2 authenticator models that count (AAGUIDs).
    #[serde(rename = "allowedAAGUIDs")]
    pub allowed_aaguids: Option<Vec<String>>,
}

/// The body of `…/updateAllowedCombinations`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({ "allowedCombinations": ["fido2", "password,softwareOath"] }))]
pub struct AllowedCombinations {
    /// The new combinations.
    pub allowed_combinations: Vec<String>,
}

/// Graph `updateAllowedCombinationsResult`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAllowedCombinationsResult {
    /// Before.
    pub previous_combinations: Vec<String>,
    /// After.
    pub current_combinations: Vec<String>,
    /// The policies that require the strength.
    pub conditional_access_references: Vec<String>,
}

/// Graph `authenticationStrengthUsage`: the policies that require a strength.
#[derive(ToSchema)]
pub struct StrengthUsage {
    /// The policies that require it with MFA.
    pub mfa: Vec<Value>,
    /// The policies that require it without.
    pub none: Vec<Value>,
}

/// Graph `namedLocation` (`ipNamedLocation` or `countryNamedLocation`).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamedLocation {
    /// `#microsoft.graph.ipNamedLocation` or `#microsoft.graph.countryNamedLocation`.
    #[schema(rename = "@odata.type")]
    pub odata_type: Option<String>,
    /// Location id.
    pub id: String,
    /// Name shown.
    pub display_name: Option<String>,
    /// IP ranges (`{"cidrAddress": …}`).
    pub ip_ranges: Option<Vec<Value>>,
    /// Whether it is trusted.
    pub is_trusted: Option<bool>,
    /// ISO 3166-1 alpha-2 codes.
    pub countries_and_regions: Option<Vec<String>>,
    /// Whether sign-ins from an unknown country are in it.
    pub include_unknown_countries_and_regions: Option<bool>,
}

/// The body of a named location write.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "@odata.type": "#microsoft.graph.ipNamedLocation",
    "displayName": "Head office",
    "isTrusted": true,
    "ipRanges": [{ "@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24" }]
}))]
pub struct NamedLocationInput {
    /// `#microsoft.graph.ipNamedLocation` or `#microsoft.graph.countryNamedLocation`.
    #[schema(rename = "@odata.type")]
    pub odata_type: Option<String>,
    /// Name shown.
    pub display_name: Option<String>,
    /// IP ranges (`{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": …}`).
    pub ip_ranges: Option<Vec<Value>>,
    /// Whether it is trusted.
    pub is_trusted: Option<bool>,
    /// ISO 3166-1 alpha-2 codes.
    pub countries_and_regions: Option<Vec<String>>,
}

/// Graph `signIn`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignIn {
    /// Record id.
    pub id: String,
    /// When.
    pub created_date_time: String,
    /// The user, when the name matched one.
    pub user_id: Option<String>,
    /// The name as typed.
    pub user_principal_name: String,
    /// The client.
    pub app_id: Option<String>,
    /// The client's address.
    pub ip_address: Option<String>,
    /// `result`, `failureReason`, `additionalDetails`.
    pub status: Value,
    /// Graph method modes performed.
    pub authentication_methods_used: Vec<String>,
    /// Each Conditional Access policy's result.
    pub applied_conditional_access_policies: Value,
}

/// Graph `directoryAudit`, with the hash chain's fields.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryAudit {
    /// Entry id.
    pub id: String,
    /// When.
    pub activity_date_time: String,
    /// `RoleManagement`, `Policy`, …
    pub category: String,
    /// What happened.
    pub activity_display_name: String,
    /// `Add`, `Update`, `Delete`, …
    pub operation_type: String,
    /// `success`, `failure`, …
    pub result: String,
    /// Why.
    pub result_reason: String,
    /// `PIM`, `Core Directory`, …
    pub logged_by_service: String,
    /// Position in the log, from 1.
    pub seq: u64,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

/// The answer of `GET /v1.0/portcullis/lint` (Portcullis extension).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LintReport {
    /// Each role's activation requirements and findings.
    pub roles: Vec<Value>,
    /// Findings on the Conditional Access policies.
    pub conditional_access: Vec<Value>,
    /// How many errors.
    pub errors: u64,
    /// How many warnings.
    pub warnings: u64,
}

/// What-If (`POST …/conditionalAccess/evaluate`) body: Graph's evaluate request
/// (`signInIdentity`, `signInContext`, `signInConditions`, …); see `docs/whatif.md`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "signInIdentity": {
        "@odata.type": "#microsoft.graph.userSignIn",
        "userId": "00000000-0000-0000-0000-000000000000"
    },
    "signInContext": {
        "@odata.type": "#microsoft.graph.applicationContext",
        "includeApplications": ["All"]
    },
    "signInConditions": { "clientAppType": "browser", "devicePlatform": "windows" }
}))]
pub struct EvaluateRequest {
    /// Who signs in (`{"@odata.type": "#microsoft.graph.userSignIn", "userId": …}`).
    pub sign_in_identity: Value,
    /// To what (`applicationContext` or `authContext`).
    pub sign_in_context: Option<Value>,
    /// Under which conditions.
    pub sign_in_conditions: Option<Value>,
}

/// What-If's answer: the policies' results.
#[derive(ToSchema)]
pub struct EvaluateResponse {
    /// One result per policy.
    pub value: Vec<Value>,
}

/// A JSON object whose shape this document does not detail.
#[derive(ToSchema)]
pub struct AnyObject {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::collections::BTreeSet;

    /// The `(METHOD, path)` pairs of the router table, read from `graph/mod.rs` itself, so that
    /// the table stays the one place routes are written.
    fn routed() -> BTreeSet<(String, String)> {
        let source = include_str!("mod.rs");
        let mut routes = BTreeSet::new();
        let mut rest = source;
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            // The call's text: up to its closing parenthesis.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(i, _)| i)
                .expect("a closed .route( call");
            let call = &rest[..end];
            let path = call
                .split('"')
                .nth(1)
                .expect("a route's path literal")
                .to_string();
            // The catch-all that answers unserved paths in Graph's shape is no operation.
            if path.contains("{*") {
                rest = &rest[end..];
                continue;
            }
            let handlers = &call[call.rfind('"').unwrap() + 1..];
            let mut methods = 0;
            for method in ["get", "post", "patch", "put", "delete"] {
                let calls = handlers
                    .match_indices(&format!("{method}("))
                    .filter(|(i, _)| {
                        *i == 0
                            || !handlers[..*i]
                                .ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
                    })
                    .count();
                if calls > 0 {
                    routes.insert((method.to_uppercase(), path.clone()));
                    methods += 1;
                }
            }
            assert!(methods > 0, "no method found for {path}: {call}");
            rest = &rest[end..];
        }
        routes
    }

    fn documented() -> BTreeSet<(String, String)> {
        let doc = document();
        let mut routes = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, _) in item.as_object().unwrap() {
                if ["get", "post", "patch", "put", "delete"].contains(&method.as_str()) {
                    routes.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        routes
    }

    #[test]
    fn the_document_describes_every_route_and_no_other() {
        let routed = routed();
        let documented = documented();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty() && unrouted.is_empty(),
            "routes in graph/mod.rs without a #[utoipa::path] listed in graph/openapi.rs: \
             {undocumented:?}\ndocumented operations that graph/mod.rs does not route: \
             {unrouted:?}"
        );
        // The reading of mod.rs finds what it should (a parse that found nothing would agree
        // with an empty document).
        assert!(routed.len() > 60, "{}", routed.len());
        assert!(routed.contains(&(
            "DELETE".into(),
            "/v1.0/groups/{id}/members/{member}/$ref".into()
        )));
        assert!(routed.contains(&("PATCH".into(), "/v1.0/users/{id}".into())));
    }

    #[test]
    fn the_document_is_openapi_3_1_with_the_bearer_scheme_and_graph_errors() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["components"]["securitySchemes"][BEARER]["scheme"],
            "bearer"
        );
        assert_eq!(doc["security"][0][BEARER], serde_json::json!([]));
        let error = &doc["components"]["schemas"]["ErrorBody"];
        assert!(error.is_object(), "{error}");
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                assert_eq!(
                    operation["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path}"
                );
                // Every `{name}` of the path is a declared path parameter.
                for name in path.split('{').skip(1).filter_map(|s| s.split('}').next()) {
                    let declared = operation["parameters"].as_array().is_some_and(|ps| {
                        ps.iter().any(|p| p["name"] == name && p["in"] == "path")
                    });
                    assert!(declared, "{method} {path}: path parameter {name}");
                }
            }
        }
    }

    #[test]
    fn collections_are_described_with_value_and_context() {
        let doc = document();
        let users = &doc["paths"]["/v1.0/users"]["get"]["responses"]["200"]["content"]
            ["application/json"]["schema"]["$ref"];
        let name = users.as_str().unwrap().rsplit('/').next().unwrap();
        let schema = &doc["components"]["schemas"][name];
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            required.contains(&"value") && required.contains(&"@odata.context"),
            "{schema}"
        );
        assert_eq!(schema["properties"]["value"]["type"], "array");
        let parameters: Vec<&str> = doc["paths"]["/v1.0/users"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(parameters, ["$filter", "$top", "$count", "$skiptoken"]);
    }
}
