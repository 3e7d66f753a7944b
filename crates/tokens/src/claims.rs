//! The claims of the tokens Portcullis issues.

use serde::{Deserialize, Serialize};

/// An OpenID Connect ID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// Issuer URL.
    pub iss: String,
    /// Subject: the user's object id.
    pub sub: String,
    /// The client id.
    pub aud: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// When the user last authenticated interactively.
    pub auth_time: i64,
    /// The client's nonce, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Authentication context class achieved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Methods used (RFC 8176).
    #[serde(default)]
    pub amr: Vec<String>,
    /// Authentication contexts satisfied (`c1`…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acrs: Vec<String>,
    /// Session id.
    pub sid: String,
    /// Sign-in name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Proof-of-possession confirmation (RFC 9449 `cnf.jkt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// SHA-256 thumbprint of the client's DPoP key.
    pub jkt: String,
}

/// A JWT access token (RFC 9068 shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer URL.
    pub iss: String,
    /// Subject: the user's object id.
    pub sub: String,
    /// Audience: the resource.
    pub aud: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Unique id, for replay detection and revocation.
    pub jti: String,
    /// Granted scopes, space-separated.
    #[serde(default)]
    pub scope: String,
    /// When the user last authenticated interactively.
    pub auth_time: i64,
    /// Authentication context class achieved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Methods used (RFC 8176).
    #[serde(default)]
    pub amr: Vec<String>,
    /// Authentication contexts satisfied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acrs: Vec<String>,
    /// Session id.
    pub sid: String,
    /// Key binding (DPoP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// Portcullis: the PIM activation request whose step-up this token proves (only in tokens
    /// from a step-up code, never in refreshed ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_up_request: Option<String>,
}
