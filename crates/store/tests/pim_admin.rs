//! Administrators' schedule requests: `adminAssign` records the request, the assignment and the
//! audit entry together (and a second assignment of the same kind is refused, also when two
//! administrators race); `adminRemove` ends the principal's schedules, revokes the requests that
//! made them, records itself and its audit entry. Every test runs on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use pim::{Action, ScheduleKind, ScheduleRequest, Status};
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR};
use serde_json::json;
use store::*;
use support::{t, Ctx};

on_both_backends!(
    admin_assign_stores_request_assignment_and_audit_together,
    concurrent_admin_assigns_make_one_assignment,
    admin_remove_ends_the_schedules_and_revokes_their_requests,
    refused_admin_requests_change_nothing,
);

async fn user(s: &Store, upn: &str) -> User {
    let user = User::new(upn, upn, t(0));
    s.create_user(&user).await.unwrap();
    user
}

fn request(action: Action, principal: &str, role: &str) -> ScheduleRequest {
    let mut r: ScheduleRequest = serde_json::from_value(json!({
        "principalId": principal,
        "roleDefinitionId": role,
        "directoryScopeId": "/",
        "justification": "on-call rotation",
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "P30D"}},
        "somethingNew": {"kept": true}
    }))
    .unwrap();
    r.action = Some(action);
    r.id = Some(new_id());
    r
}

fn eligible(principal: &str, role: &str, start: i64, end: Option<i64>) -> RoleAssignment {
    RoleAssignment {
        id: new_id(),
        principal_id: policy::ids::PrincipalId::trusted(principal),
        role_definition_id: policy::ids::RoleId::trusted(role),
        directory_scope_id: "/".into(),
        status: AssignmentStatus::Eligible,
        start_at: t(start),
        end_at: end.map(t),
    }
}

fn entry(activity: &str, at: i64, request: &ScheduleRequest) -> AuditEntry {
    AuditEntry::new("RoleManagement", activity, "Add", t(at))
        .by_user("admin", Some("admin@example.test"))
        .target("Role", &request.role_definition_id, None)
        .correlation(request.id.as_deref().unwrap())
}

async fn audits_for(s: &Store, request_id: &str) -> Vec<AuditRecord> {
    s.query_audits(&AuditQuery {
        correlation_id: Some(request_id.into()),
        ..AuditQuery::default()
    })
    .await
    .unwrap()
}

async fn eligibilities(s: &Store, principal: &str) -> Vec<ScheduledAssignment> {
    s.list_scheduled_assignments(&AssignmentQuery {
        principal_id: Some(principal.into()),
        status: Some(AssignmentStatus::Eligible),
        ..AssignmentQuery::default()
    })
    .await
    .unwrap()
}

fn done(outcome: AdminOutcome) -> (ScheduleRequestRecord, Vec<RoleAssignment>) {
    match outcome {
        AdminOutcome::Done {
            request,
            assignments,
        } => (*request, assignments),
        other => panic!("expected Done, got {other:?}"),
    }
}

async fn admin_assign_stores_request_assignment_and_audit_together(ctx: Ctx) {
    let s = &ctx.store;
    let bob = user(s, "bob@example.test").await;
    let r = request(Action::AdminAssign, &bob.id, GLOBAL_ADMINISTRATOR);
    let a = eligible(&bob.id, GLOBAL_ADMINISTRATOR, 10, Some(10 + 30 * 86_400));
    let (record, made) = done(
        s.admin_assign(
            ScheduleKind::Eligibility,
            &r,
            &a,
            &entry("Add eligible member to role in PIM completed", 10, &r),
        )
        .await
        .unwrap(),
    );
    assert_eq!(made, vec![a.clone()]);
    assert_eq!(record.id(), r.id.as_deref().unwrap());
    assert_eq!(record.status(), Status::Provisioned);
    assert_eq!(record.kind, ScheduleKind::Eligibility);
    assert_eq!(record.request.target_schedule_id.as_deref(), Some(&*a.id));
    assert_eq!(record.request.completed_date_time, Some(t(10)));

    // As stored: the request (unknown fields kept), the linked assignment, one audit entry.
    let stored = s.get_schedule_request(record.id()).await.unwrap();
    assert_eq!(stored, record);
    assert_eq!(stored.request.extra["somethingNew"], json!({"kept": true}));
    let scheduled = s.get_scheduled_assignment(&a.id).await.unwrap();
    assert_eq!(scheduled.assignment, a);
    assert_eq!(scheduled.request_id.as_deref(), Some(record.id()));
    assert_eq!(audits_for(s, record.id()).await.len(), 1);

    // A second eligibility for the same role is refused, even one starting later; another role
    // or an active assignment is not the same schedule.
    let again = request(Action::AdminAssign, &bob.id, GLOBAL_ADMINISTRATOR);
    let later = eligible(&bob.id, GLOBAL_ADMINISTRATOR, 86_400, None);
    assert_eq!(
        s.admin_assign(
            ScheduleKind::Eligibility,
            &again,
            &later,
            &entry("x", 20, &again)
        )
        .await
        .unwrap(),
        AdminOutcome::AlreadyAssigned
    );
    assert!(s
        .get_schedule_request(again.id.as_deref().unwrap())
        .await
        .unwrap_err()
        .is_not_found());
    assert!(audits_for(s, again.id.as_deref().unwrap()).await.is_empty());
    assert_eq!(eligibilities(s, &bob.id).await.len(), 1);
    let other = request(Action::AdminAssign, &bob.id, PRIVILEGED_ROLE_ADMINISTRATOR);
    let pra = eligible(&bob.id, PRIVILEGED_ROLE_ADMINISTRATOR, 20, None);
    done(
        s.admin_assign(
            ScheduleKind::Eligibility,
            &other,
            &pra,
            &entry("x", 20, &other),
        )
        .await
        .unwrap(),
    );
    assert_eq!(eligibilities(s, &bob.id).await.len(), 2);
}

async fn concurrent_admin_assigns_make_one_assignment(ctx: Ctx) {
    let s = ctx.store.clone();
    let bob = user(&s, "bob@example.test").await;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            let bob = bob.id.clone();
            tokio::spawn(async move {
                let r = request(Action::AdminAssign, &bob, GLOBAL_ADMINISTRATOR);
                let a = eligible(&bob, GLOBAL_ADMINISTRATOR, 10, None);
                s.admin_assign(ScheduleKind::Eligibility, &r, &a, &entry("x", 10, &r))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            AdminOutcome::Done { .. } => winners += 1,
            AdminOutcome::AlreadyAssigned => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(eligibilities(&s, &bob.id).await.len(), 1);
    let requests = s
        .list_schedule_requests(&ScheduleRequestQuery {
            principal_id: Some(bob.id.clone()),
            ..ScheduleRequestQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(requests.len(), 1);
}

async fn admin_remove_ends_the_schedules_and_revokes_their_requests(ctx: Ctx) {
    let s = &ctx.store;
    let bob = user(s, "bob@example.test").await;
    let remove = request(Action::AdminRemove, &bob.id, GLOBAL_ADMINISTRATOR);
    assert_eq!(
        s.admin_remove(ScheduleKind::Eligibility, &remove, &entry("x", 5, &remove))
            .await
            .unwrap(),
        AdminOutcome::NothingToRemove
    );
    assert!(audits_for(s, remove.id.as_deref().unwrap())
        .await
        .is_empty());

    let assign = request(Action::AdminAssign, &bob.id, GLOBAL_ADMINISTRATOR);
    let a = eligible(&bob.id, GLOBAL_ADMINISTRATOR, 10, None);
    let (made_by, _) = done(
        s.admin_assign(
            ScheduleKind::Eligibility,
            &assign,
            &a,
            &entry("x", 10, &assign),
        )
        .await
        .unwrap(),
    );
    // An active assignment of the same role is another kind of schedule: left alone.
    let active = RoleAssignment {
        status: AssignmentStatus::Active,
        ..eligible(&bob.id, GLOBAL_ADMINISTRATOR, 10, None)
    };
    s.assign_role(&active).await.unwrap();

    let remove = request(Action::AdminRemove, &bob.id, GLOBAL_ADMINISTRATOR);
    let (record, ended) = done(
        s.admin_remove(
            ScheduleKind::Eligibility,
            &remove,
            &entry(
                "Remove eligible member from role in PIM completed",
                100,
                &remove,
            ),
        )
        .await
        .unwrap(),
    );
    assert_eq!(record.status(), Status::Revoked);
    assert_eq!(record.request.target_schedule_id.as_deref(), Some(&*a.id));
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].end_at, Some(t(100)));
    let scheduled = s.get_scheduled_assignment(&a.id).await.unwrap();
    assert_eq!(scheduled.closed_at, Some(t(100)));
    assert_eq!(
        scheduled.end_reason.as_deref(),
        Some("removed by an administrator")
    );
    assert_eq!(
        s.get_schedule_request(made_by.id()).await.unwrap().status(),
        Status::Revoked
    );
    assert_eq!(audits_for(s, record.id()).await.len(), 1);
    assert!(s
        .get_scheduled_assignment(&active.id)
        .await
        .unwrap()
        .closed_at
        .is_none());
    // Ended: a second removal finds nothing; the expiry job has nothing to close.
    let again = request(Action::AdminRemove, &bob.id, GLOBAL_ADMINISTRATOR);
    assert_eq!(
        s.admin_remove(ScheduleKind::Eligibility, &again, &entry("x", 200, &again))
            .await
            .unwrap(),
        AdminOutcome::NothingToRemove
    );
    assert!(s.expire_due_assignments(t(300)).await.unwrap().is_empty());

    // A schedule that has not started ends at its start: it never comes into force.
    let future = eligible(&bob.id, GLOBAL_ADMINISTRATOR, 1_000, Some(2_000));
    s.assign_role(&future).await.unwrap();
    let remove = request(Action::AdminRemove, &bob.id, GLOBAL_ADMINISTRATOR);
    let (_, ended) = done(
        s.admin_remove(
            ScheduleKind::Eligibility,
            &remove,
            &entry("x", 500, &remove),
        )
        .await
        .unwrap(),
    );
    assert_eq!(ended[0].end_at, Some(t(1_000)));
    assert!(!ended[0].in_force_at(t(1_000)));
}

async fn refused_admin_requests_change_nothing(ctx: Ctx) {
    let s = &ctx.store;
    let bob = user(s, "bob@example.test").await;
    let alice = user(s, "alice@example.test").await;
    let r = request(Action::AdminAssign, &bob.id, GLOBAL_ADMINISTRATOR);
    let e = entry("x", 10, &r);
    // Active status for an eligibility; another principal; an unknown role.
    let active = RoleAssignment {
        status: AssignmentStatus::Active,
        ..eligible(&bob.id, GLOBAL_ADMINISTRATOR, 10, None)
    };
    assert!(matches!(
        s.admin_assign(ScheduleKind::Eligibility, &r, &active, &e)
            .await
            .unwrap_err(),
        StoreError::Invalid { .. }
    ));
    let for_alice = eligible(&alice.id, GLOBAL_ADMINISTRATOR, 10, None);
    assert!(matches!(
        s.admin_assign(ScheduleKind::Eligibility, &r, &for_alice, &e)
            .await
            .unwrap_err(),
        StoreError::Invalid { .. }
    ));
    let nope = request(Action::AdminAssign, &bob.id, "no-such-role");
    let a = eligible(&bob.id, "no-such-role", 10, None);
    assert!(s
        .admin_assign(ScheduleKind::Eligibility, &nope, &a, &entry("x", 10, &nope))
        .await
        .unwrap_err()
        .is_not_found());
    let mut no_action = r.clone();
    no_action.action = None;
    assert!(matches!(
        s.admin_remove(ScheduleKind::Eligibility, &no_action, &e)
            .await
            .unwrap_err(),
        StoreError::Invalid { .. }
    ));
    assert!(eligibilities(s, &bob.id).await.is_empty());
    assert!(s
        .list_schedule_requests(&ScheduleRequestQuery::default())
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .query_audits(&AuditQuery::default())
        .await
        .unwrap()
        .is_empty());
}
