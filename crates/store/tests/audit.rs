//! The audit log (`directoryAudits`): appended to, never changed, hash-chained. Concurrent
//! appends still make one gap-free chain; a changed, deleted or cut-off entry is found, at its
//! position. Every test runs on SQLite and PostgreSQL (see `support`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use sqlx::Row;
use store::*;
use support::{t, Ctx};

on_both_backends!(
    entries_round_trip_and_chain,
    queries_filter_and_page,
    concurrent_appends_make_one_chain,
    appends_from_several_nodes_make_one_chain,
    a_changed_entry_is_located,
    a_changed_chain_field_is_located,
    a_deleted_entry_is_detected,
    a_cut_off_tail_is_detected,
    audited_changes_share_the_chain,
);

fn entry(n: usize) -> AuditEntry {
    AuditEntry::new(
        "RoleManagement",
        &format!("Activity {n}"),
        "Add",
        t(n as i64),
    )
    .by_user("u-1", Some("alice@example.test"))
    .target("Role", "role-1", Some("Global Administrator"))
    .detail("Justification", &format!("reason {n}"))
    .correlation(&format!("req-{}", n % 3))
}

async fn append_n(s: &Store, n: usize) -> Vec<AuditRecord> {
    let mut out = Vec::new();
    for i in 1..=n {
        out.push(s.append_audit(&entry(i)).await.unwrap());
    }
    out
}

async fn exec(ctx: &Ctx, sql: &str) {
    let mut conn = ctx.raw().await;
    let done = sqlx::query(sql).execute(&mut conn).await.unwrap();
    assert_eq!(done.rows_affected(), 1, "{sql}");
}

async fn entries_round_trip_and_chain(ctx: Ctx) {
    let s = &ctx.store;
    let empty = s.verify_audit_chain().await.unwrap();
    assert_eq!((empty.entries, empty.first_broken), (0, None));

    let failed = AuditEntry::new(
        "RoleManagement",
        "Add member to role request refused (PIM step-up replayed)",
        "Other",
        t(5) + chrono::Duration::microseconds(1234),
    )
    .by_app("Portcullis")
    .failed("the step-up proof was already used");
    let first = s.append_audit(&failed).await.unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(first.prev_hash, GENESIS_HASH);
    assert_eq!(first.hash.len(), 64);
    // Kept to the millisecond, as the store keeps times.
    assert_eq!(
        first.entry.activity_date_time,
        t(5) + chrono::Duration::milliseconds(1)
    );
    assert_eq!(first.entry.result, AuditResult::Failure);
    assert_eq!(s.get_audit(&failed.id).await.unwrap(), first);

    let second = s.append_audit(&entry(2)).await.unwrap();
    assert_eq!(second.seq, 2);
    assert_eq!(second.prev_hash, first.hash);
    let read = s.get_audit(&second.entry.id).await.unwrap();
    assert_eq!(read, second);
    assert_eq!(
        read.entry.initiated_by["user"]["userPrincipalName"],
        "alice@example.test"
    );
    assert_eq!(read.entry.target_resources[0]["type"], "Role");
    assert_eq!(
        read.entry.additional_details,
        json!([{"key": "Justification", "value": "reason 2"}])
    );
    // Graph-shaped JSON, with the chain fields beside the entry's.
    let graph = serde_json::to_value(&read).unwrap();
    assert_eq!(graph["activityDisplayName"], "Activity 2");
    assert_eq!(graph["result"], "success");
    assert_eq!(graph["seq"], 2);

    // An id used twice is refused and leaves the chain as it was.
    assert!(s.append_audit(&entry(2)).await.is_ok());
    let mut dup = entry(9);
    dup.id = second.entry.id.clone();
    assert!(s.append_audit(&dup).await.unwrap_err().is_conflict());
    assert!(s.get_audit("missing").await.unwrap_err().is_not_found());

    let v = s.verify_audit_chain().await.unwrap();
    assert_eq!((v.entries, v.first_broken), (3, None));
    assert_eq!(s.append_audit(&entry(4)).await.unwrap().seq, 4);
}

async fn queries_filter_and_page(ctx: Ctx) {
    let s = &ctx.store;
    append_n(s, 9).await;
    let seqs = |records: Vec<AuditRecord>| -> Vec<u64> { records.iter().map(|r| r.seq).collect() };
    assert_eq!(
        seqs(s.query_audits(&AuditQuery::default()).await.unwrap()),
        vec![9, 8, 7, 6, 5, 4, 3, 2, 1]
    );
    let page = AuditQuery {
        before_seq: Some(6),
        limit: 2,
        ..AuditQuery::default()
    };
    assert_eq!(seqs(s.query_audits(&page).await.unwrap()), vec![5, 4]);
    let window = AuditQuery {
        since: Some(t(3)),
        until: Some(t(6)),
        ..AuditQuery::default()
    };
    assert_eq!(seqs(s.query_audits(&window).await.unwrap()), vec![5, 4, 3]);
    let correlated = AuditQuery {
        correlation_id: Some("req-1".into()),
        ..AuditQuery::default()
    };
    assert_eq!(
        seqs(s.query_audits(&correlated).await.unwrap()),
        vec![7, 4, 1]
    );
    let other = AuditQuery {
        category: Some("Policy".into()),
        ..AuditQuery::default()
    };
    assert!(s.query_audits(&other).await.unwrap().is_empty());
}

async fn concurrent_appends_make_one_chain(ctx: Ctx) {
    let s = ctx.store.clone();
    // 100 entries from 8 tasks at once.
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in (task..100).step_by(8) {
                    seqs.push(s.append_audit(&entry(i)).await.unwrap().seq);
                }
                seqs
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.extend(task.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=100).collect::<Vec<u64>>());

    let v = s.verify_audit_chain().await.unwrap();
    assert_eq!((v.entries, v.first_broken.clone()), (100, None), "{v:?}");
    // Stored positions are contiguous too, and each entry follows the one before it.
    let mut conn = ctx.raw().await;
    let rows = sqlx::query("SELECT seq, prev_hash, hash FROM directory_audits ORDER BY seq")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let mut prev = GENESIS_HASH.to_string();
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.get::<i64, _>("seq"), i as i64 + 1);
        assert_eq!(row.get::<String, _>("prev_hash"), prev);
        prev = row.get("hash");
    }
}

async fn a_changed_entry_is_located(ctx: Ctx) {
    let s = &ctx.store;
    append_n(s, 10).await;
    exec(
        &ctx,
        "UPDATE directory_audits SET activity_display_name = 'Nothing happened' WHERE seq = 4",
    )
    .await;
    let v = s.verify_audit_chain().await.unwrap();
    assert_eq!(v.entries, 10);
    let (seq, reason) = v.first_broken.unwrap();
    assert_eq!(seq, 4, "{reason}");
    assert!(reason.contains("changed"), "{reason}");

    // A change inside a JSON column is found as well, at its own position when it comes first.
    exec(
        &ctx,
        "UPDATE directory_audits SET initiated_by = '{\"user\":{\"id\":\"mallory\"}}' WHERE seq = 2",
    )
    .await;
    assert_eq!(
        s.verify_audit_chain()
            .await
            .unwrap()
            .first_broken
            .unwrap()
            .0,
        2
    );
}

async fn a_changed_chain_field_is_located(ctx: Ctx) {
    let s = &ctx.store;
    let records = append_n(s, 6).await;
    // Rewriting an entry's hash (to hide a change) breaks the link to the next entry.
    exec(
        &ctx,
        &format!(
            "UPDATE directory_audits SET hash = '{}' WHERE seq = 3",
            "f".repeat(64)
        ),
    )
    .await;
    let (seq, _) = s.verify_audit_chain().await.unwrap().first_broken.unwrap();
    assert_eq!(seq, 3);
    exec(
        &ctx,
        &format!(
            "UPDATE directory_audits SET hash = '{}' WHERE seq = 3",
            records[2].hash
        ),
    )
    .await;
    assert!(s.verify_audit_chain().await.unwrap().is_intact());
    exec(
        &ctx,
        &format!(
            "UPDATE directory_audits SET prev_hash = '{}' WHERE seq = 5",
            records[0].hash
        ),
    )
    .await;
    let (seq, reason) = s.verify_audit_chain().await.unwrap().first_broken.unwrap();
    assert_eq!(seq, 5, "{reason}");
}

async fn a_deleted_entry_is_detected(ctx: Ctx) {
    let s = &ctx.store;
    append_n(s, 10).await;
    exec(&ctx, "DELETE FROM directory_audits WHERE seq = 5").await;
    let v = s.verify_audit_chain().await.unwrap();
    assert_eq!(v.entries, 9);
    let (seq, reason) = v.first_broken.unwrap();
    assert_eq!(seq, 5, "{reason}");
    assert!(reason.contains("missing"), "{reason}");
    // The log goes on from its head: a new entry does not hide the gap.
    assert_eq!(s.append_audit(&entry(11)).await.unwrap().seq, 11);
    assert_eq!(
        s.verify_audit_chain()
            .await
            .unwrap()
            .first_broken
            .unwrap()
            .0,
        5
    );
}

async fn a_cut_off_tail_is_detected(ctx: Ctx) {
    let s = &ctx.store;
    append_n(s, 10).await;
    exec(&ctx, "DELETE FROM directory_audits WHERE seq = 10").await;
    let (seq, reason) = s.verify_audit_chain().await.unwrap().first_broken.unwrap();
    assert_eq!(seq, 10, "{reason}");
    assert!(reason.contains("cut short"), "{reason}");
}

async fn audited_changes_share_the_chain(ctx: Ctx) {
    let s = &ctx.store;
    let alice = User::new("alice@example.test", "Alice", t(0));
    s.create_user(&alice).await.unwrap();
    s.append_audit(&entry(1)).await.unwrap();
    let request: pim::ScheduleRequest = serde_json::from_value(json!({
        "action": "selfActivate", "principalId": alice.id,
        "roleDefinitionId": policy::directory::GLOBAL_ADMINISTRATOR, "directoryScopeId": "/",
        "status": "Granted"
    }))
    .unwrap();
    let created = AuditEntry::new(
        "RoleManagement",
        "Add member to role request (PIM activation)",
        "Add",
        t(10),
    );
    let r = s
        .create_schedule_request(
            pim::ScheduleKind::Assignment,
            &request,
            t(10),
            Some(&created),
        )
        .await
        .unwrap();
    let assignment = RoleAssignment {
        id: "a".into(),
        principal_id: policy::ids::PrincipalId::trusted(alice.id.clone()),
        role_definition_id: policy::ids::RoleId::trusted(policy::directory::GLOBAL_ADMINISTRATOR),
        directory_scope_id: "/".into(),
        status: policy::directory::AssignmentStatus::Active,
        start_at: t(10),
        end_at: Some(t(70)),
    };
    let activated = AuditEntry::new(
        "RoleManagement",
        "Add member to role completed (PIM activation)",
        "Add",
        t(10),
    );
    s.activate(r.id(), &assignment, &activated)
        .await
        .unwrap()
        .unwrap();
    s.append_audit(&entry(2)).await.unwrap();
    assert_eq!(s.expire_due_assignments(t(70)).await.unwrap().len(), 1);
    let v = s.verify_audit_chain().await.unwrap();
    assert_eq!((v.entries, v.first_broken), (5, None));
    let names: Vec<String> = s
        .query_audits(&AuditQuery::default())
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|r| r.entry.activity_display_name)
        .collect();
    assert_eq!(
        names,
        vec![
            "Activity 1",
            "Add member to role request (PIM activation)",
            "Add member to role completed (PIM activation)",
            "Activity 2",
            "Remove member from role (PIM activation expired)",
        ]
    );
}

/// Three stores on one database, as three nodes are (each its own pool), appending at once from
/// four tasks each: one chain, gap-free, that verifies.
async fn appends_from_several_nodes_make_one_chain(ctx: Ctx) {
    let mut nodes = vec![ctx.store.clone()];
    for _ in 0..2 {
        nodes.push(Store::open(&ctx.url).await.unwrap());
    }
    let tasks: Vec<_> = nodes
        .iter()
        .enumerate()
        .flat_map(|(n, node)| {
            (0..4).map(move |task| {
                let node = node.clone();
                tokio::spawn(async move {
                    let mut seqs = Vec::new();
                    for i in 0..25 {
                        seqs.push(
                            node.append_audit(&entry(n * 100 + task * 25 + i))
                                .await
                                .unwrap()
                                .seq,
                        );
                    }
                    seqs
                })
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.extend(task.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=300).collect::<Vec<u64>>());
    for node in &nodes {
        let v = node.verify_audit_chain().await.unwrap();
        assert_eq!((v.entries, v.first_broken.clone()), (300, None), "{v:?}");
    }
    for node in &nodes[1..] {
        node.close().await;
    }
}
