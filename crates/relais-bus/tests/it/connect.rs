//! First connection: fails fast and clearly when nothing listens.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use relais_bus::{Bus, BusError};

use crate::helpers::test_config;

#[tokio::test]
async fn connecting_to_a_port_without_server_fails_fast_with_unreachable() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    let started = Instant::now();
    let err = Bus::connect(&test_config(&url))
        .await
        .expect_err("no server there");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    match err {
        BusError::Unreachable { url: u, .. } => assert_eq!(u, url),
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_listener_that_never_speaks_nats_times_out_as_unreachable() {
    // Accepts TCP connections but never sends the NATS INFO line.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("nats://{}", listener.local_addr().expect("addr"));
    let mut cfg = test_config(&url);
    cfg.connect_timeout = Duration::from_millis(500);
    let started = Instant::now();
    let err = Bus::connect(&cfg).await.expect_err("not a NATS server");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(err, BusError::Unreachable { .. }), "{err:?}");
    drop(listener);
}
