//! `/v1.0/auditLogs/signIns` and `/v1.0/auditLogs/directoryAudits` over HTTP: a reader of
//! reports sees the sign-ins (with each policy's result) and the audit entries of what was
//! done, filtered and paged as Graph does; one by id; users without the role see neither.
//! Every test runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::graph::{get, holder, post, signed_in};
use common::Env;
use serde_json::{json, Value};

on_both_backends!(
    readers_see_sign_ins_with_their_policies,
    readers_see_audit_entries_with_their_chain,
    logs_filter_on_time_ranges,
);

const SIGN_INS: &str = "/v1.0/auditLogs/signIns";
const AUDITS: &str = "/v1.0/auditLogs/directoryAudits";
const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
const CA_ADMINISTRATOR: &str = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9";

fn values(list: &Value) -> &Vec<Value> {
    list["value"].as_array().unwrap()
}

async fn readers_see_sign_ins_with_their_policies(env: &Env) {
    env.policies(json!({
        "conditionalAccessPolicies": [{
            "id": "9a4c7c43-0000-4000-8000-000000000001",
            "displayName": "Report: MFA for everyone",
            "state": "enabledForReportingButNotEnforced",
            "conditions": {
                "users": { "includeUsers": ["All"] },
                "applications": { "includeApplications": ["All"] },
                "clientAppTypes": ["all"]
            },
            "grantControls": { "operator": "OR", "builtInControls": ["mfa"] }
        }]
    }))
    .await;
    let (_, nobody) = signed_in(env, "nobody@example.test").await;
    signed_in(env, "adele@example.test").await;
    let (_, reader) = holder(env, "reader@example.test", SECURITY_READER).await;

    let (status, all) = get(env, SIGN_INS, &reader).await;
    assert_eq!(status, 200, "{all}");
    let adele: Vec<&Value> = values(&all)
        .iter()
        .filter(|s| s["userPrincipalName"] == "adele@example.test")
        .collect();
    assert!(!adele.is_empty(), "{all}");
    let one = adele[0];
    assert_eq!(one["status"]["result"], "success");
    let applied = one["appliedConditionalAccessPolicies"].as_array().unwrap();
    assert!(
        applied
            .iter()
            .any(|p| p["displayName"] == "Report: MFA for everyone"),
        "{one}"
    );

    // Filtered, counted and paged.
    let (status, filtered) = get(
        env,
        &format!("{SIGN_INS}?$filter=userPrincipalName eq 'ADELE@example.test'&$count=true&$top=1"),
        &reader,
    )
    .await;
    assert_eq!(status, 200, "{filtered}");
    assert_eq!(values(&filtered).len(), 1);
    assert_eq!(filtered["@odata.count"], adele.len());
    assert!(values(&filtered)
        .iter()
        .all(|s| s["userPrincipalName"] == "adele@example.test"));
    if adele.len() > 1 {
        assert!(filtered["@odata.nextLink"].is_string(), "{filtered}");
    }
    let (status, _) = get(env, &format!("{SIGN_INS}?$filter=status eq 'x'"), &reader).await;
    assert_eq!(status, 400);

    // One by id; an unknown id is not found.
    let id = one["id"].as_str().unwrap();
    let (status, by_id) = get(env, &format!("{SIGN_INS}/{id}"), &reader).await;
    assert_eq!(status, 200, "{by_id}");
    assert_eq!(by_id["id"], id);
    assert_eq!(by_id["userPrincipalName"], "adele@example.test");
    let (status, _) = get(env, &format!("{SIGN_INS}/no-such-sign-in"), &reader).await;
    assert_eq!(status, 404);

    // Without a role that reads reports: refused.
    let (status, refused) = get(env, SIGN_INS, &nobody).await;
    assert_eq!(status, 403, "{refused}");
    let (status, _) = get(env, &format!("{SIGN_INS}/{id}"), &nobody).await;
    assert_eq!(status, 403);
}

async fn readers_see_audit_entries_with_their_chain(env: &Env) {
    let (_, admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    let (_, reader) = holder(env, "reader@example.test", SECURITY_READER).await;
    let (status, _) = post(
        env,
        "/v1.0/identity/conditionalAccess/authenticationContextClassReferences",
        &admin,
        json!({"id": "c4", "displayName": "Audited"}),
    )
    .await;
    assert_eq!(status, 201);

    let (status, policy) = get(
        env,
        &format!("{AUDITS}?$filter=category eq 'Policy' and activityDisplayName eq 'Add authentication context'"),
        &reader,
    )
    .await;
    assert_eq!(status, 200, "{policy}");
    let entries = values(&policy);
    assert_eq!(entries.len(), 1, "{policy}");
    let entry = &entries[0];
    assert_eq!(entry["result"], "success");
    assert!(
        entry["initiatedBy"]
            .to_string()
            .contains("caadmin@example.test"),
        "{entry}"
    );
    assert_eq!(entry["hash"].as_str().unwrap().len(), 64);

    let id = entry["id"].as_str().unwrap();
    let (status, by_id) = get(env, &format!("{AUDITS}/{id}"), &reader).await;
    assert_eq!(status, 200, "{by_id}");
    assert_eq!(by_id["hash"], entry["hash"]);
    let (status, _) = get(env, &format!("{AUDITS}/no-such-entry"), &reader).await;
    assert_eq!(status, 404);

    // The writer of policies does not read the audit log; nor does a plain user.
    let (status, _) = get(env, AUDITS, &admin).await;
    assert_eq!(status, 403);
    let (_, nobody) = signed_in(env, "nobody@example.test").await;
    let (status, _) = get(env, AUDITS, &nobody).await;
    assert_eq!(status, 403);
}

/// `createdDateTime` and `activityDateTime` compare as times (`ge`, `gt`, `le`, `lt`, `eq`),
/// as Graph's reports are usually read: "since yesterday".
async fn logs_filter_on_time_ranges(env: &Env) {
    let (_, reader) = holder(env, "reader@example.test", SECURITY_READER).await;
    signed_in(env, "adele@example.test").await;
    let (_, ca) = holder(env, "ca@example.test", CA_ADMINISTRATOR).await;
    for id in ["c5", "c6"] {
        let (status, made) = post(
            env,
            "/v1.0/identity/conditionalAccess/authenticationContextClassReferences",
            &ca,
            json!({"id": id, "displayName": id, "isAvailable": true}),
        )
        .await;
        assert_eq!(status, 201, "{made}");
    }
    let now = env.now();
    let at =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let hour_ago = at(now - chrono::Duration::hours(1));
    let in_an_hour = at(now + chrono::Duration::hours(1));

    for (collection, property) in [(SIGN_INS, "createdDateTime"), (AUDITS, "activityDateTime")] {
        let (status, all) = get(env, collection, &reader).await;
        assert_eq!(status, 200, "{all}");
        let total = values(&all).len();
        assert!(total >= 2, "{collection}: {all}");
        let (status, since) = get(
            env,
            &format!(
                "{collection}?$filter={property} ge {hour_ago} and {property} lt {in_an_hour}"
            ),
            &reader,
        )
        .await;
        assert_eq!(status, 200, "{since}");
        assert_eq!(values(&since).len(), total, "{collection}");
        let (_, before) = get(
            env,
            &format!("{collection}?$filter={property} lt {hour_ago}"),
            &reader,
        )
        .await;
        assert!(values(&before).is_empty(), "{collection}: {before}");
        let (status, refused) = get(
            env,
            &format!("{collection}?$filter={property} ge 'yesterday'"),
            &reader,
        )
        .await;
        assert_eq!(status, 400, "{refused}");
    }
}
