//! Browser sessions and the authentication methods performed in them.

use crate::error::on_write;
use crate::sql::{flag, ms, opt_ms, RowExt};
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use policy::method::AuthenticationMethodMode;
use policy::registration::{weaker_than_its_kind, ProofMethod, RegistrationProof};
use policy::session::PerformedMethod;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// Hash of the session cookie's token (the token itself is never stored).
    pub id: String,
    /// The public session id (`sid`): stays the same when the cookie is rotated.
    pub sid: String,
    /// The user.
    pub user_id: String,
    /// When the session began.
    pub created_at: DateTime<Utc>,
    /// Last request seen.
    pub last_seen_at: DateTime<Utc>,
    /// Hard end of the session.
    pub expires_at: DateTime<Utc>,
    /// When it was signed out or revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    /// Whether the session may be used at `at`.
    pub fn is_live_at(&self, at: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && at < self.expires_at
    }
}

/// One method performed in a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAuthEvent {
    /// Event id.
    pub id: String,
    /// The session.
    pub session_id: String,
    /// The Graph method mode performed.
    pub method: AuthenticationMethodMode,
    /// When it was completed.
    pub performed_at: DateTime<Utc>,
    /// Authenticator model, for WebAuthn.
    pub aaguid: Option<String>,
    /// Whether the authenticator verified the user.
    pub user_verified: bool,
    /// The sign-in or step-up (e.g. a PIM activation request) it was performed for.
    pub transaction_id: Option<String>,
    /// The credential performed (a passkey's record id, an app's, a pass's), when there is one.
    pub credential_id: Option<String>,
    /// For a credential with a provenance (passkeys, security keys): the kind of proof it was
    /// registered under, as it stood when it was used.
    pub registration: Option<RegistrationProof>,
}

impl SessionAuthEvent {
    /// The event as the `policy` engine reads it. `privileged` and `relaxed` say whether the
    /// provenance rule applies to the user (DESIGN §8.5): when it does, a phishing-resistant
    /// credential registered under a weaker proof is marked so.
    pub fn performed_method(&self, privileged: bool, relaxed: bool) -> PerformedMethod {
        PerformedMethod {
            aaguid: self.aaguid.clone(),
            registered_under_weaker_proof: weaker_than_its_kind(
                &self.method,
                self.registration.as_ref(),
                privileged,
                relaxed,
            ),
            ..PerformedMethod::new(self.method.clone(), self.performed_at)
        }
    }

    /// The event as a method of a fresh proof (for the security-info floor and provenance).
    pub fn proof_method(&self) -> ProofMethod {
        ProofMethod {
            method: self.method.clone(),
            performed_at: self.performed_at,
            credential_id: self.credential_id.clone(),
            registration: self.registration.clone(),
        }
    }
}

macro_rules! session_columns {
    () => {
        "id, sid, user_id, created_at, last_seen_at, expires_at, revoked_at"
    };
}

fn session_from_row(row: &AnyRow) -> Result<Session, StoreError> {
    Ok(Session {
        sid: match row.opt_text("sid")? {
            Some(sid) => sid,
            None => row.text("id")?,
        },
        id: row.text("id")?,
        user_id: row.text("user_id")?,
        created_at: row.time("created_at")?,
        last_seen_at: row.time("last_seen_at")?,
        expires_at: row.time("expires_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

impl Store {
    /// Records a new session.
    pub async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&session.id)
        .bind(&session.sid)
        .bind(&session.user_id)
        .bind(ms(session.created_at))
        .bind(ms(session.last_seen_at))
        .bind(ms(session.expires_at))
        .bind(opt_ms(session.revoked_at))
        .execute(self.pool())
        .await
        .map_err(on_write("session"))?;
        Ok(())
    }

    /// The session with this id (revoked and expired ones included: check
    /// [`Session::is_live_at`]).
    pub async fn get_session(&self, id: &str) -> Result<Session, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("session", "(session token hash)"))?;
        session_from_row(&row)
    }

    /// The session whose public id (`sid`) is `sid`.
    pub async fn get_session_by_sid(&self, sid: &str) -> Result<Session, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE sid = $1"
        ))
        .bind(sid)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("session", sid))?;
        session_from_row(&row)
    }

    /// A user's sessions, newest first.
    pub async fn list_sessions(&self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(session_from_row)
        .collect()
    }

    /// Notes activity on a live session.
    pub async fn touch_session(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(ms(at))
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(
                "live session",
                "(session token hash)",
            ));
        }
        Ok(())
    }

    /// Signs a session out, and revokes the refresh tokens issued in it, in one transaction.
    pub async fn revoke_session(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id)
                .bind(ms(at))
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(
                "live session",
                "(session token hash)",
            ));
        }
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(ms(at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a method performed in a session.
    pub async fn add_session_event(&self, event: &SessionAuthEvent) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts a session with its first method, in one transaction (one commit: a sign-in step
    /// pays one disk flush, not two).
    pub async fn create_session_with_event(
        &self,
        session: &Session,
        event: &SessionAuthEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&session.id)
        .bind(&session.sid)
        .bind(&session.user_id)
        .bind(ms(session.created_at))
        .bind(ms(session.last_seen_at))
        .bind(ms(session.expires_at))
        .bind(opt_ms(session.revoked_at))
        .execute(&mut *tx)
        .await
        .map_err(on_write("session"))?;
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Store::rotate_session`] and [`Store::add_session_event`] (the event goes to the new
    /// id) in one transaction.
    pub async fn rotate_session_with_event(
        &self,
        old_id: &str,
        new_id: &str,
        at: DateTime<Utc>,
        event: &SessionAuthEvent,
    ) -> Result<Session, StoreError> {
        let mut tx = self.begin().await?;
        let new = rotate_in(&mut tx, old_id, new_id, at).await?;
        insert_event(
            &mut tx,
            &SessionAuthEvent {
                session_id: new_id.to_string(),
                ..event.clone()
            },
        )
        .await?;
        tx.commit().await?;
        Ok(new)
    }

    /// The methods performed in a session, oldest first.
    pub async fn session_events(
        &self,
        session_id: &str,
    ) -> Result<Vec<SessionAuthEvent>, StoreError> {
        sqlx::query(
            "SELECT id, session_id, method, performed_at, aaguid, user_verified, transaction_id, \
             credential_id, registration \
             FROM session_auth_events WHERE session_id = $1 ORDER BY performed_at, id",
        )
        .bind(session_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| {
            Ok(SessionAuthEvent {
                id: row.text("id")?,
                session_id: row.text("session_id")?,
                method: AuthenticationMethodMode::parse(&row.text("method")?),
                performed_at: row.time("performed_at")?,
                aaguid: row.opt_text("aaguid")?,
                user_verified: row.flag("user_verified")?,
                transaction_id: row.opt_text("transaction_id")?,
                credential_id: row.opt_text("credential_id")?,
                registration: row
                    .opt_text("registration")?
                    .map(|r| RegistrationProof::parse(&r)),
            })
        })
        .collect()
    }

    /// Gives a live session a new id (after sign-in or step-up, against session fixation), in
    /// one transaction: the new session keeps the user, start and expiry; its events, codes and
    /// refresh tokens move to it; the old id stops existing.
    pub async fn rotate_session(
        &self,
        old_id: &str,
        new_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Session, StoreError> {
        let mut tx = self.begin().await?;
        let new = rotate_in(&mut tx, old_id, new_id, at).await?;
        tx.commit().await?;
        Ok(new)
    }
}

/// Inserts one authentication event within `tx`.
async fn insert_event(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    event: &SessionAuthEvent,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO session_auth_events (id, session_id, method, performed_at, aaguid, \
         user_verified, transaction_id, credential_id, registration) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&event.id)
    .bind(&event.session_id)
    .bind(event.method.as_str())
    .bind(ms(event.performed_at))
    .bind(&event.aaguid)
    .bind(flag(event.user_verified))
    .bind(&event.transaction_id)
    .bind(&event.credential_id)
    .bind(event.registration.as_ref().map(|r| r.as_str().to_string()))
    .execute(&mut **tx)
    .await
    .map_err(on_write("session event"))?;
    Ok(())
}

/// The body of [`Store::rotate_session`], within `tx`.
async fn rotate_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    old_id: &str,
    new_id: &str,
    at: DateTime<Utc>,
) -> Result<Session, StoreError> {
    let old = sqlx::query(concat!(
        "SELECT ",
        session_columns!(),
        " FROM sessions WHERE id = $1"
    ))
    .bind(old_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| StoreError::not_found("session", "(session token hash)"))?;
    let old = session_from_row(&old)?;
    if !old.is_live_at(at) {
        return Err(StoreError::Conflict {
            what: "session",
            detail: "a revoked or expired session cannot be rotated".into(),
        });
    }
    let new = Session {
        id: new_id.to_string(),
        last_seen_at: crate::at_ms(at),
        ..old
    };
    sqlx::query(concat!(
        "INSERT INTO sessions (",
        session_columns!(),
        ") VALUES ($1, NULL, $2, $3, $4, $5, NULL)"
    ))
    .bind(&new.id)
    .bind(&new.user_id)
    .bind(ms(new.created_at))
    .bind(ms(new.last_seen_at))
    .bind(ms(new.expires_at))
    .execute(&mut **tx)
    .await
    .map_err(on_write("session"))?;
    for sql in [
        "UPDATE session_auth_events SET session_id = $2 WHERE session_id = $1",
        "UPDATE authorization_codes SET session_id = $2 WHERE session_id = $1",
        "UPDATE refresh_tokens SET session_id = $2 WHERE session_id = $1",
    ] {
        sqlx::query(sql)
            .bind(old_id)
            .bind(new_id)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(old_id)
        .execute(&mut **tx)
        .await?;
    // Only now, with the old row gone, can the new one take the (unique) public id.
    sqlx::query("UPDATE sessions SET sid = $2 WHERE id = $1")
        .bind(new_id)
        .bind(&new.sid)
        .execute(&mut **tx)
        .await?;
    Ok(new)
}
