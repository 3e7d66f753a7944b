//! OpenID Connect provider state: clients, authorization codes, refresh tokens, signing keys.

use crate::error::on_write;
use crate::sql::{flag, ms, opt_ms, to_json, RowExt};
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

/// A relying party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcClient {
    /// The `client_id`.
    pub client_id: String,
    /// Name shown on consent and in logs.
    pub display_name: String,
    /// Exact redirect URIs allowed.
    pub redirect_uris: Vec<String>,
    /// A public client (no secret; PKCE required).
    pub is_public: bool,
    /// Hash of the client secret, for confidential clients.
    pub secret_hash: Option<String>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

/// An issued authorization code, kept until it is redeemed or expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationCode {
    /// Hash of the code (the code itself is never stored).
    pub code_hash: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// The browser session it was issued in.
    pub session_id: String,
    /// The redirect URI it was sent to (must match at redemption).
    pub redirect_uri: String,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// OIDC `nonce`.
    pub nonce: Option<String>,
    /// Granted scope.
    pub scope: String,
    /// The `claims` request parameter, if any.
    pub claims: Option<serde_json::Value>,
    /// When the user last authenticated.
    pub auth_time: DateTime<Utc>,
    /// `acr` to put in the tokens.
    pub acr: Option<String>,
    /// `amr` values (RFC 8176).
    pub amr: Vec<String>,
    /// Authentication contexts satisfied (`acrs`).
    pub acrs: Vec<String>,
    /// Redeemable until (exclusive).
    pub expires_at: DateTime<Utc>,
    /// When it was redeemed.
    pub consumed_at: Option<DateTime<Utc>>,
    /// The PIM activation request this code's step-up proves, if it was one.
    #[serde(default)]
    pub step_up_request: Option<String>,
}

/// A refresh token record; tokens of one family descend from one authorization code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshToken {
    /// Record id.
    pub id: String,
    /// Hash of the token (the token itself is never stored).
    pub token_hash: String,
    /// The family: reuse of any consumed member revokes all of it.
    pub family_id: String,
    /// The client.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// The browser session it descends from, while that session exists.
    pub session_id: Option<String>,
    /// Granted scope.
    pub scope: String,
    /// The claims of the original authentication (auth_time, acr, amr, acrs, …).
    pub claims: serde_json::Value,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// Usable until (exclusive).
    pub expires_at: DateTime<Utc>,
    /// When it was exchanged for its successor.
    pub consumed_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live: it is now consumed, and its successor stored.
    Rotated {
        /// The token presented, as it was before this exchange (boxed: it is large).
        previous: Box<RefreshToken>,
    },
    /// The token had already been exchanged: presumably stolen. Its whole family is revoked.
    Reused {
        /// The revoked family.
        family_id: String,
        /// The user whose tokens they were.
        user_id: String,
    },
    /// Unknown, expired or revoked: nothing changed.
    Invalid,
}

/// A token signing key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningKey {
    /// Key id (`kid`).
    pub kid: String,
    /// JWS algorithm (`ES256`, `EdDSA`).
    pub alg: String,
    /// The private key, PKCS#8 DER.
    pub private_pkcs8: Vec<u8>,
    /// The public key as a JWK.
    pub public_jwk: serde_json::Value,
    /// When it was generated.
    pub created_at: DateTime<Utc>,
    /// When it began signing; published in JWKS before that.
    pub activated_at: Option<DateTime<Utc>>,
    /// When it stopped signing; still published until `not_after`.
    pub retired_at: Option<DateTime<Utc>>,
    /// When it leaves the JWKS.
    pub not_after: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key stays out of logs.
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_pkcs8", &"<redacted>")
            .field("public_jwk", &self.public_jwk)
            .field("created_at", &self.created_at)
            .field("activated_at", &self.activated_at)
            .field("retired_at", &self.retired_at)
            .field("not_after", &self.not_after)
            .finish()
    }
}

macro_rules! code_columns {
    () => {
        "code_hash, client_id, user_id, session_id, redirect_uri, code_challenge, nonce, scope, \
         claims_json, auth_time, acr, amr_json, acrs_json, expires_at, consumed_at, step_up_request"
    };
}
macro_rules! refresh_columns {
    () => {
        "id, token_hash, family_id, client_id, user_id, session_id, scope, claims_json, \
         created_at, expires_at, consumed_at, revoked_at"
    };
}
macro_rules! key_columns {
    () => {
        "kid, alg, private_pkcs8, public_jwk, created_at, activated_at, retired_at, not_after"
    };
}

fn client_from_row(row: &AnyRow) -> Result<OidcClient, StoreError> {
    Ok(OidcClient {
        client_id: row.text("client_id")?,
        display_name: row.text("display_name")?,
        redirect_uris: row.json("redirect_uris_json")?,
        is_public: row.flag("is_public")?,
        secret_hash: row.opt_text("secret_hash")?,
        created_at: row.time("created_at")?,
    })
}

fn code_from_row(row: &AnyRow) -> Result<AuthorizationCode, StoreError> {
    Ok(AuthorizationCode {
        code_hash: row.text("code_hash")?,
        client_id: row.text("client_id")?,
        user_id: row.text("user_id")?,
        session_id: row.text("session_id")?,
        redirect_uri: row.text("redirect_uri")?,
        code_challenge: row.opt_text("code_challenge")?,
        nonce: row.opt_text("nonce")?,
        scope: row.text("scope")?,
        claims: row.opt_json("claims_json")?,
        auth_time: row.time("auth_time")?,
        acr: row.opt_text("acr")?,
        amr: row.json("amr_json")?,
        acrs: row.json("acrs_json")?,
        expires_at: row.time("expires_at")?,
        consumed_at: row.opt_time("consumed_at")?,
        step_up_request: row.opt_text("step_up_request")?,
    })
}

fn refresh_from_row(row: &AnyRow) -> Result<RefreshToken, StoreError> {
    Ok(RefreshToken {
        id: row.text("id")?,
        token_hash: row.text("token_hash")?,
        family_id: row.text("family_id")?,
        client_id: row.text("client_id")?,
        user_id: row.text("user_id")?,
        session_id: row.opt_text("session_id")?,
        scope: row.text("scope")?,
        claims: row.json("claims_json")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        consumed_at: row.opt_time("consumed_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

fn key_from_row(row: &AnyRow) -> Result<SigningKey, StoreError> {
    Ok(SigningKey {
        kid: row.text("kid")?,
        alg: row.text("alg")?,
        private_pkcs8: row.bytes("private_pkcs8")?,
        public_jwk: row.json("public_jwk")?,
        created_at: row.time("created_at")?,
        activated_at: row.opt_time("activated_at")?,
        retired_at: row.opt_time("retired_at")?,
        not_after: row.opt_time("not_after")?,
    })
}

/// Inserts a refresh token through any executor (the pool, or a rotation's transaction).
async fn insert_refresh<'e, E>(executor: E, token: &RefreshToken) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(concat!(
        "INSERT INTO refresh_tokens (",
        refresh_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(&token.id)
    .bind(&token.token_hash)
    .bind(&token.family_id)
    .bind(&token.client_id)
    .bind(&token.user_id)
    .bind(&token.session_id)
    .bind(&token.scope)
    .bind(to_json("refresh token claims", &token.claims)?)
    .bind(ms(token.created_at))
    .bind(ms(token.expires_at))
    .bind(opt_ms(token.consumed_at))
    .bind(opt_ms(token.revoked_at))
    .execute(executor)
    .await
    .map_err(on_write("refresh token"))?;
    Ok(())
}

/// Inserts one client: its six columns, in [`Store::write_client`]'s order.
const CLIENT_INSERT: &str = "INSERT INTO oidc_clients (client_id, display_name, \
     redirect_uris_json, is_public, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

impl Store {
    /// Registers a client.
    pub async fn create_client(&self, client: &OidcClient) -> Result<(), StoreError> {
        self.write_client(CLIENT_INSERT, client).await
    }

    /// Runs `statement` (an insert of the six client columns) for `client`.
    async fn write_client(&self, statement: &str, client: &OidcClient) -> Result<(), StoreError> {
        sqlx::query(statement)
            .bind(&client.client_id)
            .bind(&client.display_name)
            .bind(to_json("redirect URIs", &client.redirect_uris)?)
            .bind(flag(client.is_public))
            .bind(&client.secret_hash)
            .bind(ms(client.created_at))
            .execute(self.pool())
            .await
            .map_err(on_write("client"))?;
        Ok(())
    }

    /// Stores `client`, replacing the one with its `client_id` if any, in one statement: nodes
    /// starting at once each register the configured clients, and none may fail for another
    /// having just done it.
    pub async fn put_client(&self, client: &OidcClient) -> Result<(), StoreError> {
        let upsert = format!(
            "{CLIENT_INSERT} ON CONFLICT (client_id) DO UPDATE SET \
             display_name = excluded.display_name, \
             redirect_uris_json = excluded.redirect_uris_json, is_public = excluded.is_public, \
             secret_hash = excluded.secret_hash, created_at = excluded.created_at"
        );
        self.write_client(&upsert, client).await
    }

    /// The client with this `client_id`.
    pub async fn get_client(&self, client_id: &str) -> Result<OidcClient, StoreError> {
        if crate::unstorable(client_id) {
            return Err(StoreError::not_found("client", client_id));
        }
        let row = sqlx::query(
            "SELECT client_id, display_name, redirect_uris_json, is_public, secret_hash, \
             created_at FROM oidc_clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("client", client_id))?;
        client_from_row(&row)
    }

    /// Every client, by id.
    pub async fn list_clients(&self) -> Result<Vec<OidcClient>, StoreError> {
        sqlx::query(
            "SELECT client_id, display_name, redirect_uris_json, is_public, secret_hash, \
             created_at FROM oidc_clients ORDER BY client_id",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(client_from_row)
        .collect()
    }

    /// Removes a client with its codes and refresh tokens.
    pub async fn delete_client(&self, client_id: &str) -> Result<(), StoreError> {
        self.delete_one(
            "DELETE FROM oidc_clients WHERE client_id = $1",
            "client",
            client_id,
        )
        .await
    }

    /// Records an issued authorization code.
    pub async fn insert_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO authorization_codes (",
            code_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(&code.code_hash)
        .bind(&code.client_id)
        .bind(&code.user_id)
        .bind(&code.session_id)
        .bind(&code.redirect_uri)
        .bind(&code.code_challenge)
        .bind(&code.nonce)
        .bind(&code.scope)
        .bind(
            code.claims
                .as_ref()
                .map(|c| to_json("claims request", c))
                .transpose()?,
        )
        .bind(ms(code.auth_time))
        .bind(&code.acr)
        .bind(to_json("amr", &code.amr)?)
        .bind(to_json("acrs", &code.acrs)?)
        .bind(ms(code.expires_at))
        .bind(opt_ms(code.consumed_at))
        .bind(&code.step_up_request)
        .execute(self.pool())
        .await
        .map_err(on_write("authorization code"))?;
        Ok(())
    }

    /// Redeems a code: `Some` once, for the first caller while it is live at `now`; `None` if it
    /// is unknown, expired or already redeemed.
    pub async fn consume_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        sqlx::query(concat!(
            "UPDATE authorization_codes SET consumed_at = $2 \
             WHERE code_hash = $1 AND consumed_at IS NULL AND expires_at > $2 RETURNING ",
            code_columns!()
        ))
        .bind(code_hash)
        .bind(ms(now))
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(code_from_row)
        .transpose()
    }

    /// [`Store::consume_code`] for the service's own pages: only a code issued to `client_id`
    /// is consumed, so that a code of another client sent to a page's callback is refused
    /// without being spent (its own client can still redeem it).
    pub async fn consume_client_code(
        &self,
        code_hash: &str,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        sqlx::query(concat!(
            "UPDATE authorization_codes SET consumed_at = $2 \
             WHERE code_hash = $1 AND client_id = $3 AND consumed_at IS NULL AND expires_at > $2 \
             RETURNING ",
            code_columns!()
        ))
        .bind(code_hash)
        .bind(ms(now))
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(code_from_row)
        .transpose()
    }

    /// Records the first refresh token of the family a redeemed code starts (its
    /// `family_id` becomes the code's), in one transaction. Returns `false`, storing nothing, if
    /// the code is unknown, not redeemed, has already started a family, or was replayed: a
    /// replay racing the redemption either sees the family and revokes it
    /// ([`Store::revoke_replayed_code`]), or stops it from starting.
    pub async fn insert_code_refresh_token(
        &self,
        code_hash: &str,
        first: &RefreshToken,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        // Both this and a replay write the code's row first: whichever comes second waits for
        // the other's commit (a row lock on PostgreSQL, the write lock on SQLite).
        let claimed = sqlx::query(
            "UPDATE authorization_codes SET family_id = $2 WHERE code_hash = $1 \
             AND consumed_at IS NOT NULL AND replayed_at IS NULL AND family_id IS NULL",
        )
        .bind(code_hash)
        .bind(&first.family_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed != 1 {
            return Ok(false);
        }
        insert_refresh(&mut *tx, first).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A redeemed code presented again: marks it replayed (no family can start from it any
    /// more) and revokes every live refresh token of the family its redemption started, in one
    /// transaction. Returns how many tokens were revoked, or `None` if no redeemed code has this
    /// hash (unknown, purged, or expired without being redeemed): then it is not a replay.
    pub async fn revoke_replayed_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let mut tx = self.begin().await?;
        let Some(row) = sqlx::query(
            "UPDATE authorization_codes SET replayed_at = COALESCE(replayed_at, $2) \
             WHERE code_hash = $1 AND consumed_at IS NOT NULL RETURNING family_id",
        )
        .bind(code_hash)
        .bind(ms(now))
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let revoked = match row.opt_text("family_id")? {
            Some(family_id) => sqlx::query(
                "UPDATE refresh_tokens SET revoked_at = $2 \
                     WHERE family_id = $1 AND revoked_at IS NULL",
            )
            .bind(&family_id)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            None => 0,
        };
        tx.commit().await?;
        Ok(Some(revoked))
    }

    /// Records the first refresh token of a family.
    pub async fn insert_refresh_token(&self, token: &RefreshToken) -> Result<(), StoreError> {
        insert_refresh(self.pool(), token).await
    }

    /// The refresh token with this hash.
    pub async fn get_refresh_token(&self, token_hash: &str) -> Result<RefreshToken, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            refresh_columns!(),
            " FROM refresh_tokens WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("refresh token", "(token hash)"))?;
        refresh_from_row(&row)
    }

    /// Exchanges a refresh token for its successor `next`, in one transaction. A live token is
    /// consumed and `next` stored in its family (whatever `next.family_id` says). A token already
    /// consumed is a replay: the whole family is revoked and [`Rotation::Reused`] reported.
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        next: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.begin().await?;
        // Claim the token: of two concurrent exchanges only one changes the row.
        let claimed = sqlx::query(concat!(
            "UPDATE refresh_tokens SET consumed_at = $2 WHERE token_hash = $1 \
             AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > $2 RETURNING ",
            refresh_columns!()
        ))
        .bind(old_hash)
        .bind(ms(now))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = claimed {
            let previous = RefreshToken {
                consumed_at: None,
                ..refresh_from_row(&row)?
            };
            let successor = RefreshToken {
                family_id: previous.family_id.clone(),
                ..next.clone()
            };
            insert_refresh(&mut *tx, &successor).await?;
            tx.commit().await?;
            return Ok(Rotation::Rotated {
                previous: Box::new(previous),
            });
        }
        let Some(row) = sqlx::query(concat!(
            "SELECT ",
            refresh_columns!(),
            " FROM refresh_tokens WHERE token_hash = $1"
        ))
        .bind(old_hash)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(Rotation::Invalid);
        };
        let token = refresh_from_row(&row)?;
        if token.consumed_at.is_none() {
            // Expired or revoked, never exchanged.
            return Ok(Rotation::Invalid);
        }
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
        )
        .bind(&token.family_id)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Rotation::Reused {
            family_id: token.family_id,
            user_id: token.user_id,
        })
    }

    /// Revokes every live token of a family; returns how many.
    pub async fn revoke_token_family(
        &self,
        family_id: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
        )
        .bind(family_id)
        .bind(ms(at))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Stores a new signing key.
    pub async fn insert_signing_key(&self, key: &SigningKey) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO signing_keys (",
            key_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.private_pkcs8)
        .bind(to_json("public JWK", &key.public_jwk)?)
        .bind(ms(key.created_at))
        .bind(opt_ms(key.activated_at))
        .bind(opt_ms(key.retired_at))
        .bind(opt_ms(key.not_after))
        .execute(self.pool())
        .await
        .map_err(on_write("signing key"))?;
        Ok(())
    }

    /// Every signing key, oldest first.
    pub async fn list_signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM signing_keys ORDER BY created_at, kid"
        ))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(key_from_row)
        .collect()
    }

    /// Starts signing with a key.
    pub async fn activate_signing_key(
        &self,
        kid: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.set_key_time(
            "UPDATE signing_keys SET activated_at = $2 WHERE kid = $1 AND activated_at IS NULL",
            kid,
            at,
        )
        .await
    }

    /// Stops signing with a key (it stays in the JWKS until `not_after`).
    pub async fn retire_signing_key(&self, kid: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.set_key_time(
            "UPDATE signing_keys SET retired_at = $2 WHERE kid = $1 AND retired_at IS NULL",
            kid,
            at,
        )
        .await
    }

    async fn set_key_time(
        &self,
        sql: &'static str,
        kid: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(sql)
            .bind(kid)
            .bind(ms(at))
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let exists = sqlx::query("SELECT kid FROM signing_keys WHERE kid = $1")
            .bind(kid)
            .fetch_optional(self.pool())
            .await?
            .is_some();
        if exists {
            return Err(StoreError::Conflict {
                what: "signing key",
                detail: "already in that state".into(),
            });
        }
        Err(StoreError::not_found("signing key", kid))
    }
}
