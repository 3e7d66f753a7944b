//! Server-rendered pages (askama templates in `crates/server/templates`, escaped by default).

use crate::error::{PageError, ServeError};
use crate::signin::context::SignInContext;
use crate::signin::flow::Need;
use askama::Template;
use axum::response::Html;
use policy::method::AuthenticationMethodMode as Mode;
use store::{MethodSummary, User};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// The HTML of an error page.
pub fn error_page(title: &str, message: &str) -> Result<String, askama::Error> {
    ErrorPage { title, message }.render()
}

/// A phone number or address a code can be sent to.
#[derive(Debug, Clone)]
pub struct ContactOffer {
    /// Its id.
    pub id: String,
    /// "Text a code to +1 555 …0123".
    pub label: String,
}

/// The sign-in page.
#[derive(Template, Debug, Clone, Default)]
#[template(path = "signin.html")]
pub struct SignInView {
    /// Transaction id (form actions).
    pub tx: String,
    /// Heading.
    pub heading: String,
    /// An error from the last step.
    pub error: Option<String>,
    /// The named user.
    pub upn: Option<String>,
    /// Pre-filled sign-in name.
    pub login_hint: String,
    /// Ask for the sign-in name.
    pub identify: bool,
    /// Why more is needed.
    pub reasons: Vec<String>,
    /// Offer the password.
    pub password: bool,
    /// Offer a TOTP code.
    pub totp: bool,
    /// Offer codes to these.
    pub contacts: Vec<ContactOffer>,
    /// A code was just sent for this challenge.
    pub otp_pending: Option<String>,
    /// Offer a security key or passkey.
    pub webauthn: bool,
    /// Offer a temporary access pass.
    pub tap: bool,
    /// When nothing can be offered: the methods that would do.
    pub missing: Vec<String>,
    /// The account is disabled.
    pub disabled: bool,
}

impl SignInView {
    /// The page asking for the sign-in name.
    pub fn identify(ctx: &SignInContext, error: Option<String>) -> SignInView {
        SignInView {
            tx: ctx.transaction.id.clone(),
            heading: "Sign in".into(),
            error,
            login_hint: ctx.request.login_hint.clone().unwrap_or_default(),
            identify: true,
            ..SignInView::default()
        }
    }

    /// The page for a disabled account.
    pub fn disabled(ctx: &SignInContext) -> SignInView {
        SignInView {
            tx: ctx.transaction.id.clone(),
            heading: "Account disabled".into(),
            upn: ctx.user.as_ref().map(|u| u.user_principal_name.clone()),
            disabled: true,
            ..SignInView::default()
        }
    }

    /// The page asking for what is still needed, offering only the user's registered methods
    /// that would satisfy it.
    pub fn challenge(
        ctx: &SignInContext,
        user: &User,
        needs: &[Need],
        registered: &[MethodSummary],
        error: Option<String>,
        otp_pending: Option<String>,
    ) -> SignInView {
        let wanted = |m: &Mode| needs.iter().any(|n| n.methods.contains(m));
        let has = |pred: &dyn Fn(&Mode) -> bool| {
            registered
                .iter()
                .any(|r| pred(&r.method) && wanted(&r.method))
        };
        let mut view = SignInView {
            tx: ctx.transaction.id.clone(),
            heading: if ctx.session.is_some() {
                "More proof needed".into()
            } else {
                "Sign in".into()
            },
            error,
            upn: Some(user.user_principal_name.clone()),
            reasons: needs.iter().map(|n| n.reason.clone()).collect(),
            password: has(&|m| *m == Mode::Password),
            totp: has(&|m| matches!(m, Mode::SoftwareOath | Mode::HardwareOath)),
            webauthn: has(&|m| matches!(m, Mode::Fido2 | Mode::WindowsHelloForBusiness)),
            tap: has(&|m| {
                matches!(
                    m,
                    Mode::TemporaryAccessPassOneTime | Mode::TemporaryAccessPassMultiUse
                )
            }),
            otp_pending,
            ..SignInView::default()
        };
        view.contacts = registered
            .iter()
            .filter(|r| {
                matches!(r.method, Mode::Sms | Mode::Voice | Mode::Email) && wanted(&r.method)
            })
            .map(|r| ContactOffer {
                id: r.id.clone(),
                label: match r.method {
                    Mode::Sms => format!("Text a code to {}", mask(&r.label)),
                    Mode::Voice => format!("Call {} with a code", mask(&r.label)),
                    _ => format!("E-mail a code to {}", mask(&r.label)),
                },
            })
            .collect();
        let offered =
            view.password || view.totp || view.webauthn || view.tap || !view.contacts.is_empty();
        if !offered {
            let mut missing: Vec<String> = needs
                .iter()
                .flat_map(|n| n.methods.iter().map(describe))
                .collect();
            missing.sort();
            missing.dedup();
            view.missing = missing;
        }
        view
    }

    /// Renders the page.
    pub fn render(&self) -> Result<Html<String>, PageError> {
        Template::render(self)
            .map(Html)
            .map_err(|e| PageError::from(ServeError::Internal(format!("sign-in page: {e}"))))
    }
}

/// A method as people know it.
pub fn describe(m: &Mode) -> String {
    match m {
        Mode::Password => "Password".into(),
        Mode::SoftwareOath => "Authenticator app code (TOTP)".into(),
        Mode::HardwareOath => "Hardware OATH token".into(),
        Mode::Sms => "Code by text message".into(),
        Mode::Voice => "Code by phone call".into(),
        Mode::Email => "Code by e-mail".into(),
        Mode::Fido2 => "Security key or passkey (FIDO2)".into(),
        Mode::WindowsHelloForBusiness => "Platform authenticator (Windows Hello, Touch ID)".into(),
        Mode::TemporaryAccessPassOneTime | Mode::TemporaryAccessPassMultiUse => {
            "Temporary access pass".into()
        }
        Mode::X509CertificateMultiFactor | Mode::X509CertificateSingleFactor => {
            "Certificate".into()
        }
        other => other.to_string(),
    }
}

/// Shows only the end of a number or the start of an address.
fn mask(s: &str) -> String {
    if let Some((local, domain)) = s.split_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}…@{domain}");
    }
    let tail: String = s
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}
