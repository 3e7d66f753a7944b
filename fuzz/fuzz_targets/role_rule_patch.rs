//! Role settings: `PATCH /v1.0/policies/roleManagementPolicies/{id}/rules/{ruleId}` bodies as
//! the route reads them (`JsonBody::parse::<Value>`), applied to Global Administrator's settings
//! by `pim::RoleManagementPolicy::patch_rule`, the function the service (and the tenant import)
//! calls. The first byte picks the rule of the path; a JSON array is taken as a series of
//! PATCHes, each to the rule its `id` names (else the path's), so that settings can drift far
//! from the defaults. The settings are then linted and checked against an activation request.
//!
//! Beyond "no panic": a refused PATCH changes nothing, an accepted one leaves a rule that passes
//! `check_rule` and settings that read back as themselves, and the settings then yield only
//! plans whose periods are periods (`check_schedule_request`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pim::{RoleManagementPolicy, RuleId};
use portcullis_fuzz::{check_schedule_request, json_request, now, GLOBAL_ADMINISTRATOR};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let body = json_request(Some("application/json"), rest);
    let Ok(body) = body.parse::<Value>("a unifiedRoleManagementPolicyRule") else {
        return;
    };
    let path_rule = RuleId::KNOWN[usize::from(*first) % RuleId::KNOWN.len()]
        .as_str()
        .to_string();
    let patches = match body {
        Value::Array(items) => items,
        one => vec![one],
    };
    let mut settings = RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now());
    for patch in &patches {
        let rule = patch
            .get("id")
            .and_then(Value::as_str)
            .map_or(path_rule.clone(), str::to_string);
        let before = settings.clone();
        match settings.patch_rule(&rule, patch, now(), None) {
            Ok(patched) => {
                if let Err(e) = pim::check_rule(patched) {
                    panic!("an accepted rule does not pass check_rule: {e}: {patched:?}");
                }
            }
            Err(_) => assert_eq!(settings, before, "a refused PATCH changed the settings"),
        }
    }
    let stored = serde_json::to_string(&settings).expect("settings serialize");
    let loaded: RoleManagementPolicy = serde_json::from_str(&stored).expect("settings load");
    assert_eq!(loaded, settings, "stored as {stored}");
    let _ = pim::lint_role_policy(&pim::RoleRef::from_id(GLOBAL_ADMINISTRATOR), &settings);
    if let Some(rule) = settings.authentication_context() {
        let _ = rule.required_context();
    }
    let request: pim::ScheduleRequest = serde_json::from_value(serde_json::json!({
        "action": "selfActivate",
        "principalId": "a1b2c3d4-0000-4000-8000-00000000a11c",
        "roleDefinitionId": GLOBAL_ADMINISTRATOR,
        "directoryScopeId": "/",
        "justification": "Incident 4711",
        "ticketInfo": {"ticketNumber": "4711", "ticketSystem": "ServiceNow"},
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT1H"}},
    }))
    .expect("the activation request parses");
    for pick in [0b0001_0001, 0b0011_0010, 0b0101_0101] {
        check_schedule_request(&settings, &request, pick);
    }
});
