//! The admin center's Conditional Access sections over real HTTP, on SQLite and PostgreSQL:
//! who may see and who may change them (a reader sees no form and a reader's `POST` is
//! refused; a non-administrator and an eligible-but-not-active administrator are refused, the
//! latter told to activate), writes that need a sign-in of the last ten minutes (refused with
//! the input kept, then done after re-authenticating), contexts, policies, strengths and named
//! locations created, changed and deleted through their forms, invalid input refused with the
//! service's sentence and nothing written, the lockout guard's refusal on the page, a
//! cross-site form, and an imported Entra export sent back unchanged through the edit form.
//! The seed's steps in a real browser are `portal_browser.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::graph::{assign, SECURITY_READER};
use common::pim::{require_context, PASSWORD};
use common::{transaction_of, Browser, Env, Landing};
use policy::conditional_access::ConditionalAccessPolicy;
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR};
use serde_json::{json, Value};
use store::ConfigKind;

on_both_backends!(
    a_reader_sees_no_forms_and_cannot_write,
    non_administrators_are_refused_and_eligible_ones_told_to_activate,
    a_write_needs_a_recent_sign_in_and_keeps_the_input,
    contexts_are_created_changed_and_deleted,
    the_seed_policy_through_the_form_with_its_lint,
    invalid_policies_and_the_lockout_guard_are_refused_on_the_page,
    a_cross_site_form_changes_nothing,
    an_imported_policy_survives_an_unchanged_edit,
    named_locations_are_created_changed_and_deleted,
    custom_strengths_and_their_fido2_models,
);

const CA_ADMINISTRATOR: &str = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9";
const APPLICATION_ADMINISTRATOR: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";
const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";
const TIER0: &str = "Tier 0 Role Activation (Sign-in Everytime)";

/// A user with a password and, if `role`, an active assignment of it.
async fn person(env: &Env, upn: &str, role: Option<(&str, AssignmentStatus)>) -> store::User {
    let user = env.user(upn, PASSWORD).await;
    if let Some((role, status)) = role {
        assign(env, &user.id, role, status, None).await;
    }
    user
}

/// Finishes the sign-in page `landing` as `upn` with the password; returns where it lands.
async fn finish_sign_in(b: &Browser, landing: &Landing, upn: &str) -> Landing {
    let html = landing.html();
    let tx = transaction_of(html);
    if html.contains(&format!("/signin/{tx}/username")) {
        b.post(&format!("/signin/{tx}/username"), &[("username", upn)])
            .await;
    }
    b.post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await
}

/// A browser signed in as `upn` through the admin center.
async fn signed_in(env: &Env, upn: &str) -> Browser {
    let b = Browser::new(env);
    let page = b.get("/admin").await;
    let landed = finish_sign_in(&b, &page, upn).await;
    let Landing::Page { path, .. } = &landed else {
        panic!("{landed:?}");
    };
    assert_eq!(path, "/admin", "{landed:?}");
    b
}

/// `POST` a form without following the answer: its status and body (or redirect).
async fn send(env: &Env, b: &Browser, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let r = b
        .http
        .post(format!("{}{path}", env.base))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (status, location.unwrap_or(r.text().await.unwrap()))
}

async fn policies(env: &Env) -> Vec<ConditionalAccessPolicy> {
    env.state
        .store
        .list_config(ConfigKind::Policy)
        .await
        .unwrap()
}

async fn contexts(env: &Env) -> Vec<policy::context::AuthenticationContextClassReference> {
    env.state
        .store
        .list_config(ConfigKind::AuthenticationContext)
        .await
        .unwrap()
}

async fn locations(env: &Env) -> Vec<policy::location::NamedLocation> {
    env.state
        .store
        .list_config(ConfigKind::NamedLocation)
        .await
        .unwrap()
}

async fn strengths(env: &Env) -> Vec<policy::strength::AuthenticationStrengthPolicy> {
    env.state
        .store
        .list_config(ConfigKind::AuthenticationStrength)
        .await
        .unwrap()
}

/// The values a browser would send for the form `id` of `html`, as shown.
fn form_of(html: &str, id: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no form {id}: {html}"));
    let form = &html[start..start + html[start..].find("</form>").unwrap()];
    let mut out = Vec::new();
    let mut rest = form;
    while let Some(at) = rest.find('<') {
        rest = &rest[at..];
        let end = rest.find('>').unwrap();
        let tag = &rest[..=end];
        if tag.starts_with("<input") {
            let kind = attribute(tag, "type").unwrap_or_default();
            let name = attribute(tag, "name");
            let value = attribute(tag, "value").unwrap_or_default();
            let shown = !matches!(kind.as_str(), "checkbox" | "radio") || tag.contains(" checked");
            if let (Some(name), true) = (name, shown) {
                out.push((name, value));
            }
        } else if tag.starts_with("<select") {
            let name = attribute(tag, "name").unwrap();
            let close = rest.find("</select>").unwrap();
            let options = &rest[..close];
            let mut first = None;
            let mut selected = None;
            for option in options.split("<option").skip(1) {
                let tag = &option[..option.find('>').unwrap()];
                let value = attribute(&format!("<option{tag}>"), "value").unwrap_or_default();
                first.get_or_insert(value.clone());
                if tag.contains(" selected") {
                    selected = Some(value);
                }
            }
            out.push((name, selected.or(first).unwrap_or_default()));
            rest = &rest[close..];
        }
        rest = &rest[1..];
    }
    out
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + end]))
}

fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

fn pairs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// `form` with `name`'s values replaced by `values`.
fn with(form: &[(String, String)], name: &str, values: &[&str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = form.iter().filter(|(k, _)| k != name).cloned().collect();
    out.extend(values.iter().map(|v| (name.to_string(), (*v).to_string())));
    out
}

async fn a_reader_sees_no_forms_and_cannot_write(env: &Env) {
    person(
        env,
        "reader@example.test",
        Some((SECURITY_READER, AssignmentStatus::Active)),
    )
    .await;
    env.policies(common::pim::context_policy(
        "c3",
        json!({"operator": "OR", "builtInControls": ["mfa"]}),
    ))
    .await;
    let b = signed_in(env, "reader@example.test").await;
    for (path, form) in [
        ("/admin/contexts", "new-context"),
        ("/admin/contexts/c3", "edit-context"),
        ("/admin/policies/ca-c3", "policy-form"),
        ("/admin/policies", "new-policy"),
        ("/admin/strengths", "new-strength"),
        (
            &format!("/admin/strengths/{PHISHING_RESISTANT}"),
            "strength-form",
        ),
        ("/admin/locations", "new-location"),
    ] {
        let page = b.get(path).await;
        let Landing::Page { status, html, .. } = &page else {
            panic!("{page:?}");
        };
        assert_eq!(*status, 200, "{path}: {html}");
        assert!(!html.contains(&format!("id=\"{form}\"")), "{path}: {html}");
    }
    // The reader sees the policy's document and its lint, not a form.
    let page = b.get("/admin/policies/ca-c3").await;
    assert!(page.html().contains("id=\"policy-document\""), "{page:?}");
    assert!(
        page.html().contains("no authentication strength"),
        "{page:?}"
    );
    let (status, html) = send(
        env,
        &b,
        "/admin/contexts",
        &[("id", "c4"), ("name", "Reader's"), ("available", "true")],
    )
    .await;
    assert_eq!(status, 403, "{html}");
    let (status, _) = send(env, &b, "/admin/contexts/c3/delete", &[]).await;
    assert_eq!(status, 403);
    let (status, _) = send(env, &b, "/admin/policies/ca-c3/delete", &[]).await;
    assert_eq!(status, 403);
    let (status, _) = send(env, &b, "/admin/policies/new", &[("name", "x")]).await;
    assert_eq!(status, 405, "the new form is read with GET only");
    let (status, _) = send(env, &b, "/admin/policies", &[("name", "Reader's")]).await;
    assert_eq!(status, 403);
    let (status, _) = send(
        env,
        &b,
        "/admin/strengths",
        &[("name", "Reader's"), ("combinations", "fido2")],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(
        env,
        &b,
        "/admin/locations",
        &[
            ("kind", "ip"),
            ("name", "Reader's"),
            ("ranges", "10.0.0.0/8"),
        ],
    )
    .await;
    assert_eq!(status, 403);
    for page in [
        "/admin/policies/new",
        "/admin/strengths/new",
        "/admin/locations/new",
    ] {
        let landed = b.get(page).await;
        let Landing::Page { status, .. } = &landed else {
            panic!("{landed:?}");
        };
        assert_eq!(*status, 403, "{page}");
    }
    assert!(strengths(env).await.is_empty());
    assert!(locations(env).await.is_empty());
    assert_eq!(contexts(env).await.len(), 1);
    assert_eq!(policies(env).await.len(), 1);
}

async fn non_administrators_are_refused_and_eligible_ones_told_to_activate(env: &Env) {
    person(env, "user@example.test", None).await;
    person(
        env,
        "eligible@example.test",
        Some((CA_ADMINISTRATOR, AssignmentStatus::Eligible)),
    )
    .await;
    let b = signed_in(env, "user@example.test").await;
    for path in ["/admin/contexts", "/admin/policies", "/admin/policies/new"] {
        let page = b.get(path).await;
        let Landing::Page { status, .. } = &page else {
            panic!("{page:?}");
        };
        assert_eq!(*status, 403, "{path}: {page:?}");
    }
    let (status, _) = send(env, &b, "/admin/contexts", &[("id", "c1"), ("name", "x")]).await;
    assert_eq!(status, 403);
    let eligible = signed_in(env, "eligible@example.test").await;
    let page = eligible.get("/admin/policies").await;
    let Landing::Page { status, html, .. } = &page else {
        panic!("{page:?}");
    };
    assert_eq!(*status, 403, "{html}");
    assert!(html.contains("activate it in My roles"), "{html}");
    let (status, _) = send(
        env,
        &eligible,
        "/admin/contexts",
        &[("id", "c1"), ("name", "x")],
    )
    .await;
    assert_eq!(status, 403);
    assert!(contexts(env).await.is_empty());
    // A visitor without a session is sent to sign in, and back.
    let visitor = Browser::new(env);
    let r = visitor
        .http
        .get(format!("{}/admin/policies", env.base))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
}

async fn a_write_needs_a_recent_sign_in_and_keeps_the_input(env: &Env) {
    person(
        env,
        "ca@example.test",
        Some((CA_ADMINISTRATOR, AssignmentStatus::Active)),
    )
    .await;
    let b = signed_in(env, "ca@example.test").await;
    env.state.clock.advance(chrono::Duration::minutes(11));
    let form = [
        ("id", "c7"),
        ("name", "Fresh <proof>"),
        ("description", "Kept"),
        ("available", "true"),
    ];
    let (status, html) = send(env, &b, "/admin/contexts", &form).await;
    assert_eq!(status, 401, "{html}");
    assert!(html.contains("id=\"reauth\""), "{html}");
    assert!(html.contains("last 10 minutes"), "{html}");
    assert!(html.contains("value=\"c7\""), "{html}");
    assert!(
        html.contains("value=\"Fresh &#60;proof&#62;\"")
            || html.contains("value=\"Fresh &lt;proof&gt;\""),
        "{html}"
    );
    assert!(contexts(env).await.is_empty());
    // The same for a policy, a location and a strength: refused, kept, nothing written.
    let (status, html) = send(
        env,
        &b,
        "/admin/policies",
        &[
            ("name", "Stale policy"),
            ("include_users", "All"),
            ("grant", "block"),
        ],
    )
    .await;
    assert_eq!(status, 401, "{html}");
    assert!(html.contains("id=\"reauth\""), "{html}");
    assert!(html.contains("value=\"Stale policy\""), "{html}");
    let (status, html) = send(
        env,
        &b,
        "/admin/locations",
        &[
            ("kind", "ip"),
            ("name", "Stale HQ"),
            ("ranges", "10.0.0.0/8"),
        ],
    )
    .await;
    assert_eq!(status, 401, "{html}");
    assert!(html.contains("value=\"Stale HQ\""), "{html}");
    let (status, html) = send(
        env,
        &b,
        "/admin/strengths",
        &[("name", "Stale keys"), ("combinations", "fido2")],
    )
    .await;
    assert_eq!(status, 401, "{html}");
    assert!(html.contains("value=\"Stale keys\""), "{html}");
    assert!(policies(env).await.is_empty());
    assert!(locations(env).await.is_empty());
    assert!(strengths(env).await.is_empty());
    // Confirm it's you: a sign-in, and back to the page.
    let page = b
        .post(
            "/admin/reauthenticate",
            &[("back", "/admin/contexts"), ("contexts", "")],
        )
        .await;
    let landed = finish_sign_in(&b, &page, "ca@example.test").await;
    let Landing::Page { path, .. } = &landed else {
        panic!("{landed:?}");
    };
    assert_eq!(path, "/admin/contexts", "{landed:?}");
    let (status, to) = send(env, &b, "/admin/contexts", &form).await;
    assert_eq!((status, to.as_str()), (303, "/admin/contexts?saved=c7"));
    let saved = contexts(env).await;
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].display_name.as_deref(), Some("Fresh <proof>"));
}

async fn contexts_are_created_changed_and_deleted(env: &Env) {
    person(
        env,
        "ca@example.test",
        Some((CA_ADMINISTRATOR, AssignmentStatus::Active)),
    )
    .await;
    let b = signed_in(env, "ca@example.test").await;
    let (status, to) = send(
        env,
        &b,
        "/admin/contexts",
        &[
            ("id", "c1"),
            ("name", TIER0),
            ("description", "Tier 0"),
            ("available", "true"),
        ],
    )
    .await;
    assert_eq!((status, to.as_str()), (303, "/admin/contexts?saved=c1"));
    let list = b.get(&to).await;
    assert!(
        list.html().contains("Authentication context c1 was saved."),
        "{list:?}"
    );
    assert!(list.html().contains(TIER0), "{list:?}");
    // Bad ids and a taken one: refused with the service's sentence, the input kept.
    for (id, says) in [
        ("c0", "c1"),
        ("c100", "c1"),
        ("x", "c1"),
        ("c1", "already exists"),
    ] {
        let (status, html) = send(
            env,
            &b,
            "/admin/contexts",
            &[("id", id), ("name", "Another name")],
        )
        .await;
        assert!(status == 400 || status == 409, "{id}: {status} {html}");
        assert!(html.contains("id=\"form-error\""), "{html}");
        assert!(html.contains(says), "{id}: {html}");
        assert!(html.contains("value=\"Another name\""), "{html}");
    }
    assert_eq!(contexts(env).await.len(), 1);
    // Changed: the name, and not available any more.
    let page = b.get("/admin/contexts/c1").await;
    let mut form = form_of(page.html(), "edit-context");
    form.retain(|(k, _)| k != "available");
    let form = with(&form, "name", &["Tier 0 (renamed)"]);
    let (status, to) = send(env, &b, "/admin/contexts/c1", &pairs(&form)).await;
    assert_eq!((status, to.as_str()), (303, "/admin/contexts?saved=c1"));
    let saved = contexts(env).await;
    assert_eq!(saved[0].display_name.as_deref(), Some("Tier 0 (renamed)"));
    assert_eq!(saved[0].description.as_deref(), Some("Tier 0"));
    assert_eq!(saved[0].is_available, Some(false));
    // An unknown context is no page and no way to create one.
    let (status, _) = send(env, &b, "/admin/contexts/c9", &[("name", "x")]).await;
    assert_eq!(status, 404);
    assert_eq!(contexts(env).await.len(), 1);
    // In use by a role's activation: the refusal names it; then deleted.
    require_context(env, APPLICATION_ADMINISTRATOR, "c1").await;
    let (status, html) = send(env, &b, "/admin/contexts/c1/delete", &[]).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("Application Administrator"), "{html}");
    assert_eq!(contexts(env).await.len(), 1);
    let mut free = pim::RoleManagementPolicy::default_for(APPLICATION_ADMINISTRATOR, env.now());
    free.id = format!("DirectoryRole_{APPLICATION_ADMINISTRATOR}");
    env.state.store.put_role_policy(&free, 1).await.unwrap();
    let (status, to) = send(env, &b, "/admin/contexts/c1/delete", &[]).await;
    assert_eq!((status, to.as_str()), (303, "/admin/contexts?deleted=c1"));
    assert!(contexts(env).await.is_empty());
}

/// The seed's policy as its steps describe it.
fn seed_policy() -> Value {
    json!({
        "displayName": "Tier 0 Role Activation",
        "state": "enabled",
        "conditions": {
            "users": { "includeRoles": [APPLICATION_ADMINISTRATOR] },
            "applications": { "includeAuthenticationContextClassReferences": ["c1"] },
            "clientAppTypes": ["all"]
        },
        "grantControls": { "operator": "OR", "authenticationStrength": { "id": PHISHING_RESISTANT } },
        "sessionControls": { "signInFrequency": {
            "isEnabled": true, "frequencyInterval": "everyTime",
            "authenticationType": "primaryAndSecondaryAuthentication" } }
    })
}

/// Whether `stored` is the seed's policy (its id and times aside).
fn is_the_seed(stored: &ConditionalAccessPolicy) -> bool {
    let mut seed: ConditionalAccessPolicy = serde_json::from_value(seed_policy()).unwrap();
    seed.id = stored.id.clone();
    seed.created_date_time = stored.created_date_time.clone();
    seed.modified_date_time = stored.modified_date_time.clone();
    &seed == stored
}

async fn the_seed_policy_through_the_form_with_its_lint(env: &Env) {
    person(
        env,
        "ga@example.test",
        Some((GLOBAL_ADMINISTRATOR, AssignmentStatus::Active)),
    )
    .await;
    let b = signed_in(env, "ga@example.test").await;
    let (status, _) = send(
        env,
        &b,
        "/admin/contexts",
        &[("id", "c1"), ("name", TIER0), ("available", "true")],
    )
    .await;
    assert_eq!(status, 303);
    require_context(env, APPLICATION_ADMINISTRATOR, "c1").await;
    // The new form, as shown, with the seed's choices: MFA first.
    let page = b.get("/admin/policies/new").await;
    let shown = form_of(page.html(), "policy-form");
    assert!(
        shown.contains(&("client_app_types".into(), "all".into())),
        "{shown:?}"
    );
    let form = with(&shown, "name", &["Tier 0 Role Activation"]);
    let form = with(&form, "include_roles", &[APPLICATION_ADMINISTRATOR]);
    let form = with(&form, "contexts", &["c1"]);
    let form = with(&form, "grant", &["grant"]);
    let form = with(&form, "controls", &["mfa"]);
    let form = with(&form, "frequency", &["everyTime"]);
    let form = with(&form, "state", &["enabled"]);
    let (status, to) = send(env, &b, "/admin/policies", &pairs(&form)).await;
    assert_eq!(status, 303, "{to}");
    assert!(to.ends_with("?saved=1"), "{to}");
    let stored = policies(env).await;
    assert_eq!(stored.len(), 1);
    let id = stored[0].id.clone();
    assert!(!is_the_seed(&stored[0]));
    // With MFA only, the lint warns on the policy's page, and the list counts it.
    let page = b.get(&to).await;
    let html = page.html();
    assert!(
        html.contains("Policy &#39;Tier 0 Role Activation&#39; was saved.")
            || html.contains("Policy 'Tier 0 Role Activation' was saved."),
        "{html}"
    );
    assert!(html.contains("id=\"findings\""), "{html}");
    assert!(html.contains("no authentication strength"), "{html}");
    assert!(
        html.contains("Phishing-resistant MFA authentication strength"),
        "{html}"
    );
    // (With 'mfa', SMS and voice also count for the role's holders: a second finding.)
    assert!(
        html.contains("SMS/voice allowed for privileged access"),
        "{html}"
    );
    let list = b.get("/admin/policies").await;
    assert!(
        list.html().contains("<td class=\"findings\">2</td>"),
        "{list:?}"
    );
    // Then the phishing-resistant strength instead of MFA: the seed's policy, and no warning.
    let form = form_of(html, "policy-form");
    let form = with(&form, "controls", &[]);
    let form = with(&form, "strength", &[PHISHING_RESISTANT]);
    let (status, to) = send(env, &b, &format!("/admin/policies/{id}"), &pairs(&form)).await;
    assert_eq!(
        (status, to.as_str()),
        (303, format!("/admin/policies/{id}?saved=1").as_str())
    );
    let stored = policies(env).await;
    assert!(is_the_seed(&stored[0]), "{:#?}", stored[0]);
    let page = b.get(&to).await;
    assert!(page.html().contains("id=\"no-findings\""), "{page:?}");
    assert!(
        !page.html().contains("no authentication strength"),
        "{page:?}"
    );
    // Deleted.
    let (status, to) = send(env, &b, &format!("/admin/policies/{id}/delete"), &[]).await;
    assert_eq!(status, 303, "{to}");
    assert!(policies(env).await.is_empty());
    let list = b.get(&to).await;
    assert!(list.html().contains("was deleted"), "{list:?}");
}

async fn invalid_policies_and_the_lockout_guard_are_refused_on_the_page(env: &Env) {
    person(
        env,
        "ca@example.test",
        Some((CA_ADMINISTRATOR, AssignmentStatus::Active)),
    )
    .await;
    let adele = person(
        env,
        "adele@example.test",
        Some((GLOBAL_ADMINISTRATOR, AssignmentStatus::Eligible)),
    )
    .await;
    env.totp(&adele).await;
    env.policies(json!({
        "authenticationContextClassReferences": [{ "id": "c1", "displayName": "GA", "isAvailable": true }]
    }))
    .await;
    require_context(env, GLOBAL_ADMINISTRATOR, "c1").await;
    let b = signed_in(env, "ca@example.test").await;
    let page = b.get("/admin/policies/new").await;
    let base = form_of(page.html(), "policy-form");
    let base = with(&base, "name", &["Admins on c1"]);
    let base = with(&base, "include_users", &["All"]);
    let base = with(&base, "contexts", &["c1"]);
    let base = with(&base, "frequency", &["everyTime"]);
    let base = with(&base, "state", &["enabled"]);
    // An unknown strength, a frequency that is no number, a state Graph does not define.
    for (name, value, says) in [
        (
            "strength",
            "11111111-2222-3333-4444-555555555555",
            "neither built in nor defined",
        ),
        ("frequency", "timeBased", "whole number"),
        ("state", "bogus", "bogus"),
    ] {
        let form = with(&base, name, &[value]);
        let (status, html) = send(env, &b, "/admin/policies", &pairs(&form)).await;
        assert_eq!(status, 400, "{name}: {html}");
        assert!(html.contains("id=\"form-error\""), "{html}");
        assert!(html.contains(says), "{name}: {html}");
        assert!(html.contains("value=\"Admins on c1\""), "{html}");
    }
    // On, phishing-resistant, on the context Global Administrator's activation requires:
    // Adele, eligible with only an authenticator app, could no longer activate it.
    let form = with(&base, "strength", &[PHISHING_RESISTANT]);
    let (status, html) = send(env, &b, "/admin/policies", &pairs(&form)).await;
    assert_eq!(status, 409, "{html}");
    assert!(
        html.contains("no user eligible for Global Administrator could activate it"),
        "{html}"
    );
    assert!(html.contains("adele@example.test"), "{html}");
    assert!(
        html.contains("does not override the lockout guard"),
        "{html}"
    );
    assert!(html.contains("value=\"Admins on c1\""), "{html}");
    assert!(
        html.contains(&format!("<option value=\"{PHISHING_RESISTANT}\" selected>")),
        "{html}"
    );
    assert!(policies(env).await.is_empty());
    // Report-only is no lockout.
    let form = with(&form, "state", &["enabledForReportingButNotEnforced"]);
    let (status, to) = send(env, &b, "/admin/policies", &pairs(&form)).await;
    assert_eq!(status, 303, "{to}");
    assert_eq!(policies(env).await.len(), 1);
}

async fn a_cross_site_form_changes_nothing(env: &Env) {
    person(
        env,
        "ca@example.test",
        Some((CA_ADMINISTRATOR, AssignmentStatus::Active)),
    )
    .await;
    let b = signed_in(env, "ca@example.test").await;
    for path in [
        "/admin/contexts",
        "/admin/policies",
        "/admin/locations",
        "/admin/strengths",
    ] {
        let r = b
            .http
            .post(format!("{}{path}", env.base))
            .header("Origin", "https://evil.example")
            .form(&[
                ("id", "c5"),
                ("name", "Cross-site"),
                ("kind", "ip"),
                ("ranges", "10.0.0.0/8"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    assert!(contexts(env).await.is_empty());
    assert!(policies(env).await.is_empty());
}

/// A real Entra export: conditions the form does not show (workload identities with an agent
/// filter, a device filter, app groups, groups not in this tenant, session controls other than
/// the sign-in frequency), every one of them kept by an edit that changes nothing.
async fn an_imported_policy_survives_an_unchanged_edit(env: &Env) {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/entra-exports/acme-policies");
    let mut exported = Vec::new();
    for (file, id) in [
        (
            "ACME_-_AGENT_-_BLOCK_-_NonTrustedAgents (1).json",
            "bfa41a3f-f993-49de-9c38-df90695ed6b4",
        ),
        (
            "ACME_-_APP_-_SESSION_-_O365_-_Timeoutsettings (1).json",
            "6e9c8d3a-0000-4000-8000-00000000000a",
        ),
    ] {
        let mut policy: Value =
            serde_json::from_str(&std::fs::read_to_string(folder.join(file)).unwrap()).unwrap();
        policy["id"] = json!(id);
        exported.push(policy);
    }
    env.policies(json!({ "conditionalAccessPolicies": exported }))
        .await;
    person(
        env,
        "ca@example.test",
        Some((CA_ADMINISTRATOR, AssignmentStatus::Active)),
    )
    .await;
    let b = signed_in(env, "ca@example.test").await;
    for before in policies(env).await {
        let path = format!("/admin/policies/{}", before.id);
        let page = b.get(&path).await;
        let form = form_of(page.html(), "policy-form");
        let (status, to) = send(env, &b, &path, &pairs(&form)).await;
        assert_eq!(status, 303, "{}: {to}", before.name());
        let after = policies(env)
            .await
            .into_iter()
            .find(|p| p.id == before.id)
            .unwrap();
        assert_ne!(
            after.modified_date_time, before.modified_date_time,
            "it was written"
        );
        let mut unchanged = after.clone();
        unchanged.modified_date_time = before.modified_date_time.clone();
        assert_eq!(unchanged, before, "{}", before.name());
    }
}

async fn named_locations_are_created_changed_and_deleted(env: &Env) {
    person(
        env,
        "ca@example.test",
        Some((CA_ADMINISTRATOR, AssignmentStatus::Active)),
    )
    .await;
    let b = signed_in(env, "ca@example.test").await;
    let page = b.get("/admin/locations/new").await;
    let form = form_of(page.html(), "location-form");
    assert!(form.contains(&("kind".into(), "ip".into())), "{form:?}");
    // A malformed range, then no name: refused with the sentence, what was typed kept.
    for (name, ranges, says) in [
        (
            "HQ",
            "10.0.0.0/8\n10.0.0.300/8",
            "'10.0.0.300/8' is not an IPv4 or IPv6 CIDR range",
        ),
        ("  ", "10.0.0.0/8", "displayName is required"),
    ] {
        let (status, html) = send(
            env,
            &b,
            "/admin/locations",
            &[
                ("kind", "ip"),
                ("name", name),
                ("ranges", ranges),
                ("trusted", "true"),
            ],
        )
        .await;
        assert_eq!(status, 400, "{html}");
        assert!(unescape(&html).contains(says), "{html}");
        assert!(html.contains(ranges), "{html}");
    }
    let (status, html) = send(
        env,
        &b,
        "/admin/locations",
        &[
            ("kind", "country"),
            ("name", "EU"),
            ("countries", "de, FR, XYZ"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(
        unescape(&html).contains("'XYZ' is not an ISO 3166-1 alpha-2"),
        "{html}"
    );
    assert!(locations(env).await.is_empty());
    // Created: an IP location (trusted) and a country location.
    let (status, to) = send(
        env,
        &b,
        "/admin/locations",
        &[
            ("kind", "ip"),
            ("name", "HQ"),
            ("ranges", "10.0.0.0/8\n2001:db8::/32"),
            ("trusted", "true"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{to}");
    let (status, _) = send(
        env,
        &b,
        "/admin/locations",
        &[("kind", "country"), ("name", "EU"), ("countries", "de, FR")],
    )
    .await;
    assert_eq!(status, 303);
    let all = locations(env).await;
    let hq = all.iter().find(|l| l.name() == "HQ").unwrap().clone();
    let eu = all.iter().find(|l| l.name() == "EU").unwrap();
    let ranges: Vec<&str> = hq
        .ip_ranges
        .iter()
        .flatten()
        .map(|r| r.cidr_address.as_str())
        .collect();
    assert_eq!(ranges, ["10.0.0.0/8", "2001:db8::/32"]);
    assert_eq!(hq.is_trusted, Some(true));
    assert_eq!(
        eu.countries_and_regions.as_deref(),
        Some(&["DE".to_string(), "FR".to_string()][..])
    );
    let list = b.get("/admin/locations").await;
    assert!(
        list.html().contains("10.0.0.0/8, 2001:db8::/32"),
        "{list:?}"
    );
    // Changed: renamed, one range dropped, no longer trusted.
    let page = b.get(&to).await;
    let form = form_of(page.html(), "location-form");
    let mut form = with(&form, "name", &["Head office"]);
    form.retain(|(k, _)| k != "trusted");
    form.push(("ranges".into(), "10.0.0.0/8".into()));
    form.retain(|(k, v)| k != "ranges" || v == "10.0.0.0/8");
    let (status, _) = send(
        env,
        &b,
        &format!("/admin/locations/{}", hq.id),
        &pairs(&form),
    )
    .await;
    assert_eq!(status, 303);
    let changed = locations(env)
        .await
        .into_iter()
        .find(|l| l.id == hq.id)
        .unwrap();
    assert_eq!(changed.name(), "Head office");
    assert_eq!(changed.is_trusted, Some(false));
    assert_eq!(changed.ip_ranges.as_ref().map(Vec::len), Some(1));
    // Named by a policy: not deleted; then deleted.
    env.policies(json!({ "conditionalAccessPolicies": [{
        "id": "p-loc", "displayName": "Outside HQ", "state": "disabled",
        "conditions": { "users": { "includeUsers": ["All"] },
                        "applications": { "includeApplications": ["All"] },
                        "clientAppTypes": ["all"],
                        "locations": { "includeLocations": ["All"], "excludeLocations": [hq.id] } },
        "grantControls": { "operator": "OR", "builtInControls": ["block"] } }] }))
        .await;
    let (status, html) = send(env, &b, &format!("/admin/locations/{}/delete", hq.id), &[]).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("Outside HQ"), "{html}");
    assert_eq!(locations(env).await.len(), 2);
    let (status, to) = send(env, &b, &format!("/admin/locations/{}/delete", eu.id), &[]).await;
    assert_eq!((status, to.as_str()), (303, "/admin/locations?deleted=1"));
    assert_eq!(locations(env).await.len(), 1);
}

async fn custom_strengths_and_their_fido2_models(env: &Env) {
    person(
        env,
        "ca@example.test",
        Some((CA_ADMINISTRATOR, AssignmentStatus::Active)),
    )
    .await;
    let b = signed_in(env, "ca@example.test").await;
    let list = b.get("/admin/strengths").await;
    assert!(list.html().contains("Phishing-resistant MFA"), "{list:?}");
    // A built-in strength is read only, even for a writer.
    let page = b
        .get(&format!("/admin/strengths/{PHISHING_RESISTANT}"))
        .await;
    assert!(!page.html().contains("id=\"strength-form\""), "{page:?}");
    let (status, html) = send(
        env,
        &b,
        &format!("/admin/strengths/{PHISHING_RESISTANT}"),
        &[("name", "Mine now"), ("combinations", "password")],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("built-in"), "{html}");
    // Refused: no name, no combination, a mode that does not exist.
    for (name, combinations, says) in [
        ("", vec!["fido2"], "displayName is required"),
        ("Keys only", vec![], "at least one combination"),
        (
            "Keys only",
            vec!["password,quantumPigeon"],
            "'quantumPigeon'",
        ),
    ] {
        let mut form = vec![("name", name), ("description", "Hardware keys")];
        form.extend(combinations.iter().map(|c| ("combinations", *c)));
        let (status, html) = send(env, &b, "/admin/strengths", &form).await;
        assert_eq!(status, 400, "{html}");
        assert!(unescape(&html).contains(says), "{html}");
        assert!(html.contains("value=\"Hardware keys\""), "{html}");
    }
    assert!(strengths(env).await.is_empty());
    let (status, to) = send(
        env,
        &b,
        "/admin/strengths",
        &[
            ("name", "Keys only"),
            ("description", "Hardware keys"),
            ("combinations", "fido2"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{to}");
    let id = strengths(env).await[0].id.clone();
    // Windows Hello added; then restricted to one FIDO2 model.
    let page = b.get(&to).await;
    let form = form_of(page.html(), "strength-form");
    let form = with(&form, "combinations", &["fido2", "windowsHelloForBusiness"]);
    let (status, _) = send(env, &b, &format!("/admin/strengths/{id}"), &pairs(&form)).await;
    assert_eq!(status, 303);
    let aaguid = "cb69481e-8ff7-4039-93ec-0a2729a154a8";
    let (status, _) = send(
        env,
        &b,
        &format!("/admin/strengths/{id}/fido2"),
        &[("aaguids", aaguid)],
    )
    .await;
    assert_eq!(status, 303);
    let stored = strengths(env).await.remove(0);
    let combos: Vec<String> = stored
        .allowed_combinations
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(combos, ["fido2", "windowsHelloForBusiness"]);
    assert_eq!(stored.combination_configurations.len(), 1, "{stored:#?}");
    assert_eq!(
        stored.combination_configurations[0]
            .allowed_aaguids
            .as_deref(),
        Some(&[aaguid.to_string()][..])
    );
    let page = b.get(&format!("/admin/strengths/{id}")).await;
    assert!(page.html().contains(aaguid), "{page:?}");
    // Required by a policy: not deleted; then deleted.
    env.policies(json!({ "conditionalAccessPolicies": [{
        "id": "p-keys", "displayName": "Keys for admins", "state": "disabled",
        "conditions": { "users": { "includeUsers": ["All"] },
                        "applications": { "includeApplications": ["All"] },
                        "clientAppTypes": ["all"] },
        "grantControls": { "operator": "OR", "authenticationStrength": { "id": id } } }] }))
        .await;
    let (status, html) = send(env, &b, &format!("/admin/strengths/{id}/delete"), &[]).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("Keys for admins"), "{html}");
    let mut unused: ConditionalAccessPolicy = policies(env).await.remove(0);
    unused.grant_controls = None;
    env.policies(json!({ "conditionalAccessPolicies": [unused] }))
        .await;
    let (status, to) = send(env, &b, &format!("/admin/strengths/{id}/delete"), &[]).await;
    assert_eq!(
        (status, to.as_str()),
        (303, "/admin/strengths?deleted=1"),
        "{to}"
    );
    assert!(strengths(env).await.is_empty());
}
