//! Self-activation of an eligible role, gated by a fresh, request-bound step-up when the role's
//! settings require an authentication context (DESIGN §8); self-deactivation; cancellation of
//! a request that still waits; reading one's requests.
//!
//! The gate: the request is recorded first, as `PendingStepUp`, and the caller is told to step
//! up ([`ActivationOutcome::StepUpRequired`]; the face words the challenge). The proof of that
//! step-up names the request; presented with the same request again, it is checked by
//! [`pim::step_up::check`] and activates the role once: the store consumes its one-time id with
//! the status change, in one transaction.

use crate::pim::facts::holdings;
use crate::pim::{
    audit, change, flow_of, invalid_transition, progress_of, refuse, run, ErrorCode, Refusal,
};
use crate::{Caller, Core};
use chrono::{DateTime, Utc};
use pim::step_up::{PendingRequest, ProofRefusal, StepUp, StepUpProof, VerifiedStepUp};
use pim::{
    ActivationFacts, Decision, Event, Progress, RequestFlow, RoleManagementPolicy, ScheduleKind,
    ScheduleRequest, Status,
};
use policy::ids::{ContextId, PrincipalId, RequestId, RoleId};
use serde_json::json;
use store::{
    AuditEntry, RequestTransition, RoleAssignment, ScheduleRequestRecord, TransitionOutcome,
};
use tokens::AccessTokenClaims;

crate::pim::area_error! {
    /// Why an activation, deactivation or cancellation did not happen.
    ActivationError
}

/// What the caller's authentication brings to an activation: its MFA claim (however old) and
/// the step-up proof it carries, if any.
#[derive(Debug, Clone, Default)]
pub struct Presented {
    /// `amr` holds `mfa`: what the `MultiFactorAuthentication` rule checks.
    pub mfa_claim: bool,
    /// The step-up proof, or why what was presented as one cannot be read.
    pub step_up: Option<Result<StepUpProof, ProofRefusal>>,
}

impl Presented {
    /// From a bearer access token: a token from a step-up names its request
    /// (`step_up_request`); others carry no proof.
    pub fn from_access_token(claims: &AccessTokenClaims) -> Presented {
        Presented {
            mfa_claim: claims.amr.iter().any(|v| v == "mfa"),
            step_up: claims.step_up_request.as_deref().map(|request| {
                StepUpProof::from_token_claims(
                    request,
                    &claims.sub,
                    claims.iat,
                    claims.auth_time,
                    &claims.acrs,
                    &claims.amr,
                    &claims.jti,
                )
            }),
        }
    }

    /// From a browser session (the portal): its MFA claim — the methods performed in it, however
    /// long ago — and no proof.
    pub fn from_session<'a>(
        methods: impl IntoIterator<Item = &'a policy::method::AuthenticationMethodMode>,
    ) -> Presented {
        Presented {
            mfa_claim: policy::amr::amr(methods).iter().any(|v| v == "mfa"),
            step_up: None,
        }
    }

    /// From a step-up sign-in whose authorization code the portal redeemed itself (no token is
    /// minted): the proof names `request` and the signed-in user, counts as issued at
    /// `redeemed_at`, carries the sign-in's authentication (its time, `acrs` and `amr`), and
    /// is used once under `once_id` (the code's hash: the code is redeemed once anyway).
    pub fn from_step_up_sign_in(
        request: &str,
        user_id: &str,
        redeemed_at: DateTime<Utc>,
        sign_in: &SignInProof<'_>,
        once_id: &str,
    ) -> Presented {
        Presented {
            mfa_claim: sign_in.amr.iter().any(|v| v == "mfa"),
            step_up: Some(StepUpProof::from_token_claims(
                request,
                user_id,
                redeemed_at.timestamp(),
                sign_in.auth_time.timestamp(),
                sign_in.acrs,
                sign_in.amr,
                once_id,
            )),
        }
    }
}

/// What a completed sign-in says about its authentication, as its code records it.
#[derive(Debug, Clone, Copy)]
pub struct SignInProof<'a> {
    /// When the user authenticated.
    pub auth_time: DateTime<Utc>,
    /// The authentication contexts it satisfied.
    pub acrs: &'a [String],
    /// The methods performed (RFC 8176).
    pub amr: &'a [String],
}

/// What became of a `selfActivate`.
#[derive(Debug, Clone)]
pub enum ActivationOutcome {
    /// The role is active; the request as stored (`Provisioned`).
    Activated(ScheduleRequestRecord),
    /// The request waits for approval.
    PendingApproval(ScheduleRequestRecord),
    /// The request is recorded as `PendingStepUp`: the caller must step up for `context` and
    /// send the request again with the proof.
    StepUpRequired {
        /// The request waiting for the step-up.
        record: ScheduleRequestRecord,
        /// The authentication context to satisfy.
        context: String,
    },
    /// `isValidationOnly`: the request passed, with the status it would get; nothing stored.
    ValidatedOnly(ScheduleRequest),
}

/// What became of a `selfDeactivate`.
#[derive(Debug, Clone)]
pub enum DeactivationOutcome {
    /// The activation ended; the deactivation request as stored (`Revoked`).
    Deactivated(ScheduleRequestRecord),
    /// `isValidationOnly`: it would pass; nothing stored.
    ValidatedOnly(ScheduleRequest),
}

/// A self-service request made the caller's: the principal the caller (another is refused),
/// the fields the service sets cleared, the role as defined.
async fn own_self_request(
    core: &Core,
    caller: &Caller,
    mut request: ScheduleRequest,
) -> Result<ScheduleRequest, ActivationError> {
    let action = request.action();
    if !request.principal_id.is_empty() && !caller.id().is(&request.principal_id) {
        return Err(
            Refusal::forbidden(format!("{action} is for the caller's own principalId.")).into(),
        );
    }
    request.principal_id = caller.user.id.clone();
    // The service sets these; a client's values are not taken.
    request.id = None;
    request.status = None;
    request.approval_id = None;
    request.target_schedule_id = None;
    let role = RoleId::trusted(request.role_definition_id.clone());
    request.role_definition_id = core.role_definition::<ActivationError>(&role).await?.id;
    Ok(request)
}

/// The authentication context the role's activation requires, if any.
fn required_context(policy: &RoleManagementPolicy) -> Option<ContextId> {
    policy
        .authentication_context()
        .and_then(|r| r.required_context().ok().flatten())
}

/// Checks a presented proof against the request it names: `Ok(None)` when none was presented;
/// a refusal (audited) when it fails any part of [`pim::step_up::check`].
async fn checked_proof(
    core: &Core,
    caller: &Caller,
    presented: &Presented,
    role: &RoleId,
    policy: &RoleManagementPolicy,
    now: DateTime<Utc>,
) -> Result<Option<(VerifiedStepUp, StepUpProof, ScheduleRequestRecord)>, ActivationError> {
    let Some(step_up) = &presented.step_up else {
        return Ok(None);
    };
    let proof = match step_up {
        Ok(proof) => proof.clone(),
        Err(refusal) => {
            let entry = audit(caller, "Step-up proof refused", role.as_str(), now);
            return Err(proof_refusal(core, entry, refusal).await.into());
        }
    };
    let entry = audit(caller, "Step-up proof refused", role.as_str(), now)
        .detail("stepUpRequest", proof.request_id.as_str());
    let record = match core
        .store
        .get_schedule_request(proof.request_id.as_str())
        .await
    {
        Ok(r) => Some(r),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    let status = record.as_ref().map(ScheduleRequestRecord::status);
    let pending = record
        .as_ref()
        .zip(status.as_ref())
        .map(|(r, status)| PendingRequest {
            id: RequestId::trusted(r.id()),
            principal_id: PrincipalId::trusted(r.request.principal_id.as_str()),
            role_definition_id: RoleId::trusted(r.request.role_definition_id.as_str()),
            status,
            created_at: r.request.created_date_time.unwrap_or(now),
        });
    let context = required_context(policy);
    match (
        pim::step_up::check(
            &proof,
            &caller.id().into(),
            role,
            pending.as_ref(),
            context.as_ref(),
            now,
        ),
        record,
    ) {
        (Ok(verified), Some(record)) => Ok(Some((verified, proof, record))),
        (Err(refusal), _) => Err(proof_refusal(core, entry, &refusal).await.into()),
        (Ok(_), None) => Err(proof_refusal(
            core,
            entry,
            &ProofRefusal::UnknownRequest {
                request: proof.request_id.to_string(),
            },
        )
        .await
        .into()),
    }
}

/// A refused proof, audited: `400 RoleAssignmentRequestAcrsValidationFailed`.
async fn proof_refusal(core: &Core, entry: AuditEntry, refusal: &ProofRefusal) -> Refusal {
    refuse(
        core,
        entry,
        Refusal::invalid(ErrorCode::AcrsValidationFailed, refusal.to_string()),
    )
    .await
}

/// The audit entry of a completed activation.
pub(crate) fn activated_entry(
    entry: AuditEntry,
    assignment: &RoleAssignment,
    request_id: &str,
) -> AuditEntry {
    entry
        .detail("assignmentId", &assignment.id)
        .detail(
            "end",
            &assignment
                .end_at
                .map(|e| e.to_rfc3339())
                .unwrap_or_default(),
        )
        .correlation(request_id)
}

/// `selfActivate`: checks the request against the role's settings and the caller's
/// eligibility, then records it waiting for a step-up or an approval, or activates the role.
pub async fn activate(
    core: &Core,
    caller: &Caller,
    presented: &Presented,
    request: ScheduleRequest,
) -> Result<ActivationOutcome, ActivationError> {
    let now = core.now();
    let mut request = own_self_request(core, caller, request).await?;
    let role = request.role_definition_id.clone();
    let policy = core.role_settings(&role).await?.policy;
    let proof = checked_proof(
        core,
        caller,
        presented,
        &RoleId::trusted(role.as_str()),
        &policy,
        now,
    )
    .await?;
    let held = holdings(core, &caller.id(), &role, now).await?;
    let facts = ActivationFacts {
        eligibility: held.eligibility,
        active: held.active.map(|(a, _)| a),
        session_has_mfa_claim: presented.mfa_claim,
        step_up: proof
            .as_ref()
            .map_or(StepUp::NotPresented, |(verified, ..)| {
                StepUp::Verified(verified.clone())
            }),
    };
    let plan = match pim::validate_activation(&policy, &request, &facts, now) {
        Ok(plan) => plan,
        Err(violations) => {
            let entry = audit(caller, "Add member to role request refused", &role, now);
            return Err(refuse(core, entry, Refusal::violations(&violations))
                .await
                .into());
        }
    };
    if request.is_validation_only == Some(true) {
        let mut echoed = request.clone();
        echoed.status = Some(plan.initial_status());
        return Ok(ActivationOutcome::ValidatedOnly(echoed));
    }
    // Who approves is resolved when a decision is made; the status only needs to know that
    // someone must.
    let flow = RequestFlow {
        requester: caller.id(),
        needs_step_up: plan.needs_step_up.is_some(),
        decision: if plan.needs_approval.is_some() {
            Decision::Approval(Vec::new())
        } else {
            Decision::Automatic
        },
    };
    let transition_failed = |e: pim::InvalidTransition| {
        ActivationError::Internal(format!("the state machine refused the activation: {e}"))
    };
    if let Some(context) = plan.needs_step_up {
        let context = context.to_string();
        request.status = Some(flow.start().status);
        let entry = audit(
            caller,
            "Add member to role requested (step-up required)",
            &role,
            now,
        )
        .detail("authenticationContext", &context);
        let record = core
            .store
            .create_schedule_request(ScheduleKind::Assignment, &request, now, Some(&entry))
            .await?;
        return Ok(ActivationOutcome::StepUpRequired { record, context });
    }
    let waits = plan.needs_approval.is_some();
    let assignment = crate::pim::new_schedule(
        ScheduleKind::Assignment,
        &caller.user.id,
        &role,
        plan.start,
        plan.end,
    );
    let completed = |request_id: &str| {
        let entry = audit(
            caller,
            "Add member to role completed (PIM activation)",
            &role,
            now,
        );
        activated_entry(entry, &assignment, request_id)
    };
    let record = match proof {
        // The step-up was verified: the pending request moves on, consuming the proof.
        Some((_, proof, pending)) => {
            let stepped = RequestFlow {
                needs_step_up: true,
                ..flow
            };
            let mut events = vec![Event::StepUpVerified];
            if !waits {
                events.push(Event::Provisioned);
            }
            let next = run(&stepped, &progress_of(&pending), &events).map_err(transition_failed)?;
            let t = RequestTransition::new(pending.id(), pending.status(), next.status, now)
                .consuming_proof(&proof.once_id);
            let outcome = if waits {
                // The approval's id is the request's (as in Graph's PIM for directory roles).
                let t = t
                    .to_stage(0)
                    .with_patch(json!({ "approvalId": pending.id() }));
                let entry = audit(
                    caller,
                    "Add member to role requested (step-up verified, approval required)",
                    &role,
                    now,
                )
                .correlation(pending.id());
                core.store
                    .transition_schedule_request_with(&t, Some(&entry))
                    .await?
            } else {
                let entry = completed(pending.id());
                core.store.activate_with(&t, &assignment, &entry).await?
            };
            match outcome {
                TransitionOutcome::Applied(record) => *record,
                other => {
                    let refusal = match other {
                        TransitionOutcome::ProofAlreadyUsed => ProofRefusal::Spent,
                        _ => ProofRefusal::Overtaken,
                    };
                    let entry = audit(caller, "Step-up proof refused", &role, now);
                    return Err(proof_refusal(core, entry, &refusal).await.into());
                }
            }
        }
        None if waits => {
            let id = store::new_id();
            request.id = Some(id.clone());
            request.approval_id = Some(id.clone());
            request.status = Some(flow.start().status);
            let entry = audit(
                caller,
                "Add member to role requested (approval required)",
                &role,
                now,
            )
            .correlation(&id);
            core.store
                .create_schedule_request(ScheduleKind::Assignment, &request, now, Some(&entry))
                .await?
        }
        None => {
            let granted = flow.start();
            request.status = Some(granted.status.clone());
            let created = core
                .store
                .create_schedule_request(ScheduleKind::Assignment, &request, now, None)
                .await?;
            let next = flow
                .transition(&granted, &Event::Provisioned)
                .map_err(transition_failed)?;
            let t = RequestTransition::new(created.id(), granted.status, next.status, now);
            let entry = completed(created.id());
            core.store
                .activate_with(&t, &assignment, &entry)
                .await?
                .applied()
                .ok_or_else(|| {
                    ActivationError::Internal("a granted request could not be activated".into())
                })?
        }
    };
    if waits {
        tracing::info!(user = %caller.user.user_principal_name, role = %role, request = %record.id(), "activation waits for approval");
        return Ok(ActivationOutcome::PendingApproval(record));
    }
    // Conditional Access (includeRoles) sees the active role from now on.
    core.roles_changed();
    tracing::info!(user = %caller.user.user_principal_name, role = %role, request = %record.id(), "role activated");
    Ok(ActivationOutcome::Activated(record))
}

/// `selfDeactivate`: ends the caller's activation of the role now (not within five minutes of
/// its start), recorded as a request in status `Revoked`, with the assignment's end and the
/// audit entry, in one transaction.
pub async fn deactivate(
    core: &Core,
    caller: &Caller,
    request: ScheduleRequest,
) -> Result<DeactivationOutcome, ActivationError> {
    let now = core.now();
    let mut request = own_self_request(core, caller, request).await?;
    let role = request.role_definition_id.clone();
    let held = holdings(core, &caller.id(), &role, now).await?;
    let facts = ActivationFacts {
        eligibility: held.eligibility,
        active: held.active.as_ref().map(|(a, _)| *a),
        ..ActivationFacts::default()
    };
    if let Err(violations) = pim::validate_deactivation(&request, &facts, now) {
        let entry = audit(
            caller,
            "Remove member from role request refused",
            &role,
            now,
        );
        return Err(refuse(core, entry, Refusal::violations(&violations))
            .await
            .into());
    }
    // The deactivation is recorded with the status its activation takes when the holder
    // ends it.
    let activation = RequestFlow {
        requester: caller.id(),
        needs_step_up: false,
        decision: Decision::Automatic,
    };
    let ended = activation
        .transition(
            &Progress {
                status: Status::Provisioned,
                stage: 0,
                failure: None,
            },
            &Event::Deactivated,
        )
        .map(|p| p.status)
        .unwrap_or(Status::Revoked);
    if request.is_validation_only == Some(true) {
        request.status = Some(ended);
        return Ok(DeactivationOutcome::ValidatedOnly(request));
    }
    let no_assignment = |message: &str| {
        ActivationError::from(Refusal::invalid(
            ErrorCode::RoleAssignmentDoesNotExist,
            message,
        ))
    };
    let Some((_, assignment_id)) = held.active else {
        return Err(no_assignment(
            "There is no active assignment of this role to end.",
        ));
    };
    let id = store::new_id();
    request.id = Some(id.clone());
    request.status = Some(ended);
    let entry = audit(
        caller,
        "Remove member from role completed (PIM activation ended by the holder)",
        &role,
        now,
    )
    .detail("assignmentId", &assignment_id)
    .correlation(&id);
    match core
        .store
        .deactivate_with_request(&request, &assignment_id, now, &entry)
        .await?
    {
        Some((record, _)) => {
            core.roles_changed();
            tracing::info!(user = %caller.user.user_principal_name, role = %role, "activation ended by its holder");
            Ok(DeactivationOutcome::Deactivated(record))
        }
        None => Err(no_assignment(
            "The activation of this role ended meanwhile.",
        )),
    }
}

/// One of the caller's requests of `kind`; another's, or one that does not exist, is not
/// found.
pub async fn own_request(
    core: &Core,
    caller: &Caller,
    kind: ScheduleKind,
    id: &RequestId,
) -> Result<ScheduleRequestRecord, ActivationError> {
    match core.store.get_schedule_request(id.as_str()).await {
        Ok(r) if caller.id() == r.request.principal_id && r.kind == kind => Ok(r),
        Ok(_) => Err(Refusal::not_found("Request", id.as_str()).into()),
        Err(e) if e.is_not_found() => Err(Refusal::not_found("Request", id.as_str()).into()),
        Err(e) => Err(e.into()),
    }
}

/// A request of `kind` by id: the caller's own; any, for a caller who may administer roles
/// (`crate::authz::ManageRoles`, checked now). Others are not found.
pub async fn visible_request(
    core: &Core,
    caller: &Caller,
    kind: ScheduleKind,
    id: &RequestId,
) -> Result<ScheduleRequestRecord, ActivationError> {
    match own_request(core, caller, kind, id).await {
        Err(ActivationError::Refused(not_found))
            if core.may::<crate::authz::ManageRoles>(caller).await? =>
        {
            match core.store.get_schedule_request(id.as_str()).await {
                Ok(r) if r.kind == kind => Ok(r),
                _ => Err(not_found.into()),
            }
        }
        other => other,
    }
}

/// Cancels one of the caller's requests for an active assignment that still waits (for its
/// step-up, its approval or an administrator's decision) or is granted but not yet in force:
/// the state machine says which may be canceled. Audited, also when refused.
pub async fn cancel(
    core: &Core,
    caller: &Caller,
    id: &RequestId,
) -> Result<ScheduleRequestRecord, ActivationError> {
    cancel_of(core, caller, ScheduleKind::Assignment, id).await
}

/// [`cancel`] for a request of `kind`: a holder's `selfExtend` or `selfRenew` of an
/// eligibility is withdrawn like one of an active assignment.
pub async fn cancel_of(
    core: &Core,
    caller: &Caller,
    kind: ScheduleKind,
    id: &RequestId,
) -> Result<ScheduleRequestRecord, ActivationError> {
    let now = core.now();
    let record = own_request(core, caller, kind, id).await?;
    let role = record.request.role_definition_id.clone();
    let entry = audit(caller, "Cancel role request", &role, now).correlation(record.id());
    let from = progress_of(&record);
    let next = match flow_of(&record).transition(&from, &Event::Cancel { by: caller.id() }) {
        Ok(next) => next,
        Err(e) => {
            let message = format!(
                "The request is {} and can no longer be canceled ({e}); an activation in force \
                 ends with selfDeactivate.",
                from.status
            );
            return Err(refuse(core, entry, invalid_transition(&e, message))
                .await
                .into());
        }
    };
    match core
        .store
        .transition_schedule_request_with(&change(&record, &next, now), Some(&entry))
        .await?
    {
        TransitionOutcome::Applied(record) => Ok(*record),
        _ => Err(Refusal::conflict(
            ErrorCode::InvalidRequestState,
            "The request changed meanwhile (approved, denied or expired); read it again.",
        )
        .into()),
    }
}
