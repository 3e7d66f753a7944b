//! `/v1.0/users/{id | userPrincipalName}/authentication/…`: a user's authentication methods,
//! all of them (`methods`) and per kind (`fido2Methods`, `softwareOathMethods`, …), each with
//! how it was registered (`registeredWith`, a Portcullis extension). The user reads their own;
//! administrators read and delete under the rules of [`app::methods`]. Temporary access passes
//! have their own routes (graph/access_passes.rs).

use crate::graph::auth::Caller;
use crate::graph::conditional_access::forced;
use crate::graph::error::GraphError;
use crate::graph::odata::{self, Accepts};
use crate::graph::openapi as doc;
use crate::state::AppState;
use app::methods::MethodKind;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use policy::method::AuthenticationMethodMode as Mode;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use store::MethodSummary;

/// A method in its Graph shape: the fields every kind has, what its kind adds, and the
/// provenance.
fn render(m: &MethodSummary) -> Value {
    let graph_type = match MethodKind::of(&m.method) {
        Some(kind) => kind.graph_type(),
        None => match m.method {
            Mode::TemporaryAccessPassOneTime | Mode::TemporaryAccessPassMultiUse => {
                "temporaryAccessPassAuthenticationMethod"
            }
            Mode::X509CertificateSingleFactor | Mode::X509CertificateMultiFactor => {
                "x509CertificateAuthenticationMethod"
            }
            _ => "authenticationMethod",
        },
    };
    let mut out = Map::new();
    out.insert(
        "@odata.type".into(),
        json!(format!("#microsoft.graph.{graph_type}")),
    );
    out.insert("id".into(), json!(m.id));
    out.insert("displayName".into(), json!(m.label));
    out.insert(
        "createdDateTime".into(),
        json!(m
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    );
    match m.method {
        Mode::Fido2 | Mode::WindowsHelloForBusiness => {
            out.insert("aaGuid".into(), json!(m.aaguid));
        }
        Mode::Sms | Mode::Voice => {
            out.insert("phoneNumber".into(), json!(m.label));
            out.insert("phoneType".into(), json!("mobile"));
            out.insert("smsSignInState".into(), json!("notSupported"));
        }
        Mode::Email => {
            out.insert("emailAddress".into(), json!(m.label));
        }
        Mode::SoftwareOath | Mode::HardwareOath => {
            out.insert("secretKey".into(), Value::Null);
        }
        Mode::Password => {
            out.insert("password".into(), Value::Null);
        }
        _ => {}
    }
    out.insert("methodMode".into(), json!(m.method.as_str()));
    out.insert("registeredWith".into(), json!(m.provenance));
    Value::Object(out)
}

fn context(state: &AppState, key: &str, segment: &str) -> String {
    format!(
        "{}/v1.0/$metadata#users('{key}')/authentication/{segment}",
        state.issuer
    )
}

/// `GET …/authentication/methods`: the user's own, or another's for a User or Global
/// Administrator (a Global Administrator's for users who hold or may activate a role).
#[utoipa::path(
    get,
    path = "/v1.0/users/{id}/authentication/methods",
    tag = "directory",
    params(
        ("id" = String, Path, description = "The user's id or userPrincipalName."),
    ),
    responses(
        (status = 200, description = "The user's methods.", body = doc::Collection<doc::AuthenticationMethod>),
    ),
)]
pub async fn all(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GraphError> {
    odata::parse(query.as_deref(), &Accepts::default())?;
    let methods = state.authentication_methods(&caller, &key).await?;
    Ok(Json(json!({
        "@odata.context": context(&state, &key, "methods"),
        "value": methods.iter().map(render).collect::<Vec<_>>(),
    })))
}

/// The user's methods of `kind`, for a request that takes no query options.
async fn of_kind(
    state: &AppState,
    caller: &Caller,
    key: &str,
    kind: MethodKind,
    query: Option<&str>,
) -> Result<Vec<MethodSummary>, GraphError> {
    odata::parse(query, &Accepts::default())?;
    Ok(state
        .authentication_methods_of_kind(caller, key, kind)
        .await?)
}

async fn list_kind(
    state: &AppState,
    caller: &Caller,
    key: &str,
    kind: MethodKind,
    query: Option<&str>,
) -> Result<Json<Value>, GraphError> {
    let methods = of_kind(state, caller, key, kind, query).await?;
    Ok(Json(json!({
        "@odata.context": context(state, key, kind.segment()),
        "value": methods.iter().map(render).collect::<Vec<_>>(),
    })))
}

async fn get_kind(
    state: &AppState,
    caller: &Caller,
    (key, id): (&str, &str),
    kind: MethodKind,
    query: Option<&str>,
) -> Result<Json<Value>, GraphError> {
    let methods = of_kind(state, caller, key, kind, query).await?;
    match methods.iter().find(|m| m.id == id) {
        Some(m) => Ok(Json(odata::entity(
            render(m),
            format!("{}/$entity", context(state, key, kind.segment())),
        ))),
        None => Err(GraphError::not_found("Authentication method", id)),
    }
}

async fn delete_kind(
    state: &AppState,
    caller: &Caller,
    (key, id): (&str, &str),
    kind: MethodKind,
    query: Option<&str>,
) -> Result<StatusCode, GraphError> {
    let guard = forced(query)?;
    state
        .delete_authentication_method(caller, key, kind, id, guard)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

macro_rules! kind_handlers {
    ($($list:ident, $get:ident, $delete:ident => $kind:expr, $list_path:literal, $item_path:literal;)+) => {
        $(
            #[doc = concat!("`GET …/authentication/", stringify!($list), "`: the user's methods of this kind.")]
            #[utoipa::path(
                get,
                path = $list_path,
                tag = "directory",
                params(("id" = String, Path, description = "The user's id or userPrincipalName.")),
                responses((status = 200, description = "The user's methods of this kind.", body = doc::Collection<doc::AuthenticationMethod>)),
            )]
            pub async fn $list(
                State(state): State<Arc<AppState>>,
                caller: Caller,
                Path(key): Path<String>,
                RawQuery(query): RawQuery,
            ) -> Result<Json<Value>, GraphError> {
                list_kind(&state, &caller, &key, $kind, query.as_deref()).await
            }

            #[doc = "`GET …/{method id}`: one method of this kind."]
            #[utoipa::path(
                get,
                path = $item_path,
                tag = "directory",
                params(
                    ("id" = String, Path, description = "The user's id or userPrincipalName."),
                    ("method_id" = String, Path, description = "The method's id."),
                ),
                responses((status = 200, description = "The method.", body = doc::AuthenticationMethod)),
            )]
            pub async fn $get(
                State(state): State<Arc<AppState>>,
                caller: Caller,
                Path((key, id)): Path<(String, String)>,
                RawQuery(query): RawQuery,
            ) -> Result<Json<Value>, GraphError> {
                get_kind(&state, &caller, (&key, &id), $kind, query.as_deref()).await
            }

            #[doc = "`DELETE …/{method id}[?force=true]`: an administrator deletes it; `204`."]
            #[utoipa::path(
                delete,
                path = $item_path,
                tag = "directory",
                params(
                    ("id" = String, Path, description = "The user's id or userPrincipalName."),
                    ("method_id" = String, Path, description = "The method's id."),
                    doc::Force,
                ),
                responses((status = 204, description = "Deleted.")),
            )]
            pub async fn $delete(
                State(state): State<Arc<AppState>>,
                caller: Caller,
                Path((key, id)): Path<(String, String)>,
                RawQuery(query): RawQuery,
            ) -> Result<StatusCode, GraphError> {
                delete_kind(&state, &caller, (&key, &id), $kind, query.as_deref()).await
            }
        )+
    };
}

kind_handlers! {
    fido2_methods, fido2_method, delete_fido2_method => MethodKind::Fido2,
        "/v1.0/users/{id}/authentication/fido2Methods",
        "/v1.0/users/{id}/authentication/fido2Methods/{method_id}";
    windows_hello_methods, windows_hello_method, delete_windows_hello_method
        => MethodKind::WindowsHelloForBusiness,
        "/v1.0/users/{id}/authentication/windowsHelloForBusinessMethods",
        "/v1.0/users/{id}/authentication/windowsHelloForBusinessMethods/{method_id}";
    software_oath_methods, software_oath_method, delete_software_oath_method
        => MethodKind::SoftwareOath,
        "/v1.0/users/{id}/authentication/softwareOathMethods",
        "/v1.0/users/{id}/authentication/softwareOathMethods/{method_id}";
    phone_methods, phone_method, delete_phone_method => MethodKind::Phone,
        "/v1.0/users/{id}/authentication/phoneMethods",
        "/v1.0/users/{id}/authentication/phoneMethods/{method_id}";
    email_methods, email_method, delete_email_method => MethodKind::Email,
        "/v1.0/users/{id}/authentication/emailMethods",
        "/v1.0/users/{id}/authentication/emailMethods/{method_id}";
    password_methods, password_method, delete_password_method => MethodKind::Password,
        "/v1.0/users/{id}/authentication/passwordMethods",
        "/v1.0/users/{id}/authentication/passwordMethods/{method_id}";
}
