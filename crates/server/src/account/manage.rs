//! Renaming and removing a method.

use super::proof::*;
use super::*;

/// A new name for a method.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Rename {
    name: String,
}

/// The method `id` of the fresh user that can be managed here, or the refusal.
pub(super) fn managed<'m>(fresh: &'m Fresh, id: &str) -> Result<&'m MethodSummary, Refusal> {
    fresh
        .methods
        .iter()
        .find(|m| m.id == id && m.keeps_provenance)
        .ok_or_else(|| {
            Refusal(
                StatusCode::NOT_FOUND,
                "You have no such method (passwords and passes are not managed here).".into(),
            )
        })
}

pub(super) async fn rename_method(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Option<BrowserSession>,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Response, PageError> {
    let (fresh, body): (Fresh, Rename) = match fresh_request(&state, session, &body).await? {
        Ok(r) => r,
        Err(r) => return Ok(r),
    };
    let method = match managed(&fresh, &id) {
        Ok(m) => m,
        Err(r) => return Ok(r.into_response()),
    };
    let name: String = body.name.trim().chars().take(64).collect();
    if name.is_empty() || name.chars().any(char::is_control) {
        return Ok(refusal(
            StatusCode::BAD_REQUEST,
            "Give a name of 1 to 64 printable characters.",
        ));
    }
    let change = Change {
        user: &fresh.user,
        verb: "renamed",
        what: format!(
            "{} '{}' (now '{name}')",
            describe_mode(&method.method),
            method.label
        ),
        provenance: None,
        peer,
        proof: &fresh.proof,
    };
    let audit = change.audit(&state, "User renamed security info", "Update");
    match state
        .store
        .rename_method_audited(&fresh.user.id, &id, &name, &audit)
        .await
    {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {
            return Ok(refusal(StatusCode::NOT_FOUND, "You have no such method."))
        }
        Err(e) => return Err(e.into()),
    }
    change.tell(&state).await;
    Ok(answer(json!({ "id": id, "name": name })))
}

pub(super) async fn remove_method(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Option<BrowserSession>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let fresh = match fresh_user(&state, session).await? {
        Ok(f) => f,
        Err(r) => return Ok(r),
    };
    let method = match managed(&fresh, &id) {
        Ok(m) => m,
        Err(r) => return Ok(r.into_response()),
    };
    // A key that counts for phishing-resistant access is removed only under a proof as strong
    // (such a key, or an administrator's pass): a relayed password and code must not be able to
    // take an administrator's key away.
    let counts = method.method.is_phishing_resistant()
        && method
            .registration()
            .is_some_and(|r| r.vouches_for_phishing_resistance());
    if counts && !proof_of(&fresh.proof).vouches_for_phishing_resistance() {
        let entry = AuditEntry::new(
            "UserManagement",
            "User deleted security info",
            "Delete",
            state.now(),
        )
        .by_user(&fresh.user.id, Some(&fresh.user.user_principal_name))
        .target(
            "User",
            &fresh.user.id,
            Some(&fresh.user.user_principal_name),
        )
        .detail("method", &method.label)
        .detail("proofMethods", &proof_modes(&fresh.proof).join(","))
        .failed(
            "a phishing-resistant key is removed only under a phishing-resistant proof or a pass",
        );
        if let Err(e) = state.store.append_audit(&entry).await {
            tracing::error!(error = %e, "audit entry of a refused removal not written");
        }
        return Ok(refusal(
            StatusCode::FORBIDDEN,
            "This key counts for phishing-resistant access: to remove it, sign in again with one \
             of your keys that count, or with a temporary access pass from an administrator.",
        ));
    }
    let change = Change {
        user: &fresh.user,
        verb: "removed",
        what: format!("{} '{}'", describe_mode(&method.method), method.label),
        provenance: method.provenance.as_ref(),
        peer,
        proof: &fresh.proof,
    };
    let audit = change.audit(&state, "User deleted security info", "Delete");
    match state
        .store
        .remove_method_audited(&fresh.user.id, &id, &audit)
        .await
    {
        Ok(_) => {}
        Err(e) if e.is_not_found() => {
            return Ok(refusal(StatusCode::NOT_FOUND, "You have no such method."))
        }
        Err(e) => return Err(e.into()),
    }
    change.tell(&state).await;
    tracing::info!(user = %fresh.user.user_principal_name, method = %method.method, "method removed");
    Ok(answer(json!({ "id": id, "removed": true })))
}
