//! The sign-in log (Graph `signIn`): appended to, never changed.

use crate::error::on_write;
use crate::sql::{ms, opt_ms, text_enum, to_json, RowExt};
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

text_enum! {
    /// How a sign-in ended.
    pub enum SignInResult {
        /// Signed in.
        Success = "success",
        /// Refused (wrong credential, blocked by policy, locked out, …).
        Failure = "failure",
        /// Stopped for more proof (MFA, step-up) and not finished.
        Interrupted = "interrupted",
    }
}

/// One sign-in attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInRecord {
    /// Record id.
    pub id: String,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// The user, when the name matched one.
    pub user_id: Option<String>,
    /// The name as typed.
    pub user_principal_name: String,
    /// The client signed in to.
    pub client_id: Option<String>,
    /// Client IP address.
    pub ip: Option<String>,
    /// Success, failure or interrupted.
    pub result: SignInResult,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// Graph method modes performed.
    pub methods: Vec<String>,
    /// Graph `appliedConditionalAccessPolicies` array.
    pub applied_policies: serde_json::Value,
    /// The browser session.
    pub session_id: Option<String>,
    /// Graph `status.additionalDetails`: e.g. what security info was registered, and under
    /// which proof.
    pub additional_details: Option<String>,
}

impl SignInRecord {
    /// The record in Graph's `signIn` shape.
    pub fn to_graph(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "createdDateTime": self.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "userId": self.user_id,
            "userPrincipalName": self.user_principal_name,
            "appId": self.client_id,
            "ipAddress": self.ip,
            "status": {
                "errorCode": self.error_code(),
                "result": self.result.as_str(),
                "failureReason": self.failure_reason,
                "additionalDetails": self.additional_details,
            },
            "authenticationMethodsUsed": self.methods,
            "appliedConditionalAccessPolicies": self.applied_policies,
        })
    }

    /// Graph's `status.errorCode`, which Graph's clients read to tell success (`0`) from
    /// failure: Entra's code where the record says which it is (`50074`, strong authentication
    /// required, for a sign-in stopped for more proof; `53003`, blocked by Conditional Access,
    /// for a failure a policy decided), and `null` for other failures, which `failureReason`
    /// explains.
    pub fn error_code(&self) -> Option<u32> {
        match self.result {
            SignInResult::Success => Some(0),
            SignInResult::Interrupted => Some(50074),
            SignInResult::Failure => {
                let blocked = self
                    .applied_policies
                    .as_array()
                    .is_some_and(|policies| policies.iter().any(|p| p["result"] == "failure"));
                blocked.then_some(53003)
            }
        }
    }
}

/// Which sign-ins to read; every filter set must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInQuery {
    /// Only this user's.
    pub user_id: Option<String>,
    /// Only at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only with this result.
    pub result: Option<SignInResult>,
    /// At most this many.
    pub limit: u32,
}

impl Default for SignInQuery {
    fn default() -> Self {
        SignInQuery {
            user_id: None,
            since: None,
            result: None,
            limit: 100,
        }
    }
}

fn signin_from_row(row: &AnyRow) -> Result<SignInRecord, StoreError> {
    Ok(SignInRecord {
        id: row.text("id")?,
        created_at: row.time("created_at")?,
        user_id: row.opt_text("user_id")?,
        user_principal_name: row.text("user_principal_name")?,
        client_id: row.opt_text("client_id")?,
        ip: row.opt_text("ip")?,
        result: SignInResult::from_column(&row.text("result")?)?,
        failure_reason: row.opt_text("failure_reason")?,
        methods: row.json("methods_json")?,
        applied_policies: row.json("applied_policies_json")?,
        session_id: row.opt_text("session_id")?,
        additional_details: row.opt_text("additional_details")?,
    })
}

impl Store {
    /// Appends a sign-in to the log.
    pub async fn append_signin(&self, record: &SignInRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signins (id, created_at, user_id, user_principal_name, client_id, ip, \
             result, failure_reason, methods_json, applied_policies_json, session_id, \
             additional_details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&record.id)
        .bind(ms(record.created_at))
        .bind(&record.user_id)
        .bind(&record.user_principal_name)
        .bind(&record.client_id)
        .bind(&record.ip)
        .bind(record.result.as_str())
        .bind(&record.failure_reason)
        .bind(to_json("sign-in methods", &record.methods)?)
        .bind(to_json("applied policies", &record.applied_policies)?)
        .bind(&record.session_id)
        .bind(&record.additional_details)
        .execute(self.pool())
        .await
        .map_err(on_write("sign-in"))?;
        Ok(())
    }

    /// The sign-in with this id.
    pub async fn get_signin(&self, id: &str) -> Result<SignInRecord, StoreError> {
        let row = sqlx::query(
            "SELECT id, created_at, user_id, user_principal_name, client_id, ip, result, \
             failure_reason, methods_json, applied_policies_json, session_id, additional_details \
             FROM signins WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("sign-in", id))?;
        signin_from_row(&row)
    }

    /// Sign-ins matching `query`, newest first.
    pub async fn query_signins(
        &self,
        query: &SignInQuery,
    ) -> Result<Vec<SignInRecord>, StoreError> {
        // One static statement: a filter left unset is bound as NULL and so holds.
        sqlx::query(
            "SELECT id, created_at, user_id, user_principal_name, client_id, ip, result, \
             failure_reason, methods_json, applied_policies_json, session_id, additional_details \
             FROM signins \
             WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR created_at >= $2) \
             AND ($3 IS NULL OR result = $3) \
             ORDER BY created_at DESC, id DESC LIMIT $4",
        )
        .bind(&query.user_id)
        .bind(opt_ms(query.since))
        .bind(query.result.map(|r| r.as_str()))
        .bind(i64::from(query.limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(signin_from_row)
        .collect()
    }
}
