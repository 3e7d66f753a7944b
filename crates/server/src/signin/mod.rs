//! The sign-in pages: identify, then perform exactly the methods that Conditional Access still
//! requires, then return to the application with a code.
//!
//! Every page is `GET /signin/{transaction}`: it re-reads the session and re-assesses, then
//! either shows what is still needed (only the user's registered methods that would satisfy
//! it), or completes the transaction and redirects to the client with a code. Each method is a
//! `POST /signin/{transaction}/{method}`; success records an authentication event in the
//! session (rotating the session cookie) and goes back to the page.
//!
//! Forms are protected against cross-site submission by the browser-binding cookie
//! (`SameSite=Lax`, so a cross-site POST does not carry it) that the transaction is tied to.

pub mod context;
pub mod flow;
pub mod lockout;
pub mod pages;
pub mod steps;
pub mod webauthn;

use crate::error::PageError;
use crate::oidc::request::AuthorizationRequest;
use crate::signin::context::SignInContext;
use crate::signin::flow::{Assessment, Circumstances, Grant, Subject, Verdict};
use crate::state::AppState;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use chrono::Duration;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use store::{AuthorizationCode, SignInRecord, SignInResult};

/// How long an authorization code can be redeemed.
const CODE_TTL: Duration = Duration::seconds(60);

/// The sign-in routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/signin/{tx}", get(page))
        .route("/signin/{tx}/username", post(steps::username))
        .route("/signin/{tx}/password", post(steps::password))
        .route("/signin/{tx}/totp", post(steps::totp))
        .route("/signin/{tx}/otp/send", post(steps::otp_send))
        .route("/signin/{tx}/otp", post(steps::otp_verify))
        .route("/signin/{tx}/tap", post(steps::tap))
        .route("/signin/{tx}/restart", post(steps::restart))
        .route("/signin/{tx}/webauthn/options", post(webauthn::options))
        .route("/signin/{tx}/webauthn", post(webauthn::finish))
}

/// The request facts Conditional Access reads (the peer address, never a forwarded header:
/// Portcullis does not know which proxies to trust).
pub fn circumstances(peer: SocketAddr, headers: &HeaderMap) -> Circumstances {
    Circumstances {
        ip: Some(peer.ip()),
        user_agent: headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }
}

/// Query of the sign-in page.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// A one-time code challenge just sent.
    pub otp: Option<String>,
}

async fn page(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(tx): Path<String>,
    Query(query): Query<PageQuery>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let ctx = SignInContext::load(&state, &tx, &jar).await?;
    let circumstances = circumstances(peer, &headers);
    proceed(&state, ctx, jar, &circumstances, None, query.otp).await
}

/// Assesses the transaction and answers: the code redirect, an error redirect, or the page
/// asking for what is missing (with `error` shown when a step just failed).
pub async fn proceed(
    state: &AppState,
    ctx: SignInContext,
    jar: CookieJar,
    circumstances: &Circumstances,
    error: Option<String>,
    pending_otp: Option<String>,
) -> Result<Response, PageError> {
    let now = state.now();
    let Some(user) = ctx.user.clone() else {
        if ctx.request.prompt_none {
            return Ok(error_redirect(
                state,
                &ctx.request,
                "login_required",
                "no one is signed in",
            ));
        }
        let view = pages::SignInView::identify(&ctx, error);
        return Ok((jar, view.render()?).into_response());
    };
    if !user.account_enabled {
        return Ok(pages::SignInView::disabled(&ctx).render()?.into_response());
    }
    let mut activating_role = None;
    if let Some(request_id) = &ctx.request.step_up_request {
        // A PIM step-up: only for a request of this user that waits for one.
        let waiting = match state.store.get_schedule_request(request_id).await {
            Ok(r) => (r.request.principal_id == user.id
                && r.status() == pim::Status::PendingStepUp)
                .then_some(r.request.role_definition_id),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        activating_role = waiting;
        if activating_role.is_none() {
            if !state
                .store
                .complete_transaction(&ctx.transaction.id, now)
                .await?
            {
                return Err(already_done());
            }
            return Ok(error_redirect(
                state,
                &ctx.request,
                "invalid_request",
                "step_up_request names no activation request of this user that waits for a step-up",
            ));
        }
    }
    let events = ctx.events(state).await?;
    let subject = Subject {
        user_id: &user.id,
        events: &events,
        transaction_started_at: ctx.transaction.created_at,
        transaction_id: Some(&ctx.transaction.id),
        request: &ctx.request,
        circumstances,
        activating_role: activating_role.as_deref(),
    };
    let Assessment {
        verdict,
        applied_policies,
    } = flow::assess(state, &subject, now).await?;
    match verdict {
        Verdict::Grant(grant) => {
            complete(state, &ctx, jar, grant, applied_policies, circumstances).await
        }
        Verdict::Block(reason) => {
            log_signin(
                state,
                &ctx,
                circumstances,
                SignInResult::Failure,
                Some(reason.clone()),
                Vec::new(),
                applied_policies,
            )
            .await?;
            if !state
                .store
                .complete_transaction(&ctx.transaction.id, now)
                .await?
            {
                return Err(already_done());
            }
            Ok(error_redirect(
                state,
                &ctx.request,
                "access_denied",
                &reason,
            ))
        }
        Verdict::Challenge(needs) => {
            if ctx.request.prompt_none {
                let code = if ctx.session.is_some() {
                    "interaction_required"
                } else {
                    "login_required"
                };
                let why: Vec<String> = needs.iter().map(|n| n.reason.clone()).collect();
                return Ok(error_redirect(state, &ctx.request, code, &why.join(" ")));
            }
            let registered = state.store.list_methods(&user.id, now).await?;
            // A key that was used and did not count: say why, and what to do.
            let mut error = error;
            if error.is_none() {
                let discounted = state
                    .discounted_keys(&user.id, &events)
                    .await
                    .map_err(flow::internal)?;
                if let Some((id, proof)) = discounted.first() {
                    let label = registered
                        .iter()
                        .find(|m| &m.id == id)
                        .map_or("Your key", |m| m.label.as_str());
                    error = Some(format!(
                        "'{label}' was registered with {} and does not count as \
                         phishing-resistant for an administrator. Ask an administrator for a \
                         temporary access pass and register a key with it in Security info \
                         (/account).",
                        proof.describe()
                    ));
                }
            }
            let mut view =
                pages::SignInView::challenge(&ctx, &user, &needs, &registered, error, pending_otp);
            view.webauthn &= state.webauthn.is_some();
            Ok((jar, view.render()?).into_response())
        }
    }
}

/// Issues the code: closes the transaction (once), records the code and the sign-in, and
/// sends the browser back to the client.
async fn complete(
    state: &AppState,
    ctx: &SignInContext,
    jar: CookieJar,
    grant: Grant,
    applied_policies: serde_json::Value,
    circumstances: &Circumstances,
) -> Result<Response, PageError> {
    let now = state.now();
    let (Some(user), Some(session)) = (&ctx.user, &ctx.session) else {
        return Err(PageError::from(crate::error::ServeError::Internal(
            "a granted sign-in without a session".into(),
        )));
    };
    if !state
        .store
        .complete_transaction(&ctx.transaction.id, now)
        .await?
    {
        return Err(already_done());
    }
    let code = crate::web::random_token()?;
    let request = &ctx.request;
    state
        .store
        .insert_code(&AuthorizationCode {
            code_hash: crate::web::token_hash(&code),
            client_id: request.client_id.clone(),
            user_id: user.id.clone(),
            session_id: session.id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.code_challenge.clone(),
            nonce: request.nonce.clone(),
            scope: request.scope.clone(),
            claims: request.claims.clone(),
            auth_time: grant.auth_time,
            acr: Some(grant.acr.clone()),
            amr: grant.amr.clone(),
            acrs: grant.acrs.clone(),
            expires_at: now + CODE_TTL,
            consumed_at: None,
            step_up_request: request.step_up_request.clone(),
        })
        .await?;
    log_signin(
        state,
        ctx,
        circumstances,
        SignInResult::Success,
        None,
        grant.methods.clone(),
        applied_policies,
    )
    .await?;
    // This browser (and address) now counts as known to the account: a flood of failures
    // elsewhere does not keep it out. The code is issued already: a store failure here costs
    // the browser its recognition, not the sign-in.
    let jar = match lockout::sign_in_completed(state, &user.id, circumstances.ip, &jar).await {
        Ok(Some(device)) => jar.add(device),
        Ok(None) => jar,
        Err(e) => {
            tracing::error!(error = %e, user = %user.id, "known device not remembered");
            jar
        }
    };
    tracing::info!(
        user = %user.user_principal_name,
        client_id = %request.client_id,
        acr = %grant.acr,
        acrs = ?grant.acrs,
        "signed in"
    );
    let target = redirect_with(
        &request.redirect_uri,
        &[
            ("code", Some(code.as_str())),
            ("state", request.state.as_deref()),
            ("iss", Some(state.issuer.as_str())),
        ],
    );
    Ok((jar, Redirect::to(&target)).into_response())
}

/// Appends a sign-in log record and counts it.
pub async fn log_signin(
    state: &AppState,
    ctx: &SignInContext,
    circumstances: &Circumstances,
    result: SignInResult,
    failure_reason: Option<String>,
    methods: Vec<String>,
    applied_policies: serde_json::Value,
) -> Result<(), PageError> {
    state.metrics.sign_in(result.as_str());
    state
        .store
        .append_signin(&SignInRecord {
            id: store::new_id(),
            created_at: state.now(),
            user_id: ctx.user.as_ref().map(|u| u.id.clone()),
            user_principal_name: ctx
                .user
                .as_ref()
                .map(|u| u.user_principal_name.clone())
                .unwrap_or_default(),
            client_id: Some(ctx.request.client_id.clone()),
            ip: circumstances.ip.map(|ip| ip.to_string()),
            result,
            failure_reason,
            methods,
            applied_policies,
            session_id: ctx.session.as_ref().map(|s| s.id.clone()),
            additional_details: None,
        })
        .await?;
    Ok(())
}

fn already_done() -> PageError {
    PageError::bad_request(
        "This sign-in is over",
        "This sign-in has already completed or was abandoned. Go back to the application and \
         start again.",
    )
}

/// The client's redirect URI with an OAuth error (RFC 6749 §4.1.2.1, RFC 9207 `iss`).
pub fn error_redirect(
    state: &AppState,
    request: &AuthorizationRequest,
    error: &str,
    description: &str,
) -> Response {
    Redirect::to(&redirect_with(
        &request.redirect_uri,
        &[
            ("error", Some(error)),
            ("error_description", Some(description)),
            ("state", request.state.as_deref()),
            ("iss", Some(state.issuer.as_str())),
        ],
    ))
    .into_response()
}

/// `uri` with parameters appended to its query.
pub fn redirect_with(uri: &str, params: &[(&str, Option<&str>)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            {
                let mut pairs = url.query_pairs_mut();
                for (k, v) in params {
                    if let Some(v) = v {
                        pairs.append_pair(k, v);
                    }
                }
            }
            url.to_string()
        }
        // Registered URIs are parsed at registration; this cannot happen for them.
        Err(_) => uri.to_string(),
    }
}
