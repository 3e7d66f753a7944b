//! The authorization request (OIDC Core §3.1.2.1), validated, and what it asks of the user's
//! authentication: `prompt=login`, `max_age`, `acr_values` and the `claims` parameter.
//!
//! Requested `acr` values are of three kinds: an authentication context (`c1`…`c99`, Entra
//! style: Conditional Access policies targeting it decide), `phr` (phishing-resistant, from the
//! OpenID EAP ACR values) and `mfa` (any multifactor authentication). They are alternatives in
//! order of preference: the first one met becomes the token's `acr`, and when none is met the
//! user is asked for the first (Portcullis asks for voluntary values too: a relying party that
//! sends `acr_values` wants the step-up). Contexts requested through the `claims` parameter's
//! `acrs` member must all be met, and are listed in the tokens' `acrs`.

use policy::context::ContextId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod validate;
pub use validate::validate;

/// The query parameters of `/authorize`, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeParams {
    /// `code`.
    pub response_type: Option<String>,
    /// The client.
    pub client_id: Option<String>,
    /// Must be one of the client's registered URIs, exactly.
    pub redirect_uri: Option<String>,
    /// Must contain `openid`.
    pub scope: Option<String>,
    /// Echoed to the client.
    pub state: Option<String>,
    /// Echoed in the ID token.
    pub nonce: Option<String>,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// PKCE method; only `S256`.
    pub code_challenge_method: Option<String>,
    /// `login`, `none`, `consent`, `select_account` (space-separated).
    pub prompt: Option<String>,
    /// Seconds.
    pub max_age: Option<String>,
    /// Space-separated requested `acr` values.
    pub acr_values: Option<String>,
    /// JSON `claims` request (OIDC Core §5.5).
    pub claims: Option<String>,
    /// Only `query` is supported.
    pub response_mode: Option<String>,
    /// Request objects are not supported.
    pub request: Option<String>,
    /// Request objects by reference are not supported.
    pub request_uri: Option<String>,
    /// Pre-fills the sign-in name.
    pub login_hint: Option<String>,
    /// Portcullis extension: the PIM activation request this sign-in is the step-up for.
    pub step_up_request: Option<String>,
}

pub use policy::assessment::AcrRequest;

/// A validated authorization request, as kept in the sign-in transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationRequest {
    /// The client.
    pub client_id: String,
    /// The registered redirect URI used.
    pub redirect_uri: String,
    /// Granted scope (as requested; `openid` included).
    pub scope: String,
    /// Echoed to the client.
    pub state: Option<String>,
    /// Echoed in the ID token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// `prompt=login`: authenticate again, whatever the session holds.
    pub prompt_login: bool,
    /// `prompt=none`: fail rather than show a page.
    pub prompt_none: bool,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    /// Requested levels, in the client's order of preference; every essential one must be met.
    pub acr: Vec<AcrRequest>,
    /// Whether the `acr` requests are essential (from `claims`), or voluntary (`acr_values`).
    pub acr_essential: bool,
    /// Authentication contexts requested for `acrs` (claims `acrs` value/values).
    pub acrs: Vec<String>,
    /// The `claims` parameter as sent, kept for the tokens.
    pub claims: Option<Value>,
    /// Sign-in name to pre-fill.
    pub login_hint: Option<String>,
    /// Set for the service's own pages: the user action Conditional Access evaluates instead
    /// of the client application (`urn:user:registersecurityinfo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_action: Option<String>,
    /// The PIM activation request this sign-in is the step-up for: its contexts are evaluated
    /// with only the methods performed in this transaction, and the tokens name the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_up_request: Option<String>,
}

impl AuthorizationRequest {
    /// The authentication contexts requested for `acrs`: every one must be satisfied.
    pub fn contexts(&self) -> Vec<String> {
        self.acrs.clone()
    }
}

/// Why a request is refused: `redirect` errors go back to the client, the others are shown to
/// the user (the redirect URI cannot be trusted, OIDC Core §3.1.2.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Shown on a page: no trustworthy place to send the error.
    Page(String),
    /// Sent to the client's redirect URI.
    Redirect {
        /// Where to.
        redirect_uri: String,
        /// OAuth error code.
        error: &'static str,
        /// Description.
        description: String,
        /// The client's state.
        state: Option<String>,
    },
}
