//! Conditional Access policy writes (`POST` and `PATCH …/identity/conditionalAccess/policies`):
//! the body as the route reads it, through the checks the service makes before the store
//! (`app::fuzzing::{create_policy, patch_policy}`: the Graph document, `policy::api_write`,
//! validation against the tenant), then the engine, What-If, references and lint over the
//! tenant with the accepted policy. The first byte picks create, or the policy to patch.
//!
//! Beyond "no panic": an accepted policy is what it reads back as (stored as JSON and loaded
//! again), a created one holds no refused value, a patch of nothing changes nothing but
//! `modifiedDateTime`, and every example sign-in is evaluated over the tenant it joins.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::conditional_access::ConditionalAccessPolicy;
use policy::roles::BuiltInRole;
use policy::{Engine, Tenant};
use portcullis_fuzz::{example_requests, example_tenant, graph_object, now};

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let Some(body) = graph_object(rest) else {
        return;
    };
    let before = example_tenant();
    let policies = &before.conditional_access_policies;
    let current = (first % 2 == 1).then(|| &policies[usize::from(first / 2) % policies.len()]);
    let accepted = match current {
        None => app::fuzzing::create_policy(before, &body, now()),
        Some(current) => app::fuzzing::patch_policy(before, current, &body, now()),
    };
    let Ok(policy) = accepted else {
        return;
    };
    let stored = serde_json::to_string(&policy).expect("a policy serializes");
    let loaded: ConditionalAccessPolicy =
        serde_json::from_str(&stored).expect("a stored policy loads");
    assert_eq!(loaded, policy, "stored as {stored}");
    if current.is_none() {
        let refused = policy::api_write::write_violations(&policy);
        assert!(refused.is_empty(), "{refused:?}");
    }

    let mut after: Tenant = before.clone();
    after
        .conditional_access_policies
        .retain(|p| !p.id.eq_ignore_ascii_case(&policy.id));
    after.conditional_access_policies.push(policy.clone());
    let unchanged = app::fuzzing::patch_policy(&after, &policy, &serde_json::json!({}), now())
        .expect("a patch of nothing is accepted");
    assert_eq!(
        ConditionalAccessPolicy {
            modified_date_time: policy.modified_date_time.clone(),
            ..unchanged
        },
        policy
    );

    let known_role = |id: &str| BuiltInRole::from_id(id).is_some();
    let _ = policy::references::missing(&policy, before, &known_role);
    let _ = policy::posture::is_enforced(&policy);
    let engine = Engine::new(after.clone());
    for request in example_requests() {
        let _ = policy::what_if(&engine, request, now());
    }
    let _ = policy::validate(&engine);
    let _ = policy::posture::lint_conditional_access(&after, &[], &[]);
});
