//! Relying parties: those in the configuration are registered (or updated) at startup; others
//! are added with `portcullis client add`.

use crate::config::ClientConfig;
use crate::error::ServeError;
use crate::state::AppState;
use store::{OidcClient, Store};

/// Registers every client of the configuration, replacing a stored one of the same id.
pub async fn register_configured(state: &AppState) -> Result<(), ServeError> {
    for c in &state.config.clients {
        let client = from_config(c, state.now())?;
        upsert(&state.store, &client).await?;
        tracing::info!(client_id = %client.client_id, "client registered from configuration");
    }
    Ok(())
}

/// Stores a client, replacing one with the same id (in one statement: several nodes may start
/// at once, each registering the same clients).
pub async fn upsert(store: &Store, client: &OidcClient) -> Result<(), ServeError> {
    match store.get_client(&client.client_id).await {
        Ok(existing) if &existing == client => return Ok(()),
        Ok(_) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    store.put_client(client).await?;
    Ok(())
}

/// The stored form of a configured client; a confidential client's secret is read from its
/// `secret_file` and only its hash kept.
pub fn from_config(
    c: &ClientConfig,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<OidcClient, ServeError> {
    let secret_hash = match (&c.secret_file, c.public) {
        (Some(path), false) => {
            let secret = std::fs::read_to_string(path).map_err(|e| {
                ServeError::Config(format!(
                    "client '{}': secret_file {}: {e}",
                    c.client_id,
                    path.display()
                ))
            })?;
            let secret = secret.trim_end_matches(['\n', '\r']);
            if secret.len() < 32 {
                return Err(ServeError::Config(format!(
                    "client '{}': the secret in {} is shorter than 32 characters",
                    c.client_id,
                    path.display()
                )));
            }
            Some(hash_secret(secret))
        }
        (None, false) => {
            return Err(ServeError::Config(format!(
                "client '{}' is confidential (public = false) but has no secret_file",
                c.client_id
            )))
        }
        (_, true) => None,
    };
    Ok(OidcClient {
        client_id: c.client_id.clone(),
        display_name: c
            .display_name
            .clone()
            .unwrap_or_else(|| c.client_id.clone()),
        redirect_uris: c.redirect_uris.iter().map(|u| u.to_string()).collect(),
        is_public: c.public,
        secret_hash,
        created_at: now,
    })
}

/// How a client secret is kept: SHA-256, base64url. Secrets are random and at least 32
/// characters, so a slow hash adds nothing but latency to every token request.
pub fn hash_secret(secret: &str) -> String {
    crate::web::token_hash(secret)
}
