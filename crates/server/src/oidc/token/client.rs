//! Request parsing and client authentication: the form body, and who the client is (HTTP Basic,
//! form fields, or a public client's id alone).

use super::*;

/// Reads an `application/x-www-form-urlencoded` body into its parameters. Parameters without a
/// value count as omitted (RFC 6749 §3.1); a parameter sent twice is an error naming it (RFC
/// 6749 §3.1, §3.2).
pub fn form_params(body: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let mut params = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if value.is_empty() {
            continue;
        }
        let name = name.into_owned();
        if params.contains_key(&name) {
            return Err(format!("parameter '{}' is repeated", shorten(&name)));
        }
        params.insert(name, value.into_owned());
    }
    Ok(params)
}

/// Whether the request declares a form body.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

pub(super) fn read_form(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<BTreeMap<String, String>, OAuthError> {
    if !is_form(headers) {
        return Err(invalid_request(
            "the request body must be application/x-www-form-urlencoded",
        ));
    }
    form_params(body).map_err(invalid_request)
}

/// What the client presented to authenticate.
#[derive(Debug)]
pub struct Credentials {
    /// The client it says it is.
    pub client_id: String,
    /// Its secret, if it sent one.
    pub secret: Option<String>,
}

/// Who the client says it is, from its HTTP Basic credentials or the form (`params`): one
/// method only, and the same client in both when both name one.
pub fn credentials(
    headers: &HeaderMap,
    params: &BTreeMap<String, String>,
) -> Result<Credentials, OAuthError> {
    let mut authorization = headers.get_all(header::AUTHORIZATION).iter();
    let first = authorization.next();
    if authorization.next().is_some() {
        return Err(invalid_request("the Authorization header is repeated"));
    }
    let Some(value) = first else {
        let client_id = params.get("client_id").ok_or_else(|| {
            OAuthError::invalid_client(
                "no client authentication: send HTTP Basic credentials, or client_id (with \
                 client_secret for a confidential client) in the form",
            )
        })?;
        return Ok(Credentials {
            client_id: client_id.clone(),
            secret: params.get("client_secret").cloned(),
        });
    };
    let malformed = || OAuthError::invalid_client("malformed HTTP Basic client credentials");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.trim().split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "unsupported client authentication scheme: use HTTP Basic (client_secret_basic)",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    // RFC 6749 §2.3.1: both are form-urlencoded before being joined.
    let client_id = form_decode(id).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    if params.contains_key("client_secret") {
        return Err(invalid_request(
            "the client authenticated twice (HTTP Basic and client_secret): use one method",
        ));
    }
    if params.get("client_id").is_some_and(|id| *id != client_id) {
        return Err(invalid_request(
            "client_id in the form differs from the HTTP Basic credentials",
        ));
    }
    if client_id.is_empty() {
        return Err(malformed());
    }
    Ok(Credentials {
        client_id,
        secret: Some(secret),
    })
}

/// Decodes one `application/x-www-form-urlencoded` value: `+` is a space, `%XX` a byte; `None`
/// for a broken escape or bytes that are not UTF-8.
pub(super) fn form_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = char::from(bytes.next()?).to_digit(16)?;
                let lo = char::from(bytes.next()?).to_digit(16)?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

/// The authenticated client. A confidential client (one with a secret) must prove it; a public
/// client must not send a secret.
pub(super) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &BTreeMap<String, String>,
) -> Result<OidcClient, OAuthError> {
    let credentials = credentials(headers, params)?;
    let client = match state.store.get_client(&credentials.client_id).await {
        Ok(c) => c,
        Err(e) if e.is_not_found() => return Err(OAuthError::invalid_client("unknown client")),
        Err(e) => return Err(e.into()),
    };
    match (&client.secret_hash, credentials.secret) {
        (Some(expected), Some(secret)) => {
            if same(&hash_secret(&secret), expected) {
                Ok(client)
            } else {
                Err(OAuthError::invalid_client("client authentication failed"))
            }
        }
        (Some(_), None) => Err(OAuthError::invalid_client(
            "this client is confidential: authenticate with client_secret_basic or \
             client_secret_post",
        )),
        (None, Some(_)) => Err(OAuthError::invalid_client(
            "this client is public and has no secret: send only client_id",
        )),
        (None, None) if client.is_public => Ok(client),
        (None, None) => Err(OAuthError::invalid_client(
            "this client is registered as confidential but has no secret; it cannot \
             authenticate",
        )),
    }
}
