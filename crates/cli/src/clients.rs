//! `portcullis client add|list|remove`: the relying parties kept in the store.

use crate::service::{load_config, StoreArgs};
use anyhow::{bail, Context, Result};
use serde_json::json;
use store::{OidcClient, Store};

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Opens the store the configuration names, runs `job` on it, and closes it.
pub(crate) fn with_store<T>(
    args: &StoreArgs,
    job: impl AsyncFnOnce(&Store) -> Result<T>,
) -> Result<T> {
    let config = load_config(args, None, None)?;
    runtime()?.block_on(async {
        let store = Store::open(config.database_url().expose())
            .await
            .context("cannot open the store")?;
        let result = job(&store).await;
        store.close().await;
        result
    })
}

/// Checks a client id: printable, no spaces, at most 200 characters.
fn check_client_id(id: &str) -> Result<()> {
    if id.is_empty() || id.chars().count() > 200 || !id.chars().all(|c| c.is_ascii_graphic()) {
        bail!("--id '{id}': a client id is 1 to 200 printable ASCII characters, without spaces");
    }
    Ok(())
}

/// Checks a redirect URI (OAuth 2.0 Security BCP, RFC 8252): absolute, no fragment, and
/// `https`, `http` on a loopback host, or a private-use scheme of a native app
/// (`com.example.app:/callback`). It is stored as given: redirect URIs are compared exactly.
fn check_redirect_uri(uri: &str) -> Result<String> {
    let parsed = url::Url::parse(uri)
        .map_err(|e| anyhow::anyhow!("--redirect-uri '{uri}' is not an absolute URL: {e}"))?;
    if parsed.fragment().is_some() {
        bail!("--redirect-uri '{uri}' must not contain a fragment (#…)");
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            bail!("--redirect-uri '{uri}': plain http is allowed only on localhost; use https")
        }
        scheme if scheme.contains('.') => {}
        scheme => bail!(
            "--redirect-uri '{uri}': scheme '{scheme}' is not allowed; use https, http on \
             localhost, or a native app's reverse-domain scheme (com.example.app:/callback)"
        ),
    }
    Ok(uri.to_string())
}

/// `portcullis client add`.
pub(crate) fn add(
    args: &StoreArgs,
    id: &str,
    redirect_uris: &[String],
    name: Option<&str>,
    confidential: bool,
) -> Result<()> {
    check_client_id(id)?;
    let redirect_uris = redirect_uris
        .iter()
        .map(|u| check_redirect_uri(u.trim()))
        .collect::<Result<Vec<_>>>()?;
    let secret = if confidential {
        Some(server::web::random_token()?)
    } else {
        None
    };
    let client = OidcClient {
        client_id: id.to_string(),
        display_name: name.unwrap_or(id).to_string(),
        redirect_uris,
        is_public: !confidential,
        secret_hash: secret.as_deref().map(server::oidc::clients::hash_secret),
        created_at: store::at_ms(chrono::Utc::now()),
    };
    with_store(args, async |store| {
        match store.create_client(&client).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_conflict() => bail!(
                "a client '{id}' already exists; remove it first (portcullis client remove {id})"
            ),
            Err(e) => Err(e.into()),
        }
    })?;
    match secret {
        Some(secret) => {
            println!("Added confidential client '{id}'.");
            println!("Its secret is shown only now; give it to the client and keep it secret:");
            println!("{secret}");
        }
        None => println!("Added public client '{id}' (PKCE S256 required, no secret)."),
    }
    Ok(())
}

/// `portcullis client list`.
pub(crate) fn list(args: &StoreArgs, as_json: bool) -> Result<()> {
    let clients = with_store(args, async |store| Ok(store.list_clients().await?))?;
    if as_json {
        let listed: Vec<_> = clients
            .iter()
            .map(|c| {
                json!({
                    "clientId": c.client_id,
                    "displayName": c.display_name,
                    "isPublic": c.is_public,
                    "redirectUris": c.redirect_uris,
                    "createdAt": c.created_at,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(());
    }
    if clients.is_empty() {
        println!("No clients.");
    }
    for c in &clients {
        let kind = if c.is_public {
            "public"
        } else {
            "confidential"
        };
        println!("{}  ({kind}) {}", c.client_id, c.display_name);
        for uri in &c.redirect_uris {
            println!("    {uri}");
        }
    }
    Ok(())
}

/// `portcullis client remove`.
pub(crate) fn remove(args: &StoreArgs, id: &str) -> Result<()> {
    with_store(args, async |store| match store.delete_client(id).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => bail!("there is no client '{id}'"),
        Err(e) => Err(e.into()),
    })?;
    println!("Removed client '{id}'.");
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn redirect_uris() {
        for good in [
            "https://app.example.com/callback",
            "http://localhost:3000/cb",
            "http://127.0.0.1:8400/callback",
            "http://[::1]/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(check_redirect_uri(good).unwrap(), good);
        }
        for (bad, needle) in [
            ("/callback", "not an absolute URL"),
            ("not a url", "not an absolute URL"),
            ("https://app.example.com/cb#x", "fragment"),
            ("http://app.example.com/cb", "plain http"),
            ("javascript:alert(1)", "scheme 'javascript'"),
        ] {
            let err = check_redirect_uri(bad).unwrap_err().to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn client_ids() {
        check_client_id("payroll-app.v2").unwrap();
        assert!(check_client_id("").is_err());
        assert!(check_client_id("two words").is_err());
        assert!(check_client_id(&"x".repeat(201)).is_err());
    }
}
