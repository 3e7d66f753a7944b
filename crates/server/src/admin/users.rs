//! *Users* (`/admin/users`): every user with whether they may sign in; create one (sign-in
//! name, name, first password), rename, enable or disable, delete — through the services of
//! Graph's `/users` (`Core::create_user`, `update_user`, `delete_user`, with their rules: a
//! user who holds or may activate a role is changed only by a Global Administrator, and the
//! lockout guard keeps the last eligible Global Administrators).

use super::forms::Fields;
use super::{freshness, open, Frame, Freshness, Reauth, Section};
use crate::error::PageForm;
use crate::error::{PageError, ServeError};
use crate::portal::{render, when};
use crate::session::BrowserSession;
use crate::state::AppState;
use app::authz::ManageUsers;
use app::conditional_access::LockoutGuard;
use app::users::{NewUser, UserError};
use askama::Template;
use authn::secrecy::SecretString;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

const PATH: &str = "/admin/users";

struct UserRow {
    id: String,
    upn: String,
    name: String,
    enabled: bool,
    kind: String,
    created: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    frame: Frame,
    users: Vec<UserRow>,
    /// The sign-in name prefix searched for (empty: all).
    search: String,
    /// Whether more users match than the page lists.
    more: bool,
    upn: String,
    name: String,
    error: Option<String>,
    notice: Option<String>,
    reauth: Option<Reauth>,
}

/// How many users the page lists at most; a search narrows a large tenant.
const LISTED: u32 = 200;

async fn page_of(
    state: &AppState,
    frame: Frame,
    fields: &Fields,
    search: &str,
) -> Result<UsersPage, PageError> {
    let search = search.trim();
    let mut found = state.store.find_users(search, LISTED + 1).await?;
    let more = found.len() > LISTED as usize;
    found.truncate(LISTED as usize);
    let mut users: Vec<UserRow> = found
        .into_iter()
        .map(|u| UserRow {
            created: when(u.created_at),
            id: u.id,
            upn: u.user_principal_name,
            name: u.display_name,
            enabled: u.account_enabled,
            kind: u.user_type,
        })
        .collect();
    users.sort_by_key(|u| u.upn.to_lowercase());
    Ok(UsersPage {
        frame,
        users,
        search: search.to_string(),
        more,
        upn: fields.trimmed("upn").to_string(),
        name: fields.trimmed("name").to_string(),
        error: None,
        notice: None,
        reauth: None,
    })
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Done {
    #[serde(default)]
    done: Option<String>,
    /// The search: users whose sign-in name starts with it.
    #[serde(default)]
    q: String,
}

/// `GET /admin/users`.
pub(super) async fn page(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let admin = match open::<ManageUsers>(&state, jar, session, Section::Users, PATH).await? {
        Ok(admin) => admin,
        Err(response) => return Ok(response),
    };
    let mut page = page_of(&state, admin.frame, &Fields::default(), &done.q).await?;
    page.notice = done.done.map(|d| format!("The user was {d}."));
    render(StatusCode::OK, &page)
}

fn status_of(e: &UserError) -> StatusCode {
    match e {
        UserError::NotFound(_) | UserError::MethodNotFound(_) => StatusCode::NOT_FOUND,
        UserError::Exists(_) | UserError::Lockout(_) => StatusCode::CONFLICT,
        UserError::Denied(_) | UserError::PrivilegedTarget(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// `POST /admin/users` (`op` = `create`, `rename`, `enable`, `disable`, `delete`).
pub(super) async fn change(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Option<BrowserSession>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let admin = match open::<ManageUsers>(&state, jar, session, Section::Users, PATH).await? {
        Ok(admin) => admin,
        Err(response) => return Ok(response),
    };
    let fields = Fields::new(pairs);
    let op = fields.trimmed("op").to_string();
    let stale = freshness(&state, &admin, &super::circumstances(peer, &headers)).await?;
    let frame = Frame::of(&state, admin.allowed.caller(), Section::Users).await?;
    let kept = if op == "create" {
        fields.clone()
    } else {
        Fields::default()
    };
    let mut page = page_of(&state, frame, &kept, "").await?;
    if let Freshness::Stale { contexts, reason } = stale {
        page.reauth = Some(Reauth::new(PATH, &contexts, reason));
        return render(super::forms::STALE, &page);
    }
    let user = fields.trimmed("user").to_string();
    let result = match op.as_str() {
        "create" => {
            let password = fields.trimmed("password").to_string();
            if password.chars().count() < crate::graph::users::MIN_PASSWORD {
                Err(UserError::Invalid(vec![format!(
                    "the first password needs at least {} characters",
                    crate::graph::users::MIN_PASSWORD
                )]))
            } else {
                let params = state.config.password;
                let phc = tokio::task::spawn_blocking(move || {
                    authn::password::hash_password(&params, &SecretString::from(password))
                })
                .await
                .map_err(|e| ServeError::Internal(format!("hashing a password: {e}")))?
                .map_err(|e| ServeError::Internal(format!("hashing a password: {e}")))?;
                state
                    .core
                    .create_user(
                        &admin.allowed,
                        NewUser {
                            user_principal_name: fields.trimmed("upn").to_string(),
                            display_name: fields.trimmed("name").to_string(),
                            account_enabled: true,
                            password_phc: Some(phc.as_str().to_string()),
                        },
                    )
                    .await
                    .map(|_| "created")
            }
        }
        "rename" => state
            .core
            .update_user(
                &admin.allowed,
                &user,
                &json!({ "displayName": fields.trimmed("name") }),
                LockoutGuard::Enforce,
            )
            .await
            .map(|_| "renamed"),
        "enable" | "disable" => state
            .core
            .update_user(
                &admin.allowed,
                &user,
                &json!({ "accountEnabled": op == "enable" }),
                LockoutGuard::Enforce,
            )
            .await
            .map(|_| {
                if op == "enable" {
                    "enabled"
                } else {
                    "disabled"
                }
            }),
        "delete" => state
            .core
            .delete_user(&admin.allowed, &user, LockoutGuard::Enforce)
            .await
            .map(|_| "deleted"),
        _ => Err(UserError::Invalid(vec!["unknown action".into()])),
    };
    match result {
        Ok(done) => Ok(Redirect::to(&format!("{PATH}?done={done}")).into_response()),
        Err(UserError::Store(e)) => Err(e.into()),
        Err(e @ UserError::Posture(_)) => Err(super::internal("users", e)),
        Err(e) => {
            let status = status_of(&e);
            page.error = Some(e.to_string());
            render(status, &page)
        }
    }
}
