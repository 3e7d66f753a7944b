//! Portcullis' pure Conditional Access domain.
//!
//! Methods, strengths, contexts, named locations, policies (Graph v1.0 shapes), the directory
//! facts they read, and the evaluation that turns a sign-in into per-policy results and a
//! decision. No I/O and no clock: time comes in as a value.

pub mod amr;
pub mod api_write;
pub mod assessment;
pub mod change;
pub mod conditional_access;
pub mod context;
pub mod device_filter;
pub mod directory;
pub mod engine;
mod enums;
pub mod ids;
mod index;
pub mod location;
pub mod merge_patch;
pub mod method;
pub mod outcome;
pub mod posture;
pub mod references;
pub mod registration;
pub mod roles;
mod serde_util;
pub mod session;
pub mod signin;
pub mod strength;
pub mod tenant;
pub mod tri;
pub mod validate;
pub mod whatif;

pub use change::TenantChange;
pub use engine::{Engine, EvaluateError};
pub use enums::Flags;
pub use outcome::{
    AppliedResult, Decision, DecisionResult, PolicyEvaluation, Requirement, WhatIfReason,
};
pub use serde_util::Extra;
pub use signin::{EvaluateRequest, SignIn, Target};
pub use tenant::Tenant;
pub use validate::{validate, Finding, Severity};
pub use whatif::{what_if, WhatIfResponse};
