//! The admin center's Users and Groups over real HTTP, on SQLite and PostgreSQL: a User
//! Administrator creates, renames, disables and deletes users and groups and changes members,
//! through the same services as Graph's `/users` and `/groups` and with their rules (a user who
//! may hold a role, or a role-assignable group, is not theirs to change); invalid input is
//! refused on the page as typed, with nothing written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::graph::assign;
use common::pim::{eligible, PASSWORD};
use common::{Browser, Env, Landing};
use policy::directory::AssignmentStatus;
use policy::roles::BuiltInRole;

on_both_backends!(
    users_are_created_changed_and_deleted,
    groups_and_their_members_are_managed,
    a_large_tenants_users_are_listed_200_at_a_time_and_found_by_name,
);

async fn sign_in(b: &Browser, path: &str, upn: &str, password: &str) -> Landing {
    b.sign_in_with_password(path, upn, password).await
}

async fn user_admin(env: &Env, upn: &str, path: &str) -> Browser {
    let user = env.user(upn, PASSWORD).await;
    assign(
        env,
        &user.id,
        BuiltInRole::UserAdministrator.template_id(),
        AssignmentStatus::Active,
        None,
    )
    .await;
    let b = Browser::new(env);
    sign_in(&b, path, upn, PASSWORD).await;
    b
}

fn page_of(landing: &Landing) -> (u16, &str) {
    match landing {
        Landing::Page { status, html, .. } => (*status, html.as_str()),
        Landing::Client(u) => panic!("landed at the client: {u}"),
    }
}

async fn users_are_created_changed_and_deleted(env: &Env) {
    let b = user_admin(env, "ursula@example.test", "/admin/users").await;
    let new_password = "a long first password";
    for (form, status, says) in [
        (
            vec![
                ("upn", "not-an-address"),
                ("name", "Ned"),
                ("password", new_password),
            ],
            400,
            "is not a userPrincipalName",
        ),
        (
            vec![
                ("upn", "ned@example.test"),
                ("name", "Ned"),
                ("password", "short"),
            ],
            400,
            "at least 8 characters",
        ),
        (
            vec![
                ("upn", "ursula@example.test"),
                ("name", "Twin"),
                ("password", new_password),
            ],
            409,
            "already has the userPrincipalName",
        ),
    ] {
        let mut full = vec![("op", "create")];
        full.extend(form.iter().copied());
        let r = b.post("/admin/users", &full).await;
        let (got, html) = page_of(&r);
        assert_eq!(got, status, "{form:?}: {html}");
        assert!(html.contains(says), "{form:?}: {html}");
        assert!(html.contains(&format!("value=\"{}\"", form[0].1)), "{html}");
        // The password is never sent back.
        assert!(!html.contains(new_password), "{html}");
    }
    assert!(env
        .state
        .store
        .get_user_by_upn("ned@example.test")
        .await
        .is_err());

    let r = b
        .post(
            "/admin/users",
            &[
                ("op", "create"),
                ("upn", "ned@example.test"),
                ("name", "Ned"),
                ("password", new_password),
            ],
        )
        .await;
    let (status, html) = page_of(&r);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("The user was created."), "{html}");
    let ned = env
        .state
        .store
        .get_user_by_upn("ned@example.test")
        .await
        .unwrap();
    assert!(ned.account_enabled);
    // The first password works.
    let landing = sign_in(&Browser::new(env), "/", "ned@example.test", new_password).await;
    assert_eq!(page_of(&landing).0, 200);

    for (form, check) in [
        (
            vec![
                ("op", "rename"),
                ("user", ned.id.as_str()),
                ("name", "Ned Flanders"),
            ],
            "renamed",
        ),
        (
            vec![("op", "disable"), ("user", ned.id.as_str())],
            "disabled",
        ),
    ] {
        let r = b.post("/admin/users", &form).await;
        let (status, html) = page_of(&r);
        assert_eq!(status, 200, "{html}");
        assert!(html.contains(&format!("The user was {check}.")), "{html}");
    }
    let ned_now = env.state.store.get_user(&ned.id).await.unwrap();
    assert_eq!(ned_now.display_name, "Ned Flanders");
    assert!(!ned_now.account_enabled);

    // Someone who may hold a role is a Global Administrator's to change.
    let privileged = env.user("pria@example.test", PASSWORD).await;
    eligible(env, &privileged, common::graph::SECURITY_READER).await;
    let r = b
        .post(
            "/admin/users",
            &[("op", "disable"), ("user", privileged.id.as_str())],
        )
        .await;
    let (status, html) = page_of(&r);
    assert_eq!(status, 403, "{html}");
    assert!(
        html.contains("only an active Global Administrator"),
        "{html}"
    );
    assert!(
        env.state
            .store
            .get_user(&privileged.id)
            .await
            .unwrap()
            .account_enabled
    );

    let r = b
        .post(
            "/admin/users",
            &[("op", "delete"), ("user", ned.id.as_str())],
        )
        .await;
    assert!(page_of(&r).1.contains("The user was deleted."), "{r:?}");
    assert!(env.state.store.get_user(&ned.id).await.is_err());
}

async fn groups_and_their_members_are_managed(env: &Env) {
    let b = user_admin(env, "gus@example.test", "/admin/groups").await;
    let hal = env.user("hal@example.test", PASSWORD).await;
    // Role-assignable groups are for those who administer roles.
    let r = b
        .post(
            "/admin/groups",
            &[
                ("op", "create"),
                ("name", "Tier 0"),
                ("role_assignable", "on"),
            ],
        )
        .await;
    let (status, html) = page_of(&r);
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("value=\"Tier 0\""), "{html}");
    let r = b
        .post("/admin/groups", &[("op", "create"), ("name", "  ")])
        .await;
    assert_eq!(page_of(&r).0, 400);
    assert!(env.state.store.list_groups().await.unwrap().is_empty());

    let r = b
        .post("/admin/groups", &[("op", "create"), ("name", "Helpdesk")])
        .await;
    let (status, html) = page_of(&r);
    assert_eq!(status, 200, "{html}");
    let group = env.state.store.list_groups().await.unwrap().remove(0);
    assert_eq!(group.display_name, "Helpdesk");
    assert!(!group.is_assignable_to_role);

    // Members: by sign-in name; an unknown one is refused.
    let r = b
        .post(
            "/admin/groups",
            &[
                ("op", "add"),
                ("group", group.id.as_str()),
                ("member", "hal@example.test"),
            ],
        )
        .await;
    let (status, html) = page_of(&r);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Members of Helpdesk"), "{html}");
    assert!(html.contains("hal@example.test (user)"), "{html}");
    assert_eq!(
        env.state.store.list_members(&group.id).await.unwrap(),
        vec![hal.id.clone()]
    );
    let r = b
        .post(
            "/admin/groups",
            &[
                ("op", "add"),
                ("group", group.id.as_str()),
                ("member", "nobody@example.test"),
            ],
        )
        .await;
    let (status, html) = page_of(&r);
    assert_eq!(status, 404, "{html}");
    assert!(html.contains("value=\"nobody@example.test\""), "{html}");
    let r = b
        .post(
            "/admin/groups",
            &[
                ("op", "remove"),
                ("group", group.id.as_str()),
                ("member", hal.id.as_str()),
            ],
        )
        .await;
    assert_eq!(page_of(&r).0, 200);
    assert!(env
        .state
        .store
        .list_members(&group.id)
        .await
        .unwrap()
        .is_empty());

    let r = b
        .post(
            "/admin/groups",
            &[
                ("op", "rename"),
                ("group", group.id.as_str()),
                ("name", "Service desk"),
            ],
        )
        .await;
    assert_eq!(page_of(&r).0, 200);
    assert_eq!(
        env.state
            .store
            .get_group(&group.id)
            .await
            .unwrap()
            .display_name,
        "Service desk"
    );
    let r = b
        .post(
            "/admin/groups",
            &[("op", "delete"), ("group", group.id.as_str())],
        )
        .await;
    assert_eq!(page_of(&r).0, 200);
    assert!(env.state.store.list_groups().await.unwrap().is_empty());

    // A cross-site form changes nothing.
    let r = b
        .http
        .post(format!("{}/admin/groups", env.base))
        .header("Origin", "https://evil.example")
        .form(&[("op", "create"), ("name", "Evil")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(env.state.store.list_groups().await.unwrap().is_empty());
}

async fn a_large_tenants_users_are_listed_200_at_a_time_and_found_by_name(env: &Env) {
    for i in 0..210 {
        let upn = format!("staff{i:03}@example.test");
        let user = store::User::new(&upn, &upn, env.now());
        env.state.store.create_user(&user).await.unwrap();
    }
    let b = user_admin(env, "ursula@example.test", "/admin/users").await;
    let all = b.get("/admin/users").await;
    let (status, html) = page_of(&all);
    assert_eq!(status, 200);
    // 211 users with the administrator: the first 200 by sign-in name, and a word on the rest.
    assert_eq!(html.matches("<tr id=\"user-").count(), 200, "{html}");
    assert!(html.contains("id=\"more\""), "{html}");
    assert!(html.contains("staff000@example.test"));
    assert!(
        !html.contains("<td>ursula@example.test</td>"),
        "past the first 200"
    );
    // A search by the start of the sign-in name, in any case.
    let found = b.get("/admin/users?q=URSULA").await;
    let (status, html) = page_of(&found);
    assert_eq!(status, 200);
    assert_eq!(html.matches("<tr id=\"user-").count(), 1, "{html}");
    assert!(html.contains("<td>ursula@example.test</td>"), "{html}");
    assert!(!html.contains("id=\"more\""), "{html}");
    let some = b.get("/admin/users?q=staff20").await;
    assert_eq!(page_of(&some).1.matches("<tr id=\"user-").count(), 10);
    // A search of what a LIKE pattern would read as wildcards matches nothing.
    let none = b.get("/admin/users?q=%25").await;
    assert_eq!(page_of(&none).1.matches("<tr id=\"user-").count(), 0);
}
