//! `portcullis`: the command line of the Portcullis identity provider.

mod check;
mod whatif;

use clap::{Parser, Subcommand};
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Whatif {
            tenant,
            request,
            at,
            force,
        } => whatif::run(&tenant, &request, at.as_deref(), force),
        Command::Tenant {
            command: TenantCommand::Check { path, json },
        } => check::run(&path, json),
        Command::Tenant {
            command: TenantCommand::Export { path },
        } => check::export(&path),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
