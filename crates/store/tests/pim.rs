//! Storage for privileged identity management: versioned role settings, schedule requests whose
//! status changes by compare-and-set (two approvals or two step-up completions never both win),
//! single-use step-up proofs, activations that Conditional Access sees at once, deactivation, and
//! the durable expiry job (once, across a restart and across nodes), each change stored with its
//! audit entry. Every test runs on SQLite and PostgreSQL (see `support`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use pim::{Action, RoleManagementPolicy, ScheduleKind, ScheduleRequest, Status};
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR};
use policy::ids::{PrincipalId, RoleId};
use serde_json::json;
use std::sync::Arc;
use store::*;
use support::{t, Ctx};

on_both_backends!(
    role_policies_are_versioned,
    concurrent_policy_writers_have_one_winner,
    schedule_requests_round_trip_and_filter,
    invalid_requests_are_refused,
    transitions_are_compare_and_set,
    concurrent_approvals_have_one_winner,
    concurrent_stage_approvals_have_one_winner,
    step_up_proofs_are_single_use,
    concurrent_proof_consumption_has_one_winner,
    concurrent_step_up_completions_activate_once,
    a_used_proof_cannot_activate_another_request,
    activation_is_an_active_assignment_with_its_audit_entry,
    a_mismatched_activation_changes_nothing,
    expiry_happens_once_even_after_a_restart,
    concurrent_expiry_jobs_close_each_assignment_once,
    deactivation_ends_an_assignment_once,
    rescheduling_extends_an_assignment,
    scheduled_assignments_filter,
    concurrent_final_approvals_activate_once,
    a_refused_approval_records_nothing,
    self_deactivation_is_one_change,
);

// ---------------------------------------------------------------------------------------------
// Helpers

async fn user(s: &Store, upn: &str) -> User {
    let user = User::new(upn, upn, t(0));
    s.create_user(&user).await.unwrap();
    user
}

fn activation(principal: &str, role: &str, status: Status) -> ScheduleRequest {
    serde_json::from_value(json!({
        "action": "selfActivate",
        "principalId": principal,
        "roleDefinitionId": role,
        "directoryScopeId": "/",
        "justification": "Incident 42",
        "ticketInfo": {"ticketNumber": "INC-42", "ticketSystem": "Jira"},
        "scheduleInfo": {"startDateTime": "2026-01-01T00:00:00Z",
                         "expiration": {"type": "afterDuration", "duration": "PT1H"}},
        "status": status.as_str(),
        "somethingNew": {"kept": true}
    }))
    .unwrap()
}

async fn request(s: &Store, principal: &str, status: Status) -> ScheduleRequestRecord {
    s.create_schedule_request(
        ScheduleKind::Assignment,
        &activation(principal, GLOBAL_ADMINISTRATOR, status),
        t(10),
        None,
    )
    .await
    .unwrap()
}

fn active(id: &str, principal: &str, start: i64, end: i64) -> RoleAssignment {
    RoleAssignment {
        id: id.into(),
        principal_id: PrincipalId::trusted(principal),
        role_definition_id: RoleId::trusted(GLOBAL_ADMINISTRATOR),
        directory_scope_id: "/".into(),
        status: AssignmentStatus::Active,
        start_at: t(start),
        end_at: Some(t(end)),
    }
}

fn entry(activity: &str, at: i64, request_id: &str) -> AuditEntry {
    AuditEntry::new("RoleManagement", activity, "Add", t(at))
        .by_user("actor", Some("actor@example.test"))
        .target("Role", GLOBAL_ADMINISTRATOR, Some("Global Administrator"))
        .correlation(request_id)
}

/// Runs `contenders` copies of `attempt` at once and counts the winners.
async fn race<F, Fut>(contenders: usize, attempt: F) -> usize
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let tasks: Vec<_> = (0..contenders).map(|i| tokio::spawn(attempt(i))).collect();
    let mut winners = 0;
    for task in tasks {
        if task.await.unwrap() {
            winners += 1;
        }
    }
    winners
}

async fn audits_for(s: &Store, request_id: &str) -> Vec<AuditRecord> {
    s.query_audits(&AuditQuery {
        correlation_id: Some(request_id.into()),
        ..AuditQuery::default()
    })
    .await
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Role settings

async fn role_policies_are_versioned(ctx: Ctx) {
    let s = &ctx.store;
    assert!(s
        .get_role_policy(GLOBAL_ADMINISTRATOR)
        .await
        .unwrap()
        .is_none());
    let mut policy = RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, t(0));
    assert_eq!(s.put_role_policy(&policy, 0).await.unwrap(), 1);
    // A second first write is stale.
    assert!(s
        .put_role_policy(&policy, 0)
        .await
        .unwrap_err()
        .is_conflict());

    policy.description = "changed".into();
    assert_eq!(s.put_role_policy(&policy, 1).await.unwrap(), 2);
    // Written by someone who read version 1: refused, and nothing changes.
    let mut stale = policy.clone();
    stale.description = "stale".into();
    assert!(s
        .put_role_policy(&stale, 1)
        .await
        .unwrap_err()
        .is_conflict());
    assert!(s
        .put_role_policy(&stale, 7)
        .await
        .unwrap_err()
        .is_conflict());

    let stored = s
        .get_role_policy(GLOBAL_ADMINISTRATOR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.role_definition_id, GLOBAL_ADMINISTRATOR);
    assert_eq!(stored.policy, policy);
    assert_eq!(stored.policy.rules.len(), 17);

    // With its audit entry, in one transaction.
    let other = RoleManagementPolicy::default_for(PRIVILEGED_ROLE_ADMINISTRATOR, t(0));
    let audit = AuditEntry::new(
        "RoleManagement",
        "Update role setting in PIM",
        "Update",
        t(5),
    );
    let (version, record) = s.put_role_policy_audited(&other, 0, &audit).await.unwrap();
    assert_eq!((version, record.seq), (1, 1));
    // A stale audited write appends nothing.
    assert!(s
        .put_role_policy_audited(&other, 0, &audit)
        .await
        .unwrap_err()
        .is_conflict());
    assert_eq!(s.verify_audit_chain().await.unwrap().entries, 1);

    let all = s.list_role_policies().await.unwrap();
    let roles: Vec<&str> = all.iter().map(|p| p.role_definition_id.as_str()).collect();
    let mut expected = vec![GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR];
    expected.sort();
    assert_eq!(roles, expected);

    // The role is named by the policy id; an unknown role or a foreign id is refused.
    let mut bad = policy.clone();
    bad.id = "Custom_policy".into();
    assert!(matches!(
        s.put_role_policy(&bad, 0).await,
        Err(StoreError::Invalid { .. })
    ));
    let unknown = RoleManagementPolicy::default_for("no-such-role", t(0));
    assert!(s
        .put_role_policy(&unknown, 0)
        .await
        .unwrap_err()
        .is_conflict());
}

async fn concurrent_policy_writers_have_one_winner(ctx: Ctx) {
    let s = ctx.store.clone();
    let policy = RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, t(0));
    s.put_role_policy(&policy, 0).await.unwrap();
    let winners = race(8, |i| {
        let s = s.clone();
        let mut p = policy.clone();
        p.description = format!("writer {i}");
        async move {
            match s.put_role_policy(&p, 1).await {
                Ok(v) => {
                    assert_eq!(v, 2);
                    true
                }
                Err(e) => {
                    assert!(e.is_conflict(), "{e:?}");
                    false
                }
            }
        }
    })
    .await;
    assert_eq!(winners, 1);
    let stored = s
        .get_role_policy(GLOBAL_ADMINISTRATOR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 2);
    assert!(stored.policy.description.starts_with("writer "));
}

// ---------------------------------------------------------------------------------------------
// Schedule requests

async fn schedule_requests_round_trip_and_filter(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let bob = user(s, "bob@example.test").await;

    let pending = request(s, &alice.id, Status::PendingStepUp).await;
    assert_eq!(pending.status(), Status::PendingStepUp);
    assert_eq!(pending.kind, ScheduleKind::Assignment);
    assert_eq!(pending.approval_stage, 0);
    assert_eq!(pending.request.created_date_time, Some(t(10)));
    assert_eq!(pending.request.completed_date_time, None);
    assert_eq!(pending.request.action, Some(Action::SelfActivate));
    assert_eq!(
        pending.request.extra.get("somethingNew"),
        Some(&json!({"kept": true}))
    );
    let nonce = pending.step_up_nonce.clone().unwrap();
    assert_eq!(nonce.len(), 64);
    assert!(nonce.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(s.get_schedule_request(pending.id()).await.unwrap(), pending);
    assert_eq!(
        s.find_schedule_request_by_nonce(&nonce).await.unwrap(),
        pending
    );
    assert!(s
        .find_schedule_request_by_nonce("nope")
        .await
        .unwrap_err()
        .is_not_found());

    // Another request gets another nonce; a request not waiting for a step-up gets none.
    let other = request(s, &alice.id, Status::PendingStepUp).await;
    assert_ne!(other.step_up_nonce.as_deref(), Some(nonce.as_str()));
    let granted = request(s, &bob.id, Status::Granted).await;
    assert_eq!(granted.step_up_nonce, None);
    let mut eligibility = activation(&bob.id, PRIVILEGED_ROLE_ADMINISTRATOR, Status::Provisioned);
    eligibility.action = Some(Action::AdminAssign);
    eligibility.id = Some("given-id".into());
    let eligibility = s
        .create_schedule_request(ScheduleKind::Eligibility, &eligibility, t(20), None)
        .await
        .unwrap();
    assert_eq!(eligibility.id(), "given-id");
    assert!(s
        .get_schedule_request("missing")
        .await
        .unwrap_err()
        .is_not_found());

    let ids = |records: Vec<ScheduleRequestRecord>| -> Vec<String> {
        records.iter().map(|r| r.id().to_string()).collect()
    };
    let all = s
        .list_schedule_requests(&ScheduleRequestQuery::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].id(), "given-id"); // newest first
    let of_alice = ScheduleRequestQuery {
        principal_id: Some(alice.id.clone()),
        ..Default::default()
    };
    assert_eq!(s.list_schedule_requests(&of_alice).await.unwrap().len(), 2);
    let waiting = ScheduleRequestQuery {
        status: Some(Status::PendingStepUp),
        ..Default::default()
    };
    assert_eq!(s.list_schedule_requests(&waiting).await.unwrap().len(), 2);
    let eligible_kind = ScheduleRequestQuery {
        kind: Some(ScheduleKind::Eligibility),
        ..Default::default()
    };
    assert_eq!(
        ids(s.list_schedule_requests(&eligible_kind).await.unwrap()),
        vec!["given-id".to_string()]
    );
    let for_role = ScheduleRequestQuery {
        role_definition_id: Some(PRIVILEGED_ROLE_ADMINISTRATOR.into()),
        ..Default::default()
    };
    assert_eq!(s.list_schedule_requests(&for_role).await.unwrap().len(), 1);
    let old = ScheduleRequestQuery {
        created_before: Some(t(20)),
        limit: 2,
        ..Default::default()
    };
    assert_eq!(s.list_schedule_requests(&old).await.unwrap().len(), 2);
    let bob_granted = ScheduleRequestQuery {
        principal_id: Some(bob.id.clone()),
        status: Some(Status::Granted),
        kind: Some(ScheduleKind::Assignment),
        ..Default::default()
    };
    assert_eq!(
        ids(s.list_schedule_requests(&bob_granted).await.unwrap()),
        vec![granted.id().to_string()]
    );

    // Recording the same id twice is a conflict; recording with an audit entry appends it.
    let mut again = activation(&bob.id, GLOBAL_ADMINISTRATOR, Status::Granted);
    again.id = Some("given-id".into());
    assert!(s
        .create_schedule_request(ScheduleKind::Assignment, &again, t(30), None)
        .await
        .unwrap_err()
        .is_conflict());
    again.id = Some("audited".into());
    s.create_schedule_request(
        ScheduleKind::Assignment,
        &again,
        t(30),
        Some(&entry(
            "Add member to role request (PIM activation)",
            30,
            "audited",
        )),
    )
    .await
    .unwrap();
    assert_eq!(audits_for(s, "audited").await.len(), 1);
}

async fn invalid_requests_are_refused(ctx: Ctx) {
    let s = &ctx.store;
    let base = activation("p", GLOBAL_ADMINISTRATOR, Status::Granted);
    let cases: Vec<ScheduleRequest> = vec![
        ScheduleRequest {
            action: None,
            ..base.clone()
        },
        ScheduleRequest {
            status: None,
            ..base.clone()
        },
        ScheduleRequest {
            principal_id: String::new(),
            ..base.clone()
        },
        ScheduleRequest {
            role_definition_id: String::new(),
            ..base.clone()
        },
    ];
    for case in cases {
        assert!(
            matches!(
                s.create_schedule_request(ScheduleKind::Assignment, &case, t(0), None)
                    .await,
                Err(StoreError::Invalid { .. })
            ),
            "{case:?}"
        );
    }
    assert!(s
        .list_schedule_requests(&ScheduleRequestQuery::default())
        .await
        .unwrap()
        .is_empty());
}

async fn transitions_are_compare_and_set(ctx: Ctx) {
    let s = &ctx.store;
    let r = request(s, "alice", Status::PendingApproval).await;
    let id = r.id().to_string();

    // Not at the stated status: nothing changes.
    assert!(!s
        .transition_schedule_request(
            &id,
            &Status::Granted,
            &Status::Provisioned,
            t(20),
            &json!(null)
        )
        .await
        .unwrap());
    // Pending to pending: no completion time.
    assert!(s
        .transition_schedule_request(
            &id,
            &Status::PendingApproval,
            &Status::PendingApproval,
            t(15),
            &json!({"approvalId": "approval-1", "customData": "stage note"})
        )
        .await
        .unwrap());
    let read = s.get_schedule_request(&id).await.unwrap();
    assert_eq!(read.request.approval_id.as_deref(), Some("approval-1"));
    assert_eq!(read.request.custom_data.as_deref(), Some("stage note"));
    assert_eq!(read.request.completed_date_time, None);
    assert_eq!(read.updated_at, t(15));

    // The patch cannot change what the columns hold; null removes a field.
    assert!(s
        .transition_schedule_request(
            &id,
            &Status::PendingApproval,
            &Status::Granted,
            t(20),
            &json!({"principalId": "mallory", "status": "Provisioned", "id": "x",
                    "customData": null})
        )
        .await
        .unwrap());
    let read = s.get_schedule_request(&id).await.unwrap();
    assert_eq!(read.status(), Status::Granted);
    assert_eq!(read.request.principal_id, "alice");
    assert_eq!(read.id(), id);
    assert_eq!(read.request.custom_data, None);
    assert_eq!(read.request.justification.as_deref(), Some("Incident 42"));
    assert_eq!(read.request.completed_date_time, Some(t(20)));

    // The completion time is the first one.
    assert!(s
        .transition_schedule_request(&id, &Status::Granted, &Status::Canceled, t(30), &json!({}))
        .await
        .unwrap());
    let read = s.get_schedule_request(&id).await.unwrap();
    assert_eq!(read.status(), Status::Canceled);
    assert_eq!(read.request.completed_date_time, Some(t(20)));

    // A patch that is not an object is refused, and rolls the transition back.
    assert!(matches!(
        s.transition_schedule_request(&id, &Status::Canceled, &Status::Failed, t(40), &json!(3))
            .await,
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(
        s.get_schedule_request(&id).await.unwrap().status(),
        Status::Canceled
    );
    assert!(s
        .transition_schedule_request(
            "missing",
            &Status::Granted,
            &Status::Failed,
            t(40),
            &json!(null)
        )
        .await
        .unwrap_err()
        .is_not_found());

    // With an audit entry: appended only when the transition happens.
    let r2 = request(s, "alice", Status::PendingApproval).await;
    let deny = RequestTransition::new(r2.id(), Status::PendingApproval, Status::Denied, t(50));
    let audit = entry("Add member to role request denied (PIM)", 50, r2.id());
    let outcome = s
        .transition_schedule_request_with(&deny, Some(&audit))
        .await
        .unwrap();
    assert_eq!(outcome.applied().unwrap().status(), Status::Denied);
    assert_eq!(
        s.transition_schedule_request_with(&deny, Some(&audit))
            .await
            .unwrap(),
        TransitionOutcome::NotInState
    );
    assert_eq!(audits_for(s, r2.id()).await.len(), 1);
}

async fn concurrent_approvals_have_one_winner(ctx: Ctx) {
    let s = ctx.store.clone();
    let r = request(&s, "alice", Status::PendingApproval).await;
    let id = r.id().to_string();
    let winners = race(8, |i| {
        let s = s.clone();
        let id = id.clone();
        async move {
            let approve =
                RequestTransition::new(&id, Status::PendingApproval, Status::Granted, t(20))
                    .with_patch(json!({"customData": format!("approver {i}")}));
            let audit = entry("Approve request (PIM)", 20, &id);
            s.transition_schedule_request_with(&approve, Some(&audit))
                .await
                .unwrap()
                .is_applied()
        }
    })
    .await;
    assert_eq!(winners, 1);
    assert_eq!(
        s.get_schedule_request(&id).await.unwrap().status(),
        Status::Granted
    );
    // Only the winner's audit entry exists.
    assert_eq!(audits_for(&s, &id).await.len(), 1);
    assert!(s.verify_audit_chain().await.unwrap().is_intact());
}

async fn concurrent_stage_approvals_have_one_winner(ctx: Ctx) {
    let s = ctx.store.clone();
    let r = request(&s, "alice", Status::PendingApproval).await;
    let id = r.id().to_string();
    // Approvers of stage 1 (index 0) race to move the request to stage 2 (index 1).
    let winners = race(8, |_| {
        let s = s.clone();
        let id = id.clone();
        async move {
            let advance = RequestTransition::new(
                &id,
                Status::PendingApproval,
                Status::PendingApproval,
                t(20),
            )
            .at_stage(0)
            .to_stage(1);
            s.transition_schedule_request_with(&advance, None)
                .await
                .unwrap()
                .is_applied()
        }
    })
    .await;
    assert_eq!(winners, 1);
    let read = s.get_schedule_request(&id).await.unwrap();
    assert_eq!(
        (read.status(), read.approval_stage),
        (Status::PendingApproval, 1)
    );
    // A stale stage-1 decision no longer applies; a stage-2 one does.
    let stale =
        RequestTransition::new(&id, Status::PendingApproval, Status::Granted, t(30)).at_stage(0);
    assert_eq!(
        s.transition_schedule_request_with(&stale, None)
            .await
            .unwrap(),
        TransitionOutcome::NotInState
    );
    let last =
        RequestTransition::new(&id, Status::PendingApproval, Status::Granted, t(30)).at_stage(1);
    assert!(s
        .transition_schedule_request_with(&last, None)
        .await
        .unwrap()
        .is_applied());
}

// ---------------------------------------------------------------------------------------------
// Step-up proofs

async fn step_up_proofs_are_single_use(ctx: Ctx) {
    let s = &ctx.store;
    assert!(s
        .consume_step_up_proof("jti-1", "req-1", t(10))
        .await
        .unwrap());
    assert!(!s
        .consume_step_up_proof("jti-1", "req-1", t(11))
        .await
        .unwrap());
    // For another request: still spent.
    assert!(!s
        .consume_step_up_proof("jti-1", "req-2", t(12))
        .await
        .unwrap());
    assert!(s
        .consume_step_up_proof("jti-2", "req-2", t(12))
        .await
        .unwrap());

    // Purging forgets proofs consumed before the time given, not after.
    assert_eq!(s.purge_step_up_proofs(t(11)).await.unwrap(), 1);
    assert!(!s
        .consume_step_up_proof("jti-2", "req-2", t(13))
        .await
        .unwrap());
}

async fn concurrent_proof_consumption_has_one_winner(ctx: Ctx) {
    let s = ctx.store.clone();
    let winners = race(8, |i| {
        let s = s.clone();
        async move {
            s.consume_step_up_proof("shared-jti", &format!("req-{}", i % 2), t(10))
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(winners, 1);
}

async fn concurrent_step_up_completions_activate_once(ctx: Ctx) {
    let s = ctx.store.clone();
    let alice = user(&s, "alice@example.test").await;
    let r = request(&s, &alice.id, Status::PendingStepUp).await;
    let id = r.id().to_string();
    let alice_id = alice.id.clone();
    // Eight completions, each with its own fresh proof: one activation.
    let winners = race(8, |i| {
        let s = s.clone();
        let id = id.clone();
        let alice_id = alice_id.clone();
        async move {
            let complete =
                RequestTransition::new(&id, Status::PendingStepUp, Status::Provisioned, t(20))
                    .consuming_proof(&format!("jti-{i}"));
            let assignment = active(&format!("assignment-{i}"), &alice_id, 20, 3620);
            let audit = entry("Add member to role completed (PIM activation)", 20, &id);
            s.activate_with(&complete, &assignment, &audit)
                .await
                .unwrap()
                .is_applied()
        }
    })
    .await;
    assert_eq!(winners, 1);
    let read = s.get_schedule_request(&id).await.unwrap();
    assert_eq!(read.status(), Status::Provisioned);
    let made = s
        .list_scheduled_assignments(&AssignmentQuery {
            request_id: Some(id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(made.len(), 1);
    assert_eq!(
        read.request.target_schedule_id.as_deref(),
        Some(made[0].assignment.id.as_str())
    );
    assert_eq!(audits_for(&s, &id).await.len(), 1);
    // The losers' proofs were not consumed (their transactions rolled back), but the request
    // no longer waits for a step-up, so they cannot activate it.
    let late = RequestTransition::new(&id, Status::PendingStepUp, Status::Provisioned, t(30))
        .consuming_proof("jti-late");
    assert_eq!(
        s.activate_with(
            &late,
            &active("late", &alice.id, 30, 90),
            &entry("x", 30, &id)
        )
        .await
        .unwrap(),
        TransitionOutcome::NotInState
    );
}

async fn a_used_proof_cannot_activate_another_request(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let first = request(s, &alice.id, Status::PendingStepUp).await;
    let second = request(s, &alice.id, Status::PendingStepUp).await;
    let activate = |r: &ScheduleRequestRecord, assignment: &str| {
        (
            RequestTransition::new(r.id(), Status::PendingStepUp, Status::Provisioned, t(20))
                .consuming_proof("jti-once"),
            active(assignment, &alice.id, 20, 3620),
            entry("Add member to role completed (PIM activation)", 20, r.id()),
        )
    };
    let (t1, a1, e1) = activate(&first, "a1");
    assert!(s.activate_with(&t1, &a1, &e1).await.unwrap().is_applied());
    let (t2, a2, e2) = activate(&second, "a2");
    assert_eq!(
        s.activate_with(&t2, &a2, &e2).await.unwrap(),
        TransitionOutcome::ProofAlreadyUsed
    );
    // Nothing of the refused activation was stored.
    assert_eq!(
        s.get_schedule_request(second.id()).await.unwrap().status(),
        Status::PendingStepUp
    );
    assert!(s
        .get_scheduled_assignment("a2")
        .await
        .unwrap_err()
        .is_not_found());
    assert!(audits_for(s, second.id()).await.is_empty());
    // The same holds for a plain transition consuming it.
    let step = RequestTransition::new(
        second.id(),
        Status::PendingStepUp,
        Status::PendingApproval,
        t(25),
    )
    .consuming_proof("jti-once");
    assert_eq!(
        s.transition_schedule_request_with(&step, None)
            .await
            .unwrap(),
        TransitionOutcome::ProofAlreadyUsed
    );
    assert!(!s
        .consume_step_up_proof("jti-once", second.id(), t(26))
        .await
        .unwrap());
}

// ---------------------------------------------------------------------------------------------
// Activation, deactivation, expiry

async fn activation_is_an_active_assignment_with_its_audit_entry(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let r = request(s, &alice.id, Status::Granted).await;
    let assignment = active("activation-1", &alice.id, 20, 3620);
    let audit = entry("Add member to role completed (PIM activation)", 20, r.id());
    let done = s
        .activate(r.id(), &assignment, &audit)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status(), Status::Provisioned);
    assert_eq!(done.request.completed_date_time, Some(t(20)));
    assert_eq!(
        done.request.target_schedule_id.as_deref(),
        Some("activation-1")
    );

    // Conditional Access sees it at once (includeRoles reads the tenant's assignments).
    let tenant = s.load_tenant(t(21)).await.unwrap();
    assert!(tenant
        .role_assignments
        .iter()
        .any(|a| a.id.as_deref() == Some("activation-1")
            && a.principal_id == alice.id
            && a.status == AssignmentStatus::Active));
    assert!(s
        .list_role_assignments(Some(&alice.id))
        .await
        .unwrap()
        .contains(&assignment));
    let scheduled = s.get_scheduled_assignment("activation-1").await.unwrap();
    assert_eq!(scheduled.assignment, assignment);
    assert_eq!(scheduled.request_id.as_deref(), Some(r.id()));
    assert_eq!((scheduled.closed_at, scheduled.end_reason), (None, None));

    let audits = audits_for(s, r.id()).await;
    assert_eq!(audits.len(), 1);
    assert_eq!(
        audits[0].entry.activity_display_name,
        "Add member to role completed (PIM activation)"
    );

    // A second activation of the same request changes nothing.
    let again = active("activation-2", &alice.id, 20, 3620);
    assert_eq!(s.activate(r.id(), &again, &audit).await.unwrap(), None);
    assert!(s
        .get_scheduled_assignment("activation-2")
        .await
        .unwrap_err()
        .is_not_found());
    assert_eq!(audits_for(s, r.id()).await.len(), 1);
}

async fn a_mismatched_activation_changes_nothing(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let bob = user(s, "bob@example.test").await;
    let r = request(s, &alice.id, Status::Granted).await;
    let audit = entry("Add member to role completed (PIM activation)", 20, r.id());
    // For someone else, or another role: refused, and rolled back.
    let wrong_principal = active("x", &bob.id, 20, 3620);
    assert!(matches!(
        s.activate(r.id(), &wrong_principal, &audit).await,
        Err(StoreError::Invalid { .. })
    ));
    let mut wrong_role = active("y", &alice.id, 20, 3620);
    wrong_role.role_definition_id = RoleId::trusted(PRIVILEGED_ROLE_ADMINISTRATOR);
    assert!(matches!(
        s.activate(r.id(), &wrong_role, &audit).await,
        Err(StoreError::Invalid { .. })
    ));
    // An assignment id already taken: a conflict, rolled back too.
    s.assign_role(&active("taken", &alice.id, 0, 10))
        .await
        .unwrap();
    assert!(s
        .activate(r.id(), &active("taken", &alice.id, 20, 3620), &audit)
        .await
        .unwrap_err()
        .is_conflict());
    assert_eq!(
        s.get_schedule_request(r.id()).await.unwrap().status(),
        Status::Granted
    );
    assert!(audits_for(s, r.id()).await.is_empty());
    assert!(s
        .activate("missing", &active("z", &alice.id, 20, 3620), &audit)
        .await
        .unwrap_err()
        .is_not_found());
    assert_eq!(s.verify_audit_chain().await.unwrap().entries, 0);
}

async fn expiry_happens_once_even_after_a_restart(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let r = request(s, &alice.id, Status::Granted).await;
    let audit = entry("Add member to role completed (PIM activation)", 20, r.id());
    s.activate(r.id(), &active("a", &alice.id, 20, 100), &audit)
        .await
        .unwrap()
        .unwrap();
    // An assignment made otherwise is not the job's.
    s.assign_role(&active("manual", &alice.id, 0, 50))
        .await
        .unwrap();

    assert!(s.expire_due_assignments(t(99)).await.unwrap().is_empty());

    // A restart: a new store on the same database, as a new process would open it.
    s.close().await;
    let reopened = Store::open(&ctx.url).await.unwrap();
    let expired = reopened.expire_due_assignments(t(100)).await.unwrap();
    assert_eq!(expired, vec![active("a", &alice.id, 20, 100)]);
    assert!(reopened
        .expire_due_assignments(t(200))
        .await
        .unwrap()
        .is_empty());

    let scheduled = reopened.get_scheduled_assignment("a").await.unwrap();
    assert_eq!(scheduled.closed_at, Some(t(100)));
    assert_eq!(scheduled.end_reason.as_deref(), Some("expired"));
    assert!(!scheduled.assignment.in_force_at(t(100)));
    assert_eq!(
        reopened
            .get_schedule_request(r.id())
            .await
            .unwrap()
            .status(),
        Status::Revoked
    );
    let audits = audits_for(&reopened, r.id()).await;
    assert_eq!(audits.len(), 2);
    let expiry = &audits[0].entry; // newest first
    assert_eq!(
        expiry.activity_display_name,
        "Remove member from role (PIM activation expired)"
    );
    assert_eq!(expiry.activity_date_time, t(100));
    let targets = expiry.target_resources.to_string();
    assert!(targets.contains(&alice.id) && targets.contains("\"User\""));
    assert!(expiry.additional_details.to_string().contains("\"a\""));
    assert_eq!(
        reopened
            .get_scheduled_assignment("manual")
            .await
            .unwrap()
            .closed_at,
        None
    );
    assert!(reopened.verify_audit_chain().await.unwrap().is_intact());
    reopened.close().await;
}

async fn concurrent_expiry_jobs_close_each_assignment_once(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    for i in 0..10 {
        let r = request(s, &alice.id, Status::Granted).await;
        let audit = entry("Add member to role completed (PIM activation)", 20, r.id());
        s.activate(
            r.id(),
            &active(&format!("a{i}"), &alice.id, 20, 100 + i),
            &audit,
        )
        .await
        .unwrap()
        .unwrap();
    }
    // Four "nodes", each with its own pool, run the job at once.
    let mut nodes = Vec::new();
    for _ in 0..4 {
        nodes.push(Arc::new(Store::open(&ctx.url).await.unwrap()));
    }
    let tasks: Vec<_> = nodes
        .iter()
        .map(|node| {
            let node = node.clone();
            tokio::spawn(async move { node.expire_due_assignments(t(500)).await.unwrap() })
        })
        .collect();
    let mut closed = Vec::new();
    for task in tasks {
        closed.extend(task.await.unwrap().into_iter().map(|a| a.id));
    }
    closed.sort();
    let mut expected: Vec<String> = (0..10).map(|i| format!("a{i}")).collect();
    expected.sort();
    assert_eq!(closed, expected);
    let verification = s.verify_audit_chain().await.unwrap();
    assert!(verification.is_intact(), "{verification:?}");
    assert_eq!(verification.entries, 20);
    for node in nodes {
        node.close().await;
    }
}

async fn deactivation_ends_an_assignment_once(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let r = request(s, &alice.id, Status::Granted).await;
    let audit = entry("Add member to role completed (PIM activation)", 20, r.id());
    s.activate(r.id(), &active("a", &alice.id, 20, 3620), &audit)
        .await
        .unwrap()
        .unwrap();
    let end = entry("Remove member from role (PIM deactivation)", 600, r.id());
    let ended = s
        .deactivate_assignment("a", t(600), "selfDeactivate", &end)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.end_at, Some(t(600)));
    assert!(!ended.in_force_at(t(600)));
    assert!(s
        .load_tenant(t(601))
        .await
        .unwrap()
        .role_assignments
        .is_empty());
    let scheduled = s.get_scheduled_assignment("a").await.unwrap();
    assert_eq!(scheduled.end_reason.as_deref(), Some("selfDeactivate"));
    assert_eq!(scheduled.closed_at, Some(t(600)));
    assert_eq!(
        s.get_schedule_request(r.id()).await.unwrap().status(),
        Status::Revoked
    );
    // Once: a second deactivation, and the expiry job later, do nothing.
    assert_eq!(
        s.deactivate_assignment("a", t(700), "again", &end)
            .await
            .unwrap(),
        None
    );
    assert!(s.expire_due_assignments(t(5000)).await.unwrap().is_empty());
    assert_eq!(audits_for(s, r.id()).await.len(), 2);
    assert!(s
        .deactivate_assignment("missing", t(700), "x", &end)
        .await
        .unwrap_err()
        .is_not_found());

    // One that has not started yet never comes into force.
    s.assign_role(&active("future", &alice.id, 1000, 2000))
        .await
        .unwrap();
    // An audit entry that cannot be appended (its id is taken) rolls the deactivation back.
    assert!(s
        .deactivate_assignment("future", t(700), "adminRemove", &end)
        .await
        .unwrap_err()
        .is_conflict());
    let untouched = s.get_scheduled_assignment("future").await.unwrap();
    assert_eq!(
        (untouched.assignment.end_at, untouched.closed_at),
        (Some(t(2000)), None)
    );
    let remove = entry("Remove eligible member from role (PIM)", 700, "future");
    let removed = s
        .deactivate_assignment("future", t(700), "adminRemove", &remove)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(removed.end_at, Some(t(1000)));
    assert!(!removed.in_force_at(t(1000)));
    assert_eq!(s.verify_audit_chain().await.unwrap().entries, 3);
}

async fn rescheduling_extends_an_assignment(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let r = request(s, &alice.id, Status::Granted).await;
    let audit = entry("Add member to role completed (PIM activation)", 20, r.id());
    s.activate(r.id(), &active("a", &alice.id, 20, 100), &audit)
        .await
        .unwrap()
        .unwrap();
    let mut extend = activation(&alice.id, GLOBAL_ADMINISTRATOR, Status::Granted);
    extend.action = Some(Action::SelfExtend);
    let ext = s
        .create_schedule_request(ScheduleKind::Assignment, &extend, t(50), None)
        .await
        .unwrap();
    let t_ext = RequestTransition::new(ext.id(), Status::Granted, Status::Provisioned, t(60));
    let e = entry("Extend member in role completed (PIM)", 60, ext.id());
    let done = s
        .reschedule_assignment(&t_ext, "a", Some(t(400)), &e)
        .await
        .unwrap()
        .applied()
        .unwrap();
    assert_eq!(done.request.target_schedule_id.as_deref(), Some("a"));
    assert_eq!(
        s.get_scheduled_assignment("a")
            .await
            .unwrap()
            .assignment
            .end_at,
        Some(t(400))
    );
    assert!(s.expire_due_assignments(t(100)).await.unwrap().is_empty());
    assert_eq!(s.expire_due_assignments(t(400)).await.unwrap().len(), 1);
    // An ended assignment cannot be extended.
    let ext2 = s
        .create_schedule_request(ScheduleKind::Assignment, &extend, t(500), None)
        .await
        .unwrap();
    let t2 = RequestTransition::new(ext2.id(), Status::Granted, Status::Provisioned, t(510));
    assert!(s
        .reschedule_assignment(&t2, "a", Some(t(900)), &e)
        .await
        .unwrap_err()
        .is_conflict());
    assert_eq!(
        s.get_schedule_request(ext2.id()).await.unwrap().status(),
        Status::Granted
    );
}

async fn scheduled_assignments_filter(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let bob = user(s, "bob@example.test").await;
    let mut eligible = active("e-alice", &alice.id, 0, 10_000);
    eligible.status = AssignmentStatus::Eligible;
    s.assign_role(&eligible).await.unwrap();
    s.assign_role(&active("a-alice", &alice.id, 100, 200))
        .await
        .unwrap();
    let mut other_role = active("a-bob", &bob.id, 0, 10_000);
    other_role.role_definition_id = RoleId::trusted(PRIVILEGED_ROLE_ADMINISTRATOR);
    s.assign_role(&other_role).await.unwrap();

    let ids = |q: AssignmentQuery| async move {
        s.list_scheduled_assignments(&q)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.assignment.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(AssignmentQuery::default()).await.len(), 3);
    let mut of_alice = ids(AssignmentQuery {
        principal_id: Some(alice.id.clone()),
        ..Default::default()
    })
    .await;
    of_alice.sort();
    assert_eq!(of_alice, vec!["a-alice", "e-alice"]);
    assert_eq!(
        ids(AssignmentQuery {
            status: Some(AssignmentStatus::Eligible),
            ..Default::default()
        })
        .await,
        vec!["e-alice"]
    );
    assert_eq!(
        ids(AssignmentQuery {
            role_definition_id: Some(PRIVILEGED_ROLE_ADMINISTRATOR.into()),
            ..Default::default()
        })
        .await,
        vec!["a-bob"]
    );
    let mut in_force = ids(AssignmentQuery {
        in_force_at: Some(t(150)),
        status: Some(AssignmentStatus::Active),
        ..Default::default()
    })
    .await;
    in_force.sort();
    assert_eq!(in_force, vec!["a-alice", "a-bob"]);
    assert_eq!(
        ids(AssignmentQuery {
            in_force_at: Some(t(200)),
            principal_id: Some(alice.id.clone()),
            ..Default::default()
        })
        .await,
        vec!["e-alice"]
    );
    assert!(ids(AssignmentQuery {
        request_id: Some("none".into()),
        ..Default::default()
    })
    .await
    .is_empty());
    assert!(matches!(
        s.list_scheduled_assignments(&AssignmentQuery {
            status: Some(AssignmentStatus::Unknown("weird".into())),
            ..Default::default()
        })
        .await,
        Err(StoreError::Invalid { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Approval decisions and self-deactivation

fn decision(request_id: &str, stage: u32, by: &str, at: i64) -> ApprovalDecision {
    ApprovalDecision {
        request_id: request_id.into(),
        stage,
        review_result: ReviewResult::Approve,
        reviewed_by: by.into(),
        reviewed_by_name: Some(format!("{by}@example.test")),
        reviewed_at: t(at),
        justification: format!("{by} agrees"),
    }
}

async fn concurrent_final_approvals_activate_once(ctx: Ctx) {
    let s = ctx.store.clone();
    let alice = user(&s, "alice@example.test").await;
    let r = request(&s, &alice.id, Status::PendingApproval).await;
    let id = r.id().to_string();
    let alice_id = alice.id.clone();
    // Eight approvers of the last stage approve at once: one decision, one activation.
    let winners = race(8, |i| {
        let s = s.clone();
        let id = id.clone();
        let alice_id = alice_id.clone();
        async move {
            let t1 =
                RequestTransition::new(&id, Status::PendingApproval, Status::Provisioned, t(30))
                    .at_stage(0);
            let assignment = active(&format!("approved-{i}"), &alice_id, 30, 3630);
            let audit = entry(
                "Add member to role completed (PIM activation approved)",
                30,
                &id,
            );
            s.decide_approval(
                &t1,
                &decision(&id, 0, &format!("approver-{i}"), 30),
                Some(&assignment),
                &audit,
            )
            .await
            .unwrap()
            .is_applied()
        }
    })
    .await;
    assert_eq!(winners, 1);
    let read = s.get_schedule_request(&id).await.unwrap();
    assert_eq!(read.status(), Status::Provisioned);
    let made = s
        .list_scheduled_assignments(&AssignmentQuery {
            request_id: Some(id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(made.len(), 1);
    assert_eq!(
        read.request.target_schedule_id.as_deref(),
        Some(made[0].assignment.id.as_str())
    );
    let decisions = s.list_approval_decisions(&id).await.unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].review_result, ReviewResult::Approve);
    assert_eq!(decisions[0].reviewed_at, t(30));
    assert_eq!(
        made[0].assignment.id,
        format!(
            "approved-{}",
            &decisions[0].reviewed_by["approver-".len()..]
        )
    );
    assert_eq!(audits_for(&s, &id).await.len(), 1);
    assert!(s.verify_audit_chain().await.unwrap().is_intact());
}

async fn a_refused_approval_records_nothing(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let r = request(s, &alice.id, Status::PendingApproval).await;
    let audit = entry("Approval stage approved", 30, r.id());
    // A decision for another stage than the transition moves is refused outright.
    let t1 = RequestTransition::new(
        r.id(),
        Status::PendingApproval,
        Status::PendingApproval,
        t(30),
    )
    .at_stage(0)
    .to_stage(1);
    assert!(matches!(
        s.decide_approval(&t1, &decision(r.id(), 1, "bob", 30), None, &audit)
            .await,
        Err(StoreError::Invalid { .. })
    ));
    // An activation for someone else rolls the whole decision back.
    let t2 = RequestTransition::new(r.id(), Status::PendingApproval, Status::Provisioned, t(30))
        .at_stage(0);
    let wrong = active("wrong", "mallory", 30, 3630);
    assert!(s
        .decide_approval(&t2, &decision(r.id(), 0, "bob", 30), Some(&wrong), &audit)
        .await
        .is_err());
    let read = s.get_schedule_request(r.id()).await.unwrap();
    assert_eq!(
        (read.status(), read.approval_stage),
        (Status::PendingApproval, 0)
    );
    assert!(s.list_approval_decisions(r.id()).await.unwrap().is_empty());
    assert!(audits_for(s, r.id()).await.is_empty());
    // A stage already decided: the second decision changes nothing.
    assert!(s
        .decide_approval(&t1, &decision(r.id(), 0, "bob", 30), None, &audit)
        .await
        .unwrap()
        .is_applied());
    assert_eq!(
        s.decide_approval(&t1, &decision(r.id(), 0, "carol", 31), None, &audit)
            .await
            .unwrap(),
        TransitionOutcome::NotInState
    );
    let decisions = s.list_approval_decisions(r.id()).await.unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].reviewed_by, "bob");
    assert_eq!(audits_for(s, r.id()).await.len(), 1);
}

async fn self_deactivation_is_one_change(ctx: Ctx) {
    let s = &ctx.store;
    let alice = user(s, "alice@example.test").await;
    let r = request(s, &alice.id, Status::Granted).await;
    let assignment = active("activation-1", &alice.id, 20, 3620);
    s.activate(r.id(), &assignment, &entry("activated", 20, r.id()))
        .await
        .unwrap()
        .unwrap();
    let mut end = activation(&alice.id, GLOBAL_ADMINISTRATOR, Status::Revoked);
    end.action = Some(Action::SelfDeactivate);
    end.schedule_info = None;
    let (record, ended) = s
        .deactivate_with_request(
            &end,
            "activation-1",
            t(400),
            &entry("ended", 400, "deactivation"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status(), Status::Revoked);
    assert_eq!(record.request.completed_date_time, Some(t(400)));
    assert_eq!(
        record.request.target_schedule_id.as_deref(),
        Some("activation-1")
    );
    assert_eq!(ended.end_at, Some(t(400)));
    // The activation's own request is revoked with it.
    assert_eq!(
        s.get_schedule_request(r.id()).await.unwrap().status(),
        Status::Revoked
    );
    // Again: nothing to end, nothing recorded.
    assert!(s
        .deactivate_with_request(&end, "activation-1", t(500), &entry("ended", 500, "again"))
        .await
        .unwrap()
        .is_none());
    let deactivations = s
        .list_schedule_requests(&ScheduleRequestQuery {
            principal_id: Some(alice.id.clone()),
            status: Some(Status::Revoked),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        deactivations.len(),
        2,
        "the activation and one deactivation"
    );
    assert!(audits_for(s, "again").await.is_empty());
    // Someone else's assignment cannot be ended with this request: nothing changes.
    let bob = user(s, "bob@example.test").await;
    let rb = request(s, &bob.id, Status::Granted).await;
    s.activate(
        rb.id(),
        &active("activation-b", &bob.id, 20, 3620),
        &entry("activated", 20, rb.id()),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(s
        .deactivate_with_request(&end, "activation-b", t(600), &entry("ended", 600, "bob"))
        .await
        .is_err());
    let b = s.get_scheduled_assignment("activation-b").await.unwrap();
    assert_eq!(b.assignment.end_at, Some(t(3620)));
    assert!(b.closed_at.is_none());
}
