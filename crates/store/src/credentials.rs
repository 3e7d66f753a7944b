//! Credentials: passwords, TOTP apps, phones and e-mail addresses, WebAuthn authenticators and
//! temporary access passes.

use crate::audit::{append_in, AuditEntry};
use crate::error::on_write;
use crate::outbox::Channel;
use crate::sql::{flag, ms, opt_ms, text_enum, RowExt};
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use policy::method::AuthenticationMethodMode;
use policy::registration::{HeldMethod, Provenance, RegistrationProof};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

/// A user's password, as an argon2id PHC string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordCredential {
    /// The user.
    pub user_id: String,
    /// The PHC string (`$argon2id$…`): the hash, never the password.
    pub phc: String,
    /// When it was set.
    pub changed_at: DateTime<Utc>,
}

/// A TOTP authenticator app (Graph `softwareOath`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TotpCredential {
    /// Credential id.
    pub id: String,
    /// The user.
    pub user_id: String,
    /// The shared secret.
    pub secret: Vec<u8>,
    /// Name the user gave it.
    pub label: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// The highest time step accepted so far; a code of this step or an earlier one is refused.
    pub last_used_step: i64,
    /// How it was registered; `None` before provenance was kept.
    pub provenance: Option<Provenance>,
}

impl std::fmt::Debug for TotpCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("TotpCredential")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("secret", &"<redacted>")
            .field("label", &self.label)
            .field("created_at", &self.created_at)
            .field("last_used_step", &self.last_used_step)
            .field("provenance", &self.provenance)
            .finish()
    }
}

/// A phone number or e-mail address that receives one-time codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactMethod {
    /// Method id.
    pub id: String,
    /// The user.
    pub user_id: String,
    /// `sms`, `voice` or `email`.
    pub kind: Channel,
    /// Phone number (E.164) or e-mail address.
    pub address: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// How it was registered; `None` before provenance was kept (or when an administrator set
    /// it).
    pub provenance: Option<Provenance>,
}

text_enum! {
    /// Where a WebAuthn authenticator lives.
    pub enum Attachment {
        /// Built into the device (Windows Hello, Touch ID, …).
        Platform = "platform",
        /// A roaming authenticator (security key, phone).
        CrossPlatform = "cross-platform",
    }
}

/// A registered WebAuthn authenticator or passkey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebauthnCredential {
    /// Credential record id.
    pub id: String,
    /// The user.
    pub user_id: String,
    /// The authenticator's credential id; unique across users.
    pub credential_id: Vec<u8>,
    /// The serialized webauthn-rs credential.
    pub passkey_json: String,
    /// Authenticator model, when attested.
    pub aaguid: Option<String>,
    /// Platform or roaming.
    pub attachment: Attachment,
    /// Whether registration verified the user (PIN, biometrics).
    pub user_verified: bool,
    /// Signature counter last seen.
    pub sign_count: i64,
    /// Name shown to the user.
    pub display_name: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// How it was registered; `None` before provenance was kept.
    pub provenance: Option<Provenance>,
}

impl WebauthnCredential {
    /// The Graph method mode it counts as: a user-verifying platform authenticator is
    /// `windowsHelloForBusiness`, anything else `fido2`.
    pub fn mode(&self) -> AuthenticationMethodMode {
        if self.attachment == Attachment::Platform && self.user_verified {
            AuthenticationMethodMode::WindowsHelloForBusiness
        } else {
            AuthenticationMethodMode::Fido2
        }
    }
}

/// A temporary access pass, for bootstrapping passkeys or recovering an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemporaryAccessPass {
    /// Pass id.
    pub id: String,
    /// The user.
    pub user_id: String,
    /// Hash of the pass; the pass itself is shown once and never stored.
    pub pass_hash: String,
    /// One sign-in only, or any number within its lifetime.
    pub is_usable_once: bool,
    /// Valid from.
    pub starts_at: DateTime<Utc>,
    /// Valid until (exclusive).
    pub expires_at: DateTime<Utc>,
    /// Last (for a one-time pass: the only) use.
    pub used_at: Option<DateTime<Utc>>,
    /// Who issued it.
    pub created_by: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
}

impl TemporaryAccessPass {
    /// The Graph method mode it counts as.
    pub fn mode(&self) -> AuthenticationMethodMode {
        if self.is_usable_once {
            AuthenticationMethodMode::TemporaryAccessPassOneTime
        } else {
            AuthenticationMethodMode::TemporaryAccessPassMultiUse
        }
    }

    /// Whether the pass can still be used at `at`.
    pub fn usable_at(&self, at: DateTime<Utc>) -> bool {
        self.starts_at <= at
            && at < self.expires_at
            && !(self.is_usable_once && self.used_at.is_some())
    }
}

/// A method registered from security info.
#[derive(Debug, Clone, Copy)]
pub enum NewMethod<'a> {
    /// An authenticator app.
    Totp(&'a TotpCredential),
    /// A passkey, security key or platform authenticator.
    Webauthn(&'a WebauthnCredential),
}

/// One registered method, named by its Graph method mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodSummary {
    /// The credential's id (the user's id for the password).
    pub id: String,
    /// The Graph method mode it satisfies.
    pub method: AuthenticationMethodMode,
    /// What to show: a label, an address, an authenticator name.
    pub label: String,
    /// The authenticator model, for WebAuthn.
    pub aaguid: Option<String>,
    /// When it was registered (or the password set).
    pub created_at: DateTime<Utc>,
    /// How it was registered, for the credentials that keep it (`None`: the password, a pass,
    /// or a credential registered before provenance was kept).
    pub provenance: Option<Provenance>,
    /// Whether it keeps a provenance at all (passkeys, security keys, apps, phones).
    pub keeps_provenance: bool,
}

impl MethodSummary {
    /// The method as the security-info floor reads it.
    pub fn held(&self) -> HeldMethod {
        HeldMethod {
            id: self.id.clone(),
            method: self.method.clone(),
            registration: self.registration(),
        }
    }

    /// How it was registered, for methods that keep it ([`RegistrationProof::Unrecorded`] when
    /// registered before provenance was kept).
    pub fn registration(&self) -> Option<RegistrationProof> {
        self.keeps_provenance.then(|| {
            self.provenance
                .as_ref()
                .map(|p| p.proof.clone())
                .unwrap_or(RegistrationProof::Unrecorded)
        })
    }
}

/// How a credential that keeps provenance was registered, for an event that uses it.
pub fn registration_of(provenance: &Option<Provenance>) -> RegistrationProof {
    provenance
        .as_ref()
        .map(|p| p.proof.clone())
        .unwrap_or(RegistrationProof::Unrecorded)
}

macro_rules! webauthn_columns {
    () => {
        "id, user_id, credential_id, passkey_json, aaguid, attachment, user_verified, \
         sign_count, display_name, created_at, last_used_at, provenance_json"
    };
}
macro_rules! tap_columns {
    () => {
        "id, user_id, pass_hash, is_usable_once, starts_at, expires_at, used_at, created_by, \
         created_at"
    };
}

fn provenance_from(row: &AnyRow) -> Result<Option<Provenance>, StoreError> {
    row.opt_text("provenance_json")?
        .map(|json| {
            serde_json::from_str(&json).map_err(|e| StoreError::corrupt("credential provenance", e))
        })
        .transpose()
}

fn provenance_json(p: &Option<Provenance>) -> Result<Option<String>, StoreError> {
    p.as_ref()
        .map(|p| {
            serde_json::to_string(p).map_err(|e| StoreError::Invalid {
                what: "credential provenance",
                detail: e.to_string(),
            })
        })
        .transpose()
}

fn totp_from_row(row: &AnyRow) -> Result<TotpCredential, StoreError> {
    Ok(TotpCredential {
        id: row.text("id")?,
        user_id: row.text("user_id")?,
        secret: row.bytes("secret")?,
        label: row.text("label")?,
        created_at: row.time("created_at")?,
        last_used_step: row.int("last_used_step")?,
        provenance: provenance_from(row)?,
    })
}

fn contact_from_row(row: &AnyRow) -> Result<ContactMethod, StoreError> {
    Ok(ContactMethod {
        id: row.text("id")?,
        user_id: row.text("user_id")?,
        kind: Channel::from_column(&row.text("kind")?)?,
        address: row.text("address")?,
        created_at: row.time("created_at")?,
        provenance: provenance_from(row)?,
    })
}

fn webauthn_from_row(row: &AnyRow) -> Result<WebauthnCredential, StoreError> {
    Ok(WebauthnCredential {
        id: row.text("id")?,
        user_id: row.text("user_id")?,
        credential_id: row.bytes("credential_id")?,
        passkey_json: row.text("passkey_json")?,
        aaguid: row.opt_text("aaguid")?,
        attachment: Attachment::from_column(&row.text("attachment")?)?,
        user_verified: row.flag("user_verified")?,
        sign_count: row.int("sign_count")?,
        display_name: row.text("display_name")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
        provenance: provenance_from(row)?,
    })
}

fn tap_from_row(row: &AnyRow) -> Result<TemporaryAccessPass, StoreError> {
    Ok(TemporaryAccessPass {
        id: row.text("id")?,
        user_id: row.text("user_id")?,
        pass_hash: row.text("pass_hash")?,
        is_usable_once: row.flag("is_usable_once")?,
        starts_at: row.time("starts_at")?,
        expires_at: row.time("expires_at")?,
        used_at: row.opt_time("used_at")?,
        created_by: row.text("created_by")?,
        created_at: row.time("created_at")?,
    })
}

impl Store {
    /// Sets (or replaces) a user's password hash.
    pub async fn set_password(&self, credential: &PasswordCredential) -> Result<(), StoreError> {
        set_password_in(self.pool(), credential).await
    }

    /// A user's password hash, if they have one.
    pub async fn get_password(
        &self,
        user_id: &str,
    ) -> Result<Option<PasswordCredential>, StoreError> {
        sqlx::query("SELECT user_id, phc, changed_at FROM password_credentials WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?
            .map(|row| {
                Ok(PasswordCredential {
                    user_id: row.text("user_id")?,
                    phc: row.text("phc")?,
                    changed_at: row.time("changed_at")?,
                })
            })
            .transpose()
    }

    /// Removes a user's password.
    pub async fn delete_password(&self, user_id: &str) -> Result<(), StoreError> {
        self.delete_one(
            "DELETE FROM password_credentials WHERE user_id = $1",
            "password",
            user_id,
        )
        .await
    }

    /// Registers a TOTP app.
    pub async fn add_totp(&self, credential: &TotpCredential) -> Result<(), StoreError> {
        insert_totp(self.pool(), credential).await
    }

    /// A TOTP app by id.
    pub async fn get_totp(&self, id: &str) -> Result<TotpCredential, StoreError> {
        let row = sqlx::query(
            "SELECT id, user_id, secret, label, created_at, last_used_step, provenance_json \
             FROM totp_credentials WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("TOTP credential", id))?;
        totp_from_row(&row)
    }

    /// A user's TOTP apps, oldest first.
    pub async fn list_totp(&self, user_id: &str) -> Result<Vec<TotpCredential>, StoreError> {
        sqlx::query(
            "SELECT id, user_id, secret, label, created_at, last_used_step, provenance_json \
             FROM totp_credentials WHERE user_id = $1 ORDER BY created_at, id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(totp_from_row)
        .collect()
    }

    /// Removes a TOTP app.
    pub async fn delete_totp(&self, id: &str) -> Result<(), StoreError> {
        self.delete_one(
            "DELETE FROM totp_credentials WHERE id = $1",
            "TOTP credential",
            id,
        )
        .await
    }

    /// Accepts TOTP time step `step` once: true if it is later than every step accepted before
    /// (and is now recorded), false if it is a replay or older. Atomic: of two concurrent calls
    /// with the same step, one gets true.
    pub async fn consume_totp_step(&self, id: &str, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE totp_credentials SET last_used_step = $2 WHERE id = $1 AND last_used_step < $2",
        )
        .bind(id)
        .bind(step)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 1 {
            return Ok(true);
        }
        self.get_totp(id).await.map(|_| false)
    }

    /// Registers a phone number or e-mail address.
    pub async fn add_contact_method(&self, method: &ContactMethod) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO contact_methods (id, user_id, kind, address, created_at, \
             provenance_json) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&method.id)
        .bind(&method.user_id)
        .bind(method.kind.as_str())
        .bind(&method.address)
        .bind(ms(method.created_at))
        .bind(provenance_json(&method.provenance)?)
        .execute(self.pool())
        .await
        .map_err(on_write("contact method"))?;
        Ok(())
    }

    /// A user's phone numbers and e-mail addresses, oldest first.
    pub async fn list_contact_methods(
        &self,
        user_id: &str,
    ) -> Result<Vec<ContactMethod>, StoreError> {
        sqlx::query(
            "SELECT id, user_id, kind, address, created_at, provenance_json FROM contact_methods \
             WHERE user_id = $1 ORDER BY created_at, id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(contact_from_row)
        .collect()
    }

    /// Removes a phone number or e-mail address.
    pub async fn delete_contact_method(&self, id: &str) -> Result<(), StoreError> {
        self.delete_one(
            "DELETE FROM contact_methods WHERE id = $1",
            "contact method",
            id,
        )
        .await
    }

    /// Registers a WebAuthn credential; its credential id must be new.
    pub async fn add_webauthn(&self, credential: &WebauthnCredential) -> Result<(), StoreError> {
        insert_webauthn(self.pool(), credential).await
    }

    /// The WebAuthn credential with this authenticator credential id.
    pub async fn get_webauthn_by_credential_id(
        &self,
        credential_id: &[u8],
    ) -> Result<WebauthnCredential, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            webauthn_columns!(),
            " FROM webauthn_credentials WHERE credential_id = $1"
        ))
        .bind(credential_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("WebAuthn credential", hex(credential_id)))?;
        webauthn_from_row(&row)
    }

    /// A user's WebAuthn credentials, oldest first.
    pub async fn list_webauthn(
        &self,
        user_id: &str,
    ) -> Result<Vec<WebauthnCredential>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            webauthn_columns!(),
            " FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(webauthn_from_row)
        .collect()
    }

    /// Records a successful assertion: the updated credential and counter, and when.
    pub async fn update_webauthn_after_use(
        &self,
        id: &str,
        passkey_json: &str,
        sign_count: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE webauthn_credentials SET passkey_json = $2, sign_count = $3, \
             last_used_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(passkey_json)
        .bind(sign_count)
        .bind(ms(at))
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("WebAuthn credential", id));
        }
        Ok(())
    }

    /// Removes a WebAuthn credential.
    pub async fn delete_webauthn(&self, id: &str) -> Result<(), StoreError> {
        self.delete_one(
            "DELETE FROM webauthn_credentials WHERE id = $1",
            "WebAuthn credential",
            id,
        )
        .await
    }

    /// Registers a method from security info with its audit entry, in one transaction: the
    /// credential is not there without the record of who added it and under which proof.
    pub async fn register_method_audited(
        &self,
        method: NewMethod<'_>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        match method {
            NewMethod::Totp(c) => insert_totp(&mut *tx, c).await?,
            NewMethod::Webauthn(c) => insert_webauthn(&mut *tx, c).await?,
        }
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes one of the user's methods (an app, a phone or address, a passkey or security
    /// key) with its audit entry, in one transaction; a method that is not the user's is
    /// [`StoreError::NotFound`]. Returns what was removed.
    pub async fn remove_method_audited(
        &self,
        user_id: &str,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<AuthenticationMethodMode, StoreError> {
        let mut tx = self.begin().await?;
        let mut removed = None;
        if sqlx::query("DELETE FROM totp_credentials WHERE id = $1 AND user_id = $2 RETURNING id")
            .bind(id)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some()
        {
            removed = Some(AuthenticationMethodMode::SoftwareOath);
        }
        if removed.is_none() {
            if let Some(row) = sqlx::query(
                "DELETE FROM contact_methods WHERE id = $1 AND user_id = $2 RETURNING kind",
            )
            .bind(id)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            {
                removed = Some(channel_mode(Channel::from_column(&row.text("kind")?)?));
            }
        }
        if removed.is_none() {
            if let Some(row) = sqlx::query(concat!(
                "DELETE FROM webauthn_credentials WHERE id = $1 AND user_id = $2 RETURNING ",
                webauthn_columns!()
            ))
            .bind(id)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            {
                removed = Some(webauthn_from_row(&row)?.mode());
            }
        }
        let Some(removed) = removed else {
            return Err(StoreError::not_found("authentication method", id));
        };
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Renames one of the user's apps or passkeys, with its audit entry, in one transaction.
    pub async fn rename_method_audited(
        &self,
        user_id: &str,
        id: &str,
        name: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let mut done = 0;
        for sql in [
            "UPDATE totp_credentials SET label = $3 WHERE id = $1 AND user_id = $2",
            "UPDATE webauthn_credentials SET display_name = $3 WHERE id = $1 AND user_id = $2",
        ] {
            done += sqlx::query(sql)
                .bind(id)
                .bind(user_id)
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        if done == 0 {
            return Err(StoreError::not_found("authentication method", id));
        }
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Issues a temporary access pass.
    pub async fn add_tap(&self, pass: &TemporaryAccessPass) -> Result<(), StoreError> {
        insert_tap(self.pool(), pass).await
    }

    /// Issues a temporary access pass on an administrator's request, with its audit entry, in
    /// one transaction. A user holds one usable pass at a time (as in Entra): if another pass of
    /// the user's has not expired and is not used up at the pass's creation time, nothing
    /// changes ([`StoreError::Conflict`]).
    pub async fn issue_tap_audited(
        &self,
        pass: &TemporaryAccessPass,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        // The user's row first: two administrators issuing at once serialize here.
        let locked = sqlx::query("UPDATE users SET id = id WHERE id = $1")
            .bind(&pass.user_id)
            .execute(&mut *tx)
            .await?;
        if locked.rows_affected() == 0 {
            return Err(StoreError::not_found("user", &pass.user_id));
        }
        let live = sqlx::query(
            "SELECT COUNT(*) AS n FROM temporary_access_passes WHERE user_id = $1 \
             AND expires_at > $2 AND (is_usable_once = 0 OR used_at IS NULL)",
        )
        .bind(&pass.user_id)
        .bind(ms(pass.created_at))
        .fetch_one(&mut *tx)
        .await?
        .int("n")?;
        if live > 0 {
            return Err(StoreError::Conflict {
                what: "temporary access pass",
                detail: "the user already has a usable temporary access pass; delete it first"
                    .into(),
            });
        }
        insert_tap(&mut *tx, pass).await?;
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a user's temporary access pass with its audit entry, in one transaction; a pass
    /// that is not the user's is [`StoreError::NotFound`].
    pub async fn delete_tap_audited(
        &self,
        user_id: &str,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("DELETE FROM temporary_access_passes WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("temporary access pass", id));
        }
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A user's temporary access passes, newest first, used and expired ones included.
    pub async fn list_taps(&self, user_id: &str) -> Result<Vec<TemporaryAccessPass>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            tap_columns!(),
            " FROM temporary_access_passes WHERE user_id = $1 ORDER BY created_at DESC, id"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(tap_from_row)
        .collect()
    }

    /// Uses a pass at `at`: true if it was valid then (and, if one-time, not used before) and
    /// its use is now recorded. Atomic: of two concurrent uses of a one-time pass, one gets true.
    pub async fn consume_tap(&self, id: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE temporary_access_passes SET used_at = $2 WHERE id = $1 \
             AND starts_at <= $2 AND expires_at > $2 AND (is_usable_once = 0 OR used_at IS NULL)",
        )
        .bind(id)
        .bind(ms(at))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Revokes a temporary access pass.
    pub async fn delete_tap(&self, id: &str) -> Result<(), StoreError> {
        self.delete_one(
            "DELETE FROM temporary_access_passes WHERE id = $1",
            "temporary access pass",
            id,
        )
        .await
    }

    /// Every method a user can authenticate with at `at`, by Graph method mode (passes that
    /// expired or were used up are left out).
    pub async fn list_methods(
        &self,
        user_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<MethodSummary>, StoreError> {
        let mut methods = Vec::new();
        if let Some(password) = self.get_password(user_id).await? {
            methods.push(MethodSummary {
                id: password.user_id,
                method: AuthenticationMethodMode::Password,
                label: "Password".into(),
                aaguid: None,
                created_at: password.changed_at,
                provenance: None,
                keeps_provenance: false,
            });
        }
        methods.extend(
            self.list_totp(user_id)
                .await?
                .into_iter()
                .map(|t| MethodSummary {
                    id: t.id,
                    method: AuthenticationMethodMode::SoftwareOath,
                    label: t.label,
                    aaguid: None,
                    created_at: t.created_at,
                    provenance: t.provenance,
                    keeps_provenance: true,
                }),
        );
        methods.extend(
            self.list_contact_methods(user_id)
                .await?
                .into_iter()
                .map(|c| MethodSummary {
                    method: channel_mode(c.kind),
                    id: c.id,
                    label: c.address,
                    aaguid: None,
                    created_at: c.created_at,
                    provenance: c.provenance,
                    keeps_provenance: true,
                }),
        );
        methods.extend(
            self.list_webauthn(user_id)
                .await?
                .into_iter()
                .map(|w| MethodSummary {
                    method: w.mode(),
                    id: w.id,
                    label: w.display_name,
                    aaguid: w.aaguid,
                    created_at: w.created_at,
                    provenance: w.provenance,
                    keeps_provenance: true,
                }),
        );
        methods.extend(
            self.list_taps(user_id)
                .await?
                .into_iter()
                .filter(|p| at < p.expires_at && !(p.is_usable_once && p.used_at.is_some()))
                .map(|p| MethodSummary {
                    method: p.mode(),
                    id: p.id,
                    label: "Temporary Access Pass".into(),
                    aaguid: None,
                    created_at: p.created_at,
                    provenance: None,
                    keeps_provenance: false,
                }),
        );
        Ok(methods)
    }
}

/// The Graph method mode of codes sent over `channel`.
fn channel_mode(channel: Channel) -> AuthenticationMethodMode {
    match channel {
        Channel::Sms => AuthenticationMethodMode::Sms,
        Channel::Voice => AuthenticationMethodMode::Voice,
        Channel::Email => AuthenticationMethodMode::Email,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn insert_totp<'e, E>(executor: E, credential: &TotpCredential) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO totp_credentials (id, user_id, secret, label, created_at, last_used_step, \
         provenance_json) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&credential.id)
    .bind(&credential.user_id)
    .bind(&credential.secret)
    .bind(&credential.label)
    .bind(ms(credential.created_at))
    .bind(credential.last_used_step)
    .bind(provenance_json(&credential.provenance)?)
    .execute(executor)
    .await
    .map_err(on_write("TOTP credential"))?;
    Ok(())
}

async fn insert_webauthn<'e, E>(
    executor: E,
    credential: &WebauthnCredential,
) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(concat!(
        "INSERT INTO webauthn_credentials (",
        webauthn_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(&credential.id)
    .bind(&credential.user_id)
    .bind(&credential.credential_id)
    .bind(&credential.passkey_json)
    .bind(&credential.aaguid)
    .bind(credential.attachment.as_str())
    .bind(flag(credential.user_verified))
    .bind(credential.sign_count)
    .bind(&credential.display_name)
    .bind(ms(credential.created_at))
    .bind(opt_ms(credential.last_used_at))
    .bind(provenance_json(&credential.provenance)?)
    .execute(executor)
    .await
    .map_err(on_write("WebAuthn credential"))?;
    Ok(())
}

async fn insert_tap<'e, E>(executor: E, pass: &TemporaryAccessPass) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(concat!(
        "INSERT INTO temporary_access_passes (",
        tap_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&pass.id)
    .bind(&pass.user_id)
    .bind(&pass.pass_hash)
    .bind(flag(pass.is_usable_once))
    .bind(ms(pass.starts_at))
    .bind(ms(pass.expires_at))
    .bind(opt_ms(pass.used_at))
    .bind(&pass.created_by)
    .bind(ms(pass.created_at))
    .execute(executor)
    .await
    .map_err(on_write("temporary access pass"))?;
    Ok(())
}

/// Sets (or replaces) a user's password hash through any executor (the pool, or a user's
/// creation's transaction).
pub(crate) async fn set_password_in<'e, E>(
    executor: E,
    credential: &PasswordCredential,
) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO password_credentials (user_id, phc, changed_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET phc = excluded.phc, \
         changed_at = excluded.changed_at",
    )
    .bind(&credential.user_id)
    .bind(&credential.phc)
    .bind(ms(credential.changed_at))
    .execute(executor)
    .await
    .map_err(on_write("password"))?;
    Ok(())
}
