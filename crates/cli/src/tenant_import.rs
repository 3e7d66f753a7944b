//! `portcullis tenant import PATH [--dry-run] [--force]`: a tenant from Graph exports (and
//! roles' settings exported beside it) into the store, through the application core's import
//! service (its plan, the rule checks of role settings, the lockout guard, the audit entry).

use crate::service::{load_config, StoreArgs};
use anyhow::{Context, Result};
use app::conditional_access::LockoutGuard;
use app::tenant_import::{Import, ImportError, KindChanges, RoleSettingsImport};
use app::{Clock, Core};
use policy::{validate, Engine, Severity};
use std::path::Path;
use std::process::ExitCode;
use store::{Store, StoreError};

/// How many names of created or changed objects are printed per kind.
const NAMES_SHOWN: usize = 20;

pub(crate) fn run(
    path: &Path,
    args: &StoreArgs,
    dry_run: bool,
    force: bool,
    by: Option<String>,
) -> Result<ExitCode> {
    let loaded = import::load(path)?;
    if !loaded.unreadable.is_empty() {
        for e in &loaded.unreadable {
            eprintln!("unreadable: {e}");
        }
        eprintln!(
            "refused: {} file(s) of {} could not be read; nothing was imported (a partial \
             tenant would drop what they hold)",
            loaded.unreadable.len(),
            path.display()
        );
        return Ok(ExitCode::from(1));
    }
    let engine = Engine::new(loaded.tenant);
    let errors: Vec<_> = validate(&engine)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    if !errors.is_empty() {
        for f in &errors {
            eprintln!("{f}");
        }
        eprintln!(
            "refused: {} has {} error(s) (see portcullis tenant check); nothing was imported",
            path.display(),
            errors.len()
        );
        return Ok(ExitCode::from(1));
    }
    let imported = Import {
        tenant: engine.tenant().clone(),
        role_settings: loaded
            .role_settings
            .into_iter()
            .map(|r| RoleSettingsImport {
                role_definition_id: r.role_definition_id,
                policy: r.policy,
            })
            .collect(),
    };
    let by = by
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "portcullis".into());
    let config = load_config(args, None, None)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store = Store::open(config.database_url().expose())
            .await
            .context("cannot open the store")?;
        let core = Core::new(store, Clock::default());
        let result = if dry_run {
            dry(&core, &imported).await
        } else {
            let guard = if force {
                LockoutGuard::Override
            } else {
                LockoutGuard::Enforce
            };
            write(&core, &imported, &path.display().to_string(), &by, guard).await
        };
        core.store.close().await;
        result
    })
}

async fn dry(core: &Core, imported: &Import) -> Result<ExitCode> {
    let plan = match core.plan_import(imported).await {
        Ok(plan) => plan,
        Err(e @ ImportError::RoleSettings { .. }) => {
            eprintln!("refused: {e} Nothing would be imported.");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(internal(e)),
    };
    println!("dry run: nothing was written");
    print_changes(&plan.changes);
    match &plan.lockout {
        Some(lockout) => {
            println!(
                "the import would be refused: {}",
                ImportError::Lockout(lockout.clone())
            );
            Ok(ExitCode::from(1))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

async fn write(
    core: &Core,
    imported: &Import,
    source: &str,
    by: &str,
    guard: LockoutGuard,
) -> Result<ExitCode> {
    match core.import_tenant(imported, source, by, guard).await {
        Ok(outcome) => {
            print_changes(&outcome.changes);
            if let Some(lockout) = outcome.forced {
                println!(
                    "warning: imported with --force although no user eligible for Global \
                     Administrator can activate it now (context {}: {}); the audit entry says so",
                    lockout.context,
                    lockout.lacking.join("; ")
                );
            }
            println!("imported; audited as 'Import tenant' by {by}");
            Ok(ExitCode::SUCCESS)
        }
        Err(
            e @ (ImportError::Lockout(_)
            | ImportError::RoleSettings { .. }
            | ImportError::ConcurrentChange
            | ImportError::Store(StoreError::Invalid { .. })),
        ) => {
            eprintln!("refused: {e} Nothing was imported.");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(internal(e)),
    }
}

fn internal(e: ImportError) -> anyhow::Error {
    anyhow::Error::new(e).context("the import could not be checked against the store")
}

fn print_changes(changes: &[KindChanges]) {
    for k in changes {
        println!("{}", k.summary());
        for (verb, names) in [("create", &k.created), ("change", &k.changed)] {
            for name in names.iter().take(NAMES_SHOWN) {
                println!("  {verb} {name}");
            }
            if names.len() > NAMES_SHOWN {
                println!("  … and {} more to {verb}", names.len() - NAMES_SHOWN);
            }
        }
    }
}
