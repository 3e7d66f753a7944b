//! `portcullis settings show` and `settings set`: the tenant's settings, each change written
//! with its audit entry in one transaction.

use crate::clients::with_store;
use crate::service::StoreArgs;
use anyhow::{bail, Result};
use chrono::Utc;
use store::{AuditEntry, TenantSetting, REGISTRATION_PROVENANCE};

/// The settings there are, with their allowed values; the first is the default.
const KNOWN: &[(&str, &[&str])] = &[(REGISTRATION_PROVENANCE, &["enforced", "relaxed"])];

/// `portcullis settings show`.
pub(crate) fn show(args: &StoreArgs) -> Result<()> {
    with_store(args, async |store| {
        for (name, values) in KNOWN {
            match store.get_setting(name).await? {
                Some(s) => println!(
                    "{name} = {}  (changed {} by {})",
                    s.value,
                    s.changed_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    s.changed_by
                ),
                None => println!("{name} = {}  (default)", values[0]),
            }
        }
        Ok(())
    })
}

/// `portcullis settings set NAME VALUE`.
pub(crate) fn set(args: &StoreArgs, name: &str, value: &str, by: Option<String>) -> Result<()> {
    let Some((name, values)) = KNOWN.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) else {
        let names: Vec<&str> = KNOWN.iter().map(|(n, _)| *n).collect();
        bail!(
            "there is no setting '{name}'; the settings are {}",
            names.join(", ")
        );
    };
    let Some(value) = values.iter().find(|v| v.eq_ignore_ascii_case(value)) else {
        bail!(
            "'{value}' is not a value of {name}; it is one of {}",
            values.join(", ")
        );
    };
    let by = by
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "portcullis settings".into());
    let now = Utc::now();
    with_store(args, async |store| {
        let before = store
            .get_setting(name)
            .await?
            .map_or_else(|| format!("{} (default)", values[0]), |s| s.value);
        let entry = AuditEntry::new("Policy", "Update tenant setting", "Update", now)
            .by_app(&format!("portcullis settings ({by})"))
            .target("TenantSetting", name, Some(name))
            .detail("oldValue", &before)
            .detail("newValue", value);
        store
            .set_setting_audited(
                &TenantSetting {
                    name: (*name).to_string(),
                    value: (*value).to_string(),
                    changed_at: now,
                    changed_by: by.clone(),
                },
                &entry,
            )
            .await?;
        println!("{name} = {value} (was {before}); audited.");
        if *value == "relaxed" {
            println!(
                "warning: privileged users' keys now count for phishing-resistant strengths \
                 however they were registered; portcullis lint will flag this until it is \
                 enforced again."
            );
        }
        Ok(())
    })
}
