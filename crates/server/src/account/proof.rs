//! The fresh proof a change of security info needs, and what every change leaves behind: the
//! provenance of what it registers, its audit entry, its sign-in log entry and the notice to the
//! user.

use super::*;

/// The user, when the session holds a fresh proof that meets the floor; `Err` is the refusal.
pub(super) async fn fresh_user(
    state: &AppState,
    session: Option<BrowserSession>,
) -> Result<Result<Fresh, Response>, ServeError> {
    Ok(match visitor(state, session).await? {
        Some(Visitor {
            user,
            methods,
            proof: Some(proof),
        }) => Ok(Fresh {
            user,
            methods,
            proof,
        }),
        Some(_) => Err(refusal(
            StatusCode::UNAUTHORIZED,
            "Prove it is you again to change your security info (open /account): a recent \
             sign-in with one of your methods besides the password, or a temporary access pass.",
        )),
        None => Err(refusal(
            StatusCode::UNAUTHORIZED,
            "Sign in first (open /account).",
        )),
    })
}

/// The body of a change (read strictly) and the user allowed to make it; `Err` is the refusal,
/// a malformed body's first.
pub(super) async fn fresh_request<T: serde::de::DeserializeOwned>(
    state: &AppState,
    session: Option<BrowserSession>,
    body: &JsonBody,
) -> Result<Result<(Fresh, T), Response>, ServeError> {
    let body = match parse_body(body) {
        Ok(b) => b,
        Err(r) => return Ok(Err(r.into_response())),
    };
    Ok(fresh_user(state, session).await?.map(|fresh| (fresh, body)))
}

/// A user allowed to change security info now, with the proof that allows it.
pub(super) struct Fresh {
    pub(super) user: User,
    pub(super) methods: Vec<MethodSummary>,
    pub(super) proof: Vec<ProofMethod>,
}

impl Fresh {
    /// The provenance of a credential registered now, from `peer`.
    pub(super) async fn provenance(
        &self,
        state: &AppState,
        now: DateTime<Utc>,
        peer: SocketAddr,
    ) -> Result<Provenance, ServeError> {
        let mut methods: Vec<Mode> = Vec::new();
        for m in &self.proof {
            if !methods.contains(&m.method) {
                methods.push(m.method.clone());
            }
        }
        // Who issued the pass of the proof, when a pass is part of it.
        let mut issued_by = None;
        let passes: Vec<&str> = self
            .proof
            .iter()
            .filter(|m| {
                matches!(
                    m.method,
                    Mode::TemporaryAccessPassOneTime | Mode::TemporaryAccessPassMultiUse
                )
            })
            .filter_map(|m| m.credential_id.as_deref())
            .collect();
        if !passes.is_empty() {
            issued_by = state
                .store
                .list_taps(&self.user.id)
                .await?
                .into_iter()
                .find(|p| passes.contains(&p.id.as_str()))
                .map(|p| p.created_by);
            // Named by sign-in name when the issuer is a user of the directory.
            if let Some(id) = issued_by.clone() {
                match state.store.get_user(&id).await {
                    Ok(u) => issued_by = Some(u.user_principal_name),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(Provenance {
            proof: proof_of(&self.proof),
            methods,
            temporary_access_pass_issued_by: issued_by,
            registered_at: now,
            source_address: Some(peer.ip().to_string()),
        })
    }
}

/// Records a change of security info: the audit entry (written with the change, by the caller),
/// the sign-in log, and a message to the user through the outbox.
pub(super) struct Change<'a> {
    pub(super) user: &'a User,
    /// "added", "renamed" or "removed".
    pub(super) verb: &'a str,
    /// What ("Passkey 'YubiKey'").
    pub(super) what: String,
    pub(super) provenance: Option<&'a Provenance>,
    pub(super) peer: SocketAddr,
    pub(super) proof: &'a [ProofMethod],
}

impl Change<'_> {
    pub(super) fn audit(&self, state: &AppState, activity: &str, operation: &str) -> AuditEntry {
        let mut entry = AuditEntry::new("UserManagement", activity, operation, state.now())
            .by_user(&self.user.id, Some(&self.user.user_principal_name))
            .target("User", &self.user.id, Some(&self.user.user_principal_name))
            .detail("method", &self.what)
            .detail("ipAddress", &self.peer.ip().to_string())
            .detail("proofMethods", &proof_modes(self.proof).join(","));
        if let Some(p) = self.provenance {
            entry = entry
                .detail("registrationProof", p.proof.as_str())
                .detail("provenance", &p.describe());
        }
        entry
    }

    /// The sign-in log entry and the message to the user; failures here are logged, not shown:
    /// the change itself and its audit entry are already committed.
    pub(super) async fn tell(&self, state: &AppState) {
        let details = match self.provenance {
            Some(p) => format!(
                "Security info: {} {} ({})",
                self.what,
                self.verb,
                p.describe()
            ),
            None => format!("Security info: {} {}", self.what, self.verb),
        };
        let record = store::SignInRecord {
            id: store::new_id(),
            created_at: state.now(),
            user_id: Some(self.user.id.clone()),
            user_principal_name: self.user.user_principal_name.clone(),
            client_id: Some(PORTAL_CLIENT_ID.into()),
            ip: Some(self.peer.ip().to_string()),
            result: store::SignInResult::Success,
            failure_reason: None,
            methods: proof_modes(self.proof),
            applied_policies: Value::Array(Vec::new()),
            session_id: None,
            additional_details: Some(details.clone()),
        };
        if let Err(e) = state.store.append_signin(&record).await {
            tracing::error!(error = %e, "sign-in log entry of a security-info change not written");
        }
        let preposition = match self.verb {
            "added" => "to",
            "removed" => "from",
            _ => "on",
        };
        let message = format!(
            "Portcullis: {} was {} {preposition} your account {} on {} UTC from {}. If this was \
             not you, tell your administrator now.",
            self.what,
            self.verb,
            self.user.user_principal_name,
            state.now().format("%Y-%m-%d %H:%M"),
            self.peer.ip()
        );
        for recipient in recipients(state, self.user).await {
            if let Err(e) = state
                .sender
                .send(authn::otp::OtpChannel::Email, &recipient, &message)
                .await
            {
                tracing::error!(error = %e, "security-info notice not sent");
            }
        }
    }
}

pub(super) fn proof_modes(proof: &[ProofMethod]) -> Vec<String> {
    let mut modes: Vec<String> = proof.iter().map(|m| m.method.to_string()).collect();
    modes.dedup();
    modes
}

/// Where security-info notices go: the user's registered e-mail addresses, else the sign-in
/// name (an address in most tenants).
pub(super) async fn recipients(state: &AppState, user: &User) -> Vec<String> {
    let mut to: Vec<String> = match state.store.list_contact_methods(&user.id).await {
        Ok(c) => c
            .into_iter()
            .filter(|c| c.kind == store::Channel::Email)
            .map(|c| c.address)
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "contact methods not read for a security-info notice");
            Vec::new()
        }
    };
    if to.is_empty() {
        to.push(user.user_principal_name.clone());
    }
    to
}

pub(super) fn describe_mode(mode: &Mode) -> String {
    crate::signin::pages::describe(mode)
}
