//! *What If* (`/admin/what-if`): which Conditional Access policies would apply to a sign-in,
//! and why — a user, a target (an application, a user action or an authentication context),
//! the conditions (address, country, platform, client app, risks) and the methods the session
//! holds. The form becomes a Graph evaluate request, answered by the service behind Graph's
//! `conditionalAccess/evaluate` (`Core::what_if`), which computes exactly what
//! `portcullis whatif` does over the same tenant, request and time; the page shows the request
//! and the time so that the CLI can be asked the same.

use super::forms::Fields;
use super::{open, Frame, Section};
use crate::error::PageError;
use crate::portal::render;
use crate::session::BrowserSession;
use crate::state::AppState;
use app::authz::ReadConditionalAccess;
use app::what_if::EvaluateError;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use chrono::{DateTime, TimeDelta, Utc};
use policy::EvaluateRequest;
use serde_json::{json, Value};
use std::sync::Arc;

/// The methods a session can be said to hold.
const METHODS: &[(&str, &str)] = &[
    ("password", "Password"),
    ("softwareOath", "Authenticator app code (TOTP)"),
    ("microsoftAuthenticatorPush", "Authenticator push"),
    ("sms", "SMS"),
    ("fido2", "Passkey or security key (FIDO2)"),
    ("windowsHelloForBusiness", "Windows Hello for Business"),
    ("x509CertificateMultiFactor", "Certificate (multifactor)"),
    (
        "temporaryAccessPassOneTime",
        "Temporary access pass (one-time)",
    ),
];

const PLATFORMS: &[&str] = &["", "windows", "macOS", "iOS", "android", "linux"];
const CLIENT_APPS: &[&str] = &[
    "",
    "browser",
    "mobileAppsAndDesktopClients",
    "exchangeActiveSync",
    "other",
];
const RISKS: &[&str] = &["", "none", "low", "medium", "high"];

/// An option of a `<select>`, or a checkbox.
struct Opt {
    value: String,
    label: String,
    selected: bool,
}

fn opts(all: &[&str], chosen: &str) -> Vec<Opt> {
    all.iter()
        .map(|v| Opt {
            value: (*v).to_string(),
            label: if v.is_empty() {
                "(unknown)".into()
            } else {
                (*v).to_string()
            },
            selected: *v == chosen,
        })
        .collect()
}

struct PolicyRow {
    id: String,
    name: String,
    state: String,
    applies: bool,
    reasons: String,
    result: String,
    requirements: String,
}

#[derive(Template)]
#[template(path = "admin_what_if.html")]
struct WhatIfPage {
    frame: Frame,
    user: String,
    target: String,
    value: String,
    ip: String,
    country: String,
    platforms: Vec<Opt>,
    client_apps: Vec<Opt>,
    sign_in_risks: Vec<Opt>,
    user_risks: Vec<Opt>,
    methods: Vec<Opt>,
    error: Option<String>,
    /// The answer: the decision, what is still required, every policy's result.
    decision: Option<String>,
    required: Vec<String>,
    policies: Vec<PolicyRow>,
    /// The request evaluated and when, for `portcullis whatif`.
    request: String,
    at: String,
}

/// The evaluate request the form stands for at `now`, or why the form cannot be one.
async fn request_of(
    state: &AppState,
    fields: &Fields,
    now: DateTime<Utc>,
) -> Result<Value, String> {
    let upn = fields.trimmed("user");
    if upn.is_empty() {
        return Err("Name the user (sign-in name).".into());
    }
    let user = match state.store.get_user_by_upn(upn).await {
        Ok(u) => u,
        Err(e) if e.is_not_found() => return Err(format!("No user is named '{upn}'.")),
        Err(e) => return Err(format!("The user cannot be read: {e}.")),
    };
    let value = fields.trimmed("value");
    let context = match fields.trimmed("target") {
        "application" => {
            let apps: Vec<&str> = value
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .collect();
            if apps.is_empty() {
                return Err("Name the application (its id, or All).".into());
            }
            json!({ "@odata.type": "#microsoft.graph.applicationContext", "includeApplications": apps })
        }
        "userAction" => {
            if !["registerSecurityInformation", "registerOrJoinDevices"].contains(&value) {
                return Err(
                    "The user action is registerSecurityInformation or registerOrJoinDevices."
                        .into(),
                );
            }
            json!({ "@odata.type": "#microsoft.graph.userActionContext", "userAction": value })
        }
        "authenticationContext" => {
            if policy::context::ContextId::parse(value).is_err() {
                return Err(format!(
                    "'{value}' is not an authentication context (c1 to c99)."
                ));
            }
            json!({ "@odata.type": "#microsoft.graph.authContext", "authenticationContextValue": value })
        }
        _ => return Err("Choose what the sign-in is for.".into()),
    };
    let mut conditions = serde_json::Map::new();
    for (field, name, allowed) in [
        ("platform", "devicePlatform", PLATFORMS),
        ("client_app", "clientAppType", CLIENT_APPS),
        ("sign_in_risk", "signInRiskLevel", RISKS),
        ("user_risk", "userRiskLevel", RISKS),
    ] {
        let v = fields.trimmed(field);
        if !allowed.contains(&v) {
            return Err(format!("'{v}' is not a choice for {name}."));
        }
        if !v.is_empty() {
            conditions.insert(name.into(), json!(v));
        }
    }
    let ip = fields.trimmed("ip");
    if !ip.is_empty() {
        if ip.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("'{ip}' is not an IP address."));
        }
        conditions.insert("ipAddress".into(), json!(ip));
    }
    let country = fields.trimmed("country");
    if !country.is_empty() {
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!("'{country}' is not a two-letter country code."));
        }
        conditions.insert("country".into(), json!(country.to_ascii_uppercase()));
    }
    // The methods were performed a minute ago, in the sign-in under way.
    let performed = now - TimeDelta::minutes(1);
    let held: Vec<Value> = fields
        .all("method")
        .iter()
        .filter(|m| METHODS.iter().any(|(v, _)| v == m))
        .map(|m| json!({ "method": m, "performedAt": performed }))
        .collect();
    Ok(json!({
        "signInIdentity": { "@odata.type": "#microsoft.graph.userSignIn", "userId": user.id },
        "signInContext": context,
        "signInConditions": conditions,
        "appliedPoliciesOnly": false,
        "authenticationSession": {
            "transactionStartedAt": now - TimeDelta::minutes(2),
            "methods": held,
        },
    }))
}

fn requirement_text(r: &Value) -> String {
    let kind = r["type"].as_str().unwrap_or("");
    match r["displayName"].as_str() {
        Some(name) if !name.is_empty() => format!("{kind}: {name}"),
        _ => kind.to_string(),
    }
}

fn alternatives(any_of: &Value) -> String {
    any_of
        .as_array()
        .map(|alts| {
            alts.iter()
                .map(|all| {
                    all.as_array()
                        .map(|rs| {
                            rs.iter()
                                .map(requirement_text)
                                .collect::<Vec<_>>()
                                .join(" and ")
                        })
                        .unwrap_or_default()
                })
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" — or — ")
        })
        .unwrap_or_default()
}

/// `GET /admin/what-if[?user=…&target=…&value=…&…&method=…]`: the form, and the answer once
/// it is filled in (a question changes nothing, so it is a `GET`).
pub(super) async fn page(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    session: Option<BrowserSession>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let admin = match open::<ReadConditionalAccess>(
        &state,
        jar,
        session,
        Section::WhatIf,
        "/admin/what-if",
    )
    .await?
    {
        Ok(admin) => admin,
        Err(response) => return Ok(response),
    };
    let fields = Fields::new(pairs);
    let held = fields.all("method");
    let mut page = WhatIfPage {
        frame: admin.frame,
        user: fields.trimmed("user").to_string(),
        target: match fields.trimmed("target") {
            "" => "application".into(),
            t => t.to_string(),
        },
        value: fields.trimmed("value").to_string(),
        ip: fields.trimmed("ip").to_string(),
        country: fields.trimmed("country").to_string(),
        platforms: opts(PLATFORMS, fields.trimmed("platform")),
        client_apps: opts(CLIENT_APPS, fields.trimmed("client_app")),
        sign_in_risks: opts(RISKS, fields.trimmed("sign_in_risk")),
        user_risks: opts(RISKS, fields.trimmed("user_risk")),
        methods: METHODS
            .iter()
            .map(|(v, l)| Opt {
                value: (*v).to_string(),
                label: (*l).to_string(),
                selected: held.iter().any(|h| h == v),
            })
            .collect(),
        error: None,
        decision: None,
        required: Vec::new(),
        policies: Vec::new(),
        request: String::new(),
        at: String::new(),
    };
    if fields.is_empty() {
        return render(StatusCode::OK, &page);
    }
    let now = state.now();
    let body = match request_of(&state, &fields, now).await {
        Ok(body) => body,
        Err(why) => {
            page.error = Some(why);
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    let request: EvaluateRequest = match serde_json::from_value(body.clone()) {
        Ok(r) => r,
        Err(e) => {
            page.error = Some(format!("The request cannot be evaluated: {e}."));
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    let answer = match state.core.what_if(&admin.allowed, &request, now).await {
        Ok(answer) => answer,
        Err(EvaluateError::Store(e)) => return Err(e.into()),
        Err(e @ EvaluateError::Request(_)) => {
            page.error = Some(e.to_string());
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    let answer = serde_json::to_value(&answer).map_err(|e| super::internal("What If", e))?;
    page.decision = answer["decision"]["result"].as_str().map(str::to_string);
    page.required = answer["decision"]["requirements"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|r| {
                    format!(
                        "{}: {}",
                        r["displayName"].as_str().unwrap_or(""),
                        alternatives(&r["anyOf"])
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    page.policies = answer["value"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|p| PolicyRow {
                    id: p["id"].as_str().unwrap_or("").to_string(),
                    name: p["displayName"].as_str().unwrap_or("").to_string(),
                    state: p["state"].as_str().unwrap_or("").to_string(),
                    applies: p["policyApplies"].as_bool().unwrap_or(false),
                    reasons: p["analysisReasons"].as_str().unwrap_or("").to_string(),
                    result: p["result"].as_str().unwrap_or("").to_string(),
                    requirements: alternatives(&p["requirements"]),
                })
                .collect()
        })
        .unwrap_or_default();
    page.request = serde_json::to_string_pretty(&body).unwrap_or_default();
    page.at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    render(StatusCode::OK, &page)
}
