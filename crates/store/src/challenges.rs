//! Short-lived, single-use challenge state: one-time codes and WebAuthn ceremonies.
//!
//! Every state change is one conditional `UPDATE … RETURNING`, so that two requests racing for
//! the same code or ceremony cannot both win, on either backend.

use crate::error::on_write;
use crate::outbox::Channel;
use crate::sql::{ms, opt_ms, text_enum, RowExt};
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

/// A one-time code sent by SMS, voice or e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtpChallenge {
    /// Challenge id.
    pub id: String,
    /// The user it was sent to.
    pub user_id: String,
    /// How it was sent.
    pub channel: Channel,
    /// Hash of the code; the code itself is never stored.
    pub code_hash: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// Valid until (exclusive).
    pub expires_at: DateTime<Utc>,
    /// Verification attempts so far.
    pub attempts: i64,
    /// When it was used; a used code is dead.
    pub consumed_at: Option<DateTime<Utc>>,
}

text_enum! {
    /// What a WebAuthn ceremony is for.
    pub enum CeremonyKind {
        /// Registering a new credential.
        Registration = "registration",
        /// Proving possession of a registered credential.
        Authentication = "authentication",
    }
}

/// The server-side state of a WebAuthn ceremony, between the challenge and the response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ceremony {
    /// Ceremony id.
    pub id: String,
    /// The user, unless it is a username-less (discoverable credential) sign-in.
    pub user_id: Option<String>,
    /// Registration or authentication.
    pub kind: CeremonyKind,
    /// The serialized webauthn-rs state.
    pub state_json: String,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// Valid until (exclusive).
    pub expires_at: DateTime<Utc>,
    /// When it was taken; a taken ceremony is dead.
    pub consumed_at: Option<DateTime<Utc>>,
}

macro_rules! otp_columns {
    () => {
        "id, user_id, channel, code_hash, created_at, expires_at, attempts, consumed_at"
    };
}
macro_rules! ceremony_columns {
    () => {
        "id, user_id, kind, state_json, created_at, expires_at, consumed_at"
    };
}

fn otp_from_row(row: &AnyRow) -> Result<OtpChallenge, StoreError> {
    Ok(OtpChallenge {
        id: row.text("id")?,
        user_id: row.text("user_id")?,
        channel: Channel::from_column(&row.text("channel")?)?,
        code_hash: row.text("code_hash")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        attempts: row.int("attempts")?,
        consumed_at: row.opt_time("consumed_at")?,
    })
}

fn ceremony_from_row(row: &AnyRow) -> Result<Ceremony, StoreError> {
    Ok(Ceremony {
        id: row.text("id")?,
        user_id: row.opt_text("user_id")?,
        kind: CeremonyKind::from_column(&row.text("kind")?)?,
        state_json: row.text("state_json")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        consumed_at: row.opt_time("consumed_at")?,
    })
}

impl Store {
    /// Records an issued one-time code.
    pub async fn create_otp(&self, challenge: &OtpChallenge) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO otp_challenges (",
            otp_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&challenge.id)
        .bind(&challenge.user_id)
        .bind(challenge.channel.as_str())
        .bind(&challenge.code_hash)
        .bind(ms(challenge.created_at))
        .bind(ms(challenge.expires_at))
        .bind(challenge.attempts)
        .bind(opt_ms(challenge.consumed_at))
        .execute(self.pool())
        .await
        .map_err(on_write("one-time code"))?;
        Ok(())
    }

    /// A one-time code challenge by id.
    pub async fn get_otp(&self, id: &str) -> Result<OtpChallenge, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            otp_columns!(),
            " FROM otp_challenges WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("one-time code", id))?;
        otp_from_row(&row)
    }

    /// Counts one verification attempt before the code is compared: returns the challenge (with
    /// the new count) if it is live at `now` and had fewer than `max_attempts` attempts, `None`
    /// otherwise (unknown, expired, used, or out of attempts). Atomic, so that concurrent guesses
    /// cannot exceed the limit.
    pub async fn record_otp_attempt(
        &self,
        id: &str,
        now: DateTime<Utc>,
        max_attempts: i64,
    ) -> Result<Option<OtpChallenge>, StoreError> {
        sqlx::query(concat!(
            "UPDATE otp_challenges SET attempts = attempts + 1 WHERE id = $1 \
             AND consumed_at IS NULL AND expires_at > $2 AND attempts < $3 RETURNING ",
            otp_columns!()
        ))
        .bind(id)
        .bind(ms(now))
        .bind(max_attempts)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(otp_from_row)
        .transpose()
    }

    /// Marks a code used after it matched: true for the one caller that did it while the code
    /// was live, false for everyone else.
    pub async fn consume_otp(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE otp_challenges SET consumed_at = $2 \
             WHERE id = $1 AND consumed_at IS NULL AND expires_at > $2",
        )
        .bind(id)
        .bind(ms(now))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the state of a WebAuthn ceremony that has begun.
    pub async fn create_ceremony(&self, ceremony: &Ceremony) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO webauthn_ceremonies (",
            ceremony_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&ceremony.id)
        .bind(&ceremony.user_id)
        .bind(ceremony.kind.as_str())
        .bind(&ceremony.state_json)
        .bind(ms(ceremony.created_at))
        .bind(ms(ceremony.expires_at))
        .bind(opt_ms(ceremony.consumed_at))
        .execute(self.pool())
        .await
        .map_err(on_write("WebAuthn ceremony"))?;
        Ok(())
    }

    /// Takes a ceremony's state to finish it: `Some` once, for the first caller while it is live
    /// at `now`; `None` if it is unknown, expired or already taken.
    pub async fn take_ceremony(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Ceremony>, StoreError> {
        sqlx::query(concat!(
            "UPDATE webauthn_ceremonies SET consumed_at = $2 \
             WHERE id = $1 AND consumed_at IS NULL AND expires_at > $2 RETURNING ",
            ceremony_columns!()
        ))
        .bind(id)
        .bind(ms(now))
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(ceremony_from_row)
        .transpose()
    }

    /// Deletes codes, ceremonies and authorization codes that expired before `now`; returns how
    /// many rows went.
    pub async fn purge_expired_challenges(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let mut purged = 0;
        for sql in [
            "DELETE FROM otp_challenges WHERE expires_at <= $1",
            "DELETE FROM webauthn_ceremonies WHERE expires_at <= $1",
            "DELETE FROM authorization_codes WHERE expires_at <= $1",
        ] {
            purged += sqlx::query(sql)
                .bind(ms(now))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(purged)
    }
}
