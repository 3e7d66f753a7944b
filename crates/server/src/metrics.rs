//! Prometheus metrics, served at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use std::sync::Mutex;

/// Labels of the sign-in counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignInLabels {
    /// `success`, `failure` or `interrupted`.
    pub result: String,
}

/// Labels of the token counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    /// `authorization_code` or `refresh_token`.
    pub grant_type: String,
    /// `issued` or the OAuth error code.
    pub outcome: String,
}

/// Labels of the engine update counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EngineLabels {
    /// `built` (the whole tenant read), `followed` (only what changed read) or `unchanged`.
    pub how: String,
}

/// The service's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Sign-in attempts by result.
    pub sign_ins: Family<SignInLabels, Counter>,
    /// Token requests by grant type and outcome.
    pub tokens: Family<TokenLabels, Counter>,
    /// HTTP requests served.
    pub http_requests: Counter,
    /// Catch-ups of the Conditional Access engine with the store, by how.
    pub engine_updates: Family<EngineLabels, Counter>,
    /// Announcements of committed changes heard from the store (PostgreSQL `LISTEN`), by what
    /// was heard: `change`, or `reconnected` after the listening connection was lost.
    pub changes_heard: Family<EngineLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("portcullis");
        let sign_ins = Family::<SignInLabels, Counter>::default();
        let tokens = Family::<TokenLabels, Counter>::default();
        let http_requests = Counter::default();
        let engine_updates = Family::<EngineLabels, Counter>::default();
        let changes_heard = Family::<EngineLabels, Counter>::default();
        registry.register("sign_ins", "Sign-in attempts by result", sign_ins.clone());
        registry.register(
            "token_requests",
            "Token endpoint requests by grant type and outcome",
            tokens.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests served",
            http_requests.clone(),
        );
        registry.register(
            "engine_updates",
            "Conditional Access engine catch-ups with the store: built (the whole tenant read), \
             followed (only what changed read) or unchanged",
            engine_updates.clone(),
        );
        registry.register(
            "changes_heard",
            "Committed changes announced by the store (PostgreSQL LISTEN): change, or \
             reconnected after the listening connection was lost",
            changes_heard.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            sign_ins,
            tokens,
            http_requests,
            engine_updates,
            changes_heard,
        }
    }
}

impl Metrics {
    /// Counts a sign-in attempt.
    pub fn sign_in(&self, result: &str) {
        self.sign_ins
            .get_or_create(&SignInLabels {
                result: result.to_string(),
            })
            .inc();
    }

    /// Counts a catch-up of the engine: `built`, `followed` or `unchanged`.
    pub fn engine_update(&self, how: &str) {
        self.engine_updates
            .get_or_create(&EngineLabels {
                how: how.to_string(),
            })
            .inc();
    }

    /// How many catch-ups of the engine went this way.
    pub fn engine_updates(&self, how: &str) -> u64 {
        self.engine_updates
            .get_or_create(&EngineLabels {
                how: how.to_string(),
            })
            .get()
    }

    /// Counts an announcement heard from the store: `change` or `reconnected`.
    pub fn change_heard(&self, how: &str) {
        self.changes_heard
            .get_or_create(&EngineLabels {
                how: how.to_string(),
            })
            .inc();
    }

    /// How many announcements were heard this way.
    pub fn changes_heard(&self, how: &str) -> u64 {
        self.changes_heard
            .get_or_create(&EngineLabels {
                how: how.to_string(),
            })
            .get()
    }

    /// Counts a token request.
    pub fn token(&self, grant_type: &str, outcome: &str) {
        self.tokens
            .get_or_create(&TokenLabels {
                grant_type: grant_type.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
            tracing::error!(error = %e, "metrics did not encode");
        }
        out
    }
}
