//! The sign-in log and the audit log as a service, for those who may read reports.
//!
//! Both logs are append-only and written by the services that act (sign-in, PIM, Conditional
//! Access, imports); reading them is all a face can do, and only with [`ReadAuditLogs`].

use crate::authz::ReadAuditLogs;
use crate::{Authorized, Core};
use store::{AuditQuery, AuditRecord, AuditVerification, SignInQuery, SignInRecord, StoreError};

impl Core {
    /// Sign-ins matching `query`, newest first.
    pub async fn sign_ins(
        &self,
        _allowed: &Authorized<ReadAuditLogs>,
        query: &SignInQuery,
    ) -> Result<Vec<SignInRecord>, StoreError> {
        self.store.query_signins(query).await
    }

    /// One sign-in; `None` when no sign-in has this id.
    pub async fn sign_in(
        &self,
        _allowed: &Authorized<ReadAuditLogs>,
        id: &str,
    ) -> Result<Option<SignInRecord>, StoreError> {
        match self.store.get_signin(id).await {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Audit entries matching `query`, newest first.
    pub async fn directory_audits(
        &self,
        _allowed: &Authorized<ReadAuditLogs>,
        query: &AuditQuery,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.store.query_audits(query).await
    }

    /// One audit entry; `None` when no entry has this id.
    pub async fn directory_audit(
        &self,
        _allowed: &Authorized<ReadAuditLogs>,
        id: &str,
    ) -> Result<Option<AuditRecord>, StoreError> {
        match self.store.get_audit(id).await {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Recomputes the audit log's hash chain (as `portcullis audit verify` does): how many
    /// entries, and the first one at which it breaks, if any.
    pub async fn verify_audit_log(
        &self,
        _allowed: &Authorized<ReadAuditLogs>,
    ) -> Result<AuditVerification, StoreError> {
        self.store.verify_audit_chain().await
    }
}
