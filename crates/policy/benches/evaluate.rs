//! Benchmarks of the Conditional Access engine on a large synthetic tenant.
//!
//! The tenant is built in code, deterministically: 100,000 users in 2,000 leaf groups of 50,
//! nested under 200 departments, 20 divisions and one "all staff" group; active and eligible role
//! assignments; and N Conditional Access policies (N in 10, 100, 1,000, 10,000) that mostly target
//! specific applications (500 app ids, some far more popular than others) and specific groups or
//! roles, with a few tenant-wide baselines, exclusions, authentication contexts c1..c25, mixed
//! grant controls, sign-in frequencies, and ~10% disabled or report-only.
//!
//! Groups:
//! - `decide/<N>`: one decision for a user in nested groups signing into a popular app with a
//!   password + softwareOath session.
//! - `decide_context/<N>`: the same user stepping up to authentication context `c1`.
//! - `decide_other_app/<N>`: a user in nested groups holding no role, signing into an app no
//!   generated policy names, so that only the tenant-wide baselines can apply whatever N is: this
//!   isolates the cost of the policies that cannot apply.
//! - `evaluate_all/<N>`: the full What-If scan, N up to 1,000.
//! - `decide_logged/<N>`: what the sign-in assessment calls, the decision of `decide` with every
//!   policy's result for the sign-in log, N up to 1,000.
//! - `principal`: the directory part of every decision (transitive groups and active roles).
//! - `follow/<N>`: following one change (`Engine::apply`) on the 100,000-user engine: a role
//!   activation then its end (`role_change`), one policy written (`policy_upsert`); and, for
//!   scale, building the engine afresh (`new`, N = 100 only).
//!
//! The tenant generator is `support/tenant.rs`, shared with the service's benchmarks
//! (`crates/server/benches/signin_decision.rs`).
//!
//! Run with `cargo bench -p policy --bench evaluate`. See BENCHMARKS.md at the repository root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_main, BenchmarkId, Criterion};
use policy::conditional_access::{ClientAppType, DevicePlatform, PolicyState};
use policy::context::ContextId;
use policy::directory::{AssignmentStatus, RoleAssignment};
use policy::method::AuthenticationMethodMode;
use policy::session::{AuthenticationSession, PerformedMethod};
use policy::signin::{SignInConditions, Target};
use policy::{Engine, SignIn, TenantChange};
use std::hint::black_box;
use std::time::Duration as StdDuration;

#[path = "support/tenant.rs"]
mod tenant;
use tenant::{
    app_id, assignment, directory, tenant, user_id, BENCH_APP, BENCH_USER, OTHER_APP, QUIET_USER,
    ROLES,
};

fn at() -> DateTime<Utc> {
    "2025-06-02T09:00:00Z".parse().unwrap()
}

fn sign_in(user: u64, target: Target) -> SignIn {
    let at = at();
    SignIn {
        user_id: user_id(user),
        target,
        conditions: SignInConditions {
            device_platform: Some(DevicePlatform::Windows),
            client_app_type: Some(ClientAppType::Browser),
            ..SignInConditions::default()
        },
        session: AuthenticationSession {
            transaction_started_at: Some(at - Duration::minutes(2)),
            methods: vec![
                PerformedMethod::new(
                    AuthenticationMethodMode::Password,
                    at - Duration::seconds(90),
                ),
                PerformedMethod::new(
                    AuthenticationMethodMode::SoftwareOath,
                    at - Duration::seconds(60),
                ),
            ],
            mfa_claimed_at: None,
        },
        activating_role: None,
    }
}

fn app_sign_in(user: u64, app: u64) -> SignIn {
    sign_in(user, Target::Applications(vec![app_id(app)]))
}

fn context_sign_in() -> SignIn {
    sign_in(
        BENCH_USER,
        Target::AuthenticationContext(ContextId::parse("c1").unwrap()),
    )
}

/// How many enforced policies the engine's index hands to evaluation for this sign-in: a
/// mirror of `index.rs` (target, then included principal), for the report only.
fn index_candidates(engine: &Engine, s: &SignIn) -> usize {
    let groups = engine.transitive_groups(&s.user_id);
    let roles = engine.active_roles(&s.user_id, &groups);
    let uid = s.user_id.to_ascii_lowercase();
    engine
        .tenant()
        .conditional_access_policies
        .iter()
        .filter(|p| {
            !matches!(
                p.state,
                PolicyState::Disabled | PolicyState::EnabledForReportingButNotEnforced
            )
        })
        .filter(|p| {
            let Some(a) = &p.conditions.applications else {
                return false;
            };
            match &s.target {
                Target::Applications(apps) => a.include_applications.iter().any(|x| {
                    x.eq_ignore_ascii_case("All")
                        || x.eq_ignore_ascii_case("Office365")
                        || x.eq_ignore_ascii_case("MicrosoftAdminPortals")
                        || apps.iter().any(|app| app.eq_ignore_ascii_case(x))
                }),
                Target::UserAction(u) => a
                    .include_user_actions
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case(u)),
                Target::AuthenticationContext(c) => a
                    .include_authentication_context_class_references
                    .contains(&c.to_string()),
            }
        })
        .filter(|p| {
            let Some(u) = &p.conditions.users else {
                return false;
            };
            u.include_users
                .iter()
                .any(|x| x.eq_ignore_ascii_case("All") || x.eq_ignore_ascii_case(&uid))
                || u.include_groups.iter().any(|g| {
                    let g = g.to_ascii_lowercase();
                    groups.contains(&g) || !engine.has_group(&g)
                })
                || u.include_roles
                    .iter()
                    .any(|r| roles.contains(&r.to_ascii_lowercase()))
        })
        .count()
}

/// Policies that apply (or may apply) and are enforced, per the full scan.
fn applying(engine: &Engine, s: &SignIn) -> usize {
    engine
        .evaluate_all(s, at())
        .unwrap()
        .iter()
        .filter(|e| e.enforced && e.applies != policy::tri::Tri::False)
        .count()
}

fn benches(c: &mut Criterion) {
    let dir = directory();
    let sizes = [10usize, 100, 1_000, 10_000];
    let app = app_sign_in(BENCH_USER, BENCH_APP);
    let ctx = context_sign_in();
    let other = app_sign_in(QUIET_USER, OTHER_APP);
    let now = at();
    let mut engines: Vec<(usize, Engine)> = sizes
        .iter()
        .map(|&n| (n, Engine::new(tenant(&dir, n))))
        .collect();

    eprintln!("candidates / applying (enforced) policies per sign-in:");
    for (n, e) in &engines {
        let by_app = e
            .tenant()
            .conditional_access_policies
            .iter()
            .filter(|p| {
                p.conditions.applications.as_ref().is_some_and(|a| {
                    a.include_applications
                        .iter()
                        .any(|x| x.eq_ignore_ascii_case(&app_id(BENCH_APP)))
                })
            })
            .count();
        eprintln!(
            "  N={n:>5}: app {}/{} (policies naming the app: {}), context c1 {}/{}, other app {}/{}",
            index_candidates(e, &app),
            applying(e, &app),
            by_app,
            index_candidates(e, &ctx),
            applying(e, &ctx),
            index_candidates(e, &other),
            applying(e, &other),
        );
        let d = e.decide(&app, at()).unwrap();
        eprintln!(
            "           decide(app) = {:?}, {} unsatisfied, {} blocking",
            d.result,
            d.unsatisfied_policies.len(),
            d.blocking_policies.len()
        );
    }

    let configure = |g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>| {
        g.sample_size(50)
            .warm_up_time(StdDuration::from_secs(1))
            .measurement_time(StdDuration::from_secs(3));
    };

    let mut g = c.benchmark_group("decide");
    configure(&mut g);
    for (n, e) in &engines {
        g.bench_with_input(BenchmarkId::from_parameter(n), e, |b, e| {
            b.iter(|| e.decide(black_box(&app), black_box(now)).unwrap())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("decide_context");
    configure(&mut g);
    for (n, e) in &engines {
        g.bench_with_input(BenchmarkId::from_parameter(n), e, |b, e| {
            b.iter(|| e.decide(black_box(&ctx), black_box(now)).unwrap())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("decide_other_app");
    configure(&mut g);
    for (n, e) in &engines {
        g.bench_with_input(BenchmarkId::from_parameter(n), e, |b, e| {
            b.iter(|| e.decide(black_box(&other), black_box(now)).unwrap())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("evaluate_all");
    configure(&mut g);
    for (n, e) in engines.iter().filter(|(n, _)| *n <= 1_000) {
        g.bench_with_input(BenchmarkId::from_parameter(n), e, |b, e| {
            b.iter(|| e.evaluate_all(black_box(&app), black_box(now)).unwrap())
        });
    }
    g.finish();

    // What the sign-in assessment calls: the index's decision with every policy's log entry.
    let mut g = c.benchmark_group("decide_logged");
    configure(&mut g);
    for (n, e) in engines.iter().filter(|(n, _)| *n <= 1_000) {
        g.bench_with_input(BenchmarkId::from_parameter(n), e, |b, e| {
            b.iter(|| e.decide_logged(black_box(&app), black_box(now)).unwrap())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("principal");
    configure(&mut g);
    let e = &engines[0].1;
    let uid = user_id(BENCH_USER);
    g.bench_function("transitive_groups+active_roles", |b| {
        b.iter(|| {
            let user = e.user(black_box(&uid)).is_some();
            let groups = e.transitive_groups(black_box(&uid));
            let roles = e.active_roles(&uid, &groups);
            (user, groups, roles)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("follow");
    configure(&mut g);
    let principal = user_id(QUIET_USER);
    let activation = TenantChange::RoleAssignmentsOf {
        principal_id: policy::ids::PrincipalId::trusted(principal.clone()),
        assignments: vec![RoleAssignment {
            id: Some("activation".into()),
            ..assignment(principal.clone(), ROLES[0], AssignmentStatus::Active)
        }],
    };
    let end = TenantChange::RoleAssignmentsOf {
        principal_id: policy::ids::PrincipalId::trusted(principal),
        assignments: Vec::new(),
    };
    for (n, e) in engines.iter_mut().filter(|(n, _)| *n <= 1_000) {
        g.bench_function(BenchmarkId::new("role_change", *n), |b| {
            b.iter(|| {
                e.apply(black_box(activation.clone()));
                e.apply(black_box(end.clone()));
            })
        });
        let policy = e.tenant().conditional_access_policies[0].clone();
        g.bench_function(BenchmarkId::new("policy_upsert", *n), |b| {
            b.iter(|| {
                e.apply(TenantChange::PolicyUpserted(Box::new(black_box(
                    policy.clone(),
                ))))
            })
        });
    }
    g.sample_size(10);
    let full = tenant(&dir, 100);
    g.bench_function(BenchmarkId::new("new", 100), |b| {
        b.iter_batched(
            || full.clone(),
            |t| Engine::new(black_box(t)),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// The benchmark group (criterion's macro generates an undocumented `pub fn`).
mod group {
    #![allow(missing_docs)]
    use super::benches;
    criterion::criterion_group!(evaluate, benches);
}

criterion_main!(group::evaluate);
