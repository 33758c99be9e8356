//! `relais bench http`: a load generator for the edge's JSON API, and the
//! bus overhead (HTTP + NATS + worker against the in-process `Translator`).
//! Prints one JSON line; never part of `just test`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
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
