//! The OpenID Connect provider: discovery, JWKS, `/authorize`, `/token`, `/userinfo`,
//! end-session, and client registration.

pub mod authorize;
pub mod clients;
pub mod discovery;
pub mod logout;
pub mod request;
pub mod token;
pub mod userinfo;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// The provider's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::configuration),
        )
        .route("/jwks", get(discovery::jwks))
        .route("/authorize", get(authorize::authorize))
        .route("/token", post(token::token))
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route(
            "/logout",
            get(logout::end_session).post(logout::end_session),
        )
}
