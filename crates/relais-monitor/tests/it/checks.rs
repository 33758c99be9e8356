//! The NATS-side checks against real streams and a real registry bucket.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use relais_events::names::store::MODELS;
use relais_events::CheckStatus;
use relais_monitor::check::{LAST_TRAINING_KEY, PRODUCTION_ALIAS_KEY};

use crate::helpers::{Stack, Worker, MODEL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_and_backlog_checks_judge_what_is_on_the_server() {
    let stack = Stack::start().await;
    let _worker = Worker::start(&stack.bus);
    let mut events = stack.monitor_events().await;
    let monitor = stack
        .spawn_monitor(stack.monitor_settings(|s| {
            s.deep_every = Duration::from_millis(300);
            // No audit service runs: every event waits on EVENTS/audit.
            s.events_backlog_max = 0;
        }))
        .await;

    // No registry yet: both deep checks pass, and the monitor created nothing.
    let (version, _) = events.check("model_version", CheckStatus::Pass).await;
    assert!(
        version.detail.contains("no registry yet"),
        "{}",
        version.detail
    );
    let (training, _) = events.check("training_fresh", CheckStatus::Pass).await;
    assert!(
        training.detail.contains("no training recorded"),
        "{}",
        training.detail
    );
    assert!(!stack
        .bus
        .stream_exists(&format!("KV_{MODELS}"))
        .await
        .expect("asks"));

    let (backlog, _) = events.check("events_backlog", CheckStatus::Fail).await;
    assert!(
        backlog.detail.contains("EVENTS/audit"),
        "{}",
        backlog.detail
    );
    let (queue, _) = events.check("translate_backlog", CheckStatus::Pass).await;
    assert!(
        queue.detail.contains("TRANSLATE/workers"),
        "{}",
        queue.detail
    );

    // Another model is in production, and the last training is 10 days old.
    let registry = stack.bus.kv_bucket(MODELS, 5).await.expect("bucket");
    registry
        .put(PRODUCTION_ALIAS_KEY, Bytes::from_static(b"v-other"))
        .await
        .expect("put alias");
    let old = (Utc::now() - chrono::TimeDelta::days(10)).to_rfc3339();
    registry
        .put(LAST_TRAINING_KEY, Bytes::from(old))
        .await
        .expect("put last success");
    let (version, _) = events.check("model_version", CheckStatus::Fail).await;
    assert!(
        version.detail.contains(MODEL) && version.detail.contains("v-other"),
        "{}",
        version.detail
    );
    let (training, _) = events.check("training_fresh", CheckStatus::Fail).await;
    assert!(training.detail.contains("240 h ago"), "{}", training.detail);

    // The served model is promoted and the trainer just succeeded.
    registry
        .put(PRODUCTION_ALIAS_KEY, Bytes::from_static(MODEL.as_bytes()))
        .await
        .expect("put alias");
    registry
        .put(LAST_TRAINING_KEY, Bytes::from(Utc::now().to_rfc3339()))
        .await
        .expect("put last success");
    events.check("model_version", CheckStatus::Pass).await;
    events.check("training_fresh", CheckStatus::Pass).await;
    monitor.stop().await;
}
