//! `portcullis`: the command line of the Portcullis identity provider.

mod audit;
mod backup;
mod check;
mod clients;
mod lint;
mod preflight;
mod service;
mod settings;
mod signins;
mod tenant_import;
mod whatif;

use clap::{Parser, Subcommand};
use service::{ServeArgs, StoreArgs};
use std::path::PathBuf;
use std::process::ExitCode;

/// Portcullis: self-hosted identity provider and just-in-time privileged access.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate a sign-in against a tenant's Conditional Access policies (What-If).
    ///
    /// Reads a Microsoft Graph `POST /identity/conditionalAccess/evaluate` body, extended with an
    /// `authenticationSession` (the methods the user performed and when), and prints every
    /// policy's applicability, analysis reasons and result, then the decision: grant, challenge
    /// (with what is still required) or block. See docs/whatif.md.
    Whatif {
        /// Tenant: one JSON document, or a folder of Graph exports.
        #[arg(long, value_name = "PATH")]
        tenant: PathBuf,
        /// The evaluate request (JSON, UTF-8 or UTF-16 with BOM).
        #[arg(long, value_name = "FILE")]
        request: PathBuf,
        /// Evaluate as of this moment (RFC 3339, e.g. 2026-11-21T09:00:00Z); default: now.
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        /// Evaluate even when some tenant files are unreadable or the tenant has validation
        /// errors; they are listed on standard error.
        #[arg(long)]
        force: bool,
    },
    /// Work with tenant files.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Run the identity provider (OIDC, sign-in pages, security info) until Ctrl-C or SIGTERM.
    ///
    /// Configuration layers, later wins: defaults, the --config file, PORTCULLIS_* environment
    /// variables, these flags. Logs go to standard error; RUST_LOG filters them (default: info).
    Serve {
        #[command(flatten)]
        args: ServeArgs,
        /// Also set up the demo tenant, as `portcullis demo` does.
        #[arg(long)]
        demo: bool,
    },
    /// Run the identity provider with a demo tenant to try it: `serve --demo`.
    ///
    /// The first start creates five demo users (an ordinary user, eligible and active
    /// administrators, a break-glass account), three Conditional Access policies (MFA for
    /// everyone; phishing-resistant MFA every time for context c1, PIM activation; MFA every time
    /// for c2) and the demo client, then prints how to sign in. Passwords and TOTP secrets are
    /// random; they are saved in DATA_DIR/demo-credentials.json, readable by you only. Later
    /// starts keep the tenant and print the instructions again.
    ///
    /// With no issuer configured and a loopback listen address, the issuer is
    /// http://localhost:PORT, so that passkeys work (WebAuthn needs a host name).
    #[command(args_conflicts_with_subcommands = true)]
    Demo {
        #[command(flatten)]
        args: ServeArgs,
        #[command(subcommand)]
        command: Option<DemoCommand>,
    },
    /// Print a commented example configuration file (every value is the default).
    DefaultConfig,
    /// Manage the OIDC clients (relying parties) kept in the store.
    ///
    /// Clients listed in the configuration file are registered at every start and replace a
    /// stored client of the same id.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Read the sign-in log, newest first: each attempt with its result, methods, failure
    /// reason and every Conditional Access policy's result (appliedConditionalAccessPolicies).
    Signins {
        /// Only this user's (sign-in name).
        #[arg(long, value_name = "UPN")]
        user: Option<String>,
        /// Only `success`, `failure` or `interrupted`.
        #[arg(long, value_name = "RESULT")]
        result: Option<String>,
        /// Only at or after this time (RFC 3339).
        #[arg(long, value_name = "RFC3339")]
        since: Option<String>,
        /// At most this many [default: 50].
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print Graph-shaped JSON (signIn resources) instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Lint the posture: role settings whose activation is weaker than it looks, and Conditional
    /// Access that lets claim checks, SMS codes or lockouts through.
    ///
    /// Every directory role's settings (stored, or the defaults) are linted: an activation that
    /// requires only MultiFactorAuthentication is a claim check (any MFA in the session, or a
    /// replayed token, activates without a prompt). The Conditional Access configuration is
    /// linted: contexts whose enabled policies require no authentication strength, contexts no
    /// enabled policy targets (they fall back to MFA), SMS/voice allowed for privileged access
    /// (policies on directory roles or on contexts role activation requires), and enabled
    /// policies that do not exclude the break-glass accounts. Exits with 1 when a finding is an
    /// error, 2 when the lint cannot run.
    Lint {
        /// A break-glass account (sign-in name or user id) or group (id), which every enabled
        /// policy should exclude. Repeat for several.
        #[arg(long = "break-glass", value_name = "UPN_OR_GROUP_ID")]
        break_glass: Vec<String>,
        /// Print the findings as JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Pre-flight a role's activation or a policy: every targeted user with no registered method
    /// that satisfies the required authentication strength.
    ///
    /// --role: the context the role's activation requires, the enabled policies targeting it and
    /// their strengths, checked for each user eligible for the role (directly or through
    /// groups). --policy (in any state, so that it can be checked before it is enabled): its
    /// strength, checked for each user it includes (all users, users, groups, roles). A user can
    /// satisfy a strength when all the methods of one of its combinations are registered. For
    /// each who cannot: what they have, what would do and what to register. Exits with 0 when
    /// everyone can, 1 when someone cannot, 2 when there is nothing to pre-flight (a role whose
    /// activation needs no strength is an MFA claim check) or the input is unusable.
    Preflight {
        /// The role, by template id or name (e.g. "Global Administrator").
        #[arg(long, value_name = "ROLE_ID_OR_NAME")]
        role: Option<String>,
        /// The Conditional Access policy, by id.
        #[arg(long, value_name = "POLICY_ID")]
        policy: Option<String>,
        /// A break-glass account (sign-in name or user id) or group (id), shown apart. Repeat
        /// for several.
        #[arg(long = "break-glass", value_name = "UPN_OR_GROUP_ID")]
        break_glass: Vec<String>,
        /// Print the report as JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Check or read the audit log (directoryAudits), append-only and hash-chained.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Read or change the tenant's settings (each change is audited).
    Settings {
        #[command(subcommand)]
        command: SettingsCommand,
    },
    /// Copy the SQLite database to FILE while the service runs (a consistent snapshot).
    ///
    /// FILE must not exist: a backup never overwrites. On PostgreSQL use pg_dump (see
    /// docs/operations.md).
    Backup {
        /// Where to write the backup.
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Put a backup made by `portcullis backup` in place of the SQLite database.
    ///
    /// Stop the service first. The backup is checked before the database is touched (a
    /// Portcullis database this build can read, older schemas migrated; its audit chain
    /// verified); a failed restore leaves the database as it was. The backup file itself is
    /// never written.
    Restore {
        /// The backup to restore.
        file: PathBuf,
        /// Replace an existing database (and ignore signs that it is open).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum SettingsCommand {
    /// Print every setting with its value, and who changed it when.
    Show {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Change a setting. `registrationProvenance`: `enforced` (the default: a privileged user's
    /// passkey or security key counts for a phishing-resistant strength only when it was
    /// registered with a phishing-resistant credential or an administrator's temporary access
    /// pass) or `relaxed` (any registration counts; `portcullis lint` flags it).
    Set {
        /// The setting's name.
        name: String,
        /// Its new value.
        value: String,
        /// Who is changing it, for the audit log [default: the operating-system user].
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain and report the first entry where it breaks (changed, removed,
    /// reordered or cut-off entries). Exits with 1 when the chain is broken, 2 when the log
    /// cannot be read.
    Verify {
        /// Print the result as JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the entries, newest first.
    List {
        /// At most this many [default: 50].
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print Graph-shaped JSON (directoryAudit resources, with their `seq`) instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum DemoCommand {
    /// Print a demo user's current TOTP code (a demo convenience: what an authenticator app
    /// would show).
    ///
    /// Reads the secret from DATA_DIR/demo-credentials.json, which `portcullis demo` wrote.
    /// A code is accepted once: for another sign-in in the same 30 seconds, wait for the next.
    Totp {
        /// The demo user, e.g. alice@demo.portcullis.test.
        upn: String,
        /// Configuration file, to find the data directory.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The demo's data directory [default: data].
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Register a client. A public client (the default) has no secret and must use PKCE S256; a
    /// confidential one gets a random secret, printed once (only its hash is kept).
    Add {
        /// The client_id.
        #[arg(long, value_name = "ID")]
        id: String,
        /// An allowed redirect URI, compared exactly: https, http on localhost, or a native
        /// app's reverse-domain scheme. Repeat for several.
        #[arg(long = "redirect-uri", value_name = "URI", required = true)]
        redirect_uris: Vec<String>,
        /// Name shown on the sign-in pages [default: the id].
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// A confidential client (a server-side application that can keep a secret).
        #[arg(long)]
        confidential: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the clients.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove a client, with its unredeemed codes and refresh tokens.
    Remove {
        /// The client_id.
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Load a tenant and report counts, errors, warnings and what will not be enforced.
    ///
    /// Exits with status 1 when a file is unreadable or the tenant has errors.
    Check {
        /// Tenant: one JSON document, or a folder of Graph exports.
        path: PathBuf,
        /// Print the report as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Load a tenant and print it as one JSON document (unknown fields kept).
    Export {
        /// Tenant: one JSON document, or a folder of Graph exports.
        path: PathBuf,
    },
    /// Import a tenant into the store: users, groups with their members, active and eligible
    /// role assignments, Conditional Access policies, named locations, authentication strengths
    /// and contexts, in one transaction, audited.
    ///
    /// Objects are matched by id (in any letter case): a re-import updates, never duplicates;
    /// stored objects the import does not name are left as they are. A tenant with unreadable
    /// files or validation errors (see `tenant check`) is refused, as is an import after which
    /// no user eligible for Global Administrator could activate it (unless --force). Exits with
    /// 1 when refused, 2 when the tenant or the store cannot be read.
    Import {
        /// Tenant: one JSON document, or a folder of Graph exports.
        path: PathBuf,
        /// Print what would be created, changed and left, and whether the lockout guard
        /// objects; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Import even if no eligible Global Administrator could activate the role afterwards
        /// (the audit entry says so).
        #[arg(long)]
        force: bool,
        /// Who is importing, for the audit log [default: the operating-system user].
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The checks (`tenant check`, `lint`, `preflight`, `audit verify`) exit with 1 for their
    // verdict (errors found, someone cannot satisfy the strength, a broken chain) and with 2
    // when they cannot run (unusable input, a store that cannot be read), as the other offline
    // tools do for unusable input. Any other service or store command that fails exits with 1.
    let (result, failure) = match cli.command {
        Command::Whatif {
            tenant,
            request,
            at,
            force,
        } => (whatif::run(&tenant, &request, at.as_deref(), force), 2),
        Command::Tenant {
            command: TenantCommand::Check { path, json },
        } => (check::run(&path, json), 2),
        Command::Tenant {
            command: TenantCommand::Export { path },
        } => (check::export(&path), 2),
        Command::Tenant {
            command:
                TenantCommand::Import {
                    path,
                    dry_run,
                    force,
                    by,
                    store,
                },
        } => (tenant_import::run(&path, &store, dry_run, force, by), 2),
        Command::Serve { args, demo } => (done(service::serve(&args, demo)), 1),
        Command::Demo {
            args,
            command: None,
        } => (done(service::serve(&args, true)), 1),
        Command::Demo {
            command:
                Some(DemoCommand::Totp {
                    upn,
                    config,
                    data_dir,
                }),
            ..
        } => (
            done(service::demo_totp(&upn, config.as_deref(), data_dir)),
            1,
        ),
        Command::DefaultConfig => {
            service::default_config();
            (Ok(ExitCode::SUCCESS), 1)
        }
        Command::Client { command } => {
            let result = match command {
                ClientCommand::Add {
                    id,
                    redirect_uris,
                    name,
                    confidential,
                    store,
                } => clients::add(&store, &id, &redirect_uris, name.as_deref(), confidential),
                ClientCommand::List { json, store } => clients::list(&store, json),
                ClientCommand::Remove { id, store } => clients::remove(&store, &id),
            };
            (done(result), 1)
        }
        Command::Signins {
            user,
            result,
            since,
            limit,
            json,
            store,
        } => {
            let filters = signins::Filters {
                upn: user.as_deref(),
                result: result.as_deref(),
                since: since.as_deref(),
                limit,
            };
            (done(signins::list(&store, &filters, json)), 1)
        }
        Command::Lint {
            break_glass,
            json,
            store,
        } => (lint::run(&store, &break_glass, json), 2),
        Command::Preflight {
            role,
            policy,
            break_glass,
            json,
            store,
        } => (
            preflight::subject_from_flags(role.as_deref(), policy.as_deref())
                .and_then(|subject| preflight::run(&store, &subject, &break_glass, json)),
            2,
        ),
        Command::Audit {
            command: AuditCommand::Verify { json, store },
        } => (audit::verify(&store, json), 2),
        Command::Audit {
            command: AuditCommand::List { limit, json, store },
        } => (done(audit::list(&store, limit, json)), 1),
        Command::Settings {
            command: SettingsCommand::Show { store },
        } => (done(settings::show(&store)), 1),
        Command::Settings {
            command:
                SettingsCommand::Set {
                    name,
                    value,
                    by,
                    store,
                },
        } => (done(settings::set(&store, &name, &value, by)), 1),
        Command::Backup { file, store } => (done(backup::backup(&store, &file)), 1),
        Command::Restore { file, force, store } => (done(backup::restore(&store, &file, force)), 1),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(failure)
        }
    }
}

/// A command that succeeds with exit status 0.
fn done(result: anyhow::Result<()>) -> anyhow::Result<ExitCode> {
    result.map(|()| ExitCode::SUCCESS)
}
