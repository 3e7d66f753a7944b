//! `server::graph::body::JsonBody`: the body of every Graph write, read by the API's extractor
//! under a `Content-Type` the first byte picks, then as each route reads it (`parse`,
//! `parse_optional`, `object`, and the typed bodies of the PIM and evaluate routes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use server::graph::body::BodyError;

/// Whether a string or member name anywhere in `value` holds a NUL character.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(members) => members
            .iter()
            .any(|(name, member)| name.contains('\0') || holds_nul(member)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let body = portcullis_fuzz::graph_body(data);
    let bytes = data.get(1..).unwrap_or_default();
    let plain: Option<Value> = serde_json::from_slice(bytes).ok();
    match body.parse::<Value>("a thing") {
        // What the routes take is what serde reads, and never holds a NUL (PostgreSQL's text
        // cannot).
        Ok(value) => {
            assert!(!holds_nul(&value), "a NUL got through: {value:?}");
            assert_eq!(plain.as_ref(), Some(&value));
        }
        Err(BodyError::Nul) => assert!(plain.as_ref().is_some_and(holds_nul)),
        Err(BodyError::Malformed { .. }) => assert!(plain.is_none()),
        Err(BodyError::NotJson { .. }) => {}
        Err(e @ BodyError::NotAnObject { .. }) => panic!("parse is not object: {e}"),
    }
    if let Ok(value) = body.object("a thing") {
        assert!(value.is_object());
    }
    match body.parse_optional::<Value>("a thing") {
        Ok(None) => assert!(body.is_empty()),
        Ok(Some(_)) | Err(_) => assert!(!body.is_empty()),
    }
    // The typed bodies: a schedule request (activation, eligibility) and a What-If.
    if let Ok(request) = body.parse::<pim::ScheduleRequest>("a schedule request") {
        let again = serde_json::to_value(&request).expect("a request serializes");
        let reread: pim::ScheduleRequest =
            serde_json::from_value(again).expect("a serialized request reads again");
        assert_eq!(reread, request);
    }
    let _ = body.parse::<policy::EvaluateRequest>("an evaluate request");
});
