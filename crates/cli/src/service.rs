//! `portcullis serve`, `portcullis demo`, `portcullis demo totp` and `portcullis default-config`:
//! the service and its configuration.

use anyhow::{anyhow, bail, Context, Result};
use server::config::{Config, Overrides};
use server::demo;
use server::state::Clock;
use server::Server;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where the configuration and the store are: what every command that opens the store takes.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StoreArgs {
    /// Configuration file (TOML; `portcullis default-config` prints a commented example).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Directory of the SQLite database and other state [default: data].
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Database: sqlite://PATH or postgres://USER:PASSWORD@HOST/DATABASE [default: SQLite in
    /// the data directory]. A URL with a password is better given through
    /// PORTCULLIS_DATABASE_URL_FILE, which other users cannot read in the process list.
    #[arg(long, value_name = "URL")]
    pub(crate) database_url: Option<String>,
}

/// The flags of `serve` and `demo`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR:PORT")]
    pub(crate) listen: Option<SocketAddr>,
    /// Public issuer URL, https:// except on localhost [default: http:// + the listen address].
    #[arg(long, value_name = "URL")]
    pub(crate) issuer: Option<url::Url>,
}

/// The configuration from its layers: defaults, the file, `PORTCULLIS_*` variables, the flags.
pub(crate) fn load_config(
    store: &StoreArgs,
    listen: Option<SocketAddr>,
    issuer: Option<url::Url>,
) -> Result<Config> {
    Ok(Config::load(
        store.config.as_deref(),
        &|k| std::env::var(k).ok(),
        Overrides {
            listen,
            data_dir: store.data_dir.clone(),
            database_url: store.database_url.clone(),
            issuer,
        },
    )?)
}

/// Logs go to standard error (standard output is for what the user asked for): `info` and
/// above unless `RUST_LOG` says otherwise.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Fails only when a subscriber is already set: then that one logs.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `portcullis serve [--demo]` and `portcullis demo`.
pub(crate) fn serve(args: &ServeArgs, with_demo: bool) -> Result<()> {
    let mut config = load_config(&args.store, args.listen, args.issuer.clone())?;
    if with_demo && config.issuer.is_none() {
        config.issuer = localhost_issuer(config.listen);
    }
    init_tracing();
    runtime()?.block_on(serve_async(config, with_demo))
}

/// The demo's issuer when none is configured: `http://localhost:PORT` for a loopback address,
/// since passkeys need a host name (WebAuthn refuses an IP address as relying party id). Port 0
/// keeps the default (the port bound is only known later).
fn localhost_issuer(listen: SocketAddr) -> Option<url::Url> {
    if !listen.ip().is_loopback() || listen.port() == 0 {
        return None;
    }
    url::Url::parse(&format!("http://localhost:{}", listen.port())).ok()
}

async fn serve_async(config: Config, with_demo: bool) -> Result<()> {
    let data_dir = config.data_dir.clone();
    let server = Server::bind(config, Clock::default())
        .await
        .context("cannot start the service")?;
    if with_demo {
        let state = server.state();
        let seeded = demo::seed(&state)
            .await
            .context("cannot set up the demo tenant")?;
        let path = std::path::absolute(data_dir.join(demo::CREDENTIALS_FILE))
            .unwrap_or_else(|_| data_dir.join(demo::CREDENTIALS_FILE));
        match seeded {
            Some(creds) => {
                demo::write_credentials_file(&data_dir, &creds)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!("{}", demo::print_instructions(&creds, &state.issuer));
                println!(
                    "These credentials are saved in {} (readable by you only).",
                    path.display()
                );
            }
            None => match demo::read_credentials_file(&data_dir) {
                Ok(creds) => {
                    println!("{}", demo::print_instructions(&creds, &state.issuer));
                    println!(
                        "The demo tenant was set up earlier; its credentials are in {}.",
                        path.display()
                    );
                }
                Err(e) => println!(
                    "The demo tenant was set up earlier, but its credentials file {} cannot be \
                     read ({e}). To start the demo afresh, stop the service and remove the data \
                     directory. Try it: {}/demo",
                    path.display(),
                    state.issuer
                ),
            },
        }
        if let Some(pass) = demo::onboarding_pass(&state)
            .await
            .context("cannot issue the demo's onboarding pass")?
        {
            println!();
            println!("{}", demo::print_onboarding(&pass, &state.issuer));
        }
    }
    server.serve(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; stop with Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        result = tokio::signal::ctrl_c() => {
            if let Err(e) = result {
                tracing::warn!(error = %e, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

/// `portcullis demo totp UPN`: the current TOTP code of a demo user, read from the demo's
/// credentials file.
pub(crate) fn demo_totp(upn: &str, config: Option<&Path>, data_dir: Option<PathBuf>) -> Result<()> {
    let store = StoreArgs {
        config: config.map(Path::to_path_buf),
        data_dir,
        database_url: None,
    };
    let config = load_config(&store, None, None)?;
    let path = config.data_dir.join(demo::CREDENTIALS_FILE);
    let creds = demo::read_credentials_file(&config.data_dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow!(
                "{} does not exist: start the demo first (`portcullis demo`), or pass the \
                 --data-dir it uses",
                path.display()
            )
        } else {
            anyhow!("{}: {e}", path.display())
        }
    })?;
    let Some(user) = creds.user(upn) else {
        let known: Vec<&str> = creds
            .users
            .iter()
            .map(|u| u.user_principal_name.as_str())
            .collect();
        bail!(
            "'{upn}' is not a demo user; the demo users are {}",
            known.join(", ")
        );
    };
    let Some(secret) = &user.totp_secret else {
        bail!(
            "{} has no authenticator app (password only)",
            user.user_principal_name
        );
    };
    let now = chrono::Utc::now();
    let code = demo::totp_code(secret, now)?;
    let step = demo::TOTP_STEP_SECONDS;
    let left = step - now.timestamp().rem_euclid(step);
    println!("{code}");
    eprintln!(
        "{}: valid for {left} more seconds; each code is accepted once.",
        user.user_principal_name
    );
    Ok(())
}

/// `portcullis default-config`.
pub(crate) fn default_config() {
    print!("{}", server::config::EXAMPLE);
}
