//! The sign-in decision without HTTP: a user created after the engine was built is assessed
//! (the engine is built again once, not refused), and a refresh is refused, with the sentence
//! the client sees, when the session has ended or the account is disabled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use app::signin::{AssessmentRequest, Circumstances, SignInError, SignInSubject, Verdict};
use app::{Clock, Core};
use chrono::Duration;
use policy::method::AuthenticationMethodMode as Mode;
use store::{Session, SessionAuthEvent, Store, User};

const CLIENT: &str = "app-under-test";

async fn core() -> Core {
    Core::new(
        Store::open("sqlite::memory:").await.unwrap(),
        Clock::default(),
    )
}

async fn user(core: &Core) -> User {
    let user = User::new("adele@example.test", "Adele", core.now());
    core.store.create_user(&user).await.unwrap();
    user
}

/// A live session of `user` in which a password was used.
async fn session(core: &Core, user: &User) -> String {
    let now = core.now();
    let id = store::new_id();
    core.store
        .create_session(&Session {
            id: id.clone(),
            sid: store::new_id(),
            user_id: user.id.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + Duration::hours(8),
            revoked_at: None,
        })
        .await
        .unwrap();
    core.store
        .add_session_event(&SessionAuthEvent {
            id: store::new_id(),
            session_id: id.clone(),
            method: Mode::Password,
            performed_at: now,
            aaguid: None,
            user_verified: false,
            transaction_id: None,
            credential_id: None,
            registration: None,
        })
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn a_user_created_after_the_engine_was_built_is_assessed() {
    let core = core().await;
    core.engine().await.unwrap();
    let user = user(&core).await;
    let request = AssessmentRequest {
        client_id: CLIENT.into(),
        ..AssessmentRequest::default()
    };
    let circumstances = Circumstances::default();
    let subject = SignInSubject {
        user_id: &user.id,
        events: &[],
        transaction_started_at: core.now(),
        request: &request,
        circumstances: &circumstances,
    };
    let assessment = core.assess_sign_in(&subject, core.now()).await.unwrap();
    assert!(
        matches!(assessment.verdict, Verdict::Challenge(_)),
        "no first factor yet: {:?}",
        assessment.verdict
    );
}

#[tokio::test]
async fn a_refresh_needs_a_live_session_and_an_enabled_account() {
    let core = core().await;
    let user = user(&core).await;
    let id = session(&core, &user).await;
    let circumstances = Circumstances::default();
    let refresh = |session: Option<String>| {
        let (core, user, circumstances) = (&core, &user, &circumstances);
        async move {
            core.reassess_for_refresh(
                &user.id,
                session.as_deref(),
                CLIENT,
                &[],
                circumstances,
                core.now(),
            )
            .await
        }
    };

    assert_eq!(
        refresh(Some(id.clone())).await.unwrap(),
        Vec::<String>::new()
    );

    let ended = refresh(None).await.unwrap_err();
    assert!(matches!(ended, SignInError::SessionEnded) && ended.is_refusal());
    assert_eq!(
        ended.to_string(),
        "the sign-in session of this grant has ended"
    );
    assert!(matches!(
        refresh(Some("no-such-session".into())).await,
        Err(SignInError::SessionEnded)
    ));

    core.store
        .set_account_enabled(&user.id, false)
        .await
        .unwrap();
    let disabled = refresh(Some(id)).await.unwrap_err();
    assert_eq!(disabled.to_string(), "the account is disabled");
}
