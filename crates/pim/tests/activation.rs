//! Activation stories, from the request body to the request's final status.
//!
//! Each test builds a role's settings (Entra's defaults, patched as an administrator would through
//! Graph), checks a `selfActivate` body written as Graph JSON against facts the server would
//! gather, and walks the request through the state machine where the story goes on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use pim::state::{Decision, Event, InvalidTransition, RequestFlow};
use pim::step_up::StepUp;
use pim::validate::{ActiveAssignment, ActiveKind, Window};
use pim::{
    graph_error, lint_role_policy, validate_activation, ActivationFacts, FindingKind,
    RoleManagementPolicy, RoleRef, RuleId, RuleViolation, ScheduleRequest, Status, SubjectSet,
};
use policy::directory::GLOBAL_ADMINISTRATOR;
use policy::ids::UserId;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const ALICE: &str = "0d7c5a3e-1b7e-4c51-9f3c-2a7b9c1e4f10";
const BOB: &str = "6f1e2d3c-4b5a-4978-8a1b-c2d3e4f5a6b7";
const APPROVERS: &str = "a1b2c3d4-0000-4000-8000-00000000a11e";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 9, 30, 0).unwrap()
}

fn ga_policy() -> RoleManagementPolicy {
    RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now() - TimeDelta::days(30))
}

fn patch(policy: &mut RoleManagementPolicy, rule: &str, body: Value) {
    policy
        .patch_rule(rule, &body, now() - TimeDelta::days(1), None)
        .unwrap_or_else(|e| panic!("{rule}: {e}"));
}

fn require_context(policy: &mut RoleManagementPolicy, claim: &str) {
    patch(
        policy,
        "AuthenticationContext_EndUser_Assignment",
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
               "isEnabled": true, "claimValue": claim}),
    );
    patch(
        policy,
        "Enablement_EndUser_Assignment",
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
               "enabledRules": ["Justification"]}),
    );
}

fn activation(extra: Value) -> ScheduleRequest {
    let mut body = json!({
        "action": "selfActivate",
        "principalId": ALICE,
        "roleDefinitionId": GLOBAL_ADMINISTRATOR,
        "directoryScopeId": "/",
        "justification": "Incident INC-4711: restore the break-glass policy",
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT1H"}}
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    serde_json::from_value(body).unwrap()
}

fn eligible_alice(mfa_claim: bool) -> ActivationFacts {
    ActivationFacts {
        eligibility: Some(Window {
            start: now() - TimeDelta::days(90),
            end: Some(now() + TimeDelta::days(200)),
        }),
        active: None,
        session_has_mfa_claim: mfa_claim,
        step_up: StepUp::NotPresented,
    }
}

fn flow(plan: &pim::ActivationPlan, approver_stages: Vec<BTreeSet<UserId>>) -> RequestFlow {
    RequestFlow {
        requester: UserId::trusted(ALICE),
        needs_step_up: plan.needs_step_up.is_some(),
        decision: if plan.needs_approval.is_some() {
            Decision::Approval(approver_stages)
        } else {
            Decision::Automatic
        },
    }
}

#[test]
fn mfa_only_role_activates_on_a_30_minute_old_mfa_claim_and_lint_flags_it() {
    let policy = ga_policy();
    // The session did password + TOTP half an hour ago: its token carries amr ["pwd","otp","mfa"].
    let plan = validate_activation(
        &policy,
        &activation(json!({})),
        &eligible_alice(true),
        now(),
    )
    .unwrap();
    assert!(plan.mfa_claim_check);
    assert_eq!(plan.needs_step_up, None);
    assert_eq!(plan.initial_status(), Status::Granted, "no prompt at all");

    let findings = lint_role_policy(&RoleRef::from_id(GLOBAL_ADMINISTRATOR), &policy);
    let claim = findings
        .iter()
        .find(|f| f.kind == FindingKind::ActivationClaimCheck)
        .expect("the claim check is flagged");
    assert_eq!(claim.rule_id, "Enablement_EndUser_Assignment");
    assert!(claim.message.contains("phishing-resistant"));
}

#[test]
fn mfa_only_role_without_mfa_claim_is_refused_with_graphs_mfa_rule() {
    let err = validate_activation(
        &ga_policy(),
        &activation(json!({})),
        &eligible_alice(false),
        now(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        vec![RuleViolation::MfaRequired {
            rule_id: RuleId::EnablementEndUserAssignment
        }]
    );
    let e = graph_error(&err).unwrap();
    assert_eq!(e.code, "RoleAssignmentRequestPolicyValidationFailed");
    assert!(e
        .message
        .starts_with(r#"The following policy rules failed: ["MfaRule"]"#));
}

#[test]
fn context_role_waits_in_pending_step_up_whatever_the_session_already_did() {
    let mut policy = ga_policy();
    require_context(&mut policy, "c1");
    // An MFA claim in the session changes nothing: the context supersedes the claim check.
    let plan = validate_activation(
        &policy,
        &activation(json!({})),
        &eligible_alice(true),
        now(),
    )
    .unwrap();
    assert_eq!(
        plan.needs_step_up.map(|c| c.to_string()),
        Some("c1".to_string())
    );
    assert!(!plan.mfa_claim_check);
    assert_eq!(plan.initial_status(), Status::PendingStepUp);

    let f = flow(&plan, vec![]);
    let recorded = f.start();
    assert_eq!(recorded.status, Status::PendingStepUp);
    // Nothing but the verified step-up moves it forward.
    for e in [
        Event::Provisioned,
        Event::Approved {
            by: UserId::trusted(BOB),
        },
    ] {
        assert!(f.transition(&recorded, &e).is_err(), "{e:?}");
    }
    let granted = f.transition(&recorded, &Event::StepUpVerified).unwrap();
    assert_eq!(granted.status, Status::Granted);
    let active = f.transition(&granted, &Event::Provisioned).unwrap();
    assert_eq!(active.status, Status::Provisioned);

    // Checked again once the server verified the step-up proof bound to this request.
    let facts = ActivationFacts {
        step_up: support::verified_step_up(ALICE, GLOBAL_ADMINISTRATOR, now()),
        ..eligible_alice(false)
    };
    let plan = validate_activation(&policy, &activation(json!({})), &facts, now()).unwrap();
    assert_eq!(plan.needs_step_up, None);
    assert_eq!(plan.initial_status(), Status::Granted);
    assert!(
        lint_role_policy(&RoleRef::from_id(GLOBAL_ADMINISTRATOR), &policy)
            .iter()
            .all(|f| f.kind != FindingKind::ActivationClaimCheck)
    );
}

#[test]
fn a_step_up_that_is_never_made_fails_the_request() {
    let mut policy = ga_policy();
    require_context(&mut policy, "c7");
    let plan = validate_activation(
        &policy,
        &activation(json!({})),
        &eligible_alice(true),
        now(),
    )
    .unwrap();
    let f = flow(&plan, vec![]);
    let failed = f.transition(&f.start(), &Event::Expired).unwrap();
    assert_eq!(failed.status, Status::Failed);
    assert!(matches!(
        f.transition(&failed, &Event::StepUpVerified),
        Err(InvalidTransition::Final { .. })
    ));
}

#[test]
fn approval_required_the_request_waits_and_the_requester_cannot_approve_it() {
    let mut policy = ga_policy();
    require_context(&mut policy, "c1");
    patch(
        &mut policy,
        "Approval_EndUser_Assignment",
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
               "setting": {"isApprovalRequired": true, "approvalMode": "SingleStage",
                  "approvalStages": [{"approvalStageTimeOutInDays": 1,
                     "isApproverJustificationRequired": true, "escalationTimeInMinutes": 0,
                     "isEscalationEnabled": false, "escalationApprovers": [],
                     "primaryApprovers": [
                        {"@odata.type": "#microsoft.graph.groupMembers", "groupId": APPROVERS}]}]}}),
    );
    let facts = ActivationFacts {
        step_up: support::verified_step_up(ALICE, GLOBAL_ADMINISTRATOR, now()),
        ..eligible_alice(false)
    };
    let plan = validate_activation(&policy, &activation(json!({})), &facts, now()).unwrap();
    let stages = plan.needs_approval.clone().expect("approval needed");
    assert_eq!(stages.0.len(), 1);
    assert_eq!(
        stages.0[0].primary_approvers,
        vec![SubjectSet::group(APPROVERS)]
    );
    assert_eq!(plan.initial_status(), Status::PendingApproval);

    // The server resolved the group: Alice herself and Bob are members.
    let members: BTreeSet<UserId> = [ALICE.to_uppercase(), BOB.to_string()]
        .into_iter()
        .map(UserId::trusted)
        .collect();
    let f = flow(&plan, vec![members]);
    let waiting = f.start();
    assert_eq!(waiting.status, Status::PendingApproval);
    assert_eq!(
        f.transition(
            &waiting,
            &Event::Approved {
                by: UserId::trusted(ALICE)
            }
        ),
        Err(InvalidTransition::SelfApproval)
    );
    let granted = f
        .transition(
            &waiting,
            &Event::Approved {
                by: UserId::trusted(BOB),
            },
        )
        .unwrap();
    assert_eq!(granted.status, Status::Granted);
}

#[test]
fn approval_required_without_justification_names_both_rules() {
    let mut policy = ga_policy();
    patch(
        &mut policy,
        "Enablement_EndUser_Assignment",
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
               "enabledRules": ["MultiFactorAuthentication"]}),
    );
    patch(
        &mut policy,
        "Approval_EndUser_Assignment",
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
               "setting": {"isApprovalRequired": true, "isRequestorJustificationRequired": true,
                  "approvalStages": [{"primaryApprovers": [
                      {"@odata.type": "#microsoft.graph.singleUser", "userId": BOB}]}]}}),
    );
    let err = validate_activation(
        &policy,
        &activation(json!({"justification": "  "})),
        &eligible_alice(true),
        now(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        vec![RuleViolation::JustificationRequired {
            rule_id: RuleId::ApprovalEndUserAssignment
        }]
    );
}

#[test]
fn the_end_is_clipped_to_the_end_of_eligibility_and_the_plan_says_so() {
    let facts = ActivationFacts {
        eligibility: Some(Window {
            start: now() - TimeDelta::days(1),
            end: Some(now() + TimeDelta::minutes(20)),
        }),
        ..eligible_alice(true)
    };
    let plan = validate_activation(&ga_policy(), &activation(json!({})), &facts, now()).unwrap();
    assert_eq!(plan.end, Some(now() + TimeDelta::minutes(20)));
    assert!(plan.end_clipped_to_eligibility);

    let plan = validate_activation(
        &ga_policy(),
        &activation(json!({})),
        &eligible_alice(true),
        now(),
    )
    .unwrap();
    assert_eq!(plan.end, Some(now() + TimeDelta::hours(1)));
    assert!(!plan.end_clipped_to_eligibility);
}

#[test]
fn durations_and_ends_are_held_to_the_maximum() {
    let policy = ga_policy();
    let facts = eligible_alice(true);
    let check = |schedule: Value| {
        validate_activation(
            &policy,
            &activation(json!({"scheduleInfo": schedule})),
            &facts,
            now(),
        )
    };
    // No expiration: the maximum.
    assert_eq!(
        check(json!({})).unwrap().end,
        Some(now() + TimeDelta::hours(8))
    );
    // Exactly the maximum, as a duration or an end.
    assert!(check(json!({"expiration": {"type": "afterDuration", "duration": "PT8H"}})).is_ok());
    let end = (now() + TimeDelta::hours(8)).to_rfc3339();
    assert!(check(json!({"expiration": {"type": "afterDateTime", "endDateTime": end}})).is_ok());
    // One minute more, either way.
    for exp in [
        json!({"type": "afterDuration", "duration": "PT8H1M"}),
        json!({"type": "afterDateTime", "endDateTime": (now() + TimeDelta::minutes(481)).to_rfc3339()}),
    ] {
        let err = check(json!({"expiration": exp})).unwrap_err();
        assert!(
            matches!(err[..], [RuleViolation::DurationTooLong { .. }]),
            "{exp}: {err:?}"
        );
    }
    // Never ending is not an option for an activation.
    let err = check(json!({"expiration": {"type": "noExpiration"}})).unwrap_err();
    assert_eq!(
        err,
        vec![RuleViolation::ExpirationRequired {
            rule_id: RuleId::ExpirationEndUserAssignment
        }]
    );
}

#[test]
fn starts_in_the_past_or_after_eligibility_are_refused() {
    let policy = ga_policy();
    let facts = eligible_alice(true);
    let at = |t: DateTime<Utc>| json!({"scheduleInfo": {"startDateTime": t.to_rfc3339()}});
    // Clock skew of four minutes is tolerated; the activation starts now.
    let plan = validate_activation(
        &policy,
        &activation(at(now() - TimeDelta::minutes(4))),
        &facts,
        now(),
    )
    .unwrap();
    assert_eq!(plan.start, now());
    let err = validate_activation(
        &policy,
        &activation(at(now() - TimeDelta::minutes(6))),
        &facts,
        now(),
    )
    .unwrap_err();
    assert!(
        matches!(err[..], [RuleViolation::StartInPast { .. }]),
        "{err:?}"
    );
    let late = now() + TimeDelta::days(201);
    let err = validate_activation(&policy, &activation(at(late)), &facts, now()).unwrap_err();
    assert!(
        matches!(err[..], [RuleViolation::StartAfterEligibilityEnds { .. }]),
        "{err:?}"
    );
}

#[test]
fn not_eligible_or_already_active_is_refused() {
    let policy = ga_policy();
    let none = ActivationFacts {
        eligibility: None,
        ..eligible_alice(true)
    };
    let err = validate_activation(&policy, &activation(json!({})), &none, now()).unwrap_err();
    assert_eq!(err, vec![RuleViolation::NotEligible]);
    assert!(graph_error(&err)
        .unwrap()
        .message
        .contains(r#"["EligibilityRule"]"#));

    let expired = ActivationFacts {
        eligibility: Some(Window {
            start: now() - TimeDelta::days(400),
            end: Some(now() - TimeDelta::days(35)),
        }),
        ..eligible_alice(true)
    };
    let err = validate_activation(&policy, &activation(json!({})), &expired, now()).unwrap_err();
    assert_eq!(err, vec![RuleViolation::NotEligible]);

    let active = ActivationFacts {
        active: Some(ActiveAssignment {
            window: Window {
                start: now() - TimeDelta::hours(1),
                end: Some(now() + TimeDelta::hours(1)),
            },
            assignment_type: ActiveKind::Activated,
        }),
        ..eligible_alice(true)
    };
    let err = validate_activation(&policy, &activation(json!({})), &active, now()).unwrap_err();
    assert_eq!(graph_error(&err).unwrap().code, "RoleAssignmentExists");
}

#[test]
fn ticketing_needs_both_number_and_system() {
    let mut policy = ga_policy();
    patch(
        &mut policy,
        "Enablement_EndUser_Assignment",
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
               "enabledRules": ["MultiFactorAuthentication", "Justification", "Ticketing"]}),
    );
    let facts = eligible_alice(true);
    let err = validate_activation(
        &policy,
        &activation(json!({"ticketInfo": {"ticketNumber": "INC-4711"}})),
        &facts,
        now(),
    )
    .unwrap_err();
    assert!(graph_error(&err)
        .unwrap()
        .message
        .contains(r#"["TicketingRule"]"#));
    assert!(validate_activation(
        &policy,
        &activation(
            json!({"ticketInfo": {"ticketNumber": "INC-4711", "ticketSystem": "ServiceNow"}})
        ),
        &facts,
        now()
    )
    .is_ok());
}

#[test]
fn an_imported_policy_with_a_broken_context_rule_refuses_activation() {
    // An export whose context rule is enabled with no claim: Portcullis does not guess.
    let mut json = serde_json::to_value(ga_policy()).unwrap();
    for rule in json["rules"].as_array_mut().unwrap() {
        if rule["id"] == "AuthenticationContext_EndUser_Assignment" {
            rule["isEnabled"] = json!(true);
            rule["claimValue"] = json!("");
        }
    }
    let policy: RoleManagementPolicy = serde_json::from_value(json).unwrap();
    let err = validate_activation(
        &policy,
        &activation(json!({})),
        &eligible_alice(true),
        now(),
    )
    .unwrap_err();
    assert!(
        matches!(&err[..], [RuleViolation::PolicyMisconfigured { rule_id, .. }]
            if *rule_id == RuleId::AuthenticationContextEndUserAssignment),
        "{err:?}"
    );
    let findings = lint_role_policy(&RoleRef::from_id(GLOBAL_ADMINISTRATOR), &policy);
    assert!(findings.iter().any(|f| f.kind == FindingKind::InvalidRule
        && f.rule_id == "AuthenticationContext_EndUser_Assignment"));
}
