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

/// Validates `/authorize` parameters against the client's registration.
pub fn validate(
    params: &AuthorizeParams,
    client: Option<&store::OidcClient>,
) -> Result<AuthorizationRequest, RequestError> {
    let client_id = params
        .client_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            RequestError::Page("The request names no client (client_id is missing).".into())
        })?;
    let client = client.ok_or_else(|| {
        RequestError::Page(format!(
            "No application is registered with client_id '{client_id}'."
        ))
    })?;
    let redirect_uri = match params.redirect_uri.as_deref() {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri.to_string(),
        Some(uri) => {
            return Err(RequestError::Page(format!(
                "The redirect URI '{uri}' is not registered for '{}'; the request was not \
                 followed, so that no code can be sent to an unknown address.",
                client.display_name
            )))
        }
        None => {
            return Err(RequestError::Page(
                "The request has no redirect_uri (it is required).".into(),
            ))
        }
    };
    let fail = |error: &'static str, description: String| RequestError::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        description,
        state: params.state.clone(),
    };
    if params.request.is_some() {
        return Err(fail(
            "request_not_supported",
            "request objects are not supported".into(),
        ));
    }
    if params.request_uri.is_some() {
        return Err(fail(
            "request_uri_not_supported",
            "request_uri is not supported".into(),
        ));
    }
    match params.response_type.as_deref() {
        Some("code") => {}
        Some(other) => {
            return Err(fail(
                "unsupported_response_type",
                format!("response_type '{other}' is not supported; use 'code'"),
            ))
        }
        None => return Err(fail("invalid_request", "response_type is required".into())),
    }
    if let Some(mode) = params.response_mode.as_deref() {
        if mode != "query" {
            return Err(fail(
                "invalid_request",
                format!("response_mode '{mode}' is not supported; use 'query'"),
            ));
        }
    }
    let scope = params.scope.clone().unwrap_or_default();
    if !scope.split(' ').any(|s| s == "openid") {
        return Err(fail("invalid_scope", "scope must include 'openid'".into()));
    }
    let code_challenge =
        match (
            params.code_challenge.as_deref(),
            params.code_challenge_method.as_deref(),
        ) {
            (Some(c), Some("S256")) if is_pkce_challenge(c) => Some(c.to_string()),
            (Some(_), Some("S256")) => {
                return Err(fail(
                    "invalid_request",
                    "code_challenge must be 43 base64url characters (S256)".into(),
                ))
            }
            (Some(_), Some(m)) => {
                return Err(fail(
                    "invalid_request",
                    format!("code_challenge_method '{m}' is not supported; use 'S256'"),
                ))
            }
            (Some(_), None) => return Err(fail(
                "invalid_request",
                "code_challenge_method is required; only 'S256' is supported (plain is refused)"
                    .into(),
            )),
            (None, Some(_)) => {
                return Err(fail(
                    "invalid_request",
                    "code_challenge_method without code_challenge".into(),
                ))
            }
            (None, None) if client.is_public => {
                return Err(fail(
                    "invalid_request",
                    "PKCE is required for public clients: send code_challenge with \
                 code_challenge_method=S256"
                        .into(),
                ))
            }
            (None, None) => None,
        };
    let prompts: Vec<&str> = params
        .prompt
        .as_deref()
        .map(|p| p.split(' ').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    for p in &prompts {
        if !matches!(*p, "login" | "none" | "consent" | "select_account") {
            return Err(fail(
                "invalid_request",
                format!("prompt '{p}' is not known"),
            ));
        }
    }
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return Err(fail(
            "invalid_request",
            "prompt=none cannot be combined with another value".into(),
        ));
    }
    let max_age = match params.max_age.as_deref() {
        None => None,
        Some(s) => Some(s.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            fail(
                "invalid_request",
                format!("max_age '{s}' is not a number of seconds"),
            )
        })?),
    };
    let mut acr: Vec<AcrRequest> = Vec::new();
    let mut acr_essential = false;
    let mut acrs: Vec<String> = Vec::new();
    if let Some(values) = params.acr_values.as_deref() {
        for v in values.split(' ').filter(|s| !s.is_empty()) {
            let a = AcrRequest::parse(v).ok_or_else(|| {
                fail(
                    "invalid_request",
                    format!("acr value '{v}' is not supported (supported: c1…c99, phr, mfa)"),
                )
            })?;
            if !acr.contains(&a) {
                acr.push(a);
            }
        }
    }
    let claims = match params.claims.as_deref() {
        None => None,
        Some(text) => {
            let value: Value = serde_json::from_str(text)
                .map_err(|e| fail("invalid_request", format!("claims is not JSON: {e}")))?;
            if !value.is_object() {
                return Err(fail(
                    "invalid_request",
                    "claims must be a JSON object".into(),
                ));
            }
            for member in ["id_token", "access_token", "userinfo"] {
                let Some(request) = value.get(member).and_then(|m| m.as_object()) else {
                    continue;
                };
                if let Some(spec) = request.get("acr") {
                    let (values, essential) =
                        claim_values(spec, "acr").map_err(|m| fail("invalid_request", m))?;
                    acr_essential |= essential;
                    for v in values {
                        let a = AcrRequest::parse(&v).ok_or_else(|| {
                            fail("invalid_request", format!("acr value '{v}' is not supported (supported: c1…c99, phr, mfa)"))
                        })?;
                        if !acr.contains(&a) {
                            acr.push(a);
                        }
                    }
                }
                if let Some(spec) = request.get("acrs") {
                    let (values, _) =
                        claim_values(spec, "acrs").map_err(|m| fail("invalid_request", m))?;
                    for v in values {
                        let c = ContextId::parse(&v).map_err(|_| {
                            fail(
                                "invalid_request",
                                format!(
                                    "acrs value '{v}' is not an authentication context (c1…c99)"
                                ),
                            )
                        })?;
                        let c = c.to_string();
                        if !acrs.contains(&c) {
                            acrs.push(c);
                        }
                    }
                }
            }
            Some(value)
        }
    };
    let step_up_request = match params.step_up_request.as_deref() {
        None => None,
        Some(id)
            if !id.is_empty()
                && id.len() <= 100
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            Some(id.to_string())
        }
        Some(_) => {
            return Err(fail(
                "invalid_request",
                "step_up_request is not a request id".into(),
            ))
        }
    };
    Ok(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        scope,
        state: params.state.clone(),
        nonce: params.nonce.clone(),
        code_challenge,
        prompt_login: prompts.contains(&"login"),
        prompt_none,
        max_age,
        acr,
        acr_essential,
        acrs,
        claims,
        login_hint: params.login_hint.clone(),
        user_action: None,
        step_up_request,
    })
}

/// The requested values of one claim (`{"essential":…, "value":…}` or `"values":[…]`, or
/// `null` for "any").
fn claim_values(spec: &Value, name: &str) -> Result<(Vec<String>, bool), String> {
    if spec.is_null() {
        return Ok((Vec::new(), false));
    }
    let Some(obj) = spec.as_object() else {
        return Err(format!("claims.{name} must be null or an object"));
    };
    let essential = obj
        .get("essential")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut values = Vec::new();
    if let Some(v) = obj.get("value") {
        values.push(
            v.as_str()
                .ok_or_else(|| format!("claims.{name}.value must be a string"))?
                .to_string(),
        );
    }
    if let Some(vs) = obj.get("values") {
        let arr = vs
            .as_array()
            .ok_or_else(|| format!("claims.{name}.values must be an array of strings"))?;
        for v in arr {
            values.push(
                v.as_str()
                    .ok_or_else(|| format!("claims.{name}.values must be an array of strings"))?
                    .to_string(),
            );
        }
    }
    Ok((values, essential))
}

fn is_pkce_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
