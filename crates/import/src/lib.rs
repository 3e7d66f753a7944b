//! Reads tenants from disk.
//!
//! A tenant is one JSON document (`users`, `groups`, `conditionalAccessPolicies`, …) or a folder
//! whose `*.json` files, at any depth, each hold one Graph object or a `{"value": [...]}`
//! collection. Each object is recognised by its `@odata.type`, else by the collection's
//! `@odata.context`, else by the folder it sits in (`ConditionalAccess`, `NamedLocations`,
//! `Groups`, …), else by its shape. Files may be UTF-8 (with or without BOM) or UTF-16 with BOM,
//! with CRLF line ends, as PowerShell writes them.
//!
//! Role settings (`unifiedRoleManagementPolicy` with its rules, as
//! `GET /policies/roleManagementPolicies/{id}?$expand=rules` returns it) are read beside the
//! tenant ([`Loaded::role_settings`]), each matched to its role by the
//! `unifiedRoleManagementPolicyAssignment` that names it.
//!
//! Loading never stops at the first bad file: every unreadable file is returned with its
//! position, and the caller decides whether a partial tenant is acceptable.

mod classify;
pub mod decode;

use classify::Kind;
use policy::Tenant;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A file that could not be read, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The path does not exist or cannot be listed or read.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The bytes are not text in a supported encoding.
    #[error("{path}: {source}")]
    Encoding {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: decode::DecodeError,
    },
    /// The text is not JSON.
    #[error("{path}:{line}:{column}: malformed JSON: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The JSON is not the Graph object it looks like (a wrong type in a known field).
    #[error("{path}: {object}: {message}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// Which object in the file (`value[3]`, or the whole file).
        object: String,
        /// The deserializer's message.
        message: String,
    },
}

/// What loading noticed without failing: skipped files, assigned ids, guessed kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadNote {
    /// The file.
    pub path: PathBuf,
    /// What happened.
    pub message: String,
}

impl std::fmt::Display for LoadNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// A role's settings as exported (Graph `unifiedRoleManagementPolicy`, with its rules), and
/// the role they govern.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleSettings {
    /// The role's template id: from the `unifiedRoleManagementPolicyAssignment` that names the
    /// policy, or from a policy id of Portcullis's form, `DirectoryRole_{roleDefinitionId}`.
    pub role_definition_id: String,
    /// The policy as exported (Entra's own id, e.g. `DirectoryRole_{tenant}_{guid}`).
    pub policy: pim::RoleManagementPolicy,
    /// The file it was read from.
    pub path: PathBuf,
}

/// Role policies and policy assignments read, before each policy is matched to its role.
#[derive(Debug, Default)]
pub(crate) struct PendingRoles {
    /// Each policy with its file and position in it.
    pub(crate) policies: Vec<(PathBuf, String, pim::RoleManagementPolicy)>,
    /// Every policy assignment read.
    pub(crate) assignments: Vec<pim::RoleManagementPolicyAssignment>,
}

/// A loaded tenant, with what could not be read.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Everything that was read.
    pub tenant: Tenant,
    /// Role settings (role management policies) read, one per role.
    pub role_settings: Vec<RoleSettings>,
    /// Read but not yet matched to roles.
    pub(crate) roles: PendingRoles,
    /// Files read, in order.
    pub files: usize,
    /// Remarks that are not errors.
    pub notes: Vec<LoadNote>,
    /// Files (or objects) that could not be read; nothing of them is in `tenant`.
    pub unreadable: Vec<LoadError>,
}

/// Loads a tenant from a file or a folder.
///
/// Fails only when `path` itself cannot be read; problems with individual files inside a folder
/// are collected in [`Loaded::unreadable`].
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Io {
        path: path.into(),
        source,
    })?;
    let mut loaded = Loaded::default();
    if meta.is_dir() {
        let mut files = Vec::new();
        collect_json_files(path, &mut files, &mut loaded.unreadable);
        // Sorted, so that loading (and so evaluation order and reports) does not depend on the
        // order in which the file system lists a folder.
        files.sort();
        for file in files {
            let hint = classify::folder_hint(path, &file);
            load_file(&file, path, hint, &mut loaded);
        }
    } else {
        let parent = path.parent().unwrap_or(Path::new(""));
        load_file(path, parent, None, &mut loaded);
    }
    resolve_role_settings(&mut loaded);
    Ok(loaded)
}

/// The scope types of directory-role policies (Entra writes `DirectoryRole`; Graph's examples
/// also show `Directory`). `Group` (PIM for groups) is not a directory role's.
fn is_directory_scope(scope_type: &str) -> bool {
    scope_type.is_empty()
        || scope_type.eq_ignore_ascii_case(pim::DIRECTORY_ROLE)
        || scope_type.eq_ignore_ascii_case("Directory")
}

/// Matches each role policy read to the role it governs: by the policy assignment that names
/// it, else by an id of the form `DirectoryRole_{roleDefinitionId}`. Entra's own policy ids
/// (`DirectoryRole_{tenant}_{guid}`) say nothing of the role, so a policy no assignment names
/// cannot be imported and is reported with its file; a policy of PIM for groups is noted and
/// skipped.
fn resolve_role_settings(loaded: &mut Loaded) {
    let pending = std::mem::take(&mut loaded.roles);
    for (path, position, policy) in pending.policies {
        if !is_directory_scope(&policy.scope_type) {
            loaded.notes.push(LoadNote {
                path,
                message: format!(
                    "{position}: role management policy '{}' has scope type '{}' (PIM for \
                     groups), which Portcullis does not manage: skipped",
                    policy.id, policy.scope_type
                ),
            });
            continue;
        }
        let assigned = pending.assignments.iter().find(|a| {
            a.policy_id.eq_ignore_ascii_case(&policy.id)
                && is_directory_scope(&a.scope_type)
                && !a.role_definition_id.is_empty()
        });
        let own_form = policy
            .id
            .get(..pim::DIRECTORY_ROLE.len() + 1)
            .filter(|p| p.eq_ignore_ascii_case(&format!("{}_", pim::DIRECTORY_ROLE)))
            .and_then(|_| policy.id.get(pim::DIRECTORY_ROLE.len() + 1..))
            .filter(|rest| !rest.is_empty() && !rest.contains('_'));
        let role = match (assigned, own_form) {
            (Some(a), _) => a.role_definition_id.clone(),
            (None, Some(role)) => role.to_string(),
            (None, None) => {
                loaded.unreadable.push(LoadError::Shape {
                    path,
                    object: format!("{position} (role management policy '{}')", policy.id),
                    message: "no unifiedRoleManagementPolicyAssignment names this policy, so the \
                              role it governs is unknown; export GET \
                              /policies/roleManagementPolicyAssignments?$filter=scopeId eq '/' \
                              and scopeType eq 'DirectoryRole' beside it"
                        .into(),
                });
                continue;
            }
        };
        match loaded
            .role_settings
            .iter_mut()
            .find(|r| r.role_definition_id.eq_ignore_ascii_case(&role))
        {
            // The same role's settings twice (a policy exported alone and in a list): the
            // last read wins, as for every other object.
            Some(earlier) => {
                loaded.notes.push(LoadNote {
                    path: path.clone(),
                    message: format!(
                        "{position}: role {role} has settings in {} too; these, read later, \
                         are imported",
                        earlier.path.display()
                    ),
                });
                *earlier = RoleSettings {
                    role_definition_id: role,
                    policy,
                    path,
                };
            }
            None => loaded.role_settings.push(RoleSettings {
                role_definition_id: role,
                policy,
                path,
            }),
        }
    }
}

fn collect_json_files(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<LoadError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(source) => {
            errors.push(LoadError::Io {
                path: dir.into(),
                source,
            });
            return;
        }
    };
    for entry in entries {
        match entry {
            Ok(e) => {
                let p = e.path();
                if p.is_dir() {
                    collect_json_files(&p, out, errors);
                } else if p
                    .extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("json"))
                {
                    out.push(p);
                }
            }
            Err(source) => errors.push(LoadError::Io {
                path: dir.into(),
                source,
            }),
        }
    }
}

/// Parses text as JSON, locating any error.
pub fn parse_json(path: &Path, text: &str) -> Result<Value, LoadError> {
    serde_json::from_str(text).map_err(|e| LoadError::Json {
        path: path.into(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Loads a folder held in memory: each file (its path under `root`, and its bytes) read as
/// [`load`] reads the files of a folder on disk. For the fuzz targets (`fuzz/`).
#[doc(hidden)]
pub fn load_in_memory(root: &Path, files: &[(PathBuf, Vec<u8>)]) -> Loaded {
    let mut loaded = Loaded::default();
    let mut files: Vec<&(PathBuf, Vec<u8>)> = files.iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    for (file, bytes) in files {
        let hint = classify::folder_hint(root, file);
        load_bytes(file, root, hint, bytes, &mut loaded);
    }
    resolve_role_settings(&mut loaded);
    loaded
}

fn load_file(file: &Path, root: &Path, hint: Option<Kind>, loaded: &mut Loaded) {
    match std::fs::read(file) {
        Ok(bytes) => load_bytes(file, root, hint, &bytes, loaded),
        Err(source) => loaded.unreadable.push(LoadError::Io {
            path: file.into(),
            source,
        }),
    }
}

/// Adds what the bytes of `file` hold to `loaded`, or records why they cannot be read.
fn load_bytes(file: &Path, root: &Path, hint: Option<Kind>, bytes: &[u8], loaded: &mut Loaded) {
    let text = match decode::decode(bytes) {
        Ok(t) => t,
        Err(source) => {
            loaded.unreadable.push(LoadError::Encoding {
                path: file.into(),
                source,
            });
            return;
        }
    };
    let value = match parse_json(file, &text) {
        Ok(v) => v,
        Err(e) => {
            loaded.unreadable.push(e);
            return;
        }
    };
    loaded.files += 1;
    let relative = file.strip_prefix(root).unwrap_or(file);
    classify::add(file, relative, value, hint, loaded);
}
