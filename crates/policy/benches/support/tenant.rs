//! The synthetic tenant of the Conditional Access benchmarks, shared by
//! `crates/policy/benches/evaluate.rs` (the bare engine) and, through `#[path]`,
//! `crates/server/benches/signin_decision.rs` and `crates/server/examples/bench_signin.rs` (the
//! service's sign-in decision and sign-ins over HTTP). See BENCHMARKS.md.
//!
//! Built in code, deterministically (a 64-bit LCG seeded by the policy number): 100,000 users in
//! 2,000 leaf groups of 50, nested under 200 departments, 20 divisions and one "All staff" group;
//! active and eligible role assignments; and N Conditional Access policies, the 5 baselines first,
//! so that the policies of a smaller N are a prefix of those of a larger one.
#![allow(dead_code)]

use policy::directory::{AssignmentStatus, Group, MemberRef, RoleAssignment, User};
use policy::{Extra, Tenant};
use serde_json::{json, Value};

pub(crate) const USERS: u64 = 100_000;
pub(crate) const LEAF_GROUPS: u64 = 2_000; // 50 users each
pub(crate) const DEPARTMENTS: u64 = 200; // 10 leaf groups each
pub(crate) const DIVISIONS: u64 = 20; // 10 departments each
pub(crate) const APPS: u64 = 500;
pub(crate) const POPULAR_APPS: u64 = 10;
pub(crate) const CONTEXTS: u64 = 25;

/// The signing-in user: leaf group 246, department 24, division 2, all staff.
pub(crate) const BENCH_USER: u64 = 12_345;
/// The app the bench user signs into (one of the popular ones).
pub(crate) const BENCH_APP: u64 = 3;

/// Role template ids (Global Administrator, Privileged Role Administrator, Security, Exchange,
/// SharePoint, Helpdesk, User, Conditional Access, Application, Billing administrators).
pub(crate) const ROLES: [&str; 10] = [
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
pub(crate) const HELPDESK: usize = 5;
pub(crate) const PHISHING_RESISTANT: &str = "00000000-0000-0000-0000-000000000004";

/// A GUID-shaped id, unique per `(kind, n)`.
pub(crate) fn guid(kind: u32, n: u64) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012x}")
}

pub(crate) fn user_id(n: u64) -> String {
    guid(0x0001, n)
}
pub(crate) fn leaf_id(n: u64) -> String {
    guid(0x0002, n)
}
pub(crate) fn department_id(n: u64) -> String {
    guid(0x0003, n)
}
pub(crate) fn division_id(n: u64) -> String {
    guid(0x0004, n)
}
pub(crate) fn all_staff_id() -> String {
    guid(0x0005, 0)
}
pub(crate) fn break_glass_id() -> String {
    guid(0x0006, 0)
}
pub(crate) fn app_id(n: u64) -> String {
    guid(0x000a, n)
}
pub(crate) fn policy_id(n: u64) -> String {
    guid(0x00ca, n)
}

/// A small deterministic stream of pseudo-random numbers (64-bit LCG, Knuth's MMIX constants).
pub(crate) struct Lcg(u64);

impl Lcg {
    pub(crate) fn new(seed: u64) -> Self {
        let mut l = Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03);
        l.next();
        l
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub(crate) fn group(id: String, name: String, members: Vec<String>) -> Group {
    Group {
        id,
        display_name: Some(name),
        members: members.into_iter().map(MemberRef::Id).collect(),
        ..Group::default()
    }
}

pub(crate) fn assignment(
    principal: String,
    role: &str,
    status: AssignmentStatus,
) -> RoleAssignment {
    RoleAssignment {
        id: None,
        principal_id: policy::ids::PrincipalId::trusted(principal),
        role_definition_id: policy::ids::RoleId::trusted(role),
        directory_scope_id: Some("/".into()),
        status,
        extra: Extra::new(),
    }
}

/// Users, nested groups and role assignments (no policies).
pub(crate) fn directory() -> Tenant {
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
pub(crate) fn pick_app(r: &mut Lcg) -> String {
    if r.below(10) < 3 {
        app_id(r.below(POPULAR_APPS))
    } else {
        app_id(r.below(APPS))
    }
}

/// A group: half leaf teams, 35% departments, 15% divisions.
pub(crate) fn pick_group(r: &mut Lcg) -> String {
    match r.below(100) {
        0..=49 => leaf_id(r.below(LEAF_GROUPS)),
        50..=84 => department_id(r.below(DEPARTMENTS)),
        _ => division_id(r.below(DIVISIONS)),
    }
}

pub(crate) fn grant(r: &mut Lcg) -> Value {
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

pub(crate) fn session_controls(r: &mut Lcg) -> Value {
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

pub(crate) fn exclusions(r: &mut Lcg) -> Vec<String> {
    match r.below(10) {
        0..=2 => vec![break_glass_id()],
        3 => vec![break_glass_id(), leaf_id(r.below(LEAF_GROUPS))],
        _ => Vec::new(),
    }
}

/// Tenant-wide policies every real tenant has; they come first and always count towards N.
pub(crate) fn baseline() -> Vec<Value> {
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
pub(crate) fn generated(i: u64) -> Value {
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
pub(crate) fn policies(n: usize) -> Vec<Value> {
    let mut out = baseline();
    out.truncate(n);
    let start = out.len() as u64;
    out.extend((start..n as u64).map(generated));
    for (i, p) in out.iter_mut().enumerate() {
        p["id"] = json!(policy_id(i as u64));
    }
    out
}

pub(crate) fn tenant(directory: &Tenant, n: usize) -> Tenant {
    let mut t = directory.clone();
    t.conditional_access_policies = policies(n)
        .into_iter()
        .map(|p| serde_json::from_value(p).unwrap())
        .collect();
    t
}

/// An application id no policy names.
pub(crate) const OTHER_APP: u64 = 9_999;
/// A user in nested groups (team 1086, department 108, division 10) who holds no role.
pub(crate) const QUIET_USER: u64 = 54_321;
