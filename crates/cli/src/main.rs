//! The `tintype` binary: parses the command line, loads the layered config and hands off
//! to a command. `main` only wires; the work is in [`commands`].

mod commands;
mod config;
mod wiring;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Config, Overrides, WorkerOverrides};

/// Tintype: a self-hosted image job server.
#[derive(Debug, Parser)]
#[command(name = "tintype", version, about)]
struct Cli {
    /// TOML config file (default: $TINTYPE_CONFIG, else ./tintype.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory of the embedded default (SQLite file, blobs).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL (sqlite://PATH).
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// API, workers and sweeper in one process (the embedded default).
    Serve(commands::serve::ServeArgs),
    /// The HTTP API alone (scale-out role).
    Api(commands::serve::ServeArgs),
    /// Workers and sweeper alone (scale-out role).
    Worker(commands::serve::ServeArgs),
    /// Applies the database schema and exits.
    Migrate,
    /// Manages API keys.
    #[command(subcommand)]
    Keys(commands::admin::KeysCommand),
    /// Inspects and steers jobs (operators: every tenant).
    #[command(subcommand)]
    Jobs(commands::admin::JobsCommand),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
    /// Runs one job here, without a server, and writes its results to --out.
    #[command(subcommand)]
    Run(commands::run::KindCommand),
    /// Uploads a folder of photos into a server's library (resumable; duplicates skipped
    /// by content without being sent).
    Import(commands::import::ImportArgs),
    /// Submits one job to a running server (--wait: follow it and download the results).
    Submit {
        #[command(flatten)]
        server: commands::run::ServerArgs,
        #[command(subcommand)]
        kind: commands::run::KindCommand,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let serve_args = match &cli.command {
        Command::Serve(a) | Command::Api(a) | Command::Worker(a) => Some(a),
        _ => None,
    };
    let overrides = Overrides {
        listen: serve_args.and_then(|a| a.listen.clone()),
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        worker: serve_args.map(|a| WorkerOverrides {
            queues: a.queues.as_ref().map(|q| q.split(',').map(|s| s.trim().to_owned()).collect()),
            concurrency: a.concurrency,
            kinds: a
                .kinds
                .as_ref()
                .map(|k| k.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()),
        }),
    };
    let config = Config::load(cli.config.as_deref(), overrides)?;
    let quiet = matches!(cli.command, Command::Run(_) | Command::Submit { .. } | Command::Import(_));
    commands::init_logging(&config, if quiet { "warn" } else { "info,sqlx=warn" });
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(_) => commands::serve::run(config, commands::serve::Role::All).await,
            Command::Api(_) => commands::serve::run(config, commands::serve::Role::Api).await,
            Command::Worker(_) => commands::serve::run(config, commands::serve::Role::Worker).await,
            Command::Migrate => commands::admin::migrate(&config).await,
            Command::Keys(cmd) => commands::admin::keys(&config, cmd).await,
            Command::Jobs(cmd) => commands::admin::jobs(&config, cmd).await,
            Command::Bench(cmd) => commands::bench::run(&config, cmd).await,
            Command::Run(cmd) => commands::run::run(&config, cmd).await,
            Command::Submit { server, kind } => commands::run::submit(server, kind).await,
            Command::Import(args) => commands::import::run(args).await,
        }
    })
}
