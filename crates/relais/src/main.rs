//! `relais`: the one binary of the system. Each service and operator task is a
//! subcommand; this file only parses the command line, loads configuration,
//! installs telemetry and dispatches.
//!
//! Layout:
//! - `cmd::dev`: `relais dev`, the whole stack on one machine.
//! - `cmd::bench`: `relais bench http`, load on the edge and the bus overhead.
//! - `cmd::config`: `relais config show|defaults`.
//! - `cmd::edge`: `relais edge`, the HTTP front.
//! - `cmd::audit`: `relais audit`, every event into SQL.
//! - `cmd::worker`: `relais worker`, translation requests through the model.
//! - `cmd::monitor`: `relais monitor`, scheduled health checks and e-mail pages.
//! - `cmd::trainer`: `relais trainer`, continuous training and promotion.
//! - `cmd::dataset`: `relais dataset import|export|stats|announce`.
//! - `cmd::registry`: `relais model list|show|register|promote|rollback`.
//! - `cmd::replay`: `relais replay`, the EVENTS stream exported, rebuilt into SQL, or
//!   replayed against a candidate model.

mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use relais_config::Settings;

/// Relais: English→French translation over NATS JetStream.
#[derive(Debug, Parser)]
#[command(name = "relais", version, about, propagate_version = true)]
struct Cli {
    /// A TOML file layered over the embedded defaults (see `relais config defaults`).
    #[arg(long, global = true, env = "RELAIS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole system on this machine: a local nats-server when none
    /// answers, the streams, and every service. Ctrl-C stops all of it.
    Dev,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(cmd::config::ConfigCommand),
    /// Serve the website, the JSON API and the LibreTranslate-compatible API
    /// (`[edge]` settings); translations go to workers over NATS.
    Edge,
    /// Record every event of the EVENTS stream in SQL (`[audit]` settings),
    /// curate corrections into the dataset and announce dataset versions.
    Audit,
    /// Translate requests from the TRANSLATE work queue with the model in
    /// `[worker] model_dir`; run several to share the load.
    Worker,
    /// Check the running system on a schedule (`[monitor]` settings): publish
    /// every result as an event and page by e-mail when a check keeps failing.
    Monitor,
    /// Retrain when the dataset changes (or on a schedule), judge each
    /// candidate against production on the held-out test split, register it
    /// and promote it only when better (`[trainer]` settings).
    Trainer,
    /// Operator commands on the training dataset.
    #[command(subcommand)]
    Dataset(cmd::dataset::DatasetCommand),
    /// Read the EVENTS stream by time or sequence (ordered ephemeral consumer,
    /// publishes nothing unless --republish): export it as JSONL, rebuild an
    /// audit database, or score a candidate model on the recorded requests.
    Replay(cmd::replay::ReplayArgs),
    #[command(flatten)]
    ModelTools(cmd::model::ModelCommand),
    /// The model registry on NATS: list, show, register, promote, roll back.
    #[command(subcommand)]
    Model(cmd::registry::RegistryCommand),
    /// Benchmarks against a running system (never part of `just test`).
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
    /// Copy a model directory with f16 (shipped form) or f32 weights.
    Export(cmd::export::ExportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.is::<cmd::dataset::NotAnnounced>() {
                ExitCode::from(cmd::dataset::EXIT_NOT_ANNOUNCED)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref()).context("loading configuration")?;
    relais_telemetry::init_logging(&settings.telemetry)?;
    match cli.command {
        Command::Dev => tokio_runtime()?.block_on(cmd::dev::run(settings)),
        Command::Config(command) => cmd::config::run(command, &settings),
        Command::Edge => tokio_runtime()?.block_on(cmd::edge::run(settings)),
        Command::Audit => tokio_runtime()?.block_on(cmd::audit::run(settings)),
        Command::Worker => tokio_runtime()?.block_on(cmd::worker::run(settings)),
        Command::Monitor => tokio_runtime()?.block_on(cmd::monitor::run(settings)),
        Command::Trainer => tokio_runtime()?.block_on(cmd::trainer::run(settings)),
        Command::Dataset(command) => {
            tokio_runtime()?.block_on(cmd::dataset::run(command, settings))
        }
        Command::Replay(args) => tokio_runtime()?.block_on(cmd::replay::run(args, settings)),
        Command::ModelTools(command) => cmd::model::run(command),
        Command::Model(command) => tokio_runtime()?.block_on(cmd::registry::run(command, settings)),
        Command::Export(args) => cmd::export::run(args),
        Command::Bench(command) => tokio_runtime()?.block_on(cmd::bench::run(command)),
    }
}

fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
