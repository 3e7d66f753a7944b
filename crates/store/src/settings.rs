//! Tenant-wide settings that administrators change, each change audited in the same
//! transaction.

use crate::audit::{append_in, AuditEntry};
use crate::sql::{ms, RowExt};
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};

/// The setting that relaxes the registration-provenance rule (DESIGN §8.5): `enforced` (the
/// default) or `relaxed`.
pub const REGISTRATION_PROVENANCE: &str = "registrationProvenance";

/// A setting's value and its last change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSetting {
    /// The setting's name.
    pub name: String,
    /// Its value.
    pub value: String,
    /// When it was last changed.
    pub changed_at: DateTime<Utc>,
    /// Who changed it.
    pub changed_by: String,
}

impl Store {
    /// A setting, `None` when it was never set (its default applies).
    pub async fn get_setting(&self, name: &str) -> Result<Option<TenantSetting>, StoreError> {
        sqlx::query(
            "SELECT name, value, changed_at, changed_by FROM tenant_settings WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(self.pool())
        .await?
        .map(|row| {
            Ok(TenantSetting {
                name: row.text("name")?,
                value: row.text("value")?,
                changed_at: row.time("changed_at")?,
                changed_by: row.text("changed_by")?,
            })
        })
        .transpose()
    }

    /// Sets a setting with its audit entry, in one transaction.
    pub async fn set_setting_audited(
        &self,
        setting: &TenantSetting,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO tenant_settings (name, value, changed_at, changed_by) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
             changed_at = excluded.changed_at, changed_by = excluded.changed_by",
        )
        .bind(&setting.name)
        .bind(&setting.value)
        .bind(ms(setting.changed_at))
        .bind(&setting.changed_by)
        .execute(&mut *tx)
        .await?;
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the registration-provenance rule is relaxed for the tenant.
    pub async fn registration_provenance_relaxed(&self) -> Result<bool, StoreError> {
        Ok(self
            .get_setting(REGISTRATION_PROVENANCE)
            .await?
            .is_some_and(|s| s.value == "relaxed"))
    }
}
