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
//! Run with `cargo bench -p policy --bench evaluate`. See BENCHMARKS.md at the repository root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_main, BenchmarkId, Criterion};
use policy::conditional_access::{ClientAppType, DevicePlatform, PolicyState};
use policy::context::ContextId;
use policy::directory::{AssignmentStatus, Group, MemberRef, RoleAssignment, User};
use policy::method::AuthenticationMethodMode;
use policy::session::{AuthenticationSession, PerformedMethod};
use policy::signin::{SignInConditions, Target};
use policy::{Engine, Extra, SignIn, Tenant, TenantChange};
use serde_json::{json, Value};
use std::hint::black_box;
use std::time::Duration as StdDuration;

const USERS: u64 = 100_000;
const LEAF_GROUPS: u64 = 2_000; // 50 users each
const DEPARTMENTS: u64 = 200; // 10 leaf groups each
const DIVISIONS: u64 = 20; // 10 departments each
const APPS: u64 = 500;
const POPULAR_APPS: u64 = 10;
const CONTEXTS: u64 = 25;

/// The signing-in user: leaf group 246, department 24, division 2, all staff.
const BENCH_USER: u64 = 12_345;
/// The app the bench user signs into (one of the popular ones).
const BENCH_APP: u64 = 3;

/// Role template ids (Global Administrator, Privileged Role Administrator, Security, Exchange,
/// SharePoint, Helpdesk, User, Conditional Access, Application, Billing administrators).
const ROLES: [&str; 10] = [
    "62e90394-69f5-4237-9190-012177145e10",
    "e8611ab8-c189-46e8-94e1-60213ab1f814",
    "194ae4cb-b126-40b2-bd5b-6091b380977d",
    "29232cdf-9323-42fd-ade2-1d097af3e4de",
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
    "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    "b0f54661-2d74-4c50-afa3-1ec803f12efe",
];
const HELPDESK: usize = 5;
const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";

/// A GUID-shaped id, unique per `(kind, n)`.
fn guid(kind: u32, n: u64) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012x}")
}

fn user_id(n: u64) -> String {
    guid(0x0001, n)
}
fn leaf_id(n: u64) -> String {
    guid(0x0002, n)
}
fn department_id(n: u64) -> String {
    guid(0x0003, n)
}
fn division_id(n: u64) -> String {
    guid(0x0004, n)
}
fn all_staff_id() -> String {
    guid(0x0005, 0)
}
fn break_glass_id() -> String {
    guid(0x0006, 0)
}
fn app_id(n: u64) -> String {
    guid(0x000a, n)
}
fn policy_id(n: u64) -> String {
    guid(0x00ca, n)
}

/// A small deterministic stream of pseudo-random numbers (64-bit LCG, Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    fn new(seed: u64) -> Self {
        let mut l = Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03);
        l.next();
        l
    }
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn group(id: String, name: String, members: Vec<String>) -> Group {
    Group {
        id,
        display_name: Some(name),
        members: members.into_iter().map(MemberRef::Id).collect(),
        ..Group::default()
    }
}

fn assignment(principal: String, role: &str, status: AssignmentStatus) -> RoleAssignment {
    RoleAssignment {
        id: None,
        principal_id: principal,
        role_definition_id: role.to_string(),
        directory_scope_id: Some("/".into()),
        status,
        extra: Extra::new(),
    }
}

/// Users, nested groups and role assignments (no policies).
fn directory() -> Tenant {
    let users = (0..USERS)
        .map(|n| User {
            id: user_id(n),
            user_principal_name: Some(format!("user{n}@contoso.example")),
            display_name: Some(format!("User {n}")),
            account_enabled: Some(true),
            user_type: Some("Member".into()),
            ..User::default()
        })
        .collect();
    let per_leaf = USERS / LEAF_GROUPS;
    let mut groups: Vec<Group> = (0..LEAF_GROUPS)
        .map(|l| {
            group(
                leaf_id(l),
                format!("Team {l}"),
                (l * per_leaf..(l + 1) * per_leaf).map(user_id).collect(),
            )
        })
        .collect();
    let per_dept = LEAF_GROUPS / DEPARTMENTS;
    groups.extend((0..DEPARTMENTS).map(|d| {
        group(
            department_id(d),
            format!("Department {d}"),
            (d * per_dept..(d + 1) * per_dept).map(leaf_id).collect(),
        )
    }));
    let per_div = DEPARTMENTS / DIVISIONS;
    groups.extend((0..DIVISIONS).map(|v| {
        group(
            division_id(v),
            format!("Division {v}"),
            (v * per_div..(v + 1) * per_div)
                .map(department_id)
                .collect(),
        )
    }));
    groups.push(group(
        all_staff_id(),
        "All staff".into(),
        (0..DIVISIONS).map(division_id).collect(),
    ));
    groups.push(group(
        break_glass_id(),
        "Break-glass accounts".into(),
        vec![user_id(0), user_id(1)],
    ));

    let mut role_assignments = Vec::new();
    // ~100 users hold an active role, ~100 more an eligible one (PIM).
    for n in (0..USERS).step_by(997) {
        role_assignments.push(assignment(
            user_id(n),
            ROLES[(n % 10) as usize],
            AssignmentStatus::Active,
        ));
    }
    for n in (500..USERS).step_by(1009) {
        role_assignments.push(assignment(
            user_id(n),
            ROLES[(n % 7) as usize],
            AssignmentStatus::Eligible,
        ));
    }
    // A few role-assignable teams hold roles as a group.
    for l in (7..LEAF_GROUPS).step_by(211) {
        role_assignments.push(assignment(
            leaf_id(l),
            ROLES[(l % 10) as usize],
            AssignmentStatus::Active,
        ));
    }
    // The bench user: active Helpdesk Administrator, eligible Global Administrator.
    role_assignments.push(assignment(
        user_id(BENCH_USER),
        ROLES[HELPDESK],
        AssignmentStatus::Active,
    ));
    role_assignments.push(assignment(
        user_id(BENCH_USER),
        ROLES[0],
        AssignmentStatus::Eligible,
    ));

    Tenant {
        users,
        groups,
        role_assignments,
        ..Tenant::default()
    }
}

/// An application id, skewed: 30% of picks go to the 10 popular apps.
fn pick_app(r: &mut Lcg) -> String {
    if r.below(10) < 3 {
        app_id(r.below(POPULAR_APPS))
    } else {
        app_id(r.below(APPS))
    }
}

/// A group: half leaf teams, 35% departments, 15% divisions.
fn pick_group(r: &mut Lcg) -> String {
    match r.below(100) {
        0..=49 => leaf_id(r.below(LEAF_GROUPS)),
        50..=84 => department_id(r.below(DEPARTMENTS)),
        _ => division_id(r.below(DIVISIONS)),
    }
}

fn grant(r: &mut Lcg) -> Value {
    match r.below(10) {
        0..=3 => json!({"operator": "OR", "builtInControls": ["mfa"]}),
        4 | 5 => json!({
            "operator": "OR",
            "builtInControls": [],
            "authenticationStrength": {"id": PHISHING_RESISTANT}
        }),
        6 => json!({"operator": "OR", "builtInControls": ["block"]}),
        _ => json!({"operator": "OR", "builtInControls": ["compliantDevice", "mfa"]}),
    }
}

fn session_controls(r: &mut Lcg) -> Value {
    match r.below(10) {
        0 => json!({"signInFrequency": {
            "isEnabled": true,
            "authenticationType": "primaryAndSecondaryAuthentication",
            "frequencyInterval": "everyTime"
        }}),
        1 => json!({"signInFrequency": {
            "isEnabled": true,
            "type": "hours",
            "value": 8,
            "authenticationType": "primaryAndSecondaryAuthentication",
            "frequencyInterval": "timeBased"
        }}),
        _ => Value::Null,
    }
}

fn exclusions(r: &mut Lcg) -> Vec<String> {
    match r.below(10) {
        0..=2 => vec![break_glass_id()],
        3 => vec![break_glass_id(), leaf_id(r.below(LEAF_GROUPS))],
        _ => Vec::new(),
    }
}

/// Tenant-wide policies every real tenant has; they come first and always count towards N.
fn baseline() -> Vec<Value> {
    vec![
        json!({
            "displayName": "Baseline: require MFA for all users",
            "state": "enabled",
            "conditions": {
                "users": {"includeUsers": ["All"], "excludeGroups": [break_glass_id()]},
                "applications": {"includeApplications": ["All"]},
                "clientAppTypes": ["all"]
            },
            "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}
        }),
        json!({
            "displayName": "Baseline: block legacy authentication",
            "state": "enabled",
            "conditions": {
                "users": {"includeUsers": ["All"], "excludeGroups": [break_glass_id()]},
                "applications": {"includeApplications": ["All"]},
                "clientAppTypes": ["exchangeActiveSync", "other"]
            },
            "grantControls": {"operator": "OR", "builtInControls": ["block"]}
        }),
        json!({
            "displayName": "Baseline: phishing-resistant MFA for administrators",
            "state": "enabled",
            "conditions": {
                "users": {"includeRoles": ROLES, "excludeGroups": [break_glass_id()]},
                "applications": {"includeApplications": ["All"]},
                "clientAppTypes": ["all"]
            },
            "grantControls": {
                "operator": "OR",
                "builtInControls": [],
                "authenticationStrength": {"id": PHISHING_RESISTANT}
            }
        }),
        json!({
            "displayName": "Baseline: block high sign-in risk",
            "state": "enabledForReportingButNotEnforced",
            "conditions": {
                "users": {"includeUsers": ["All"]},
                "applications": {"includeApplications": ["All"]},
                "signInRiskLevels": ["high"],
                "clientAppTypes": ["all"]
            },
            "grantControls": {"operator": "OR", "builtInControls": ["block"]}
        }),
        json!({
            "displayName": "Baseline: Office 365 from a compliant device or with MFA",
            "state": "enabled",
            "conditions": {
                "users": {"includeGroups": [all_staff_id()]},
                "applications": {"includeApplications": ["Office365"]},
                "platforms": {"includePlatforms": ["all"], "excludePlatforms": ["linux"]},
                "clientAppTypes": ["all"]
            },
            "grantControls": {"operator": "OR", "builtInControls": ["compliantDevice", "mfa"]}
        }),
    ]
}

/// One generated policy.
fn generated(i: u64) -> Value {
    let mut r = Lcg::new(i);
    let state = match i % 10 {
        7 if (i / 10).is_multiple_of(2) => "disabled",
        7 => "enabledForReportingButNotEnforced",
        _ => "enabled",
    };
    let kind = r.below(100);
    let (name, users, applications) = match kind {
        // Specific apps for specific groups: the bulk of a large tenant.
        0..=71 => {
            let apps: Vec<String> = (0..1 + r.below(3)).map(|_| pick_app(&mut r)).collect();
            let groups: Vec<String> = (0..1 + r.below(2)).map(|_| pick_group(&mut r)).collect();
            (
                "apps for groups",
                json!({"includeGroups": groups, "excludeGroups": exclusions(&mut r)}),
                json!({"includeApplications": apps}),
            )
        }
        // Specific apps for all users.
        72..=76 => (
            "apps for all users",
            json!({"includeUsers": ["All"], "excludeGroups": exclusions(&mut r)}),
            json!({"includeApplications": [pick_app(&mut r)]}),
        ),
        // Authentication contexts (step-up), for groups or everyone.
        77..=86 => {
            let ctx = format!("c{}", 1 + r.below(CONTEXTS));
            let users = if r.below(2) == 0 {
                json!({"includeUsers": ["All"], "excludeGroups": exclusions(&mut r)})
            } else {
                json!({"includeGroups": [pick_group(&mut r)]})
            };
            (
                "authentication context",
                users,
                json!({"includeAuthenticationContextClassReferences": [ctx]}),
            )
        }
        // Roles, on all apps or on a specific one.
        87..=92 => {
            let roles: Vec<&str> = (0..1 + r.below(3))
                .map(|_| ROLES[r.below(ROLES.len() as u64) as usize])
                .collect();
            let apps = if r.below(3) == 0 {
                json!({"includeApplications": ["All"]})
            } else {
                json!({"includeApplications": [pick_app(&mut r)]})
            };
            (
                "roles",
                json!({"includeRoles": roles, "excludeGroups": [break_glass_id()]}),
                apps,
            )
        }
        // Registering security information.
        93..=95 => (
            "register security info",
            json!({"includeUsers": ["All"], "excludeGroups": exclusions(&mut r)}),
            json!({"includeUserActions": ["urn:user:registersecurityinfo"]}),
        ),
        // Named users on an app.
        _ => {
            let users: Vec<String> = (0..1 + r.below(5))
                .map(|_| user_id(r.below(USERS)))
                .collect();
            (
                "named users",
                json!({"includeUsers": users}),
                json!({"includeApplications": [pick_app(&mut r)]}),
            )
        }
    };
    let mut conditions = json!({
        "users": users,
        "applications": applications,
        "clientAppTypes": ["all"],
    });
    if r.below(5) == 0 {
        conditions["platforms"] = json!({"includePlatforms": ["all"], "excludePlatforms": ["iOS"]});
    }
    if r.below(20) == 0 {
        conditions["clientAppTypes"] = json!(["browser", "mobileAppsAndDesktopClients"]);
    }
    json!({
        "displayName": format!("Generated {i}: {name}"),
        "state": state,
        "conditions": conditions,
        "grantControls": grant(&mut r),
        "sessionControls": session_controls(&mut r),
    })
}

/// N policies: the baselines, then generated ones.
fn policies(n: usize) -> Vec<Value> {
    let mut out = baseline();
    out.truncate(n);
    let start = out.len() as u64;
    out.extend((start..n as u64).map(generated));
    for (i, p) in out.iter_mut().enumerate() {
        p["id"] = json!(policy_id(i as u64));
    }
    out
}

fn tenant(directory: &Tenant, n: usize) -> Tenant {
    let mut t = directory.clone();
    t.conditional_access_policies = policies(n)
        .into_iter()
        .map(|p| serde_json::from_value(p).unwrap())
        .collect();
    t
}

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

/// An application id no policy names.
const OTHER_APP: u64 = 9_999;
/// A user in nested groups (team 1086, department 108, division 10) who holds no role.
const QUIET_USER: u64 = 54_321;

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
        principal_id: principal.clone(),
        assignments: vec![RoleAssignment {
            id: Some("activation".into()),
            ..assignment(principal.clone(), ROLES[0], AssignmentStatus::Active)
        }],
    };
    let end = TenantChange::RoleAssignmentsOf {
        principal_id: principal,
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
