//! `selfActivate` and `selfDeactivate`: may this principal activate (or end) the role now, and
//! what must happen before the activation is granted.

use super::requirements::{check_enablement, enablement_rule};
use super::violation::RuleViolation;
use super::window::{expiration_rule, misconfigured, resolve, Resolve, Unspecified};
use crate::approval::ApprovalStage;
use crate::request::{Action, ScheduleKind, ScheduleRequest, Status};
use crate::rule_check::check_rule;
use crate::rule_id::RuleId;
use crate::rules::{ApprovalRule, AuthenticationContextRule, EnabledRule, Rule};
use crate::step_up::StepUp;
use crate::RoleManagementPolicy;
use chrono::{DateTime, TimeDelta, Utc};
use policy::context::ContextId;

/// How long an activation must have lasted before its holder may end it.
pub const MINIMUM_ACTIVE_DURATION: TimeDelta = TimeDelta::minutes(5);

/// A period: a start and, unless permanent, an end (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start.
    pub start: DateTime<Utc>,
    /// End; `None` for a permanent assignment.
    pub end: Option<DateTime<Utc>>,
}

/// The principal's active assignment of the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveAssignment {
    /// Its period.
    pub window: Window,
    /// `Activated` (from eligibility) or `Assigned` (by an administrator).
    pub assignment_type: ActiveKind,
}

/// How an active assignment came to be (Graph `assignmentType`: `Assigned` or `Activated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveKind {
    /// Assigned by an administrator.
    Assigned,
    /// Activated by the principal.
    Activated,
}

/// What the server knows about the principal and this request, gathered before the check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActivationFacts {
    /// The principal's eligible assignment of the role (direct or through a group), if any.
    pub eligibility: Option<Window>,
    /// The principal's active assignment of the role, if any.
    pub active: Option<ActiveAssignment>,
    /// Whether the caller's session carries an MFA claim (`amr` contains `mfa`), however old:
    /// this is what the `MultiFactorAuthentication` rule checks.
    pub session_has_mfa_claim: bool,
    /// Where the request stands with its step-up: a proof for the required context, made after
    /// this request was recorded and bound to it, can only be [`StepUp::Verified`] by
    /// [`crate::step_up::check`].
    pub step_up: StepUp,
}

/// The approval stages a request must pass.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApprovalStages(pub Vec<ApprovalStage>);

/// What must happen for an activation that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationPlan {
    /// When the activation starts (never before now).
    pub start: DateTime<Utc>,
    /// When it ends; `None` only when the role does not require an end and none was asked for
    /// (and eligibility is permanent).
    pub end: Option<DateTime<Utc>>,
    /// Whether `end` was brought forward to the end of the eligible assignment.
    pub end_clipped_to_eligibility: bool,
    /// Stages to pass before the activation is granted.
    pub needs_approval: Option<ApprovalStages>,
    /// The context whose fresh, request-bound step-up is still needed; the server answers
    /// `RoleAssignmentRequestAcrsValidationFailed` with a claims challenge for it.
    pub needs_step_up: Option<ContextId>,
    /// Whether the activation rests on the `MultiFactorAuthentication` claim check (an MFA done
    /// earlier in the session counts). The lint flags roles where this is the only check.
    pub mfa_claim_check: bool,
}

impl ActivationPlan {
    /// The status the request is recorded with.
    pub fn initial_status(&self) -> Status {
        if self.needs_step_up.is_some() {
            Status::PendingStepUp
        } else if self.needs_approval.is_some() {
            Status::PendingApproval
        } else {
            Status::Granted
        }
    }
}

/// What a valid `selfDeactivate` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeactivationPlan {
    /// When the activation ends: now.
    pub end: DateTime<Utc>,
}

pub(crate) fn check_scope(request: &ScheduleRequest, out: &mut Vec<RuleViolation>) {
    match request.directory_scope_id.as_deref() {
        Some("/") => {}
        other => out.push(RuleViolation::UnsupportedScope {
            found: other.unwrap_or("").to_string(),
        }),
    }
}

fn context_rule<'a>(
    policy: &'a RoleManagementPolicy,
    out: &mut Vec<RuleViolation>,
) -> Option<&'a AuthenticationContextRule> {
    let id = RuleId::AuthenticationContextEndUserAssignment;
    match policy.rule(&id) {
        Some(rule @ Rule::AuthenticationContext(r)) => match check_rule(rule) {
            Ok(()) => Some(r),
            Err(e) => {
                out.push(misconfigured(&id, e.to_string()));
                None
            }
        },
        _ => {
            out.push(misconfigured(&id, "the rule is missing".to_string()));
            None
        }
    }
}

fn approval_rule<'a>(
    policy: &'a RoleManagementPolicy,
    out: &mut Vec<RuleViolation>,
) -> Option<&'a ApprovalRule> {
    let id = RuleId::ApprovalEndUserAssignment;
    match policy.rule(&id) {
        Some(rule @ Rule::Approval(r)) => match check_rule(rule) {
            Ok(()) => Some(r),
            Err(e) => {
                out.push(misconfigured(&id, e.to_string()));
                None
            }
        },
        _ => {
            out.push(misconfigured(&id, "the rule is missing".to_string()));
            None
        }
    }
}

/// Checks a `selfActivate` request against the role's settings and the facts.
///
/// Every violation is reported, not only the first. The checks: the action and scope; that the
/// principal is eligible and not already active; justification (trimmed, at most 500
/// characters) when `Enablement_EndUser_Assignment` or, for a role that needs approval,
/// `isRequestorJustificationRequired` asks for one; ticket number and system when it asks for
/// `Ticketing`; the MFA claim when it asks for `MultiFactorAuthentication` and no
/// authentication context is required (a required context supersedes the claim check: its
/// step-up is stronger); the duration against `Expiration_EndUser_Assignment` (an unspecified
/// expiration gets the maximum); a start at most five minutes in the past and before the
/// eligibility ends. The end is brought forward to the end of eligibility, and the plan says so.
/// A role whose settings are broken refuses activation (`PolicyMisconfigured`) rather than
/// guess.
pub fn validate_activation(
    policy: &RoleManagementPolicy,
    request: &ScheduleRequest,
    facts: &ActivationFacts,
    now: DateTime<Utc>,
) -> Result<ActivationPlan, Vec<RuleViolation>> {
    let action = request.action();
    if action != Action::SelfActivate {
        return Err(vec![RuleViolation::WrongAction {
            expected: "selfActivate",
            found: action.to_string(),
        }]);
    }
    let mut out = Vec::new();
    check_scope(request, &mut out);

    match facts.eligibility {
        None => out.push(RuleViolation::NotEligible),
        Some(Window { end: Some(end), .. }) if end <= now => out.push(RuleViolation::NotEligible),
        Some(_) => {}
    }
    if facts.active.is_some() {
        out.push(RuleViolation::RoleAssignmentExists {
            kind: ScheduleKind::Assignment,
        });
    }

    let expiration_id = RuleId::ExpirationEndUserAssignment;
    let enablement_id = RuleId::EnablementEndUserAssignment;
    let expiration = expiration_rule(policy, &expiration_id, &mut out);
    let enablement = enablement_rule(policy, &enablement_id, &mut out);
    let context = context_rule(policy, &mut out);
    let approval = approval_rule(policy, &mut out);

    let approval_required = approval.is_some_and(|a| a.setting.is_approval_required);
    let approval_id = RuleId::ApprovalEndUserAssignment;
    let justification_also = approval
        .filter(|a| a.setting.is_approval_required && a.setting.is_requestor_justification_required)
        .map(|_| &approval_id);

    // A required context supersedes the MFA claim check.
    let required_context = context.and_then(|c| c.required_context().ok().flatten());
    let mfa_claim_check = required_context.is_none()
        && enablement.is_some_and(|e| e.requires(&EnabledRule::MultiFactorAuthentication));
    if let Some(rule) = enablement {
        let mfa = mfa_claim_check.then_some(facts.session_has_mfa_claim);
        check_enablement(
            request,
            &enablement_id,
            rule,
            justification_also,
            mfa,
            &mut out,
        );
    }

    let mut plan = None;
    if let Some(rule) = expiration {
        let how = Resolve {
            now,
            default_start: now,
            anchor: None,
            unspecified: Unspecified::Maximum,
        };
        if let Some(period) = resolve(request, &expiration_id, rule, &how, &mut out) {
            plan = Some(period);
        }
    }

    let mut end_clipped = false;
    let mut end = None;
    if let (Some(period), Some(eligibility)) = (plan, facts.eligibility) {
        end = period.end;
        if period.start < eligibility.start {
            out.push(RuleViolation::EligibilityNotStarted {
                starts: eligibility.start,
            });
        }
        if let Some(eligibility_end) = eligibility.end {
            if period.start >= eligibility_end && eligibility_end > now {
                out.push(RuleViolation::StartAfterEligibilityEnds {
                    start: period.start,
                    eligibility_end,
                });
            } else if end.is_none_or(|e| e > eligibility_end) {
                end = Some(eligibility_end);
                end_clipped = true;
            }
        }
    }

    match plan {
        Some(period) if out.is_empty() => Ok(ActivationPlan {
            start: period.start,
            end,
            end_clipped_to_eligibility: end_clipped,
            needs_approval: approval
                .filter(|_| approval_required)
                .map(|a| ApprovalStages(a.setting.approval_stages.clone())),
            needs_step_up: required_context.filter(|_| !facts.step_up.is_done()),
            mfa_claim_check,
        }),
        _ => Err(out),
    }
}

/// What activating a role asks of a request, read from its settings as [`validate_activation`]
/// applies them, so that a form can ask for exactly that before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationRequirements {
    /// The longest activation allowed; `None` when the settings set none.
    pub maximum_duration: Option<TimeDelta>,
    /// A justification (`Enablement_EndUser_Assignment`, or the approval's
    /// `isRequestorJustificationRequired` when approval is required).
    pub justification: bool,
    /// A ticket number and system (`Ticketing`).
    pub ticket: bool,
    /// An MFA claim in the session (`MultiFactorAuthentication`, only when no context is
    /// required: a required context supersedes it).
    pub mfa_claim: bool,
    /// The authentication context whose fresh, request-bound step-up activation requires.
    pub context: Option<ContextId>,
    /// Whether approvers decide before the role is active.
    pub approval: bool,
}

/// What activating a role with `policy` requires; the violations when its settings are unusable
/// (then [`validate_activation`] refuses every activation with the same violations).
pub fn activation_requirements(
    policy: &RoleManagementPolicy,
) -> Result<ActivationRequirements, Vec<RuleViolation>> {
    let mut out = Vec::new();
    let expiration_id = RuleId::ExpirationEndUserAssignment;
    let expiration = expiration_rule(policy, &expiration_id, &mut out);
    let enablement = enablement_rule(policy, &RuleId::EnablementEndUserAssignment, &mut out);
    let context = context_rule(policy, &mut out);
    let approval = approval_rule(policy, &mut out);
    let maximum_duration = match expiration.map(|r| (r.maximum(), r.is_expiration_required)) {
        Some((Some(Ok(d)), _)) => Some(d),
        Some((Some(Err(e)), _)) => {
            out.push(misconfigured(
                &expiration_id,
                format!("maximumDuration: {e}"),
            ));
            None
        }
        Some((None, true)) => {
            out.push(misconfigured(
                &expiration_id,
                "no maximumDuration".to_string(),
            ));
            None
        }
        Some((None, false)) | None => None,
    };
    let context = match context.map(AuthenticationContextRule::required_context) {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            out.push(misconfigured(
                &RuleId::AuthenticationContextEndUserAssignment,
                e.to_string(),
            ));
            None
        }
        None => None,
    };
    let approval_required = approval.is_some_and(|a| a.setting.is_approval_required);
    let requires = |rule: &EnabledRule| enablement.is_some_and(|e| e.requires(rule));
    if !out.is_empty() {
        return Err(out);
    }
    Ok(ActivationRequirements {
        maximum_duration,
        justification: requires(&EnabledRule::Justification)
            || approval.is_some_and(|a| {
                a.setting.is_approval_required && a.setting.is_requestor_justification_required
            }),
        ticket: requires(&EnabledRule::Ticketing),
        mfa_claim: context.is_none() && requires(&EnabledRule::MultiFactorAuthentication),
        context,
        approval: approval_required,
    })
}

/// Checks a `selfDeactivate` request: the principal must hold an activation (not an assignment
/// an administrator made) that started at least five minutes ago.
pub fn validate_deactivation(
    request: &ScheduleRequest,
    facts: &ActivationFacts,
    now: DateTime<Utc>,
) -> Result<DeactivationPlan, Vec<RuleViolation>> {
    let action = request.action();
    if action != Action::SelfDeactivate {
        return Err(vec![RuleViolation::WrongAction {
            expected: "selfDeactivate",
            found: action.to_string(),
        }]);
    }
    let mut out = Vec::new();
    check_scope(request, &mut out);
    match facts.active {
        None => out.push(RuleViolation::RoleAssignmentDoesNotExist {
            kind: ScheduleKind::Assignment,
        }),
        Some(active) if active.assignment_type == ActiveKind::Assigned => {
            out.push(RuleViolation::NotActivated)
        }
        Some(active) => {
            let earliest = active.window.start + MINIMUM_ACTIVE_DURATION;
            if now < earliest {
                out.push(RuleViolation::ActiveDurationTooShort {
                    started: active.window.start,
                    earliest,
                });
            }
        }
    }
    if out.is_empty() {
        Ok(DeactivationPlan { end: now })
    } else {
        Err(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::request::{ExpirationPattern, RequestSchedule};
    use chrono::TimeZone;
    use policy::directory::GLOBAL_ADMINISTRATOR;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap()
    }

    fn policy() -> RoleManagementPolicy {
        RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now())
    }

    fn request(duration: Option<&str>) -> ScheduleRequest {
        ScheduleRequest {
            action: Some(Action::SelfActivate),
            principal_id: "alice".into(),
            role_definition_id: GLOBAL_ADMINISTRATOR.into(),
            directory_scope_id: Some("/".into()),
            justification: Some("incident 7".into()),
            schedule_info: Some(RequestSchedule {
                expiration: duration.map(|d| ExpirationPattern {
                    duration: Some(d.into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn eligible() -> ActivationFacts {
        ActivationFacts {
            eligibility: Some(Window {
                start: now() - TimeDelta::days(10),
                end: None,
            }),
            session_has_mfa_claim: true,
            ..Default::default()
        }
    }

    #[test]
    fn default_role_activates_on_an_mfa_claim_for_the_requested_duration() {
        let plan =
            validate_activation(&policy(), &request(Some("PT2H")), &eligible(), now()).unwrap();
        assert_eq!(plan.start, now());
        assert_eq!(plan.end, Some(now() + TimeDelta::hours(2)));
        assert!(plan.mfa_claim_check);
        assert_eq!(plan.needs_step_up, None);
        assert_eq!(plan.needs_approval, None);
        assert_eq!(plan.initial_status(), Status::Granted);
    }

    #[test]
    fn wrong_action_is_reported_alone() {
        let mut r = request(None);
        r.action = Some(Action::SelfDeactivate);
        assert_eq!(
            validate_activation(&policy(), &r, &ActivationFacts::default(), now()),
            Err(vec![RuleViolation::WrongAction {
                expected: "selfActivate",
                found: "selfDeactivate".into()
            }])
        );
    }

    #[test]
    fn every_violation_is_reported() {
        let mut r = request(Some("PT9H"));
        r.justification = None;
        r.directory_scope_id = Some("/administrativeUnits/au1".into());
        let facts = ActivationFacts {
            active: Some(ActiveAssignment {
                window: Window {
                    start: now(),
                    end: None,
                },
                assignment_type: ActiveKind::Assigned,
            }),
            ..Default::default()
        };
        let err = validate_activation(&policy(), &r, &facts, now()).unwrap_err();
        let codes: Vec<&str> = err.iter().map(RuleViolation::code).collect();
        assert_eq!(err.len(), 6, "{err:#?}");
        assert!(matches!(err[0], RuleViolation::UnsupportedScope { .. }));
        assert!(err.contains(&RuleViolation::NotEligible));
        assert!(codes.contains(&"RoleAssignmentExists"));
        assert!(err.contains(&RuleViolation::JustificationRequired {
            rule_id: RuleId::EnablementEndUserAssignment
        }));
        assert!(err.contains(&RuleViolation::MfaRequired {
            rule_id: RuleId::EnablementEndUserAssignment
        }));
        assert!(err.contains(&RuleViolation::DurationTooLong {
            rule_id: RuleId::ExpirationEndUserAssignment,
            requested: TimeDelta::hours(9),
            maximum: TimeDelta::hours(8)
        }));
    }

    #[test]
    fn deactivation_waits_five_minutes_and_only_ends_activations() {
        let mut r = request(None);
        r.action = Some(Action::SelfDeactivate);
        let started = now() - TimeDelta::minutes(4);
        let mut facts = ActivationFacts {
            active: Some(ActiveAssignment {
                window: Window {
                    start: started,
                    end: Some(now() + TimeDelta::hours(1)),
                },
                assignment_type: ActiveKind::Activated,
            }),
            ..Default::default()
        };
        let err = validate_deactivation(&r, &facts, now()).unwrap_err();
        assert_eq!(
            err,
            vec![RuleViolation::ActiveDurationTooShort {
                started,
                earliest: started + TimeDelta::minutes(5)
            }]
        );
        assert_eq!(err[0].code(), "ActiveDurationTooShort");
        let later = now() + TimeDelta::minutes(1);
        assert_eq!(
            validate_deactivation(&r, &facts, later),
            Ok(DeactivationPlan { end: later })
        );
        if let Some(a) = facts.active.as_mut() {
            a.assignment_type = ActiveKind::Assigned;
        }
        assert_eq!(
            validate_deactivation(&r, &facts, later),
            Err(vec![RuleViolation::NotActivated])
        );
        facts.active = None;
        assert_eq!(
            validate_deactivation(&r, &facts, later),
            Err(vec![RuleViolation::RoleAssignmentDoesNotExist {
                kind: ScheduleKind::Assignment
            }])
        );
    }

    #[test]
    fn requirements_are_read_as_the_validation_applies_them() {
        let defaults = activation_requirements(&policy()).unwrap();
        assert_eq!(
            defaults,
            ActivationRequirements {
                maximum_duration: Some(TimeDelta::hours(8)),
                justification: true,
                ticket: false,
                mfa_claim: true,
                context: None,
                approval: false,
            }
        );

        let mut p = policy();
        p.require_authentication_context("c1", now(), None).unwrap();
        p.patch_rule(
            "Enablement_EndUser_Assignment",
            &serde_json::json!({
                "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
                "enabledRules": ["Ticketing"]
            }),
            now(),
            None,
        )
        .unwrap();
        p.patch_rule(
            "Approval_EndUser_Assignment",
            &serde_json::json!({
                "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
                "setting": {
                    "isApprovalRequired": true,
                    "isRequestorJustificationRequired": true,
                    "approvalStages": [{ "primaryApprovers": [
                        { "@odata.type": "#microsoft.graph.singleUser", "userId": "bob" }
                    ] }]
                }
            }),
            now(),
            None,
        )
        .unwrap();
        let required = activation_requirements(&p).unwrap();
        // The context supersedes the MFA claim; the approval asks for the justification.
        assert_eq!(required.context, Some(ContextId::parse("c1").unwrap()));
        assert!(!required.mfa_claim);
        assert!(required.ticket);
        assert!(required.approval);
        assert!(required.justification);
    }

    #[test]
    fn unusable_settings_give_the_violations_an_activation_would_get() {
        let mut p = policy();
        for rule in &mut p.rules {
            if let Rule::Expiration(r) = rule {
                if r.id == "Expiration_EndUser_Assignment" {
                    r.maximum_duration = Some("eight hours".into());
                }
            }
        }
        let refused = activation_requirements(&p).unwrap_err();
        assert!(
            matches!(&refused[..], [RuleViolation::PolicyMisconfigured { rule_id, .. }]
                if *rule_id == RuleId::ExpirationEndUserAssignment),
            "{refused:?}"
        );
        let activation = validate_activation(&p, &request(Some("PT1H")), &eligible(), now());
        assert!(
            activation.is_err_and(|v| v.contains(&refused[0])),
            "an activation is refused for the same reason"
        );
    }
}
