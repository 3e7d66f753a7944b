//! Browser sessions: the one way a face turns a session (found by the hash of its cookie's
//! token) into a caller. A session counts while it is live (not expired, not signed out or
//! revoked); its user counts while the account exists and is enabled.

use crate::{Caller, Core};
use store::{Session, StoreError};

/// A live browser session and its enabled user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session.
    pub session: Session,
    /// Its user, as the services take callers.
    pub caller: Caller,
}

impl Core {
    /// The live session whose id is `id` (the hash of its cookie's token), if there is one.
    pub async fn live_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        match self.store.get_session(id).await {
            Ok(s) if s.is_live_at(self.now()) => Ok(Some(s)),
            // Ended already, or rotated away.
            Ok(_) => Ok(None),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The live session whose id is `id` and its user, if the account exists and is enabled.
    pub async fn signed_in(&self, id: &str) -> Result<Option<SignedIn>, StoreError> {
        let Some(session) = self.live_session(id).await? else {
            return Ok(None);
        };
        match self.store.get_user(&session.user_id).await {
            Ok(user) if user.account_enabled => Ok(Some(SignedIn {
                session,
                caller: Caller::new(user),
            })),
            Ok(_) => Ok(None),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}
