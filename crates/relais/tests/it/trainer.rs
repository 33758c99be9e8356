//! `relais trainer` killed with SIGKILL mid-run resumes from its checkpoint.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use relais_testkit::NatsServer;

const THINGS: [(&str, &str); 5] = [
    ("cats", "chats"),
    ("dogs", "chiens"),
    ("books", "livres"),
    ("birds", "oiseaux"),
    ("cars", "voitures"),
];

/// `I see N things.` pairs for N in `numbers` and things `things`.
fn tsv(path: &Path, things: std::ops::Range<usize>) {
    let mut text = String::new();
    for n in 1..=12 {
        for t in things.clone() {
            let (en, fr) = THINGS[t];
            text.push_str(&format!("I see {n} {en}.\tJe vois {n} {fr}.\n"));
        }
    }
    std::fs::write(path, text).unwrap();
}

fn relais(dir: &Path, nats: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_relais"));
    cmd.env("RELAIS_NATS__URL", nats)
        .env(
            "RELAIS_AUDIT__DATABASE_URL",
            format!("sqlite://{}/relais.db?mode=rwc", dir.display()),
        )
        .env("RELAIS_TRAINER__WORK_DIR", dir.join("trainer"))
        .env("RELAIS_TRAINER__HELDOUT", dir.join("heldout.tsv"))
        .env("RELAIS_TRAINER__HELDOUT_SENTENCES", "4")
        .env("RELAIS_TRAINER__PRESET", "tiny")
        .env("RELAIS_TRAINER__STEPS", "200")
        .env("RELAIS_TRAINER__BATCH_TOKENS", "256")
        .env("RELAIS_TRAINER__VOCAB_SIZE", "300")
        .env("RELAIS_TRAINER__EVAL_EVERY", "20")
        .env("RELAIS_TRAINER__WARMUP_STEPS", "5")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    cmd
}

fn run_dirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join("trainer/runs"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

fn wait_for(what: &str, within: Duration, mut ready: impl FnMut() -> bool) {
    let until = Instant::now() + within;
    while !ready() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn kill(child: &mut Child) {
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

#[test]
fn a_killed_trainer_resumes_its_run_from_the_checkpoint() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    tsv(&dir.join("train.tsv"), 0..3);
    tsv(&dir.join("heldout.tsv"), 3..5);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let bus = relais_bus::Bus::connect(&relais_bus::BusConfig::with_url(nats.url()))
            .await
            .expect("connect");
        bus.ensure_topology(&relais_bus::Topology::relais().streams_only())
            .await
            .expect("streams");
    });
    let imported = relais(dir, &nats.url())
        .args(["dataset", "import"])
        .arg(dir.join("train.tsv"))
        .status()
        .expect("relais dataset import");
    assert!(imported.success());

    // The dataset is newer than any run: the trainer starts one at once.
    let mut first = relais(dir, &nats.url()).arg("trainer").spawn().unwrap();
    wait_for("a checkpoint", Duration::from_secs(120), || {
        run_dirs(dir)
            .iter()
            .any(|r| r.join("checkpoints/latest").is_file())
    });
    kill(&mut first);
    let runs = run_dirs(dir);
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert!(!run.join("outcome.json").exists(), "killed before the end");
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).unwrap();
    let killed_at: u64 = latest
        .trim()
        .trim_start_matches("step-")
        .parse()
        .expect("a step number");

    let mut second = relais(dir, &nats.url()).arg("trainer").spawn().unwrap();
    wait_for(
        "the resumed run's outcome",
        Duration::from_secs(300),
        || run.join("outcome.json").is_file(),
    );
    kill(&mut second);
    assert_eq!(run_dirs(dir).len(), 1, "the same run continued");
    let outcome: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("outcome.json")).unwrap()).unwrap();
    assert_eq!(outcome["result"]["steps"], 200, "{outcome}");
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("metrics.json")).unwrap()).unwrap();
    let steps: Vec<u64> = metrics["train"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["step"].as_u64().unwrap())
        .collect();
    assert!(
        steps.windows(2).all(|w| w[0] < w[1]),
        "one continuous curve: {steps:?}"
    );
    assert!(killed_at > 0 && killed_at < 200, "{killed_at}");
    assert!(steps.iter().any(|&s| s > killed_at), "{steps:?}");
}
