//! Administrator requests (`adminAssign`, `adminUpdate`, `adminRemove`, `adminExtend`,
//! `adminRenew`) and the principal's own requests to extend or renew an assignment
//! (`selfExtend`, `selfRenew`), which wait for an administrator.

use super::activation::{check_scope, Window};
use super::requirements::{check_enablement, check_justification, enablement_rule};
use super::violation::RuleViolation;
use super::window::{expiration_rule, resolve, Period, Resolve, Unspecified};
use crate::request::{Action, ScheduleKind, ScheduleRequest};
use crate::rule_id::RuleId;
use crate::RoleManagementPolicy;
use chrono::{DateTime, TimeDelta, Utc};

/// How long before its end an assignment's holder may ask to extend it.
pub const EXTENSION_WINDOW: TimeDelta = TimeDelta::days(14);
/// How long after its end an assignment's holder may ask to renew it.
pub const RENEWAL_WINDOW: TimeDelta = TimeDelta::days(30);

/// What the server knows before checking an administrator's (or a self-extend/renew) request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AdminFacts {
    /// The principal's current (or, for renewals, most recent) schedule of the requested kind
    /// for the role, if any.
    pub existing: Option<Window>,
    /// Whether the caller's session carries an MFA claim (for `MultiFactorAuthentication` in
    /// `Enablement_Admin_*`).
    pub caller_has_mfa_claim: bool,
}

/// What a valid administrator or self-extend/renew request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentPlan {
    /// Create (assign, renew) or replace (update, extend) the schedule with this period.
    Schedule {
        /// Start.
        start: DateTime<Utc>,
        /// End; `None` for a permanent assignment.
        end: Option<DateTime<Utc>>,
        /// Whether an administrator must decide first (`selfExtend`, `selfRenew`: the request
        /// is recorded as `PendingAdminDecision`).
        needs_admin_decision: bool,
    },
    /// End the schedule now.
    Remove,
}

fn rules_for(kind: ScheduleKind) -> (RuleId, RuleId) {
    match kind {
        ScheduleKind::Eligibility => (
            RuleId::ExpirationAdminEligibility,
            RuleId::EnablementAdminEligibility,
        ),
        ScheduleKind::Assignment => (
            RuleId::ExpirationAdminAssignment,
            RuleId::EnablementAdminAssignment,
        ),
    }
}

/// Checks an administrator's request for an eligible (`kind` Eligibility) or active
/// (`kind` Assignment) assignment against `Expiration_Admin_*` and `Enablement_Admin_*`.
///
/// - `adminAssign`: no existing schedule; the period within the rule (an unspecified expiration
///   is the maximum when an end is required, permanent otherwise);
/// - `adminUpdate`: an existing schedule; the new period within the rule (a start given in the
///   request may be the existing one, even in the past; without one the period starts now);
/// - `adminRemove`: an existing schedule;
/// - `adminExtend`: an existing schedule that ends; the new end later than the current one;
/// - `adminRenew`: an existing schedule that has ended; a new period within the rule.
///
/// Justification and the MFA claim are required as `Enablement_Admin_*` says.
pub fn validate_admin_request(
    policy: &RoleManagementPolicy,
    request: &ScheduleRequest,
    kind: ScheduleKind,
    facts: &AdminFacts,
    now: DateTime<Utc>,
) -> Result<AssignmentPlan, Vec<RuleViolation>> {
    let action = request.action();
    if !action.is_admin() {
        return Err(vec![RuleViolation::WrongAction {
            expected: "adminAssign, adminUpdate, adminRemove, adminExtend or adminRenew",
            found: action.to_string(),
        }]);
    }
    let mut out = Vec::new();
    check_scope(request, &mut out);
    let missing = RuleViolation::RoleAssignmentDoesNotExist { kind };

    match (&action, facts.existing) {
        (Action::AdminAssign, Some(_)) => out.push(RuleViolation::RoleAssignmentExists { kind }),
        (Action::AdminAssign, None) => {}
        (_, None) => out.push(missing),
        (Action::AdminRemove, Some(_)) => {}
        (Action::AdminExtend, Some(w)) => match w.end {
            None => out.push(RuleViolation::NoExpiryToExtend { kind }),
            Some(end) if end <= now => out.push(RuleViolation::AlreadyExpired { kind, end }),
            Some(_) => {}
        },
        (Action::AdminRenew, Some(w)) => {
            if w.end.is_none_or(|end| end > now) {
                out.push(RuleViolation::NotExpired { kind });
            }
        }
        (_, Some(_)) => {}
    }

    if action == Action::AdminRemove {
        return if out.is_empty() {
            Ok(AssignmentPlan::Remove)
        } else {
            Err(out)
        };
    }

    let (expiration_id, enablement_id) = rules_for(kind);
    if let Some(rule) = enablement_rule(policy, &enablement_id, &mut out) {
        check_enablement(
            request,
            &enablement_id,
            rule,
            None,
            Some(facts.caller_has_mfa_claim),
            &mut out,
        );
    }
    // Updates and extensions may keep the existing start.
    let keeps_start = matches!(action, Action::AdminUpdate | Action::AdminExtend);
    let anchor = facts.existing.filter(|_| keeps_start).map(|w| w.start);
    let period = schedule(policy, request, &expiration_id, now, anchor, &mut out);
    if let (
        Action::AdminExtend,
        Some(period),
        Some(Window {
            end: Some(current), ..
        }),
    ) = (&action, period, facts.existing)
    {
        check_later(current, period, &mut out);
    }
    match period {
        Some(p) if out.is_empty() => Ok(AssignmentPlan::Schedule {
            start: p.start,
            end: p.end,
            needs_admin_decision: false,
        }),
        _ => Err(out),
    }
}

/// Checks a principal's `selfExtend` (an assignment ending within 14 days) or `selfRenew` (one
/// that ended within 30 days) request. A justification is required; the requested period must
/// fit `Expiration_Admin_*`, since an administrator will grant it.
pub fn validate_self_extension(
    policy: &RoleManagementPolicy,
    request: &ScheduleRequest,
    kind: ScheduleKind,
    existing: Option<Window>,
    now: DateTime<Utc>,
) -> Result<AssignmentPlan, Vec<RuleViolation>> {
    let action = request.action();
    if !matches!(action, Action::SelfExtend | Action::SelfRenew) {
        return Err(vec![RuleViolation::WrongAction {
            expected: "selfExtend or selfRenew",
            found: action.to_string(),
        }]);
    }
    let mut out = Vec::new();
    check_scope(request, &mut out);
    let (expiration_id, enablement_id) = rules_for(kind);
    match existing {
        None => out.push(RuleViolation::RoleAssignmentDoesNotExist { kind }),
        Some(w) => match (&action, w.end) {
            (Action::SelfExtend, None) => out.push(RuleViolation::NoExpiryToExtend { kind }),
            (Action::SelfExtend, Some(end)) if end <= now => {
                out.push(RuleViolation::AlreadyExpired { kind, end })
            }
            (Action::SelfExtend, Some(end)) if now < end - EXTENSION_WINDOW => {
                out.push(RuleViolation::TooEarlyToExtend {
                    kind,
                    end,
                    earliest: end - EXTENSION_WINDOW,
                })
            }
            (Action::SelfRenew, None) => out.push(RuleViolation::NotExpired { kind }),
            (Action::SelfRenew, Some(end)) if end > now => {
                out.push(RuleViolation::NotExpired { kind })
            }
            (Action::SelfRenew, Some(end)) if now - end > RENEWAL_WINDOW => {
                out.push(RuleViolation::RenewalWindowClosed { kind, end })
            }
            _ => {}
        },
    }
    check_justification(request, Some(&enablement_id), &mut out);
    let anchor = existing
        .filter(|_| action == Action::SelfExtend)
        .map(|w| w.start);
    let period = schedule(policy, request, &expiration_id, now, anchor, &mut out);
    if let (
        Action::SelfExtend,
        Some(period),
        Some(Window {
            end: Some(current), ..
        }),
    ) = (&action, period, existing)
    {
        check_later(current, period, &mut out);
    }
    match period {
        Some(p) if out.is_empty() => Ok(AssignmentPlan::Schedule {
            start: p.start,
            end: p.end,
            needs_admin_decision: true,
        }),
        _ => Err(out),
    }
}

fn schedule(
    policy: &RoleManagementPolicy,
    request: &ScheduleRequest,
    expiration_id: &RuleId,
    now: DateTime<Utc>,
    anchor: Option<DateTime<Utc>>,
    out: &mut Vec<RuleViolation>,
) -> Option<Period> {
    let rule = expiration_rule(policy, expiration_id, out)?;
    let how = Resolve {
        now,
        default_start: now,
        anchor,
        unspecified: Unspecified::MaximumIfRequired,
    };
    resolve(request, expiration_id, rule, &how, out)
}

fn check_later(current: DateTime<Utc>, period: Period, out: &mut Vec<RuleViolation>) {
    if let Some(new_end) = period.end.filter(|e| *e <= current) {
        out.push(RuleViolation::ExtensionNotLater {
            current_end: current,
            new_end,
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::request::{ExpirationPattern, ExpirationType, RequestSchedule};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap()
    }

    fn policy() -> RoleManagementPolicy {
        RoleManagementPolicy::default_for(policy::directory::GLOBAL_ADMINISTRATOR, now())
    }

    fn request(action: Action, exp: Option<ExpirationPattern>) -> ScheduleRequest {
        ScheduleRequest {
            action: Some(action),
            principal_id: "bob".into(),
            role_definition_id: policy::directory::GLOBAL_ADMINISTRATOR.into(),
            directory_scope_id: Some("/".into()),
            justification: Some("new on-call engineer".into()),
            schedule_info: Some(RequestSchedule {
                expiration: exp,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn no_expiration() -> Option<ExpirationPattern> {
        Some(ExpirationPattern {
            kind: Some(ExpirationType::NoExpiration),
            ..Default::default()
        })
    }

    fn days(n: i64) -> Option<ExpirationPattern> {
        Some(ExpirationPattern {
            duration: Some(format!("P{n}D")),
            ..Default::default()
        })
    }

    #[test]
    fn eligibility_defaults_to_a_year_and_cannot_be_permanent() {
        let facts = AdminFacts::default();
        let plan = validate_admin_request(
            &policy(),
            &request(Action::AdminAssign, None),
            ScheduleKind::Eligibility,
            &facts,
            now(),
        )
        .unwrap();
        assert_eq!(
            plan,
            AssignmentPlan::Schedule {
                start: now(),
                end: Some(now() + TimeDelta::days(365)),
                needs_admin_decision: false
            }
        );
        let err = validate_admin_request(
            &policy(),
            &request(Action::AdminAssign, no_expiration()),
            ScheduleKind::Eligibility,
            &facts,
            now(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            vec![RuleViolation::ExpirationRequired {
                rule_id: RuleId::ExpirationAdminEligibility
            }]
        );
    }

    #[test]
    fn active_assignment_needs_a_justification_and_at_most_180_days() {
        let mut r = request(Action::AdminAssign, days(181));
        r.justification = Some(" ".into());
        let err = validate_admin_request(
            &policy(),
            &r,
            ScheduleKind::Assignment,
            &AdminFacts::default(),
            now(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            vec![
                RuleViolation::JustificationRequired {
                    rule_id: RuleId::EnablementAdminAssignment
                },
                RuleViolation::DurationTooLong {
                    rule_id: RuleId::ExpirationAdminAssignment,
                    requested: TimeDelta::days(181),
                    maximum: TimeDelta::days(180)
                }
            ]
        );
    }

    #[test]
    fn assign_update_remove_extend_renew_need_the_right_existing_schedule() {
        let existing = Some(Window {
            start: now() - TimeDelta::days(100),
            end: Some(now() + TimeDelta::days(10)),
        });
        let with = AdminFacts {
            existing,
            ..Default::default()
        };
        let kind = ScheduleKind::Eligibility;
        let p = policy();
        let check = |action, facts: &AdminFacts, exp| {
            validate_admin_request(&p, &request(action, exp), kind, facts, now())
        };
        assert_eq!(
            check(Action::AdminAssign, &with, None),
            Err(vec![RuleViolation::RoleAssignmentExists { kind }])
        );
        for action in [
            Action::AdminUpdate,
            Action::AdminRemove,
            Action::AdminExtend,
            Action::AdminRenew,
        ] {
            assert_eq!(
                check(action.clone(), &AdminFacts::default(), None),
                Err(vec![RuleViolation::RoleAssignmentDoesNotExist { kind }]),
                "{action}"
            );
        }
        assert_eq!(
            check(Action::AdminRemove, &with, None),
            Ok(AssignmentPlan::Remove)
        );
        assert_eq!(
            check(Action::AdminRenew, &with, None),
            Err(vec![RuleViolation::NotExpired { kind }])
        );
        // An extension may keep the original start, in the past; 200 days from it end 100 days
        // from now, later than the current end.
        let mut r = request(Action::AdminExtend, days(200));
        r.schedule_info.as_mut().unwrap().start_date_time = existing.map(|w| w.start);
        assert_eq!(
            validate_admin_request(&p, &r, kind, &with, now()),
            Ok(AssignmentPlan::Schedule {
                start: now() - TimeDelta::days(100),
                end: Some(now() + TimeDelta::days(100)),
                needs_admin_decision: false
            })
        );
        let mut r = request(Action::AdminExtend, days(105));
        r.schedule_info.as_mut().unwrap().start_date_time = existing.map(|w| w.start);
        assert_eq!(
            validate_admin_request(&p, &r, kind, &with, now()),
            Err(vec![RuleViolation::ExtensionNotLater {
                current_end: now() + TimeDelta::days(10),
                new_end: now() + TimeDelta::days(5)
            }])
        );
    }

    #[test]
    fn self_extension_opens_fourteen_days_before_the_end_and_renewal_closes_thirty_after() {
        let kind = ScheduleKind::Assignment;
        let p = policy();
        let window = |end: DateTime<Utc>| {
            Some(Window {
                start: now() - TimeDelta::days(170),
                end: Some(end),
            })
        };
        let extend = request(Action::SelfExtend, days(30));
        let early = now() + TimeDelta::days(15);
        assert_eq!(
            validate_self_extension(&p, &extend, kind, window(early), now()),
            Err(vec![RuleViolation::TooEarlyToExtend {
                kind,
                end: early,
                earliest: early - TimeDelta::days(14)
            }])
        );
        let r = request(Action::SelfExtend, None);
        let plan = validate_self_extension(&p, &r, kind, window(now() + TimeDelta::days(3)), now());
        assert!(
            matches!(
                plan,
                Ok(AssignmentPlan::Schedule {
                    needs_admin_decision: true,
                    ..
                })
            ),
            "{plan:?}"
        );
        let renew = request(Action::SelfRenew, days(30));
        assert!(validate_self_extension(
            &p,
            &renew,
            kind,
            window(now() - TimeDelta::days(29)),
            now()
        )
        .is_ok());
        let ended = now() - TimeDelta::days(31);
        assert_eq!(
            validate_self_extension(&p, &renew, kind, window(ended), now()),
            Err(vec![RuleViolation::RenewalWindowClosed {
                kind,
                end: ended
            }])
        );
    }
}
