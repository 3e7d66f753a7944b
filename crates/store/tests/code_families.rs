//! A redeemed authorization code and the refresh-token family it starts: a replay of the code
//! revokes the family, and a family cannot start from a replayed code, even when the two race.
//! Every test runs on SQLite and PostgreSQL (see `support`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use store::*;
use support::{t, Ctx};

on_both_backends!(
    a_replay_revokes_the_family_the_code_started,
    a_replayed_code_starts_no_family,
    only_redeemed_codes_are_replays,
    a_replay_racing_the_redemption_never_leaves_a_live_family,
);

async fn setup(s: &Store) -> User {
    let alice = User::new("alice@example.test", "Alice", t(0));
    s.create_user(&alice).await.unwrap();
    s.create_session(&Session {
        id: "sid".into(),
        sid: "public-sid".into(),
        user_id: alice.id.clone(),
        created_at: t(0),
        last_seen_at: t(0),
        expires_at: t(3600),
        revoked_at: None,
    })
    .await
    .unwrap();
    s.create_client(&OidcClient {
        client_id: "portal".into(),
        display_name: "Portal".into(),
        redirect_uris: vec!["https://portal.example/cb".into()],
        is_public: true,
        secret_hash: None,
        created_at: t(0),
    })
    .await
    .unwrap();
    alice
}

async fn code(s: &Store, alice: &User, hash: &str) {
    s.insert_code(&AuthorizationCode {
        code_hash: hash.into(),
        client_id: "portal".into(),
        user_id: alice.id.clone(),
        session_id: "sid".into(),
        redirect_uri: "https://portal.example/cb".into(),
        code_challenge: None,
        nonce: None,
        scope: "openid offline_access".into(),
        claims: None,
        auth_time: t(5),
        acr: None,
        amr: vec!["pwd".into()],
        acrs: Vec::new(),
        expires_at: t(65),
        consumed_at: None,
        step_up_request: None,
    })
    .await
    .unwrap();
}

fn refresh(hash: &str, family: &str, alice: &User) -> RefreshToken {
    RefreshToken {
        id: new_id(),
        token_hash: hash.into(),
        family_id: family.into(),
        client_id: "portal".into(),
        user_id: alice.id.clone(),
        session_id: Some("sid".into()),
        scope: "openid offline_access".into(),
        claims: json!({"auth_time": 5}),
        created_at: t(10),
        expires_at: t(86_400),
        consumed_at: None,
        revoked_at: None,
    }
}

async fn a_replay_revokes_the_family_the_code_started(ctx: Ctx) {
    let s = &ctx.store;
    let alice = setup(s).await;
    code(s, &alice, "code-1").await;
    s.consume_code("code-1", t(10)).await.unwrap().unwrap();
    assert!(s
        .insert_code_refresh_token("code-1", &refresh("rt-1", "fam-1", &alice))
        .await
        .unwrap());
    // One family per code.
    assert!(!s
        .insert_code_refresh_token("code-1", &refresh("rt-x", "fam-x", &alice))
        .await
        .unwrap());
    assert!(s
        .get_refresh_token("rt-x")
        .await
        .unwrap_err()
        .is_not_found());
    // The family grows by rotation; the replay takes all of it.
    let rotated = s
        .rotate_refresh_token("rt-1", &refresh("rt-2", "ignored", &alice), t(20))
        .await
        .unwrap();
    assert!(matches!(rotated, Rotation::Rotated { .. }));
    // Both members are marked: the consumed one and its live successor.
    assert_eq!(
        s.revoke_replayed_code("code-1", t(30)).await.unwrap(),
        Some(2)
    );
    assert_eq!(
        s.get_refresh_token("rt-2").await.unwrap().revoked_at,
        Some(t(30))
    );
    // A second replay is still a replay; nothing is left to revoke.
    assert_eq!(
        s.revoke_replayed_code("code-1", t(40)).await.unwrap(),
        Some(0)
    );
}

async fn a_replayed_code_starts_no_family(ctx: Ctx) {
    let s = &ctx.store;
    let alice = setup(s).await;
    code(s, &alice, "code-1").await;
    s.consume_code("code-1", t(10)).await.unwrap().unwrap();
    assert_eq!(
        s.revoke_replayed_code("code-1", t(11)).await.unwrap(),
        Some(0)
    );
    assert!(!s
        .insert_code_refresh_token("code-1", &refresh("rt-1", "fam-1", &alice))
        .await
        .unwrap());
    assert!(s
        .get_refresh_token("rt-1")
        .await
        .unwrap_err()
        .is_not_found());
}

async fn only_redeemed_codes_are_replays(ctx: Ctx) {
    let s = &ctx.store;
    let alice = setup(s).await;
    assert_eq!(
        s.revoke_replayed_code("unknown", t(10)).await.unwrap(),
        None
    );
    code(s, &alice, "code-1").await;
    assert_eq!(s.revoke_replayed_code("code-1", t(10)).await.unwrap(), None);
    // Not marked: it can still be redeemed and start its family.
    s.consume_code("code-1", t(11)).await.unwrap().unwrap();
    assert!(s
        .insert_code_refresh_token("code-1", &refresh("rt-1", "fam-1", &alice))
        .await
        .unwrap());
    // A family cannot start from a code that was never redeemed.
    code(s, &alice, "code-2").await;
    assert!(!s
        .insert_code_refresh_token("code-2", &refresh("rt-2", "fam-2", &alice))
        .await
        .unwrap());
}

async fn a_replay_racing_the_redemption_never_leaves_a_live_family(ctx: Ctx) {
    let s = &ctx.store;
    let alice = setup(s).await;
    for round in 0..8 {
        let hash = format!("code-{round}");
        let token = format!("rt-{round}");
        code(s, &alice, &hash).await;
        s.consume_code(&hash, t(10)).await.unwrap().unwrap();
        let first = refresh(&token, &format!("fam-{round}"), &alice);
        let starter = {
            let (s, hash) = (s.clone(), hash.clone());
            tokio::spawn(async move { s.insert_code_refresh_token(&hash, &first).await })
        };
        let replays: Vec<_> = (0..3)
            .map(|_| {
                let (s, hash) = (s.clone(), hash.clone());
                tokio::spawn(async move { s.revoke_replayed_code(&hash, t(12)).await })
            })
            .collect();
        let started = starter.await.unwrap().unwrap();
        for replay in replays {
            assert!(replay.await.unwrap().unwrap().is_some());
        }
        match s.get_refresh_token(&token).await {
            Ok(stored) => {
                assert!(started);
                assert!(stored.revoked_at.is_some(), "round {round}: a live family");
            }
            Err(e) => {
                assert!(e.is_not_found());
                assert!(!started);
            }
        }
    }
}
