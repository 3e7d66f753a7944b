//! The PIM services without HTTP: a role that requires an authentication context waits for a
//! step-up; the proof activates it once; a replayed proof, a proof for another request and a
//! proof older than the request are refused and audited, and a spent one-time id serves no
//! other request; what may be canceled is the state machine's to say.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use app::pim::activation::{self, ActivationError, ActivationOutcome, Presented};
use app::pim::{ErrorCode, RefusalKind};
use app::{Caller, Clock, Core};
use chrono::Duration;
use pim::step_up::StepUpProof;
use pim::{ScheduleRequest, Status};
use policy::directory::AssignmentStatus;
use policy::ids::RequestId;
use policy::roles::BuiltInRole;
use serde_json::json;
use store::{RoleAssignment, Store, User};

const CONTEXT: &str = "c1";

async fn core() -> (Core, Caller) {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let core = Core::new(store, Clock::default());
    let user = User::new("adele@example.test", "Adele", core.now());
    core.store.create_user(&user).await.unwrap();
    core.store
        .assign_role(&RoleAssignment {
            id: store::new_id(),
            principal_id: policy::ids::PrincipalId::trusted(user.id.clone()),
            role_definition_id: policy::ids::RoleId::trusted(role()),
            directory_scope_id: "/".into(),
            status: AssignmentStatus::Eligible,
            start_at: core.now() - Duration::days(1),
            end_at: None,
        })
        .await
        .unwrap();
    let mut settings = core.role_settings(role()).await.unwrap();
    settings
        .policy
        .require_authentication_context(CONTEXT, core.now(), None)
        .unwrap();
    core.store
        .put_role_policy(&settings.policy, settings.version)
        .await
        .unwrap();
    (core, Caller::new(user))
}

fn role() -> &'static str {
    BuiltInRole::SecurityReader.template_id()
}

fn request() -> ScheduleRequest {
    serde_json::from_value(json!({
        "action": "selfActivate",
        "roleDefinitionId": role().to_ascii_uppercase(),
        "directoryScopeId": "/",
        "justification": "quarterly access review",
        "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": "PT2H" } }
    }))
    .unwrap()
}

fn proof(core: &Core, caller: &Caller, request: &str, jti: &str) -> Presented {
    let now = core.now().timestamp();
    Presented {
        mfa_claim: true,
        step_up: Some(StepUpProof::from_token_claims(
            request,
            &caller.user.id,
            now,
            now,
            &[CONTEXT.to_string()],
            &["pwd".to_string(), "mfa".to_string()],
            jti,
        )),
    }
}

fn acrs_refused(result: Result<ActivationOutcome, ActivationError>) -> String {
    match result {
        Err(ActivationError::Refused(r)) => {
            assert_eq!(r.code, ErrorCode::AcrsValidationFailed, "{r:?}");
            assert_eq!(r.kind, RefusalKind::Invalid);
            r.message
        }
        other => panic!("expected a refused proof, got {other:?}"),
    }
}

async fn refusals(core: &Core) -> usize {
    core.store
        .query_audits(&store::AuditQuery::default())
        .await
        .unwrap()
        .iter()
        .filter(|e| e.entry.activity_display_name == "Step-up proof refused")
        .count()
}

#[tokio::test]
async fn a_step_up_proof_activates_once_and_only_its_own_request() {
    let (core, caller) = core().await;
    let plain = Presented {
        mfa_claim: true,
        step_up: None,
    };
    // Without a proof: recorded, waiting for the step-up.
    let ActivationOutcome::StepUpRequired { record, context } =
        activation::activate(&core, &caller, &plain, request())
            .await
            .unwrap()
    else {
        panic!("a step-up was required");
    };
    assert_eq!(context, CONTEXT);
    assert_eq!(record.status(), Status::PendingStepUp);
    let first = record.id().to_string();

    // A proof for a request that does not exist, and one authenticated before the request.
    let message = acrs_refused(
        activation::activate(
            &core,
            &caller,
            &proof(&core, &caller, "nope", "j0"),
            request(),
        )
        .await,
    );
    assert!(message.contains("does not exist"), "{message}");
    let mut early = proof(&core, &caller, &first, "j0");
    if let Some(Ok(p)) = early.step_up.as_mut() {
        p.authenticated_at = record.request.created_date_time.unwrap() - Duration::minutes(1);
    }
    acrs_refused(activation::activate(&core, &caller, &early, request()).await);

    // The proof activates the role: the state machine took the request to Provisioned.
    let good = proof(&core, &caller, &first, "j1");
    let ActivationOutcome::Activated(done) = activation::activate(&core, &caller, &good, request())
        .await
        .unwrap()
    else {
        panic!("the proof activates");
    };
    assert_eq!(done.status(), Status::Provisioned);
    assert_eq!(done.id(), first);

    // Replayed: its request no longer waits for a step-up.
    let message = acrs_refused(activation::activate(&core, &caller, &good, request()).await);
    assert!(message.contains("used once"), "{message}");
    assert_eq!(refusals(&core).await, 3);

    // A provisioned activation cannot be canceled (it ends with selfDeactivate); refused with
    // the state machine's code, and audited.
    let id = RequestId::parse(&first).unwrap();
    match activation::cancel(&core, &caller, &id).await {
        Err(ActivationError::Refused(r)) => {
            assert_eq!(r.code, ErrorCode::InvalidRequestState);
            assert!(r.message.contains("selfDeactivate"), "{}", r.message);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Ended by its holder, the role is requested again: the spent one-time id cannot serve the
    // new request (the store consumed it with the first activation); a fresh proof can.
    core.clock.advance(Duration::minutes(6));
    let deactivation: ScheduleRequest = serde_json::from_value(json!({
        "action": "selfDeactivate",
        "roleDefinitionId": role(),
        "directoryScopeId": "/"
    }))
    .unwrap();
    let ended = activation::deactivate(&core, &caller, deactivation)
        .await
        .unwrap();
    assert!(matches!(
        ended,
        activation::DeactivationOutcome::Deactivated(ref r) if r.status() == Status::Revoked
    ));
    let ActivationOutcome::StepUpRequired { record, .. } =
        activation::activate(&core, &caller, &plain, request())
            .await
            .unwrap()
    else {
        panic!("a step-up was required");
    };
    let spent = proof(&core, &caller, record.id(), "j1");
    let message = acrs_refused(activation::activate(&core, &caller, &spent, request()).await);
    assert!(message.contains("already been used"), "{message}");
    let fresh = proof(&core, &caller, record.id(), "j2");
    assert!(matches!(
        activation::activate(&core, &caller, &fresh, request()).await,
        Ok(ActivationOutcome::Activated(_))
    ));
}

#[tokio::test]
async fn a_request_waiting_for_its_step_up_is_canceled_then_its_proof_is_refused() {
    let (core, caller) = core().await;
    let plain = Presented::default();
    let ActivationOutcome::StepUpRequired { record, .. } =
        activation::activate(&core, &caller, &plain, request())
            .await
            .unwrap()
    else {
        panic!("a step-up was required");
    };
    let id = RequestId::parse(record.id()).unwrap();
    let canceled = activation::cancel(&core, &caller, &id).await.unwrap();
    assert_eq!(canceled.status(), Status::Canceled);
    let message = acrs_refused(
        activation::activate(
            &core,
            &caller,
            &proof(&core, &caller, record.id(), "j"),
            request(),
        )
        .await,
    );
    assert!(message.contains("Canceled"), "{message}");

    // Another user's request is not found, not refused.
    let other = Caller::new(User::new("bob@example.test", "Bob", core.now()));
    match activation::cancel(&core, &other, &id).await {
        Err(ActivationError::Refused(r)) => assert_eq!(r.kind, RefusalKind::NotFound),
        other => panic!("expected not found, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unanswered_step_up_fails_when_its_window_closes() {
    let (core, caller) = core().await;
    let ActivationOutcome::StepUpRequired { record, .. } =
        activation::activate(&core, &caller, &Presented::default(), request())
            .await
            .unwrap()
    else {
        panic!("a step-up was required");
    };
    assert_eq!(
        app::pim::jobs::fail_overdue_requests(&core).await.unwrap(),
        0
    );
    core.clock
        .advance(app::pim::jobs::STEP_UP_WINDOW + Duration::minutes(1));
    assert_eq!(
        app::pim::jobs::fail_overdue_requests(&core).await.unwrap(),
        1
    );
    let failed = core.store.get_schedule_request(record.id()).await.unwrap();
    assert_eq!(failed.status(), Status::Failed);
}
