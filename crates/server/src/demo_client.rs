//! A relying party built into the demo (`/demo`): it signs in through `/authorize` with PKCE
//! like any client, redeems the code at `/token` over HTTP, verifies the ID token against the
//! JWKS keys, and shows the claims — `acr`, `amr`, `acrs`, `auth_time` — so that a newcomer
//! sees what a step-up changes. Only served while the demo client `portcullis-demo` exists.

use crate::error::{PageError, ServeError};
use crate::state::AppState;
use crate::web::{cookie, pkce_s256, random_token, removal};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// The demo client's id.
pub use crate::demo::CLIENT_ID as DEMO_CLIENT_ID;
const DEMO_COOKIE: &str = "portcullis_demo_rp";

/// The demo client's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/demo", get(home))
        .route("/demo/start", get(start))
        .route("/demo/callback", get(callback))
}

#[derive(Template)]
#[template(path = "demo.html")]
struct DemoPage {
    error: Option<String>,
    id_token: Option<String>,
    access_token: Option<String>,
    /// The access token itself, for calling the API (`curl -H "Authorization: Bearer …"`).
    raw_access_token: Option<String>,
    /// The signed-in user's activation requests waiting for a step-up.
    waiting: Vec<Waiting>,
}

/// Whether the demo client is registered (the service was started with `portcullis demo`).
pub async fn is_registered(state: &AppState) -> Result<bool, ServeError> {
    demo_client_exists(state).await
}

/// The demo's page that starts the step-up of activation request `request_id` for `context`.
pub fn step_up_page(state: &AppState, context: &str, request_id: &str) -> String {
    let mut url = format!("{}/demo/start", state.issuer);
    url.push('?');
    url.push_str(
        &url::form_urlencoded::Serializer::new(String::new())
            .append_pair("acrs", context)
            .append_pair("step_up_request", request_id)
            .finish(),
    );
    url
}

/// A request of the signed-in user that waits for its step-up, as the demo page lists it.
#[derive(Debug, Clone)]
struct Waiting {
    role: String,
    context: String,
    start: String,
}

/// The user's activation requests that wait for a step-up, with the page that starts each.
async fn waiting_step_ups(state: &AppState, user_id: &str) -> Result<Vec<Waiting>, ServeError> {
    let records = state
        .store
        .list_schedule_requests(&store::ScheduleRequestQuery {
            principal_id: Some(user_id.to_string()),
            status: Some(pim::Status::PendingStepUp),
            limit: 20,
            ..store::ScheduleRequestQuery::default()
        })
        .await?;
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let definitions = state.store.list_role_definitions().await?;
    let mut waiting = Vec::new();
    for r in records {
        let role = r.request.role_definition_id.clone();
        let context = match state.store.get_role_policy(&role).await? {
            Some(stored) => stored
                .policy
                .authentication_context()
                .and_then(|c| c.required_context().ok().flatten())
                .map(|c| c.to_string()),
            None => None,
        };
        let Some(context) = context else { continue };
        let name = definitions
            .iter()
            .find(|d| d.id.eq_ignore_ascii_case(&role))
            .map_or_else(|| role.clone(), |d| d.display_name.clone());
        waiting.push(Waiting {
            start: step_up_page(state, &context, r.id()),
            role: name,
            context,
        });
    }
    Ok(waiting)
}

async fn demo_client_exists(state: &AppState) -> Result<bool, ServeError> {
    match state.store.get_client(DEMO_CLIENT_ID).await {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn render(page: DemoPage) -> Result<Response, PageError> {
    let html = page
        .render()
        .map_err(|e| ServeError::Internal(format!("demo page: {e}")))?;
    Ok(Html(html).into_response())
}

async fn home(State(state): State<Arc<AppState>>) -> Result<Response, PageError> {
    if !demo_client_exists(&state).await? {
        return Err(not_seeded());
    }
    render(DemoPage {
        error: None,
        id_token: None,
        access_token: None,
        raw_access_token: None,
        waiting: Vec::new(),
    })
}

fn not_seeded() -> PageError {
    PageError::new(
        axum::http::StatusCode::NOT_FOUND,
        "No demo here",
        "The demo client is not registered on this server. Start it with `portcullis demo`.",
    )
}

#[derive(Debug, Deserialize)]
struct StartQuery {
    /// An authentication context to step up to (`c1`…).
    acrs: Option<String>,
    /// `login` to force a new sign-in.
    prompt: Option<String>,
    /// A PIM activation request to step up for (from a `RoleAssignmentRequestAcrsValidationFailed`).
    step_up_request: Option<String>,
}

async fn start(
    State(state): State<Arc<AppState>>,
    Query(query): Query<StartQuery>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    if !demo_client_exists(&state).await? {
        return Err(not_seeded());
    }
    let verifier = random_token()?;
    let client_state = random_token()?;
    let nonce = random_token()?;
    let redirect_uri = format!("{}/demo/callback", state.issuer);
    let mut url = url::Url::parse(&format!("{}/authorize", state.issuer))
        .map_err(|e| ServeError::Internal(format!("issuer URL: {e}")))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", DEMO_CLIENT_ID)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", "openid profile")
            .append_pair("state", &client_state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &pkce_s256(&verifier))
            .append_pair("code_challenge_method", "S256");
        if let Some(c) = query.acrs.as_deref().filter(|c| !c.is_empty()) {
            let claims = json!({
                "id_token": { "acrs": { "essential": true, "value": c } },
                "access_token": { "acrs": { "essential": true, "value": c } },
            });
            q.append_pair("claims", &claims.to_string());
        }
        if let Some(r) = query.step_up_request.as_deref().filter(|r| !r.is_empty()) {
            q.append_pair("step_up_request", r);
        }
        if query.prompt.as_deref() == Some("login") {
            q.append_pair("prompt", "login");
        }
    }
    let remembered = json!({ "verifier": verifier, "state": client_state, "nonce": nonce });
    let jar = jar.add(cookie(
        DEMO_COOKIE,
        remembered.to_string(),
        state.secure_cookies,
        900,
    ));
    // Relative, so that the browser stays on the host it used.
    let target = format!("/authorize?{}", url.query().unwrap_or_default());
    Ok((jar, Redirect::to(&target)).into_response())
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(state): State<Arc<AppState>>,
    Query(query): Query<CallbackQuery>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let remembered: Option<Value> = jar
        .get(DEMO_COOKIE)
        .and_then(|c| serde_json::from_str(c.value()).ok());
    let jar = jar.add(removal(DEMO_COOKIE, state.secure_cookies));
    let page = |error: String| DemoPage {
        error: Some(error),
        id_token: None,
        access_token: None,
        raw_access_token: None,
        waiting: Vec::new(),
    };
    if let Some(e) = query.error {
        let text = format!("{e}: {}", query.error_description.unwrap_or_default());
        return Ok((jar, render(page(text))?).into_response());
    }
    let (Some(remembered), Some(code), Some(returned_state)) =
        (remembered, query.code, query.state)
    else {
        return Ok((
            jar,
            render(page(
                "The callback is missing its code, state or cookie; start again.".into(),
            ))?,
        )
            .into_response());
    };
    if remembered["state"].as_str() != Some(returned_state.as_str()) {
        return Ok((
            jar,
            render(page(
                "The state does not match: this response was not for this browser.".into(),
            ))?,
        )
            .into_response());
    }
    let verifier = remembered["verifier"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let response = reqwest::Client::new()
        .post(format!("{}/token", state.issuer))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", &format!("{}/demo/callback", state.issuer)),
            ("client_id", DEMO_CLIENT_ID),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .map_err(|e| {
            ServeError::Internal(format!(
                "the demo could not reach {}/token: {e}",
                state.issuer
            ))
        })?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| ServeError::Internal(format!("token response: {e}")))?;
    if !status.is_success() {
        return Ok((
            jar,
            render(page(format!("The token endpoint refused: {body}")))?,
        )
            .into_response());
    }
    let expect = |audience: &'static str| tokens::keys::Expectation {
        issuer: &state.issuer,
        audience,
        now: state.now(),
    };
    let id_token = body["id_token"].as_str().unwrap_or_default();
    let id_claims: Value = match state.keys().verify(id_token, &expect(DEMO_CLIENT_ID)) {
        Ok(c) => c,
        Err(e) => {
            return Ok((
                jar,
                render(page(format!("The ID token does not verify: {e}")))?,
            )
                .into_response())
        }
    };
    if id_claims["nonce"] != remembered["nonce"] {
        return Ok((
            jar,
            render(page("The ID token's nonce does not match.".into()))?,
        )
            .into_response());
    }
    let access_claims = decode_payload(body["access_token"].as_str().unwrap_or_default());
    let waiting = match id_claims["sub"].as_str() {
        Some(sub) => waiting_step_ups(&state, sub).await?,
        None => Vec::new(),
    };
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    Ok((
        jar,
        render(DemoPage {
            error: None,
            id_token: Some(pretty(&id_claims)),
            access_token: access_claims.as_ref().map(pretty),
            raw_access_token: body["access_token"].as_str().map(str::to_string),
            waiting,
        })?,
    )
        .into_response())
}

/// The payload of a JWT, unverified (shown for reading only).
fn decode_payload(jwt: &str) -> Option<Value> {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}
