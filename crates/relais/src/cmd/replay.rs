//! `relais replay`: thin wiring around `relais_replay`. Reads the `EVENTS`
//! stream through an ordered ephemeral consumer (no durable consumer moves)
//! and exports it, rebuilds an audit database from it, scores a candidate
//! model on the recorded requests, or (only when asked) republishes it.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{ArgGroup, Args, ValueEnum};
use relais_audit::Store;
use relais_bus::Bus;
use relais_config::Settings;
use relais_replay::{RebuildReport, ReplayQuery};

/// Where replayed events go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// One JSON object per line: `{"seq","time","subject","event"}`.
    Jsonl,
    /// A SQL database, written as the audit service writes it.
    Audit,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("action").required(true).args(["to", "shadow_model", "republish"])))]
pub struct ReplayArgs {
    /// Start at this time (RFC 3339, e.g. 2026-12-04T10:00:00Z).
    #[arg(long, value_name = "TIME", conflicts_with = "from_seq")]
    since: Option<String>,
    /// Start at this stream sequence.
    #[arg(long, value_name = "N")]
    from_seq: Option<u64>,
    /// End (inclusive) at this time (RFC 3339) or stream sequence (digits);
    /// default: the last event when the replay starts.
    #[arg(long, value_name = "TIME|SEQ")]
    until: Option<String>,
    /// Only events on subjects matching this filter (e.g. `events.translation.>`).
    #[arg(long, value_name = "FILTER")]
    subject: Option<String>,
    /// The stream to read.
    #[arg(long, default_value = relais_replay::EVENTS_STREAM, value_name = "NAME")]
    stream: String,
    /// Export (`jsonl`, with FILE) or rebuild a database (`audit`, with --database).
    #[arg(long, value_enum)]
    to: Option<Target>,
    /// The JSONL file to write (`-`: stdout); written to a temporary file, then renamed.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// The database to rebuild (PostgreSQL or SQLite URL).
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Re-translate the completed requests of the range with the model in DIR
    /// and print BLEU/chrF against production and the user corrections.
    #[arg(long, value_name = "DIR")]
    shadow_model: Option<PathBuf>,
    /// Publish the selected events again, with fresh ids carrying `originalid`.
    #[arg(long)]
    republish: bool,
}

pub async fn run(args: ReplayArgs, settings: Settings) -> anyhow::Result<()> {
    let query = relais_replay::query(
        &args.stream,
        args.since.as_deref(),
        args.from_seq,
        args.until.as_deref(),
        args.subject.as_deref(),
    )?;
    let bus = Bus::connect(&settings.nats)
        .await
        .with_context(|| format!("connecting to NATS at {}", settings.nats.url))?;
    match (args.to, args.shadow_model, args.republish) {
        (Some(Target::Jsonl), _, _) => {
            let file = args
                .file
                .context("--to jsonl needs a FILE to write (`-` for stdout)")?;
            export(&bus, &query, &file).await
        }
        (Some(Target::Audit), _, _) => {
            let url = args.database.context("--to audit needs --database URL")?;
            rebuild(&bus, &query, &url).await
        }
        (None, Some(dir), _) => {
            let candidate = relais_worker::Translator::load(&dir)
                .with_context(|| format!("loading the candidate model {}", dir.display()))?;
            let report = relais_replay::shadow(&bus, &query, &candidate).await?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        (None, None, true) => {
            let report = relais_replay::republish(&bus, &query).await?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        (None, None, false) => anyhow::bail!("give --to, --shadow-model or --republish"),
    }
}

async fn export(bus: &Bus, query: &ReplayQuery, file: &Path) -> anyhow::Result<()> {
    let count = if file == Path::new("-") {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let count = relais_replay::export_jsonl(bus, query, &mut out, file).await?;
        out.flush().context("writing to stdout")?;
        count
    } else {
        relais_replay::export_jsonl_file(bus, query, file).await?
    };
    eprintln!("exported {count} events to {}", file.display());
    Ok(())
}

async fn rebuild(bus: &Bus, query: &ReplayQuery, url: &str) -> anyhow::Result<()> {
    let store = Store::connect(url).await.context("opening the database")?;
    let progress = |r: &RebuildReport| {
        if r.read.is_multiple_of(500) && r.read > 0 {
            eprintln!("replayed {} events ({} new)", r.read, r.recorded);
        }
    };
    let report = relais_replay::rebuild_audit(bus, query, &store, progress).await;
    store.close().await;
    let report = report?;
    eprintln!(
        "replayed {} events: {} recorded, {} already there, {} not events, {} corrections curated, {} orphans",
        report.read, report.recorded, report.duplicates, report.undecodable, report.curated, report.orphans
    );
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
