//! Layered configuration: defaults, then a TOML file, then `PORTCULLIS_*` environment variables,
//! then command-line flags. Unknown keys are refused; secrets can come from `*_FILE` variables so
//! that they never sit in the environment or in a world-readable file.

use authn::password::PasswordParams;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration (unknown key, wrong type).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
    /// An environment variable or flag holds an unusable value.
    #[error("{name}: {message}")]
    Value {
        /// The variable or flag.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// A string that is never printed (database URLs carry passwords).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Token and session lifetimes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifetimeConfig {
    /// Access and ID tokens, minutes.
    pub token_minutes: u32,
    /// Refresh tokens, hours.
    pub refresh_token_hours: u32,
    /// Browser sessions, hours.
    pub session_hours: u32,
    /// Signing key rotation, days.
    pub signing_key_days: u32,
}

impl Default for LifetimeConfig {
    fn default() -> Self {
        LifetimeConfig {
            token_minutes: 10,
            refresh_token_hours: 8,
            session_hours: 8,
            signing_key_days: 30,
        }
    }
}

/// An OIDC client registered in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The client id.
    pub client_id: String,
    /// Name shown on the consent and sign-in pages.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Exact redirect URIs allowed.
    pub redirect_uris: Vec<url::Url>,
    /// A public client (no secret; PKCE S256 required).
    #[serde(default)]
    pub public: bool,
    /// File holding the client secret of a confidential client.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
}

/// The service configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database and other state.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: SQLite in `data_dir`.
    pub database_url: Option<Secret>,
    /// Public issuer URL; default: `http://` + `listen`.
    pub issuer: Option<url::Url>,
    /// Password hashing.
    pub password: PasswordParams,
    /// Lifetimes.
    pub lifetimes: LifetimeConfig,
    /// OIDC clients.
    pub clients: Vec<ClientConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            issuer: None,
            password: PasswordParams::default(),
            lifetimes: LifetimeConfig::default(),
            clients: Vec::new(),
        }
    }
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--issuer`.
    pub issuer: Option<url::Url>,
}

impl Config {
    /// Builds the configuration from its layers. `env` looks a variable up (the process
    /// environment in production, a map in tests).
    pub fn load(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        overrides: Overrides,
    ) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.into(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.into(),
                    message: e.to_string().trim_end().replace('\n', " "),
                })?
            }
            None => Config::default(),
        };
        if let Some(v) = env("PORTCULLIS_LISTEN") {
            config.listen = parse_value("PORTCULLIS_LISTEN", &v)?;
        }
        if let Some(v) = env("PORTCULLIS_DATA_DIR") {
            config.data_dir = PathBuf::from(v);
        }
        if let Some(v) = secret_from_env(env, "PORTCULLIS_DATABASE_URL")? {
            config.database_url = Some(v);
        }
        if let Some(v) = env("PORTCULLIS_ISSUER") {
            config.issuer = Some(parse_value("PORTCULLIS_ISSUER", &v)?);
        }
        if let Some(v) = overrides.listen {
            config.listen = v;
        }
        if let Some(v) = overrides.data_dir {
            config.data_dir = v;
        }
        if let Some(v) = overrides.database_url {
            config.database_url = Some(Secret::new(v));
        }
        if let Some(v) = overrides.issuer {
            config.issuer = Some(v);
        }
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let bad = |name: &str, message: &str| {
            Err(ConfigError::Value {
                name: name.into(),
                message: message.into(),
            })
        };
        if self.password.memory_kib < 8 * self.password.parallelism.max(1) {
            return bad("password.memory_kib", "must be at least 8 KiB per lane");
        }
        if self.password.iterations == 0 || self.password.parallelism == 0 {
            return bad("password", "iterations and parallelism must be at least 1");
        }
        if self.lifetimes.token_minutes == 0 || self.lifetimes.token_minutes > 24 * 60 {
            return bad("lifetimes.token_minutes", "must be between 1 and 1440");
        }
        if let Some(issuer) = &self.issuer {
            if issuer.scheme() != "https" && !issuer.host_str().is_some_and(is_loopback_host) {
                return bad("issuer", "must be https:// (plain http only for localhost)");
            }
        }
        for c in &self.clients {
            if c.public == c.secret_file.is_some() {
                return bad(
                    &format!("clients.{}", c.client_id),
                    "a public client has no secret_file; a confidential client needs one",
                );
            }
            if c.redirect_uris.is_empty() {
                return bad(
                    &format!("clients.{}", c.client_id),
                    "needs at least one redirect_uri",
                );
            }
        }
        Ok(())
    }

    /// The database URL: the configured one, or SQLite in the data directory.
    pub fn database_url(&self) -> Secret {
        self.database_url.clone().unwrap_or_else(|| {
            Secret::new(format!(
                "sqlite://{}",
                self.data_dir.join("portcullis.db").display()
            ))
        })
    }

    /// The issuer URL: the configured one, or `http://` + the listen address.
    pub fn issuer(&self) -> String {
        match &self.issuer {
            Some(u) => u.as_str().trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn parse_value<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    v.trim().parse().map_err(|e: T::Err| ConfigError::Value {
        name: name.into(),
        message: format!("'{v}': {e}"),
    })
}

/// `NAME`, or the contents of the file `NAME_FILE` (trailing newline removed); both set is an
/// error, since one would silently win.
fn secret_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<Secret>, ConfigError> {
    let file_var = format!("{name}_FILE");
    match (env(name), env(&file_var)) {
        (Some(_), Some(_)) => Err(ConfigError::Value {
            name: name.into(),
            message: format!("set {name} or {file_var}, not both"),
        }),
        (Some(v), None) => Ok(Some(Secret::new(v))),
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map(|s| Some(Secret::new(s.trim_end_matches(['\n', '\r']))))
            .map_err(|source| ConfigError::Read {
                path: path.into(),
                source,
            }),
        (None, None) => Ok(None),
    }
}

/// A commented example configuration (`portcullis default-config`).
pub const EXAMPLE: &str = r#"# Portcullis configuration. Every key is optional; the values shown are the defaults.
# Layers, later wins: this file, then PORTCULLIS_* environment variables, then flags.

# Address and port to listen on (PORTCULLIS_LISTEN, --listen).
listen = "127.0.0.1:8080"

# Where the SQLite database and other state live (PORTCULLIS_DATA_DIR, --data-dir).
data_dir = "data"

# Database: SQLite in data_dir by default, or PostgreSQL (PORTCULLIS_DATABASE_URL, or
# PORTCULLIS_DATABASE_URL_FILE naming a file that holds it, --database-url).
# database_url = "postgres://portcullis:secret@127.0.0.1/portcullis"

# Public issuer URL, https:// except on localhost (PORTCULLIS_ISSUER, --issuer).
# issuer = "https://login.example.com"

[password]
# argon2id cost (OWASP: 19 MiB, 2 passes, 1 lane).
memory_kib = 19456
iterations = 2
parallelism = 1

[lifetimes]
token_minutes = 10
refresh_token_hours = 8
session_hours = 8
signing_key_days = 30

# OIDC clients. A public client uses PKCE S256 and has no secret.
# [[clients]]
# client_id = "portal"
# display_name = "Portcullis portal"
# redirect_uris = ["http://127.0.0.1:8080/portal/callback"]
# public = true
#
# [[clients]]
# client_id = "payroll"
# redirect_uris = ["https://payroll.example.com/oidc/callback"]
# secret_file = "/run/secrets/payroll-client-secret"
"#;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn the_example_is_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("portcullis.toml");
        std::fs::write(&file, EXAMPLE).unwrap();
        let c = Config::load(Some(&file), &env_of(&[]), Overrides::default()).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/var/lib/a\"\n",
        )
        .unwrap();
        let env = env_of(&[
            ("PORTCULLIS_DATA_DIR", "/var/lib/b"),
            ("PORTCULLIS_LISTEN", "127.0.0.1:9100"),
        ]);
        let c = Config::load(
            Some(&file),
            &env,
            Overrides {
                listen: Some("127.0.0.1:9200".parse().unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9200, "flag wins");
        assert_eq!(
            c.data_dir,
            PathBuf::from("/var/lib/b"),
            "environment beats file"
        );
        assert_eq!(
            c.database_url().expose(),
            "sqlite:///var/lib/b/portcullis.db"
        );
        assert_eq!(c.issuer(), "http://127.0.0.1:9200");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_their_place() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\nlisten_port = 3\n").unwrap();
        let err = Config::load(Some(&file), &env_of(&[]), Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("listen_port") && err.contains("line 2"),
            "{err}"
        );
        let err = Config::load(
            None,
            &env_of(&[("PORTCULLIS_LISTEN", "nowhere")]),
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("PORTCULLIS_LISTEN: 'nowhere'"), "{err}");
        let err = Config::load(
            None,
            &env_of(&[("PORTCULLIS_ISSUER", "http://idp.example.com")]),
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("https"), "{err}");
        let missing = Config::load(
            Some(Path::new("/no/such/portcullis.toml")),
            &env_of(&[]),
            Overrides::default(),
        );
        assert!(missing
            .unwrap_err()
            .to_string()
            .starts_with("/no/such/portcullis.toml: "));
    }

    #[test]
    fn secrets_come_from_files_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("db");
        std::fs::write(&secret, "postgres://u:hunter2@127.0.0.1/p\n").unwrap();
        let path = secret.to_str().unwrap();
        let c = Config::load(
            None,
            &env_of(&[("PORTCULLIS_DATABASE_URL_FILE", path)]),
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            c.database_url().expose(),
            "postgres://u:hunter2@127.0.0.1/p"
        );
        assert!(!format!("{c:?}").contains("hunter2"));
        let both = env_of(&[
            ("PORTCULLIS_DATABASE_URL_FILE", path),
            ("PORTCULLIS_DATABASE_URL", "x"),
        ]);
        assert!(Config::load(None, &both, Overrides::default())
            .unwrap_err()
            .to_string()
            .contains("not both"));
    }

    #[test]
    fn clients_must_be_coherent() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[[clients]]\nclient_id = \"app\"\nredirect_uris = [\"https://app.example/cb\"]\n",
        )
        .unwrap();
        let err = Config::load(Some(&file), &env_of(&[]), Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("clients.app"), "{err}");
    }
}
