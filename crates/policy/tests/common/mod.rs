//! What the tests over generated tenants share: the time they run at, picking names, and a
//! policy in Graph JSON from its generated parts.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

/// The time every generated sign-in is evaluated at.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0)
        .single()
        .expect("a valid time")
}

/// The names at `idx` (modulo their number), sorted and without duplicates.
pub fn pick<'a>(names: &[&'a str], idx: &[usize]) -> Vec<&'a str> {
    let mut out: Vec<&str> = idx.iter().map(|&i| names[i % names.len()]).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// A policy with these conditions and grant controls, and sign-in frequency `frequency`: none
/// (0 or 4 and above), `everyTime` (1), one hour (2), or one day for the second factor only (3).
pub fn policy_json(
    id: &str,
    state: &str,
    conditions: Value,
    grant: Value,
    frequency: usize,
) -> Value {
    let mut p = json!({
        "id": id,
        "displayName": format!("Policy {id}"),
        "state": state,
        "conditions": conditions,
        "grantControls": grant
    });
    let frequency = match frequency {
        1 => Some(json!({"isEnabled": true, "frequencyInterval": "everyTime",
                         "authenticationType": "primaryAndSecondaryAuthentication"})),
        2 => Some(json!({"isEnabled": true, "type": "hours", "value": 1,
                         "frequencyInterval": "timeBased",
                         "authenticationType": "primaryAndSecondaryAuthentication"})),
        3 => Some(json!({"isEnabled": true, "type": "days", "value": 1,
                         "frequencyInterval": "timeBased",
                         "authenticationType": "secondaryAuthentication"})),
        _ => None,
    };
    if let Some(f) = frequency {
        p["sessionControls"] = json!({"signInFrequency": f});
    }
    p
}
