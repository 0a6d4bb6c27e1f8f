//! The `ferrostack` binary: one program that runs a whole OpenStack cloud (`up`), or any
//! subset of its services for split deployments (`serve`), plus the operator commands that
//! OpenStack spreads over `keystone-manage` and friends, and benchmarks.

mod bench;
mod cloud;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ferrostack", version, about = "OpenStack, rebuilt in Rust: one binary, one command, a whole cloud.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Bring up the all-in-one cloud: create the data dir, migrate, bootstrap, serve every
    /// service, write DIR/admin-openrc. Stops cleanly on Ctrl-C / SIGTERM.
    Up(cloud::UpArgs),
    /// Serve a chosen set of services from configuration (split deployments).
    Serve(cloud::ServeArgs),
    /// Database commands.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// What `keystone-manage bootstrap` does: admin user/project/roles, region, identity endpoints.
    Bootstrap(cloud::BootstrapArgs),
    /// Keystone operator commands.
    Keystone {
        #[command(subcommand)]
        command: KeystoneCommand,
    },
    /// Swift operator commands.
    Swift {
        #[command(subcommand)]
        command: SwiftCommand,
    },
    /// Benchmarks (not tests): measure and print throughput and latency.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

#[derive(Subcommand)]
enum SwiftCommand {
    /// `swift-ring-builder`: BUILDER_FILE [create|add|rebalance|set_weight|remove|list|validate|write_ring|...] ARGS
    #[command(name = "ring-builder")]
    RingBuilder {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
}

#[derive(Subcommand)]
enum DbCommand {
    /// Apply a service's migrations to its database (`keystone-manage db_sync` for
    /// keystone.conf, `placement-manage db sync` for placement.conf, `neutron-db-manage
    /// upgrade heads` for neutron.conf).
    Sync(cloud::ConfigArgs),
}

#[derive(Subcommand)]
enum KeystoneCommand {
    /// Rotate the Fernet keys (`keystone-manage fernet_rotate`): the staged key becomes primary.
    FernetRotate(cloud::ConfigArgs),
    /// Create the Fernet key repository if missing (`keystone-manage fernet_setup`).
    FernetSetup(cloud::ConfigArgs),
}

fn main() -> std::process::ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERROSTACK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ferrostack: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Up(a) => cloud::up(a).await,
            Command::Serve(a) => cloud::serve(a).await,
            Command::Db { command: DbCommand::Sync(a) } => cloud::db_sync(a).await,
            Command::Bootstrap(a) => cloud::bootstrap(a).await,
            Command::Keystone { command: KeystoneCommand::FernetRotate(a) } => cloud::fernet_rotate(a).await,
            Command::Keystone { command: KeystoneCommand::FernetSetup(a) } => cloud::fernet_setup(a).await,
            Command::Bench { command } => bench::run(command).await,
            Command::Swift { command: SwiftCommand::RingBuilder { args } } => ring_builder(&args),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain: "database error: ... : duplicate key ..." says what to fix.
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                let text = s.to_string();
                if !msg.contains(&text) {
                    msg.push_str(&format!(": {text}"));
                }
                source = s.source();
            }
            eprintln!("ferrostack: {msg}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs `swift-ring-builder` and prints its output; "done with warnings" exits 1 as upstream.
fn ring_builder(args: &[String]) -> Result<(), CliError> {
    match swift::ring::cli::run_with_status(args) {
        Ok(out) => {
            print!("{}", out.output);
            if out.status.code() != 0 {
                std::process::exit(out.status.code());
            }
            Ok(())
        }
        Err(e) => Err(CliError::Other(e.to_string())),
    }
}

/// Errors of the binary's commands (printed, with a non-zero exit).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Config(#[from] common::config::ConfigError),
    #[error("{0}")]
    Keystone(#[from] keystone::KeystoneError),
    #[error("{0}")]
    Serve(#[from] common::server::ServeError),
    #[error("{context}: {source}")]
    Io { context: String, #[source] source: std::io::Error },
    #[error("{0}")]
    Other(String),
}

/// Where a data dir keeps a service's config file.
pub fn config_path(config_dir: &std::path::Path, service: &str) -> PathBuf {
    config_dir.join(format!("{service}.conf"))
}
