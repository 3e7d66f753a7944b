//! The real Entra exports (`shared/fixtures/entra-exports`, or `PORTCULLIS_FIXTURES`) imported
//! into the running service through the import service `portcullis tenant import` calls, then
//! read back one by one through the Graph API with an administrator's token: every field each
//! export had is served back with the same value, whatever the encoding it was exported in. A
//! second import creates and changes nothing. Runs on SQLite and on PostgreSQL.
//!
//! The exports: 72 Conditional Access policies (36 of the ACME folder that are JSON as
//! published, 36 of the baseline) and 3 named locations — the 75 the issue counts — and the
//! baseline's 36 exclusion-group exports (34 groups: two are exported twice; none lists
//! members). The 37th ACME
//! file is not JSON as published (`"members": [ ] ]`); nothing can import it, and the loader
//! must say where it breaks. The baseline's `MigrationTable.json` is a name-to-id table, not a
//! directory object.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use app::conditional_access::LockoutGuard;
use common::graph::{get, holder};
use common::Env;
use policy::directory::GLOBAL_ADMINISTRATOR;
use policy::{validate, Engine, Severity};
use serde_json::Value;
use std::path::{Path, PathBuf};

on_both_backends!(every_real_export_is_served_back_as_exported);

/// `shared/fixtures/entra-exports` beside the repository, or `PORTCULLIS_FIXTURES`.
fn fixtures() -> PathBuf {
    let dir = std::env::var_os("PORTCULLIS_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/entra-exports")
        });
    assert!(
        dir.is_dir(),
        "fixtures not found at {} (set PORTCULLIS_FIXTURES)",
        dir.display()
    );
    dir
}

/// The file the ACME publisher broke (`"members": [ ] ]` at line 50).
const MALFORMED: &str = "ACME-_ZTCA_-_GLOBAL_-_BLOCK_-_AllApps_-Exclude_CA-Global (1).json";

/// What a folder's exports are, and where the API serves each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Policy,
    Location,
    Group,
}

impl Kind {
    fn path(self, id: &str) -> String {
        match self {
            Kind::Policy => format!("/v1.0/identity/conditionalAccess/policies/{id}"),
            Kind::Location => format!("/v1.0/identity/conditionalAccess/namedLocations/{id}"),
            Kind::Group => format!("/v1.0/groups/{id}"),
        }
    }
}

/// One export file, decoded and parsed as published.
struct Export {
    file: PathBuf,
    kind: Kind,
    json: Value,
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(json_files(&p));
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Every export file of `folder` (of kind `kind`), read the way the loader reads it; the one
/// malformed file is left out.
fn exports(folder: &Path, kind: Kind) -> Vec<Export> {
    json_files(folder)
        .into_iter()
        .filter(|f| !f.ends_with(MALFORMED))
        .map(|file| {
            let text = import::decode::decode(&std::fs::read(&file).unwrap()).unwrap();
            let json = serde_json::from_str(&text).unwrap();
            Export { file, kind, json }
        })
        .collect()
}

/// Whether `key` is an OData annotation or advertisement that describes the exporter's request
/// rather than the object, so that the service answers with its own or none:
/// - `@odata.context`, `@odata.id`, `@odata.editLink`: URLs of the publisher's request (Graph
///   beta, their tenant); a response carries its own context.
/// - `PROPERTY@odata.type` (`#DateTimeOffset`, `#Collection(String)`, …): PowerShell's
///   full-metadata typing of a property's JSON value, not a property; Graph's default
///   (minimal) metadata does not send it.
/// - `PROPERTY@odata.context`, `…@odata.associationLink`, `…@odata.navigationLink`: links to
///   a navigation property (the expanded `authenticationStrength`) in the publisher's tenant.
/// - `#microsoft.graph.restore`, `#microsoft.graph.usage`,
///   `#microsoft.graph.updateAllowedCombinations`: full metadata's advertisements of the
///   actions and functions one may call on the object, not properties.
///
/// A bare `@odata.type` (which derived type a location or a nested object is) is a fact of
/// the object and is not exempt.
fn exempt_annotation(key: &str) -> bool {
    const REQUEST: &[&str] = &["@odata.context", "@odata.id", "@odata.editLink"];
    const PROPERTY: &[&str] = &[
        "@odata.type",
        "@odata.context",
        "@odata.associationLink",
        "@odata.navigationLink",
    ];
    const ACTIONS: &[&str] = &[
        "#microsoft.graph.restore",
        "#microsoft.graph.usage",
        "#microsoft.graph.updateAllowedCombinations",
    ];
    REQUEST.contains(&key)
        || ACTIONS.contains(&key)
        || PROPERTY
            .iter()
            .any(|a| key.len() > a.len() && key.ends_with(a))
}

/// Every field of `exported` not exempt, served in `served` with the same value, at any depth;
/// the differences, each with its JSON path. Arrays are compared element by element, in order.
fn differences(exported: &Value, served: &Value, path: &str, out: &mut Vec<String>) {
    match (exported, served) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                if exempt_annotation(k) {
                    continue;
                }
                match b.get(k) {
                    Some(w) => differences(v, w, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k} ({v}) is not served")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                differences(v, w, &format!("{path}[{i}]"), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{path} was {a}, is served as {b}")),
    }
}

/// The id the loader assigned to the object of `file` that had none, as its note says.
fn assigned_id(notes: &[import::LoadNote], file: &Path) -> String {
    let note = notes
        .iter()
        .find(|n| n.path == file && n.message.contains("assigned "))
        .unwrap_or_else(|| panic!("{}: no id, and none assigned", file.display()));
    let after = note.message.split("assigned ").nth(1).unwrap();
    after.split_whitespace().next().unwrap().to_string()
}

async fn every_real_export_is_served_back_as_exported(env: &Env) {
    let dir = fixtures();
    let loaded = import::load(&dir).unwrap();
    // Nothing is lost silently: the one broken file is reported, with where it breaks.
    assert_eq!(loaded.unreadable.len(), 1, "{:?}", loaded.unreadable);
    let broken = loaded.unreadable[0].to_string();
    assert!(
        broken.contains(MALFORMED) && broken.contains(":50:11: malformed JSON"),
        "{broken}"
    );
    let loaded_notes = loaded.notes.clone();
    // As `portcullis tenant import` does: refused if the tenant has errors.
    let engine = Engine::new(loaded.tenant);
    let errors: Vec<String> = validate(&engine)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let tenant = engine.tenant().clone();

    let mut all = exports(&dir.join("acme-policies"), Kind::Policy);
    all.extend(exports(
        &dir.join("baseline/ConditionalAccess"),
        Kind::Policy,
    ));
    all.extend(exports(
        &dir.join("baseline/NamedLocations"),
        Kind::Location,
    ));
    all.extend(exports(&dir.join("baseline/Groups"), Kind::Group));
    let count = |k: Kind| all.iter().filter(|e| e.kind == k).count();
    assert_eq!(count(Kind::Policy) + count(Kind::Location), 75);
    assert_eq!(count(Kind::Policy), 72);
    assert_eq!(count(Kind::Group), 36);
    assert_eq!(tenant.conditional_access_policies.len(), 72);
    assert_eq!(tenant.named_locations.len(), 3);
    assert_eq!(tenant.groups.len(), 36);

    // Signed in before the import: the imported policies would block a password sign-in.
    let (_, token) = holder(env, "admin@example.test", GLOBAL_ADMINISTRATOR).await;
    let first = env
        .state
        .import_tenant(
            &tenant.clone().into(),
            &dir.display().to_string(),
            "tester",
            LockoutGuard::Enforce,
        )
        .await
        .unwrap();
    let created: usize = first.changes.iter().map(|k| k.created.len()).sum();
    // 72 policies, 3 locations, 34 groups (two are exported twice).
    assert_eq!(created, 72 + 3 + 34, "{:?}", first.changes);

    // Each object by id, as the loader reads them: an object exported twice (two of the
    // baseline's groups, renamed between the two exports) is stored as its last export, as
    // `tenant check` warns; that one is what must come back.
    let mut by_id: Vec<(String, &Export)> = Vec::new();
    for export in &all {
        let id = match export.json["id"].as_str() {
            Some(id) => id.to_string(),
            // Most ACME exports have no id: the loader gave each one, and said which.
            None => assigned_id(&loaded_notes, &export.file),
        };
        match by_id.iter_mut().find(|(i, _)| i.eq_ignore_ascii_case(&id)) {
            Some(earlier) => earlier.1 = export,
            None => by_id.push((id, export)),
        }
    }
    assert_eq!(by_id.len(), 72 + 3 + 34);

    let mut found = Vec::new();
    for (id, export) in &by_id {
        let id = id.as_str();
        let (status, served) = get(env, &export.kind.path(id), &token).await;
        assert_eq!(status, 200, "{}: {served}", export.file.display());
        let name = export.file.file_name().unwrap().to_string_lossy();
        let mut diff = Vec::new();
        differences(&export.json, &served, "", &mut diff);
        found.extend(diff.into_iter().map(|d| format!("{name}: {d}")));
    }
    assert!(
        found.is_empty(),
        "{} differences:\n{}",
        found.len(),
        found.join("\n")
    );

    // Again: nothing to create or change.
    let again = env
        .state
        .import_tenant(
            &tenant.clone().into(),
            &dir.display().to_string(),
            "tester",
            LockoutGuard::Enforce,
        )
        .await
        .unwrap();
    for k in &again.changes {
        assert!(k.created.is_empty() && k.changed.is_empty(), "{k:?}");
    }
}
