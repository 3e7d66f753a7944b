//! A page form's body that is not the form the page sends — another content type, a field of
//! the wrong kind — is refused with the error page in words (not axum's plain-text rejection),
//! and changes nothing. The extractor does not depend on the store: SQLite only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::pim::{eligible, PASSWORD};
use common::{transaction_of, Browser, Env};
use store::testing::Backend;
use store::ScheduleRequestQuery;

const SECURITY_READER: &str = common::graph::SECURITY_READER;

/// Posts `body` as `content_type` to `path`; returns the status, the content type and the body.
async fn post_raw(
    b: &Browser,
    env: &Env,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, String, String) {
    let r = b
        .http
        .post(format!("{}{path}", env.base))
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let kind = r.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    (status, kind, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_the_pages_form_gets_the_error_page_and_changes_nothing() {
    let env = Env::start(Backend::Sqlite).await.unwrap();
    let user = env.user("una@example.test", PASSWORD).await;
    eligible(&env, &user, SECURITY_READER).await;
    let b = Browser::new(&env);

    // A sign-in step: JSON where the page sends a form.
    let page = b.get("/my/roles").await;
    let tx = transaction_of(page.html());
    let (status, kind, html) = post_raw(
        &b,
        &env,
        &format!("/signin/{tx}/username"),
        "application/json",
        r#"{"username":"una@example.test"}"#,
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(html.contains("This form could not be read"), "{html}");
    // The transaction is untouched: the form itself still works.
    b.post(
        &format!("/signin/{tx}/username"),
        &[("username", "una@example.test")],
    )
    .await;
    b.post(&format!("/signin/{tx}/password"), &[("password", PASSWORD)])
        .await;
    assert!(b.get("/my/roles").await.html().contains("Security Reader"));

    // The activation form: JSON, then a form whose percent-encoding is broken mid-field.
    for (content_type, body) in [
        (
            "application/json",
            format!(r#"{{"role":"{SECURITY_READER}"}}"#),
        ),
        ("text/plain", format!("role={SECURITY_READER}")),
    ] {
        let (status, kind, html) =
            post_raw(&b, &env, "/my/roles/activate", content_type, &body).await;
        assert_eq!(status, 400, "{content_type}: {html}");
        assert!(kind.starts_with("text/html"), "{kind}");
        assert!(html.contains("Nothing was changed"), "{html}");
    }
    // The admin center's re-authentication form.
    let (status, _, html) =
        post_raw(&b, &env, "/admin/reauthenticate", "application/json", "{}").await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("This form could not be read"), "{html}");

    let requests = env
        .state
        .store
        .list_schedule_requests(&ScheduleRequestQuery {
            principal_id: Some(user.id.clone()),
            limit: 10,
            ..ScheduleRequestQuery::default()
        })
        .await
        .unwrap();
    assert!(requests.is_empty(), "{requests:?}");
    env.stop().await;
}
