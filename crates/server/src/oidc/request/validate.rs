//! Validating `/authorize` parameters against the client's registration, and reading what the
//! `claims` parameter asks for.

use super::*;

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
pub(super) fn claim_values(spec: &Value, name: &str) -> Result<(Vec<String>, bool), String> {
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

pub(super) fn is_pkce_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
