//! The `portcullis` binary, run as a user runs it: the documented examples, the fixtures, and
//! bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> PathBuf {
    std::env::var_os("PORTCULLIS_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/fixtures/entra-exports"))
}

fn portcullis(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const AT: &str = "2026-11-21T09:31:00Z";

fn whatif(request: &str) -> Value {
    let request = format!("docs/examples/requests/{request}");
    stdout_json(&portcullis(&[
        "whatif",
        "--tenant",
        "docs/examples/tenant.json",
        "--request",
        &request,
        "--at",
        AT,
    ]))
}

/// The table in docs/whatif.md: every example and the decision it documents.
#[test]
fn documented_examples_decide_as_documented() {
    let expected = [
        (
            "app-password-only.json",
            "challenge",
            vec!["ca000000-0000-4000-8000-000000000001"],
        ),
        ("app-password-totp.json", "grant", vec![]),
        (
            "legacy-client-blocked.json",
            "block",
            vec![
                "ca000000-0000-4000-8000-000000000001",
                "ca000000-0000-4000-8000-000000000002",
            ],
        ),
        (
            "country-unknown.json",
            "block",
            vec!["ca000000-0000-4000-8000-000000000005"],
        ),
        ("register-security-info-at-hq.json", "grant", vec![]),
        (
            "guest-mfa-yesterday.json",
            "challenge",
            vec!["ca000000-0000-4000-8000-000000000008"],
        ),
        (
            "flagship-c1-totp-session.json",
            "challenge",
            vec!["ca000000-0000-4000-8000-000000000003"],
        ),
        (
            "flagship-c1-passkey-before-request.json",
            "challenge",
            vec!["ca000000-0000-4000-8000-000000000003"],
        ),
        (
            "flagship-c1-totp-step-up.json",
            "challenge",
            vec!["ca000000-0000-4000-8000-000000000003"],
        ),
        ("flagship-c1-passkey-step-up.json", "grant", vec![]),
    ];
    let documented = std::fs::read_to_string(root().join("docs/whatif.md")).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(root().join("docs/examples/requests"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut listed: Vec<String> = expected.iter().map(|(f, _, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed, "every example is checked here");
    for (file, result, unsatisfied) in expected {
        let out = whatif(file);
        let d = &out["decision"];
        assert_eq!(d["result"], result, "{file}: {d}");
        let got: Vec<&str> = d["unsatisfiedPolicies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(got, unsatisfied, "{file}");
        assert!(
            documented.contains(&format!("`{file}`"))
                && documented.contains(&format!("| {result} |")),
            "docs/whatif.md lists {file}"
        );
    }
}

#[test]
fn flagship_challenge_names_the_strength_and_the_request_time() {
    let out = whatif("flagship-c1-totp-step-up.json");
    let req = &out["decision"]["requirements"][0]["anyOf"][0][0];
    assert_eq!(req["type"], "authenticationStrength");
    assert_eq!(req["id"], "00000000-0000-0000-0000-000000000004");
    assert_eq!(req["performedAfter"], "2026-11-21T09:30:00Z");
    // The TOTP step-up was in the transaction: no re-authentication is missing, only the strength.
    assert_eq!(
        out["decision"]["requirements"][0]["anyOf"][0]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn full_listing_reports_every_policy_with_graph_reasons() {
    let out = whatif("register-security-info-at-hq.json");
    let value = out["value"].as_array().unwrap();
    assert_eq!(value.len(), 9, "appliedPoliciesOnly is false: every policy");
    let by_name = |prefix: &str| {
        value
            .iter()
            .find(|p| p["displayName"].as_str().unwrap().starts_with(prefix))
            .unwrap()
    };
    assert_eq!(by_name("CA06")["analysisReasons"], "location");
    assert_eq!(by_name("CA06")["result"], "notApplied");
    assert_eq!(by_name("CA07")["result"], "reportOnlyNotApplied");
    assert_eq!(by_name("CA99")["result"], "notEnabled");
    assert_eq!(by_name("CA01")["analysisReasons"], "userActions");
}

#[test]
fn baseline_checks_clean_and_the_whole_fixture_set_names_its_broken_file() {
    let baseline = fixtures().join("baseline");
    let out = portcullis(&["tenant", "check", baseline.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("policies:              36"), "{text}");
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("OK: 0 unreadable files, 0 errors"),
        "{text}"
    );

    let out = portcullis(&["tenant", "check", fixtures().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("Exclude_CA-Global (1).json:50:11: malformed JSON"),
        "{text}"
    );
    assert!(text.contains("policies:              72"), "{text}");

    let out = portcullis(&["tenant", "check", "--json", fixtures().to_str().unwrap()]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["counts"]["conditionalAccessPolicies"], 72);
    assert_eq!(report["unreadable"].as_array().unwrap().len(), 1);
}

#[test]
fn whatif_refuses_a_partial_tenant_unless_forced() {
    let acme = fixtures().join("acme-policies");
    let request = "docs/examples/requests/app-password-totp.json";
    let out = portcullis(&[
        "whatif",
        "--tenant",
        acme.to_str().unwrap(),
        "--request",
        request,
        "--at",
        AT,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--force"), "{err}");
    assert!(err.contains(":50:11: malformed JSON"), "{err}");
    // The user id of the example is not in the ACME export: a clear error, not a panic.
    let out = portcullis(&[
        "whatif",
        "--tenant",
        acme.to_str().unwrap(),
        "--request",
        request,
        "--at",
        AT,
        "--force",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("user 'a1b2c3d4-0000-4000-8000-000000000b0b' is not in the tenant"),
        "{err}"
    );
}

#[test]
fn whatif_over_the_real_baseline_export() {
    // The baseline holds no users: add one in a tenant document beside a copy of it.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("baseline"), &dir.path().join("baseline"));
    std::fs::write(
        dir.path().join("users.json"),
        r##"{"users":[{"id":"u-1","userType":"Member"}]}"##,
    )
    .unwrap();
    let request = dir.path().join("request.json");
    std::fs::write(&request, r##"{
        "signInIdentity": {"userId": "u-1"},
        "signInContext": {"@odata.type": "#microsoft.graph.applicationContext", "includeApplications": ["00000003-0000-0ff1-ce00-000000000000"]},
        "signInConditions": {"devicePlatform": "windows", "clientAppType": "browser", "ipAddress": "198.51.100.7", "country": "BE",
                             "signInRiskLevel": "none", "userRiskLevel": "none", "deviceInfo": {"isCompliant": true, "trustType": "AzureAD"}},
        "authenticationSession": {"transactionStartedAt": "2026-11-21T09:00:00Z",
            "methods": [{"method": "password", "performedAt": "2026-11-21T09:00:05Z"}, {"method": "microsoftAuthenticatorPush", "performedAt": "2026-11-21T09:00:20Z"}]}
    }"##).unwrap();
    let out = stdout_json(&portcullis(&[
        "whatif",
        "--tenant",
        dir.path().to_str().unwrap(),
        "--request",
        request.to_str().unwrap(),
        "--at",
        AT,
    ]));
    let value = out["value"].as_array().unwrap();
    assert_eq!(value.len(), 36);
    let ca000 = value
        .iter()
        .find(|p| p["displayName"].as_str().unwrap().starts_with("CA000"))
        .unwrap();
    // CA000 requires the built-in MFA strength for everyone: password + push satisfies it.
    assert!(
        ca000["result"].as_str().unwrap().ends_with("uccess"),
        "{ca000}"
    );
    // Agent policies carry conditions Portcullis does not know: reported, never silently true.
    let ca504 = value
        .iter()
        .find(|p| p["displayName"].as_str().unwrap().starts_with("CA504"))
        .unwrap();
    assert_ne!(ca504["result"], "success");
    assert_ne!(out["decision"]["result"], Value::Null);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

#[test]
fn bad_input_gets_one_clear_line_and_no_panic() {
    let tenant = "docs/examples/tenant.json";
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{\n  \"signInIdentity\": {\"userId\": \"x\"},\n  oops\n}".to_vec(), ":3:3: key must be a string"),
        (br##"{"signInIdentity": {"userId": "a1b2c3d4-0000-4000-8000-000000000b0b"}, "signInContext": {"@odata.type": "#microsoft.graph.authContext", "authenticationContextValue": "c100"}}"##.to_vec(), "c100"),
        (br##"{"signInIdentity": {"userId": "a1b2c3d4-0000-4000-8000-000000000b0b"}, "signInContext": {"@odata.type": "#microsoft.graph.applicationContext", "includeApplications": ["x"]}, "signInConditions": {"ipAddress": "999.1.1.1"}}"##.to_vec(), "'999.1.1.1' is not an IPv4 or IPv6 address"),
        (br##"{"signInContext": {"@odata.type": "#microsoft.graph.applicationContext", "includeApplications": ["x"]}}"##.to_vec(), "signInIdentity.userId is required"),
        (br##"{"signInIdentity": {"userId": "nobody"}, "signInContext": {"@odata.type": "#microsoft.graph.applicationContext", "includeApplications": ["x"]}}"##.to_vec(), "user 'nobody' is not in the tenant"),
        (br##"{"signInIdentity": {"userId": "x"}, "signInContext": {"@odata.type": "#microsoft.graph.deviceContext"}}"##.to_vec(), "'deviceContext' is not one of"),
        (br##"{"signInIdentity": {"userId": "x"}, "authenticationSession": {"methods": [{"method": "fido2", "performedAt": "yesterday"}]}}"##.to_vec(), "input contains invalid characters"),
        (b"\xff\xfe{".to_vec(), "invalid UTF-16"),
        (b"[1,2]".to_vec(), "the request must be a JSON object"),
    ];
    for (i, (body, needle)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("r{i}.json"));
        std::fs::write(&path, body).unwrap();
        let out = portcullis(&[
            "whatif",
            "--tenant",
            tenant,
            "--request",
            path.to_str().unwrap(),
            "--at",
            AT,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case {i}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "case {i}: one line: {err}"
        );
        assert!(err.starts_with("error: "), "case {i}: {err}");
        assert!(
            err.contains(needle),
            "case {i}: expected {needle:?} in {err}"
        );
        assert!(!err.contains("panicked"), "case {i}: {err}");
    }
    let missing = portcullis(&[
        "whatif",
        "--tenant",
        tenant,
        "--request",
        "no/such/request.json",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such/request.json"));
    let bad_at = portcullis(&[
        "whatif",
        "--tenant",
        tenant,
        "--request",
        "docs/examples/requests/app-password-totp.json",
        "--at",
        "tomorrow",
    ]);
    assert!(
        String::from_utf8_lossy(&bad_at.stderr).contains("--at 'tomorrow' is not an RFC 3339 time")
    );
    let missing_tenant = portcullis(&["tenant", "check", "no/such/tenant"]);
    assert_eq!(missing_tenant.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing_tenant.stderr).contains("no/such/tenant"));
}

#[test]
fn a_utf16_request_with_crlf_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        std::fs::read_to_string(root().join("docs/examples/requests/app-password-totp.json"))
            .unwrap()
            .replace('\n', "\r\n");
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
    let path = dir.path().join("utf16.json");
    std::fs::write(&path, bytes).unwrap();
    let out = stdout_json(&portcullis(&[
        "whatif",
        "--tenant",
        "docs/examples/tenant.json",
        "--request",
        path.to_str().unwrap(),
        "--at",
        AT,
    ]));
    assert_eq!(out["decision"]["result"], "grant");
}

#[test]
fn export_round_trips_through_a_tenant_document() {
    let out = portcullis(&[
        "tenant",
        "export",
        fixtures().join("baseline").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["conditionalAccessPolicies"].as_array().unwrap().len(),
        36
    );
    // Unknown fields of the export are still there.
    let first = &doc["conditionalAccessPolicies"][0];
    assert!(
        first.get("@odata.type").is_some() && first.get("templateId").is_some(),
        "{first}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenant.json");
    std::fs::write(&file, &out.stdout).unwrap();
    let again = portcullis(&["tenant", "export", file.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn help_explains_the_commands() {
    let out = portcullis(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("whatif") && text.contains("tenant"), "{text}");
    let out = portcullis(&["whatif", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--tenant",
        "--request",
        "--at",
        "--force",
        "authenticationSession",
    ] {
        assert!(text.contains(flag), "{flag} in {text}");
    }
}

/// The binary with a clean environment for the service commands: no `PORTCULLIS_*` variable of
/// the caller's leaks in.
fn portcullis_service(args: &[&str]) -> Command {
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
    command
}

fn run(args: &[&str]) -> Output {
    portcullis_service(args).output().unwrap()
}

#[test]
fn default_config_is_a_configuration_of_the_defaults() {
    let out = run(&["default-config"]);
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portcullis.toml");
    std::fs::write(&file, &out.stdout).unwrap();
    let config =
        server::config::Config::load(Some(&file), &|_| None, server::config::Overrides::default())
            .unwrap();
    assert_eq!(config, server::config::Config::default());
}

#[test]
fn clients_are_added_listed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let ok = |args: &[&str]| {
        let out = run(args);
        assert!(
            out.status.success(),
            "{args:?}: exit {:?}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let text = ok(&[
        "client",
        "add",
        "--id",
        "web",
        "--name",
        "Web app",
        "--redirect-uri",
        "https://app.example.com/callback",
        "--redirect-uri",
        "http://localhost:3000/callback",
        "--data-dir",
        data,
    ]);
    assert!(text.contains("public client 'web'"), "{text}");
    let text = ok(&[
        "client",
        "add",
        "--id",
        "payroll",
        "--confidential",
        "--redirect-uri",
        "https://payroll.example.com/oidc/callback",
        "--data-dir",
        data,
    ]);
    let secret = text.lines().last().unwrap().trim().to_string();
    assert_eq!(secret.len(), 43, "{text}");

    let listed: Value =
        serde_json::from_str(&ok(&["client", "list", "--json", "--data-dir", data])).unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["clientId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["payroll", "web"]);
    assert_eq!(listed[0]["isPublic"], false);
    assert_eq!(listed[1]["displayName"], "Web app");
    assert_eq!(
        listed[1]["redirectUris"],
        serde_json::json!([
            "https://app.example.com/callback",
            "http://localhost:3000/callback"
        ])
    );
    assert!(!listed.to_string().contains(&secret));
    // Only the secret's hash is kept, and it is the one the token endpoint checks.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("sqlite://{}/portcullis.db", data);
    let stored = runtime.block_on(async {
        let store = store::Store::open(&url).await.unwrap();
        let client = store.get_client("payroll").await.unwrap();
        store.close().await;
        client
    });
    assert_eq!(
        stored.secret_hash.as_deref(),
        Some(server::oidc::clients::hash_secret(&secret).as_str())
    );

    let text = ok(&["client", "list", "--data-dir", data]);
    assert!(
        text.contains("payroll  (confidential)")
            && text.contains("    https://app.example.com/callback"),
        "{text}"
    );

    // Mistakes: one readable line, a failure status, nothing stored.
    for (args, needle) in [
        (
            vec!["--id", "bad", "--redirect-uri", "http://app.example.com/cb"],
            "plain http is allowed only on localhost",
        ),
        (
            vec!["--id", "bad", "--redirect-uri", "/callback"],
            "is not an absolute URL",
        ),
        (
            vec![
                "--id",
                "web",
                "--redirect-uri",
                "https://app.example.com/cb",
            ],
            "a client 'web' already exists",
        ),
    ] {
        let mut full = vec!["client", "add"];
        full.extend(args);
        full.extend(["--data-dir", data]);
        let out = run(&full);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{full:?}: {err}");
        assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    let text = ok(&["client", "list", "--data-dir", data]);
    assert!(!text.contains("bad"), "{text}");

    let text = ok(&["client", "remove", "web", "--data-dir", data]);
    assert!(text.contains("Removed client 'web'"), "{text}");
    let text = ok(&["client", "list", "--data-dir", data]);
    assert!(!text.contains("web ") && text.contains("payroll"), "{text}");
    let out = run(&["client", "remove", "web", "--data-dir", data]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("there is no client 'web'"));
}

/// A free TCP port on the loopback interface (free when this returns; another process could
/// take it before the service does, which is unlikely enough for a test).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The status code of `GET path`, over plain HTTP/1.1.
fn http_status(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn serve_demo_prints_how_to_sign_in_and_keeps_the_credentials_private() {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child =
        portcullis_service(&["serve", "--demo", "--listen", &listen, "--data-dir", data])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let healthy = loop {
        if http_status(port, "/healthz") == Some(200) {
            break true;
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let demo_page = http_status(port, "/demo");
    // SIGTERM: the service shuts down cleanly.
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        healthy,
        "no /healthz within 30 s\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert!(terminated);
    assert!(
        status.is_some_and(|s| s.success()),
        "exit after SIGTERM: {status:?}\nstderr: {stderr}"
    );
    assert_eq!(demo_page, Some(200));

    // The instructions: where to go, and every demo user.
    assert!(
        stdout.contains(&format!("http://localhost:{port}/demo")),
        "{stdout}"
    );
    for upn in [
        "alice@demo.portcullis.test",
        "adele@demo.portcullis.test",
        "breakglass@demo.portcullis.test",
    ] {
        assert!(stdout.contains(upn), "{upn} in {stdout}");
    }
    assert!(stdout.contains("portcullis demo totp alice@demo.portcullis.test"));
    let file = dir.path().join("demo-credentials.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let creds: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let alice = &creds["users"][0];
    assert_eq!(alice["userPrincipalName"], "alice@demo.portcullis.test");
    assert!(stdout.contains(alice["password"].as_str().unwrap()));

    // The TOTP helper reads that file.
    let out = run(&[
        "demo",
        "totp",
        "alice@demo.portcullis.test",
        "--data-dir",
        data,
    ]);
    let code = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    let out = run(&["demo", "totp", "nobody@example.com", "--data-dir", data]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a demo user"));
}

#[test]
fn help_lists_the_service_commands() {
    let text = String::from_utf8(run(&["--help"]).stdout).unwrap();
    for command in ["serve", "demo", "default-config", "client"] {
        assert!(text.contains(command), "{command} in {text}");
    }
    let text = String::from_utf8(run(&["demo", "totp", "--help"]).stdout).unwrap();
    assert!(text.contains("demo convenience"), "{text}");
    let text = String::from_utf8(run(&["serve", "--help"]).stdout).unwrap();
    for flag in [
        "--config",
        "--listen",
        "--data-dir",
        "--database-url",
        "--issuer",
        "--demo",
    ] {
        assert!(text.contains(flag), "{flag} in {text}");
    }
}

#[test]
fn signins_reads_the_log_and_refuses_bad_filters() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = run(&["signins", "--data-dir", data]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("No sign-ins match."));
    let out = run(&["signins", "--data-dir", data, "--json"]);
    assert_eq!(stdout_json(&out), serde_json::json!([]));
    for (args, message) in [
        (
            &["--result", "maybe"][..],
            "is not one of success, failure, interrupted",
        ),
        (&["--since", "yesterday"][..], "is not an RFC 3339 time"),
        (&["--user", "nobody@example.test"][..], "no user is named"),
        (&["--limit", "0"][..], "--limit must be between 1 and 10000"),
    ] {
        let mut all = vec!["signins", "--data-dir", data];
        all.extend_from_slice(args);
        let out = run(&all);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
    }
}

#[test]
fn tenant_import_plans_imports_and_refuses_a_partial_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let baseline = fixtures().join("baseline");
    let baseline = baseline.to_str().unwrap();
    let stdout = |out: &Output| String::from_utf8_lossy(&out.stdout).to_string();
    let succeeded = |out: &Output| {
        assert!(
            out.status.success(),
            "exit {:?}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
    };

    // A dry run says what would happen and writes nothing: the second dry run says the same.
    for _ in 0..2 {
        let out = run(&[
            "tenant",
            "import",
            baseline,
            "--dry-run",
            "--data-dir",
            data,
        ]);
        succeeded(&out);
        let text = stdout(&out);
        assert!(text.starts_with("dry run: nothing was written"), "{text}");
        assert!(
            text.contains("conditionalAccessPolicies: 36 created, 0 changed"),
            "{text}"
        );
        assert!(text.contains("groups: 34 created"), "{text}");
    }

    let out = run(&[
        "tenant",
        "import",
        baseline,
        "--data-dir",
        data,
        "--by",
        "ops",
    ]);
    succeeded(&out);
    let text = stdout(&out);
    assert!(text.contains("namedLocations: 3 created"), "{text}");
    assert!(text.contains("audited as 'Import tenant' by ops"), "{text}");
    let out = run(&["tenant", "import", baseline, "--data-dir", data]);
    succeeded(&out);
    let text = stdout(&out);
    assert!(
        text.contains("conditionalAccessPolicies: 0 created, 0 changed, 36 unchanged"),
        "{text}"
    );
    assert!(
        text.contains("groups: 0 created, 0 changed, 34 unchanged"),
        "{text}"
    );

    // A folder with a broken file is refused whole, with the file named.
    let out = run(&[
        "tenant",
        "import",
        fixtures().join("acme-policies").to_str().unwrap(),
        "--data-dir",
        data,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("malformed JSON"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");

    // Roles' settings exported beside a tenant: refused while the context they require is
    // defined nowhere, imported once it is exported with them.
    let settings = root().join("tests/fixtures/role-settings");
    let out = run(&[
        "tenant",
        "import",
        settings.to_str().unwrap(),
        "--dry-run",
        "--data-dir",
        data,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Application Administrator") && err.contains("'c1'"),
        "{err}"
    );
    let with_context = tempfile::tempdir().unwrap();
    for file in [
        "roleManagementPolicies.json",
        "roleManagementPolicyAssignments.json",
    ] {
        std::fs::copy(settings.join(file), with_context.path().join(file)).unwrap();
    }
    std::fs::create_dir(with_context.path().join("AuthenticationContexts")).unwrap();
    std::fs::write(
        with_context.path().join("AuthenticationContexts/c1.json"),
        r#"{"id":"c1","displayName":"Tier 0 Role Activation","isAvailable":true}"#,
    )
    .unwrap();
    let out = run(&[
        "tenant",
        "import",
        with_context.path().to_str().unwrap(),
        "--data-dir",
        data,
    ]);
    succeeded(&out);
    let text = stdout(&out);
    assert!(
        text.contains("roleManagementPolicies: 2 created, 0 changed, 0 unchanged"),
        "{text}"
    );

    // The three imports are on record, and the chain holds.
    let out = run(&["audit", "list", "--data-dir", data]);
    succeeded(&out);
    assert_eq!(stdout(&out).matches("Import tenant").count(), 3);
    let out = run(&["audit", "verify", "--data-dir", data]);
    succeeded(&out);
}

/// `portcullis backup` and `restore` round-trip a SQLite store: the backup is the state when it
/// was taken; a restore into a new place or (with --force) over the live database brings that
/// state back with its audit chain intact; and what should be refused is, leaving the database
/// as it was: overwriting a backup, replacing a database without --force, a file that is no
/// database, and a backup altered after it was written (its audit chain no longer verifies).
#[test]
fn backup_and_restore_round_trip_and_refuse_what_they_should() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let other = dir.path().join("other");
    let (live, other) = (live.to_str().unwrap(), other.to_str().unwrap());
    let backup = dir.path().join("backup.db");
    let backup = backup.to_str().unwrap();
    let ok = |args: &[&str]| {
        let out = run(args);
        assert!(
            out.status.success(),
            "{args:?}: exit {:?}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let refused = |args: &[&str], says: &str| {
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    };
    let provenance = |data: &str| ok(&["settings", "show", "--data-dir", data]);

    ok(&[
        "settings",
        "set",
        "registrationProvenance",
        "relaxed",
        "--data-dir",
        live,
    ]);
    let out = ok(&["backup", backup, "--data-dir", live]);
    assert!(out.starts_with(&format!("backed up to {backup}")), "{out}");
    let taken = std::fs::read(backup).unwrap();
    assert!(taken.starts_with(b"SQLite format 3\0"));
    refused(&["backup", backup, "--data-dir", live], "never overwrites");
    ok(&[
        "settings",
        "set",
        "registrationProvenance",
        "enforced",
        "--data-dir",
        live,
    ]);
    assert!(provenance(live).contains("= enforced"));

    // Into a new place: the state of the backup, and a chain that verifies.
    let out = ok(&["restore", backup, "--data-dir", other]);
    assert!(out.contains("audit chain intact"), "{out}");
    assert!(
        provenance(other).contains("= relaxed"),
        "{}",
        provenance(other)
    );
    ok(&["audit", "verify", "--data-dir", other]);

    // Over the live database: only with --force.
    refused(&["restore", backup, "--data-dir", live], "--force");
    assert!(provenance(live).contains("= enforced"));
    ok(&["restore", backup, "--force", "--data-dir", live]);
    assert!(provenance(live).contains("= relaxed"));
    ok(&["audit", "verify", "--data-dir", live]);

    // A backup changed after it was written, and a file that is no database: refused, and the
    // database is as it was.
    let tampered = dir.path().join("tampered.db");
    let mut bytes = std::fs::read(backup).unwrap();
    let at = bytes
        .windows(7)
        .position(|w| w == b"relaxed")
        .expect("the backup holds the setting's audit entry");
    bytes[at] = b'R';
    while let Some(more) = bytes.windows(7).position(|w| w == b"relaxed") {
        bytes[more] = b'R';
    }
    std::fs::write(&tampered, &bytes).unwrap();
    refused(
        &[
            "restore",
            tampered.to_str().unwrap(),
            "--force",
            "--data-dir",
            live,
        ],
        "audit chain",
    );
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"this is not a database at all, not even close").unwrap();
    refused(
        &[
            "restore",
            garbage.to_str().unwrap(),
            "--force",
            "--data-dir",
            live,
        ],
        "not a SQLite database",
    );
    refused(
        &["restore", "/nonexistent/backup.db", "--data-dir", live],
        "is not a file",
    );
    assert!(provenance(live).contains("= relaxed"));
    ok(&["audit", "verify", "--data-dir", live]);
    // The backup itself was never written to (restores open a copy).
    assert!(std::fs::read(backup).unwrap() == taken);
}

/// SQLite serves one node: while one `portcullis serve` runs on a data directory, a second is
/// refused at once, saying so, and a restore refuses to replace the database under it, even
/// with --force. `kill -9` of the first releases the file: the next start serves again.
#[test]
fn a_second_node_on_one_sqlite_file_is_refused_and_a_killed_one_releases_it() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let backup = dir.path().join("backup.db");
    let backup = backup.to_str().unwrap();
    let start = |port: u16| {
        let listen = format!("127.0.0.1:{port}");
        portcullis_service(&["serve", "--listen", &listen, "--data-dir", data])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let serving = |port: u16, child: &mut std::process::Child| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if http_status(port, "/healthz") == Some(200) {
                return true;
            }
            if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };

    let port = free_port();
    let mut first = start(port);
    assert!(serving(port, &mut first), "the first node did not start");
    assert!(run(&["backup", backup, "--data-dir", data])
        .status
        .success());

    let second = start(free_port()).wait_with_output().unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("SQLite serves one node"), "{stderr}");
    assert!(
        stderr.contains(&format!("process {}", first.id())),
        "{stderr}"
    );
    let out = run(&["restore", backup, "--force", "--data-dir", data]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stop the service first"), "{stderr}");
    assert_eq!(
        http_status(port, "/healthz"),
        Some(200),
        "the first node serves on"
    );

    first.kill().unwrap();
    first.wait().unwrap();
    let port = free_port();
    let mut again = start(port);
    assert!(serving(port, &mut again), "a killed node kept the file");
    again.kill().unwrap();
    again.wait().unwrap();
    assert!(run(&["restore", backup, "--force", "--data-dir", data])
        .status
        .success());
}
