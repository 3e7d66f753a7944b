//! Tenant exports (`portcullis tenant check` and `tenant import`): a folder of Graph exports read
//! by `import::load_in_memory` (the steps `import::load` takes for each file: decoding,
//! JSON, recognising each object, matching role settings to roles), then what check and import
//! do with it: validation, the engine over the example sign-ins, the lint, the store's form of the
//! tenant, and each role's imported settings applied rule by rule
//! (`app::fuzzing::import_role_settings`).
//!
//! The input is one file (`tenant.json`), or several, each starting with a line `### PATH`
//! (its path in the folder, whose names say what it holds: `ConditionalAccess/…`).
//!
//! Beyond "no panic": the tenant exported (`tenant export`) reads back as itself, the store's
//! form of the tenant is a fixed point, and imported settings pass `check_rule` rule by rule.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::{Engine, Tenant};
use portcullis_fuzz::{example_requests, now};
use std::path::{Path, PathBuf};

/// The files of the input, with their paths under `root`.
fn files(root: &Path, data: &[u8]) -> Vec<(PathBuf, Vec<u8>)> {
    let Some(mut rest) = data.strip_prefix(b"### ") else {
        return vec![(root.join("tenant.json"), data.to_vec())];
    };
    let mut out = Vec::new();
    loop {
        let (file, next) = match rest.windows(5).position(|w| w == b"\n### ") {
            Some(at) => (&rest[..at], Some(&rest[at + 5..])),
            None => (rest, None),
        };
        let (path, bytes) = match file.iter().position(|&b| b == b'\n') {
            Some(at) => (&file[..at], &file[at + 1..]),
            None => (file, &[][..]),
        };
        out.push((
            root.join(String::from_utf8_lossy(path).trim()),
            bytes.to_vec(),
        ));
        match next {
            Some(next) => rest = next,
            None => return out,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let root = Path::new("export");
    let loaded = import::load_in_memory(root, &files(root, data));
    let tenant = &loaded.tenant;
    let exported = serde_json::to_string(tenant).expect("a tenant serializes");
    let reread: Tenant = serde_json::from_str(&exported).expect("an exported tenant reads");
    assert_eq!(&reread, tenant, "exported as {exported}");

    let stored = store::stored_form(tenant);
    assert_eq!(store::stored_form(&stored), stored);

    let engine = Engine::new(tenant.clone());
    let _ = policy::validate(&engine);
    for request in example_requests() {
        let _ = policy::what_if(&engine, request, now());
    }
    let _ = policy::posture::lint_conditional_access(tenant, &[], &[]);

    for settings in &loaded.role_settings {
        let current = pim::RoleManagementPolicy::default_for(&settings.role_definition_id, now());
        if let Ok(written) = app::fuzzing::import_role_settings(&current, &settings.policy, now()) {
            for rule in &written.rules {
                if let Err(e) = pim::check_rule(rule) {
                    panic!("an imported rule does not pass check_rule: {e}: {rule:?}");
                }
            }
            let _ = pim::lint_role_policy(
                &pim::RoleRef::from_id(&settings.role_definition_id),
                &written,
            );
        }
    }
});
