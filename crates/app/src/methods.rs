//! A user's authentication methods as a service, for administrators and for the user: every
//! method they can authenticate with, and how each was registered (its provenance), so that an
//! administrator can see which keys count for a phishing-resistant gate before enforcing it.

use crate::authz::{AuthorizeError, ManageUsers};
use crate::conditional_access::LockoutGuard;
use crate::users::UserError;
use crate::{Authorized, Caller, Core};
use policy::method::AuthenticationMethodMode;
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
            if self.needs_global_administrator(caller, &user).await? {
                return Err(refused(
                    "an active Global Administrator role for a user who holds or may activate a role",
                ));
            }
        }
        Ok(self.store.list_methods(&user.id, self.now()).await?)
    }
}

/// A per-kind collection of a user's methods, as Graph names it under
/// `/users/{id}/authentication/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodKind {
    /// `fido2Methods`: security keys and passkeys.
    Fido2,
    /// `windowsHelloForBusinessMethods`: platform authenticators.
    WindowsHelloForBusiness,
    /// `softwareOathMethods`: authenticator apps (TOTP).
    SoftwareOath,
    /// `phoneMethods`: numbers that receive codes by text or call.
    Phone,
    /// `emailMethods`: addresses that receive codes.
    Email,
    /// `passwordMethods`: the password (read only; it is reset, never deleted).
    Password,
}

impl MethodKind {
    /// Every per-kind collection served here (temporary access passes have their own).
    pub const ALL: [MethodKind; 6] = [
        MethodKind::Fido2,
        MethodKind::WindowsHelloForBusiness,
        MethodKind::SoftwareOath,
        MethodKind::Phone,
        MethodKind::Email,
        MethodKind::Password,
    ];

    /// The kind a method of `mode` is listed under; `None` for passes and kinds this service
    /// does not register.
    pub fn of(mode: &AuthenticationMethodMode) -> Option<MethodKind> {
        use AuthenticationMethodMode as Mode;
        match mode {
            Mode::Fido2 => Some(MethodKind::Fido2),
            Mode::WindowsHelloForBusiness => Some(MethodKind::WindowsHelloForBusiness),
            Mode::SoftwareOath | Mode::HardwareOath => Some(MethodKind::SoftwareOath),
            Mode::Sms | Mode::Voice => Some(MethodKind::Phone),
            Mode::Email => Some(MethodKind::Email),
            Mode::Password => Some(MethodKind::Password),
            _ => None,
        }
    }

    /// The collection's path segment (`fido2Methods`, …).
    pub fn segment(self) -> &'static str {
        match self {
            MethodKind::Fido2 => "fido2Methods",
            MethodKind::WindowsHelloForBusiness => "windowsHelloForBusinessMethods",
            MethodKind::SoftwareOath => "softwareOathMethods",
            MethodKind::Phone => "phoneMethods",
            MethodKind::Email => "emailMethods",
            MethodKind::Password => "passwordMethods",
        }
    }

    /// The Graph type of its members, without the `#microsoft.graph.` prefix.
    pub fn graph_type(self) -> &'static str {
        match self {
            MethodKind::Fido2 => "fido2AuthenticationMethod",
            MethodKind::WindowsHelloForBusiness => "windowsHelloForBusinessAuthenticationMethod",
            MethodKind::SoftwareOath => "softwareOathAuthenticationMethod",
            MethodKind::Phone => "phoneAuthenticationMethod",
            MethodKind::Email => "emailAuthenticationMethod",
            MethodKind::Password => "passwordAuthenticationMethod",
        }
    }
}

impl Core {
    /// The methods of user `key` listed under `kind`, read under the rules of
    /// [`Core::authentication_methods`].
    pub async fn authentication_methods_of_kind(
        &self,
        caller: &Caller,
        key: &str,
        kind: MethodKind,
    ) -> Result<Vec<MethodSummary>, UserError> {
        let mut methods = self.authentication_methods(caller, key).await?;
        methods.retain(|m| MethodKind::of(&m.method) == Some(kind));
        Ok(methods)
    }

    /// An administrator deletes the method `method_id` (listed under `kind`) of user `key`:
    /// the caller needs an active User or Global Administrator role, checked here after the
    /// caller's own methods are turned away with the sentence that says where to go.
    ///
    /// The registration rules hold at this door too. A user does not delete their own method
    /// here: a bearer token is not a fresh proof, and a replayed one must not take a key away
    /// (Security info at `/account` asks for one). Only a Global Administrator deletes the
    /// method of a user who holds or may activate a role. The password is reset, not deleted.
    /// Deleting the last method with which any eligible Global Administrator could activate
    /// the role goes through the lockout guard. The deletion and its audit entry are one
    /// transaction; a refusal is audited.
    pub async fn delete_authentication_method(
        &self,
        caller: &Caller,
        key: &str,
        kind: MethodKind,
        method_id: &str,
        guard: LockoutGuard,
    ) -> Result<MethodSummary, UserError> {
        let user = self.user(caller, key).await?;
        let audit = caller
            .audit(
                "UserManagement",
                "Admin deleted security info",
                "Delete",
                self.now(),
            )
            .target("User", &user.id, Some(&user.user_principal_name));
        if caller.id() == user.id {
            let refused = UserError::Denied(
                "Your own security info is removed at Security info (/account), which asks for a \
                 fresh proof: an access token is not one."
                    .into(),
            );
            self.audit_refusal(audit, &refused).await;
            return Err(refused);
        }
        let allowed: Authorized<ManageUsers> = match self.authorize(caller).await {
            Ok(allowed) => allowed,
            Err(AuthorizeError::Denied(denied)) => {
                let refused = UserError::Denied(denied.message);
                self.audit_refusal(audit, &refused).await;
                return Err(refused);
            }
            Err(AuthorizeError::Store(e)) => return Err(e.into()),
        };
        let caller = allowed.caller();
        let audit = self.guard_privileged_target(caller, &user, audit).await?;
        let Some(method) = self
            .store
            .list_methods(&user.id, self.now())
            .await?
            .into_iter()
            .find(|m| MethodKind::of(&m.method) == Some(kind) && m.id == method_id)
        else {
            return Err(UserError::MethodNotFound(method_id.to_string()));
        };
        let audit = audit
            .detail("method", &method.label)
            .detail("methodMode", method.method.as_str())
            .detail(
                "registeredWith",
                &method
                    .provenance
                    .as_ref()
                    .map(|p| p.describe())
                    .unwrap_or_default(),
            );
        if kind == MethodKind::Password {
            let refused = UserError::Invalid(vec![
                "a password is not deleted: reset it (PATCH the user's passwordProfile)".into(),
            ]);
            self.audit_refusal(audit, &refused).await;
            return Err(refused);
        }
        let lockout = self.method_removal_lockout(&user.id, &method.id).await?;
        let audit = self
            .lockout_verdict(lockout, guard, audit, UserError::Lockout)
            .await?;
        match self
            .store
            .remove_method_audited(&user.id, &method.id, &audit)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Err(UserError::MethodNotFound(method.id)),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(
            admin = %caller.user.user_principal_name,
            user = %user.user_principal_name,
            method = %method.method,
            "method deleted by an administrator"
        );
        Ok(method)
    }
}
