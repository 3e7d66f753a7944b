//! `POST /v1.0/identity/conditionalAccess/evaluate` (What-If): the body as the route reads it
//! (`JsonBody::parse::<policy::EvaluateRequest>`) evaluated by `policy::what_if`, what the
//! service's `Core::what_if` calls, over the example tenant.
//!
//! Beyond "no panic": the answer lists each of the tenant's policies at most once, in tenant
//! order, and only those that apply when `appliedPoliciesOnly` asks for that; the request reads
//! back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::{Engine, EvaluateRequest};
use portcullis_fuzz::{example_tenant, graph_body, now};
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new(example_tenant().clone()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = graph_body(data).parse::<EvaluateRequest>("an evaluate request") else {
        return;
    };
    let reread: EvaluateRequest =
        serde_json::from_value(serde_json::to_value(&request).expect("a request serializes"))
            .expect("a serialized request reads");
    assert_eq!(reread, request);
    let Ok(answer) = policy::what_if(engine(), &request, now()) else {
        return;
    };
    let order: Vec<usize> = answer
        .value
        .iter()
        .map(|p| {
            example_tenant()
                .conditional_access_policies
                .iter()
                .position(|t| t.id == p.id)
                .expect("an answered policy is the tenant's")
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    if request.applied_policies_only {
        assert!(answer.value.iter().all(|p| p.policy_applies));
    }
});
