//! A sign-in to evaluate, and its wire form: Graph's `POST /identity/conditionalAccess/evaluate`
//! body, extended with the user's authentication session.

use crate::conditional_access::{ClientAppType, DevicePlatform, RiskLevel, TransferMethod};
use crate::context::ContextId;
use crate::location::SignInLocation;
use crate::serde_util::Extra;
use crate::session::AuthenticationSession;
use serde::{Deserialize, Serialize};

/// What the sign-in is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One or more applications (ids, or app group names such as `Office365`).
    Applications(Vec<String>),
    /// A user action, in the policy spelling (`urn:user:registersecurityinfo`).
    UserAction(String),
    /// An authentication context.
    AuthenticationContext(ContextId),
}

/// Device facts the client or a device registry vouches for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    /// Whether the device is marked compliant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_compliant: Option<bool>,
    /// `AzureAD`, `ServerAD` (hybrid joined) or `Workplace` (registered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_type: Option<String>,
    /// Other device attributes (for device filters), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The circumstances of a sign-in. `None` means "not known", which Conditional Access reports as
/// `notEnoughInformation` rather than guessing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignInConditions {
    /// Device platform.
    pub device_platform: Option<DevicePlatform>,
    /// Client app type.
    pub client_app_type: Option<ClientAppType>,
    /// IP address and country.
    pub location: SignInLocation,
    /// Sign-in risk.
    pub sign_in_risk_level: Option<RiskLevel>,
    /// User risk.
    pub user_risk_level: Option<RiskLevel>,
    /// Device facts.
    pub device: Option<DeviceInfo>,
    /// Authentication transfer method; an ordinary sign-in is `none`.
    pub transfer_method: TransferMethod,
}

/// A sign-in to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct SignIn {
    /// The user's object id.
    pub user_id: String,
    /// What is being accessed.
    pub target: Target,
    /// Where, from what, at which risk.
    pub conditions: SignInConditions,
    /// What the user has proven.
    pub session: AuthenticationSession,
    /// The role (definition id) whose PIM activation this sign-in is the step-up of. Policies
    /// that *include* the role's holders apply to it as if the role were held — the activation
    /// is what makes the user a holder, and "for the role's members" must mean the members
    /// about to be — while exclusions still read only the roles held now, so that counting it
    /// can only add requirements, never lift one. Entra applies such a policy only once the
    /// role is active, so an eligible admin steps up with nothing asked: the gap this closes.
    pub activating_role: Option<String>,
}

/// Why an evaluate request cannot be turned into a sign-in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// `signInIdentity.userId` is absent.
    #[error("signInIdentity.userId is required")]
    MissingUser,
    /// `signInContext` is absent or of an unknown type.
    #[error("signInContext: {0}")]
    Context(String),
    /// `signInConditions.ipAddress` is not an IP address.
    #[error("signInConditions.ipAddress: '{0}' is not an IPv4 or IPv6 address")]
    IpAddress(String),
    /// A field holds a value this version does not know.
    #[error("{field}: unknown value '{value}'")]
    UnknownValue {
        /// The field.
        field: &'static str,
        /// The value.
        value: String,
    },
}

/// Graph's evaluate request body (plus `authenticationSession`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluateRequest {
    /// Who signs in.
    #[serde(default)]
    pub sign_in_identity: Option<SignInIdentity>,
    /// What is accessed.
    #[serde(default)]
    pub sign_in_context: Option<SignInContext>,
    /// Circumstances.
    #[serde(default)]
    pub sign_in_conditions: Option<SignInConditionsBody>,
    /// Return only the policies that apply.
    #[serde(default)]
    pub applied_policies_only: bool,
    /// Portcullis extension: what the user has proven.
    #[serde(default)]
    pub authentication_session: AuthenticationSession,
}

/// Graph `signInIdentity` (`userSignIn`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInIdentity {
    /// The user's object id.
    #[serde(default)]
    pub user_id: Option<String>,
    /// `@odata.type` and the like.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Graph `signInContext`: `applicationContext`, `userActionContext` or `authContext`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInContext {
    /// Which kind of context.
    #[serde(rename = "@odata.type", default)]
    pub odata_type: String,
    /// `applicationContext`: the applications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_applications: Option<Vec<String>>,
    /// `userActionContext`: `registerSecurityInformation` or `registerOrJoinDevices`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_action: Option<String>,
    /// `authContext`: the context id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_context_value: Option<String>,
}

/// Graph `signInConditions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInConditionsBody {
    /// Device platform.
    #[serde(default)]
    pub device_platform: Option<DevicePlatform>,
    /// Client app type.
    #[serde(default)]
    pub client_app_type: Option<ClientAppType>,
    /// IP address.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// Two-letter country code.
    #[serde(default)]
    pub country: Option<String>,
    /// Sign-in risk.
    #[serde(default)]
    pub sign_in_risk_level: Option<RiskLevel>,
    /// User risk.
    #[serde(default)]
    pub user_risk_level: Option<RiskLevel>,
    /// Device facts.
    #[serde(default)]
    pub device_info: Option<DeviceInfo>,
    /// Authentication flow (`{"transferMethod": "deviceCodeFlow"}`).
    #[serde(default)]
    pub authentication_flow: Option<AuthenticationFlow>,
}

/// Graph `authenticationFlow`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationFlow {
    /// The transfer method used.
    #[serde(default)]
    pub transfer_method: Option<TransferMethod>,
}

/// Maps Graph's `userAction` values to the policy spelling.
pub fn user_action_urn(action: &str) -> Option<&'static str> {
    if action.eq_ignore_ascii_case("registerSecurityInformation")
        || action.eq_ignore_ascii_case("urn:user:registersecurityinfo")
    {
        Some("urn:user:registersecurityinfo")
    } else if action.eq_ignore_ascii_case("registerOrJoinDevices")
        || action.eq_ignore_ascii_case("urn:user:registerdevice")
    {
        Some("urn:user:registerdevice")
    } else {
        None
    }
}

/// A user action in one canonical spelling, for matching: the policy urn for the actions
/// [`user_action_urn`] knows (whichever spelling was written), lower case otherwise.
pub(crate) fn user_action_key(action: &str) -> String {
    user_action_urn(action).map_or_else(|| action.to_ascii_lowercase(), str::to_string)
}

impl EvaluateRequest {
    /// Validates the request and turns it into a sign-in.
    pub fn to_sign_in(&self) -> Result<SignIn, RequestError> {
        let user_id = self
            .sign_in_identity
            .as_ref()
            .and_then(|i| i.user_id.clone())
            .filter(|u| !u.trim().is_empty())
            .ok_or(RequestError::MissingUser)?;
        let ctx = self
            .sign_in_context
            .as_ref()
            .ok_or_else(|| RequestError::Context("is required".into()))?;
        let kind = ctx
            .odata_type
            .trim_start_matches('#')
            .trim_start_matches("microsoft.graph.");
        let target = match kind {
            "applicationContext" => {
                let apps = ctx.include_applications.clone().unwrap_or_default();
                if apps.is_empty() {
                    return Err(RequestError::Context(
                        "applicationContext needs at least one id in includeApplications".into(),
                    ));
                }
                Target::Applications(apps)
            }
            "userActionContext" => {
                let action = ctx.user_action.as_deref().unwrap_or("");
                let urn = user_action_urn(action).ok_or_else(|| RequestError::UnknownValue {
                    field: "signInContext.userAction",
                    value: action.to_string(),
                })?;
                Target::UserAction(urn.to_string())
            }
            "authContext" => {
                let value = ctx.authentication_context_value.as_deref().unwrap_or("");
                let id = ContextId::parse(value).map_err(|e| {
                    RequestError::Context(format!("authenticationContextValue: {e}"))
                })?;
                Target::AuthenticationContext(id)
            }
            other => {
                return Err(RequestError::Context(format!(
                    "@odata.type '{other}' is not one of #microsoft.graph.applicationContext, \
                     #microsoft.graph.userActionContext, #microsoft.graph.authContext"
                )))
            }
        };
        let c = self.sign_in_conditions.clone().unwrap_or_default();
        let ip_address = match c.ip_address.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(ip) => Some(
                ip.parse()
                    .map_err(|_| RequestError::IpAddress(ip.to_string()))?,
            ),
        };
        let conditions = SignInConditions {
            device_platform: c.device_platform,
            client_app_type: c.client_app_type,
            location: SignInLocation {
                ip_address,
                country: c.country.filter(|s| !s.trim().is_empty()),
            },
            sign_in_risk_level: c.sign_in_risk_level,
            user_risk_level: c.user_risk_level,
            device: c.device_info,
            transfer_method: c
                .authentication_flow
                .and_then(|f| f.transfer_method)
                .unwrap_or(TransferMethod::None),
        };
        Ok(SignIn {
            user_id,
            target,
            conditions,
            session: self.authentication_session.clone(),
            activating_role: None,
        })
    }
}
