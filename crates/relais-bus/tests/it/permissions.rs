//! The shipped `nats/relais.conf`: each service is confined to its subjects.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use relais_bus::{
    run_consumer, run_consumer_with, Bus, BusConfig, BusError, ConsumerOptions, ConsumerSpec,
    Headers, Outcome, Topology,
};
use relais_testkit::NatsServer;
use tokio_util::sync::CancellationToken;

use crate::helpers::{eventually, test_config, within};

const RELAIS_CONF: &str = include_str!("../../../../nats/relais.conf");
const SERVICES: &[&str] = &["edge", "worker", "audit", "trainer", "monitor", "operator"];

fn password(service: &str) -> String {
    format!("test-{service}-secret")
}

fn start_relais_conf() -> NatsServer {
    let vars: Vec<(String, String)> = SERVICES
        .iter()
        .map(|s| {
            (
                format!("RELAIS_NATS_{}_PASSWORD", s.to_uppercase()),
                password(s),
            )
        })
        .collect();
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    NatsServer::start_with_config_and_env(RELAIS_CONF, &env)
}

fn service_config(server: &NatsServer, service: &str) -> BusConfig {
    let mut cfg = test_config(&server.url())
        .credentials(service, password(service))
        .named(format!("relais-{service}"))
        .inbox_prefix(format!("_INBOX_{service}"));
    cfg.publish_retry_for = Duration::from_secs(2);
    cfg
}

async fn connect(server: &NatsServer, service: &str) -> Bus {
    Bus::connect(&service_config(server, service))
        .await
        .unwrap_or_else(|e| panic!("{service} connects: {e:?}"))
}

#[tokio::test]
async fn services_get_their_subjects_and_nothing_else() {
    let server = start_relais_conf();
    let operator = connect(&server, "operator").await;
    operator
        .ensure_topology(&Topology::relais())
        .await
        .expect("operator declares the topology");
    let mut observer = operator
        .subscribe("events.>")
        .await
        .expect("operator subscribes");
    operator.flush().await.expect("flush");

    // Edge: may enqueue a request and publish feedback (JetStream, PubAck on its inbox)...
    let edge = connect(&server, "edge").await;
    edge.ensure_topology(&Topology::relais().streams_only())
        .await
        .expect("edge checks the streams it publishes to");
    let mut results = edge
        .subscribe("events.translation.*.edge1")
        .await
        .expect("edge subscribes to its results");
    edge.publish(
        "translate.request",
        "req-1",
        &Headers::new(),
        Bytes::from_static(b"{}"),
    )
    .await
    .expect("edge enqueues a request");
    edge.publish(
        "events.feedback.submitted",
        "fb-1",
        &Headers::new(),
        Bytes::from_static(b"{}"),
    )
    .await
    .expect("edge publishes feedback");
    // ...but not announce a model: the server refuses it (an asynchronous -ERR).
    let denied = edge
        .publish(
            "events.model.promoted",
            "evil-1",
            &Headers::new(),
            Bytes::from_static(b"{}"),
        )
        .await
        .expect_err("edge may not promote models");
    match denied {
        BusError::PermissionDenied { subject } => assert_eq!(subject, "events.model.promoted"),
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
    edge.publish_core(
        "events.model.promoted",
        &Headers::new(),
        Bytes::from_static(b"core"),
    )
    .await
    .expect("the client sends; the server drops");
    edge.flush().await.expect("flush");

    let first = within(5, observer.next()).await.expect("feedback seen");
    assert_eq!(first.subject, "events.feedback.submitted");
    let state = operator.stream_state("EVENTS").await.expect("state");
    assert_eq!(state.messages, 1, "only the allowed event was stored");

    // Worker: consumes the work queue through its durable consumer and answers
    // the edge on the edge's result subject.
    let worker = connect(&server, "worker").await;
    let cancel = CancellationToken::new();
    let consuming = {
        let worker = worker.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let responder = worker.clone();
            run_consumer(
                &worker,
                &ConsumerSpec::workers(),
                move |d| {
                    let responder = responder.clone();
                    async move {
                        let ack = responder
                            .publish(
                                "events.translation.completed.edge1",
                                &format!("done-{}", d.stream_sequence()),
                                &d.headers().propagated(),
                                Bytes::from_static(b"{\"translation\":\"Bonjour\"}"),
                            )
                            .await;
                        match ack {
                            Ok(_) => Outcome::Done,
                            Err(_) => Outcome::Retry(Duration::from_millis(100)),
                        }
                    }
                },
                cancel,
            )
            .await
        })
    };
    let result = within(10, results.next())
        .await
        .expect("edge gets its result");
    assert_eq!(result.subject, "events.translation.completed.edge1");
    eventually(5, || async {
        let n = operator
            .stream_state("TRANSLATE")
            .await
            .expect("state")
            .messages;
        (n == 0).then_some(())
    })
    .await;
    cancel.cancel();
    within(10, consuming)
        .await
        .expect("joins")
        .expect("worker allowed to consume");

    // The worker may not write the model registry, nor feedback.
    let err = worker
        .publish(
            "events.feedback.submitted",
            "w-1",
            &Headers::new(),
            Bytes::new(),
        )
        .await
        .expect_err("worker may not publish feedback");
    assert!(matches!(err, BusError::PermissionDenied { .. }), "{err:?}");

    // The monitor may look at the workers' consumer but not take work from it.
    edge.publish(
        "translate.request",
        "req-2",
        &Headers::new(),
        Bytes::from_static(b"{}"),
    )
    .await
    .expect("edge enqueues another request");
    let monitor = connect(&server, "monitor").await;
    let state = monitor
        .consumer_state("TRANSLATE", "workers")
        .await
        .expect("monitor reads consumer lag");
    assert_eq!(state.pending, 1);
    let stolen = Arc::new(AtomicUsize::new(0));
    let cancel = CancellationToken::new();
    let stealing = {
        let monitor = monitor.clone();
        let stolen = stolen.clone();
        let cancel = cancel.clone();
        let options = ConsumerOptions {
            pull_expiry: Duration::from_millis(500),
            ..ConsumerOptions::default()
        };
        tokio::spawn(async move {
            run_consumer_with(
                &monitor,
                &ConsumerSpec::workers(),
                options,
                move |_| {
                    let stolen = stolen.clone();
                    async move {
                        stolen.fetch_add(1, Ordering::SeqCst);
                        Outcome::Done
                    }
                },
                cancel,
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cancel.cancel();
    let _ = within(10, stealing).await.expect("joins");
    assert_eq!(stolen.load(Ordering::SeqCst), 0, "monitor pulled a request");
    let state = operator.stream_state("TRANSLATE").await.expect("state");
    assert_eq!(state.messages, 1, "the request is still queued for workers");

    // Nothing the denied publishes carried reached the log.
    let state = operator.stream_state("EVENTS").await.expect("state");
    assert_eq!(state.messages, 2, "feedback + completion only");
}

#[tokio::test]
async fn the_audit_answers_the_edge_lookups_and_only_the_edge_may_ask() {
    let server = start_relais_conf();
    let audit = connect(&server, "audit").await;
    let mut lookups = audit
        .queue_subscribe("audit.lookup.translation", "audit")
        .await
        .expect("audit subscribes to lookups");
    audit.flush().await.expect("flush");
    let answering = {
        let audit = audit.clone();
        tokio::spawn(async move {
            while let Some(message) = lookups.next().await {
                let reply = message.reply.expect("a reply subject");
                // allow_responses: the audit may publish to the asker's inbox.
                audit
                    .respond(&reply, Bytes::from_static(b"{\"known\":false}"))
                    .await
                    .expect("respond");
            }
        })
    };
    let edge = connect(&server, "edge").await;
    let answer = edge
        .request(
            "audit.lookup.translation",
            Bytes::from_static(b"{}"),
            Duration::from_secs(5),
        )
        .await
        .expect("the edge gets the audit's answer on its inbox");
    assert_eq!(&answer[..], b"{\"known\":false}");

    // The worker may not ask: the server drops its request, nothing answers.
    let worker = connect(&server, "worker").await;
    let err = worker
        .request(
            "audit.lookup.translation",
            Bytes::from_static(b"{}"),
            Duration::from_millis(500),
        )
        .await
        .expect_err("worker may not look up translations");
    assert!(err.is_no_answer(), "{err:?}");
    answering.abort();
}

#[tokio::test]
async fn wrong_password_is_an_auth_error() {
    let server = start_relais_conf();
    let mut cfg = service_config(&server, "edge");
    cfg.password = Some(relais_bus::Secret::new("wrong"));
    let err = Bus::connect(&cfg).await.expect_err("refused");
    assert!(matches!(err, BusError::Auth { .. }), "{err:?}");
    assert!(
        !format!("{err:?} {err}").contains("wrong"),
        "password not shown"
    );
}

#[tokio::test]
async fn the_trainer_writes_the_model_registry_and_workers_read_it() {
    let server = start_relais_conf();
    let trainer = connect(&server, "trainer").await;
    let models = trainer
        .kv_bucket("MODELS", 10)
        .await
        .expect("trainer creates MODELS");
    let artifacts = trainer
        .object_bucket("MODEL_ARTIFACTS")
        .await
        .expect("trainer creates MODEL_ARTIFACTS");
    let weights: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    artifacts
        .put("v1/weights.safetensors", &weights)
        .await
        .expect("trainer uploads weights");
    models
        .put("production", Bytes::from_static(b"v1"))
        .await
        .expect("trainer sets the alias");

    // The worker watches the alias and downloads the artifact with read-only rights.
    let worker = connect(&server, "worker").await;
    let models = worker
        .kv_bucket("MODELS", 10)
        .await
        .expect("worker opens MODELS");
    let mut alias = models
        .watch_with_current("production")
        .await
        .expect("worker watches the alias");
    let current = within(5, alias.next()).await.expect("current").expect("ok");
    assert_eq!(current.value, Bytes::from_static(b"v1"));
    assert_eq!(
        models.get("production").await.expect("get"),
        Some(Bytes::from_static(b"v1"))
    );
    let artifacts = worker
        .object_bucket("MODEL_ARTIFACTS")
        .await
        .expect("worker opens MODEL_ARTIFACTS");
    let got = within(10, artifacts.get("v1/weights.safetensors"))
        .await
        .expect("worker downloads");
    assert!(got == weights, "artifact bytes differ");

    // A promotion reaches the watching worker.
    trainer
        .kv_bucket("MODELS", 10)
        .await
        .expect("reopen")
        .put("production", Bytes::from_static(b"v2"))
        .await
        .expect("promote");
    let next = within(5, alias.next()).await.expect("change").expect("ok");
    assert_eq!(next.value, Bytes::from_static(b"v2"));

    // Neither the worker nor the edge may write the registry.
    let edge = connect(&server, "edge").await;
    for (who, bus) in [("worker", &worker), ("edge", &edge)] {
        let err = bus
            .publish(
                "$KV.MODELS.production",
                &format!("{who}-hijack"),
                &Headers::new(),
                Bytes::from_static(b"evil"),
            )
            .await
            .expect_err("registry is read-only for them");
        assert!(
            matches!(err, BusError::PermissionDenied { .. }),
            "{who}: {err:?}"
        );
    }
    assert_eq!(
        models.get("production").await.expect("get"),
        Some(Bytes::from_static(b"v2"))
    );
}
