//! What a Conditional Access policy written through the Graph API must get right, beyond what a
//! tenant import tolerates.
//!
//! Import keeps values it does not know (an export may come from a newer Entra) and reports them
//! as not enforced. A write through the API is different: an administrator is typing the policy
//! now, so a value Graph does not define is a typo — and a typo can change what the policy does
//! (`"state": "enabledForReportingButNotEnforcd"` is enforced as if enabled). Such values, and
//! numbers outside the range Entra accepts, are refused here instead, naming the field, the value
//! and what is allowed.

use crate::conditional_access::{
    BuiltInControl, ClientAppType, ConditionalAccessPolicy, DevicePlatform, FrequencyInterval,
    PolicyState, RiskLevel, SignInFrequencyAuthenticationType, SigninFrequencyType, TransferMethod,
};
use crate::directory::GuestOrExternalUserType;

/// The shortest and longest time-based sign-in frequency in hours Entra accepts.
pub const SIGN_IN_FREQUENCY_HOURS: (u32, u32) = (1, 23);
/// The shortest and longest time-based sign-in frequency in days Entra accepts.
pub const SIGN_IN_FREQUENCY_DAYS: (u32, u32) = (1, 365);
/// The values `grantControls.operator` may take (any letter case, as Graph reads them).
pub const OPERATORS: &[&str] = &["AND", "OR"];
/// The values a filter's `mode` may take.
pub const FILTER_MODES: &[&str] = &["include", "exclude"];
/// The user actions a policy may target.
pub const USER_ACTIONS: &[&str] = &["urn:user:registersecurityinfo", "urn:user:registerdevice"];

/// Why a policy written through the API is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteViolation {
    /// A value the field's Graph enumeration does not define.
    #[error("{field}: '{value}' is not a valid value; allowed: {}", allowed.join(", "))]
    UndefinedValue {
        /// The field, in Graph's dotted path (`grantControls.builtInControls`).
        field: String,
        /// The value given.
        value: String,
        /// The values Graph defines for the field.
        allowed: Vec<&'static str>,
    },
    /// A number outside the range the field accepts.
    #[error("{field}: {value} is out of range; allowed: {min} to {max} {unit}")]
    OutOfRange {
        /// The field, in Graph's dotted path.
        field: String,
        /// The value given.
        value: u64,
        /// The smallest value allowed.
        min: u64,
        /// The largest value allowed.
        max: u64,
        /// What the number counts (`hours`, `days`).
        unit: &'static str,
    },
}

impl WriteViolation {
    /// The field, in Graph's dotted path.
    pub fn field(&self) -> &str {
        match self {
            WriteViolation::UndefinedValue { field, .. }
            | WriteViolation::OutOfRange { field, .. } => field,
        }
    }
}

/// Collects violations, one per offending value.
struct Violations(Vec<WriteViolation>);

impl Violations {
    fn undefined(&mut self, field: &str, value: &str, allowed: Vec<&'static str>) {
        self.0.push(WriteViolation::UndefinedValue {
            field: field.to_string(),
            value: value.to_string(),
            allowed,
        });
    }

    /// Every member of `values` that its enumeration does not know.
    fn enums<'a, T: GraphEnum + 'a>(
        &mut self,
        field: &str,
        values: impl IntoIterator<Item = &'a T>,
    ) {
        for v in values.into_iter().filter(|v| !v.known()) {
            self.undefined(field, v.text(), T::allowed());
        }
    }

    /// A string that must be one of `allowed` (compared regardless of ASCII case).
    fn one_of(&mut self, field: &str, value: &str, allowed: &[&'static str]) {
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(value)) {
            self.undefined(field, value, allowed.to_vec());
        }
    }
}

/// The enumerations of `graph_enum!`, seen alike.
trait GraphEnum {
    fn known(&self) -> bool;
    fn text(&self) -> &str;
    fn allowed() -> Vec<&'static str>;
}

macro_rules! graph_enums {
    ($($t:ty),+ $(,)?) => {$(
        impl GraphEnum for $t {
            fn known(&self) -> bool {
                self.is_known()
            }
            fn text(&self) -> &str {
                self.as_str()
            }
            fn allowed() -> Vec<&'static str> {
                <$t>::KNOWN.iter().map(|k| k.as_str()).collect()
            }
        }
    )+};
}

graph_enums!(
    PolicyState,
    BuiltInControl,
    DevicePlatform,
    ClientAppType,
    RiskLevel,
    TransferMethod,
    FrequencyInterval,
    SigninFrequencyType,
    SignInFrequencyAuthenticationType,
    GuestOrExternalUserType,
);

/// What `policy` carries that an API write may not: undefined enumeration members and numbers
/// out of range, in the order of the document. Empty when the policy may be written.
pub fn write_violations(policy: &ConditionalAccessPolicy) -> Vec<WriteViolation> {
    let mut v = Violations(Vec::new());
    v.enums("state", [&policy.state]);
    let c = &policy.conditions;
    if let Some(users) = &c.users {
        for (field, guests) in [
            (
                "conditions.users.includeGuestsOrExternalUsers.guestOrExternalUserTypes",
                &users.include_guests_or_external_users,
            ),
            (
                "conditions.users.excludeGuestsOrExternalUsers.guestOrExternalUserTypes",
                &users.exclude_guests_or_external_users,
            ),
        ] {
            v.enums(
                field,
                guests
                    .iter()
                    .flat_map(|g| &g.guest_or_external_user_types.0),
            );
        }
    }
    if let Some(apps) = &c.applications {
        for action in &apps.include_user_actions {
            if crate::signin::user_action_urn(action).is_none() {
                v.undefined(
                    "conditions.applications.includeUserActions",
                    action,
                    USER_ACTIONS.to_vec(),
                );
            }
        }
        if let Some(filter) = &apps.application_filter {
            v.one_of(
                "conditions.applications.applicationFilter.mode",
                &filter.mode,
                FILTER_MODES,
            );
        }
    }
    v.enums("conditions.clientAppTypes", &c.client_app_types);
    if let Some(platforms) = &c.platforms {
        v.enums(
            "conditions.platforms.includePlatforms",
            &platforms.include_platforms,
        );
        v.enums(
            "conditions.platforms.excludePlatforms",
            &platforms.exclude_platforms,
        );
    }
    v.enums("conditions.signInRiskLevels", &c.sign_in_risk_levels);
    v.enums("conditions.userRiskLevels", &c.user_risk_levels);
    if let Some(filter) = c.devices.as_ref().and_then(|d| d.device_filter.as_ref()) {
        v.one_of(
            "conditions.devices.deviceFilter.mode",
            &filter.mode,
            FILTER_MODES,
        );
    }
    if let Some(flows) = &c.authentication_flows {
        v.enums(
            "conditions.authenticationFlows.transferMethods",
            &flows.transfer_methods.0,
        );
    }
    if let Some(grant) = &policy.grant_controls {
        if let Some(op) = &grant.operator {
            v.one_of("grantControls.operator", op, OPERATORS);
        }
        v.enums("grantControls.builtInControls", &grant.built_in_controls);
    }
    let frequency = policy
        .session_controls
        .as_ref()
        .and_then(|s| s.sign_in_frequency.as_ref());
    if let Some(f) = frequency {
        let field = "sessionControls.signInFrequency";
        v.enums(&format!("{field}.type"), &f.frequency_type);
        v.enums(
            &format!("{field}.authenticationType"),
            &f.authentication_type,
        );
        v.enums(&format!("{field}.frequencyInterval"), &f.frequency_interval);
        let range = match f.frequency_type {
            Some(SigninFrequencyType::Hours) => Some((SIGN_IN_FREQUENCY_HOURS, "hours")),
            Some(SigninFrequencyType::Days) => Some((SIGN_IN_FREQUENCY_DAYS, "days")),
            // Without a known unit there is no range to check; the unit is reported above, or
            // the policy asks for every time.
            _ => None,
        };
        if let (Some(((min, max), unit)), Some(value)) = (range, f.value) {
            if !(min..=max).contains(&value) {
                v.0.push(WriteViolation::OutOfRange {
                    field: format!("{field}.value"),
                    value: u64::from(value),
                    min: u64::from(min),
                    max: u64::from(max),
                    unit,
                });
            }
        }
    }
    v.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::{json, Value};

    fn policy(v: Value) -> ConditionalAccessPolicy {
        serde_json::from_value(v).unwrap()
    }

    fn base() -> Value {
        json!({
            "displayName": "MFA for everyone",
            "state": "enabledForReportingButNotEnforced",
            "conditions": {
                "users": { "includeUsers": ["All"], "includeGuestsOrExternalUsers": { "guestOrExternalUserTypes": "internalGuest,serviceProvider" } },
                "applications": { "includeApplications": ["All"], "applicationFilter": { "mode": "exclude", "rule": "x" } },
                "clientAppTypes": ["browser", "mobileAppsAndDesktopClients"],
                "platforms": { "includePlatforms": ["all"], "excludePlatforms": ["iOS", "linux"] },
                "signInRiskLevels": ["high"],
                "userRiskLevels": [],
                "devices": { "deviceFilter": { "mode": "include", "rule": "device.isCompliant -eq True" } },
                "authenticationFlows": { "transferMethods": "deviceCodeFlow,authenticationTransfer" }
            },
            "grantControls": { "operator": "or", "builtInControls": ["mfa", "compliantDevice"] },
            "sessionControls": { "signInFrequency": { "isEnabled": true, "type": "hours", "value": 23, "authenticationType": "primaryAndSecondaryAuthentication", "frequencyInterval": "timeBased" } }
        })
    }

    fn with(path: &[&str], value: Value) -> ConditionalAccessPolicy {
        let mut doc = base();
        let mut at = &mut doc;
        for key in &path[..path.len() - 1] {
            at = &mut at[*key];
        }
        at[path[path.len() - 1]] = value;
        policy(doc)
    }

    #[test]
    fn a_policy_of_defined_values_passes() {
        assert_eq!(write_violations(&policy(base())), vec![]);
        let every_time = with(
            &["sessionControls", "signInFrequency"],
            json!({"isEnabled": true, "frequencyInterval": "everyTime"}),
        );
        assert_eq!(write_violations(&every_time), vec![]);
    }

    #[test]
    fn each_undefined_value_is_named_with_its_field_and_the_allowed_values() {
        let cases: &[(&[&str], Value, &str, &str)] = &[
            (
                &["state"],
                json!("bogus"),
                "state",
                "enabledForReportingButNotEnforced",
            ),
            (
                &["grantControls", "operator"],
                json!("XOR"),
                "grantControls.operator",
                "AND, OR",
            ),
            (
                &["grantControls", "builtInControls"],
                json!(["mfa", "notAControl"]),
                "grantControls.builtInControls",
                "compliantDevice",
            ),
            (
                &["conditions", "clientAppTypes"],
                json!(["browsers"]),
                "conditions.clientAppTypes",
                "easSupported",
            ),
            (
                &["conditions", "platforms", "excludePlatforms"],
                json!(["iOS", "windows11"]),
                "conditions.platforms.excludePlatforms",
                "macOS",
            ),
            (
                &["conditions", "signInRiskLevels"],
                json!(["severe"]),
                "conditions.signInRiskLevels",
                "medium",
            ),
            (
                &["conditions", "userRiskLevels"],
                json!(["unknownFutureValue"]),
                "conditions.userRiskLevels",
                "hidden",
            ),
            (
                &["conditions", "authenticationFlows", "transferMethods"],
                json!("deviceCodeFlow,qrCode"),
                "conditions.authenticationFlows.transferMethods",
                "authenticationTransfer",
            ),
            (
                &[
                    "conditions",
                    "users",
                    "includeGuestsOrExternalUsers",
                    "guestOrExternalUserTypes",
                ],
                json!("internalGuest,alien"),
                "conditions.users.includeGuestsOrExternalUsers.guestOrExternalUserTypes",
                "serviceProvider",
            ),
            (
                &["conditions", "applications", "includeUserActions"],
                json!(["urn:user:registersecurityinf"]),
                "conditions.applications.includeUserActions",
                "urn:user:registerdevice",
            ),
            (
                &["conditions", "applications", "applicationFilter", "mode"],
                json!("includ"),
                "conditions.applications.applicationFilter.mode",
                "include, exclude",
            ),
            (
                &["conditions", "devices", "deviceFilter", "mode"],
                json!(""),
                "conditions.devices.deviceFilter.mode",
                "include, exclude",
            ),
            (
                &["sessionControls", "signInFrequency", "type"],
                json!("weeks"),
                "sessionControls.signInFrequency.type",
                "hours, days",
            ),
            (
                &["sessionControls", "signInFrequency", "authenticationType"],
                json!("both"),
                "sessionControls.signInFrequency.authenticationType",
                "secondaryAuthentication",
            ),
            (
                &["sessionControls", "signInFrequency", "frequencyInterval"],
                json!("sometimes"),
                "sessionControls.signInFrequency.frequencyInterval",
                "everyTime",
            ),
        ];
        for (path, value, field, allowed) in cases {
            let found = write_violations(&with(path, value.clone()));
            assert_eq!(found.len(), 1, "{path:?} = {value}: {found:?}");
            assert_eq!(found[0].field(), *field);
            let text = found[0].to_string();
            assert!(text.starts_with(field), "{text}");
            assert!(text.contains(allowed), "{text}");
        }
    }

    #[test]
    fn letter_case_is_not_a_typo() {
        // Graph reads enumeration members regardless of case; so does Portcullis.
        let p = with(&["state"], json!("ENABLED"));
        assert_eq!(write_violations(&p), vec![]);
        let p = with(&["grantControls", "operator"], json!("And"));
        assert_eq!(write_violations(&p), vec![]);
    }

    #[test]
    fn sign_in_frequency_stays_within_entras_range() {
        let freq = |unit: &str, value: Value| {
            with(
                &["sessionControls", "signInFrequency"],
                json!({"isEnabled": true, "type": unit, "value": value, "frequencyInterval": "timeBased"}),
            )
        };
        for (unit, ok, bad) in [
            ("hours", [1, 23], [0, 24, u64::from(u32::MAX)]),
            ("days", [1, 365], [0, 366, u64::from(u32::MAX)]),
        ] {
            for value in ok {
                assert_eq!(write_violations(&freq(unit, json!(value))), vec![]);
            }
            for value in bad {
                let found = write_violations(&freq(unit, json!(value)));
                assert!(
                    matches!(&found[..], [WriteViolation::OutOfRange { field, value: v, .. }]
                        if field == "sessionControls.signInFrequency.value" && *v == value),
                    "{unit} {value}: {found:?}"
                );
                assert!(found[0].to_string().contains(unit));
            }
        }
    }

    #[test]
    fn import_still_reads_undefined_values() {
        // The strict check is a separate step: deserialization keeps what it does not know.
        let p = with(&["state"], json!("bogus"));
        assert_eq!(p.state, PolicyState::Unknown("bogus".into()));
    }
}
