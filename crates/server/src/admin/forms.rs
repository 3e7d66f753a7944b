//! What the admin center's pages share: the form's fields as sent (a field
//! may repeat, as checkboxes do), and the gate of every write — the writer's permission now,
//! then a recent proof ([`super::freshness`]).

use super::{Admin, Freshness, Reauth, Section};
use crate::error::PageError;
use crate::session::BrowserSession;
use crate::state::AppState;
use app::authz::ManageConditionalAccess;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use std::net::SocketAddr;

/// A form's fields in the order sent, a name possibly repeated.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    /// The fields of a decoded form body.
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Fields {
        Fields(pairs)
    }

    /// The first value of `name`, as typed (empty when absent).
    pub(crate) fn one(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Every non-blank value of `name`, trimmed, each once, in the order sent.
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (n, v) in &self.0 {
            let v = v.trim();
            if n == name && !v.is_empty() && !out.iter().any(|o| o == v) {
                out.push(v.to_string());
            }
        }
        out
    }

    /// The first value of `name`, trimmed (empty when absent).
    pub(crate) fn trimmed(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// Whether nothing was sent (a page opened without a question).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a checkbox `name` was sent (checked).
    pub(crate) fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }
}

/// What the gate of a write decided.
pub(crate) enum Writer {
    /// Not signed in (to the sign-in) or not a writer (a `403` page): the answer to send.
    Refused(Response),
    /// A writer; `stale` says why the write must wait for a new proof, if it must.
    Open {
        /// The page, opened with the permission to change Conditional Access.
        admin: Box<Admin<ManageConditionalAccess>>,
        /// The notice for a write refused for freshness.
        stale: Option<Reauth>,
    },
}

/// The request facts a write's gate reads.
pub(crate) struct Request<'a> {
    /// The browser's address.
    pub peer: SocketAddr,
    /// Its headers.
    pub headers: &'a HeaderMap,
}

/// Opens a write on `section` (coming back to `back`): the caller must hold
/// [`ManageConditionalAccess`] now and have proved themselves recently enough.
pub(crate) async fn writer(
    state: &AppState,
    jar: CookieJar,
    session: Option<BrowserSession>,
    section: Section,
    back: &str,
    request: Request<'_>,
) -> Result<Writer, PageError> {
    let admin =
        match super::open::<ManageConditionalAccess>(state, jar, session, section, back).await? {
            Ok(admin) => admin,
            Err(response) => return Ok(Writer::Refused(response)),
        };
    let circumstances = super::circumstances(request.peer, request.headers);
    let stale = match super::freshness(state, &admin, &circumstances).await? {
        Freshness::Fresh => None,
        Freshness::Stale { contexts, reason } => Some(Reauth::new(back, &contexts, reason)),
    };
    Ok(Writer::Open {
        admin: Box::new(admin),
        stale,
    })
}

/// Whether the caller of a read page may also change the section (the page then shows its
/// forms; every write checks the permission again).
pub(crate) fn may_write(admin_frame: &super::Frame) -> bool {
    admin_frame
        .nav
        .iter()
        .any(|n| n.section == admin_frame.current && n.access.write)
}

/// A service's refusal as a page shows it next to the form: the status and the sentence, or,
/// for a failure that is not the caller's mistake (`code` is `None`), the error page.
pub(crate) fn refusal(
    code: Option<app::ErrorCode>,
    error: &(impl std::error::Error + ?Sized),
) -> Result<(StatusCode, String), PageError> {
    use app::ErrorCode as C;
    let Some(code) = code else {
        return Err(super::internal("the admin center", error));
    };
    let status = match code {
        C::ResourceNotFound => StatusCode::NOT_FOUND,
        C::ConditionalAccessLockout | C::ConcurrentChange | C::Conflict => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    Ok((status, error.to_string()))
}

/// The status of a write refused for freshness: the caller must authenticate again.
pub(crate) const STALE: StatusCode = StatusCode::UNAUTHORIZED;

/// The permission to read Conditional Access of a writer (every role that may change it may
/// read it), to show the page again around a refused form.
pub(crate) async fn reader(
    state: &AppState,
    caller: &app::Caller,
) -> Result<app::Authorized<app::authz::ReadConditionalAccess>, PageError> {
    match state
        .core
        .authorize::<app::authz::ReadConditionalAccess>(caller)
        .await
    {
        Ok(allowed) => Ok(allowed),
        Err(app::authz::AuthorizeError::Denied(_)) => {
            Err(super::denied::<app::authz::ReadConditionalAccess>())
        }
        Err(app::authz::AuthorizeError::Store(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::Fields;

    #[test]
    fn repeated_names_and_checkboxes_read_as_sent() {
        let f = Fields::new(vec![
            ("approver".into(), "a".into()),
            ("approver".into(), " ".into()),
            ("approver".into(), "b ".into()),
            ("approver".into(), "a".into()),
            ("required".into(), "on".into()),
            ("maximum".into(), " PT8H ".into()),
        ]);
        assert_eq!(f.all("approver"), vec!["a", "b"]);
        assert!(f.checked("required"));
        assert!(!f.checked("missing"));
        assert_eq!(f.trimmed("maximum"), "PT8H");
        assert_eq!(f.one("maximum"), " PT8H ");
        assert_eq!(f.trimmed("missing"), "");
        assert!(!f.is_empty());
        assert!(Fields::default().is_empty());
    }
}
