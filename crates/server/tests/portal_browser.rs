//! The portal in a real browser: Debian's chromium driven by playwright-core, with a Chrome
//! DevTools virtual authenticator for passkeys (`tests/browser/`, see `common/browser.rs`).
//! Scenario 2 of issue 11: an eligible administrator with only a password and TOTP session
//! clicks Activate on a role whose activation requires context c1, is prompted for the passkey
//! and comes back with the role active; another, with no method that counts, is told what to
//! do. Scenario 3: approval with two browsers — the requester cannot decide their own request,
//! the approver approves it, and the role is active. Scenario 4: rollout readiness from an
//! eligible administrator without a passkey to the policy switched On, in two browsers. Each
//! scenario runs against a fresh service
//! seeded through the store and the application core; the script fails on any JavaScript
//! error, console error, CSP violation or serious accessibility violation (axe-core), and this
//! test then checks through the store what the pages said.
//!
//! SQLite only: the browser is the slow part (a few seconds a scenario), and what the pages
//! call is the application core that the HTTP and API tests run on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use app::access_pass::PassRequest;
use app::authz::ManageRoles;
use authn::secrecy::ExposeSecret as _;
use common::browser;
use common::graph::assign;
use common::pim::{eligible, require_context, PASSWORD};
use common::Env;
use policy::directory::{AssignmentStatus, PRIVILEGED_ROLE_ADMINISTRATOR};
use policy::registration::RegistrationProof;
use serde_json::json;
use store::testing::Backend;
use store::{ScheduleRequestQuery, User};

const APPLICATION_ADMINISTRATOR: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";
const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";
/// The policy asking every sign-in for MFA.
const REQUIRE_MFA_POLICY: &str = "6b1d0c1e-0000-4000-8000-000000000001";
/// The policy on c1.
const TIER0_POLICY: &str = "6b1d0c1e-0000-4000-8000-000000000002";

/// The seed's configuration: context c1, required by Application Administrator's activation,
/// and the policy on it (phishing-resistant, sign-in frequency every time, On); and a policy
/// asking every sign-in to the applications for MFA, so that a session is a password and a
/// TOTP code.
async fn tenant(env: &Env) {
    env.policies(json!({
        "authenticationContextClassReferences": [{
            "id": "c1",
            "displayName": "Tier 0 Role Activation (Sign-in Everytime)",
            "isAvailable": true
        }],
        "conditionalAccessPolicies": [
            require_mfa(),
            {
                "id": TIER0_POLICY,
                "displayName": "Tier 0 Role Activation",
                "state": "enabled",
                "conditions": {
                    "users": { "includeUsers": ["All"] },
                    "applications": { "includeAuthenticationContextClassReferences": ["c1"] },
                    "clientAppTypes": ["all"]
                },
                "grantControls": {
                    "operator": "OR",
                    "authenticationStrength": { "id": PHISHING_RESISTANT }
                },
                "sessionControls": {
                    "signInFrequency": {
                        "isEnabled": true,
                        "frequencyInterval": "everyTime",
                        "authenticationType": "primaryAndSecondaryAuthentication"
                    }
                }
            }
        ]
    }))
    .await;
    require_context(env, APPLICATION_ADMINISTRATOR, "c1").await;
}

/// A policy asking every sign-in to the applications for MFA, so that a session is a password
/// and a TOTP code.
fn require_mfa() -> serde_json::Value {
    json!({
        "id": REQUIRE_MFA_POLICY,
        "displayName": "Require MFA",
        "state": "enabled",
        "conditions": {
            "users": { "includeUsers": ["All"] },
            "applications": { "includeApplications": ["All"] },
            "clientAppTypes": ["all"]
        },
        "grantControls": { "operator": "OR", "builtInControls": ["mfa"] }
    })
}

/// A user eligible for Application Administrator with a password and an authenticator app;
/// returns the app's secret.
async fn eligible_admin(env: &Env, upn: &str) -> (User, Vec<u8>) {
    let user = env.user(upn, PASSWORD).await;
    let secret = env.totp(&user).await;
    eligible(env, &user, APPLICATION_ADMINISTRATOR).await;
    (user, secret)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the scripts save their screenshots: `docs/portal` with
/// `PORTCULLIS_UPDATE_SCREENSHOTS=1` (to refresh the documentation's), else a scratch folder.
fn screenshots() -> String {
    if std::env::var("PORTCULLIS_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        common::python::workspace_root()
            .join("docs/portal")
            .display()
            .to_string()
    } else {
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("portal-screenshots")
            .display()
            .to_string()
    }
}

/// The browser is ready, or the reason it is not.
async fn browser_ready() {
    tokio::task::spawn_blocking(browser::ready)
        .await
        .unwrap()
        .unwrap_or_else(|message| panic!("{message}"));
}

/// Scenario 1: the seed's administrator steps in the admin center, as an active Global
/// Administrator — the context, the role's requirement, the policy (MFA, with the lint's
/// warning on its page; then the phishing-resistant strength, and no warning).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_administrator_steps_in_the_admin_center() {
    if browser::skipped("admin_seed") {
        return;
    }
    browser_ready().await;
    let env = Env::start(Backend::Sqlite).await.unwrap();
    let admin = env.user("globaladmin@example.test", PASSWORD).await;
    assign(
        &env,
        &admin.id,
        policy::directory::GLOBAL_ADMINISTRATOR,
        AssignmentStatus::Active,
        None,
    )
    .await;
    let vars = |step: &str| {
        vec![
            ("PORTCULLIS_BASE", env.base.clone()),
            ("PORTCULLIS_UPN", admin.user_principal_name.clone()),
            ("PORTCULLIS_PASSWORD", PASSWORD.to_string()),
            ("PORTCULLIS_STEP", step.to_string()),
            ("PORTCULLIS_SCREENSHOTS", screenshots()),
        ]
    };
    // 1. + New authentication context.
    browser::scenario("admin_seed.mjs", vars("context")).await;
    let contexts: Vec<policy::context::AuthenticationContextClassReference> = env
        .state
        .store
        .list_config(store::ConfigKind::AuthenticationContext)
        .await
        .unwrap();
    assert_eq!(contexts.len(), 1, "{contexts:?}");
    assert_eq!(contexts[0].id, "c1");
    assert_eq!(
        contexts[0].display_name.as_deref(),
        Some("Tier 0 Role Activation (Sign-in Everytime)")
    );
    assert_eq!(contexts[0].is_available, Some(true));

    // 2. Application Administrator's activation requires it, through the role settings editor.
    browser::scenario("admin_seed.mjs", vars("role")).await;
    let settings = env
        .state
        .core
        .role_settings(APPLICATION_ADMINISTRATOR)
        .await
        .unwrap()
        .policy;
    assert_eq!(
        settings
            .authentication_context()
            .and_then(|c| c.required_context().ok().flatten())
            .map(|c| c.to_string())
            .as_deref(),
        Some("c1")
    );
    assert_eq!(
        common::audits_named(&env, "Update role setting in PIM")
            .await
            .len(),
        1
    );

    // 3. The policy, first with MFA, then with the phishing-resistant strength.
    browser::scenario("admin_seed.mjs", vars("policy")).await;
    let policies: Vec<policy::conditional_access::ConditionalAccessPolicy> = env
        .state
        .store
        .list_config(store::ConfigKind::Policy)
        .await
        .unwrap();
    assert_eq!(policies.len(), 1, "{policies:#?}");
    let stored = &policies[0];
    // Exactly the seed's policy, as its Graph document says it (id and times aside).
    let mut seed: policy::conditional_access::ConditionalAccessPolicy =
        serde_json::from_value(json!({
            "displayName": "Tier 0 Role Activation",
            "state": "enabled",
            "conditions": {
                "users": { "includeRoles": [APPLICATION_ADMINISTRATOR] },
                "applications": { "includeAuthenticationContextClassReferences": ["c1"] },
                "clientAppTypes": ["all"]
            },
            "grantControls": {
                "operator": "OR",
                "authenticationStrength": { "id": PHISHING_RESISTANT }
            },
            "sessionControls": {
                "signInFrequency": {
                    "isEnabled": true,
                    "frequencyInterval": "everyTime",
                    "authenticationType": "primaryAndSecondaryAuthentication"
                }
            }
        }))
        .unwrap();
    seed.id = stored.id.clone();
    seed.created_date_time = stored.created_date_time.clone();
    seed.modified_date_time = stored.modified_date_time.clone();
    assert_eq!(&seed, stored);
    // Both writes are on record, by the administrator.
    let added = common::audits_named(&env, "Add conditional access policy").await;
    let updated = common::audits_named(&env, "Update conditional access policy").await;
    assert_eq!(
        (added.len(), updated.len()),
        (1, 1),
        "{added:#?} {updated:#?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eligible_admin_activates_through_the_passkey_prompt() {
    if browser::skipped("activate-with-passkey") {
        return;
    }
    browser_ready().await;
    let env = Env::start(Backend::Sqlite).await.unwrap();
    tenant(&env).await;
    let (alice, secret) = eligible_admin(&env, "alice@example.test").await;
    // The rollout's first step: an administrator issues her a pass, under which the key she
    // registers counts for a phishing-resistant strength.
    let admin = env.user("admin@example.test", PASSWORD).await;
    assign(
        &env,
        &admin.id,
        PRIVILEGED_ROLE_ADMINISTRATOR,
        AssignmentStatus::Active,
        None,
    )
    .await;
    let allowed = env
        .state
        .authorize::<ManageRoles>(&app::Caller::new(admin))
        .await
        .unwrap();
    let issued = env
        .state
        .issue_access_pass(&allowed, &alice.id, PassRequest::default())
        .await
        .unwrap();

    browser::scenario(
        "activate-with-passkey.mjs",
        vec![
            ("PORTCULLIS_BASE", env.base.clone()),
            ("PORTCULLIS_UPN", alice.user_principal_name.clone()),
            ("PORTCULLIS_PASSWORD", PASSWORD.to_string()),
            ("PORTCULLIS_TOTP_SECRET", hex(&secret)),
            ("PORTCULLIS_PASS", issued.pass.expose_secret().to_string()),
            ("PORTCULLIS_ROLE_ID", APPLICATION_ADMINISTRATOR.to_string()),
            (
                "PORTCULLIS_ROLE_NAME",
                "Application Administrator".to_string(),
            ),
            ("PORTCULLIS_SCREENSHOTS", screenshots()),
        ],
    )
    .await;

    // What the pages said, through the store: her key counts (registered under the pass)…
    let keys = env.state.store.list_webauthn(&alice.id).await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(
        keys[0].provenance.as_ref().map(|p| p.proof.clone()),
        Some(RegistrationProof::TemporaryAccessPass)
    );
    // …one request was made, and it is the activation, with what the form sent…
    let requests = env
        .state
        .store
        .list_schedule_requests(&ScheduleRequestQuery {
            principal_id: Some(alice.id.clone()),
            ..ScheduleRequestQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let request = &requests[0].request;
    assert_eq!(requests[0].status(), pim::Status::Provisioned);
    assert_eq!(request.role_definition_id, APPLICATION_ADMINISTRATOR);
    assert_eq!(
        request.justification.as_deref(),
        Some("Incident 4711: rotate the signing key")
    );
    let ticket = request.ticket_info.as_ref().expect("the ticket was kept");
    assert_eq!(ticket.ticket_number.as_deref(), Some("INC-4711"));
    // …and the role is active, once, for the two hours chosen before the refused attempt.
    let active = common::pim::active_assignments(&env, &alice).await;
    assert_eq!(active.len(), 1, "{active:#?}");
    let assignment = &active[0].assignment;
    assert!(policy::ids::RoleId::trusted(APPLICATION_ADMINISTRATOR)
        .is(assignment.role_definition_id.as_str()));
    assert_eq!(
        assignment.end_at.map(|end| end - assignment.start_at),
        Some(chrono::Duration::hours(2))
    );
    // The proof was presented once; the replays never reached an activation.
    let completed =
        common::audits_named(&env, "Add member to role completed (PIM activation)").await;
    assert_eq!(completed.len(), 1, "{completed:#?}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_that_counts_my_roles_says_what_to_do() {
    if browser::skipped("no-counting-method") {
        return;
    }
    browser_ready().await;
    let env = Env::start(Backend::Sqlite).await.unwrap();
    tenant(&env).await;
    let (bob, secret) = eligible_admin(&env, "bob@example.test").await;
    // A key added with a password alone: no stronger than the password, so it does not count.
    common::passkey_registered_under(&env, &bob, RegistrationProof::PasswordOnly).await;

    browser::scenario(
        "no-counting-method.mjs",
        vec![
            ("PORTCULLIS_BASE", env.base.clone()),
            ("PORTCULLIS_UPN", bob.user_principal_name.clone()),
            ("PORTCULLIS_PASSWORD", PASSWORD.to_string()),
            ("PORTCULLIS_TOTP_SECRET", hex(&secret)),
            ("PORTCULLIS_ROLE_ID", APPLICATION_ADMINISTRATOR.to_string()),
            ("PORTCULLIS_SCREENSHOTS", screenshots()),
        ],
    )
    .await;

    // Nothing was offered that could fail: no request was recorded.
    let requests = env
        .state
        .store
        .list_schedule_requests(&ScheduleRequestQuery {
            principal_id: Some(bob.id.clone()),
            ..ScheduleRequestQuery::default()
        })
        .await
        .unwrap();
    assert!(requests.is_empty(), "{requests:#?}");
    env.stop().await;
}

/// The role of the approval scenario (not privileged: its settings can be anything).
const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
/// The role whose eligibility the approval scenario's requester asks to extend.
const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";

/// Security Reader's activation requires a justification and the approval of one of
/// `approvers` (user ids), who must give a justification too.
async fn approval_required(env: &Env, approvers: &[&str]) {
    let now = env.now();
    let mut policy = pim::RoleManagementPolicy::default_for(SECURITY_READER, now);
    let enablement = json!({
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
        "enabledRules": ["Justification"]
    });
    let approvers: Vec<_> = approvers
        .iter()
        .map(|id| json!({ "@odata.type": "#microsoft.graph.singleUser", "userId": id }))
        .collect();
    let approval = json!({
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
        "setting": {
            "isApprovalRequired": true,
            "approvalMode": "SingleStage",
            "approvalStages": [{
                "approvalStageTimeOutInDays": 1,
                "isApproverJustificationRequired": true,
                "escalationTimeInMinutes": 0,
                "isEscalationEnabled": false,
                "primaryApprovers": approvers,
                "escalationApprovers": []
            }]
        }
    });
    policy
        .patch_rule("Enablement_EndUser_Assignment", &enablement, now, None)
        .unwrap();
    policy
        .patch_rule("Approval_EndUser_Assignment", &approval, now, None)
        .unwrap();
    env.state.store.put_role_policy(&policy, 0).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_approves_in_another_browser_and_the_requester_never_decides() {
    if browser::skipped("approval") {
        return;
    }
    browser_ready().await;
    let env = Env::start(Backend::Sqlite).await.unwrap();
    env.policies(json!({ "conditionalAccessPolicies": [require_mfa()] }))
        .await;
    let riley = env.user("riley@example.test", PASSWORD).await;
    let riley_secret = env.totp(&riley).await;
    eligible(&env, &riley, SECURITY_READER).await;
    // And for Global Reader, until ten days from now.
    assign(
        &env,
        &riley.id,
        GLOBAL_READER,
        AssignmentStatus::Eligible,
        Some(env.now() + chrono::Duration::days(10)),
    )
    .await;
    let avery = env.user("avery@example.test", PASSWORD).await;
    let avery_secret = env.totp(&avery).await;
    // Riley approves this role's requests too — never her own.
    approval_required(&env, &[&avery.id, &riley.id]).await;

    browser::scenario(
        "approval.mjs",
        vec![
            ("PORTCULLIS_BASE", env.base.clone()),
            ("PORTCULLIS_PASSWORD", PASSWORD.to_string()),
            (
                "PORTCULLIS_REQUESTER_UPN",
                riley.user_principal_name.clone(),
            ),
            ("PORTCULLIS_REQUESTER_TOTP_SECRET", hex(&riley_secret)),
            ("PORTCULLIS_APPROVER_UPN", avery.user_principal_name.clone()),
            ("PORTCULLIS_APPROVER_TOTP_SECRET", hex(&avery_secret)),
            ("PORTCULLIS_ROLE_ID", SECURITY_READER.to_string()),
            ("PORTCULLIS_ROLE_NAME", "Security Reader".to_string()),
            ("PORTCULLIS_EXTENDABLE_ROLE_ID", GLOBAL_READER.to_string()),
            ("PORTCULLIS_SCREENSHOTS", screenshots()),
        ],
    )
    .await;

    // What the pages said, through the store: the extension waits for an administrator…
    let requests = env
        .state
        .store
        .list_schedule_requests(&ScheduleRequestQuery {
            principal_id: Some(riley.id.clone()),
            ..ScheduleRequestQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    let (extensions, activations): (Vec<_>, Vec<_>) = requests
        .iter()
        .partition(|r| r.kind == pim::ScheduleKind::Eligibility);
    assert_eq!(extensions.len(), 1, "{requests:#?}");
    assert_eq!(extensions[0].request.action(), pim::Action::SelfExtend);
    assert_eq!(extensions[0].status(), pim::Status::PendingAdminDecision);
    assert_eq!(
        extensions[0].request.justification.as_deref(),
        Some("The quarterly review needs another month")
    );
    // …and the activation was granted, with the form's justification…
    let request = activations[0];
    assert_eq!(request.status(), pim::Status::Provisioned);
    assert_eq!(
        request.request.justification.as_deref(),
        Some("Rotate the audit log's signing keys (CHG-1042)")
    );
    // …one decision, Avery's, with hers (Riley's attempt recorded nothing)…
    let decisions = env
        .state
        .store
        .list_approval_decisions(request.id())
        .await
        .unwrap();
    assert_eq!(decisions.len(), 1, "{decisions:#?}");
    assert_eq!(decisions[0].reviewed_by, avery.id);
    assert_eq!(decisions[0].review_result, store::ReviewResult::Approve);
    assert_eq!(
        decisions[0].justification,
        "CHG-1042 is in this week's change window"
    );
    // …the role active for the two hours chosen…
    let active = common::pim::active_assignments(&env, &riley).await;
    assert_eq!(active.len(), 1, "{active:#?}");
    let a = &active[0].assignment;
    assert_eq!(
        a.end_at.map(|end| end - a.start_at),
        Some(chrono::Duration::hours(2))
    );
    // …and the audit log records the approval by Avery, and Riley's refused attempt.
    let approved = common::audits_named(
        &env,
        "Add member to role completed (PIM activation approved)",
    )
    .await;
    assert_eq!(approved.len(), 1, "{approved:#?}");
    let entry = &approved[0].entry;
    assert_eq!(entry.initiated_by["user"]["id"], avery.id.as_str());
    assert_eq!(
        entry.initiated_by["user"]["userPrincipalName"],
        "avery@example.test"
    );
    assert_eq!(entry.correlation_id.as_deref(), Some(request.id()));
    let refused = common::audits_named(&env, "Approval decision refused").await;
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(
        refused[0].entry.initiated_by["user"]["id"],
        riley.id.as_str()
    );
    assert!(env
        .state
        .store
        .verify_audit_chain()
        .await
        .unwrap()
        .is_intact());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_goes_from_a_pass_to_a_passkey_to_on() {
    if browser::skipped("readiness") {
        return;
    }
    browser_ready().await;
    let env = Env::start(Backend::Sqlite).await.unwrap();
    tenant(&env).await;
    // Mid-rollout: the policy on c1 is not On yet, and neither is the one asking for MFA —
    // both report-only.
    let writer = env.user("ca@example.test", PASSWORD).await;
    assign(
        &env,
        &writer.id,
        policy::roles::BuiltInRole::ConditionalAccessAdministrator.template_id(),
        AssignmentStatus::Active,
        None,
    )
    .await;
    let allowed = env
        .state
        .authorize::<app::authz::ManageConditionalAccess>(&app::Caller::new(writer))
        .await
        .unwrap();
    for id in [REQUIRE_MFA_POLICY, TIER0_POLICY] {
        env.state
            .write_conditional_access_policy(
                &allowed,
                app::conditional_access::PolicyChange::Patch(
                    policy::ids::PolicyId::parse(id).unwrap(),
                    json!({ "state": "enabledForReportingButNotEnforced" }),
                ),
                app::conditional_access::LockoutGuard::Enforce,
            )
            .await
            .unwrap();
    }
    let (dana, _) = eligible_admin(&env, "dana@example.test").await;
    let admin = env.user("admin@example.test", PASSWORD).await;
    // Roles administrator and Conditional Access writer; users and the logs too, for the
    // accessibility check of every section.
    for role in [
        PRIVILEGED_ROLE_ADMINISTRATOR,
        policy::roles::BuiltInRole::ConditionalAccessAdministrator.template_id(),
        policy::roles::BuiltInRole::UserAdministrator.template_id(),
        policy::roles::BuiltInRole::SecurityReader.template_id(),
    ] {
        assign(&env, &admin.id, role, AssignmentStatus::Active, None).await;
    }

    browser::scenario(
        "readiness.mjs",
        vec![
            ("PORTCULLIS_BASE", env.base.clone()),
            ("PORTCULLIS_ADMIN_UPN", admin.user_principal_name.clone()),
            ("PORTCULLIS_PASSWORD", PASSWORD.to_string()),
            ("PORTCULLIS_PILOT_UPN", dana.user_principal_name.clone()),
            ("PORTCULLIS_ROLE_ID", APPLICATION_ADMINISTRATOR.to_string()),
            ("PORTCULLIS_POLICY_ID", TIER0_POLICY.to_string()),
            ("PORTCULLIS_SCREENSHOTS", screenshots()),
        ],
    )
    .await;

    // What the pages said, through the store: the pass the admin center issued was used for
    // the key, which counts…
    let passes = env.state.store.list_taps(&dana.id).await.unwrap();
    assert_eq!(passes.len(), 1, "{passes:?}");
    assert_eq!(passes[0].created_by, admin.id);
    assert!(passes[0].used_at.is_some());
    let keys = env.state.store.list_webauthn(&dana.id).await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(
        keys[0].provenance.as_ref().map(|p| p.proof.clone()),
        Some(RegistrationProof::TemporaryAccessPass)
    );
    // …the pilot activated once…
    assert_eq!(common::pim::active_assignments(&env, &dana).await.len(), 1);
    // …and the policy is On, switched by the admin through the audited write.
    let policies: Vec<policy::conditional_access::ConditionalAccessPolicy> = env
        .state
        .store
        .list_config(store::ConfigKind::Policy)
        .await
        .unwrap();
    let tier0 = policies
        .iter()
        .find(|p| p.id == TIER0_POLICY)
        .expect("the policy");
    assert_eq!(tier0.state.to_string(), "enabled");
    let switched = common::audits_named(&env, "Update conditional access policy").await;
    assert_eq!(switched.len(), 3, "{switched:#?}");
    assert!(switched[0]
        .entry
        .initiated_by
        .to_string()
        .contains(&admin.id));
    env.stop().await;
}
