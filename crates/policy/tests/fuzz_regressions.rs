//! Inputs with which the fuzz targets (`fuzz/`) found a bug, kept as they were found in
//! `tests/fuzz-regressions/TARGET-crash-…`; each test does with its input what the target did.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use policy::conditional_access::ConditionalAccessPolicy;
use policy::context::AuthenticationContextClassReference;
use policy::merge_patch::merge_patch;
use policy::Tenant;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::fmt::Debug;

/// A fuzz input: the byte with which the target picks what to do, and the JSON body after it.
fn input(bytes: &[u8]) -> (u8, Value) {
    let (first, body) = bytes.split_first().unwrap();
    (*first, serde_json::from_slice(body).unwrap())
}

/// Stored as JSON and loaded again, `document` is unchanged (the store keeps documents so).
fn assert_round_trips<T: Serialize + DeserializeOwned + PartialEq + Debug>(document: &T) {
    let stored = serde_json::to_string(document).unwrap();
    let loaded: T = serde_json::from_str(&stored).unwrap();
    assert_eq!(&loaded, document, "stored as {stored}");
}

/// fuzz/ca_policy: a PATCH (an odd first byte) of the example tenant's policy number
/// `first / 2` adding an unknown member `999909999000000000000000`, which the policy keeps for
/// round-trip; once stored and loaded it was `9.999099990000001e23`.
#[test]
fn a_large_number_in_a_patched_policy_reads_back_unchanged() {
    let (first, patch) = input(include_bytes!(
        "fuzz-regressions/ca_policy-crash-c553c54157a1da19bf0594f2faf90ed207ba1141"
    ));
    let tenant: Tenant =
        serde_json::from_str(include_str!("../../../docs/examples/tenant.json")).unwrap();
    let policies = &tenant.conditional_access_policies;
    assert_eq!(first % 2, 1, "a PATCH");
    let current = &policies[usize::from(first / 2) % policies.len()];
    let mut document = serde_json::to_value(current).unwrap();
    merge_patch(&mut document, &patch);
    let patched: ConditionalAccessPolicy = serde_json::from_value(document).unwrap();
    assert_round_trips(&patched);
}

/// fuzz/ca_documents: authentication context `c{first % 100}` written from a body alone
/// (`(first >> 1) % 4 == 3`) holding an unknown member `111810111111111111111111`.
#[test]
fn a_large_number_in_a_context_reads_back_unchanged() {
    let (first, body) = input(include_bytes!(
        "fuzz-regressions/ca_documents-crash-e3ac2dcf2afeae29e2322cf4325b7c827968a6a5"
    ));
    assert_eq!((first >> 1) % 4, 3, "a context from the body alone");
    let mut document = json!({});
    merge_patch(&mut document, &body);
    document["id"] = json!(format!("c{}", first % 100));
    let context: AuthenticationContextClassReference = serde_json::from_value(document).unwrap();
    assert_round_trips(&context);
}
