//! What-If as a service: how the tenant's Conditional Access policies, as stored now, would
//! decide a sign-in described by a Graph evaluate request — the same answer as
//! `portcullis whatif` over the same tenant and time.

use crate::authz::ReadConditionalAccess;
use crate::code::ErrorCode;
use crate::{Authorized, Core};
use chrono::{DateTime, Utc};
use policy::whatif::WhatIfError;
use policy::{what_if, EvaluateRequest, WhatIfResponse};
use store::StoreError;

/// Why a What-If could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// The request cannot be evaluated (a malformed field, a sign-in the tenant cannot judge).
    #[error("{0}")]
    Request(#[from] WhatIfError),
    /// The store failed (internal).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EvaluateError {
    /// The Graph error code of a caller's mistake; `None` for an internal failure.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            EvaluateError::Request(_) => Some(ErrorCode::BadRequest),
            EvaluateError::Store(_) => None,
        }
    }
}

impl Core {
    /// Evaluates `request` against the policies in force, at `at`.
    pub async fn what_if(
        &self,
        _allowed: &Authorized<ReadConditionalAccess>,
        request: &EvaluateRequest,
        at: DateTime<Utc>,
    ) -> Result<WhatIfResponse, EvaluateError> {
        let engine = self.engine().await?;
        Ok(what_if(&engine, request, at)?)
    }
}
