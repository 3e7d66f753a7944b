//! The Portcullis guarantee (DESIGN §8) as a pure check: a step-up proof activates a role only
//! if it names the request waiting for it, was made by the same principal for the same role,
//! is fresh, was authenticated after the request was recorded, and satisfies the context the
//! role requires.
//!
//! A proof comes from a bearer token's claims (the Graph API) or from a browser session's
//! authentication events (the portal): either way it becomes a [`StepUpProof`]. That it is used
//! once is not decided here: its [`StepUpProof::once_id`] is consumed by the store in the same
//! transaction as the request's change of status, so two presentations cannot both win.

use crate::request::Status;
use chrono::{DateTime, Duration, Utc};
use policy::ids::{ContextId, PrincipalId, RequestId, RoleId};

/// A proof is accepted this long after it was issued.
pub const PROOF_LIFETIME: Duration = Duration::minutes(5);

/// How much earlier than the request an authentication may be stamped and still count: token
/// times are whole seconds, the request's time is not.
pub const AUTH_TIME_TOLERANCE: Duration = Duration::seconds(1);

/// What a step-up proof says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUpProof {
    /// The request whose step-up it proves.
    pub request_id: RequestId,
    /// Who authenticated.
    pub principal_id: PrincipalId,
    /// When the proof was issued.
    pub issued_at: DateTime<Utc>,
    /// When the (earliest counted) authentication of the step-up happened.
    pub authenticated_at: DateTime<Utc>,
    /// The authentication contexts it satisfies (`acrs`).
    pub acrs: Vec<String>,
    /// The methods performed (RFC 8176 `amr` values).
    pub methods: Vec<String>,
    /// A one-time id (a token's `jti`), consumed with the activation.
    pub once_id: String,
}

/// A step-up proof that passed [`check`] for one request. Only [`check`] makes one (the field is
/// private), and [`crate::validate::ActivationFacts`] takes one as the sole way to say that the
/// step-up happened: an activation cannot be told "verified" without the check having run.
///
/// ```compile_fail
/// // Outside this module a verified step-up cannot be made up.
/// let forged = pim::step_up::VerifiedStepUp {
///     request_id: policy::ids::RequestId::trusted("req"),
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedStepUp {
    request_id: RequestId,
}

impl VerifiedStepUp {
    /// The request the proof was checked against.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }
}

/// Where a request stands with its step-up, as the activation rules read it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StepUp {
    /// No proof was presented with this request.
    #[default]
    NotPresented,
    /// A proof presented with this request passed [`check`].
    Verified(VerifiedStepUp),
    /// The request went past its step-up earlier: it waits at an approval stage, which the
    /// state machine reaches only through `StepUpVerified` when the role asked for a step-up
    /// (the last approval re-checks the request against the settings of that moment).
    PassedEarlier,
}

impl StepUp {
    /// [`StepUp::PassedEarlier`] for a request in `status`, if that status lies past the
    /// step-up (waiting for an approval); `None` otherwise.
    pub fn passed_earlier(status: &Status) -> Option<StepUp> {
        matches!(status, Status::PendingApproval).then_some(StepUp::PassedEarlier)
    }

    /// Whether the step-up is done (verified now, or passed earlier).
    pub fn is_done(&self) -> bool {
        !matches!(self, StepUp::NotPresented)
    }
}

/// One authentication of a browser session: a method performed at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    /// The method (RFC 8176 `amr` value).
    pub method: String,
    /// When it was performed.
    pub at: DateTime<Utc>,
}

/// The request a proof is checked against, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest<'a> {
    /// Its id.
    pub id: RequestId,
    /// Who asked.
    pub principal_id: PrincipalId,
    /// For which role.
    pub role_definition_id: RoleId,
    /// Its status now.
    pub status: &'a Status,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// Why a proof is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofRefusal {
    /// The proof cannot be read (a time out of range, no request, no one-time id…).
    #[error("The step-up proof is malformed: {what}.")]
    Malformed {
        /// What is wrong.
        what: String,
    },
    /// It names a request that does not exist.
    #[error("The step-up proof names request {request}, which does not exist.")]
    UnknownRequest {
        /// The request it names.
        request: String,
    },
    /// It was made for another request, role or principal.
    #[error(
        "The step-up proof was made for request {request}, for another role or principal; it \
         cannot activate this one."
    )]
    NotThisRequest {
        /// The request it names.
        request: String,
    },
    /// Its request no longer waits for a step-up (used, canceled, failed…).
    #[error(
        "The step-up proof was made for request {request}, which is {status} and no longer \
         waits for a step-up: a proof is used once. Send a new request."
    )]
    NotPending {
        /// The request it names.
        request: String,
        /// The request's status.
        status: Status,
    },
    /// Issued more than [`PROOF_LIFETIME`] ago.
    #[error(
        "The step-up proof for request {request} is older than {} minutes; sign in again.",
        PROOF_LIFETIME.num_minutes()
    )]
    Expired {
        /// The request it names.
        request: String,
    },
    /// The authentication predates the request.
    #[error("The step-up proof's authentication was made before request {request}.")]
    AuthenticatedBefore {
        /// The request it names.
        request: String,
    },
    /// It does not satisfy the context the role requires.
    #[error(
        "The step-up proof for request {request} does not satisfy authentication context \
         {context}."
    )]
    ContextNotMet {
        /// The request it names.
        request: String,
        /// The context required.
        context: String,
    },
    /// It was presented before (the store's consume-once check said so).
    #[error("This step-up proof has already been used: a proof activates once.")]
    Spent,
    /// Its request was moved on by someone else between the check and the activation.
    #[error("The request this proof names was handled meanwhile; send a new request.")]
    Overtaken,
}

impl StepUpProof {
    /// A proof from a browser session's authentications in the step-up for `request_id`: issued
    /// when the last one happened, authenticated when the first one did (every method counted
    /// must come after the request), with the contexts the session's sign-in satisfied and the
    /// session's one-time id for this step-up. Refused as malformed without any authentication
    /// or without a one-time id.
    pub fn from_authentications(
        request_id: &str,
        principal_id: &str,
        authentications: &[Authentication],
        acrs: Vec<String>,
        once_id: &str,
    ) -> Result<StepUpProof, ProofRefusal> {
        let malformed = |what: &str| ProofRefusal::Malformed { what: what.into() };
        let first = authentications.iter().map(|a| a.at).min();
        let last = authentications.iter().map(|a| a.at).max();
        let (Some(authenticated_at), Some(issued_at)) = (first, last) else {
            return Err(malformed("no authentication was performed in the step-up"));
        };
        if once_id.trim().is_empty() {
            return Err(malformed("it has no one-time id"));
        }
        let (request_id, principal_id) = ids(request_id, principal_id)?;
        let mut methods: Vec<String> = Vec::new();
        for a in authentications {
            if !methods.contains(&a.method) {
                methods.push(a.method.clone());
            }
        }
        Ok(StepUpProof {
            request_id,
            principal_id,
            issued_at,
            authenticated_at,
            acrs,
            methods,
            once_id: once_id.to_string(),
        })
    }

    /// A proof from a token's times as seconds since the epoch (`iat`, `auth_time`); refused
    /// as malformed when a time is out of range or the token has no one-time id.
    pub fn from_token_claims(
        request_id: &str,
        subject: &str,
        issued_at: i64,
        auth_time: i64,
        acrs: &[String],
        amr: &[String],
        jti: &str,
    ) -> Result<StepUpProof, ProofRefusal> {
        let time = |secs: i64, what: &str| {
            DateTime::<Utc>::from_timestamp(secs, 0).ok_or_else(|| ProofRefusal::Malformed {
                what: format!("its {what} is out of range"),
            })
        };
        if jti.trim().is_empty() {
            return Err(ProofRefusal::Malformed {
                what: "it has no one-time id".into(),
            });
        }
        let (request_id, principal_id) = ids(request_id, subject)?;
        Ok(StepUpProof {
            request_id,
            principal_id,
            issued_at: time(issued_at, "issue time")?,
            authenticated_at: time(auth_time, "authentication time")?,
            acrs: acrs.to_vec(),
            methods: amr.to_vec(),
            once_id: jti.to_string(),
        })
    }
}

/// The request and the principal a proof names, parsed: a proof naming no request, or ids that
/// no request or principal could have, is malformed.
fn ids(request_id: &str, principal_id: &str) -> Result<(RequestId, PrincipalId), ProofRefusal> {
    let malformed = |what: String| ProofRefusal::Malformed { what };
    if request_id.trim().is_empty() {
        return Err(malformed("it names no request".into()));
    }
    let request = RequestId::parse(request_id).map_err(|e| malformed(e.to_string()))?;
    let principal = PrincipalId::parse(principal_id).map_err(|e| malformed(e.to_string()))?;
    Ok((request, principal))
}

/// Checks `proof`, presented by `principal_id` to activate `role_definition_id`, against the
/// request it names as stored (`pending`, `None` if there is none) and the context the role
/// requires, at `now`. Ids compare without regard to case, as Graph's GUIDs do (the id types
/// see to it).
///
/// Whether the proof was used before is the store's to say, when it consumes
/// [`StepUpProof::once_id`] with the activation.
pub fn check(
    proof: &StepUpProof,
    principal_id: &PrincipalId,
    role_definition_id: &RoleId,
    pending: Option<&PendingRequest<'_>>,
    required_context: Option<&ContextId>,
    now: DateTime<Utc>,
) -> Result<VerifiedStepUp, ProofRefusal> {
    let request = proof.request_id.to_string();
    let Some(pending) = pending else {
        return Err(ProofRefusal::UnknownRequest { request });
    };
    if pending.id != proof.request_id
        || pending.principal_id != *principal_id
        || proof.principal_id != *principal_id
        || pending.role_definition_id != *role_definition_id
    {
        return Err(ProofRefusal::NotThisRequest { request });
    }
    if *pending.status != Status::PendingStepUp {
        return Err(ProofRefusal::NotPending {
            request,
            status: pending.status.clone(),
        });
    }
    // Checked: a time at the end of the representable range has no "five minutes later"; such
    // a proof is refused rather than overflowing.
    if proof
        .issued_at
        .checked_add_signed(PROOF_LIFETIME)
        .is_none_or(|until| until < now)
    {
        return Err(ProofRefusal::Expired { request });
    }
    if proof
        .authenticated_at
        .checked_add_signed(AUTH_TIME_TOLERANCE)
        .is_none_or(|t| t < pending.created_at)
    {
        return Err(ProofRefusal::AuthenticatedBefore { request });
    }
    if let Some(context) = required_context {
        if !proof
            .acrs
            .iter()
            .any(|c| ContextId::parse(c).is_ok_and(|c| c == *context))
        {
            return Err(ProofRefusal::ContextNotMet {
                request,
                context: context.to_string(),
            });
        }
    }
    Ok(VerifiedStepUp {
        request_id: proof.request_id.clone(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn proof() -> StepUpProof {
        StepUpProof {
            request_id: RequestId::trusted("req-1"),
            principal_id: PrincipalId::trusted("alice"),
            issued_at: t0() + Duration::seconds(30),
            authenticated_at: t0() + Duration::seconds(20),
            acrs: vec!["c1".into()],
            methods: vec!["pwd".into(), "hwk".into()],
            once_id: "jti-1".into(),
        }
    }

    fn pending(status: &Status) -> PendingRequest<'_> {
        PendingRequest {
            id: RequestId::trusted("req-1"),
            principal_id: PrincipalId::trusted("alice"),
            role_definition_id: RoleId::trusted("role-a"),
            status,
            created_at: t0(),
        }
    }

    fn principal(id: &str) -> PrincipalId {
        PrincipalId::trusted(id)
    }

    fn role(id: &str) -> RoleId {
        RoleId::trusted(id)
    }

    fn context(id: &str) -> ContextId {
        ContextId::parse(id).unwrap()
    }

    fn run(
        p: &StepUpProof,
        r: Option<&PendingRequest<'_>>,
        now: DateTime<Utc>,
    ) -> Result<(), ProofRefusal> {
        check(
            p,
            &principal("alice"),
            &role("role-a"),
            r,
            Some(&context("c1")),
            now,
        )
        .map(|verified| {
            assert_eq!(*verified.request_id(), p.request_id);
        })
    }

    #[test]
    fn a_fresh_bound_proof_for_the_context_passes_ids_in_any_case() {
        let s = Status::PendingStepUp;
        let now = t0() + Duration::minutes(1);
        assert_eq!(run(&proof(), Some(&pending(&s)), now), Ok(()));
        assert!(check(
            &proof(),
            &principal("ALICE"),
            &role("ROLE-A"),
            Some(&pending(&s)),
            Some(&context("c1")),
            now
        )
        .is_ok());
        // No context required: any proof bound to the request will do.
        let mut p = proof();
        p.acrs.clear();
        assert!(check(
            &p,
            &principal("alice"),
            &role("role-a"),
            Some(&pending(&s)),
            None,
            now
        )
        .is_ok());
    }

    #[test]
    fn a_proof_for_a_request_that_does_not_exist_is_refused() {
        assert!(matches!(
            run(&proof(), None, t0()),
            Err(ProofRefusal::UnknownRequest { .. })
        ));
    }

    #[test]
    fn a_proof_for_another_request_role_or_principal_is_refused() {
        let s = Status::PendingStepUp;
        let now = t0() + Duration::minutes(1);
        let other_request = PendingRequest {
            id: RequestId::trusted("req-2"),
            ..pending(&s)
        };
        let other_role = PendingRequest {
            role_definition_id: role("role-b"),
            ..pending(&s)
        };
        let other_principal = PendingRequest {
            principal_id: principal("mallory"),
            ..pending(&s)
        };
        for r in [other_request, other_role, other_principal] {
            assert!(matches!(
                run(&proof(), Some(&r), now),
                Err(ProofRefusal::NotThisRequest { .. })
            ));
        }
        // Alice's proof presented by Mallory.
        assert!(matches!(
            check(
                &proof(),
                &principal("mallory"),
                &role("role-a"),
                Some(&PendingRequest {
                    principal_id: principal("mallory"),
                    ..pending(&s)
                }),
                Some(&context("c1")),
                now
            ),
            Err(ProofRefusal::NotThisRequest { .. })
        ));
    }

    #[test]
    fn a_spent_proof_finds_its_request_no_longer_pending() {
        // Replay: the first presentation moved the request on; the second meets it there.
        for status in [
            Status::Provisioned,
            Status::PendingApproval,
            Status::Canceled,
            Status::Failed,
        ] {
            let r = pending(&status);
            assert_eq!(
                run(&proof(), Some(&r), t0() + Duration::minutes(1)),
                Err(ProofRefusal::NotPending {
                    request: "req-1".into(),
                    status: status.clone()
                })
            );
        }
    }

    #[test]
    fn an_expired_proof_is_refused_at_the_lifetime_not_before() {
        let s = Status::PendingStepUp;
        let issued = proof().issued_at;
        assert_eq!(
            run(&proof(), Some(&pending(&s)), issued + PROOF_LIFETIME),
            Ok(())
        );
        assert!(matches!(
            run(
                &proof(),
                Some(&pending(&s)),
                issued + PROOF_LIFETIME + Duration::seconds(1)
            ),
            Err(ProofRefusal::Expired { .. })
        ));
        // At the end of time there is no "five minutes later": refused, not an overflow.
        let mut p = proof();
        p.issued_at = DateTime::<Utc>::MAX_UTC;
        assert!(matches!(
            run(&p, Some(&pending(&s)), t0()),
            Err(ProofRefusal::Expired { .. })
        ));
    }

    #[test]
    fn an_authentication_before_the_request_is_refused_within_a_second_it_counts() {
        let s = Status::PendingStepUp;
        let now = t0() + Duration::minutes(1);
        let mut p = proof();
        p.authenticated_at = t0() - Duration::seconds(1);
        assert_eq!(run(&p, Some(&pending(&s)), now), Ok(()));
        p.authenticated_at = t0() - Duration::seconds(2);
        assert!(matches!(
            run(&p, Some(&pending(&s)), now),
            Err(ProofRefusal::AuthenticatedBefore { .. })
        ));
    }

    #[test]
    fn a_proof_without_the_required_context_is_refused() {
        let s = Status::PendingStepUp;
        let mut p = proof();
        p.acrs = vec!["c2".into()];
        assert_eq!(
            run(&p, Some(&pending(&s)), t0() + Duration::minutes(1)),
            Err(ProofRefusal::ContextNotMet {
                request: "req-1".into(),
                context: "c1".into()
            })
        );
    }

    #[test]
    fn malformed_token_claims_are_refused() {
        let ok = StepUpProof::from_token_claims("req-1", "alice", 1, 1, &[], &[], "jti");
        assert!(ok.is_ok());
        for bad in [
            StepUpProof::from_token_claims("req-1", "alice", i64::MAX, 1, &[], &[], "jti"),
            StepUpProof::from_token_claims("req-1", "alice", 1, i64::MIN, &[], &[], "jti"),
            StepUpProof::from_token_claims("req-1", "alice", 1, 1, &[], &[], " "),
            StepUpProof::from_token_claims("", "alice", 1, 1, &[], &[], "jti"),
        ] {
            assert!(
                matches!(bad, Err(ProofRefusal::Malformed { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_session_proof_spans_its_authentications() {
        let events = [
            Authentication {
                method: "pwd".into(),
                at: t0() + Duration::seconds(5),
            },
            Authentication {
                method: "hwk".into(),
                at: t0() + Duration::seconds(40),
            },
            Authentication {
                method: "pwd".into(),
                at: t0() + Duration::seconds(50),
            },
        ];
        let p = StepUpProof::from_authentications(
            "req-1",
            "alice",
            &events,
            vec!["c1".into()],
            "sess-1",
        )
        .unwrap();
        assert_eq!(p.authenticated_at, t0() + Duration::seconds(5));
        assert_eq!(p.issued_at, t0() + Duration::seconds(50));
        assert_eq!(p.methods, ["pwd", "hwk"]);
        let s = Status::PendingStepUp;
        assert_eq!(
            run(&p, Some(&pending(&s)), t0() + Duration::minutes(2)),
            Ok(())
        );
        // One method performed before the request: the proof does not count.
        let mut early = events.to_vec();
        early.push(Authentication {
            method: "otp".into(),
            at: t0() - Duration::minutes(10),
        });
        let p = StepUpProof::from_authentications(
            "req-1",
            "alice",
            &early,
            vec!["c1".into()],
            "sess-1",
        )
        .unwrap();
        assert!(matches!(
            run(&p, Some(&pending(&s)), t0() + Duration::minutes(2)),
            Err(ProofRefusal::AuthenticatedBefore { .. })
        ));
        assert!(matches!(
            StepUpProof::from_authentications("req-1", "alice", &[], vec![], "sess-1"),
            Err(ProofRefusal::Malformed { .. })
        ));
        assert!(matches!(
            StepUpProof::from_authentications("req-1", "alice", &events, vec![], ""),
            Err(ProofRefusal::Malformed { .. })
        ));
    }

    proptest! {
        /// Whatever the times, a proof passes only if it is fresh and made after the request.
        #[test]
        fn passes_exactly_when_fresh_and_after_the_request(
            issued in -1_000i64..1_000, authenticated in -1_000i64..1_000, now in -1_000i64..2_000
        ) {
            let s = Status::PendingStepUp;
            let mut p = proof();
            p.issued_at = t0() + Duration::seconds(issued);
            p.authenticated_at = t0() + Duration::seconds(authenticated);
            let now = t0() + Duration::seconds(now);
            let fresh = now <= p.issued_at + PROOF_LIFETIME;
            let after = p.authenticated_at + AUTH_TIME_TOLERANCE >= t0();
            prop_assert_eq!(run(&p, Some(&pending(&s)), now).is_ok(), fresh && after);
        }

        /// A proof never activates a request of another principal or role, whatever the ids.
        #[test]
        fn never_binds_to_another_principal_or_role(p in "[a-z]{1,8}", r in "[a-z-]{1,8}") {
            let s = Status::PendingStepUp;
            let req = PendingRequest { principal_id: principal(&p), role_definition_id: role(&r), ..pending(&s) };
            let bound = p == "alice" && r == "role-a";
            prop_assert_eq!(
                run(&proof(), Some(&req), t0() + Duration::minutes(1)).is_ok(),
                bound
            );
        }
    }
}
