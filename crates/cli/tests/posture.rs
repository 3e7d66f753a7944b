//! `portcullis lint`, `preflight` and `audit`, run as a user runs them, over a store the test
//! seeds (SQLite in a temporary data directory): a demo-like tenant where activating Global
//! Administrator requires context c1 (phishing-resistant MFA, every time) and context c2 is
//! answered by plain `mfa`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use policy::directory::GLOBAL_ADMINISTRATOR;
use policy::registration::{Provenance, RegistrationProof};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use store::{Attachment, PasswordCredential, Store, TotpCredential, WebauthnCredential};

const BREAK_GLASS_GROUP: &str = "b0000000-0000-4000-8000-0000000000bb";
const ADMINS_GROUP: &str = "a0000000-0000-4000-8000-0000000000aa";
const CA_MFA: &str = "ca000000-0000-4000-8000-000000000001";
const CA_C1: &str = "ca000000-0000-4000-8000-000000000010";
const CA_C2: &str = "ca000000-0000-4000-8000-000000000020";
const ADELE: &str = "00000000-0000-4000-8000-00000000ade1";
const BOB: &str = "00000000-0000-4000-8000-000000000b0b";
const CAROL: &str = "00000000-0000-4000-8000-0000000ca201";
const BREAKGLASS: &str = "00000000-0000-4000-8000-0000000000b9";
const USER_ADMINISTRATOR: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The binary with a clean environment: no `PORTCULLIS_*` variable of the caller's leaks in.
fn run(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command.args(args).current_dir(root());
    for var in [
        "PORTCULLIS_LISTEN",
        "PORTCULLIS_DATA_DIR",
        "PORTCULLIS_DATABASE_URL",
        "PORTCULLIS_DATABASE_URL_FILE",
        "PORTCULLIS_ISSUER",
        "RUST_LOG",
    ] {
        command.env_remove(var);
    }
    command.output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `args` with `--data-dir data` and checks the exit status.
fn expect(data: &str, args: &[&str], code: i32) -> Output {
    let mut all = args.to_vec();
    all.extend(["--data-dir", data]);
    let out = run(&all);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{all:?}\nstdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    out
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A refusal: one line on standard error, starting `error: ` and containing `needle`.
fn refused(out: &Output, needle: &str) {
    let err = stderr(out);
    assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one clear line: {err}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn url(data: &str) -> String {
    format!("sqlite://{data}/portcullis.db")
}

/// Runs `job` on the store of the data directory, then closes it.
fn with_store<T>(data: &str, job: impl AsyncFnOnce(&Store) -> T) -> T {
    runtime().block_on(async {
        let store = Store::open(&url(data)).await.unwrap();
        let result = job(&store).await;
        store.close().await;
        result
    })
}

fn tenant() -> policy::Tenant {
    let every_time = json!({"isEnabled": true, "frequencyInterval": "everyTime",
                            "authenticationType": "primaryAndSecondaryAuthentication"});
    let everyone_but_break_glass =
        json!({"includeUsers": ["All"], "excludeGroups": [BREAK_GLASS_GROUP]});
    serde_json::from_value(json!({
        "users": [
            {"id": ADELE, "userPrincipalName": "adele@posture.test", "displayName": "Adele Vance"},
            {"id": BOB, "userPrincipalName": "bob@posture.test", "displayName": "Bob Key"},
            {"id": CAROL, "userPrincipalName": "carol@posture.test", "displayName": "Carol User"},
            {"id": BREAKGLASS, "userPrincipalName": "breakglass@posture.test"}
        ],
        "groups": [
            {"id": ADMINS_GROUP, "displayName": "Privileged admins", "isAssignableToRole": true,
             "members": [ADELE]},
            {"id": BREAK_GLASS_GROUP, "displayName": "Break-glass accounts", "members": [BREAKGLASS]}
        ],
        "roleAssignments": [
            {"principalId": ADMINS_GROUP, "roleDefinitionId": GLOBAL_ADMINISTRATOR,
             "directoryScopeId": "/", "status": "eligible"},
            {"principalId": BOB, "roleDefinitionId": GLOBAL_ADMINISTRATOR,
             "directoryScopeId": "/", "status": "eligible"},
            {"principalId": BREAKGLASS, "roleDefinitionId": GLOBAL_ADMINISTRATOR,
             "directoryScopeId": "/", "status": "active"}
        ],
        "authenticationContextClassReferences": [
            {"id": "c1", "displayName": "PIM activation", "isAvailable": true},
            {"id": "c2", "displayName": "Sensitive actions", "isAvailable": true}
        ],
        "conditionalAccessPolicies": [
            {"id": CA_MFA, "displayName": "CA001 Require MFA for all users", "state": "enabled",
             "conditions": {"users": everyone_but_break_glass,
                            "applications": {"includeApplications": ["All"]},
                            "clientAppTypes": ["all"]},
             "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}},
            {"id": CA_C1, "displayName": "CA010 PIM activation: phishing-resistant", "state": "enabled",
             "conditions": {"users": everyone_but_break_glass,
                            "applications": {"includeAuthenticationContextClassReferences": ["c1"]},
                            "clientAppTypes": ["all"]},
             "grantControls": {"operator": "OR",
                               "authenticationStrength": {"id": "00000000-0000-0000-0000-000000000004"}},
             "sessionControls": {"signInFrequency": every_time}},
            {"id": CA_C2, "displayName": "CA020 Sensitive actions: MFA", "state": "enabled",
             "conditions": {"users": everyone_but_break_glass,
                            "applications": {"includeAuthenticationContextClassReferences": ["c2"]},
                            "clientAppTypes": ["all"]},
             "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}
        ]
    }))
    .unwrap()
}

/// Seeds the tenant, Global Administrator's settings (context c1), and credentials: adele has a
/// password and an authenticator app, bob a password and a FIDO2 security key, the break-glass
/// account a password.
fn seed(data: &str) {
    let now = Utc::now() - Duration::minutes(1);
    with_store(data, async |store| {
        store.import_tenant(&tenant(), now).await.unwrap();
        let mut settings = pim::RoleManagementPolicy::default_for(GLOBAL_ADMINISTRATOR, now);
        settings
            .patch_rule(
                "AuthenticationContext_EndUser_Assignment",
                &json!({
                    "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
                    "id": "AuthenticationContext_EndUser_Assignment",
                    "isEnabled": true,
                    "claimValue": "c1"
                }),
                now,
                None,
            )
            .unwrap();
        store.put_role_policy(&settings, 0).await.unwrap();
        for user in [ADELE, BOB, BREAKGLASS] {
            store
                .set_password(&PasswordCredential {
                    user_id: user.into(),
                    phc: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
                    changed_at: store::at_ms(now),
                })
                .await
                .unwrap();
        }
        store
            .add_totp(&TotpCredential {
                id: store::new_id(),
                user_id: ADELE.into(),
                secret: vec![7; 20],
                label: "Authenticator app".into(),
                created_at: store::at_ms(now),
                last_used_step: 0,
                provenance: None,
            })
            .await
            .unwrap();
        add_security_key(store, BOB, "YubiKey 5", now).await;
    });
}

/// Adds a security key registered under `proof` (the rollout's is an administrator's pass).
async fn add_key_registered_under(
    store: &Store,
    user: &str,
    name: &str,
    now: chrono::DateTime<Utc>,
    proof: RegistrationProof,
) {
    store
        .add_webauthn(&WebauthnCredential {
            id: store::new_id(),
            user_id: user.into(),
            credential_id: store::new_id().into_bytes(),
            passkey_json: "{}".into(),
            aaguid: Some("cb69481e-8ff7-4039-93ec-0a2729a154a8".into()),
            attachment: Attachment::CrossPlatform,
            user_verified: true,
            sign_count: 0,
            display_name: name.into(),
            created_at: store::at_ms(now),
            last_used_at: None,
            provenance: Some(Provenance {
                proof,
                methods: Vec::new(),
                temporary_access_pass_issued_by: None,
                registered_at: store::at_ms(now),
                source_address: None,
            }),
        })
        .await
        .unwrap();
}

/// Adds a security key onboarded with an administrator's temporary access pass.
async fn add_security_key(store: &Store, user: &str, name: &str, now: chrono::DateTime<Utc>) {
    add_key_registered_under(
        store,
        user,
        name,
        now,
        RegistrationProof::TemporaryAccessPass,
    )
    .await;
}

#[test]
fn lint_flags_claim_check_activation_and_a_context_with_only_mfa() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    seed(data);

    // Warnings only: exit 0.
    let out = expect(data, &["lint"], 0);
    let text = stdout(&out);
    assert!(
        text.contains(
            "  Application Administrator (9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3)  default \
             settings; activation requires an MFA claim\n    warning  \
             Enablement_EndUser_Assignment: activation requires only an MFA claim"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "  Global Administrator ({GLOBAL_ADMINISTRATOR})  stored settings; activation \
             requires context c1\n    no findings"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "  authenticationContext c2 'Sensitive actions'\n    warning  claim check: any MFA, \
             even one made earlier elsewhere, satisfies c2"
        ),
        "{text}"
    );
    assert!(
        text.contains("no break-glass accounts designated"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("OK: 0 errors, 12 warnings, 0 not enforced"),
        "{text}"
    );

    let report = json_of(&expect(
        data,
        &["lint", "--json", "--break-glass", BREAK_GLASS_GROUP],
        0,
    ));
    let roles = report["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 10, "every directory role");
    let claim_checks: Vec<&str> = roles
        .iter()
        .filter(|r| {
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["kind"] == "activationClaimCheck" && f["severity"] == "warning")
        })
        .map(|r| r["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(claim_checks.len(), 9, "every role but GA: {claim_checks:?}");
    assert!(!claim_checks.contains(&"Global Administrator"));
    let ga = roles
        .iter()
        .find(|r| r["roleDefinitionId"] == GLOBAL_ADMINISTRATOR)
        .unwrap();
    assert_eq!(ga["settings"], "stored");
    assert_eq!(ga["activation"]["authenticationContext"], "c1");
    let ca = report["conditionalAccess"].as_array().unwrap();
    assert_eq!(
        ca.len(),
        1,
        "with the break-glass group designated: {ca:#?}"
    );
    assert_eq!(ca[0]["kind"], "contextWithoutStrength");
    assert_eq!(ca[0]["context"], "c2");
    assert!(ca[0]["fix"]
        .as_str()
        .unwrap()
        .contains("Phishing-resistant"));
    assert_eq!(report["breakGlass"], json!([BREAK_GLASS_GROUP]));
    // No policy governs registering security info for the privileged users.
    assert_eq!(report["registration"][0]["kind"], "registrationNotGoverned");
    assert_eq!(
        (&report["errors"], &report["warnings"]),
        (&json!(0), &json!(11))
    );

    // Designated by sign-in name, the break-glass user is excluded through its group.
    let report = json_of(&expect(
        data,
        &["lint", "--json", "--break-glass", "BreakGlass@posture.test"],
        0,
    ));
    assert_eq!(report["breakGlass"], json!([BREAKGLASS]));
    assert_eq!(report["conditionalAccess"].as_array().unwrap().len(), 1);
    // A policy that does not exclude the account is flagged.
    let report = json_of(&expect(
        data,
        &["lint", "--json", "--break-glass", "carol@posture.test"],
        0,
    ));
    let missing: Vec<&Value> = report["conditionalAccess"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "noBreakGlassExclusion")
        .collect();
    assert_eq!(missing.len(), 3, "{report:#}");
    assert!(missing[0]["message"]
        .as_str()
        .unwrap()
        .contains("carol@posture.test"));

    // A privileged role whose activation requires nothing at all is an error: exit 1.
    with_store(data, async |store| {
        let now = Utc::now();
        let mut settings = pim::RoleManagementPolicy::default_for(USER_ADMINISTRATOR, now);
        settings
            .patch_rule(
                "Enablement_EndUser_Assignment",
                &json!({
                    "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
                    "id": "Enablement_EndUser_Assignment",
                    "enabledRules": ["Justification"]
                }),
                now,
                None,
            )
            .unwrap();
        store.put_role_policy(&settings, 0).await.unwrap();
    });
    let out = expect(data, &["lint"], 1);
    let text = stdout(&out);
    assert!(
        text.contains(
            "activation requires no authentication\n    error    \
             AuthenticationContext_EndUser_Assignment: no authentication required at activation"
        ),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("FAILED: 1 errors, 11 warnings, 0 not enforced"),
        "{text}"
    );

    // Bad input: one line, exit 2.
    let out = expect(data, &["lint", "--break-glass", "nobody@posture.test"], 2);
    refused(&out, "--break-glass 'nobody@posture.test' is neither");
}

#[test]
fn preflight_lists_the_admin_with_only_totp_and_not_the_one_with_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    seed(data);

    let out = expect(data, &["preflight", "--role", "Global Administrator"], 1);
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!(
            "Pre-flight: activating Global Administrator ({GLOBAL_ADMINISTRATOR}) requires \
             authentication context c1 'PIM activation'.\n2 users are eligible"
        )),
        "{text}"
    );
    assert!(
        text.contains("requires strength 'Phishing-resistant MFA'"),
        "{text}"
    );
    assert!(
        text.contains(
            "  CANNOT  adele@posture.test (Adele Vance), eligible via group 'Privileged admins'\n\
             \x20           has: password ('Password'), softwareOath ('Authenticator app')\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "to do: register a passkey or security key; ask an administrator for a temporary \
             access pass"
        ),
        "{text}"
    );
    assert!(
        text.contains("  can     bob@posture.test (Bob Key), eligible directly\n"),
        "{text}"
    );
    assert!(!text.contains("CANNOT  bob"), "{text}");
    assert!(
        text.contains("Result: 1 of 2 eligible users cannot activate Global Administrator"),
        "{text}"
    );

    let report = json_of(&expect(
        data,
        &["preflight", "--role", GLOBAL_ADMINISTRATOR, "--json"],
        1,
    ));
    assert_eq!(report["everyoneCan"], false);
    assert_eq!(report["eligibleUsers"], 2);
    let policy = &report["activation"]["policies"][0];
    assert_eq!(policy["policyId"], CA_C1);
    assert_eq!(policy["everyTime"], true);
    let r = &policy["report"];
    assert_eq!(r["strengthId"], "00000000-0000-0000-0000-000000000004");
    assert_eq!(r["cannot"].as_array().unwrap().len(), 1);
    assert_eq!(
        r["cannot"][0]["user"]["userPrincipalName"],
        "adele@posture.test"
    );
    assert_eq!(
        r["cannot"][0]["registered"],
        json!([{"method": "password", "label": "Password"},
               {"method": "softwareOath", "label": "Authenticator app"}])
    );
    assert_eq!(r["can"][0]["user"]["userPrincipalName"], "bob@posture.test");
    assert_eq!(r["can"][0]["satisfiedBy"], "fido2");

    // The policy itself targets everyone but the break-glass group: carol too.
    let report = json_of(&expect(
        data,
        &["preflight", "--policy", CA_C1, "--json"],
        1,
    ));
    let cannot: Vec<&str> = report["policy"]["report"]["cannot"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["user"]["userPrincipalName"].as_str().unwrap())
        .collect();
    assert_eq!(cannot, ["adele@posture.test", "carol@posture.test"]);

    // Once adele registers a security key, everyone eligible can activate.
    with_store(data, async |store| {
        add_security_key(store, ADELE, "Adele's key", Utc::now()).await;
    });
    let out = expect(data, &["preflight", "--role", "global administrator"], 0);
    assert!(
        stdout(&out).contains("Result: every eligible user can satisfy"),
        "{}",
        stdout(&out)
    );

    // Refusals and bad input: one line, exit 2.
    let out = expect(
        data,
        &["preflight", "--role", "Application Administrator"],
        2,
    );
    refused(&out, "activation is then an MFA claim check");
    let out = expect(data, &["preflight", "--role", "Chief Wizard"], 2);
    refused(&out, "no role is named or has the id 'Chief Wizard'");
    let out = expect(
        data,
        &[
            "preflight",
            "--role",
            "Global Administrator",
            "--policy",
            CA_C1,
        ],
        2,
    );
    refused(&out, "give either --role or --policy, not both");
    let out = expect(data, &["preflight"], 2);
    refused(&out, "--role ROLE_ID_OR_NAME or --policy POLICY_ID");
    let out = expect(data, &["preflight", "--policy", CA_C2], 2);
    refused(
        &out,
        "requires no authentication strength (grant controls: mfa)",
    );
    let out = expect(data, &["preflight", "--policy", "no-such-policy"], 2);
    refused(
        &out,
        "there is no Conditional Access policy 'no-such-policy'",
    );
}

#[test]
fn provenance_counts_in_preflight_and_lint_and_its_relaxation_is_audited_and_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    seed(data);
    // Adele adds a key with a password and a relayed code: it does not count for her.
    with_store(data, async |store| {
        add_key_registered_under(
            store,
            ADELE,
            "Relayed key",
            Utc::now(),
            RegistrationProof::Multifactor,
        )
        .await;
    });
    let out = expect(data, &["preflight", "--role", "Global Administrator"], 1);
    let text = stdout(&out);
    assert!(text.contains("CANNOT  adele@posture.test"), "{text}");
    assert!(
        text.contains(
            "ask an administrator for a temporary access pass to register a key that counts"
        ),
        "{text}"
    );
    let out = expect(data, &["lint"], 0);
    let text = stdout(&out);
    assert!(
        text.contains("user adele@posture.test")
            && text.contains("'Relayed key' (registered with a password and a one-time code"),
        "{text}"
    );
    assert!(
        text.contains("no enabled Conditional Access policy on registering security info"),
        "{text}"
    );
    assert!(
        !text.contains("registration-provenance rule is relaxed"),
        "{text}"
    );

    // Relaxing the rule: audited, flagged by the lint, and the key then counts.
    let out = expect(
        data,
        &["settings", "set", "registrationProvenance", "loose"],
        1,
    );
    refused(&out, "'loose' is not a value of registrationProvenance");
    let out = expect(
        data,
        &[
            "settings",
            "set",
            "registrationProvenance",
            "relaxed",
            "--by",
            "ops",
        ],
        0,
    );
    assert!(stdout(&out).contains("registrationProvenance = relaxed"));
    let out = expect(data, &["settings", "show"], 0);
    assert!(stdout(&out).contains("registrationProvenance = relaxed  (changed"));
    let out = expect(data, &["audit", "list", "--json"], 0);
    let audits = json_of(&out);
    assert!(
        audits
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["activityDisplayName"] == "Update tenant setting"),
        "{audits}"
    );
    let text = stdout(&expect(data, &["lint"], 0));
    assert!(
        text.contains("registration-provenance rule is relaxed"),
        "{text}"
    );
    let out = expect(data, &["preflight", "--role", "Global Administrator"], 0);
    assert!(stdout(&out).contains("every eligible user can satisfy"));
}

#[test]
fn audit_verify_finds_a_tampered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();

    let out = expect(data, &["audit", "verify"], 0);
    assert_eq!(stdout(&out), "OK: the audit log is empty (0 entries).\n");

    with_store(data, async |store| {
        let now = Utc::now();
        for (i, activity) in [
            "Add member to role requested (PIM activation)",
            "Add member to role completed (PIM activation)",
            "Remove member from role (PIM activation expired)",
        ]
        .into_iter()
        .enumerate()
        {
            let entry = store::AuditEntry::new(
                "RoleManagement",
                activity,
                "Assign",
                now + Duration::seconds(i as i64),
            )
            .by_user(ADELE, Some("adele@posture.test"))
            .target("Role", GLOBAL_ADMINISTRATOR, Some("Global Administrator"))
            .correlation("request-1");
            store.append_audit(&entry).await.unwrap();
        }
    });

    let out = expect(data, &["audit", "verify"], 0);
    assert_eq!(stdout(&out), "OK: 3 entries, an unbroken hash chain.\n");
    let v = json_of(&expect(data, &["audit", "verify", "--json"], 0));
    assert_eq!(
        v,
        json!({"entries": 3, "intact": true, "firstBroken": null})
    );

    let listed = json_of(&expect(
        data,
        &["audit", "list", "--limit", "2", "--json"],
        0,
    ));
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["seq"], 3);
    assert_eq!(
        listed[0]["activityDisplayName"],
        "Remove member from role (PIM activation expired)"
    );
    assert_eq!(listed[1]["seq"], 2);
    assert_eq!(listed[1]["category"], "RoleManagement");
    assert_eq!(listed[1]["result"], "success");
    assert_eq!(listed[1]["correlationId"], "request-1");
    assert_eq!(
        listed[1]["initiatedBy"]["user"]["userPrincipalName"],
        "adele@posture.test"
    );
    assert_eq!(listed[1]["targetResources"][0]["type"], "Role");
    assert!(listed[1]["activityDateTime"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let text = stdout(&expect(data, &["audit", "list"], 0));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].trim_start().starts_with("3  "), "{text}");
    assert!(
        lines[2].contains("Add member to role requested (PIM activation)  by adele@posture.test  on Role Global Administrator"),
        "{text}"
    );

    // Change entry 2 behind the store's back.
    runtime().block_on(async {
        use sqlx::Connection;
        let mut db = sqlx::SqliteConnection::connect(&url(data)).await.unwrap();
        let changed =
            sqlx::query("UPDATE directory_audits SET activity_display_name = 'x' WHERE seq = 2")
                .execute(&mut db)
                .await
                .unwrap();
        assert_eq!(changed.rows_affected(), 1);
        db.close().await.unwrap();
    });
    let out = expect(data, &["audit", "verify"], 1);
    assert_eq!(
        stdout(&out),
        "BROKEN at entry 2 (3 entries read): its content does not match its hash: it was changed.\n"
    );
    let v = json_of(&expect(data, &["audit", "verify", "--json"], 1));
    assert_eq!(v["intact"], false);
    assert_eq!(v["firstBroken"]["seq"], 2);
    assert!(v["firstBroken"]["reason"]
        .as_str()
        .unwrap()
        .contains("does not match its hash"));

    // Bad input, as for `signins`: one line, exit 1.
    for limit in ["0", "10001"] {
        let out = expect(data, &["audit", "list", "--limit", limit], 1);
        refused(&out, "--limit must be between 1 and 10000");
    }
}

#[test]
fn help_explains_the_posture_commands() {
    let text = stdout(&run(&["--help"]));
    for command in ["lint", "preflight", "audit"] {
        assert!(text.contains(command), "{command} in {text}");
    }
    let text = stdout(&run(&["lint", "--help"]));
    for needle in ["--break-glass", "--json", "claim check", "--data-dir"] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    let text = stdout(&run(&["preflight", "--help"]));
    for needle in ["--role", "--policy", "--break-glass", "ROLE_ID_OR_NAME"] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    let text = stdout(&run(&["audit", "--help"]));
    assert!(text.contains("verify") && text.contains("list"), "{text}");
}
