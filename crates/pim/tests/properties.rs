//! Invariants over generated inputs.
//!
//! - The request state machine: no sequence of events reaches `Granted` without a verified
//!   step-up when one is required; no approval or denial is ever made by the requester (in any
//!   letter case) or by someone outside the current stage; final statuses stay final.
//! - Activation checks: a plan never exceeds the role's maximum, never starts before now or ends
//!   after eligibility, and always asks for the step-up when a context is required and no
//!   step-up was verified.
//! - ISO 8601 durations: what is written reads back the same.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use pim::iso8601::{format_duration, parse_duration};
use pim::state::{Decision, Event, InvalidTransition, RequestFlow};
use pim::validate::Window;
use pim::{validate_activation, ActivationFacts, RoleManagementPolicy, ScheduleRequest, Status};
use policy::directory::GLOBAL_ADMINISTRATOR;
use policy::ids::UserId;
use proptest::collection::{btree_set, vec};
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeSet;

const REQUESTER: &str = "alice";
/// Ids events are made by; the requester appears in several spellings.
const PEOPLE: [&str; 6] = ["alice", "ALICE", "Alice", "bob", "carol", "dave"];

fn person() -> impl Strategy<Value = UserId> {
    prop::sample::select(&PEOPLE[..]).prop_map(UserId::trusted)
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::StepUpVerified),
        person().prop_map(|by| Event::Approved { by }),
        person().prop_map(|by| Event::Denied { by }),
        person().prop_map(|by| Event::Cancel { by }),
        Just(Event::Expired),
        Just(Event::Provisioned),
        Just(Event::Deactivated),
        Just(Event::ScheduleEnded),
    ]
}

fn approver_set() -> impl Strategy<Value = BTreeSet<UserId>> {
    btree_set(person(), 0..4)
}

fn decision() -> impl Strategy<Value = Decision> {
    prop_oneof![
        Just(Decision::Automatic),
        vec(approver_set(), 0..3).prop_map(Decision::Approval),
        approver_set().prop_map(Decision::Admin),
    ]
}

fn flow(needs_step_up: impl Strategy<Value = bool>) -> impl Strategy<Value = RequestFlow> {
    (needs_step_up, decision()).prop_map(|(needs_step_up, decision)| RequestFlow {
        requester: UserId::trusted(REQUESTER),
        needs_step_up,
        decision,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn granted_is_never_reached_without_the_step_up(
        f in flow(Just(true)),
        events in vec(event(), 0..24),
    ) {
        let mut p = f.start();
        prop_assert_eq!(&p.status, &Status::PendingStepUp);
        let mut stepped_up = false;
        for e in &events {
            if let Ok(next) = f.transition(&p, e) {
                if *e == Event::StepUpVerified {
                    stepped_up = true;
                }
                p = next;
                if matches!(p.status, Status::Granted | Status::Provisioned) {
                    prop_assert!(stepped_up, "{:?} reached without step-up via {:?}", p.status, events);
                }
            }
        }
    }

    #[test]
    fn the_approver_is_never_the_requester_and_always_in_the_current_stage(
        f in flow(any::<bool>()),
        events in vec(event(), 0..24),
    ) {
        let mut p = f.start();
        for e in &events {
            let result = f.transition(&p, e);
            if let Event::Approved { by } | Event::Denied { by } = e {
                let deciding = matches!(p.status, Status::PendingApproval | Status::PendingAdminDecision);
                if by.as_str().eq_ignore_ascii_case(REQUESTER) && deciding {
                    prop_assert_eq!(result.clone(), Err(InvalidTransition::SelfApproval));
                }
                if result.is_ok() {
                    prop_assert!(!by.as_str().eq_ignore_ascii_case(REQUESTER));
                    let deciders = match &f.decision {
                        Decision::Approval(stages) => stages.get(p.stage).cloned(),
                        Decision::Admin(admins) => Some(admins.clone()),
                        Decision::Automatic => None,
                    };
                    let deciders = deciders.unwrap_or_default();
                    prop_assert!(deciders.iter().any(|d| d.as_str().eq_ignore_ascii_case(by.as_str())));
                }
            }
            if let Ok(next) = result {
                p = next;
            }
        }
    }

    #[test]
    fn final_statuses_stay_final(f in flow(any::<bool>()), events in vec(event(), 0..24)) {
        let mut p = f.start();
        let mut final_status: Option<Status> = None;
        for e in &events {
            if let Ok(next) = f.transition(&p, e) {
                prop_assert!(final_status.is_none(), "left {:?} by {:?}", final_status, e);
                p = next;
            }
            if p.status.is_final() {
                final_status = Some(p.status.clone());
            }
        }
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 9, 30, 0).unwrap()
}

fn policy(max_minutes: i64, context: bool) -> RoleManagementPolicy {
    let mut p = RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now());
    p.patch_rule(
        "Expiration_EndUser_Assignment",
        &json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
                "maximumDuration": format_duration(TimeDelta::minutes(max_minutes))}),
        now(),
        None,
    )
    .unwrap();
    if context {
        p.patch_rule(
            "AuthenticationContext_EndUser_Assignment",
            &json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
                    "isEnabled": true, "claimValue": "c3"}),
            now(),
            None,
        )
        .unwrap();
    }
    p
}

/// A `selfActivate` body starting `start_offset` minutes from now (or now), ending as `expiration`
/// says: `(0, m)` after `m` minutes, `(1, m)` at `m` minutes after the requested start, else never.
fn request(start_offset: Option<i64>, expiration: Option<(u8, i64)>) -> ScheduleRequest {
    let mut schedule = json!({});
    let start = now() + TimeDelta::minutes(start_offset.unwrap_or(0));
    if start_offset.is_some() {
        schedule["startDateTime"] = json!(start.to_rfc3339());
    }
    match expiration {
        Some((0, minutes)) => {
            schedule["expiration"] = json!({"type": "afterDuration",
                "duration": format_duration(TimeDelta::minutes(minutes))})
        }
        Some((1, minutes)) => {
            schedule["expiration"] = json!({"type": "afterDateTime",
                "endDateTime": (start + TimeDelta::minutes(minutes)).to_rfc3339()})
        }
        Some(_) => schedule["expiration"] = json!({"type": "noExpiration"}),
        None => {}
    }
    serde_json::from_value(json!({
        "action": "selfActivate", "principalId": REQUESTER,
        "roleDefinitionId": GLOBAL_ADMINISTRATOR, "directoryScopeId": "/",
        "justification": "generated", "scheduleInfo": schedule
    }))
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn an_activation_plan_stays_within_the_rules(
        max_minutes in 1i64..=1440,
        context in any::<bool>(),
        start_offset in prop::option::of(-20i64..600),
        // Minutes relative to the maximum: mostly shorter, sometimes just longer.
        expiration in prop::option::of((0u8..3, prop_oneof![-1500i64..0, -2i64..4])),
        eligibility_end in prop::option::of(-30i64..3000),
        mfa in any::<bool>(),
        step_up in any::<bool>(),
    ) {
        let p = policy(max_minutes, context);
        let facts = ActivationFacts {
            eligibility: Some(Window {
                start: now() - TimeDelta::days(1),
                end: eligibility_end.map(|m| now() + TimeDelta::minutes(m)),
            }),
            active: None,
            session_has_mfa_claim: mfa,
            step_up: if step_up {
                support::verified_step_up("alice", "role", now())
            } else {
                pim::step_up::StepUp::NotPresented
            },
        };
        let r = request(start_offset, expiration.map(|(kind, delta)| (kind, max_minutes + delta)));
        if let Ok(plan) = validate_activation(&p, &r, &facts, now()) {
            let max = TimeDelta::minutes(max_minutes);
            let end = plan.end.expect("activations always end");
            prop_assert!(plan.start >= now());
            prop_assert!(start_offset.is_none_or(|m| m >= -5), "started {:?} minutes from now", start_offset);
            prop_assert!(end > plan.start);
            prop_assert!(end - plan.start <= max, "{:?} longer than {}", plan, max_minutes);
            if let Some(e) = facts.eligibility.and_then(|w| w.end) {
                prop_assert!(end <= e);
                if plan.end_clipped_to_eligibility {
                    prop_assert_eq!(end, e);
                }
            }
            if context && !step_up {
                prop_assert_eq!(plan.needs_step_up.map(|c| c.to_string()), Some("c3".to_string()));
                prop_assert_eq!(plan.initial_status(), Status::PendingStepUp);
            } else {
                prop_assert_eq!(plan.needs_step_up, None);
            }
            prop_assert!(context || mfa, "the MFA claim check was skipped");
        }
    }

    #[test]
    fn durations_read_back_as_written(seconds in 0i64..(400 * 86_400), millis in 0i64..1000) {
        let d = TimeDelta::seconds(seconds) + TimeDelta::milliseconds(millis);
        let text = format_duration(d);
        prop_assert_eq!(parse_duration(&text), Ok(d), "{}", text);
    }

    /// Any count of any unit parses to a duration or an error, never a panic, and what parses
    /// can be added to any time a request may name (years 0 to 9999) without overflow.
    #[test]
    fn any_duration_text_parses_without_overflow(
        count in prop_oneof![any::<u64>(), 0u64..1_000_000_000_000],
        unit in prop::sample::select(&["W", "D", "TH", "TM", "TS"][..]),
    ) {
        let text = match unit.strip_prefix('T') {
            Some(time) => format!("PT{count}{time}"),
            None => format!("P{count}{unit}"),
        };
        if let Ok(d) = parse_duration(&text) {
            prop_assert!(d >= TimeDelta::zero());
            let latest = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap();
            prop_assert!(latest.checked_add_signed(d).is_some(), "{}", text);
        }
    }

    /// The numbers of an approval stage are accepted exactly within their ranges, whatever
    /// they are.
    #[test]
    fn approval_stage_numbers_are_accepted_exactly_within_their_ranges(
        days in prop_oneof![any::<i64>(), -2i64..400],
        minutes in prop_oneof![any::<i64>(), -2i64..600_000],
    ) {
        let mut p = RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now());
        let body = json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
            "setting": {"isApprovalRequired": true, "approvalStages": [{
                "approvalStageTimeOutInDays": days, "escalationTimeInMinutes": minutes,
                "primaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": "u1"}]
            }]}
        });
        let accepted = p.patch_rule("Approval_EndUser_Assignment", &body, now(), None).is_ok();
        let in_range = (1..=pim::MAX_STAGE_TIMEOUT_DAYS).contains(&days)
            && (0..=days * 1440).contains(&minutes);
        prop_assert_eq!(accepted, in_range, "{} days, {} minutes", days, minutes);
    }
}
