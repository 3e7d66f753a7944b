//! `server::graph::odata`: the query options of every Graph `GET` (`$filter`, `$select`,
//! `$top`, `$skiptoken`, `$count`, `$expand`), read under the options of an endpoint the first
//! byte picks, then applied to a collection as the list routes apply them.
//!
//! Beyond "no panic": a time a filter compares with parses again (else the filter would keep
//! nothing), an `eq` term keeps an item holding its value, and the `@odata.nextLink` of a page
//! reads again under the same endpoint to the same options, one page on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use server::graph::odata::{self, Accepts, Comparison};

/// The options of real endpoints (graph/*.rs).
const ENDPOINTS: &[Accepts<'static>] = &[
    // auditLogs/signIns
    Accepts {
        filter: &[
            "userId",
            "userPrincipalName",
            "appId",
            "ipAddress",
            "createdDateTime",
        ],
        paging: true,
        select: true,
        expand: &[],
    },
    // auditLogs/directoryAudits
    Accepts {
        filter: &[
            "activityDateTime",
            "category",
            "correlationId",
            "activityDisplayName",
            "operationType",
            "result",
            "loggedByService",
        ],
        paging: true,
        select: true,
        expand: &[],
    },
    // users
    Accepts {
        filter: &[
            "id",
            "userPrincipalName",
            "displayName",
            "accountEnabled",
            "userType",
        ],
        paging: true,
        select: true,
        expand: &[],
    },
    // policies/roleManagementPolicyAssignments
    Accepts {
        filter: &["id", "policyId", "roleDefinitionId", "scopeId", "scopeType"],
        paging: true,
        select: true,
        expand: &["policy"],
    },
    // roleManagementPolicies/{id}: rules expanded
    Accepts {
        filter: &[],
        paging: false,
        select: false,
        expand: &["rules", "effectiveRules"],
    },
    // a single item
    Accepts {
        filter: &[],
        paging: false,
        select: false,
        expand: &[],
    },
];

fn items() -> Vec<Value> {
    (0..12)
        .map(|i| {
            json!({
                "@odata.type": "#microsoft.graph.user",
                "id": format!("id-{i}"),
                "userPrincipalName": format!("user{i}@contoso.example"),
                "displayName": if i % 2 == 0 { "Even" } else { "Odd" },
                "accountEnabled": i % 3 != 0,
                "createdDateTime": format!("2026-12-01T{:02}:00:00Z", i),
                "activityDateTime": format!("2026-12-01T{:02}:30:00+01:00", i),
                "policy": {"id": format!("p{i}")},
            })
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let accepts = &ENDPOINTS[usize::from(*first) % ENDPOINTS.len()];
    let raw = String::from_utf8_lossy(rest);
    let Ok(options) = odata::parse(Some(&raw), accepts) else {
        return;
    };
    if let Some(filter) = &options.filter {
        for term in &filter.terms {
            assert!(accepts.filter.contains(&term.property.as_str()));
            if term.property.ends_with("DateTime") {
                assert!(
                    chrono::DateTime::parse_from_rfc3339(&term.value).is_ok(),
                    "the filter compares with '{}', which is no time: it would keep nothing",
                    term.value
                );
            } else if term.op == Comparison::Eq && !matches!(term.value.as_str(), "true" | "false")
            {
                let item = json!({ term.property.clone(): term.value });
                let alone = odata::Filter {
                    terms: vec![term.clone()],
                };
                assert!(
                    alone.matches(&item),
                    "{term:?} does not keep an item holding its value"
                );
            }
        }
    }
    if let Some(top) = options.top {
        assert!((1..=odata::MAX_TOP).contains(&top));
    }
    let all = items();
    let answer = odata::collection(
        "https://idp.example/v1.0/$metadata#users".into(),
        all.clone(),
        &options,
        "https://idp.example",
        "/v1.0/users",
    );
    let page = answer["value"].as_array().expect("a page is a list");
    let kept: Vec<&Value> = all.iter().filter(|i| options.keeps(i)).collect();
    assert!(page.len() <= kept.len());
    if options.count {
        assert_eq!(answer["@odata.count"], json!(kept.len()));
    }
    if let Some(next) = answer["@odata.nextLink"].as_str() {
        let query = next
            .split_once('?')
            .map(|(_, q)| q)
            .expect("a next link has a query");
        let again = odata::parse(Some(query), accepts)
            .unwrap_or_else(|e| panic!("the next link {next} does not read again: {}", e.0));
        assert_eq!(again.filter, options.filter);
        assert_eq!(again.top, options.top);
        assert_eq!(again.select, options.select);
        assert_eq!(again.count, options.count);
        assert_eq!(again.skip, options.skip.min(kept.len()) + page.len());
    }
    for item in page {
        let projected = options.project(item.clone());
        assert_eq!(&projected, item, "a page is projected once");
    }
});
