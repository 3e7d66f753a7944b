//! The demo tenant: seeded once (and repaired when a seeding was interrupted), every credential
//! it hands out works, and its policies decide as the demo promises.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use authn::password::{verify_password, PasswordHash, PasswordParams};
use authn::secrecy::{SecretSlice, SecretString};
use chrono::Duration;
use policy::conditional_access::ClientAppType;
use policy::context::ContextId;
use policy::method::AuthenticationMethodMode as Mode;
use policy::outcome::{DecisionResult, Requirement};
use policy::session::{AuthenticationSession, PerformedMethod};
use policy::signin::{SignIn, SignInConditions, Target};
use policy::strength::PHISHING_RESISTANT_MFA_STRENGTH_ID;
use server::config::Config;
use server::demo::{self, DemoCredentials};
use server::state::{AppState, Clock};
use server::Server;
use std::os::unix::fs::PermissionsExt;

async fn bind(dir: &tempfile::TempDir) -> Server {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        // Cheap hashes: the test checks that they verify, not what they cost.
        password: PasswordParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..Config::default()
    };
    Server::bind(config, Clock::default()).await.unwrap()
}

/// Users, groups, role assignments, TOTP apps and clients: what a second seeding must not
/// duplicate.
async fn counts(state: &AppState) -> (usize, usize, usize, usize, usize) {
    let store = &state.store;
    let mut apps = 0;
    for u in store.list_users().await.unwrap() {
        apps += store.list_totp(&u.id).await.unwrap().len();
    }
    (
        store.list_users().await.unwrap().len(),
        store.list_groups().await.unwrap().len(),
        store.list_role_assignments(None).await.unwrap().len(),
        apps,
        store.list_clients().await.unwrap().len(),
    )
}

async fn user_id(state: &AppState, upn: &str) -> String {
    state.store.get_user_by_upn(upn).await.unwrap().id
}

/// Every password verifies against its stored hash; every TOTP secret handed out is the stored
/// one and yields a code that verification accepts.
async fn credentials_work(state: &AppState, creds: &DemoCredentials) {
    let now = state.now();
    for u in &creds.users {
        let id = user_id(state, &u.user_principal_name).await;
        let stored = state.store.get_password(&id).await.unwrap().unwrap();
        assert!(
            verify_password(
                &PasswordHash::from_stored(stored.phc),
                &SecretString::from(u.password.clone())
            )
            .unwrap(),
            "{}'s password",
            u.user_principal_name
        );
        let apps = state.store.list_totp(&id).await.unwrap();
        match &u.totp_secret {
            Some(secret) => {
                assert_eq!(apps.len(), 1, "{}", u.user_principal_name);
                assert_eq!(
                    totp_rs::Secret::Encoded(secret.clone()).to_bytes().unwrap(),
                    apps[0].secret
                );
                let uri = u.otpauth_uri.as_deref().unwrap();
                assert!(uri.starts_with("otpauth://totp/") && uri.contains(secret.as_str()));
                let code = demo::totp_code(secret, now).unwrap();
                authn::totp::verify_totp(
                    &SecretSlice::from(apps[0].secret.clone()),
                    &code,
                    now,
                    Some(apps[0].last_used_step),
                )
                .unwrap();
            }
            None => assert!(apps.is_empty(), "{}", u.user_principal_name),
        }
    }
}

#[tokio::test]
async fn the_demo_is_seeded_once_and_its_credentials_work() {
    let dir = tempfile::tempdir().unwrap();
    let server = bind(&dir).await;
    let state = server.state();

    let before = counts(&state).await;
    assert_eq!(before.0, 0, "an empty directory");
    let creds = demo::seed(&state).await.unwrap().expect("first seeding");
    let upns: Vec<&str> = creds
        .users
        .iter()
        .map(|u| u.user_principal_name.as_str())
        .collect();
    assert_eq!(
        upns,
        [
            "alice@demo.portcullis.test",
            "adele@demo.portcullis.test",
            "priya@demo.portcullis.test",
            "admin@demo.portcullis.test",
            "breakglass@demo.portcullis.test"
        ]
    );
    let after_first = counts(&state).await;
    // Other clients (the portal's) may be registered at startup: the demo adds one.
    assert_eq!(after_first, (5, 2, 4, 4, before.4 + 1));
    assert!(
        demo::seed(&state).await.unwrap().is_none(),
        "second seeding"
    );
    assert_eq!(counts(&state).await, after_first);
    credentials_work(&state, &creds).await;

    let client = state.store.get_client(demo::CLIENT_ID).await.unwrap();
    assert!(client.is_public && client.secret_hash.is_none());
    assert_eq!(
        client.redirect_uris,
        [
            format!("{}/demo/callback", state.issuer),
            demo::LOCAL_REDIRECT_URI.to_string()
        ]
    );

    // Roles and groups as documented.
    let assignments = state.store.list_role_assignments(None).await.unwrap();
    let holds = |upn_id: &str, role: &str, status: &str| {
        assignments.iter().any(|a| {
            a.principal_id == upn_id && a.role_definition_id == role && a.status.as_str() == status
        })
    };
    let adele = user_id(&state, "adele@demo.portcullis.test").await;
    let priya = user_id(&state, "priya@demo.portcullis.test").await;
    let admin = user_id(&state, demo::ADMIN_UPN).await;
    let breakglass = user_id(&state, "breakglass@demo.portcullis.test").await;
    use policy::directory::{GLOBAL_ADMINISTRATOR as GA, PRIVILEGED_ROLE_ADMINISTRATOR as PRA};
    assert!(holds(&adele, GA, "eligible"));
    assert!(holds(&priya, PRA, "eligible"));
    assert!(holds(&admin, PRA, "active"));
    assert!(holds(&breakglass, GA, "active"));
    let groups = state.store.list_groups().await.unwrap();
    let members = |name: &str| {
        let id = groups
            .iter()
            .find(|g| g.display_name == name)
            .unwrap()
            .id
            .clone();
        let store = state.store.clone();
        async move {
            let mut m = store.list_members(&id).await.unwrap();
            m.sort();
            m
        }
    };
    let mut admins = vec![adele.clone(), priya.clone(), admin.clone()];
    admins.sort();
    assert_eq!(members(demo::ADMINS_GROUP).await, admins);
    assert_eq!(members(demo::BREAK_GLASS_GROUP).await, [breakglass]);

    // The credentials file: owner only, and it reads back.
    let path = demo::write_credentials_file(dir.path(), &creds).unwrap();
    assert_eq!(path, dir.path().join(demo::CREDENTIALS_FILE));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(demo::read_credentials_file(dir.path()).unwrap(), creds);
    assert!(!format!("{creds:?}").contains(&creds.users[0].password));

    let text = demo::print_instructions(&creds, &state.issuer);
    assert!(text.contains(&state.issuer));
    for u in &creds.users {
        assert!(text.contains(&u.user_principal_name) && text.contains(&u.password));
    }
    assert!(text.contains("portcullis demo totp alice@demo.portcullis.test"));
    assert!(text.contains(&format!("{}/demo", state.issuer)));
    // The portal, and whom to sign in as there.
    assert!(
        text.contains(&format!("Portal:        {}/  ", state.issuer)),
        "{text}"
    );
    assert!(
        text.contains("sign in as adele@demo.portcullis.test, eligible Global Administrator"),
        "{text}"
    );
}

#[tokio::test]
async fn an_interrupted_seeding_is_redone_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let server = bind(&dir).await;
    let state = server.state();
    let first = demo::seed(&state).await.unwrap().unwrap();
    let after_first = counts(&state).await;
    // The admin's password is written last: without it, the seeding did not finish.
    let admin = user_id(&state, demo::ADMIN_UPN).await;
    state.store.delete_password(&admin).await.unwrap();

    let second = demo::seed(&state)
        .await
        .unwrap()
        .expect("seeding is redone");
    assert_eq!(counts(&state).await, after_first);
    assert_eq!(user_id(&state, demo::ADMIN_UPN).await, admin, "ids kept");
    assert_ne!(first.users[0].password, second.users[0].password);
    credentials_work(&state, &second).await;
    assert!(demo::seed(&state).await.unwrap().is_none());
}

fn session(now: chrono::DateTime<chrono::Utc>, methods: &[Mode]) -> AuthenticationSession {
    AuthenticationSession {
        transaction_started_at: Some(now - Duration::minutes(1)),
        methods: methods
            .iter()
            .map(|m| PerformedMethod::new(m.clone(), now - Duration::seconds(20)))
            .collect(),
        mfa_claimed_at: None,
    }
}

fn sign_in(user_id: &str, target: Target, session: AuthenticationSession) -> SignIn {
    SignIn {
        user_id: user_id.to_string(),
        target,
        conditions: SignInConditions {
            client_app_type: Some(ClientAppType::Browser),
            ..SignInConditions::default()
        },
        session,
        activating_role: None,
    }
}

#[tokio::test]
async fn the_demo_policies_decide_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let server = bind(&dir).await;
    let state = server.state();
    demo::seed(&state).await.unwrap().unwrap();
    let engine = state.engine().await.unwrap();
    assert_eq!(engine.tenant().conditional_access_policies.len(), 3);
    let now = state.now();
    let c1 = || Target::AuthenticationContext(ContextId::parse("c1").unwrap());
    let c2 = || Target::AuthenticationContext(ContextId::parse("c2").unwrap());
    let app = || Target::Applications(vec![demo::CLIENT_ID.to_string()]);
    let password_totp = || session(now, &[Mode::Password, Mode::SoftwareOath]);
    let password = || session(now, &[Mode::Password]);

    // Adele activating a role (c1) with password and TOTP: asked for phishing-resistant MFA.
    let adele = user_id(&state, "adele@demo.portcullis.test").await;
    let d = engine
        .decide(&sign_in(&adele, c1(), password_totp()), now)
        .unwrap();
    assert_eq!(d.result, DecisionResult::Challenge, "{d:?}");
    let pim = d
        .requirements
        .iter()
        .find(|r| r.policy_id == demo::POLICY_PIM_ACTIVATION)
        .unwrap();
    assert!(
        pim.any_of.iter().flatten().any(|r| matches!(
            r,
            Requirement::AuthenticationStrength { id, .. } if id == PHISHING_RESISTANT_MFA_STRENGTH_ID
        )),
        "{d:?}"
    );
    // With a passkey performed in this transaction, granted.
    let d = engine
        .decide(&sign_in(&adele, c1(), session(now, &[Mode::Fido2])), now)
        .unwrap();
    assert_eq!(d.result, DecisionResult::Grant, "{d:?}");

    // The break-glass account is excluded from everything.
    let breakglass = user_id(&state, "breakglass@demo.portcullis.test").await;
    for target in [c1(), c2(), app()] {
        let d = engine
            .decide(&sign_in(&breakglass, target, password()), now)
            .unwrap();
        assert_eq!(d.result, DecisionResult::Grant, "{d:?}");
    }

    // Alice: MFA for the app; password and TOTP in this transaction satisfy c2.
    let alice = user_id(&state, "alice@demo.portcullis.test").await;
    let d = engine
        .decide(&sign_in(&alice, app(), password()), now)
        .unwrap();
    assert_eq!(d.result, DecisionResult::Challenge, "{d:?}");
    assert_eq!(d.unsatisfied_policies, [demo::POLICY_MFA]);
    let d = engine
        .decide(&sign_in(&alice, app(), password_totp()), now)
        .unwrap();
    assert_eq!(d.result, DecisionResult::Grant, "{d:?}");
    let d = engine
        .decide(&sign_in(&alice, c2(), password_totp()), now)
        .unwrap();
    assert_eq!(d.result, DecisionResult::Grant, "{d:?}");
}

#[tokio::test]
async fn a_restart_under_another_issuer_keeps_the_demo_client_working() {
    let dir = tempfile::tempdir().unwrap();
    let first = bind(&dir).await;
    let first_issuer = first.state().issuer.clone();
    demo::seed(&first.state()).await.unwrap().unwrap();
    let after_first = counts(&first.state()).await;
    first.state().store.close().await;
    drop(first);

    // Port 0 again: another port, so another issuer.
    let second = bind(&dir).await;
    let state = second.state();
    assert_ne!(state.issuer, first_issuer);
    assert!(demo::seed(&state).await.unwrap().is_none());
    assert_eq!(counts(&state).await, after_first);
    let client = state.store.get_client(demo::CLIENT_ID).await.unwrap();
    for issuer in [&first_issuer, &state.issuer] {
        let callback = format!("{issuer}/demo/callback");
        assert!(
            client.redirect_uris.contains(&callback),
            "{callback} in {:?}",
            client.redirect_uris
        );
    }
}
