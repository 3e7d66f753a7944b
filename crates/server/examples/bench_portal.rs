//! Server time and bytes per portal page on the 100,000-user tenant of the Conditional Access
//! benchmarks with 1,000 policies (`crates/policy/benches/support/tenant.rs`): *My access*,
//! *My roles*, *My requests*, *Approvals* and the admin center's pages, each `GET` as a signed-in
//! browser sends it. See BENCHMARKS.md, issue 11.
//!
//! ```sh
//! cargo run --release -p server --example bench_portal [-- --policies 1000 --rounds 200 --only /admin/readiness]
//! ```
//!
//! The service runs in this process on SQLite (a temporary directory), as in the tests'
//! `common::Env`; the tenant is stored with `Store::import_tenant`. The bench user (user 12,345:
//! active Helpdesk Administrator, eligible Global Administrator) also gets active Global
//! Administrator and Conditional Access Administrator assignments, so that every admin center
//! page opens for them; Global Administrator's activation requires context `c1`, so that rollout
//! readiness has a role and the policies on its context to pre-flight. Their browser session is stored directly (a session row and its cookie token):
//! the sign-in is not what is measured. Each page is fetched 5 times to warm, then `--rounds`
//! times one after another over one keep-alive connection on loopback; the time is from
//! sending the request to the last byte of the body. A page that does not answer `200` is
//! reported with its status and not timed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../../policy/benches/support/tenant.rs"]
mod tenant;

use common::Env;
use policy::directory::AssignmentStatus;
use std::time::{Duration, Instant};
use store::testing::Backend;
use tenant::{directory, policies, user_id, BENCH_USER};

/// Conditional Access Administrator.
const CA_ADMIN: &str = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9";
/// Global Administrator.
const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";

/// The pages measured, in order; a page not served is reported as such.
const PAGES: [&str; 16] = [
    "/",
    "/my/roles",
    "/my/requests",
    "/my/approvals",
    "/admin",
    "/admin/policies",
    "/admin/contexts",
    "/admin/strengths",
    "/admin/locations",
    "/admin/roles",
    "/admin/assignments",
    "/admin/readiness",
    "/admin/users",
    "/admin/groups",
    "/admin/sign-ins",
    "/admin/audit",
];

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().unwrap())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let n_policies = arg("--policies", 1_000);
    let rounds = arg("--rounds", 200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let env = Env::start(Backend::Sqlite).await.unwrap();
        let started = Instant::now();
        let mut t = directory();
        t.conditional_access_policies = policies(n_policies)
            .into_iter()
            .map(|p| serde_json::from_value(p).unwrap())
            .collect();
        let now = env.now();
        env.state.store.import_tenant(&t, now).await.unwrap();
        env.state.core.tenant_changed();
        eprintln!(
            "tenant: {} users, {} groups, {} role assignments, {n_policies} policies, stored in {:.1} s",
            t.users.len(),
            t.groups.len(),
            t.role_assignments.len(),
            started.elapsed().as_secs_f64()
        );
        let me = env.state.store.get_user(&user_id(BENCH_USER)).await.unwrap();
        for role in [CA_ADMIN, GLOBAL_ADMINISTRATOR] {
            env.state
                .store
                .assign_role(&common::nodes::assignment(&me, role, AssignmentStatus::Active))
                .await
                .unwrap();
        }
        // Global Administrator's activation requires c1, so that rollout readiness has a
        // role and the policies on its context to work through.
        common::pim::require_context(&env, GLOBAL_ADMINISTRATOR, "c1").await;
        // The bench user's browser session, as a sign-in would have left it.
        let token = format!("bench-session-{}", store::new_id());
        env.state
            .store
            .create_session(&store::Session {
                id: server::web::token_hash(&token),
                sid: store::new_id(),
                user_id: me.id.clone(),
                created_at: now,
                last_seen_at: now,
                expires_at: now + chrono::Duration::hours(8),
                revoked_at: None,
            })
            .await
            .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();
        let get = |path: &str| {
            http.get(format!("{}{path}", env.base))
                .header(
                    reqwest::header::COOKIE,
                    format!("{}={token}", server::web::SESSION_COOKIE),
                )
                .send()
        };
        println!("| Page | p50 ms | p99 ms | mean ms | bytes |");
        println!("|---|---:|---:|---:|---:|");
        // `--only PATH` measures that page alone.
        let args: Vec<String> = std::env::args().collect();
        let only = args
            .iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1).cloned());
        for page in PAGES.into_iter().filter(|p| only.as_deref().is_none_or(|o| o == *p)) {
            let first = get(page).await.unwrap();
            let status = first.status();
            let bytes = first.bytes().await.unwrap().len();
            if status != 200 {
                println!("| `{page}` | not served ({status}) | | | |");
                continue;
            }
            for _ in 0..4 {
                get(page).await.unwrap().bytes().await.unwrap();
            }
            let mut times = Vec::with_capacity(rounds);
            for _ in 0..rounds {
                let t = Instant::now();
                let r = get(page).await.unwrap();
                assert_eq!(r.status(), 200, "{page}");
                r.bytes().await.unwrap();
                times.push(t.elapsed());
            }
            times.sort();
            let mean = times.iter().sum::<Duration>() / rounds as u32;
            println!(
                "| `{page}` | {:.2} | {:.2} | {:.2} | {bytes} |",
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.99)),
                ms(mean)
            );
        }
        env.stop().await;
    });
}
