//! `relais dataset import|export|stats|announce`: thin wiring around
//! `relais_audit::dataset`.
//!
//! `import` commits first, then announces the new version on NATS. When NATS
//! cannot be reached the import stays committed, the command says so and
//! exits with status 3 ([`NotAnnounced`]); `relais dataset announce` publishes
//! the latest version later (re-running the import adds nothing, so it would
//! announce nothing).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use relais_audit::dataset::{self, CorpusSource};
use relais_audit::{announce, Layout, Store, SOURCE};
use relais_bus::Bus;
use relais_config::Settings;

/// Exit status of an import that committed but could not be announced.
pub const EXIT_NOT_ANNOUNCED: u8 = 3;

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Load a manythings/Tatoeba export (zip or 2/3-column TSV, path or
    /// http(s) URL) into the dataset in one transaction, then announce the
    /// new version. Importing the same data again adds nothing.
    Import {
        /// File path or http(s):// URL.
        source: String,
        #[command(flatten)]
        db: Database,
    },
    /// Write the dataset (every versioned pair) as `english<TAB>french` lines.
    Export {
        /// Where to write the TSV.
        file: PathBuf,
        #[command(flatten)]
        db: Database,
    },
    /// Print pair counts by source and the dataset versions.
    Stats {
        #[command(flatten)]
        db: Database,
    },
    /// Publish `events.dataset.updated` for the latest version again (after an
    /// import whose announcement failed).
    Announce {
        #[command(flatten)]
        db: Database,
    },
}

#[derive(Debug, Args)]
pub struct Database {
    /// Database URL; default: `audit.database_url` from the configuration.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
}

impl Database {
    async fn open(&self, settings: &Settings) -> anyhow::Result<Store> {
        let url = self
            .database
            .as_deref()
            .unwrap_or(settings.audit.database_url.expose());
        Store::connect(url).await.context("opening the database")
    }
}

/// The import committed, but NATS did not take the announcement.
#[derive(Debug, thiserror::Error)]
#[error(
    "dataset version {version} is imported, but announcing it on NATS failed; \
     run `relais dataset announce` once NATS is reachable"
)]
pub struct NotAnnounced {
    pub version: i64,
}

pub async fn run(command: DatasetCommand, settings: Settings) -> anyhow::Result<()> {
    match command {
        DatasetCommand::Import { source, db } => {
            let store = db.open(&settings).await?;
            let source = CorpusSource::parse(&source);
            let report = dataset::import(&store, &source, true)
                .await
                .with_context(|| {
                    format!("importing {}: nothing was imported", source.describe())
                })?;
            println!(
                "added {} pairs, skipped {} already present; dataset holds {} pairs",
                report.added, report.skipped, report.total_pairs
            );
            let Some(event) = report.to_event() else {
                println!("nothing new: no dataset version written, nothing to announce");
                return Ok(());
            };
            let version = event.dataset_version;
            println!("dataset version {version} written");
            if let Err(e) = publish(&settings, event).await {
                eprintln!("warning: {e:#}");
                return Err(NotAnnounced { version }.into());
            }
            println!("announced dataset version {version} on NATS");
            Ok(())
        }
        DatasetCommand::Export { file, db } => {
            let store = db.open(&settings).await?;
            let lines = dataset::export(&store, &file).await?;
            println!("wrote {lines} pairs to {}", file.display());
            Ok(())
        }
        DatasetCommand::Stats { db } => {
            let store = db.open(&settings).await?;
            print!("{}", dataset::format_stats(&store.stats().await?));
            Ok(())
        }
        DatasetCommand::Announce { db } => {
            let store = db.open(&settings).await?;
            let event = dataset::latest_version(&store)
                .await?
                .context("the dataset has no version yet: nothing to announce")?;
            let version = event.dataset_version;
            publish(&settings, event).await?;
            println!("announced dataset version {version} on NATS");
            Ok(())
        }
    }
}

async fn publish(settings: &Settings, event: relais_audit::DatasetUpdated) -> anyhow::Result<()> {
    let bus = Bus::connect(&settings.nats)
        .await
        .with_context(|| format!("connecting to NATS at {}", settings.nats.url))?;
    announce(&bus, &Layout::relais(), SOURCE, event)
        .await
        .context("publishing events.dataset.updated")
}
