//! Nodes as processes of their own, as `portcullis serve` runs them, so that `kill -9` ends one
//! for real: a program (a test binary, an example) starts itself again with [`NODE_VAR`] set,
//! and that copy calls [`serve_node_from_env`]. Also: the browser sign-in and Graph calls a
//! load makes at any node, giving up (`None`) where a node stops answering.

use super::{authorize_path, pkce, transaction_of, Browser, Landing, REDIRECT};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The node's instructions: JSON with `listen`, `data_dir`, `database_url`, `issuer`.
pub const NODE_VAR: &str = "PORTCULLIS_TEST_NODE";

/// In the copy started by [`Node::start`]: serves as that node until killed. Returns at once
/// when [`NODE_VAR`] is not set (the program was not started as a node).
pub fn serve_node_from_env() {
    let Ok(spec) = std::env::var(NODE_VAR) else {
        return;
    };
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let text = |k: &str| spec[k].as_str().unwrap().to_string();
    let mut config = server::config::Config::default();
    config.listen = text("listen").parse().unwrap();
    config.data_dir = text("data_dir").into();
    config.database_url = Some(server::config::Secret::new(text("database_url")));
    config.issuer = Some(url::Url::parse(&text("issuer")).unwrap());
    // Cheap hashing, as in every service test: the test is about crashes, not argon2's cost.
    config.password.memory_kib = 1024;
    config.password.iterations = 1;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let server = server::Server::bind(config, app::Clock::default())
            .await
            .unwrap();
        server.serve(std::future::pending()).await.unwrap();
    });
}

/// A node process and how to start it again.
pub struct Node {
    /// Its name in messages.
    pub name: &'static str,
    /// `http://localhost:PORT`.
    pub base: String,
    /// How this program is started again as a node (`[program, args…]`).
    launch: Vec<String>,
    spec: String,
    child: Option<Child>,
}

impl Node {
    /// Starts a node listening on `port`; returns once it answers `/healthz`, and how long that
    /// took.
    pub fn start(
        launch: &[String],
        name: &'static str,
        port: u16,
        db: &str,
        issuer: &str,
        dir: &std::path::Path,
    ) -> Node {
        let data_dir = dir.join(name);
        std::fs::create_dir_all(&data_dir).unwrap();
        let spec = json!({
            "listen": format!("127.0.0.1:{port}"),
            "data_dir": data_dir,
            "database_url": db,
            "issuer": issuer,
        })
        .to_string();
        let mut node = Node {
            name,
            base: format!("http://localhost:{port}"),
            launch: launch.to_vec(),
            spec,
            child: None,
        };
        node.restart();
        node
    }

    /// Starts the process (again); the time until it answered `/healthz`.
    pub fn restart(&mut self) -> Duration {
        let started = Instant::now();
        let mut child = Command::new(&self.launch[0])
            .args(&self.launch[1..])
            .env(NODE_VAR, &self.spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The harness's own lines, and the node's panic if it fails to start.
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let name = self.name;
        for stream in [
            Box::new(out) as Box<dyn std::io::Read + Send>,
            Box::new(err),
        ] {
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if !line.contains("running 1 test") && !line.trim().is_empty() {
                        eprintln!("[node {name}] {line}");
                    }
                }
            });
        }
        self.child = Some(child);
        let health = format!("{}/healthz", self.base);
        loop {
            if healthy(&health) {
                return started.elapsed();
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("node {} exited at start-up: {status}", self.name);
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "node {} did not start within 60 s",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether `url` answers 200: a blocking GET on a plain socket (node start-up runs outside the
/// runtime).
pub fn healthy(url: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let Some(port) = parsed.port() else {
        return false;
    };
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n",
        parsed.path()
    );
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Signs `upn` in with its password at `node` (a browser whose pages come from that node,
/// under the issuer's origin, as behind a load balancer); the access token, or `None` if the
/// node failed on the way (it may be being killed).
pub async fn sign_in(node: &str, issuer: &str, upn: &str, password: &str) -> Option<String> {
    let b = Browser::between(node, issuer);
    let (verifier, challenge) = pkce();
    let page = b.try_get(&authorize_path("app", &challenge, &[])).await?;
    let Landing::Page { html, .. } = &page else {
        return None;
    };
    let tx = transaction_of(html);
    b.try_post(&format!("/signin/{tx}/username"), &[("username", upn)])
        .await?;
    let landing = b
        .try_post(&format!("/signin/{tx}/password"), &[("password", password)])
        .await?;
    let Landing::Client(url) = landing else {
        return None;
    };
    let code = url.query_pairs().find(|(k, _)| k == "code")?.1.into_owned();
    let r = b
        .http
        .post(format!("{node}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", "app"),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    let tokens: Value = r.json().await.ok()?;
    Some(tokens["access_token"].as_str()?.to_string())
}

/// A Graph call at `node`: the status and body, or `None` when the node did not answer (a
/// connection refused or cut: not acknowledged).
pub async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> Option<(u16, Value)> {
    let mut r = http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        r = r.json(&body);
    }
    let r = r.send().await.ok()?;
    let status = r.status().as_u16();
    let text = r.text().await.ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// A user with `password` (argon2id at 1 MiB, 1 iteration), straight into the store, as the CLI
/// would make one while nodes serve.
pub async fn user_with_password(store: &store::Store, upn: &str, password: &str) -> store::User {
    let user = store::User::new(upn, upn, chrono::Utc::now());
    store.create_user(&user).await.unwrap();
    let params = authn::password::PasswordParams {
        memory_kib: 1024,
        iterations: 1,
        ..server::config::Config::default().password
    };
    let hash = authn::password::hash_password(
        &params,
        &authn::secrecy::SecretString::from(password.to_string()),
    )
    .unwrap();
    store
        .set_password(&store::PasswordCredential {
            user_id: user.id.clone(),
            phc: hash.as_str().to_string(),
            changed_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    user
}

/// An assignment of `role` to `user` with `status`, from yesterday, open-ended.
pub fn assignment(
    user: &store::User,
    role: &str,
    status: policy::directory::AssignmentStatus,
) -> store::RoleAssignment {
    store::RoleAssignment {
        id: store::new_id(),
        principal_id: policy::ids::PrincipalId::trusted(user.id.clone()),
        role_definition_id: policy::ids::RoleId::trusted(role),
        directory_scope_id: "/".into(),
        status,
        start_at: chrono::Utc::now() - chrono::Duration::days(1),
        end_at: None,
    }
}

/// The public client `app` (PKCE, redirecting to [`REDIRECT`]) that the load signs in with.
pub async fn app_client(store: &store::Store) {
    store
        .create_client(&store::OidcClient {
            client_id: "app".into(),
            display_name: "app".into(),
            redirect_uris: vec![REDIRECT.into()],
            is_public: true,
            secret_hash: None,
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
}
