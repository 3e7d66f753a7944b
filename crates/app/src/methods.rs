//! A user's authentication methods as a service, for administrators and for the user: every
//! method they can authenticate with, and how each was registered (its provenance), so that an
//! administrator can see which keys count for a phishing-resistant gate before enforcing it.

use crate::authz::ManageUsers;
use crate::users::UserError;
use crate::{Caller, Core};
use policy::roles::BuiltInRole;
use store::MethodSummary;

impl Core {
    /// The methods of user `key` (an id or a sign-in name). The user reads their own; others
    /// need an active User or Global Administrator role, and only a Global Administrator reads
    /// those of a user who holds or may activate a role (a method list tells an attacker what
    /// to phish).
    pub async fn authentication_methods(
        &self,
        caller: &Caller,
        key: &str,
    ) -> Result<Vec<MethodSummary>, UserError> {
        let user = self.user(caller, key).await?;
        if caller.id() != user.id {
            let refused = |needs: &str| {
                UserError::Denied(format!(
                    "Reading another user's authentication methods requires {needs}."
                ))
            };
            if !self.may::<ManageUsers>(caller).await? {
                return Err(refused("an active User or Global Administrator role"));
            }
            if self.may_hold_a_role(&user.id).await?
                && !self
                    .holds_active_role(&caller.id(), &[BuiltInRole::GlobalAdministrator])
                    .await?
            {
                return Err(refused(
                    "an active Global Administrator role for a user who holds or may activate a role",
                ));
            }
        }
        Ok(self.store.list_methods(&user.id, self.now()).await?)
    }
}
