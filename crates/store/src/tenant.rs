//! Conditional Access configuration as Graph JSON documents, and the whole tenant in and out, so
//! that the `policy` engine can be fed from the database.

use crate::audit::{append_in, AuditEntry};
use crate::changes::{record_change, ChangeKind};
use crate::directory::{assignment_from_row, check_upn, extra_json, status_text, upn_key};
use crate::error::on_write;
use crate::sql::{flag, ms, to_json, RowExt};
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use pim::RoleManagementPolicy;
use policy::directory::{Group, GuestOrExternalUserType, MemberRef, RoleAssignment, User};
use policy::Tenant;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use std::collections::{BTreeMap, HashMap};

/// The kinds of Conditional Access document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigKind {
    /// `conditionalAccessPolicy`.
    Policy,
    /// `namedLocation`.
    NamedLocation,
    /// `authenticationStrengthPolicy` (custom ones; the built-ins are always present).
    AuthenticationStrength,
    /// `authenticationContextClassReference`.
    AuthenticationContext,
}

impl ConfigKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigKind::Policy => "policy",
            ConfigKind::NamedLocation => "namedLocation",
            ConfigKind::AuthenticationStrength => "authenticationStrength",
            ConfigKind::AuthenticationContext => "authenticationContext",
        }
    }
}

/// One principal's role assignments in force, and when they next change by time alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrincipalRoles {
    /// Eligible and active, in force at the time asked about, by id.
    pub assignments: Vec<RoleAssignment>,
    /// When one of its assignments next starts or ends, if ever.
    pub next_change: Option<DateTime<Utc>>,
}

impl Store {
    /// Stores a Conditional Access document under its id, replacing any earlier version.
    pub async fn put_config<T: Serialize>(
        &self,
        kind: ConfigKind,
        id: &str,
        document: &T,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let json = to_json(kind.as_str(), document)?;
        let mut tx = self.begin().await?;
        put_config(&mut *tx, kind, id, &json, at).await?;
        bump_generation(&mut tx).await?;
        record_change(&mut tx, ChangeKind::Config(kind), id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The generation of the Conditional Access configuration: it grows by one with every
    /// change. Read it before the configuration a check reads, and hand it to
    /// [`Store::write_config_checked`].
    pub async fn config_generation(&self) -> Result<u64, StoreError> {
        let value = sqlx::query("SELECT value FROM config_generation WHERE id = 1")
            .fetch_one(self.pool())
            .await?
            .int("value")?;
        u64::try_from(value).map_err(|_| StoreError::corrupt("config generation", value))
    }

    /// Stores (`Some`) or deletes (`None`) one Conditional Access document with its audit entry,
    /// in one transaction, only if the configuration is still at `generation`: `false`, and
    /// nothing changed, if another change landed since. Deleting a document that does not exist
    /// is [`StoreError::NotFound`].
    pub async fn write_config_checked<T: Serialize>(
        &self,
        kind: ConfigKind,
        id: &str,
        document: Option<&T>,
        generation: u64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let json = document.map(|d| to_json(kind.as_str(), d)).transpose()?;
        let mut tx = self.begin().await?;
        if !advance_generation(&mut tx, generation).await? {
            return Ok(false);
        }
        match json {
            Some(json) => put_config(&mut *tx, kind, id, &json, audit.activity_date_time).await?,
            None => {
                let done = sqlx::query("DELETE FROM ca_documents WHERE kind = $1 AND id = $2")
                    .bind(kind.as_str())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::not_found(kind.as_str(), id));
                }
            }
        }
        record_change(&mut tx, ChangeKind::Config(kind), id).await?;
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The Conditional Access document of this kind and id, the id in any ASCII letter case (as
    /// Graph compares ids; writes keep the spelling first stored).
    pub async fn get_config<T: DeserializeOwned>(
        &self,
        kind: ConfigKind,
        id: &str,
    ) -> Result<T, StoreError> {
        // An exact match first (the index), then one in another case.
        let row = sqlx::query(
            "SELECT document FROM ca_documents WHERE kind = $1 AND (id = $2 OR LOWER(id) = LOWER($2)) \
             ORDER BY CASE WHEN id = $2 THEN 0 ELSE 1 END LIMIT 1",
        )
            .bind(kind.as_str())
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found(kind.as_str(), id))?;
        row.json("document")
    }

    /// [`Store::get_config`], with a document that does not exist as `None`.
    pub async fn find_config<T: DeserializeOwned>(
        &self,
        kind: ConfigKind,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.get_config(kind, id).await {
            Ok(document) => Ok(Some(document)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every Conditional Access document of a kind, by id.
    pub async fn list_config<T: DeserializeOwned>(
        &self,
        kind: ConfigKind,
    ) -> Result<Vec<T>, StoreError> {
        sqlx::query("SELECT document FROM ca_documents WHERE kind = $1 ORDER BY id")
            .bind(kind.as_str())
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| row.json("document"))
            .collect()
    }

    /// Deletes a Conditional Access document. (Whether it may be deleted, e.g. a context a policy
    /// still names, is the caller's rule.)
    pub async fn delete_config(&self, kind: ConfigKind, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM ca_documents WHERE kind = $1 AND id = $2")
            .bind(kind.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(kind.as_str(), id));
        }
        bump_generation(&mut tx).await?;
        record_change(&mut tx, ChangeKind::Config(kind), id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes a whole tenant in one transaction, inserting or replacing every object by id:
    /// either all of it is stored, or (on any error) none of it.
    ///
    /// A group's member list replaces the stored one. A role assignment without an id gets one
    /// derived from its principal, role, scope and status, so that importing twice does not
    /// duplicate it; a role template the store does not know is added as a custom definition
    /// named by its id. Imported users without a display name are shown by their sign-in name
    /// (see [`stored_form`]).
    pub async fn import_tenant(
        &self,
        tenant: &Tenant,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        bump_generation(&mut tx).await?;
        import_in(&mut tx, tenant, at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Store::import_tenant`], with roles' settings and `audit` written in the same
    /// transaction, only if the Conditional Access configuration is still at `generation` (what
    /// the import was checked against); `false`, writing nothing, if it moved on meanwhile.
    ///
    /// Each of `role_policies` is written as [`Store::put_role_policy`] writes it, naming the
    /// version it was checked against: a [`StoreError::Conflict`] (nothing written) if a role's
    /// settings changed meanwhile. A role the store does not know is added as a custom
    /// definition named by its id, as for role assignments.
    pub async fn import_tenant_checked(
        &self,
        tenant: &Tenant,
        role_policies: &[(RoleManagementPolicy, u64)],
        generation: u64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        if !advance_generation(&mut tx, generation).await? {
            return Ok(false);
        }
        import_in(&mut tx, tenant, audit.activity_date_time).await?;
        for (policy, version) in role_policies {
            if let Some(role) = policy.id.strip_prefix(&format!("{}_", pim::DIRECTORY_ROLE)) {
                add_role_definition(&mut tx, role).await?;
            }
            crate::pim::put_policy_in(&mut tx, policy, *version).await?;
        }
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The role assignments of one principal in force at `at` (eligible and active, as
    /// [`Store::load_tenant`] reads them), and when its assignments in force next change by time
    /// alone (one starts or ends): what following a role change needs, without the others.
    pub async fn role_assignments_of(
        &self,
        principal_id: &str,
        at: DateTime<Utc>,
    ) -> Result<PrincipalRoles, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            assignment_columns!(),
            ", extra_json FROM role_assignments \
             WHERE principal_id = $1 AND (end_at IS NULL OR end_at > $2) ORDER BY id"
        ))
        .bind(principal_id)
        .bind(ms(at))
        .fetch_all(self.pool())
        .await?;
        let mut roles = PrincipalRoles::default();
        for row in &rows {
            let a = assignment_from_row(row)?;
            roles.next_change = earliest(roles.next_change, next_change(&a, at));
            if a.in_force_at(at) {
                roles.assignments.push(policy_assignment(row, a)?);
            }
        }
        Ok(roles)
    }

    /// Each principal whose assignments in force change after `at` by time alone (one starts or
    /// ends), with the first such time: when an engine built at `at` must read them again.
    pub async fn role_schedule_changes(
        &self,
        at: DateTime<Utc>,
    ) -> Result<BTreeMap<String, DateTime<Utc>>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            assignment_columns!(),
            " FROM role_assignments WHERE start_at > $1 OR end_at > $1"
        ))
        .bind(ms(at))
        .fetch_all(self.pool())
        .await?;
        let mut out: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        for row in &rows {
            let a = assignment_from_row(row)?;
            if let Some(t) = next_change(&a, at) {
                let first = out.entry(a.principal_id.to_string()).or_insert(t);
                *first = (*first).min(t);
            }
        }
        Ok(out)
    }

    /// A user as Conditional Access sees it (as [`Store::load_tenant`] reads it), or `None`.
    pub async fn tenant_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        sqlx::query(
            "SELECT id, user_principal_name, display_name, account_enabled, user_type, \
             guest_or_external_user_type, extra_json FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(policy_user)
        .transpose()
    }

    /// The tenant as Conditional Access sees it at `at`: every user and group, the role
    /// assignments in force at `at`, and the Conditional Access documents.
    pub async fn load_tenant(&self, at: DateTime<Utc>) -> Result<Tenant, StoreError> {
        // One transaction, so that the parts are read from one consistent state.
        let mut tx = self.begin_read().await?;
        let users = sqlx::query(
            "SELECT id, user_principal_name, display_name, account_enabled, user_type, \
             guest_or_external_user_type, extra_json FROM users ORDER BY upn_key",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(policy_user)
        .collect::<Result<Vec<_>, _>>()?;

        let mut members: BTreeMap<String, Vec<MemberRef>> = BTreeMap::new();
        for row in sqlx::query("SELECT group_id, member_id FROM group_members ORDER BY member_id")
            .fetch_all(&mut *tx)
            .await?
        {
            members
                .entry(row.text("group_id")?)
                .or_default()
                .push(MemberRef::Id(row.text("member_id")?));
        }
        // In byte order whatever the database's collation, as `stored_form` orders them.
        for list in members.values_mut() {
            list.sort_by(|a, b| a.id().cmp(b.id()));
        }
        let groups = sqlx::query(
            "SELECT id, display_name, is_assignable_to_role, extra_json FROM directory_groups \
             ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| {
            let id = row.text("id")?;
            let mut extra: policy::Extra = row.json("extra_json")?;
            let assignable = row.flag("is_assignable_to_role")?;
            Ok(Group {
                display_name: Some(row.text("display_name")?),
                is_assignable_to_role: unset_assignable(assignable, &mut extra),
                members: members.remove(&id).unwrap_or_default(),
                extra,
                id,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;

        let role_assignments = role_assignments_in_force(&mut *tx, at).await?;

        let tenant = Tenant {
            users,
            groups,
            role_assignments,
            conditional_access_policies: documents(&mut tx, ConfigKind::Policy).await?,
            named_locations: documents(&mut tx, ConfigKind::NamedLocation).await?,
            authentication_strength_policies: documents(
                &mut tx,
                ConfigKind::AuthenticationStrength,
            )
            .await?,
            authentication_context_class_references: documents(
                &mut tx,
                ConfigKind::AuthenticationContext,
            )
            .await?,
        };
        tx.commit().await?;
        Ok(tenant)
    }
}

/// The key under which a group's extra fields keep an exported `"isAssignableToRole": null`
/// (the stored flag says `false`, and cannot say "not set").
const ASSIGNABLE: &str = "isAssignableToRole";

/// A stored group's `isAssignableToRole`: `None` where it was imported unset (the flag is
/// `false`, and its extra fields keep the exported null, taken out of them here).
fn unset_assignable(flag: bool, extra: &mut policy::Extra) -> Option<bool> {
    match extra.remove(ASSIGNABLE) {
        Some(serde_json::Value::Null) if !flag => None,
        _ => Some(flag),
    }
}

fn policy_user(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.text("id")?,
        user_principal_name: Some(row.text("user_principal_name")?),
        display_name: Some(row.text("display_name")?),
        account_enabled: Some(row.flag("account_enabled")?),
        user_type: Some(row.text("user_type")?),
        guest_or_external_user_type: row
            .opt_text("guest_or_external_user_type")?
            .map(|t| GuestOrExternalUserType::parse(&t)),
        extra: row.json("extra_json")?,
    })
}

async fn documents<T: DeserializeOwned>(
    tx: &mut Transaction<'static, Any>,
    kind: ConfigKind,
) -> Result<Vec<T>, StoreError> {
    sqlx::query("SELECT document FROM ca_documents WHERE kind = $1 ORDER BY id")
        .bind(kind.as_str())
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|row| row.json("document"))
        .collect()
}

async fn put_config_json<T: Serialize>(
    tx: &mut Transaction<'static, Any>,
    kind: ConfigKind,
    id: &str,
    document: &T,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    put_config(&mut **tx, kind, id, &to_json(kind.as_str(), document)?, at).await
}

/// The role assignments in force at `at`, as the tenant holds them.
async fn role_assignments_in_force<'e, E>(
    executor: E,
    at: DateTime<Utc>,
) -> Result<Vec<RoleAssignment>, StoreError>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    sqlx::query(concat!(
        "SELECT ",
        assignment_columns!(),
        ", extra_json FROM role_assignments \
         WHERE start_at <= $1 AND (end_at IS NULL OR end_at > $1) ORDER BY id"
    ))
    .bind(ms(at))
    .fetch_all(executor)
    .await?
    .iter()
    .map(|row| policy_assignment(row, assignment_from_row(row)?))
    .collect()
}

/// A stored assignment as Conditional Access sees it (`row` carries its `extra_json`).
fn policy_assignment(
    row: &AnyRow,
    a: crate::directory::RoleAssignment,
) -> Result<RoleAssignment, StoreError> {
    Ok(RoleAssignment {
        id: Some(a.id),
        principal_id: a.principal_id,
        role_definition_id: a.role_definition_id,
        directory_scope_id: Some(a.directory_scope_id),
        status: a.status,
        extra: row.json("extra_json")?,
    })
}

/// When the assignment next comes into force or leaves it after `at`, if ever.
fn next_change(a: &crate::directory::RoleAssignment, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if a.start_at > at {
        Some(a.start_at)
    } else {
        a.end_at.filter(|end| *end > at)
    }
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Raises the configuration's generation by one (see [`Store::config_generation`]).
/// Moves the configuration's generation on by one if it is still `expected`; `false` (nothing
/// moved) if another write got there first.
async fn advance_generation(
    tx: &mut Transaction<'static, Any>,
    expected: u64,
) -> Result<bool, StoreError> {
    let expected =
        i64::try_from(expected).map_err(|_| StoreError::corrupt("config generation", expected))?;
    let moved =
        sqlx::query("UPDATE config_generation SET value = value + 1 WHERE id = 1 AND value = $1")
            .bind(expected)
            .execute(&mut **tx)
            .await?;
    Ok(moved.rows_affected() > 0)
}

async fn bump_generation(tx: &mut Transaction<'static, Any>) -> Result<(), StoreError> {
    sqlx::query("UPDATE config_generation SET value = value + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Upserts one document through any executor (the pool, or an import's transaction).
async fn put_config<'e, E>(
    executor: E,
    kind: ConfigKind,
    id: &str,
    json: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    if id.trim().is_empty() {
        return Err(StoreError::Invalid {
            what: kind.as_str(),
            detail: "the document has no id".into(),
        });
    }
    sqlx::query(
        "INSERT INTO ca_documents (kind, id, document, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (kind, id) DO UPDATE SET document = excluded.document, \
         updated_at = excluded.updated_at",
    )
    .bind(kind.as_str())
    .bind(id)
    .bind(json)
    .bind(ms(at))
    .execute(executor)
    .await
    .map_err(on_write(kind.as_str()))?;
    Ok(())
}

/// Writes every object of `tenant` in `tx` (see [`Store::import_tenant`]).
async fn import_in(
    tx: &mut Transaction<'static, Any>,
    tenant: &Tenant,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    // Written in the form `stored_form` predicts, so that a dry run's comparison and the
    // import cannot disagree.
    let tenant = &stored_form(tenant);
    for user in &tenant.users {
        import_user(tx, user, at).await?;
    }
    for group in &tenant.groups {
        import_group(tx, group, at).await?;
    }
    for assignment in &tenant.role_assignments {
        import_assignment(tx, assignment, at).await?;
    }
    for p in &tenant.conditional_access_policies {
        put_config_json(tx, ConfigKind::Policy, &p.id, p, at).await?;
    }
    for l in &tenant.named_locations {
        put_config_json(tx, ConfigKind::NamedLocation, &l.id, l, at).await?;
    }
    for s in &tenant.authentication_strength_policies {
        put_config_json(tx, ConfigKind::AuthenticationStrength, &s.id, s, at).await?;
    }
    for c in &tenant.authentication_context_class_references {
        put_config_json(tx, ConfigKind::AuthenticationContext, &c.id, c, at).await?;
    }
    record_change(tx, ChangeKind::Everything, "").await?;
    Ok(())
}

/// `tenant` as the store holds it once imported and reads it back ([`Store::load_tenant`]):
/// defaults filled in (a user's display name is their sign-in name, their type `Member`, their
/// account enabled; a group's name is its id), group members as bare ids, and each role
/// assignment with its id (derived when it has none, as the import derives it) and scope. What
/// an import would change is what differs between this and the stored tenant.
///
/// A user or group exported twice (Graph exports hold some objects once per folder they appear
/// in) is one object: the last entry's fields, and for a group the members of every entry, as
/// evaluation merges them (`tenant check` warns of it).
pub fn stored_form(tenant: &Tenant) -> Tenant {
    let mut t = tenant.clone();
    t.users = last_of_each_id(std::mem::take(&mut t.users), |u| &u.id, |_, _| {});
    t.groups = last_of_each_id(
        std::mem::take(&mut t.groups),
        |g| &g.id,
        |merged, earlier| {
            let mut members = earlier.members;
            members.append(&mut merged.members);
            merged.members = members;
        },
    );
    for u in &mut t.users {
        if u.display_name.is_none() {
            u.display_name = u.user_principal_name.clone();
        }
        u.account_enabled.get_or_insert(true);
        u.user_type.get_or_insert_with(|| "Member".to_string());
    }
    for g in &mut t.groups {
        if g.display_name.is_none() {
            g.display_name = Some(g.id.clone());
        }
        let mut ids: Vec<String> = g.members.iter().map(|m| m.id().to_string()).collect();
        ids.sort();
        ids.dedup();
        g.members = ids.into_iter().map(MemberRef::Id).collect();
    }
    for a in &mut t.role_assignments {
        let scope = a
            .directory_scope_id
            .get_or_insert_with(|| "/".to_string())
            .clone();
        if a.id.is_none() {
            a.id = Some(format!(
                "import:{}:{}:{}:{}",
                a.principal_id,
                a.role_definition_id,
                scope,
                a.status.as_str()
            ));
        }
    }
    t
}

/// One object per id (in any case), in the order of first appearance: the last entry, into
/// which `absorb` folds each earlier one.
fn last_of_each_id<T>(
    items: Vec<T>,
    id_of: impl Fn(&T) -> &String,
    absorb: impl Fn(&mut T, T),
) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    let mut at: HashMap<String, usize> = HashMap::new();
    for item in items {
        match at.get(&id_of(&item).to_ascii_lowercase()) {
            Some(&i) => {
                let earlier = std::mem::replace(&mut out[i], item);
                absorb(&mut out[i], earlier);
            }
            None => {
                at.insert(id_of(&item).to_ascii_lowercase(), out.len());
                out.push(item);
            }
        }
    }
    out
}

async fn import_user(
    tx: &mut Transaction<'static, Any>,
    user: &User,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let upn = user.user_principal_name.as_deref().unwrap_or_default();
    check_upn(upn).map_err(|_| StoreError::Invalid {
        what: "user",
        detail: format!("user '{}' has no userPrincipalName", user.id),
    })?;
    sqlx::query(
        "INSERT INTO users (id, user_principal_name, upn_key, display_name, account_enabled, \
         user_type, guest_or_external_user_type, extra_json, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (id) DO UPDATE SET user_principal_name = excluded.user_principal_name, \
         upn_key = excluded.upn_key, display_name = excluded.display_name, \
         account_enabled = excluded.account_enabled, user_type = excluded.user_type, \
         guest_or_external_user_type = excluded.guest_or_external_user_type, \
         extra_json = excluded.extra_json",
    )
    .bind(&user.id)
    .bind(upn)
    .bind(upn_key(upn))
    .bind(user.display_name.as_deref().unwrap_or(upn))
    .bind(flag(user.account_enabled.unwrap_or(true)))
    .bind(user.user_type.as_deref().unwrap_or("Member"))
    .bind(
        user.guest_or_external_user_type
            .as_ref()
            .map(|t| t.as_str().to_string()),
    )
    .bind(extra_json(&user.extra)?)
    .bind(ms(at))
    .execute(&mut **tx)
    .await
    .map_err(on_write("user"))?;
    Ok(())
}

async fn import_group(
    tx: &mut Transaction<'static, Any>,
    group: &Group,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO directory_groups (id, display_name, is_assignable_to_role, extra_json, \
         created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, \
         is_assignable_to_role = excluded.is_assignable_to_role, extra_json = excluded.extra_json",
    )
    .bind(&group.id)
    .bind(group.display_name.as_deref().unwrap_or(&group.id))
    .bind(flag(group.is_assignable_to_role.unwrap_or(false)))
    .bind(extra_json(&group_extra(group))?)
    .bind(ms(at))
    .execute(&mut **tx)
    .await
    .map_err(on_write("group"))?;
    sqlx::query("DELETE FROM group_members WHERE group_id = $1")
        .bind(&group.id)
        .execute(&mut **tx)
        .await?;
    for member in &group.members {
        // Members may name objects the tenant does not hold: kept, as the tenant format allows.
        sqlx::query(
            "INSERT INTO group_members (group_id, member_id) VALUES ($1, $2) \
             ON CONFLICT (group_id, member_id) DO NOTHING",
        )
        .bind(&group.id)
        .bind(member.id())
        .execute(&mut **tx)
        .await
        .map_err(on_write("group member"))?;
    }
    Ok(())
}

/// A group's extra fields as stored: an unset `isAssignableToRole` kept as the null it was
/// exported as (a group is not role-assignable unless it says so, as in Entra).
fn group_extra(group: &Group) -> policy::Extra {
    let mut extra = group.extra.clone();
    extra.remove(ASSIGNABLE);
    if group.is_assignable_to_role.is_none() {
        extra.insert(ASSIGNABLE.into(), serde_json::Value::Null);
    }
    extra
}

/// Adds a role the store does not know as a custom definition named by its id.
async fn add_role_definition(
    tx: &mut Transaction<'static, Any>,
    role: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO role_definitions (id, display_name, description, is_built_in) \
         VALUES ($1, $1, '', 0) ON CONFLICT (id) DO NOTHING",
    )
    .bind(role)
    .execute(&mut **tx)
    .await
    .map_err(on_write("role definition"))?;
    Ok(())
}

async fn import_assignment(
    tx: &mut Transaction<'static, Any>,
    assignment: &RoleAssignment,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let status = status_text(&assignment.status)?;
    let scope = assignment.directory_scope_id.as_deref().unwrap_or("/");
    let id = assignment.id.clone().unwrap_or_else(|| {
        format!(
            "import:{}:{}:{}:{}",
            assignment.principal_id, assignment.role_definition_id, scope, status
        )
    });
    add_role_definition(tx, assignment.role_definition_id.as_str()).await?;
    sqlx::query(
        "INSERT INTO role_assignments (id, principal_id, role_definition_id, directory_scope_id, \
         status, start_at, end_at, extra_json) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7) \
         ON CONFLICT (id) DO UPDATE SET principal_id = excluded.principal_id, \
         role_definition_id = excluded.role_definition_id, \
         directory_scope_id = excluded.directory_scope_id, status = excluded.status, \
         extra_json = excluded.extra_json",
    )
    .bind(id)
    .bind(assignment.principal_id.as_str())
    .bind(assignment.role_definition_id.as_str())
    .bind(scope)
    .bind(status)
    .bind(ms(at))
    .bind(extra_json(&assignment.extra)?)
    .execute(&mut **tx)
    .await
    .map_err(on_write("role assignment"))?;
    Ok(())
}
