//! A `relais worker` process SIGKILLed while it holds a request: the request
//! is redelivered to another worker process and the HTTP caller still gets
//! its translation within the edge's timeout.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use relais_bus::{Bus, BusConfig, Topology};
use relais_testkit::NatsServer;

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .expect("bind a free port")
        .local_addr()
        .expect("local addr")
        .port()
}

fn relais(nats: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_relais"));
    cmd.args(args)
        .env("RELAIS_NATS__URL", nats)
        .env(
            "RELAIS_WORKER__MODEL_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/default"),
        )
        .env("RELAIS_WORKER__FOLLOW_REGISTRY", "false")
        // Both workers declare the shared consumer alike: 4 s ack wait.
        .env("RELAIS_WORKER__ACK_WAIT", "4s")
        .env("RELAIS_WORKER__PROGRESS_EVERY", "1s")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    cmd
}

/// POST /api/translate on the edge; the status line and the body.
fn translate(port: u16, text: &str) -> (String, String) {
    let body = format!("{{\"text\":\"{text}\"}}");
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("edge answers");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /api/translate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("a response");
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

fn wait_for(what: &str, within: Duration, mut ready: impl FnMut() -> bool) {
    let until = Instant::now() + within;
    while !ready() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_request_held_by_a_killed_worker_process_is_answered_by_another() {
    let nats = NatsServer::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bus = runtime.block_on(async {
        let bus = Bus::connect(&BusConfig::with_url(nats.url()))
            .await
            .expect("connect");
        bus.ensure_topology(&Topology::relais().streams_only())
            .await
            .expect("streams");
        bus
    });
    let held = || {
        runtime
            .block_on(bus.consumer_state("TRANSLATE", "workers"))
            .map(|s| s.ack_pending)
            .unwrap_or(0)
    };
    let port = free_port();
    let mut edge = relais(&nats.url(), &["edge"])
        .env("RELAIS_EDGE__LISTEN", format!("127.0.0.1:{port}"))
        .spawn()
        .unwrap();
    // Worker A waits 3 s to fill a batch: it holds the request, unacked.
    let mut a = relais(&nats.url(), &["worker"])
        .env("RELAIS_WORKER__MAX_WAIT", "3s")
        .spawn()
        .unwrap();
    wait_for("the edge", Duration::from_secs(30), || {
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
    });
    wait_for("worker A's consumer", Duration::from_secs(30), || {
        runtime
            .block_on(bus.consumer_state("TRANSLATE", "workers"))
            .is_ok()
    });
    let caller = std::thread::spawn(move || {
        let started = Instant::now();
        (translate(port, "I love cats."), started.elapsed())
    });
    wait_for(
        "worker A to hold the request",
        Duration::from_secs(10),
        || held() == 1,
    );
    kill(&mut a);
    let mut b = relais(&nats.url(), &["worker"]).spawn().unwrap();
    let ((status, body), took) = caller.join().expect("caller");
    kill(&mut b);
    kill(&mut edge);
    assert!(status.contains("200"), "{status}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        !json["translation"].as_str().unwrap_or_default().is_empty(),
        "{json}"
    );
    assert!(
        took < Duration::from_secs(10),
        "within the edge timeout: {took:?}"
    );
}
