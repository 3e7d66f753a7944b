//! Bringing an organisation's tenant into the store: users, groups with their members, active
//! and eligible role assignments, Conditional Access policies, named locations, authentication
//! strengths and authentication contexts, as `tenant check` reads them from Graph exports, and
//! the roles' settings (role management policies) read beside them.
//!
//! Role settings are checked as `PATCH …/roleManagementPolicies/{id}/rules/{ruleId}` checks
//! them: each imported rule is applied to the role's current settings through the same patch
//! (its type, its properties, its values), and an authentication-context rule must name a
//! context the tenant defines after the import. A role's settings count as changed when its
//! rules do; who and when are the import's.
//!
//! An import is planned first ([`Core::plan_import`]): each object is compared with the stored
//! one of the same id (in any letter case; the stored spelling is kept, so that a re-import
//! updates rather than duplicates) and counted as created, changed or unchanged; stored objects
//! the import does not name are left as they are. The plan also runs the lockout guard: if after
//! the import no user eligible for Global Administrator could activate it, while before some
//! could, [`Core::import_tenant`] refuses unless told to override, and says so in the audit log.
//! The write is one transaction with its audit entry, and only if the Conditional Access
//! configuration did not change since the plan was made.

use crate::conditional_access::{AdminLockout, LockoutGuard};
use crate::posture::PostureError;
use crate::Core;
use chrono::{DateTime, Utc};
use pim::{Identity, RoleManagementPolicy, DIRECTORY_ROLE};
use policy::directory::{RoleAssignment, GLOBAL_ADMINISTRATOR};
use policy::ids::RoleId;
use policy::{Tenant, TenantChange};
use serde::Serialize;
use std::collections::HashMap;
use store::{AuditEntry, StoreError};

/// One role's settings to import.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleSettingsImport {
    /// The role's template id.
    pub role_definition_id: String,
    /// Its settings as exported (Graph `unifiedRoleManagementPolicy` with its rules; the id is
    /// the exporter's and is not kept).
    pub policy: RoleManagementPolicy,
}

/// What an import brings: the tenant, and roles' settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Import {
    /// Users, groups, role assignments and the Conditional Access configuration.
    pub tenant: Tenant,
    /// Roles' settings, one per role.
    pub role_settings: Vec<RoleSettingsImport>,
}

impl From<Tenant> for Import {
    fn from(tenant: Tenant) -> Self {
        Import {
            tenant,
            role_settings: Vec::new(),
        }
    }
}

/// What an import does to one kind of object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KindChanges {
    /// The kind, in Graph's words (`users`, `conditionalAccessPolicies`, …).
    pub kind: &'static str,
    /// The objects the import adds, each named for people (`name (id)`).
    pub created: Vec<String>,
    /// The stored objects it changes.
    pub changed: Vec<String>,
    /// How many it names that are stored exactly so already.
    pub unchanged: usize,
    /// How many stored objects it does not name: left as they are.
    pub left: usize,
}

impl KindChanges {
    /// One line for people: `users: 2 created, 1 changed, 10 unchanged, 3 left as they are`.
    pub fn summary(&self) -> String {
        format!(
            "{}: {} created, {} changed, {} unchanged, {} left as they are",
            self.kind,
            self.created.len(),
            self.changed.len(),
            self.unchanged,
            self.left
        )
    }
}

/// An import, checked against the store as it stood when planned.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    /// What it does, kind by kind.
    pub changes: Vec<KindChanges>,
    /// The lockout it would cause, if any.
    pub lockout: Option<AdminLockout>,
    /// The objects to write, in the stored form and with the stored spelling of each id.
    tenant: Tenant,
    /// The roles' settings to write, each with the version it was checked against.
    role_policies: Vec<(RoleManagementPolicy, u64)>,
    generation: u64,
}

impl ImportPlan {
    /// Whether it writes nothing (every object it names is stored exactly so).
    pub fn changes_nothing(&self) -> bool {
        self.changes
            .iter()
            .all(|k| k.created.is_empty() && k.changed.is_empty())
    }
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    /// What it changed, kind by kind.
    pub changes: Vec<KindChanges>,
    /// The lockout it caused because the guard was overridden, if any.
    pub forced: Option<AdminLockout>,
}

/// Why an import did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// It would lock every eligible Global Administrator out of activation.
    #[error(
        "{0} Have them register a method that satisfies it first (see portcullis preflight), \
         or import again with --force."
    )]
    Lockout(AdminLockout),
    /// The Conditional Access configuration kept changing between the plan and the write.
    #[error("The tenant kept changing while the import was checked; run it again.")]
    ConcurrentChange,
    /// The lockout guard could not read what it checks.
    #[error(transparent)]
    Posture(#[from] PostureError),
    /// A role's settings are refused, as `PATCH …/rules/{ruleId}` would refuse them.
    #[error("The settings of role {role} are refused: {reason}")]
    RoleSettings {
        /// The role, by name and id.
        role: String,
        /// Why, naming the rule or the context.
        reason: String,
    },
    /// The store failed, or refused an object (nothing was written).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How often an import is planned again when the configuration moved on before its write.
const ATTEMPTS: usize = 3;

impl Core {
    /// Plans importing `imported`: what it would create, change and leave, and whether the
    /// lockout guard objects. Writes nothing.
    pub async fn plan_import(&self, imported: &Import) -> Result<ImportPlan, ImportError> {
        let now = self.now();
        let generation = self.store.config_generation().await?;
        let before = self.store.load_tenant(now).await?;
        let mut tenant = store::stored_form(&imported.tenant);
        let mut changes = vec![
            compare(&before.users, &mut tenant.users),
            compare(&before.groups, &mut tenant.groups),
            compare(&before.role_assignments, &mut tenant.role_assignments),
            compare(
                &before.conditional_access_policies,
                &mut tenant.conditional_access_policies,
            ),
            compare(&before.named_locations, &mut tenant.named_locations),
            compare(
                &before.authentication_strength_policies,
                &mut tenant.authentication_strength_policies,
            ),
            compare(
                &before.authentication_context_class_references,
                &mut tenant.authentication_context_class_references,
            ),
        ];
        let after = merged(&before, &tenant);
        let (role_changes, role_policies) = self
            .plan_role_settings(&imported.role_settings, &after, now)
            .await?;
        changes.push(role_changes);
        let global_administrator = role_policies
            .iter()
            .map(|(p, _)| p)
            .find(|p| role_of(p).is_some_and(|r| r.eq_ignore_ascii_case(GLOBAL_ADMINISTRATOR)));
        let lockout = self
            .admin_lockout_with(&before, &after, global_administrator, now)
            .await?;
        Ok(ImportPlan {
            changes,
            lockout,
            tenant,
            role_policies,
            generation,
        })
    }

    /// The roles' settings an import writes, each checked as a rule PATCH is and against the
    /// contexts `after` defines, with the version it was read at; and what it changes.
    async fn plan_role_settings(
        &self,
        imported: &[RoleSettingsImport],
        after: &Tenant,
        now: DateTime<Utc>,
    ) -> Result<(KindChanges, Vec<(RoleManagementPolicy, u64)>), ImportError> {
        let mut changes = KindChanges {
            kind: "roleManagementPolicies",
            ..KindChanges::default()
        };
        let definitions = self.store.list_role_definitions().await?;
        let mut stored: Vec<String> = self
            .store
            .list_role_policies()
            .await?
            .into_iter()
            .map(|p| p.role_definition_id)
            .collect();
        let mut writes = Vec::new();
        for item in imported {
            let wanted = RoleId::trusted(item.role_definition_id.as_str());
            // The store's spelling of the role, which keys its settings.
            let definition = definitions.iter().find(|d| wanted.is(&d.id));
            let role = definition.map_or(item.role_definition_id.as_str(), |d| d.id.as_str());
            let name = label(definition.map(|d| d.display_name.as_str()), role);
            let refuse = |reason: String| ImportError::RoleSettings {
                role: name.clone(),
                reason,
            };
            let current = self.role_settings(role).await?;
            let mut policy =
                imported_settings(&current.policy, &item.policy, now).map_err(refuse)?;
            if let Some(context) = policy
                .authentication_context()
                .and_then(|c| c.required_context().ok().flatten())
            {
                let defined = after
                    .authentication_context_class_references
                    .iter()
                    .any(|c| c.id.eq_ignore_ascii_case(&context.to_string()));
                if !defined {
                    return Err(refuse(format!(
                        "rule 'AuthenticationContext_EndUser_Assignment' requires \
                         authentication context '{context}', which does not exist: import it \
                         with them or create it first \
                         (POST /v1.0/identity/conditionalAccess/authenticationContextClassReferences)"
                    )));
                }
            }
            stored.retain(|s| !wanted.is(s));
            let same = serde_json::to_value(&policy.rules).ok()
                == serde_json::to_value(&current.policy.rules).ok();
            if same {
                changes.unchanged += 1;
                continue;
            }
            if current.version == 0 {
                changes.created.push(name);
            } else {
                changes.changed.push(name);
            }
            policy.id = format!("{DIRECTORY_ROLE}_{role}");
            writes.push((policy, current.version));
        }
        changes.left = stored.len();
        Ok((changes, writes))
    }

    /// Imports `imported`, read from `source` (a path), for `by` (who runs it): planned,
    /// guarded against a lockout unless `guard` overrides it, and written with its audit entry
    /// in one transaction. A refusal is audited too. Planned again, a few times, when the
    /// configuration changed before the write.
    pub async fn import_tenant(
        &self,
        imported: &Import,
        source: &str,
        by: &str,
        guard: LockoutGuard,
    ) -> Result<ImportOutcome, ImportError> {
        let who = Identity {
            id: None,
            display_name: Some(format!("portcullis tenant import ({by})")),
            extra: Default::default(),
        };
        for _ in 0..ATTEMPTS {
            let mut plan = self.plan_import(imported).await?;
            let now = self.now();
            for (policy, _) in &mut plan.role_policies {
                policy.last_modified_by = Some(who.clone());
                policy.last_modified_date_time = Some(now);
            }
            let entry = audit_entry(source, by, &plan.changes, now);
            let entry = self
                .lockout_verdict(plan.lockout.clone(), guard, entry, ImportError::Lockout)
                .await?;
            match self
                .store
                .import_tenant_checked(&plan.tenant, &plan.role_policies, plan.generation, &entry)
                .await
            {
                Ok(true) => {
                    self.tenant_changed();
                    return Ok(ImportOutcome {
                        changes: plan.changes,
                        forced: plan.lockout,
                    });
                }
                // The configuration, or a role's settings, changed since the plan: plan again.
                Ok(false)
                | Err(StoreError::Conflict {
                    what: "role management policy",
                    ..
                }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ImportError::ConcurrentChange)
    }
}

/// An object an import compares by id.
trait Imported: Serialize {
    /// The kind, in Graph's words.
    const KIND: &'static str;
    /// Its id as spelled.
    fn id(&self) -> &str;
    /// Sets the spelling of its id.
    fn spell_id(&mut self, id: String);
    /// Its name for people.
    fn name(&self) -> String {
        self.id().to_string()
    }
}

/// `name (id)`, or the id alone.
/// `current` settings with each rule of `imported` applied as a rule PATCH applies it (its type,
/// its properties, its values); why not, naming the rule.
pub(crate) fn imported_settings(
    current: &RoleManagementPolicy,
    imported: &RoleManagementPolicy,
    now: DateTime<Utc>,
) -> Result<RoleManagementPolicy, String> {
    let mut policy = current.clone();
    for rule in &imported.rules {
        let body = serde_json::to_value(rule)
            .map_err(|e| format!("rule '{}' cannot be read: {e}", rule.id()))?;
        policy
            .patch_rule(rule.id(), &body, now, None)
            .map_err(|e| format!("rule '{}': {e}", rule.id()))?;
    }
    Ok(policy)
}

fn label(name: Option<&str>, id: &str) -> String {
    match name {
        Some(n) if !n.is_empty() && n != id => format!("{n} ({id})"),
        _ => id.to_string(),
    }
}

macro_rules! imported {
    ($t:ty, $kind:literal, |$it:ident| $name:expr) => {
        impl Imported for $t {
            const KIND: &'static str = $kind;
            fn id(&self) -> &str {
                &self.id
            }
            fn spell_id(&mut self, id: String) {
                self.id = id;
            }
            fn name(&self) -> String {
                let $it = self;
                label($name, &self.id)
            }
        }
    };
}

imported!(policy::directory::User, "users", |u| u
    .user_principal_name
    .as_deref());
imported!(policy::directory::Group, "groups", |g| g
    .display_name
    .as_deref());
imported!(
    policy::conditional_access::ConditionalAccessPolicy,
    "conditionalAccessPolicies",
    |p| Some(p.display_name.as_str())
);
imported!(policy::location::NamedLocation, "namedLocations", |l| l
    .display_name
    .as_deref());
imported!(
    policy::strength::AuthenticationStrengthPolicy,
    "authenticationStrengthPolicies",
    |s| s.display_name.as_deref()
);
imported!(
    policy::context::AuthenticationContextClassReference,
    "authenticationContextClassReferences",
    |c| c.display_name.as_deref()
);

impl Imported for RoleAssignment {
    const KIND: &'static str = "roleAssignments";
    fn id(&self) -> &str {
        // `stored_form` gave every assignment an id.
        self.id.as_deref().unwrap_or_default()
    }
    fn spell_id(&mut self, id: String) {
        self.id = Some(id);
    }
    fn name(&self) -> String {
        format!(
            "{} holds {} ({})",
            self.principal_id,
            self.role_definition_id,
            self.status.as_str()
        )
    }
}

/// Compares the imported objects of one kind with the stored ones by id, without regard to
/// case, giving each imported object the stored spelling of its id.
fn compare<T: Imported>(before: &[T], imported: &mut [T]) -> KindChanges {
    let mut stored: HashMap<String, usize> = before
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id().to_ascii_lowercase(), i))
        .collect();
    let mut changes = KindChanges {
        kind: T::KIND,
        ..KindChanges::default()
    };
    for item in imported.iter_mut() {
        match stored.remove(&item.id().to_ascii_lowercase()) {
            None => changes.created.push(item.name()),
            Some(i) => {
                item.spell_id(before[i].id().to_string());
                if serde_json::to_value(&*item).ok() == serde_json::to_value(&before[i]).ok() {
                    changes.unchanged += 1;
                } else {
                    changes.changed.push(item.name());
                }
            }
        }
    }
    changes.left = stored.len();
    changes
}

/// The role whose settings `policy` is (`DirectoryRole_{roleDefinitionId}`).
fn role_of(policy: &RoleManagementPolicy) -> Option<&str> {
    policy
        .id
        .strip_prefix(DIRECTORY_ROLE)
        .and_then(|rest| rest.strip_prefix('_'))
}

/// The stored tenant with the import's objects written over it, as the guard must judge it.
fn merged(before: &Tenant, imported: &Tenant) -> Tenant {
    let mut after = before.clone();
    let changes = imported
        .users
        .iter()
        .cloned()
        .map(TenantChange::UserUpserted)
        .chain(
            imported
                .groups
                .iter()
                .cloned()
                .map(TenantChange::GroupUpserted),
        )
        .chain(
            imported
                .conditional_access_policies
                .iter()
                .cloned()
                .map(|p| TenantChange::PolicyUpserted(Box::new(p))),
        )
        .chain(
            imported
                .named_locations
                .iter()
                .cloned()
                .map(TenantChange::NamedLocationUpserted),
        )
        .chain(
            imported
                .authentication_strength_policies
                .iter()
                .cloned()
                .map(TenantChange::StrengthUpserted),
        )
        .chain(
            imported
                .authentication_context_class_references
                .iter()
                .cloned()
                .map(TenantChange::ContextUpserted),
        );
    for change in changes {
        change.apply_to(&mut after);
    }
    for a in &imported.role_assignments {
        match after.role_assignments.iter_mut().find(|b| b.id == a.id) {
            Some(b) => *b = a.clone(),
            None => after.role_assignments.push(a.clone()),
        }
    }
    after
}

/// The audit entry of an import: who ran it and what it changed, kind by kind.
fn audit_entry(source: &str, by: &str, changes: &[KindChanges], now: DateTime<Utc>) -> AuditEntry {
    let mut entry = AuditEntry::new("DirectoryManagement", "Import tenant", "Import", now)
        .by_app(&format!("portcullis tenant import ({by})"))
        .target("Tenant", source, None);
    for k in changes {
        entry = entry.detail(
            k.kind,
            &format!(
                "{} created, {} changed, {} unchanged",
                k.created.len(),
                k.changed.len(),
                k.unchanged
            ),
        );
    }
    entry
}
