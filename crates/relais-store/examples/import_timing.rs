//! Times a full corpus import, a repeated (idempotent) import and a TSV export.
//!
//! ```text
//! cargo run -p relais-store --example import_timing -- ../shared/data/fra-eng.zip sqlite://var/bench.db?mode=rwc
//! cargo run -p relais-store --example import_timing -- ../shared/data/fra-eng.zip postgres://postgres@127.0.0.1/bench
//! ```
//! Use an empty database: the first import is only a full import there.

use std::time::Instant;

use anyhow::Context;
use relais_events::DatasetSource;
use relais_store::{PairFilter, Store, Table};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(corpus), Some(url)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: import_timing <corpus.zip|tsv> <database url>");
    };
    let started = Instant::now();
    let pairs = relais_text::read_pairs(&corpus).with_context(|| format!("reading {corpus}"))?;
    println!("read {} pairs in {:.2?}", pairs.len(), started.elapsed());

    let store = Store::connect(&url).await.context("connecting")?;
    let started = Instant::now();
    let first = store
        .import_pairs(&pairs, DatasetSource::Tatoeba, &corpus)
        .await?;
    println!(
        "import: added {} skipped {} in {:.2?}",
        first.added,
        first.skipped,
        started.elapsed()
    );

    let started = Instant::now();
    let again = store
        .import_pairs(&pairs, DatasetSource::Tatoeba, &corpus)
        .await?;
    println!(
        "re-import: added {} skipped {} in {:.2?}",
        again.added,
        again.skipped,
        started.elapsed()
    );

    let started = Instant::now();
    let mut sink = tokio::io::sink();
    let lines = store.write_tsv(&mut sink, PairFilter::default()).await?;
    println!("export: {lines} lines in {:.2?}", started.elapsed());
    println!(
        "dataset_pairs rows: {}",
        store.count(Table::DatasetPairs).await?
    );
    store.close().await;
    Ok(())
}
