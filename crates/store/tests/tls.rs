//! TLS to PostgreSQL: with `sslmode=verify-full` and the CA that signed the server's certificate
//! (`sslrootcert`), the store and its change listener connect encrypted; a certificate signed by
//! another CA, a host name the certificate does not name, or no CA file at all (the public roots
//! do not know a private CA) are refused, not downgraded. The server is the one
//! `scripts/with-postgres` starts, with the certificates it makes in
//! `PORTCULLIS_TEST_DATABASE_TLS_DIR`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use store::{Heard, Store, User};
use support::{Ctx, Kind};

/// The directory of the test server's certificates; `None` (with a notice) when the server was
/// not started by `scripts/with-postgres`, which alone knows its CA.
fn tls_dir() -> Option<PathBuf> {
    match std::env::var("PORTCULLIS_TEST_DATABASE_TLS_DIR") {
        Ok(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => {
            eprintln!(
                "PORTCULLIS_TEST_DATABASE_TLS_DIR is not set (a server not started by \
                 scripts/with-postgres): the TLS tests are skipped"
            );
            None
        }
    }
}

/// `url` (on 127.0.0.1, as scripts/with-postgres names it) reached as `host`, with `params`.
fn reached(url: &str, host: &str, params: &str) -> String {
    let url = url.replacen("@127.0.0.1:", &format!("@{host}:"), 1);
    assert!(url.contains(&format!("@{host}:")), "unexpected test URL");
    format!("{url}?{params}")
}

fn verify_full(dir: &std::path::Path, ca: &str) -> String {
    format!(
        "sslmode=verify-full&sslrootcert={}",
        dir.join(ca).to_string_lossy()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_with_the_right_ca_connects_encrypted() {
    let Some(dir) = tls_dir() else { return };
    support::run(Kind::Postgres, move |ctx: Ctx| async move {
        let url = reached(&ctx.url, "localhost", &verify_full(&dir, "ca.crt"));
        let store = Store::open(&url).await.unwrap();
        assert_eq!(store.diagnostics().await.unwrap().encrypted, Some(true));

        // The listening connection goes the same way, and hears a change made over TLS.
        let mut listener = store.listen_for_changes().await.unwrap().unwrap();
        let user = User::new("ada@example.test", "Ada", support::t(0));
        store.create_user(&user).await.unwrap();
        let heard = tokio::time::timeout(std::time::Duration::from_secs(5), listener.next())
            .await
            .expect("no announcement within 5 s")
            .unwrap();
        assert!(matches!(heard, Heard::Change(v) if v > 0), "{heard:?}");
        store.close().await;

        // The check can tell: without TLS the same server reports a plain connection.
        let plain = Store::open(&reached(&ctx.url, "localhost", "sslmode=disable"))
            .await
            .unwrap();
        assert_eq!(plain.diagnostics().await.unwrap().encrypted, Some(false));
        plain.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_refuses_what_it_cannot_verify() {
    let Some(dir) = tls_dir() else { return };
    support::run(Kind::Postgres, move |ctx: Ctx| async move {
        let refused = [
            (
                "a CA that did not sign the server's certificate",
                reached(
                    &ctx.url,
                    "localhost",
                    &verify_full(&dir, "untrusted-ca.crt"),
                ),
            ),
            (
                "a host name the certificate does not name",
                reached(&ctx.url, "127.0.0.1", &verify_full(&dir, "ca.crt")),
            ),
            (
                "no CA file (the public roots do not know a private CA)",
                reached(&ctx.url, "localhost", "sslmode=verify-full"),
            ),
        ];
        for (what, url) in refused {
            let err = Store::open(&url)
                .await
                .err()
                .unwrap_or_else(|| panic!("{what}: connected"));
            let message = err.to_string();
            assert!(
                message.contains("certificate") || message.contains("Certificate"),
                "{what}: {message}"
            );
            // The password in the URL is not echoed.
            let password = ctx
                .url
                .split(':')
                .nth(2)
                .unwrap()
                .split('@')
                .next()
                .unwrap();
            assert!(!message.contains(password), "{what}: {message}");
        }
        // A CA file that does not exist is named, not ignored.
        let missing = reached(&ctx.url, "localhost", &verify_full(&dir, "missing.crt"));
        let err = Store::open(&missing).await.expect_err("connected");
        assert!(
            err.to_string()
                .starts_with("invalid database URL: sslrootcert '")
                && err.to_string().contains("missing.crt': No such file"),
            "{err}"
        );
    })
    .await;
}
