//! `relais model list|show|register|promote|rollback`: the model registry on
//! NATS (KV bucket `MODELS`, object store `MODEL_ARTIFACTS`) for operators.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use relais_bus::Bus;
use relais_config::Settings;
use relais_registry::{ModelVersion, Registration, Registry};

/// Registry subcommands.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Every registered version, oldest first; `*` marks production.
    List,
    /// One version: metrics, provenance, files and checksums (JSON).
    Show { version: String },
    /// Upload a model directory as a new version (not promoted).
    Register {
        dir: PathBuf,
        /// A note stored with the version.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Make VERSION production; workers switch to it without dropping requests.
    Promote {
        version: String,
        /// Why (recorded in the event and the audit log).
        #[arg(long, default_value = "promoted by an operator")]
        reason: String,
    },
    /// Make the previous production version production again.
    Rollback {
        #[arg(long, default_value = "rolled back by an operator")]
        reason: String,
    },
}

fn actor() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "operator".into())
}

async fn open(settings: &Settings) -> anyhow::Result<Registry> {
    let bus = Bus::connect(&settings.nats)
        .await
        .with_context(|| format!("connecting to NATS at {}", settings.nats.url))?;
    Registry::open(&bus)
        .await
        .context("opening the model registry")
}

fn fmt_metric(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.2}"))
}

/// Runs a registry subcommand.
pub async fn run(cmd: RegistryCommand, settings: Settings) -> anyhow::Result<()> {
    let registry = open(&settings).await?;
    match cmd {
        RegistryCommand::List => {
            let production = registry.production().await?;
            let versions = registry.list().await?;
            if versions.is_empty() {
                println!("no model versions registered");
            }
            println!(
                "  {:<16} {:<20} {:>7} {:>7} {:>9} {:>7} {:<10}",
                "VERSION", "CREATED", "BLEU", "CHRF", "TEST BLEU", "DATASET", "BY"
            );
            for v in versions {
                let mark = if production.as_deref() == Some(v.version.as_str()) {
                    '*'
                } else {
                    ' '
                };
                println!(
                    "{mark} {:<16} {:<20} {:>7} {:>7} {:>9} {:>7} {:<10}",
                    v.version,
                    v.created_at.format("%Y-%m-%d %H:%M:%S"),
                    fmt_metric(v.metrics.bleu),
                    fmt_metric(v.metrics.chrf),
                    fmt_metric(v.metrics.test_bleu),
                    v.dataset_version,
                    v.registered_by
                );
            }
        }
        RegistryCommand::Show { version } => {
            let entry = registry
                .version(&version)
                .await?
                .with_context(|| format!("no model version {version} in the registry"))?;
            println!("{}", serde_json::to_string_pretty(&entry)?);
        }
        RegistryCommand::Register { dir, note } => {
            let entry = register(&registry, &dir, &actor(), &note).await?;
            println!("{}", entry.version);
        }
        RegistryCommand::Promote { version, reason } => {
            let event = registry.promote(&version, &actor(), &reason).await?;
            println!(
                "{} is production (previous: {})",
                event.version,
                event.previous.as_deref().unwrap_or("none")
            );
        }
        RegistryCommand::Rollback { reason } => {
            let event = registry.rollback(&actor(), &reason).await?;
            println!(
                "rolled back: {} is production again (was {})",
                event.to_version, event.from_version
            );
        }
    }
    Ok(())
}

/// Registers the model directory `dir` on behalf of `by`.
pub async fn register(
    registry: &Registry,
    dir: &Path,
    by: &str,
    note: &str,
) -> anyhow::Result<ModelVersion> {
    registry
        .register(
            dir,
            Registration {
                registered_by: by.to_owned(),
                note: note.to_owned(),
                ..Registration::default()
            },
        )
        .await
        .with_context(|| format!("registering {}", dir.display()))
}

/// `relais dev` on first start: registers `model_dir` and makes it
/// production when nothing is. Later starts change nothing.
pub async fn seed(bus: &Bus, model_dir: &Path) -> anyhow::Result<()> {
    let registry = Registry::open(bus)
        .await
        .context("opening the model registry")?;
    if let Some(version) = registry.production().await? {
        tracing::info!(%version, "model registry already has a production version");
        return Ok(());
    }
    let entry = register(&registry, model_dir, "dev", "seeded by relais dev").await?;
    registry
        .promote(
            &entry.version,
            "dev",
            "first start: the shipped default model",
        )
        .await?;
    println!(
        "Model registry seeded: {} ({}) is production.",
        entry.version,
        model_dir.display()
    );
    Ok(())
}
