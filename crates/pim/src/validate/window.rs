//! From a request's `scheduleInfo` and an expiration rule to a start and an end.

use super::violation::RuleViolation;
use crate::iso8601::format_duration;
use crate::request::{ExpirationType, ScheduleRequest};
use crate::rule_check::check_rule;
use crate::rule_id::RuleId;
use crate::rules::{ExpirationRule, Rule};
use chrono::{DateTime, TimeDelta, Utc};

/// How far in the past a requested start may lie (clock skew between client and server).
pub const START_GRACE: TimeDelta = TimeDelta::minutes(5);

/// What an unspecified expiration means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unspecified {
    /// The rule's maximum, whenever the rule has one (activations always end).
    Maximum,
    /// The rule's maximum when the rule requires an end; otherwise no end.
    MaximumIfRequired,
}

/// The resolved period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Period {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

/// Inputs besides the request and rule.
pub(crate) struct Resolve {
    pub now: DateTime<Utc>,
    /// Start when the request gives none.
    pub default_start: DateTime<Utc>,
    /// A start at or after this may lie in the past (the existing schedule's start, when an
    /// update or extension keeps it).
    pub anchor: Option<DateTime<Utc>>,
    pub unspecified: Unspecified,
}

/// The expiration rule `id`, or a violation saying why it cannot be used.
pub(crate) fn expiration_rule<'a>(
    policy: &'a crate::RoleManagementPolicy,
    id: &RuleId,
    out: &mut Vec<RuleViolation>,
) -> Option<&'a ExpirationRule> {
    match policy.rule(id) {
        Some(rule @ Rule::Expiration(r)) => match check_rule(rule) {
            Ok(()) => Some(r),
            Err(e) => {
                out.push(misconfigured(id, e.to_string()));
                None
            }
        },
        Some(_) | None => {
            out.push(misconfigured(id, "the rule is missing".to_string()));
            None
        }
    }
}

pub(crate) fn misconfigured(id: &RuleId, reason: String) -> RuleViolation {
    RuleViolation::PolicyMisconfigured {
        rule_id: id.clone(),
        reason,
    }
}

/// Resolves the request's period under `rule`; pushes violations and returns `None` when it
/// cannot.
pub(crate) fn resolve(
    request: &ScheduleRequest,
    rule_id: &RuleId,
    rule: &ExpirationRule,
    how: &Resolve,
    out: &mut Vec<RuleViolation>,
) -> Option<Period> {
    let before = out.len();
    let invalid = |reason: &str| RuleViolation::InvalidSchedule {
        reason: reason.to_string(),
    };
    let maximum = match rule.maximum() {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            out.push(misconfigured(rule_id, format!("maximumDuration: {e}")));
            return None;
        }
        None if rule.is_expiration_required => {
            out.push(misconfigured(rule_id, "no maximumDuration".to_string()));
            return None;
        }
        None => None,
    };

    let schedule = request.schedule_info.as_ref();
    if schedule.is_some_and(|s| s.recurrence.as_ref().is_some_and(|r| !r.is_null())) {
        out.push(invalid("recurring schedules are not supported"));
    }
    let requested = schedule
        .and_then(|s| s.start_date_time)
        .unwrap_or(how.default_start);
    let anchored = how.anchor.is_some_and(|a| requested >= a);
    let start = if anchored {
        requested
    } else if requested < how.now - START_GRACE {
        out.push(RuleViolation::StartInPast {
            start: requested,
            now: how.now,
        });
        requested
    } else {
        requested.max(how.now)
    };

    let add = |d: TimeDelta, out: &mut Vec<RuleViolation>| {
        let end = start.checked_add_signed(d);
        if end.is_none() {
            out.push(invalid("the end is too far in the future"));
        }
        end
    };
    let within = |d: TimeDelta, out: &mut Vec<RuleViolation>| {
        if let Some(m) = maximum.filter(|m| d > *m) {
            out.push(RuleViolation::DurationTooLong {
                rule_id: rule_id.clone(),
                requested: d,
                maximum: m,
            });
        }
    };

    let expiration = request.expiration();
    let kind = expiration
        .map(|e| e.effective_kind())
        .unwrap_or(ExpirationType::NotSpecified);
    let end = match kind {
        ExpirationType::AfterDuration => match expiration.and_then(|e| e.parsed_duration()) {
            None => {
                out.push(invalid("an afterDuration expiration needs a duration"));
                None
            }
            Some(Err(e)) => {
                out.push(invalid(&format!("duration: {e}")));
                None
            }
            Some(Ok(d)) if d <= TimeDelta::zero() => {
                out.push(invalid(&format!(
                    "duration {} must be longer than zero",
                    format_duration(d)
                )));
                None
            }
            Some(Ok(d)) => {
                within(d, out);
                add(d, out)
            }
        },
        ExpirationType::AfterDateTime => match expiration.and_then(|e| e.end_date_time) {
            None => {
                out.push(invalid("an afterDateTime expiration needs an endDateTime"));
                None
            }
            Some(end) if end <= start => {
                out.push(invalid(&format!(
                    "it ends at {end}, not after it starts ({start})"
                )));
                None
            }
            Some(end) => {
                within(end - start, out);
                Some(end)
            }
        },
        ExpirationType::NoExpiration => {
            if rule.is_expiration_required {
                out.push(RuleViolation::ExpirationRequired {
                    rule_id: rule_id.clone(),
                });
            }
            None
        }
        ExpirationType::NotSpecified => {
            let use_maximum = match how.unspecified {
                Unspecified::Maximum => true,
                Unspecified::MaximumIfRequired => rule.is_expiration_required,
            };
            match maximum.filter(|_| use_maximum) {
                Some(m) => add(m, out),
                None => None,
            }
        }
        ExpirationType::Unknown(t) => {
            out.push(invalid(&format!(
                "'{t}' is not an expiration type; use afterDuration, afterDateTime or noExpiration"
            )));
            None
        }
    };
    (out.len() == before).then_some(Period { start, end })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::request::{ExpirationPattern, RequestSchedule};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()
    }

    fn rule(max: &str, required: bool) -> ExpirationRule {
        ExpirationRule {
            id: "Expiration_EndUser_Assignment".into(),
            is_expiration_required: required,
            maximum_duration: Some(max.into()),
            ..Default::default()
        }
    }

    fn request(start: Option<DateTime<Utc>>, exp: Option<ExpirationPattern>) -> ScheduleRequest {
        ScheduleRequest {
            schedule_info: Some(RequestSchedule {
                start_date_time: start,
                expiration: exp,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn how(unspecified: Unspecified) -> Resolve {
        Resolve {
            now: now(),
            default_start: now(),
            anchor: None,
            unspecified,
        }
    }

    fn run(
        r: &ScheduleRequest,
        rule: &ExpirationRule,
        how: &Resolve,
    ) -> Result<Period, Vec<RuleViolation>> {
        let mut out = Vec::new();
        resolve(r, &RuleId::ExpirationEndUserAssignment, rule, how, &mut out).ok_or(out)
    }

    #[test]
    fn unspecified_means_the_maximum_for_activations_and_none_when_not_required() {
        let r = request(None, None);
        let p = run(&r, &rule("PT8H", true), &how(Unspecified::Maximum)).unwrap();
        assert_eq!(p.end, Some(now() + TimeDelta::hours(8)));
        let p = run(
            &r,
            &rule("P180D", false),
            &how(Unspecified::MaximumIfRequired),
        )
        .unwrap();
        assert_eq!(p.end, None);
        let p = run(
            &r,
            &rule("P180D", true),
            &how(Unspecified::MaximumIfRequired),
        )
        .unwrap();
        assert_eq!(p.end, Some(now() + TimeDelta::days(180)));
    }

    #[test]
    fn a_start_within_the_grace_is_moved_to_now_and_an_anchored_start_is_kept() {
        let r = request(Some(now() - TimeDelta::minutes(4)), None);
        let p = run(&r, &rule("PT8H", true), &how(Unspecified::Maximum)).unwrap();
        assert_eq!(p.start, now());
        let old = now() - TimeDelta::days(3);
        let r = request(Some(old), None);
        let mut h = how(Unspecified::MaximumIfRequired);
        assert!(matches!(
            run(&r, &rule("P180D", true), &h).unwrap_err()[..],
            [RuleViolation::StartInPast { .. }]
        ));
        h.anchor = Some(old);
        assert_eq!(run(&r, &rule("P180D", true), &h).unwrap().start, old);
    }

    #[test]
    fn unknown_expiration_types_and_missing_values_are_refused() {
        for exp in [
            ExpirationPattern {
                kind: Some(ExpirationType::parse("afterLunch")),
                ..Default::default()
            },
            ExpirationPattern {
                kind: Some(ExpirationType::AfterDuration),
                ..Default::default()
            },
            ExpirationPattern {
                kind: Some(ExpirationType::AfterDateTime),
                ..Default::default()
            },
            ExpirationPattern {
                duration: Some("PT0S".into()),
                ..Default::default()
            },
            ExpirationPattern {
                duration: Some("P1M".into()),
                ..Default::default()
            },
        ] {
            let r = request(None, Some(exp.clone()));
            let err = run(&r, &rule("PT8H", true), &how(Unspecified::Maximum)).unwrap_err();
            assert!(
                matches!(err[..], [RuleViolation::InvalidSchedule { .. }]),
                "{exp:?}: {err:?}"
            );
        }
    }

    #[test]
    fn a_broken_rule_is_a_misconfiguration() {
        let r = request(None, None);
        let err = run(&r, &rule("8 hours", true), &how(Unspecified::Maximum)).unwrap_err();
        assert!(
            matches!(err[..], [RuleViolation::PolicyMisconfigured { .. }]),
            "{err:?}"
        );
    }
}
