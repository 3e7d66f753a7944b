//! What several of pim's test files need.

#![allow(dead_code, clippy::unwrap_used)]

use chrono::{DateTime, TimeDelta, Utc};
use pim::step_up::{check, PendingRequest, StepUp, StepUpProof};
use pim::Status;
use policy::ids::{PrincipalId, RequestId, RoleId};

/// A step-up that passed the check (the only way to have one): a proof made a minute after
/// request `req` by `principal` for `role`, presented at `now`.
pub fn verified_step_up(principal: &str, role: &str, now: DateTime<Utc>) -> StepUp {
    let created = now - TimeDelta::minutes(2);
    let proof = StepUpProof {
        request_id: RequestId::trusted("req"),
        principal_id: PrincipalId::trusted(principal),
        issued_at: now - TimeDelta::minutes(1),
        authenticated_at: now - TimeDelta::minutes(1),
        acrs: vec!["c1".into()],
        methods: vec!["hwk".into()],
        once_id: "jti".into(),
    };
    let status = Status::PendingStepUp;
    let pending = PendingRequest {
        id: RequestId::trusted("req"),
        principal_id: PrincipalId::trusted(principal),
        role_definition_id: RoleId::trusted(role),
        status: &status,
        created_at: created,
    };
    StepUp::Verified(
        check(
            &proof,
            &PrincipalId::trusted(principal),
            &RoleId::trusted(role),
            Some(&pending),
            None,
            now,
        )
        .unwrap(),
    )
}
