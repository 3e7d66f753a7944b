//! Sign-in transactions: the state of one `/authorize` request while the user authenticates.

use crate::error::on_write;
use crate::sql::{ms, opt_ms, to_json, RowExt};
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

/// One authorization request under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInTransaction {
    /// Random public id (it travels in URLs).
    pub id: String,
    /// Hash of the browser cookie of the browser that began it.
    pub browser_hash: String,
    /// The client.
    pub client_id: String,
    /// The validated authorization request, as the server reads it back.
    pub request: serde_json::Value,
    /// The user, once named.
    pub user_id: Option<String>,
    /// The transaction start: methods performed from here on count as "in this sign-in".
    pub created_at: DateTime<Utc>,
    /// Usable until (exclusive).
    pub expires_at: DateTime<Utc>,
    /// When it ended with a code (or was abandoned for a new one).
    pub completed_at: Option<DateTime<Utc>>,
}

impl SignInTransaction {
    /// Whether it can still go on at `at`.
    pub fn is_open_at(&self, at: DateTime<Utc>) -> bool {
        self.completed_at.is_none() && at < self.expires_at
    }
}

macro_rules! transaction_columns {
    () => {
        "id, browser_hash, client_id, request_json, user_id, created_at, expires_at, completed_at"
    };
}

fn transaction_from_row(row: &AnyRow) -> Result<SignInTransaction, StoreError> {
    let request = row.text("request_json")?;
    Ok(SignInTransaction {
        id: row.text("id")?,
        browser_hash: row.text("browser_hash")?,
        client_id: row.text("client_id")?,
        request: serde_json::from_str(&request).map_err(|e| StoreError::Corrupt {
            what: "sign-in transaction request",
            detail: e.to_string(),
        })?,
        user_id: row.opt_text("user_id")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        completed_at: row.opt_time("completed_at")?,
    })
}

impl Store {
    /// Records a new transaction.
    pub async fn create_transaction(&self, t: &SignInTransaction) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO signin_transactions (",
            transaction_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&t.id)
        .bind(&t.browser_hash)
        .bind(&t.client_id)
        .bind(to_json("sign-in transaction request", &t.request)?)
        .bind(&t.user_id)
        .bind(ms(t.created_at))
        .bind(ms(t.expires_at))
        .bind(opt_ms(t.completed_at))
        .execute(self.pool())
        .await
        .map_err(on_write("sign-in transaction"))?;
        Ok(())
    }

    /// The transaction with this id.
    pub async fn get_transaction(&self, id: &str) -> Result<SignInTransaction, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            transaction_columns!(),
            " FROM signin_transactions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("sign-in transaction", id))?;
        transaction_from_row(&row)
    }

    /// Names the user of an open transaction; `false` if it is closed, expired, or already
    /// names someone else.
    pub async fn set_transaction_user(
        &self,
        id: &str,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE signin_transactions SET user_id = $2 WHERE id = $1 AND completed_at IS NULL \
             AND expires_at > $3 AND (user_id IS NULL OR user_id = $2)",
        )
        .bind(id)
        .bind(user_id)
        .bind(ms(now))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Closes an open transaction: `true` for the one caller that closed it.
    pub async fn complete_transaction(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE signin_transactions SET completed_at = $2 \
             WHERE id = $1 AND completed_at IS NULL AND expires_at > $2",
        )
        .bind(id)
        .bind(ms(now))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes transactions that expired before `now`.
    pub async fn purge_expired_transactions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM signin_transactions WHERE expires_at <= $1")
            .bind(ms(now))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

impl Store {
    /// The service secret `name`: the stored one, or `candidate` if none was stored yet (the
    /// first caller's candidate wins, on every node).
    pub async fn secret_or_insert(
        &self,
        name: &str,
        candidate: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO service_secrets (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .bind(ms(now))
        .execute(self.pool())
        .await
        .map_err(on_write("service secret"))?;
        let row = sqlx::query("SELECT value FROM service_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await?;
        row.text("value")
    }
}
