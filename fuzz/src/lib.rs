//! What the fuzz targets share: a fixed clock, the example tenant and sign-ins of `docs/examples`,
//! and a request body read the way the Graph API reads one.
//!
//! Each target in `fuzz_targets/` calls the function the service calls on bytes from the network,
//! and asserts what must hold beyond "no panic" where that is cheap to state.

use axum::extract::FromRequest;
use chrono::{DateTime, TimeZone, Utc};
use policy::{EvaluateRequest, Tenant};
use server::graph::body::JsonBody;
use std::sync::OnceLock;

/// The time every target runs at: that of the example sign-ins (`docs/examples/requests`).
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 9, 31, 0)
        .single()
        .expect("a valid time")
}

/// The example tenant (`docs/examples/tenant.json`): users, groups, roles, policies, locations,
/// strengths and contexts that the examples evaluate against.
pub fn example_tenant() -> &'static Tenant {
    static TENANT: OnceLock<Tenant> = OnceLock::new();
    TENANT.get_or_init(|| {
        serde_json::from_str(include_str!("../../docs/examples/tenant.json"))
            .expect("the example tenant parses")
    })
}

/// The example sign-ins (`docs/examples/requests`), as Graph evaluate requests.
pub fn example_requests() -> &'static [EvaluateRequest] {
    static REQUESTS: OnceLock<Vec<EvaluateRequest>> = OnceLock::new();
    REQUESTS.get_or_init(|| {
        [
            include_str!("../../docs/examples/requests/flagship-c1-passkey-step-up.json"),
            include_str!("../../docs/examples/requests/app-password-totp.json"),
            include_str!("../../docs/examples/requests/country-unknown.json"),
            include_str!("../../docs/examples/requests/legacy-client-blocked.json"),
            include_str!("../../docs/examples/requests/register-security-info-at-hq.json"),
            include_str!("../../docs/examples/requests/guest-mfa-yesterday.json"),
        ]
        .iter()
        .map(|text| serde_json::from_str(text).expect("an example request parses"))
        .collect()
    })
}

/// The media types a fuzz input picks from by its first byte: JSON in the spellings clients
/// use, and what is not JSON.
const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("Application/Merge-Patch+JSON"),
    Some("text/plain"),
    None,
];

/// A Graph write's body as the API's extractor reads it from a request: the first byte picks
/// the `Content-Type` (mostly JSON), the rest is the body.
pub fn graph_body(data: &[u8]) -> JsonBody {
    let (content_type, body) = match data.split_first() {
        Some((first, rest)) => {
            // Three in four inputs are declared JSON: the other types are refused at once.
            let pick = match first % 8 {
                n @ 0..=5 => usize::from(n % 3),
                6 => 3,
                _ => 4,
            };
            (CONTENT_TYPES[pick], rest)
        }
        None => (Some("application/json"), data),
    };
    json_request(content_type, body)
}

/// The API's extractor run on a request with this `Content-Type` and body.
pub fn json_request(content_type: Option<&str>, body: &[u8]) -> JsonBody {
    let mut request = axum::http::Request::builder().method("POST").uri("/v1.0/x");
    if let Some(t) = content_type {
        request = request.header(axum::http::header::CONTENT_TYPE, t);
    }
    let request = request
        .body(axum::body::Body::from(body.to_vec()))
        .expect("a request");
    futures_executor::block_on(JsonBody::from_request(request, &()))
        .expect("a buffered body is always read")
}

/// The body of a JSON-declared request, read as the route reads it (a JSON object), or `None`
/// when the route would refuse it.
pub fn graph_object(data: &[u8]) -> Option<serde_json::Value> {
    json_request(Some("application/json"), data)
        .object("a fuzz body")
        .ok()
}

/// The template id of Global Administrator, whose settings the PIM targets change.
pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";

/// Checks `request` as each PIM route would (activation, deactivation, a holder's extension or
/// renewal, an administrator's request, for both kinds) against `settings`, with the facts the
/// bits of `pick` choose, and asserts that every plan's period is one: it ends after it starts,
/// and an activation ends with the eligibility it comes from.
pub fn check_schedule_request(
    settings: &pim::RoleManagementPolicy,
    request: &pim::ScheduleRequest,
    pick: u8,
) {
    use chrono::TimeDelta;
    use pim::validate::{
        validate_admin_request, validate_deactivation, validate_self_extension, ActiveAssignment,
        ActiveKind, AdminFacts, AssignmentPlan, Window,
    };
    use pim::{ActivationFacts, ScheduleKind, StepUp};

    let now = now();
    let window = |start: TimeDelta, end: Option<TimeDelta>| Window {
        start: now + start,
        end: end.map(|e| now + e),
    };
    let eligibility = match pick & 3 {
        0 => None,
        1 => Some(window(-TimeDelta::days(30), None)),
        2 => Some(window(-TimeDelta::days(30), Some(TimeDelta::hours(2)))),
        _ => Some(window(-TimeDelta::days(30), Some(-TimeDelta::hours(1)))),
    };
    let active = match (pick >> 2) & 3 {
        0 | 1 => None,
        2 => Some(ActiveAssignment {
            window: window(-TimeDelta::minutes(10), Some(TimeDelta::minutes(50))),
            assignment_type: ActiveKind::Activated,
        }),
        _ => Some(ActiveAssignment {
            window: window(-TimeDelta::days(1), None),
            assignment_type: ActiveKind::Assigned,
        }),
    };
    let facts = ActivationFacts {
        eligibility,
        active,
        session_has_mfa_claim: pick & 16 != 0,
        step_up: if pick & 32 != 0 {
            StepUp::PassedEarlier
        } else {
            StepUp::NotPresented
        },
    };
    if let Ok(plan) = pim::validate_activation(settings, request, &facts, now) {
        if let Some(end) = plan.end {
            assert!(end >= plan.start, "{plan:?}");
        }
        if let Some(Window {
            end: Some(last), ..
        }) = facts.eligibility
        {
            assert!(
                plan.end.is_some_and(|end| end <= last),
                "an activation outlives its eligibility: {plan:?}"
            );
        }
    }
    let _ = validate_deactivation(request, &facts, now);
    let existing = active.map(|a| a.window).or(eligibility);
    let admin = AdminFacts {
        existing,
        caller_has_mfa_claim: pick & 64 != 0,
    };
    for kind in [ScheduleKind::Assignment, ScheduleKind::Eligibility] {
        for plan in [
            validate_admin_request(settings, request, kind, &admin, now),
            validate_self_extension(settings, request, kind, existing, now),
        ]
        .into_iter()
        .flatten()
        {
            if let AssignmentPlan::Schedule {
                start,
                end: Some(end),
                ..
            } = plan
            {
                assert!(end >= start, "{plan:?}");
            }
        }
    }
}
