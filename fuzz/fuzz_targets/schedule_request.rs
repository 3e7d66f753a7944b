//! PIM schedule requests (`POST …/roleAssignmentScheduleRequests` and
//! `…/roleEligibilityScheduleRequests`): the body as the route reads it
//! (`JsonBody::parse::<pim::ScheduleRequest>`), then checked as the routes check it
//! (`pim::validate_activation`, `validate_deactivation`, `validate_self_extension`,
//! `validate_admin_request`) against Global Administrator's default settings and one that
//! requires approval and a ticket, with facts the first byte picks (`check_schedule_request`).
//!
//! Beyond "no panic": a request reads back as itself, and every plan's period is one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::{check_schedule_request, json_request, now, GLOBAL_ADMINISTRATOR};
use std::sync::OnceLock;

/// Global Administrator's default settings, and settings that ask for approval, a ticket and a
/// justification of at most a short activation.
fn settings() -> &'static [pim::RoleManagementPolicy; 2] {
    static SETTINGS: OnceLock<[pim::RoleManagementPolicy; 2]> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        let default = pim::RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now());
        let mut strict = default.clone();
        for (rule, body) in [
            (
                "Enablement_EndUser_Assignment",
                serde_json::json!({
                    "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
                    "enabledRules": ["Justification", "Ticketing", "MultiFactorAuthentication"],
                }),
            ),
            (
                "Expiration_EndUser_Assignment",
                serde_json::json!({
                    "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
                    "isExpirationRequired": true,
                    "maximumDuration": "PT2H",
                }),
            ),
            (
                "Expiration_Admin_Assignment",
                serde_json::json!({
                    "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
                    "isExpirationRequired": false,
                }),
            ),
        ] {
            strict
                .patch_rule(rule, &body, now(), None)
                .expect("the strict settings are valid");
        }
        [default, strict]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let body = json_request(Some("application/json"), rest);
    let Ok(request) = body.parse::<pim::ScheduleRequest>("a schedule request") else {
        return;
    };
    let stored = serde_json::to_string(&request).expect("a request serializes");
    let loaded: pim::ScheduleRequest = serde_json::from_str(&stored).expect("a request loads");
    assert_eq!(loaded, request, "stored as {stored}");
    if let Some(Ok(duration)) = request.expiration().and_then(|e| e.parsed_duration()) {
        assert!(duration >= chrono::TimeDelta::zero());
    }
    let settings = &settings()[usize::from(first >> 7)];
    check_schedule_request(settings, &request, *first);
});
