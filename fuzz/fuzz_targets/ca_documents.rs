//! The other Conditional Access writes: named locations (`POST`/`PATCH
//! …/conditionalAccess/namedLocations`), custom authentication strengths (`POST`/`PATCH
//! …/authenticationStrength/policies`) and authentication contexts (`POST`/`PATCH
//! …/authenticationContextClassReferences`), the body as the route reads it, through the checks
//! the service makes before the store (`app::fuzzing`). The first byte picks the kind and
//! create or patch (of the example tenant's document). An accepted document joins the example
//! tenant, which then evaluates every example sign-in.
//!
//! Beyond "no panic": an accepted document is what it reads back as (stored as JSON and loaded
//! again), a patch of nothing changes nothing but `modifiedDateTime`, and what a location
//! write accepts is a kind the engine can evaluate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::location::{LocationKind, NamedLocation};
use policy::strength::AuthenticationStrengthPolicy;
use policy::{Engine, Extra, Tenant};
use portcullis_fuzz::{example_requests, example_tenant, graph_object, now};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

/// Stored as JSON and loaded again, `document` is unchanged.
fn round_trips<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(document: &T) {
    let stored = serde_json::to_string(document).expect("a document serializes");
    let loaded: T = serde_json::from_str(&stored).expect("a stored document loads");
    assert_eq!(&loaded, document, "stored as {stored}");
}

/// The fields kept for round-trip, but for the time of the last change.
fn without_modified(extra: &Extra) -> Extra {
    let mut extra = extra.clone();
    extra.remove("modifiedDateTime");
    extra
}

/// Every example sign-in evaluated over `tenant`.
fn evaluate(tenant: Tenant) {
    let engine = Engine::new(tenant);
    for request in example_requests() {
        let _ = policy::what_if(&engine, request, now());
    }
    let _ = policy::validate(&engine);
}

fn location(before: &Tenant, patch: bool, body: &serde_json::Value) {
    let current = &before.named_locations[0];
    let written = if patch {
        app::fuzzing::patch_location(current, body, now())
    } else {
        app::fuzzing::create_location(body, now())
    };
    let Ok(location) = written else {
        return;
    };
    round_trips(&location);
    assert_ne!(location.kind(), LocationKind::Other);
    let unchanged = app::fuzzing::patch_location(&location, &json!({}), now())
        .expect("a patch of nothing is accepted");
    assert_eq!(
        NamedLocation {
            extra: without_modified(&unchanged.extra),
            ..unchanged
        },
        NamedLocation {
            extra: without_modified(&location.extra),
            ..location.clone()
        }
    );
    let mut after = before.clone();
    after.named_locations.retain(|l| l.id != location.id);
    after.named_locations.push(location);
    evaluate(after);
}

fn strength(before: &Tenant, patch: bool, body: &serde_json::Value) {
    let current = &before.authentication_strength_policies[0];
    let written = if patch {
        app::fuzzing::patch_strength(current, body, now())
    } else {
        app::fuzzing::create_strength(body, now())
    };
    let Ok(strength) = written else {
        return;
    };
    round_trips(&strength);
    assert_eq!(strength.policy_type.as_deref(), Some("custom"));
    let unchanged = app::fuzzing::patch_strength(&strength, &json!({}), now())
        .expect("a patch of nothing is accepted");
    assert_eq!(
        AuthenticationStrengthPolicy {
            extra: without_modified(&unchanged.extra),
            ..unchanged
        },
        AuthenticationStrengthPolicy {
            extra: without_modified(&strength.extra),
            ..strength.clone()
        }
    );
    let mut after = before.clone();
    after
        .authentication_strength_policies
        .retain(|s| s.id != strength.id);
    after.authentication_strength_policies.push(strength);
    evaluate(after);
}

fn context(before: &Tenant, patch: bool, id: &str, body: &serde_json::Value) {
    let current = before
        .authentication_context_class_references
        .iter()
        .find(|c| c.id == id);
    let Ok(context) = app::fuzzing::write_context(current.filter(|_| patch), id, body) else {
        return;
    };
    round_trips(&context);
    assert_eq!(context.id, id);
    let unchanged = app::fuzzing::write_context(Some(&context), id, &json!({}))
        .expect("a patch of nothing is accepted");
    assert_eq!(unchanged, context);
}

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let Some(body) = graph_object(rest) else {
        return;
    };
    let before = example_tenant();
    let patch = first & 1 == 1;
    match (first >> 1) % 4 {
        0 => location(before, patch, &body),
        1 => strength(before, patch, &body),
        2 => context(before, patch, "c1", &body),
        _ => context(before, patch, &format!("c{}", first % 100), &body),
    }
});
