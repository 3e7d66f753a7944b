//! The life of a schedule request: which events move it from one status to the next, and who
//! may cause them.
//!
//! ```text
//! PendingStepUp ──StepUpVerified──▶ PendingApproval ──Approved (last stage)──▶ Granted
//!       │                     └────────(no approval)─────────────────────────▶ Granted
//!       ├─Cancel──▶ Canceled        PendingApproval ──Denied──▶ Denied
//!       └─Expired─▶ Failed          PendingApproval ──Cancel──▶ Canceled, ──Expired──▶ Failed
//! PendingAdminDecision ──Approved──▶ Granted, ──Denied──▶ Denied, ──Cancel/Expired──▶ …
//! Granted ──Provisioned──▶ Provisioned ──Deactivated/ScheduleEnded──▶ Revoked
//! Granted ──Cancel──▶ Canceled (before it is provisioned)
//! ```
//!
//! The requester can never decide their own request, and only a primary approver of the current
//! stage (the server resolves group members into the stage's set) can approve or deny at it.
//! Ids are [`UserId`]s, which compare without regard to case, as Graph's GUIDs do.

use crate::request::Status;
use policy::ids::UserId;
use std::collections::BTreeSet;

/// Something that happens to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A fresh step-up, bound to this request, was verified.
    StepUpVerified,
    /// An approver (or administrator, for a pending admin decision) approved.
    Approved {
        /// Who.
        by: UserId,
    },
    /// An approver (or administrator) denied.
    Denied {
        /// Who.
        by: UserId,
    },
    /// Someone asked to cancel.
    Cancel {
        /// Who.
        by: UserId,
    },
    /// The step-up or decision was not made in time.
    Expired,
    /// The assignment is in force.
    Provisioned,
    /// The holder ended it (`selfDeactivate`) or an administrator removed it.
    Deactivated,
    /// Its end was reached.
    ScheduleEnded,
}

impl Event {
    /// The event's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Event::StepUpVerified => "StepUpVerified",
            Event::Approved { .. } => "Approved",
            Event::Denied { .. } => "Denied",
            Event::Cancel { .. } => "Cancel",
            Event::Expired => "Expired",
            Event::Provisioned => "Provisioned",
            Event::Deactivated => "Deactivated",
            Event::ScheduleEnded => "ScheduleEnded",
        }
    }
}

/// Who must decide after the step-up (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nobody: the request is granted.
    Automatic,
    /// Approval stages, in order; each a set of resolved approver ids (users, and members of
    /// approver groups). An empty set can never approve: the request waits until it expires.
    Approval(Vec<BTreeSet<UserId>>),
    /// An administrator (for `selfExtend`, `selfRenew`): the resolved set of those who may decide.
    Admin(BTreeSet<UserId>),
}

/// What a request's life depends on, fixed when it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFlow {
    /// The principal who asked.
    pub requester: UserId,
    /// Whether a fresh step-up is needed first.
    pub needs_step_up: bool,
    /// Who decides after that.
    pub decision: Decision,
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// The step-up was not made in time.
    StepUpExpired,
    /// The approvers did not decide in time.
    ApprovalTimedOut,
    /// The administrator did not decide in time.
    AdminDecisionTimedOut,
}

/// Where a request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The Graph status.
    pub status: Status,
    /// The current approval stage (from 0), while `PendingApproval`.
    pub stage: usize,
    /// Why it failed, when `Failed`.
    pub failure: Option<FailureReason>,
}

impl Progress {
    fn at(status: Status) -> Self {
        Progress {
            status,
            stage: 0,
            failure: None,
        }
    }
}

/// Why an event cannot happen now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTransition {
    /// The requester tried to decide their own request.
    #[error("the requester cannot approve or deny their own request")]
    SelfApproval,
    /// Someone who is not a primary approver of the current stage tried to decide.
    #[error("'{by}' is not an approver of approval stage {stage} of this request")]
    NotAnApprover {
        /// Who tried.
        by: String,
        /// The stage, from 1.
        stage: usize,
    },
    /// Someone other than the requester tried to cancel.
    #[error("only the requester can cancel a request; '{by}' did not make it")]
    NotTheRequester {
        /// Who tried.
        by: String,
    },
    /// The request has ended.
    #[error("the request is {status}; nothing more can happen to it")]
    Final {
        /// Its status.
        status: Status,
    },
    /// Not possible from this status.
    #[error("a request that is {from} cannot take the event {event}")]
    NotAllowed {
        /// The current status.
        from: Status,
        /// The event.
        event: &'static str,
    },
}

impl InvalidTransition {
    /// The Graph error code.
    pub fn code(&self) -> &'static str {
        match self {
            InvalidTransition::SelfApproval => "SelfApprovalNotAllowed",
            InvalidTransition::NotAnApprover { .. } => "NotAnApprover",
            InvalidTransition::NotTheRequester { .. } => "NotTheRequester",
            InvalidTransition::Final { .. } | InvalidTransition::NotAllowed { .. } => {
                "InvalidRequestState"
            }
        }
    }
}

impl RequestFlow {
    /// The status a new request is recorded with.
    pub fn start(&self) -> Progress {
        if self.needs_step_up {
            Progress::at(Status::PendingStepUp)
        } else {
            self.after_step_up()
        }
    }

    fn after_step_up(&self) -> Progress {
        match &self.decision {
            Decision::Automatic => Progress::at(Status::Granted),
            Decision::Approval(_) => Progress::at(Status::PendingApproval),
            Decision::Admin(_) => Progress::at(Status::PendingAdminDecision),
        }
    }

    /// Checks that `by` may decide at the current point: not the requester, and one of the
    /// deciders.
    fn decider(&self, by: &UserId, from: &Progress) -> Result<(), InvalidTransition> {
        if *by == self.requester {
            return Err(InvalidTransition::SelfApproval);
        }
        let deciders = match &self.decision {
            Decision::Approval(stages) => stages.get(from.stage),
            Decision::Admin(admins) => Some(admins),
            Decision::Automatic => None,
        };
        if !deciders.is_some_and(|set| set.contains(by)) {
            return Err(InvalidTransition::NotAnApprover {
                by: by.to_string(),
                stage: from.stage + 1,
            });
        }
        Ok(())
    }

    /// Applies `event` to a request at `from`.
    pub fn transition(
        &self,
        from: &Progress,
        event: &Event,
    ) -> Result<Progress, InvalidTransition> {
        use Status::*;
        let not_allowed = || InvalidTransition::NotAllowed {
            from: from.status.clone(),
            event: event.name(),
        };
        if from.status.is_final() {
            return Err(InvalidTransition::Final {
                status: from.status.clone(),
            });
        }
        let failed = |reason| Progress {
            status: Failed,
            stage: from.stage,
            failure: Some(reason),
        };
        match (&from.status, event) {
            (PendingStepUp, Event::StepUpVerified) => Ok(self.after_step_up()),
            (PendingStepUp, Event::Expired) => Ok(failed(FailureReason::StepUpExpired)),

            (PendingApproval, Event::Approved { by }) => {
                self.decider(by, from)?;
                let stages = match &self.decision {
                    Decision::Approval(stages) => stages.len(),
                    _ => 0,
                };
                if from.stage + 1 < stages {
                    Ok(Progress {
                        status: PendingApproval,
                        stage: from.stage + 1,
                        failure: None,
                    })
                } else {
                    Ok(Progress::at(Granted))
                }
            }
            (PendingAdminDecision, Event::Approved { by }) => {
                self.decider(by, from)?;
                Ok(Progress::at(Granted))
            }
            (PendingApproval | PendingAdminDecision, Event::Denied { by }) => {
                self.decider(by, from)?;
                Ok(Progress {
                    status: Denied,
                    stage: from.stage,
                    failure: None,
                })
            }
            (PendingApproval, Event::Expired) => Ok(failed(FailureReason::ApprovalTimedOut)),
            (PendingAdminDecision, Event::Expired) => {
                Ok(failed(FailureReason::AdminDecisionTimedOut))
            }

            (
                PendingStepUp | PendingApproval | PendingAdminDecision | Granted,
                Event::Cancel { by },
            ) => {
                if *by == self.requester {
                    Ok(Progress::at(Canceled))
                } else {
                    Err(InvalidTransition::NotTheRequester { by: by.to_string() })
                }
            }

            (
                Granted | PendingProvisioning | PendingScheduleCreation | ScheduleCreated,
                Event::Provisioned,
            ) => Ok(Progress::at(Provisioned)),
            (
                Granted
                | PendingProvisioning
                | PendingScheduleCreation
                | ScheduleCreated
                | Provisioned,
                Event::Deactivated | Event::ScheduleEnded,
            ) => Ok(Progress::at(Revoked)),

            _ => Err(not_allowed()),
        }
    }
}

/// Applies `event` to a request of `flow` at `from` (the same as [`RequestFlow::transition`]).
pub fn transition(
    flow: &RequestFlow,
    from: &Progress,
    event: &Event,
) -> Result<Progress, InvalidTransition> {
    flow.transition(from, event)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn set(ids: &[&str]) -> BTreeSet<UserId> {
        ids.iter().map(|s| UserId::trusted(*s)).collect()
    }

    fn user(id: &str) -> UserId {
        UserId::trusted(id)
    }

    fn flow(step_up: bool, decision: Decision) -> RequestFlow {
        RequestFlow {
            requester: user("alice"),
            needs_step_up: step_up,
            decision,
        }
    }

    fn run(flow: &RequestFlow, events: &[Event]) -> Result<Progress, InvalidTransition> {
        let mut p = flow.start();
        for e in events {
            p = flow.transition(&p, e)?;
        }
        Ok(p)
    }

    fn approved(by: &str) -> Event {
        Event::Approved { by: user(by) }
    }

    #[test]
    fn step_up_then_grant_then_provision_then_revoke() {
        let f = flow(true, Decision::Automatic);
        assert_eq!(f.start().status, Status::PendingStepUp);
        let p = run(&f, &[Event::StepUpVerified]).unwrap();
        assert_eq!(p.status, Status::Granted);
        let p = run(
            &f,
            &[
                Event::StepUpVerified,
                Event::Provisioned,
                Event::ScheduleEnded,
            ],
        )
        .unwrap();
        assert_eq!(p.status, Status::Revoked);
    }

    #[test]
    fn nothing_but_the_step_up_leaves_pending_step_up_forward() {
        let f = flow(true, Decision::Automatic);
        for e in [
            approved("bob"),
            Event::Provisioned,
            Event::Deactivated,
            Event::ScheduleEnded,
        ] {
            assert!(
                matches!(
                    f.transition(&f.start(), &e),
                    Err(InvalidTransition::NotAllowed { .. })
                ),
                "{e:?}"
            );
        }
        let p = run(&f, &[Event::Expired]).unwrap();
        assert_eq!(
            (p.status, p.failure),
            (Status::Failed, Some(FailureReason::StepUpExpired))
        );
    }

    #[test]
    fn two_stages_need_one_approver_each_and_never_the_requester() {
        let f = flow(
            false,
            Decision::Approval(vec![set(&["bob", "ALICE"]), set(&["carol"])]),
        );
        assert_eq!(f.start().status, Status::PendingApproval);
        assert_eq!(
            run(&f, &[approved("Alice")]),
            Err(InvalidTransition::SelfApproval)
        );
        assert_eq!(
            run(&f, &[approved("carol")]),
            Err(InvalidTransition::NotAnApprover {
                by: "carol".to_string(),
                stage: 1
            })
        );
        let p = run(&f, &[approved("BOB")]).unwrap();
        assert_eq!((p.status.clone(), p.stage), (Status::PendingApproval, 1));
        assert_eq!(
            run(&f, &[approved("bob"), approved("bob")]),
            Err(InvalidTransition::NotAnApprover {
                by: "bob".to_string(),
                stage: 2
            })
        );
        assert_eq!(
            run(&f, &[approved("bob"), approved("carol")])
                .unwrap()
                .status,
            Status::Granted
        );
        assert_eq!(
            run(&f, &[approved("bob"), Event::Denied { by: user("carol") }])
                .unwrap()
                .status,
            Status::Denied
        );
    }

    #[test]
    fn only_the_requester_cancels_and_final_states_stay_final() {
        let f = flow(false, Decision::Approval(vec![set(&["bob"])]));
        assert_eq!(
            run(&f, &[Event::Cancel { by: user("bob") }]),
            Err(InvalidTransition::NotTheRequester {
                by: "bob".to_string()
            })
        );
        let p = run(&f, &[Event::Cancel { by: user("alice") }]).unwrap();
        assert_eq!(p.status, Status::Canceled);
        assert_eq!(
            f.transition(&p, &approved("bob")),
            Err(InvalidTransition::Final {
                status: Status::Canceled
            })
        );
        let p = run(&f, &[Event::Expired]).unwrap();
        assert_eq!(p.failure, Some(FailureReason::ApprovalTimedOut));
    }

    #[test]
    fn a_provisioned_activation_cannot_be_canceled_only_deactivated() {
        let f = flow(false, Decision::Automatic);
        let p = run(&f, &[Event::Provisioned]).unwrap();
        assert!(matches!(
            f.transition(&p, &Event::Cancel { by: user("alice") }),
            Err(InvalidTransition::NotAllowed { .. })
        ));
        assert_eq!(
            f.transition(&p, &Event::Deactivated).unwrap().status,
            Status::Revoked
        );
    }

    #[test]
    fn admin_decisions_for_self_extension() {
        let f = flow(false, Decision::Admin(set(&["root"])));
        assert_eq!(f.start().status, Status::PendingAdminDecision);
        assert_eq!(
            run(&f, &[approved("alice")]),
            Err(InvalidTransition::SelfApproval)
        );
        assert_eq!(
            run(&f, &[approved("root")]).unwrap().status,
            Status::Granted
        );
        assert_eq!(
            run(&f, &[Event::Expired]).unwrap().failure,
            Some(FailureReason::AdminDecisionTimedOut)
        );
    }

    #[test]
    fn an_empty_stage_can_never_approve() {
        let f = flow(false, Decision::Approval(vec![BTreeSet::new()]));
        assert!(matches!(
            run(&f, &[approved("bob")]),
            Err(InvalidTransition::NotAnApprover { .. })
        ));
        assert!(matches!(
            run(&f, &[approved("")]),
            Err(InvalidTransition::NotAnApprover { .. })
        ));
    }
}
