//! The Portcullis service: configuration, and (next) the OIDC provider, the Graph-compatible API
//! and the portal, around the pure crates.

pub mod config;
