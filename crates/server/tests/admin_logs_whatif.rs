//! The admin center's read-only sections over real HTTP, on SQLite and PostgreSQL: the sign-in
//! log with every policy's result and its filters (user, status, day), the audit log with the
//! state of its hash chain (verified, then broken at an entry changed behind the store's back),
//! and What If, whose answer is the one `portcullis whatif` computes (`policy::what_if` over the
//! same tenant file, request and time); readers only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Utc};
use common::graph::{assign, SECURITY_READER};
use common::pim::PASSWORD;
use common::{Browser, Env, Landing};
use policy::directory::AssignmentStatus;
use policy::{what_if, Engine, EvaluateRequest};
use serde_json::Value;
use std::path::PathBuf;

on_both_backends!(
    the_sign_in_log_shows_each_policy_and_filters,
    the_audit_log_shows_its_chain_verified,
    what_if_answers_as_the_cli_does,
);

async fn sign_in(b: &Browser, path: &str, upn: &str, password: &str) -> Landing {
    b.sign_in_with_password(path, upn, password).await
}

/// A Security Reader (logs and Conditional Access, read only), signed in at `path`.
async fn reader_at(env: &Env, upn: &str, path: &str) -> (Browser, Landing) {
    let user = env.user(upn, PASSWORD).await;
    assign(
        env,
        &user.id,
        SECURITY_READER,
        AssignmentStatus::Active,
        None,
    )
    .await;
    let b = Browser::new(env);
    let landing = sign_in(&b, path, upn, PASSWORD).await;
    (b, landing)
}

fn page_of(landing: &Landing) -> (u16, &str) {
    match landing {
        Landing::Page { status, html, .. } => (*status, html.as_str()),
        Landing::Client(u) => panic!("landed at the client: {u}"),
    }
}

async fn the_sign_in_log_shows_each_policy_and_filters(env: &Env) {
    // A failed sign-in of another user, before the reader's own.
    env.user("mallory@example.test", PASSWORD).await;
    let m = Browser::new(env);
    sign_in(&m, "/", "mallory@example.test", "wrong password").await;
    let (b, landing) = reader_at(env, "rita@example.test", "/admin/sign-ins").await;
    let (status, html) = page_of(&landing);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("rita@example.test"), "{html}");
    assert!(html.contains("mallory@example.test"), "{html}");
    assert!(html.contains("<tr class=\"failure\">"), "{html}");
    // By user, by status, by day.
    let mine = b.get("/admin/sign-ins?user=rita@example.test").await;
    assert!(!mine.html().contains("mallory@example.test"), "{mine:?}");
    let failed = b.get("/admin/sign-ins?status=failure").await;
    assert!(failed.html().contains("mallory@example.test"), "{failed:?}");
    assert!(
        !failed.html().contains("<tr class=\"success\">"),
        "{failed:?}"
    );
    let today = env.now().format("%Y-%m-%d").to_string();
    let day = b.get(&format!("/admin/sign-ins?date={today}")).await;
    assert!(day.html().contains("rita@example.test"), "{day:?}");
    let other = b.get("/admin/sign-ins?date=2001-01-01").await;
    assert!(other.html().contains("id=\"no-sign-ins\""), "{other:?}");
    // Bad filters are refused with the reason.
    for (q, says) in [
        ("status=maybe", "Choose a status"),
        ("date=yesterday", "is not a day"),
        ("user=nobody@example.test", "No user is named"),
    ] {
        let r = b.get(&format!("/admin/sign-ins?{q}")).await;
        let (status, html) = page_of(&r);
        assert_eq!(status, 400, "{q}: {html}");
        assert!(html.contains(says), "{q}: {html}");
    }
    // A user without a reader's role is refused.
    let (_, pat) = {
        env.user("pat@example.test", PASSWORD).await;
        let b = Browser::new(env);
        let l = sign_in(&b, "/admin/sign-ins", "pat@example.test", PASSWORD).await;
        (b, l)
    };
    assert_eq!(page_of(&pat).0, 403);
}

async fn the_audit_log_shows_its_chain_verified(env: &Env) {
    let (b, landing) = reader_at(env, "rex@example.test", "/admin/audit").await;
    let (status, html) = page_of(&landing);
    assert_eq!(status, 200, "{html}");
    let verified = env.state.store.verify_audit_chain().await.unwrap();
    assert!(verified.is_intact());
    assert!(
        html.contains(&format!(
            "Verified: {} entries, an unbroken hash chain.",
            verified.entries
        )),
        "{html}"
    );
    // An entry made now is listed, and the filter by category keeps only its kind.
    let user = env.user("temp@example.test", PASSWORD).await;
    let admin = env.user("padmin@example.test", PASSWORD).await;
    assign(
        env,
        &admin.id,
        policy::directory::PRIVILEGED_ROLE_ADMINISTRATOR,
        AssignmentStatus::Active,
        None,
    )
    .await;
    let allowed = env
        .state
        .authorize::<app::authz::ManageRoles>(&app::Caller::new(admin))
        .await
        .unwrap();
    env.state
        .issue_access_pass(&allowed, &user.id, app::access_pass::PassRequest::default())
        .await
        .unwrap();
    let page = b.get("/admin/audit").await;
    let html = page.html();
    assert!(
        html.contains("Admin registered temporary access pass method for user"),
        "{html}"
    );
    assert!(html.contains("Verified: "), "{html}");
    // An entry changed behind the store's back: the page says where the chain breaks.
    let before = env.state.store.verify_audit_chain().await.unwrap();
    assert!(before.is_intact());
    let url = env
        .state
        .config
        .database_url
        .as_ref()
        .unwrap()
        .expose()
        .to_string();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let changed = sqlx::query(
        "UPDATE directory_audits SET activity_display_name = 'Nothing happened' WHERE seq = 1",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(changed.rows_affected(), 1);
    pool.close().await;
    let page = b.get("/admin/audit").await;
    let html = page.html();
    assert!(
        html.contains("The hash chain is broken at entry #1"),
        "{html}"
    );
    assert!(html.contains("changed"), "{html}");
    assert!(!html.contains("Verified: "), "{html}");
    let other = b.get("/admin/audit?category=Policy").await;
    assert!(
        !other
            .html()
            .contains("Admin registered temporary access pass method for user"),
        "{other:?}"
    );
}

fn docs() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/examples"))
}

/// The text of an askama-escaped element.
fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("{start}: {html}"))
        + start.len();
    let to = html[from..].find(end).unwrap() + from;
    &html[from..to]
}

async fn what_if_answers_as_the_cli_does(env: &Env) {
    // Signed in first: the example tenant's policies would ask the reader for more.
    let (b, _) = reader_at(env, "wendy@example.test", "/admin/what-if").await;
    let tenant = import::load(&docs().join("tenant.json")).unwrap().tenant;
    env.state
        .import_tenant(
            &tenant.clone().into(),
            "docs/examples/tenant.json",
            "tester",
            app::conditional_access::LockoutGuard::Enforce,
        )
        .await
        .unwrap();
    let offline = Engine::new(tenant);
    let mut compared = 0;
    for query in [
        "user=alice@contoso.example&target=authenticationContext&value=c1&platform=windows&client_app=browser&ip=198.51.100.20&country=BE&method=password&method=fido2",
        "user=alice@contoso.example&target=authenticationContext&value=c1&platform=windows&client_app=browser&ip=198.51.100.20&country=BE&method=password&method=softwareOath",
        "user=bob@contoso.example&target=application&value=All&platform=linux&client_app=browser&ip=203.0.113.9&method=password",
        "user=bob@contoso.example&target=application&value=All&client_app=exchangeActiveSync&method=password",
        "user=alice@contoso.example&target=userAction&value=registerSecurityInformation&platform=iOS&client_app=browser&ip=198.51.100.20&sign_in_risk=high&method=password",
    ] {
        let page = b.get(&format!("/admin/what-if?{query}")).await;
        let (status, html) = page_of(&page);
        assert_eq!(status, 200, "{query}: {html}");
        let request: Value =
            serde_json::from_str(&unescape(between(html, "<pre id=\"request\">", "</pre>")))
                .unwrap();
        let at: DateTime<Utc> = between(html, "portcullis whatif --at ", "</code>")
            .parse()
            .unwrap();
        let request: EvaluateRequest = serde_json::from_value(request).unwrap();
        let expected = serde_json::to_value(what_if(&offline, &request, at).unwrap()).unwrap();
        let decision = expected["decision"]["result"].as_str().unwrap();
        assert!(
            html.contains(&format!("id=\"decision\" data-result=\"{decision}\"")),
            "{query}: {decision}: {html}"
        );
        for p in expected["value"].as_array().unwrap() {
            let row = format!(
                "data-policy=\"{}\" data-result=\"{}\"",
                p["id"].as_str().unwrap(),
                p["result"].as_str().unwrap()
            );
            assert!(html.contains(&row), "{query}: {row}: {html}");
        }
        compared += 1;
    }
    assert_eq!(compared, 5);
    // Bad questions are refused with the reason, the form kept.
    for (q, says) in [
        (
            "user=nobody@contoso.example&target=application&value=All",
            "No user is named",
        ),
        (
            "user=bob@contoso.example&target=authenticationContext&value=c100",
            "not an authentication context",
        ),
        (
            "user=bob@contoso.example&target=application&value=All&ip=999.1.1.1",
            "not an IP address",
        ),
        (
            "user=bob@contoso.example&target=application&value=All&platform=amiga",
            "not a choice",
        ),
    ] {
        let r = b.get(&format!("/admin/what-if?{q}")).await;
        let (status, html) = page_of(&r);
        assert_eq!(status, 400, "{q}: {html}");
        assert!(html.contains(says), "{q}: {html}");
        assert!(
            html.contains("value=\"All\"") || html.contains("value=\"c100\""),
            "{q}: {html}"
        );
    }
}
