//! `relais bench http`: a load generator for the edge's JSON API, and the
//! bus overhead (HTTP + NATS + worker against the in-process `Translator`).
//! Prints one JSON line; never part of `just test`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use relais_model::infer::search::{translate, SearchOptions};
use serde_json::json;
use tokio::sync::Mutex;

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Load the edge's `POST /api/translate` and report latency percentiles
    /// (of successful answers), throughput and errors (by HTTP status, 0: no
    /// answer) as one JSON line. Raise the edge's per-IP rate limit first
    /// (`RELAIS_EDGE__RATE_LIMIT__PER_SECOND`, `__BURST`) or most requests are 429.
    Http(HttpArgs),
    /// Decode speed of a model directory (or random weights of a preset)
    /// with exactly `--tgt-len` generated tokens per sentence; one JSON line.
    Decode(DecodeArgs),
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// A model directory.
    #[arg(long, value_name = "DIR", required_unless_present = "random")]
    model: Option<PathBuf>,
    /// Instead of a model directory: random weights of this preset
    /// (`base`, `tiny`) with an 8,000-piece vocabulary.
    #[arg(long, value_name = "PRESET", conflicts_with = "model")]
    random: Option<String>,
    /// Sentences decoded together.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Beam width (1: greedy).
    #[arg(long, default_value_t = 1)]
    beam: usize,
    /// Weights in memory: int8 (quantised per channel) or f32.
    #[arg(long, default_value = "int8")]
    precision: relais_model::Precision,
    /// Sentences in total.
    #[arg(long, default_value_t = 256)]
    sentences: usize,
    /// Source tokens per sentence.
    #[arg(long, default_value_t = 12)]
    src_len: usize,
    /// Generated tokens per sentence (EOS ignored).
    #[arg(long, default_value_t = 14)]
    tgt_len: usize,
}

#[derive(Debug, Args)]
pub struct HttpArgs {
    /// The edge's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Requests in total.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// One English sentence per line (cycled); default: a few Tatoeba-like sentences.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Also translate the same sentences one at a time with the in-process
    /// translator of this model directory (the one the workers serve) and
    /// report the bus overhead: HTTP + NATS + worker latency minus that.
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// Requests sent first and not measured.
    #[arg(long, default_value_t = 10)]
    warmup: usize,
}

const DEFAULT_SENTENCES: &[&str] = &[
    "I love cats.",
    "Where is the station?",
    "Tom doesn't know what to do.",
    "We have to leave now.",
    "She is reading a book in the garden.",
    "Can you help me, please?",
    "It's raining today.",
    "I didn't see anything.",
];

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Runs a benchmark.
pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Http(args) => http(args).await,
        BenchCommand::Decode(args) => tokio::task::spawn_blocking(move || decode(args))
            .await
            .context("the decode benchmark task failed")?,
    }
}

async fn http(args: HttpArgs) -> anyhow::Result<()> {
    if args.requests == 0 || args.concurrency == 0 {
        bail!("--requests and --concurrency must be at least 1");
    }
    let sentences: Vec<String> = match &args.file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        None => DEFAULT_SENTENCES.iter().map(|s| (*s).to_owned()).collect(),
    };
    if sentences.is_empty() {
        bail!("no sentences to send");
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .context("building the HTTP client")?;
    let endpoint = format!("{}/api/translate", args.url.trim_end_matches('/'));
    let send = move |text: String| {
        let client = client.clone();
        let endpoint = endpoint.clone();
        async move {
            let started = Instant::now();
            // The HTTP status, or 0 when no answer came back.
            let status = match client
                .post(&endpoint)
                .json(&json!({ "text": text }))
                .send()
                .await
            {
                Ok(r) => {
                    let status = r.status().as_u16();
                    if r.bytes().await.is_ok() {
                        status
                    } else {
                        0
                    }
                }
                Err(_) => 0,
            };
            (status, started.elapsed().as_secs_f64() * 1000.0)
        }
    };
    for i in 0..args.warmup {
        let (status, _) = send(sentences[i % sentences.len()].clone()).await;
        if status != 200 && i == 0 {
            bail!(
                "{}/api/translate does not answer a translation: is `relais dev` running?",
                args.url
            );
        }
    }
    let next = Arc::new(Mutex::new(0usize));
    let results = Arc::new(Mutex::new(Vec::with_capacity(args.requests)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (next, results, sentences) =
            (Arc::clone(&next), Arc::clone(&results), sentences.clone());
        let send = send.clone();
        let total = args.requests;
        tasks.push(tokio::spawn(async move {
            loop {
                let i = {
                    let mut n = next.lock().await;
                    if *n >= total {
                        break;
                    }
                    *n += 1;
                    *n - 1
                };
                let r = send(sentences[i % sentences.len()].clone()).await;
                results.lock().await.push(r);
            }
        }));
    }
    for t in tasks {
        t.await.context("a load task failed")?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let results = results.lock().await;
    let errors = results.iter().filter(|(status, _)| *status != 200).count();
    let mut by_status = std::collections::BTreeMap::<String, usize>::new();
    for (status, _) in results.iter().filter(|(status, _)| *status != 200) {
        *by_status.entry(status.to_string()).or_default() += 1;
    }
    let mut ms: Vec<f64> = results
        .iter()
        .filter(|(status, _)| *status == 200)
        .map(|(_, ms)| *ms)
        .collect();
    ms.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&ms, 50.0), percentile(&ms, 99.0));
    let mut out = json!({
        "url": args.url,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "sentences": sentences.len(),
        "p50_ms": round(p50),
        "p99_ms": round(p99),
        "throughput_rps": round(results.len() as f64 / elapsed),
        "errors": errors,
        "errors_by_status": by_status,
    });
    if let Some(dir) = &args.model {
        let in_process = in_process_latency(dir, &sentences, args.requests.min(200)).await?;
        out["in_process_p50_ms"] = json!(round(in_process.0));
        out["in_process_p99_ms"] = json!(round(in_process.1));
        out["bus_overhead_p50_ms"] = json!(round(p50 - in_process.0));
    }
    println!("{out}");
    Ok(())
}

/// p50 and p99 of translating one sentence at a time in this process.
async fn in_process_latency(
    dir: &std::path::Path,
    sentences: &[String],
    n: usize,
) -> anyhow::Result<(f64, f64)> {
    let dir = dir.to_path_buf();
    let sentences = sentences.to_vec();
    tokio::task::spawn_blocking(move || {
        let translator = relais_worker::Translator::load(&dir)
            .with_context(|| format!("loading {}", dir.display()))?;
        let _ = translator.translate_batch(&sentences[..1]);
        let mut ms = Vec::with_capacity(n);
        for i in 0..n {
            let text = [sentences[i % sentences.len()].clone()];
            let started = Instant::now();
            translator.translate_batch(&text)?;
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        Ok((percentile(&ms, 50.0), percentile(&ms, 99.0)))
    })
    .await
    .context("the in-process benchmark task failed")?
}

/// Peak resident memory of this process (VmHWM), MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn decode(args: DecodeArgs) -> anyhow::Result<()> {
    if args.batch == 0
        || args.beam == 0
        || args.sentences == 0
        || args.src_len == 0
        || args.tgt_len == 0
    {
        bail!("--batch, --beam, --sentences, --src-len and --tgt-len must be at least 1");
    }
    let tmp;
    let dir = match (&args.model, &args.random) {
        (Some(dir), _) => dir.clone(),
        (None, Some(preset)) => {
            tmp = tempfile_dir()?;
            let cfg = relais_model::Config::preset(preset, 8000)?;
            relais_model::artifacts::save_random_model_dir(&tmp, &cfg, 1)?;
            tmp.clone()
        }
        (None, None) => bail!("give --model DIR or --random PRESET"),
    };
    let loading = Instant::now();
    let (engine, _) = relais_model::Engine::load(&dir, args.precision)
        .with_context(|| format!("loading {}", dir.display()))?;
    let load_ms = loading.elapsed().as_secs_f64() * 1000.0;
    let vocab = engine.config().vocab as u64;
    let opts = SearchOptions {
        beam: args.beam,
        length_penalty: 1.0,
        forced_len: Some(args.tgt_len),
    };
    let mut rng = relais_model::batch::SplitMix::new(7);
    let sources: Vec<Vec<u32>> = (0..args.sentences)
        .map(|_| {
            (0..args.src_len)
                .map(|_| (4 + rng.next_u64() % (vocab - 4)) as u32)
                .collect()
        })
        .collect();
    // One untimed batch warms caches and allocators.
    translate(&engine, &sources[..args.batch.min(sources.len())], &opts);
    let mut batch_ms = Vec::new();
    let started = Instant::now();
    for chunk in sources.chunks(args.batch) {
        let t = Instant::now();
        translate(&engine, chunk, &opts);
        batch_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let total = started.elapsed().as_secs_f64();
    batch_ms.sort_by(f64::total_cmp);
    let mut out = json!({
        "model": dir.display().to_string(),
        "batch": args.batch,
        "beam": args.beam,
        "precision": args.precision.to_string(),
        "sentences": args.sentences,
        "src_len": args.src_len,
        "tgt_len": args.tgt_len,
        "tokens_per_s": round((args.sentences * args.tgt_len) as f64 / total),
        "batch_latency_ms_median": round(percentile(&batch_ms, 50.0)),
        "peak_rss_mb": peak_rss_mb().map(round),
        "load_ms": round(load_ms),
        "threads": std::thread::available_parallelism().map(|n| n.get()).ok(),
    });
    if args.batch == 1 {
        out["sentence_latency_ms_median"] = json!(round(percentile(&batch_ms, 50.0)));
        out["sentence_latency_ms_p99"] = json!(round(percentile(&batch_ms, 99.0)));
    }
    println!("{out}");
    if args.model.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// A fresh directory for a random-weight model.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("relais-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }
}
