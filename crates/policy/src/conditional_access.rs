//! Graph `conditionalAccessPolicy` and its parts, with every field of DESIGN §5.
//!
//! Fields Portcullis does not use are kept in `extra` maps so that an export survives a round trip.

use crate::enums::{graph_enum, Flags};
use crate::serde_util::{nullable, Extra};
use crate::strength::AuthenticationStrengthPolicy;
use serde::{Deserialize, Serialize};

graph_enum! {
    /// Whether a policy is enforced.
    pub enum PolicyState {
        /// Enforced.
        Enabled = "enabled",
        /// Not evaluated for enforcement.
        Disabled = "disabled",
        /// Evaluated and logged, never enforced.
        EnabledForReportingButNotEnforced = "enabledForReportingButNotEnforced",
    }
}

graph_enum! {
    /// Built-in grant controls.
    pub enum BuiltInControl {
        /// Block access.
        Block = "block",
        /// Require multifactor authentication (a claim check).
        Mfa = "mfa",
        /// Require a compliant device.
        CompliantDevice = "compliantDevice",
        /// Require a hybrid-joined device.
        DomainJoinedDevice = "domainJoinedDevice",
        /// Require an approved client app.
        ApprovedApplication = "approvedApplication",
        /// Require an app protection policy.
        CompliantApplication = "compliantApplication",
        /// Require a password change.
        PasswordChange = "passwordChange",
    }
}

graph_enum! {
    /// Device platforms.
    pub enum DevicePlatform {
        /// Any platform, including unknown ones.
        All = "all",
        /// Android.
        Android = "android",
        /// iOS and iPadOS.
        Ios = "iOS",
        /// Windows.
        Windows = "windows",
        /// Windows Phone.
        WindowsPhone = "windowsPhone",
        /// macOS.
        MacOs = "macOS",
        /// Linux.
        Linux = "linux",
    }
}

graph_enum! {
    /// Client application types.
    pub enum ClientAppType {
        /// Any client.
        All = "all",
        /// Web browsers.
        Browser = "browser",
        /// Modern-authentication mobile and desktop clients.
        MobileAppsAndDesktopClients = "mobileAppsAndDesktopClients",
        /// Exchange ActiveSync.
        ExchangeActiveSync = "exchangeActiveSync",
        /// Exchange ActiveSync, supported platforms only.
        EasSupported = "easSupported",
        /// Other (legacy) clients.
        Other = "other",
    }
}

graph_enum! {
    /// Sign-in and user risk levels.
    pub enum RiskLevel {
        /// Low.
        Low = "low",
        /// Medium.
        Medium = "medium",
        /// High.
        High = "high",
        /// Hidden.
        Hidden = "hidden",
        /// None.
        None = "none",
    }
}

graph_enum! {
    /// Authentication transfer methods.
    pub enum TransferMethod {
        /// Neither.
        None = "none",
        /// OAuth device code flow.
        DeviceCodeFlow = "deviceCodeFlow",
        /// Authentication transfer between devices.
        AuthenticationTransfer = "authenticationTransfer",
    }
}

graph_enum! {
    /// Whether a sign-in frequency counts time or demands every time.
    pub enum FrequencyInterval {
        /// Re-authenticate after `value` hours or days.
        TimeBased = "timeBased",
        /// Re-authenticate for every access.
        EveryTime = "everyTime",
    }
}

graph_enum! {
    /// Unit of a time-based sign-in frequency.
    pub enum SigninFrequencyType {
        /// Hours.
        Hours = "hours",
        /// Days.
        Days = "days",
    }
}

graph_enum! {
    /// Which factors a sign-in frequency ages out.
    pub enum SignInFrequencyAuthenticationType {
        /// Both factors.
        PrimaryAndSecondaryAuthentication = "primaryAndSecondaryAuthentication",
        /// The second factor only.
        SecondaryAuthentication = "secondaryAuthentication",
    }
}

impl Default for PolicyState {
    /// A policy nobody has turned on.
    fn default() -> Self {
        PolicyState::Disabled
    }
}

impl Default for TransferMethod {
    /// An ordinary sign-in transfers nothing.
    fn default() -> Self {
        TransferMethod::None
    }
}

/// Graph `conditionalAccessPolicy`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalAccessPolicy {
    /// Unique id.
    #[serde(default)]
    pub id: String,
    /// Name shown to administrators.
    #[serde(default)]
    pub display_name: String,
    /// `enabled`, `disabled` or `enabledForReportingButNotEnforced`.
    pub state: PolicyState,
    /// Who, what and under which circumstances.
    #[serde(default, deserialize_with = "nullable")]
    pub conditions: ConditionSet,
    /// What must be satisfied to get access.
    #[serde(default)]
    pub grant_controls: Option<GrantControls>,
    /// Session behaviour (sign-in frequency, …).
    #[serde(default)]
    pub session_controls: Option<SessionControls>,
    /// Creation time, as exported.
    #[serde(default)]
    pub created_date_time: Option<String>,
    /// Last change, as exported.
    #[serde(default)]
    pub modified_date_time: Option<String>,
    /// Fields Portcullis does not use (`@odata.*`, `templateId`, …), kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `conditionalAccessConditionSet`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionSet {
    /// Users, groups, roles, guests.
    #[serde(default)]
    pub users: Option<UsersCondition>,
    /// Applications, user actions or authentication contexts.
    #[serde(default)]
    pub applications: Option<ApplicationsCondition>,
    /// Client app types.
    #[serde(default, deserialize_with = "nullable")]
    pub client_app_types: Vec<ClientAppType>,
    /// Device platforms.
    #[serde(default)]
    pub platforms: Option<PlatformsCondition>,
    /// Named locations.
    #[serde(default)]
    pub locations: Option<LocationsCondition>,
    /// Sign-in risk levels; empty means not configured.
    #[serde(default, deserialize_with = "nullable")]
    pub sign_in_risk_levels: Vec<RiskLevel>,
    /// User risk levels; empty means not configured.
    #[serde(default, deserialize_with = "nullable")]
    pub user_risk_levels: Vec<RiskLevel>,
    /// Device filter.
    #[serde(default)]
    pub devices: Option<DevicesCondition>,
    /// Workload identities (service principals).
    #[serde(default)]
    pub client_applications: Option<ClientApplicationsCondition>,
    /// Device code flow and authentication transfer.
    #[serde(default)]
    pub authentication_flows: Option<AuthenticationFlowsCondition>,
    /// Conditions Portcullis does not know (insider risk, agents, …), kept and reported.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `conditionalAccessUsers`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersCondition {
    /// User ids, or `All`, `None`, `GuestsOrExternalUsers`.
    #[serde(default, deserialize_with = "nullable")]
    pub include_users: Vec<String>,
    /// User ids, or `GuestsOrExternalUsers`.
    #[serde(default, deserialize_with = "nullable")]
    pub exclude_users: Vec<String>,
    /// Group ids; membership is transitive.
    #[serde(default, deserialize_with = "nullable")]
    pub include_groups: Vec<String>,
    /// Group ids; membership is transitive.
    #[serde(default, deserialize_with = "nullable")]
    pub exclude_groups: Vec<String>,
    /// Role template ids; only active assignments count.
    #[serde(default, deserialize_with = "nullable")]
    pub include_roles: Vec<String>,
    /// Role template ids; only active assignments count.
    #[serde(default, deserialize_with = "nullable")]
    pub exclude_roles: Vec<String>,
    /// Guest and external user types included.
    #[serde(default)]
    pub include_guests_or_external_users: Option<GuestsOrExternalUsers>,
    /// Guest and external user types excluded.
    #[serde(default)]
    pub exclude_guests_or_external_users: Option<GuestsOrExternalUsers>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `conditionalAccessGuestsOrExternalUsers`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestsOrExternalUsers {
    /// Comma-joined guest types.
    #[serde(default, deserialize_with = "nullable")]
    pub guest_or_external_user_types: Flags<crate::directory::GuestOrExternalUserType>,
    /// Which external tenants (`membershipKind`: `all` or `enumerated` with `members`).
    #[serde(default)]
    pub external_tenants: Option<serde_json::Value>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `conditionalAccessApplications`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationsCondition {
    /// App ids, or `All`, `None`, `Office365`, `MicrosoftAdminPortals`.
    #[serde(default, deserialize_with = "nullable")]
    pub include_applications: Vec<String>,
    /// App ids or app groups.
    #[serde(default, deserialize_with = "nullable")]
    pub exclude_applications: Vec<String>,
    /// `urn:user:registersecurityinfo`, `urn:user:registerdevice`.
    #[serde(default, deserialize_with = "nullable")]
    pub include_user_actions: Vec<String>,
    /// Authentication context ids (`c1`…`c99`).
    #[serde(default, deserialize_with = "nullable")]
    pub include_authentication_context_class_references: Vec<String>,
    /// Filter on application attributes.
    #[serde(default)]
    pub application_filter: Option<Filter>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `conditionalAccessFilter`: `mode` include/exclude and a `rule`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// `include` or `exclude`.
    #[serde(default)]
    pub mode: String,
    /// The rule, in Entra's rule syntax.
    #[serde(default)]
    pub rule: String,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `conditionalAccessPlatforms`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformsCondition {
    /// Platforms included.
    #[serde(default, deserialize_with = "nullable")]
    pub include_platforms: Vec<DevicePlatform>,
    /// Platforms excluded.
    #[serde(default, deserialize_with = "nullable")]
    pub exclude_platforms: Vec<DevicePlatform>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `conditionalAccessLocations`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationsCondition {
    /// Named location ids, or `All`, `AllTrusted`.
    #[serde(default, deserialize_with = "nullable")]
    pub include_locations: Vec<String>,
    /// Named location ids, or `AllTrusted`.
    #[serde(default, deserialize_with = "nullable")]
    pub exclude_locations: Vec<String>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `conditionalAccessDevices`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DevicesCondition {
    /// Filter on device attributes.
    #[serde(default)]
    pub device_filter: Option<Filter>,
    /// Deprecated device lists and states, kept and reported.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `conditionalAccessClientApplications` (workload identities).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientApplicationsCondition {
    /// Service principal ids included.
    #[serde(default, deserialize_with = "nullable")]
    pub include_service_principals: Vec<String>,
    /// Service principal ids excluded.
    #[serde(default, deserialize_with = "nullable")]
    pub exclude_service_principals: Vec<String>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `conditionalAccessAuthenticationFlows`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationFlowsCondition {
    /// Comma-joined transfer methods.
    #[serde(default, deserialize_with = "nullable")]
    pub transfer_methods: Flags<TransferMethod>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `conditionalAccessGrantControls`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantControls {
    /// `AND` or `OR` (any case).
    #[serde(default)]
    pub operator: Option<String>,
    /// Built-in controls.
    #[serde(default, deserialize_with = "nullable")]
    pub built_in_controls: Vec<BuiltInControl>,
    /// Custom controls (third-party); Portcullis cannot satisfy them.
    #[serde(default, deserialize_with = "nullable")]
    pub custom_authentication_factors: Vec<String>,
    /// Terms of use ids; Portcullis cannot satisfy them.
    #[serde(default, deserialize_with = "nullable")]
    pub terms_of_use: Vec<String>,
    /// The required authentication strength (an id, possibly with its definition).
    #[serde(default)]
    pub authentication_strength: Option<AuthenticationStrengthPolicy>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

impl GrantControls {
    /// Whether controls combine with OR (any one suffices). Graph's default is OR.
    pub fn is_or(&self) -> bool {
        !self
            .operator
            .as_deref()
            .is_some_and(|o| o.eq_ignore_ascii_case("AND"))
    }
}

/// Graph `conditionalAccessSessionControls`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionControls {
    /// How often the user must authenticate again.
    #[serde(default)]
    pub sign_in_frequency: Option<SignInFrequency>,
    /// Other session controls (persistent browser, app-enforced restrictions, …), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `signInFrequencySessionControl`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInFrequency {
    /// Whether the control is on.
    #[serde(default)]
    pub is_enabled: Option<bool>,
    /// `hours` or `days` (time-based only).
    #[serde(default, rename = "type")]
    pub frequency_type: Option<SigninFrequencyType>,
    /// How many hours or days (time-based only).
    #[serde(default)]
    pub value: Option<u32>,
    /// Which factors are aged out.
    #[serde(default)]
    pub authentication_type: Option<SignInFrequencyAuthenticationType>,
    /// `timeBased` or `everyTime`.
    #[serde(default)]
    pub frequency_interval: Option<FrequencyInterval>,
    /// Fields Portcullis does not use, kept for round-trip.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ConditionalAccessPolicy {
    /// The enabled sign-in frequency, if any.
    pub fn sign_in_frequency(&self) -> Option<&SignInFrequency> {
        self.session_controls
            .as_ref()?
            .sign_in_frequency
            .as_ref()
            .filter(|f| f.is_enabled.unwrap_or(true))
    }

    /// The name to show, falling back to the id.
    pub fn name(&self) -> &str {
        if self.display_name.is_empty() {
            &self.id
        } else {
            &self.display_name
        }
    }
}
