//! `/v1.0/groups` over HTTP: anyone signed in reads groups and their members; a User
//! Administrator creates groups, nests them and changes their members with `$ref`, and deletes
//! them; role-assignable groups take a Privileged Role Administrator and hold no groups; and
//! removing the member through whom the only eligible Global Administrator holds the role is
//! refused by the lockout guard unless forced. Every test runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::graph::{administrator, assign, delete, get, holder, patch, post, signed_in};
use common::Env;
use policy::directory::{AssignmentStatus, GLOBAL_ADMINISTRATOR};
use serde_json::{json, Value};

on_both_backends!(
    groups_are_created_nested_and_deleted,
    role_assignable_groups_are_guarded,
);

const GROUPS: &str = "/v1.0/groups";
const USER_ADMINISTRATOR: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";

fn reference(id: &str) -> Value {
    json!({ "@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}") })
}

fn member_ids(list: &Value) -> Vec<&str> {
    list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect()
}

async fn groups_are_created_nested_and_deleted(env: &Env) {
    let (_, admin) = holder(env, "useradmin@example.test", USER_ADMINISTRATOR).await;
    let (nina, plain) = signed_in(env, "nina@example.test").await;

    let (status, support) = post(env, GROUPS, &admin, json!({"displayName": "Support"})).await;
    assert_eq!(status, 201, "{support}");
    assert_eq!(support["isAssignableToRole"], false);
    let support_id = support["id"].as_str().unwrap().to_string();
    let (_, tier2) = post(env, GROUPS, &admin, json!({"displayName": "Tier 2"})).await;
    let tier2_id = tier2["id"].as_str().unwrap().to_string();

    // Renamed (audited old → new); what cannot change is refused, naming it; nothing changed.
    let support_path = format!("{GROUPS}/{support_id}");
    let (status, body) = patch(
        env,
        &support_path,
        &admin,
        json!({"displayName": "Support desk"}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        get(env, &support_path, &plain).await.1["displayName"],
        "Support desk"
    );
    for (body, mentions) in [
        (json!({"isAssignableToRole": true}), "isAssignableToRole"),
        (json!({"displayName": 3}), "displayName"),
        (json!({"displayName": "  "}), "displayName"),
        (json!({"mailNickname": "x"}), "mailNickname"),
    ] {
        let (status, refused) = patch(env, &support_path, &admin, body.clone()).await;
        assert_eq!(status, 400, "{body}: {refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains(mentions),
            "{body}: {refused}"
        );
    }
    assert_eq!(
        get(env, &support_path, &plain).await.1["displayName"],
        "Support desk"
    );
    assert_eq!(
        patch(env, &support_path, &plain, json!({"displayName": "Mine"}))
            .await
            .0,
        403
    );
    assert_eq!(
        patch(
            env,
            &format!("{GROUPS}/no-such-group"),
            &admin,
            json!({"displayName": "X"})
        )
        .await
        .0,
        404
    );
    let renamed = common::audits_named(env, "Update group").await;
    assert!(renamed.iter().any(|a| a
        .entry
        .additional_details
        .to_string()
        .contains("Support → Support desk")));

    // Nina into Support, Support into Tier 2.
    let (status, body) = post(
        env,
        &format!("{GROUPS}/{support_id}/members/$ref"),
        &admin,
        reference(&nina.id),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = post(
        env,
        &format!("{GROUPS}/{tier2_id}/members/$ref"),
        &admin,
        reference(&support_id),
    )
    .await;
    assert_eq!(status, 204);
    let (status, members) = get(env, &format!("{GROUPS}/{tier2_id}/members"), &plain).await;
    assert_eq!(status, 200, "{members}");
    assert_eq!(member_ids(&members), [support_id.as_str()]);
    assert_eq!(members["value"][0]["@odata.type"], "#microsoft.graph.group");
    let (_, members) = get(env, &format!("{GROUPS}/{support_id}/members"), &plain).await;
    assert_eq!(
        members["value"][0]["userPrincipalName"],
        "nina@example.test"
    );
    // The engine sees Nina in Tier 2 through Support.
    let engine = env.state.engine().await.unwrap();
    assert!(engine
        .transitive_groups(&nina.id)
        .contains(&tier2_id.to_ascii_lowercase()));

    // Refused: no such member, a group in itself, a body without @odata.id, a plain user.
    for (body, status) in [
        (reference("00000000-0000-0000-0000-0000000000aa"), 404),
        (reference(&support_id), 400),
        (json!({"id": nina.id}), 400),
    ] {
        let (got, refused) = post(
            env,
            &format!("{GROUPS}/{support_id}/members/$ref"),
            &admin,
            body.clone(),
        )
        .await;
        assert_eq!(got, status, "{body} → {refused}");
    }
    let (status, _) = post(env, GROUPS, &plain, json!({"displayName": "Mine"})).await;
    assert_eq!(status, 403);
    let (status, _) = post(env, GROUPS, &admin, json!({"displayName": " "})).await;
    assert_eq!(status, 400);

    // Removed, then deleted; audited.
    let (status, _) = delete(
        env,
        &format!("{GROUPS}/{support_id}/members/{}/$ref", nina.id),
        &admin,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = delete(
        env,
        &format!("{GROUPS}/{support_id}/members/{}/$ref", nina.id),
        &admin,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = delete(env, &format!("{GROUPS}/{tier2_id}"), &admin).await;
    assert_eq!(status, 204);
    let (status, _) = get(env, &format!("{GROUPS}/{tier2_id}"), &plain).await;
    assert_eq!(status, 404);
    let (_, list) = get(
        env,
        &format!("{GROUPS}?$filter=displayName eq 'support desk'"),
        &plain,
    )
    .await;
    assert_eq!(member_ids(&list), [support_id.as_str()]);
    let activities: Vec<String> = common::audits_in(env, Some("GroupManagement"))
        .await
        .iter()
        .map(|a| a.entry.activity_display_name.clone())
        .collect();
    for a in [
        "Add group",
        "Add member to group",
        "Remove member from group",
        "Delete group",
    ] {
        assert!(activities.iter().any(|x| x == a), "{a}: {activities:?}");
    }
}

async fn role_assignable_groups_are_guarded(env: &Env) {
    let (_, user_admin) = holder(env, "useradmin@example.test", USER_ADMINISTRATOR).await;
    let (_, pra) = administrator(env, "pra@example.test").await;
    let (adele, _) = signed_in(env, "adele@example.test").await;

    // Only those who administer roles make or change a role-assignable group.
    let (status, refused) = post(
        env,
        GROUPS,
        &user_admin,
        json!({"displayName": "Tier 0", "isAssignableToRole": true}),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    let (status, tier0) = post(
        env,
        GROUPS,
        &pra,
        json!({"displayName": "Tier 0", "isAssignableToRole": true}),
    )
    .await;
    assert_eq!(status, 201, "{tier0}");
    let tier0_id = tier0["id"].as_str().unwrap().to_string();
    let (status, _) = post(
        env,
        &format!("{GROUPS}/{tier0_id}/members/$ref"),
        &user_admin,
        reference(&adele.id),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = patch(
        env,
        &format!("{GROUPS}/{tier0_id}"),
        &user_admin,
        json!({"displayName": "Not tier 0"}),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        patch(
            env,
            &format!("{GROUPS}/{tier0_id}"),
            &pra,
            json!({"displayName": "Tier 0 admins"})
        )
        .await
        .0,
        204
    );
    let (status, _) = post(
        env,
        &format!("{GROUPS}/{tier0_id}/members/$ref"),
        &pra,
        reference(&adele.id),
    )
    .await;
    assert_eq!(status, 204);
    let (_, other) = post(env, GROUPS, &pra, json!({"displayName": "Other"})).await;
    let (status, refused) = post(
        env,
        &format!("{GROUPS}/{tier0_id}/members/$ref"),
        &pra,
        reference(other["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 400, "{refused}");

    // Adele holds Global Administrator (eligible) only through Tier 0, and its activation
    // requires c1: removing her, or deleting the group, is refused unless forced.
    assign(
        env,
        &tier0_id,
        GLOBAL_ADMINISTRATOR,
        AssignmentStatus::Eligible,
        None,
    )
    .await;
    env.policies(json!({
        "authenticationContextClassReferences": [{ "id": "c1", "displayName": "PIM", "isAvailable": true }]
    }))
    .await;
    let mut settings = pim::RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, env.now());
    settings
        .require_authentication_context("c1", env.now(), None)
        .unwrap();
    env.state.store.put_role_policy(&settings, 0).await.unwrap();
    let membership = format!("{GROUPS}/{tier0_id}/members/{}/$ref", adele.id);
    let (status, refused) = delete(env, &membership, &pra).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "ConditionalAccessLockout");
    let (status, _) = delete(env, &format!("{GROUPS}/{tier0_id}"), &pra).await;
    assert_eq!(status, 409);
    let (_, members) = get(env, &format!("{GROUPS}/{tier0_id}/members"), &pra).await;
    assert_eq!(member_ids(&members), [adele.id.as_str()]);
    let (status, _) = delete(env, &format!("{membership}?force=true"), &pra).await;
    assert_eq!(status, 204);
    assert!(common::audits_in(env, Some("GroupManagement"))
        .await
        .iter()
        .any(|a| a.entry.result == store::AuditResult::Success
            && a.entry.additional_details.to_string().contains("force")));
}
