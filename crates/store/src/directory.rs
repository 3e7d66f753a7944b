//! Users, groups (nested), directory role definitions and role assignments.

use crate::audit::append_in;
use crate::changes::{record_change, ChangeKind};
use crate::error::on_write;
use crate::sql::{flag, ms, opt_ms, to_json, RowExt};
use crate::{AuditEntry, Store, StoreError};
use chrono::{DateTime, Utc};
use policy::directory::AssignmentStatus;
use policy::ids::{PrincipalId, RoleId};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

/// A person or service account that can sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Object id (a UUID).
    pub id: String,
    /// Sign-in name; unique regardless of case.
    pub user_principal_name: String,
    /// Name shown to people.
    pub display_name: String,
    /// Whether the account may sign in.
    pub account_enabled: bool,
    /// `Member` or `Guest`.
    pub user_type: String,
    /// Graph guest or external user type of a guest (`b2bCollaborationGuest`, …).
    pub guest_or_external_user_type: Option<String>,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

impl User {
    /// An enabled member with a fresh id.
    pub fn new(user_principal_name: &str, display_name: &str, at: DateTime<Utc>) -> User {
        User {
            id: crate::new_id(),
            user_principal_name: user_principal_name.to_string(),
            display_name: display_name.to_string(),
            account_enabled: true,
            user_type: "Member".into(),
            guest_or_external_user_type: None,
            created_at: crate::at_ms(at),
        }
    }
}

/// A group of users and groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Object id (a UUID).
    pub id: String,
    /// Name shown to administrators.
    pub display_name: String,
    /// Whether directory roles can be assigned to the group.
    pub is_assignable_to_role: bool,
    /// When the group was created here.
    pub created_at: DateTime<Utc>,
    /// The Graph fields of an imported group that Portcullis does not use (its
    /// `mailNickname`, `createdDateTime` in its home tenant, …), kept to be served back as
    /// exported; empty for a group created here. An exported `"isAssignableToRole": null` is
    /// kept here too, as the flag cannot say it.
    #[serde(default)]
    pub extra: policy::Extra,
}

impl Group {
    /// A group with a fresh id that roles cannot be assigned to.
    pub fn new(display_name: &str, at: DateTime<Utc>) -> Group {
        Group {
            id: crate::new_id(),
            display_name: display_name.to_string(),
            is_assignable_to_role: false,
            created_at: crate::at_ms(at),
            extra: policy::Extra::new(),
        }
    }
}

/// A directory role (Entra `unifiedRoleDefinition`), identified by its role template id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    /// The Entra role template id.
    pub id: String,
    /// Name shown to administrators.
    pub display_name: String,
    /// What the role may do.
    pub description: String,
    /// Whether the role is one of Entra's built-ins.
    pub is_built_in: bool,
}

/// A principal holds a role, actively or as eligible to activate it, within a time window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    /// Assignment id.
    pub id: String,
    /// The user or role-assignable group.
    pub principal_id: PrincipalId,
    /// The role's template id.
    pub role_definition_id: RoleId,
    /// Scope; `/` for the tenant.
    pub directory_scope_id: String,
    /// `active` or `eligible`.
    pub status: AssignmentStatus,
    /// In force from.
    pub start_at: DateTime<Utc>,
    /// In force until; `None`: open-ended.
    pub end_at: Option<DateTime<Utc>>,
}

impl RoleAssignment {
    /// Whether the assignment is in force at `at`.
    pub fn in_force_at(&self, at: DateTime<Utc>) -> bool {
        self.start_at <= at && self.end_at.is_none_or(|end| at < end)
    }
}

/// The lookup key of a user principal name: case does not make two names different.
pub(crate) fn upn_key(upn: &str) -> String {
    upn.to_lowercase()
}

macro_rules! user_columns {
    () => {
        "id, user_principal_name, display_name, account_enabled, user_type, \
         guest_or_external_user_type, created_at"
    };
}
macro_rules! assignment_columns {
    () => {
        "id, principal_id, role_definition_id, directory_scope_id, status, start_at, end_at"
    };
}

pub(crate) fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.text("id")?,
        user_principal_name: row.text("user_principal_name")?,
        display_name: row.text("display_name")?,
        account_enabled: row.flag("account_enabled")?,
        user_type: row.text("user_type")?,
        guest_or_external_user_type: row.opt_text("guest_or_external_user_type")?,
        created_at: row.time("created_at")?,
    })
}

fn group_from_row(row: &AnyRow) -> Result<Group, StoreError> {
    Ok(Group {
        id: row.text("id")?,
        display_name: row.text("display_name")?,
        is_assignable_to_role: row.flag("is_assignable_to_role")?,
        created_at: row.time("created_at")?,
        extra: row.json("extra_json")?,
    })
}

pub(crate) fn assignment_from_row(row: &AnyRow) -> Result<RoleAssignment, StoreError> {
    Ok(RoleAssignment {
        id: row.text("id")?,
        principal_id: PrincipalId::trusted(row.text("principal_id")?),
        role_definition_id: RoleId::trusted(row.text("role_definition_id")?),
        directory_scope_id: row.text("directory_scope_id")?,
        status: AssignmentStatus::parse(&row.text("status")?),
        start_at: row.time("start_at")?,
        end_at: row.opt_time("end_at")?,
    })
}

/// The stored spelling of a status; unknown statuses cannot be stored.
pub(crate) fn status_text(status: &AssignmentStatus) -> Result<&'static str, StoreError> {
    match status {
        AssignmentStatus::Active => Ok("active"),
        AssignmentStatus::Eligible => Ok("eligible"),
        AssignmentStatus::Unknown(s) => Err(StoreError::Invalid {
            what: "role assignment",
            detail: format!("status '{s}' is neither active nor eligible"),
        }),
    }
}

pub(crate) fn check_upn(upn: &str) -> Result<(), StoreError> {
    if upn.trim().is_empty() {
        return Err(StoreError::Invalid {
            what: "user",
            detail: "the user principal name is empty".into(),
        });
    }
    Ok(())
}

impl Store {
    /// Adds a user.
    pub async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        insert_user(&mut tx, user).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates, rewrites or deletes a user (with its password, for a creation that sets one)
    /// and appends `audit`, in one transaction: the change and its record land together.
    pub async fn write_user_audited(
        &self,
        change: &UserChange<'_>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        match change {
            UserChange::Create { user, password } => {
                insert_user(&mut tx, user).await?;
                if let Some(p) = password {
                    crate::credentials::set_password_in(&mut *tx, p).await?;
                }
            }
            UserChange::Update(user) => rewrite_user(&mut tx, user).await?,
            UserChange::Delete(id) => delete_principal_in(&mut tx, "users", "user", id).await?,
        }
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user with this id.
    pub async fn get_user(&self, id: &str) -> Result<User, StoreError> {
        if crate::unstorable(id) {
            return Err(StoreError::not_found("user", id));
        }
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("user", id))?;
        user_from_row(&row)
    }

    /// The user with this sign-in name, compared regardless of case.
    pub async fn get_user_by_upn(&self, upn: &str) -> Result<User, StoreError> {
        if crate::unstorable(upn) {
            return Err(StoreError::not_found("user", upn));
        }
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE upn_key = $1"
        ))
        .bind(upn_key(upn))
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("user", upn))?;
        user_from_row(&row)
    }

    /// Every user, by sign-in name.
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users ORDER BY upn_key"
        ))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(user_from_row)
        .collect()
    }

    /// At most `limit` users whose sign-in name starts with `prefix` (case-insensitive), by
    /// sign-in name: what a page lists, rather than every user of a large tenant.
    pub async fn find_users(&self, prefix: &str, limit: u32) -> Result<Vec<User>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE substr(upn_key, 1, length($1)) = $1 ORDER BY upn_key LIMIT $2"
        ))
        .bind(upn_key(prefix))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(user_from_row)
        .collect()
    }

    /// Rewrites a user's name, display name, state and type (not its id or creation time).
    pub async fn update_user(&self, user: &User) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        rewrite_user(&mut tx, user).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Enables or disables sign-in for a user.
    pub async fn set_account_enabled(&self, id: &str, enabled: bool) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("UPDATE users SET account_enabled = $2 WHERE id = $1")
            .bind(id)
            .bind(flag(enabled))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("user", id));
        }
        record_change(&mut tx, ChangeKind::User, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a user with their credentials, sessions, memberships and role assignments.
    pub async fn delete_user(&self, id: &str) -> Result<(), StoreError> {
        self.delete_principal("users", "user", id).await
    }

    /// Deletes a user or a group (`table` is a fixed name, never input) in one transaction.
    async fn delete_principal(
        &self,
        table: &'static str,
        what: &'static str,
        id: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        delete_principal_in(&mut tx, table, what, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds a group.
    pub async fn create_group(&self, group: &Group) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        insert_group(&mut tx, group).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates or deletes a group, or adds or removes a direct member, and appends `audit`, in
    /// one transaction.
    pub async fn write_group_audited(
        &self,
        change: &GroupChange<'_>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        match change {
            GroupChange::Create(group) => insert_group(&mut tx, group).await?,
            GroupChange::Delete(id) => {
                delete_principal_in(&mut tx, "directory_groups", "group", id).await?
            }
            GroupChange::AddMember {
                group_id,
                member_id,
            } => add_member_in(&mut tx, group_id, member_id).await?,
            GroupChange::RemoveMember {
                group_id,
                member_id,
            } => remove_member_in(&mut tx, group_id, member_id).await?,
            GroupChange::Rename {
                group_id,
                display_name,
            } => {
                let renamed =
                    sqlx::query("UPDATE directory_groups SET display_name = $2 WHERE id = $1")
                        .bind(*group_id)
                        .bind(*display_name)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                if renamed == 0 {
                    return Err(StoreError::not_found("group", *group_id));
                }
            }
        }
        append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The group with this id.
    pub async fn get_group(&self, id: &str) -> Result<Group, StoreError> {
        if crate::unstorable(id) {
            return Err(StoreError::not_found("group", id));
        }
        let row = sqlx::query(
            "SELECT id, display_name, is_assignable_to_role, created_at, extra_json \
             FROM directory_groups WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::not_found("group", id))?;
        group_from_row(&row)
    }

    /// Every group, by name.
    pub async fn list_groups(&self) -> Result<Vec<Group>, StoreError> {
        sqlx::query(
            "SELECT id, display_name, is_assignable_to_role, created_at, extra_json \
             FROM directory_groups ORDER BY display_name, id",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(group_from_row)
        .collect()
    }

    /// Deletes a group, its memberships (as a group and as a member) and its role assignments.
    pub async fn delete_group(&self, id: &str) -> Result<(), StoreError> {
        self.delete_principal("directory_groups", "group", id).await
    }

    /// Makes a user or a group a direct member of a group; adding a member twice is harmless.
    pub async fn add_member(&self, group_id: &str, member_id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        add_member_in(&mut tx, group_id, member_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a direct member from a group.
    pub async fn remove_member(&self, group_id: &str, member_id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        remove_member_in(&mut tx, group_id, member_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The ids of a group's direct members (users and groups).
    pub async fn list_members(&self, group_id: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query("SELECT member_id FROM group_members WHERE group_id = $1 ORDER BY member_id")
            .bind(group_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| row.text("member_id"))
            .collect()
    }

    /// The ids of the users in a group, directly or through nested groups.
    pub async fn transitive_user_members(&self, group_id: &str) -> Result<Vec<String>, StoreError> {
        // UNION drops rows already seen, so a membership cycle ends the walk.
        sqlx::query(
            "WITH RECURSIVE down (id) AS ( \
                 SELECT member_id FROM group_members WHERE group_id = $1 \
                 UNION \
                 SELECT gm.member_id FROM group_members gm JOIN down ON gm.group_id = down.id \
             ) SELECT down.id AS id FROM down JOIN users u ON u.id = down.id ORDER BY down.id",
        )
        .bind(group_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| row.text("id"))
        .collect()
    }

    /// The ids of every group a user or group belongs to, directly or through nested groups.
    pub async fn transitive_groups(&self, member_id: &str) -> Result<Vec<String>, StoreError> {
        // UNION (not UNION ALL) drops rows already seen, so a membership cycle ends the walk.
        sqlx::query(
            "WITH RECURSIVE up (id) AS ( \
                 SELECT group_id FROM group_members WHERE member_id = $1 \
                 UNION \
                 SELECT gm.group_id FROM group_members gm JOIN up ON gm.member_id = up.id \
             ) SELECT id FROM up ORDER BY id",
        )
        .bind(member_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| row.text("id"))
        .collect()
    }

    /// Every role definition, built-ins first, by name.
    pub async fn list_role_definitions(&self) -> Result<Vec<RoleDefinition>, StoreError> {
        sqlx::query(
            "SELECT id, display_name, description, is_built_in FROM role_definitions \
             ORDER BY is_built_in DESC, display_name",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| {
            Ok(RoleDefinition {
                id: row.text("id")?,
                display_name: row.text("display_name")?,
                description: row.text("description")?,
                is_built_in: row.flag("is_built_in")?,
            })
        })
        .collect()
    }

    /// Records a role assignment (active or eligible).
    pub async fn assign_role(&self, assignment: &RoleAssignment) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(concat!(
            "INSERT INTO role_assignments (",
            assignment_columns!(),
            ", extra_json) VALUES ($1, $2, $3, $4, $5, $6, $7, '{}')"
        ))
        .bind(&assignment.id)
        .bind(assignment.principal_id.as_str())
        .bind(assignment.role_definition_id.as_str())
        .bind(&assignment.directory_scope_id)
        .bind(status_text(&assignment.status)?)
        .bind(ms(assignment.start_at))
        .bind(opt_ms(assignment.end_at))
        .execute(&mut *tx)
        .await
        .map_err(on_write("role assignment"))?;
        record_change(
            &mut tx,
            ChangeKind::RoleAssignments,
            assignment.principal_id.as_str(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Role assignments, of one principal or of everyone, whatever their time window.
    pub async fn list_role_assignments(
        &self,
        principal_id: Option<&str>,
    ) -> Result<Vec<RoleAssignment>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            assignment_columns!(),
            " FROM role_assignments WHERE ($1 IS NULL OR principal_id = $1) \
             ORDER BY principal_id, role_definition_id, id"
        ))
        .bind(principal_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(assignment_from_row)
        .collect()
    }

    /// Removes a role assignment.
    pub async fn remove_role_assignment(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let principal =
            sqlx::query("DELETE FROM role_assignments WHERE id = $1 RETURNING principal_id")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::not_found("role assignment", id))?
                .text("principal_id")?;
        record_change(&mut tx, ChangeKind::RoleAssignments, &principal).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The JSON text of a map of extra Graph fields.
pub(crate) fn extra_json(extra: &policy::Extra) -> Result<String, StoreError> {
    to_json("extra fields", extra)
}

/// What [`Store::write_user_audited`] does.
#[derive(Debug, Clone, Copy)]
pub enum UserChange<'a> {
    /// A new user, with their password if one is set.
    Create {
        /// The user.
        user: &'a User,
        /// Their password hash.
        password: Option<&'a crate::PasswordCredential>,
    },
    /// The user's name, display name, state and type rewritten.
    Update(&'a User),
    /// The user deleted, with their credentials, sessions, memberships and role assignments.
    Delete(&'a str),
}

async fn insert_user(tx: &mut Transaction<'static, Any>, user: &User) -> Result<(), StoreError> {
    check_upn(&user.user_principal_name)?;
    sqlx::query(concat!(
        "INSERT INTO users (",
        user_columns!(),
        ", upn_key, extra_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{}')"
    ))
    .bind(&user.id)
    .bind(&user.user_principal_name)
    .bind(&user.display_name)
    .bind(flag(user.account_enabled))
    .bind(&user.user_type)
    .bind(&user.guest_or_external_user_type)
    .bind(ms(user.created_at))
    .bind(upn_key(&user.user_principal_name))
    .execute(&mut **tx)
    .await
    .map_err(on_write("user"))?;
    record_change(tx, ChangeKind::User, &user.id).await?;
    Ok(())
}

async fn rewrite_user(tx: &mut Transaction<'static, Any>, user: &User) -> Result<(), StoreError> {
    check_upn(&user.user_principal_name)?;
    let done = sqlx::query(
        "UPDATE users SET user_principal_name = $2, upn_key = $3, display_name = $4, \
             account_enabled = $5, user_type = $6, guest_or_external_user_type = $7 WHERE id = $1",
    )
    .bind(&user.id)
    .bind(&user.user_principal_name)
    .bind(upn_key(&user.user_principal_name))
    .bind(&user.display_name)
    .bind(flag(user.account_enabled))
    .bind(&user.user_type)
    .bind(&user.guest_or_external_user_type)
    .execute(&mut **tx)
    .await
    .map_err(on_write("user"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found("user", &user.id));
    }
    record_change(tx, ChangeKind::User, &user.id).await?;
    Ok(())
}

/// Deletes a user or a group in `tx`. Memberships and assignments name the principal without a
/// foreign key (a principal may be a user or a group), so they are removed here; everything
/// else cascades.
async fn delete_principal_in(
    tx: &mut Transaction<'static, Any>,
    table: &'static str,
    what: &'static str,
    id: &str,
) -> Result<(), StoreError> {
    // The groups it leaves, for the change log.
    let left: Vec<String> =
        sqlx::query("DELETE FROM group_members WHERE member_id = $1 RETURNING group_id")
            .bind(id)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|row| row.text("group_id"))
            .collect::<Result<_, _>>()?;
    sqlx::query("DELETE FROM role_assignments WHERE principal_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let done = sqlx::query(&format!("DELETE FROM {table} WHERE id = $1"))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found(what, id));
    }
    let kind = if table == "users" {
        ChangeKind::User
    } else {
        ChangeKind::Group
    };
    record_change(tx, kind, id).await?;
    record_change(tx, ChangeKind::RoleAssignments, id).await?;
    let mut left = left;
    left.sort_unstable();
    left.dedup();
    for group in left.iter().filter(|g| *g != id) {
        record_change(tx, ChangeKind::Group, group).await?;
    }
    Ok(())
}

/// What [`Store::write_group_audited`] does.
#[derive(Debug, Clone, Copy)]
pub enum GroupChange<'a> {
    /// A new group.
    Create(&'a Group),
    /// The group deleted, with its memberships and role assignments.
    Delete(&'a str),
    /// A user or group made a direct member.
    AddMember {
        /// The group.
        group_id: &'a str,
        /// The new member.
        member_id: &'a str,
    },
    /// A direct member removed.
    RemoveMember {
        /// The group.
        group_id: &'a str,
        /// The member.
        member_id: &'a str,
    },
    /// The group renamed.
    Rename {
        /// The group.
        group_id: &'a str,
        /// Its new name.
        display_name: &'a str,
    },
}

async fn insert_group(tx: &mut Transaction<'static, Any>, group: &Group) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO directory_groups \
             (id, display_name, is_assignable_to_role, extra_json, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&group.id)
    .bind(&group.display_name)
    .bind(flag(group.is_assignable_to_role))
    .bind(extra_json(&group.extra)?)
    .bind(ms(group.created_at))
    .execute(&mut **tx)
    .await
    .map_err(on_write("group"))?;
    record_change(tx, ChangeKind::Group, &group.id).await?;
    Ok(())
}

async fn add_member_in(
    tx: &mut Transaction<'static, Any>,
    group_id: &str,
    member_id: &str,
) -> Result<(), StoreError> {
    let exists = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM directory_groups WHERE id = $1) AS g, \
             (SELECT COUNT(*) FROM users WHERE id = $2) \
             + (SELECT COUNT(*) FROM directory_groups WHERE id = $2) AS m",
    )
    .bind(group_id)
    .bind(member_id)
    .fetch_one(&mut **tx)
    .await?;
    if exists.int("g")? == 0 {
        return Err(StoreError::not_found("group", group_id));
    }
    if exists.int("m")? == 0 {
        return Err(StoreError::not_found("user or group", member_id));
    }
    sqlx::query(
        "INSERT INTO group_members (group_id, member_id) VALUES ($1, $2) \
             ON CONFLICT (group_id, member_id) DO NOTHING",
    )
    .bind(group_id)
    .bind(member_id)
    .execute(&mut **tx)
    .await
    .map_err(on_write("group member"))?;
    record_change(tx, ChangeKind::Group, group_id).await?;
    Ok(())
}

async fn remove_member_in(
    tx: &mut Transaction<'static, Any>,
    group_id: &str,
    member_id: &str,
) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND member_id = $2")
        .bind(group_id)
        .bind(member_id)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::not_found("group member", member_id));
    }
    record_change(tx, ChangeKind::Group, group_id).await?;
    Ok(())
}
