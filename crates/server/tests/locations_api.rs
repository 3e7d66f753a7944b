//! `/v1.0/identity/conditionalAccess/namedLocations` over HTTP: IP and country locations are
//! created, read, changed and deleted; what Graph refuses is refused with nothing written; a
//! location a policy names cannot be deleted; a trusted range that a policy excludes takes
//! effect in the next sign-in's decision; only Conditional Access administrators write. Every
//! test runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::graph::{delete, get, holder, patch, post};
use common::Env;
use serde_json::{json, Value};

on_both_backends!(
    locations_are_created_read_changed_and_deleted,
    bad_locations_are_refused_and_a_location_in_use_stays,
);

const LOCATIONS: &str = "/v1.0/identity/conditionalAccess/namedLocations";
const POLICIES: &str = "/v1.0/identity/conditionalAccess/policies";
const CA_ADMINISTRATOR: &str = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9";
const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";

fn office() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.ipNamedLocation",
        "displayName": "Head office",
        "isTrusted": true,
        "ipRanges": [
            { "@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24" },
            { "@odata.type": "#microsoft.graph.iPv6CidrRange", "cidrAddress": "2001:db8::/48" }
        ]
    })
}

async fn locations_are_created_read_changed_and_deleted(env: &Env) {
    let (_, admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    let (_, reader) = holder(env, "reader@example.test", SECURITY_READER).await;

    let (status, ip) = post(env, LOCATIONS, &admin, office()).await;
    assert_eq!(status, 201, "{ip}");
    let ip_id = ip["id"].as_str().unwrap().to_string();
    assert_eq!(ip["@odata.type"], "#microsoft.graph.ipNamedLocation");
    assert_eq!(ip["ipRanges"][1]["cidrAddress"], "2001:db8::/48");
    assert!(ip["createdDateTime"].is_string());
    let (status, country) = post(
        env,
        LOCATIONS,
        &admin,
        json!({
            "@odata.type": "#microsoft.graph.countryNamedLocation",
            "displayName": "Allowed countries",
            "countriesAndRegions": ["DE", "NL"],
            "includeUnknownCountriesAndRegions": false
        }),
    )
    .await;
    assert_eq!(status, 201, "{country}");

    // Readers list (by name) and read; $filter on isTrusted.
    let (status, all) = get(env, LOCATIONS, &reader).await;
    assert_eq!(status, 200, "{all}");
    let names: Vec<&str> = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Allowed countries", "Head office"]);
    let (_, trusted) = get(
        env,
        &format!("{LOCATIONS}?$filter=isTrusted eq true"),
        &reader,
    )
    .await;
    assert_eq!(trusted["value"].as_array().unwrap().len(), 1);
    let (status, one) = get(
        env,
        &format!("{LOCATIONS}/{}", ip_id.to_uppercase()),
        &reader,
    )
    .await;
    assert_eq!((status, one["id"].as_str()), (200, Some(ip_id.as_str())));

    // Changed: a merge patch; the kind stays.
    let (status, body) = patch(
        env,
        &format!("{LOCATIONS}/{ip_id}"),
        &admin,
        json!({"displayName": "Head office (VPN)", "ipRanges": [{"cidrAddress": "198.51.100.7"}]}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (_, one) = get(env, &format!("{LOCATIONS}/{ip_id}"), &reader).await;
    assert_eq!(one["displayName"], "Head office (VPN)");
    assert_eq!(one["ipRanges"].as_array().unwrap().len(), 1);
    assert_eq!(one["isTrusted"], true);
    assert!(one["modifiedDateTime"].is_string());
    // The engine reads the change at once.
    let engine = env.state.engine().await.unwrap();
    let stored = engine
        .tenant()
        .named_locations
        .iter()
        .find(|l| l.id == ip_id)
        .unwrap();
    assert_eq!(
        stored.ip_ranges.as_ref().unwrap()[0].cidr_address,
        "198.51.100.7"
    );

    // Deleted: gone, then not found.
    let (status, _) = delete(env, &format!("{LOCATIONS}/{ip_id}"), &admin).await;
    assert_eq!(status, 204);
    let (status, _) = get(env, &format!("{LOCATIONS}/{ip_id}"), &reader).await;
    assert_eq!(status, 404);
    let (status, _) = delete(env, &format!("{LOCATIONS}/{ip_id}"), &admin).await;
    assert_eq!(status, 404);
    let audited: Vec<String> = common::audits_in(env, Some("Policy"))
        .await
        .iter()
        .map(|a| a.entry.activity_display_name.clone())
        .filter(|a| a.contains("named location"))
        .collect();
    assert_eq!(audited.len(), 4, "{audited:?}");
}

async fn bad_locations_are_refused_and_a_location_in_use_stays(env: &Env) {
    let (_, admin) = holder(env, "caadmin@example.test", CA_ADMINISTRATOR).await;
    let (_, reader) = holder(env, "reader@example.test", SECURITY_READER).await;
    for (body, words) in [
        (
            json!({"displayName": "No kind", "ipRanges": []}),
            "at least one range",
        ),
        (
            json!({"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "Bad", "ipRanges": [{"cidrAddress": "10.0.0.0/33"}]}),
            "'10.0.0.0/33'",
        ),
        (
            json!({"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "Bad", "countriesAndRegions": ["Germany"]}),
            "'Germany'",
        ),
        (
            json!({"@odata.type": "#microsoft.graph.compliantNetworkNamedLocation", "displayName": "Other"}),
            "@odata.type",
        ),
        (
            json!({"@odata.type": "#microsoft.graph.ipNamedLocation", "ipRanges": [{"cidrAddress": "10.0.0.0/8"}]}),
            "displayName",
        ),
        (
            json!({"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": 7}),
            "namedLocation",
        ),
        // Found by the Schemathesis run: a kind that is no string was stored and served back.
        (
            json!({"@odata.type": {}, "displayName": "Office", "ipRanges": [{"cidrAddress": "10.0.0.0/8"}]}),
            "@odata.type must be",
        ),
        (
            json!({"@odata.type": null, "displayName": "Office", "countriesAndRegions": ["DE"]}),
            "@odata.type must be",
        ),
    ] {
        let (status, refused) = post(env, LOCATIONS, &admin, body.clone()).await;
        assert_eq!(status, 400, "{body} → {refused}");
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{body}: {message}");
    }
    let (_, all) = get(env, LOCATIONS, &reader).await;
    assert!(all["value"].as_array().unwrap().is_empty(), "{all}");

    // Writers only.
    let (status, _) = post(env, LOCATIONS, &reader, office()).await;
    assert_eq!(status, 403);

    // A location a policy excludes cannot be deleted; its kind cannot change.
    let (_, ip) = post(env, LOCATIONS, &admin, office()).await;
    let id = ip["id"].as_str().unwrap();
    let (status, refused) = patch(
        env,
        &format!("{LOCATIONS}/{id}"),
        &admin,
        json!({"@odata.type": "#microsoft.graph.countryNamedLocation", "countriesAndRegions": ["DE"]}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    let (status, policy) = post(
        env,
        POLICIES,
        &admin,
        json!({
            "displayName": "MFA outside the office",
            "state": "enabledForReportingButNotEnforced",
            "conditions": {
                "users": { "includeUsers": ["All"] },
                "applications": { "includeApplications": ["All"] },
                "locations": { "includeLocations": ["All"], "excludeLocations": [id] },
                "clientAppTypes": ["all"]
            },
            "grantControls": { "operator": "OR", "builtInControls": ["mfa"] }
        }),
    )
    .await;
    assert_eq!(status, 201, "{policy}");
    let (status, refused) = delete(env, &format!("{LOCATIONS}/{id}"), &admin).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("MFA outside the office"));
    let (status, _) = get(env, &format!("{LOCATIONS}/{id}"), &reader).await;
    assert_eq!(status, 200);
}
