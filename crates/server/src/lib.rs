//! The Portcullis service: an OpenID Connect provider whose sign-in pages ask for exactly what
//! Conditional Access requires, around the pure crates (`policy`, `authn`, `tokens`) and the
//! store.
//!
//! Data flows one way: HTTP → handler → pure decision (the `policy` engine, `authn` ceremonies)
//! → store transaction → response. [`Server::bind`] opens the store and keys; [`Server::serve`]
//! runs until its shutdown future completes.

pub mod access_token;
pub mod account;
pub mod admin;
pub mod browser;
pub mod config;
pub mod demo;
pub mod demo_client;
pub mod error;
pub mod graph;
pub mod metrics;
pub mod nul;
pub mod oidc;
pub mod outbox;
pub mod portal;
pub mod session;
pub mod signin;
pub mod state;
pub mod web;

/// The posture checks (lint, pre-flight) live in the application core; this path is kept for
/// the CLI and the tests.
pub use app::posture;

use crate::config::Config;
use crate::error::ServeError;
use crate::state::{AppState, Clock};
use axum::routing::get;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use store::Store;
use tokio::net::TcpListener;

/// A bound, ready service.
#[derive(Debug)]
pub struct Server {
    state: Arc<AppState>,
    listener: TcpListener,
    /// This process's claim on a SQLite file, held while it serves.
    _serve_lock: Option<store::ServeLock>,
}

impl Server {
    /// Opens the store (creating the SQLite file and data directory when needed), migrates it,
    /// loads or creates the signing keys, registers the configured clients, and binds the
    /// listening socket. With port 0 the issuer (unless configured) uses the port bound.
    pub async fn bind(config: Config, clock: Clock) -> Result<Server, ServeError> {
        if config.database_url.is_none() {
            std::fs::create_dir_all(&config.data_dir)?;
        }
        let listener = TcpListener::bind(config.listen).await?;
        let local = listener.local_addr()?;
        // Unconfigured, a loopback listener is named `localhost`: WebAuthn accepts
        // `http://localhost` as a secure origin, and relying-party ids cannot be IP addresses.
        let issuer = match &config.issuer {
            Some(_) => config.issuer(),
            None if local.ip().is_loopback() => format!("http://localhost:{}", local.port()),
            None => format!("http://{local}"),
        };
        let serve_lock = store::ServeLock::claim(config.database_url().expose())?;
        let store = Store::open(config.database_url().expose()).await?;
        if let Ok(d) = store.diagnostics().await {
            tracing::info!(backend = ?d.backend, encrypted = ?d.encrypted, schema = d.schema_version, "database opened");
        }
        let state = AppState::new(store, config, issuer, clock).await?;
        oidc::clients::register_configured(&state).await?;
        account::register_portal_client(&state).await?;
        portal::register_client(&state).await?;
        Ok(Server {
            state: Arc::new(state),
            listener,
            _serve_lock: serve_lock,
        })
    }

    /// The address the service listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        Ok(self.listener.local_addr()?)
    }

    /// The shared state (tests reach the store and clock through it).
    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `shutdown` completes; background jobs (key rotation, purging expired
    /// state) run alongside.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let jobs = tokio::spawn(background_jobs(self.state.clone()));
        let listening = tokio::spawn(follow_changes(self.state.clone()));
        // Outside the router: a path is rewritten before it is routed.
        let app = tower::ServiceExt::map_request(
            router(self.state.clone()),
            graph::collapse_repeated_slashes,
        );
        tracing::info!(issuer = %self.state.issuer, "listening");
        let served = axum::serve(
            self.listener,
            axum::ServiceExt::into_make_service_with_connect_info::<SocketAddr>(app),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        jobs.abort();
        listening.abort();
        self.state.store.close().await;
        Ok(served?)
    }
}

/// Every route of the service.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        // The Graph API's OpenAPI document (graph/openapi.rs), public like discovery.
        .route("/openapi.json", get(graph::openapi::serve))
        .merge(oidc::routes())
        .merge(signin::routes())
        .merge(account::routes())
        .merge(portal::routes())
        .merge(admin::routes())
        .merge(demo_client::routes())
        .merge(
            graph::routes().route_layer(axum::middleware::from_fn(graph::body::refuse_nul_in_uri)),
        )
        .merge(browser::routes())
        .layer(axum::middleware::from_fn(nul::refuse_nul))
        // Innermost, so that the security headers, the request counter and the trace see the
        // 500 it answers.
        .layer(catch_panics())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            browser::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// What answers a panic: a handler bug.
type PanicHandler = fn(Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response;

/// Answers a panic in a handler with `500` and a Graph error body naming a reference (the panic
/// itself is logged under it, never sent), instead of dropping the connection. Defence in depth:
/// input is bounded where it comes in, so that nothing a caller sends should panic.
pub fn catch_panics() -> tower_http::catch_panic::CatchPanicLayer<PanicHandler> {
    tower_http::catch_panic::CatchPanicLayer::custom(panic_response as PanicHandler)
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    graph::error::GraphError::from(ServeError::Internal(format!("handler panicked: {what}")))
        .into_response()
}

async fn count_requests(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    state.metrics.http_requests.inc();
    next.run(request).await
}

async fn healthz(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
) -> (axum::http::StatusCode, &'static str) {
    match state.store.diagnostics().await {
        Ok(_) => (axum::http::StatusCode::OK, "ok\n"),
        Err(e) => {
            tracing::error!(error = %e, "health check: store unreachable");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "store unreachable\n",
            )
        }
    }
}

async fn metrics(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// Keeps this node's Conditional Access engine in step with changes committed on any node:
/// each announcement (PostgreSQL `LISTEN`) marks the engine stale, so that the next decision
/// follows the store's change log first. A lost connection is made again, and the engine is
/// marked stale then too, as announcements may have been missed; meanwhile the engine's own
/// poll of the tenant version (every second) bounds how late a change is seen. On SQLite one
/// node serves and there is nothing to listen to.
async fn follow_changes(state: Arc<AppState>) {
    loop {
        match state.store.listen_for_changes().await {
            Ok(None) => return,
            Ok(Some(mut listener)) => {
                // A change committed before the listener listened is found by this catch-up.
                state.tenant_changed();
                loop {
                    match listener.next().await {
                        Ok(store::Heard::Change(_)) => state.metrics.change_heard("change"),
                        Ok(store::Heard::Reconnected) => {
                            tracing::warn!("listening for changes: connection lost and made again");
                            state.metrics.change_heard("reconnected");
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "listening for changes failed; retrying");
                            break;
                        }
                    }
                    state.tenant_changed();
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for changes; retrying"),
        }
        state.tenant_changed();
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Ends PIM activations on time: every few seconds, and at once at start-up (an activation
/// that ended while the service was down is closed on the first tick).
async fn expiry_job(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(EXPIRY_INTERVAL);
    loop {
        tick.tick().await;
        // One node at a time (store::Job): on PostgreSQL another node may be running it.
        let ran = state
            .store
            .run_exclusively(store::Job::Expiry, || graph::activation::expire_due(&state))
            .await;
        if let Err(e) = ran {
            tracing::error!(error = %e, "activation expiry job failed");
        }
    }
}

/// How often the expiry job runs. Conditional Access stops counting an activation at its end
/// whatever the job does (assignments are read with their end); the job closes it and audits.
pub const EXPIRY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Signing-key refresh (on every node: each loads the keys it signs and publishes with) and the
/// purging of expired single-use state (one node at a time), once a minute.
async fn background_jobs(state: Arc<AppState>) {
    let expiry = tokio::spawn(expiry_job(state.clone()));
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    let _stop_expiry_with_this_task = AbortOnDrop(expiry);
    loop {
        tick.tick().await;
        if let Err(e) = state.refresh_keys().await {
            tracing::error!(error = %e, "signing key refresh failed");
        }
        let now = state.now();
        let purged = state
            .store
            .run_exclusively(store::Job::Housekeeping, || async {
                if let Err(e) = state.store.purge_expired_challenges(now).await {
                    tracing::warn!(error = %e, "purging expired challenges failed");
                }
                state.store.purge_expired_transactions(now).await
            })
            .await;
        if let Err(e) = purged {
            tracing::warn!(error = %e, "purging expired sign-in transactions failed");
        }
    }
}
