//! *Roles and settings* (`/admin/roles`): every role with how many hold it or may activate it,
//! and each role's settings editor (`/admin/roles/{id}`) — the 17 rules of its
//! `unifiedRoleManagementPolicy`, grouped as activation, assignment and notification, each
//! saved on its own through [`app::pim::settings::patch_rule`], the path of a Graph `PATCH` of
//! the rule (same checks, same audit entry, same lockout guard for Global Administrator's
//! context).

use super::forms::Fields;
use super::{freshness, open, Admin, Frame, Freshness, Reauth, Section};
use crate::error::PageForm;
use crate::error::{PageError, ServeError};
use crate::portal::render;
use crate::session::BrowserSession;
use crate::state::AppState;
use app::authz::{ManageRoles, ReadConditionalAccess};
use app::conditional_access::LockoutGuard;
use app::pim::settings::{self, SettingsError};
use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use pim::{
    ApprovalMode, EnabledRule, NotificationLevel, RecipientType, Rule, RuleId, RuleKind, SubjectSet,
};
use policy::directory::AssignmentStatus;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use store::{AssignmentQuery, RoleDefinition};

/// One row of the role list.
struct RoleRow {
    id: String,
    name: String,
    eligible: usize,
    active: usize,
    activation: String,
}

#[derive(Template)]
#[template(path = "admin_roles.html")]
struct RolesPage {
    frame: Frame,
    roles: Vec<RoleRow>,
}

/// `GET /admin/roles`: the roles, with eligible and active assignments in force now.
pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
) -> Result<Response, PageError> {
    let admin =
        match open::<ManageRoles>(&state, jar, session, Section::Roles, "/admin/roles").await? {
            Ok(admin) => admin,
            Err(response) => return Ok(response),
        };
    let now = state.now();
    let in_force = state
        .store
        .list_scheduled_assignments(&AssignmentQuery {
            in_force_at: Some(now),
            ..AssignmentQuery::default()
        })
        .await?;
    let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
    for a in &in_force {
        let slot = counts
            .entry(a.assignment.role_definition_id.canonical())
            .or_default();
        match a.assignment.status {
            AssignmentStatus::Eligible => slot.0 += 1,
            AssignmentStatus::Active => slot.1 += 1,
            _ => {}
        }
    }
    let mut roles: Vec<RoleRow> = settings::all(&state)
        .await?
        .into_iter()
        .map(|(role, policy)| {
            let (eligible, active) = counts
                .get(&role.id.to_ascii_lowercase())
                .copied()
                .unwrap_or_default();
            RoleRow {
                activation: activation_summary(&policy),
                id: role.id,
                name: role.display_name,
                eligible,
                active,
            }
        })
        .collect();
    roles.sort_by_key(|r| r.name.to_lowercase());
    render(
        StatusCode::OK,
        &RolesPage {
            frame: admin.frame,
            roles,
        },
    )
}

/// What activating a role asks for, in a few words.
fn activation_summary(policy: &pim::RoleManagementPolicy) -> String {
    let mut parts = Vec::new();
    if let Some(max) = policy
        .expiration(&RuleId::ExpirationEndUserAssignment)
        .and_then(|e| e.maximum_duration.clone())
    {
        parts.push(format!("up to {max}"));
    }
    if let Some(Ok(Some(context))) = policy
        .authentication_context()
        .map(|c| c.required_context())
    {
        parts.push(format!("context {context}"));
    }
    if let Some(e) = policy.enablement(&RuleId::EnablementEndUserAssignment) {
        for r in &e.enabled_rules {
            parts.push(enabled_label(r).to_string());
        }
    }
    if policy
        .approval()
        .is_some_and(|a| a.setting.is_approval_required)
    {
        parts.push("approval".into());
    }
    parts.join(", ")
}

fn enabled_label(r: &EnabledRule) -> &'static str {
    match r {
        EnabledRule::MultiFactorAuthentication => "MFA claim",
        EnabledRule::Justification => "justification",
        EnabledRule::Ticketing => "ticket",
        _ => "an unknown requirement",
    }
}

/// A choice of a `<select>`.
pub(crate) struct Choice {
    /// The value sent.
    pub value: String,
    /// What is shown.
    pub label: String,
    /// Whether it is chosen.
    pub selected: bool,
}

/// One rule's form, from the stored rule or from a refused submission.
struct RuleView {
    id: String,
    title: String,
    explain: &'static str,
    /// `expiration`, `enablement`, `context`, `approval`, `notification` or `unknown`.
    kind: &'static str,
    /// Expiration: required; approval: required; context: enabled.
    on: bool,
    /// Expiration: the maximum (ISO 8601 duration).
    maximum: String,
    /// Enablement: the requirements offered, with whether each is ticked.
    requirements: Vec<Choice>,
    /// Context: the tenant's contexts; approval: the users and groups who may approve.
    choices: Vec<Choice>,
    /// Notification: the level.
    levels: Vec<Choice>,
    /// Notification: default recipients.
    default_recipients: bool,
    /// Notification: more recipients, comma-separated.
    recipients: String,
    /// The refusal of this form's last submission.
    error: Option<String>,
}

struct Group {
    heading: &'static str,
    id: &'static str,
    rules: Vec<RuleView>,
}

#[derive(Template)]
#[template(path = "admin_role.html")]
struct RolePage {
    frame: Frame,
    role_id: String,
    name: String,
    notice: Option<String>,
    groups: Vec<Group>,
    reauth: Option<Reauth>,
    last_modified: String,
}

/// The tenant's authentication contexts and the possible approvers, for the forms.
struct Options {
    contexts: Vec<(String, String)>,
    approvers: Vec<(String, String)>,
}

async fn options(state: &AppState, admin: &Admin<ManageRoles>) -> Result<Options, PageError> {
    let caller = admin.allowed.caller();
    // Every role that grants ManageRoles also grants ReadConditionalAccess; without it the
    // context choice is simply empty.
    let contexts = match state.core.authorize::<ReadConditionalAccess>(caller).await {
        Ok(read) => state
            .core
            .authentication_contexts(&read)
            .await
            .map_err(|e| super::internal("authentication contexts", e))?
            .into_iter()
            .map(|c| {
                let label = match &c.display_name {
                    Some(name) => format!("{} — {name}", c.id),
                    None => c.id.clone(),
                };
                (c.id, label)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut approvers: Vec<(String, String)> = state
        .store
        .list_users()
        .await?
        .into_iter()
        .filter(|u| u.account_enabled)
        .map(|u| (format!("user:{}", u.id), u.user_principal_name))
        .collect();
    approvers.extend(state.store.list_groups().await?.into_iter().map(|g| {
        (
            format!("group:{}", g.id),
            format!("group {}", g.display_name),
        )
    }));
    Ok(Options {
        contexts,
        approvers,
    })
}

fn choices(all: &[(String, String)], selected: &[String]) -> Vec<Choice> {
    all.iter()
        .map(|(value, label)| Choice {
            selected: selected.iter().any(|s| s.eq_ignore_ascii_case(value)),
            value: value.clone(),
            label: label.clone(),
        })
        .collect()
}

fn title_of(id: &RuleId) -> String {
    use RuleId::*;
    let when = |level: &str| match level {
        "Eligibility" => "members are assigned as eligible",
        "Assignment" => "members are assigned as active",
        _ => "eligible members activate the role",
    };
    match id {
        ExpirationEndUserAssignment => "Activation maximum duration".into(),
        EnablementEndUserAssignment => "On activation, require".into(),
        AuthenticationContextEndUserAssignment => {
            "On activation, require an authentication context".into()
        }
        ApprovalEndUserAssignment => "Require approval to activate".into(),
        ExpirationAdminEligibility => "Eligible assignments: expiration".into(),
        EnablementAdminEligibility => "Eligible assignments: on assignment, require".into(),
        ExpirationAdminAssignment => "Active assignments: expiration".into(),
        EnablementAdminAssignment => "Active assignments: on assignment, require".into(),
        other => match other.spec() {
            Some(spec) => {
                let who = match spec.recipient {
                    Some(RecipientType::Admin) => "administrators",
                    Some(RecipientType::Requestor) => "the requestor and the assignee",
                    Some(RecipientType::Approver) => "approvers",
                    _ => "recipients",
                };
                let level = match (&spec.caller, &spec.level) {
                    (pim::Caller::EndUser, _) => "EndUser",
                    (_, pim::Level::Eligibility) => "Eligibility",
                    _ => "Assignment",
                };
                format!("Notify {who} when {}", when(level))
            }
            None => other.as_str().to_string(),
        },
    }
}

fn explain_of(id: &RuleId) -> &'static str {
    use RuleId::*;
    match id {
        ExpirationEndUserAssignment => {
            "How long an activation lasts at most (ISO 8601, e.g. PT8H; at most 24 hours)."
        }
        EnablementEndUserAssignment => {
            "What an activation request must carry. An MFA claim is a claim, not a fresh proof: \
             prefer an authentication context."
        }
        AuthenticationContextEndUserAssignment => {
            "The step-up activation asks for: the Conditional Access policies on the context \
             decide which methods count."
        }
        ApprovalEndUserAssignment => "Who must approve an activation before it starts.",
        ExpirationAdminEligibility | ExpirationAdminAssignment => {
            "Whether assignments must end, and their longest duration (ISO 8601, e.g. P365D)."
        }
        EnablementAdminEligibility | EnablementAdminAssignment => {
            "What an administrator's assignment must carry."
        }
        _ => "Who is told by e-mail, and of what.",
    }
}

/// Which requirements an enablement rule may hold: activation takes the three, an
/// administrator's active assignment justification and MFA, an eligible one justification
/// and MFA too (Entra's sets).
fn offered(id: &RuleId) -> &'static [(&'static str, EnabledRule)] {
    const END_USER: &[(&str, EnabledRule)] = &[
        ("MFA claim", EnabledRule::MultiFactorAuthentication),
        ("Justification", EnabledRule::Justification),
        ("Ticket information", EnabledRule::Ticketing),
    ];
    const ADMIN: &[(&str, EnabledRule)] = &[
        ("MFA claim", EnabledRule::MultiFactorAuthentication),
        ("Justification", EnabledRule::Justification),
    ];
    if *id == RuleId::EnablementEndUserAssignment {
        END_USER
    } else {
        ADMIN
    }
}

fn empty_view(id: &RuleId, kind: &'static str) -> RuleView {
    RuleView {
        id: id.as_str().to_string(),
        title: title_of(id),
        explain: explain_of(id),
        kind,
        on: false,
        maximum: String::new(),
        requirements: Vec::new(),
        choices: Vec::new(),
        levels: Vec::new(),
        default_recipients: false,
        recipients: String::new(),
        error: None,
    }
}

fn levels(chosen: &str) -> Vec<Choice> {
    ["All", "Critical", "None"]
        .into_iter()
        .map(|l| Choice {
            value: l.into(),
            label: match l {
                "All" => "All notifications".into(),
                "Critical" => "Critical only".into(),
                _ => "None".into(),
            },
            selected: l.eq_ignore_ascii_case(chosen),
        })
        .collect()
}

fn subject_value(s: &SubjectSet) -> Option<String> {
    match s {
        SubjectSet::SingleUser(u) => Some(format!("user:{}", u.user_id)),
        SubjectSet::GroupMembers(g) => Some(format!("group:{}", g.group_id)),
        SubjectSet::Other(_) => None,
    }
}

/// The form of a stored rule.
fn view_of(rule: &Rule, options: &Options) -> RuleView {
    let id = rule.rule_id();
    match rule {
        Rule::Expiration(e) => RuleView {
            on: e.is_expiration_required,
            maximum: e.maximum_duration.clone().unwrap_or_default(),
            ..empty_view(&id, "expiration")
        },
        Rule::Enablement(e) => RuleView {
            requirements: offered(&id)
                .iter()
                .map(|(label, r)| Choice {
                    value: r.as_str().to_string(),
                    label: (*label).to_string(),
                    selected: e.requires(r),
                })
                .collect(),
            ..empty_view(&id, "enablement")
        },
        Rule::AuthenticationContext(c) => {
            let chosen = c.claim_value.clone().unwrap_or_default();
            RuleView {
                on: c.is_enabled,
                choices: choices(&options.contexts, &[chosen]),
                ..empty_view(&id, "context")
            }
        }
        Rule::Approval(a) => {
            let chosen: Vec<String> = a
                .setting
                .approval_stages
                .iter()
                .flat_map(|s| s.primary_approvers.iter().filter_map(subject_value))
                .collect();
            RuleView {
                on: a.setting.is_approval_required,
                choices: choices(&options.approvers, &chosen),
                ..empty_view(&id, "approval")
            }
        }
        Rule::Notification(n) => RuleView {
            levels: levels(n.notification_level.as_ref().map_or("All", |l| l.as_str())),
            default_recipients: n.is_default_recipients_enabled,
            recipients: n.notification_recipients.join(", "),
            ..empty_view(&id, "notification")
        },
        Rule::Unknown(_) => empty_view(&id, "unknown"),
    }
}

/// The form as it was submitted, with the refusal.
fn view_of_submission(
    id: &RuleId,
    kind: RuleKind,
    fields: &Fields,
    options: &Options,
    error: String,
) -> RuleView {
    let mut view = match kind {
        RuleKind::Expiration => RuleView {
            on: fields.checked("required"),
            maximum: fields.trimmed("maximum").to_string(),
            ..empty_view(id, "expiration")
        },
        RuleKind::Enablement => {
            let ticked = fields.all("require");
            RuleView {
                requirements: offered(id)
                    .iter()
                    .map(|(label, r)| Choice {
                        value: r.as_str().to_string(),
                        label: (*label).to_string(),
                        selected: ticked.iter().any(|t| t == r.as_str()),
                    })
                    .collect(),
                ..empty_view(id, "enablement")
            }
        }
        RuleKind::AuthenticationContext => RuleView {
            on: fields.checked("enabled"),
            choices: choices(&options.contexts, &[fields.trimmed("context").to_string()]),
            ..empty_view(id, "context")
        },
        RuleKind::Approval => RuleView {
            on: fields.checked("required"),
            choices: choices(&options.approvers, &fields.all("approver")),
            ..empty_view(id, "approval")
        },
        RuleKind::Notification => RuleView {
            levels: levels(fields.trimmed("level")),
            default_recipients: fields.checked("default_recipients"),
            recipients: fields.trimmed("recipients").to_string(),
            ..empty_view(id, "notification")
        },
    };
    view.error = Some(error);
    view
}

/// The Graph `PATCH` body a rule's form stands for, or why the form cannot be one.
fn body_of(id: &RuleId, kind: RuleKind, fields: &Fields) -> Result<Value, String> {
    let odata = kind.odata_type();
    Ok(match kind {
        RuleKind::Expiration => {
            let maximum = fields.trimmed("maximum");
            if maximum.is_empty() {
                return Err("Give a maximum duration, e.g. PT8H or P365D.".into());
            }
            json!({
                "@odata.type": odata,
                "isExpirationRequired": fields.checked("required")
                    || *id == RuleId::ExpirationEndUserAssignment,
                "maximumDuration": maximum,
            })
        }
        RuleKind::Enablement => {
            let ticked = fields.all("require");
            let offered = offered(id);
            if let Some(other) = ticked
                .iter()
                .find(|t| !offered.iter().any(|(_, r)| r.as_str() == t.as_str()))
            {
                return Err(format!(
                    "'{other}' is not a requirement this rule can hold."
                ));
            }
            json!({ "@odata.type": odata, "enabledRules": ticked })
        }
        RuleKind::AuthenticationContext => {
            let enabled = fields.checked("enabled");
            let context = fields.trimmed("context");
            if enabled && context.is_empty() {
                return Err("Choose the authentication context activation requires.".into());
            }
            json!({
                "@odata.type": odata,
                "isEnabled": enabled,
                "claimValue": if context.is_empty() { Value::Null } else { json!(context) },
            })
        }
        RuleKind::Approval => {
            let required = fields.checked("required");
            let mut approvers = Vec::new();
            for a in fields.all("approver") {
                approvers.push(match a.split_once(':') {
                    Some(("user", id)) => {
                        json!({ "@odata.type": "#microsoft.graph.singleUser", "userId": id })
                    }
                    Some(("group", id)) => {
                        json!({ "@odata.type": "#microsoft.graph.groupMembers", "groupId": id })
                    }
                    _ => return Err(format!("'{a}' is not a user or a group.")),
                });
            }
            if required && approvers.is_empty() {
                return Err("Choose at least one approver, or do not require approval.".into());
            }
            json!({
                "@odata.type": odata,
                "setting": {
                    "isApprovalRequired": required,
                    "isApprovalRequiredForExtension": false,
                    "isRequestorJustificationRequired": true,
                    "approvalMode": ApprovalMode::SingleStage.as_str(),
                    "approvalStages": [{
                        "approvalStageTimeOutInDays": 1,
                        "isApproverJustificationRequired": true,
                        "escalationTimeInMinutes": 0,
                        "isEscalationEnabled": false,
                        "primaryApprovers": approvers,
                        "escalationApprovers": [],
                    }],
                },
            })
        }
        RuleKind::Notification => {
            let level = fields.trimmed("level");
            if !["All", "Critical", "None"].contains(&level) {
                return Err("Choose which notifications are sent.".into());
            }
            let recipients: Vec<&str> = fields
                .trimmed("recipients")
                .split([',', ';', '\n'])
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .collect();
            if let Some(bad) = recipients.iter().find(|r| !is_address(r)) {
                return Err(format!("'{bad}' is not an e-mail address."));
            }
            json!({
                "@odata.type": odata,
                "notificationLevel": NotificationLevel::parse(level).as_str(),
                "isDefaultRecipientsEnabled": fields.checked("default_recipients"),
                "notificationRecipients": recipients,
            })
        }
    })
}

/// A plausible e-mail address: one `@` with something on each side and no blanks.
fn is_address(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

const ACTIVATION: &[RuleId] = &[
    RuleId::ExpirationEndUserAssignment,
    RuleId::EnablementEndUserAssignment,
    RuleId::AuthenticationContextEndUserAssignment,
    RuleId::ApprovalEndUserAssignment,
];
const ASSIGNMENT: &[RuleId] = &[
    RuleId::ExpirationAdminEligibility,
    RuleId::EnablementAdminEligibility,
    RuleId::ExpirationAdminAssignment,
    RuleId::EnablementAdminAssignment,
];

fn group_of(id: &RuleId) -> usize {
    if ACTIVATION.contains(id) {
        0
    } else if ASSIGNMENT.contains(id) {
        1
    } else {
        2
    }
}

/// The role a path names (its template id).
async fn role_named(state: &AppState, id: &str) -> Result<RoleDefinition, PageError> {
    state
        .store
        .list_role_definitions()
        .await?
        .into_iter()
        .find(|d| d.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| {
            PageError::new(
                StatusCode::NOT_FOUND,
                "No such role",
                "No role has this id; choose one in Roles and settings.",
            )
        })
}

/// Renders the editor of `role`, with `refused` (a rule's id and its form) shown as submitted.
async fn role_page(
    state: &AppState,
    admin: Admin<ManageRoles>,
    role: &RoleDefinition,
    status: StatusCode,
    notice: Option<String>,
    refused: Option<RuleView>,
    reauth: Option<Reauth>,
) -> Result<Response, PageError> {
    let options = options(state, &admin).await?;
    let policy = state.core.role_settings(&role.id).await?.policy;
    let mut groups = vec![
        Group {
            heading: "Activation",
            id: "activation",
            rules: Vec::new(),
        },
        Group {
            heading: "Assignment",
            id: "assignment",
            rules: Vec::new(),
        },
        Group {
            heading: "Notification",
            id: "notification",
            rules: Vec::new(),
        },
    ];
    let mut refused = refused;
    for rule in &policy.rules {
        let id = rule.rule_id();
        let view = match refused.take() {
            Some(r) if r.id == id.as_str() => r,
            other => {
                refused = other;
                view_of(rule, &options)
            }
        };
        if let Some(g) = groups.get_mut(group_of(&id)) {
            g.rules.push(view);
        }
    }
    for g in &mut groups {
        g.rules.sort_by_key(|r| {
            RuleId::KNOWN
                .iter()
                .position(|k| k.as_str() == r.id)
                .unwrap_or(usize::MAX)
        });
    }
    let last_modified = match (&policy.last_modified_date_time, &policy.last_modified_by) {
        (Some(at), Some(by)) => format!(
            "Last changed {} by {}.",
            crate::portal::when(*at),
            by.display_name.as_deref().unwrap_or("someone")
        ),
        (Some(at), None) => format!("Last changed {}.", crate::portal::when(*at)),
        _ => String::new(),
    };
    render(
        status,
        &RolePage {
            frame: admin.frame,
            role_id: role.id.clone(),
            name: role.display_name.clone(),
            notice,
            groups,
            reauth,
            last_modified,
        },
    )
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// `GET /admin/roles/{id}`: the role's settings editor.
pub(super) async fn page(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<SavedQuery>,
) -> Result<Response, PageError> {
    let back = format!("/admin/roles/{id}");
    let admin = match open::<ManageRoles>(&state, jar, session, Section::Roles, &back).await? {
        Ok(admin) => admin,
        Err(response) => return Ok(response),
    };
    let role = role_named(&state, &id).await?;
    let notice = query.saved.and_then(|rule| {
        RuleId::KNOWN
            .iter()
            .find(|k| k.as_str() == rule)
            .map(|k| format!("Saved: {}.", title_of(k)))
    });
    role_page(&state, admin, &role, StatusCode::OK, notice, None, None).await
}

/// `POST /admin/roles/{id}/rules/{rule}`: saves one rule through the same service as Graph's
/// `PATCH` of the rule, after the re-authentication check; a refused form comes back as typed.
pub(super) async fn save_rule(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Path((id, rule_id)): Path<(String, String)>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let back = format!("/admin/roles/{id}");
    let admin = match open::<ManageRoles>(&state, jar, session, Section::Roles, &back).await? {
        Ok(admin) => admin,
        Err(response) => return Ok(response),
    };
    let role = role_named(&state, &id).await?;
    let rule = RuleId::parse(&rule_id);
    let Some(spec) = rule.spec() else {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            "No such rule",
            "This role has no rule with this id.",
        ));
    };
    let fields = Fields::new(pairs);
    let refuse = |message: String, options: &Options| {
        view_of_submission(&rule, spec.kind, &fields, options, message)
    };
    if let Freshness::Stale { contexts, reason } =
        freshness(&state, &admin, &super::circumstances(peer, &headers)).await?
    {
        let options = options(&state, &admin).await?;
        let view = refuse(
            "Not saved: confirm it's you first (above).".into(),
            &options,
        );
        let reauth = Reauth::new(&back, &contexts, reason);
        return role_page(
            &state,
            admin,
            &role,
            super::forms::STALE,
            None,
            Some(view),
            Some(reauth),
        )
        .await;
    }
    let body = match body_of(&rule, spec.kind, &fields) {
        Ok(body) => body,
        Err(message) => {
            let options = options(&state, &admin).await?;
            let view = refuse(message, &options);
            return role_page(
                &state,
                admin,
                &role,
                StatusCode::BAD_REQUEST,
                None,
                Some(view),
                None,
            )
            .await;
        }
    };
    match settings::patch_rule(
        &state,
        &admin.allowed,
        &role,
        rule.as_str(),
        &body,
        LockoutGuard::Enforce,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("{back}?saved={}", rule.as_str())).into_response()),
        Err(SettingsError::Refused(refusal)) => {
            let options = options(&state, &admin).await?;
            let view = refuse(refusal.message.clone(), &options);
            role_page(
                &state,
                admin,
                &role,
                super::status_of(&refusal),
                None,
                Some(view),
                None,
            )
            .await
        }
        Err(SettingsError::Store(e)) => Err(e.into()),
        Err(SettingsError::Internal(e)) => Err(ServeError::Internal(e).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields::new(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn every_known_rule_has_a_group_and_a_title() {
        let mut per_group = [0; 3];
        for id in RuleId::KNOWN {
            per_group[group_of(id)] += 1;
            assert!(!title_of(id).contains('_'), "{id:?}");
        }
        assert_eq!(per_group, [4, 4, 9]);
    }

    #[test]
    fn forms_become_the_bodies_graph_takes() {
        let body = body_of(
            &RuleId::ExpirationEndUserAssignment,
            RuleKind::Expiration,
            &fields(&[("maximum", "PT4H")]),
        )
        .unwrap_or_default();
        assert_eq!(body["maximumDuration"], "PT4H");
        assert_eq!(body["isExpirationRequired"], true);
        let body = body_of(
            &RuleId::ApprovalEndUserAssignment,
            RuleKind::Approval,
            &fields(&[
                ("required", "on"),
                ("approver", "user:u1"),
                ("approver", "group:g1"),
            ]),
        )
        .unwrap_or_default();
        let approvers = &body["setting"]["approvalStages"][0]["primaryApprovers"];
        assert_eq!(approvers[0]["userId"], "u1");
        assert_eq!(approvers[1]["groupId"], "g1");
        for (id, kind, form) in [
            (
                RuleId::ApprovalEndUserAssignment,
                RuleKind::Approval,
                fields(&[("required", "on")]),
            ),
            (
                RuleId::ApprovalEndUserAssignment,
                RuleKind::Approval,
                fields(&[("required", "on"), ("approver", "role:x")]),
            ),
            (
                RuleId::EnablementAdminAssignment,
                RuleKind::Enablement,
                fields(&[("require", "Ticketing")]),
            ),
            (
                RuleId::AuthenticationContextEndUserAssignment,
                RuleKind::AuthenticationContext,
                fields(&[("enabled", "on")]),
            ),
            (
                RuleId::NotificationAdminAdminAssignment,
                RuleKind::Notification,
                fields(&[("level", "All"), ("recipients", "a@b.c, not an address")]),
            ),
            (
                RuleId::ExpirationAdminEligibility,
                RuleKind::Expiration,
                fields(&[("maximum", "")]),
            ),
        ] {
            assert!(body_of(&id, kind, &form).is_err(), "{id:?}");
        }
    }
}
