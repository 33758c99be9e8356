//! `relais dev`: starts NATS when none answers, declares the streams, stops
//! cleanly on a signal; reuses a server that is already running.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use relais_bus::{Bus, BusConfig};
use relais_testkit::NatsServer;

const UP_LINE: &str = "Relais dev stack is up";

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .expect("bind a free port")
        .local_addr()
        .expect("local addr")
        .port()
}

/// Starts `relais dev` and waits for its "up" line (or fails with its output).
fn start_dev(nats_url: &str, data_dir: &std::path::Path) -> (Child, u16) {
    let edge_port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_relais"))
        .arg("dev")
        .env("RELAIS_NATS__URL", nats_url)
        .env("RELAIS_DEV__DATA_DIR", data_dir)
        .env("RELAIS_WORKER__MODEL_CACHE", data_dir.join("models"))
        .env(
            "RELAIS_DEV__METRICS_ADDR",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("RELAIS_EDGE__LISTEN", format!("127.0.0.1:{edge_port}"))
        .env(
            "RELAIS_AUDIT__DATABASE_URL",
            format!("sqlite://{}/relais.db?mode=rwc", data_dir.display()),
        )
        .env(
            "RELAIS_WORKER__MODEL_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/default"),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start relais dev");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(UP_LINE) => return (child, edge_port),
            Ok(_) => continue,
            Err(_) => {
                let _ = child.kill();
                panic!("relais dev did not report `{UP_LINE}` within 30 s");
            }
        }
    }
}

/// The status line of `GET path` on the local port, once it answers (20 s at most).
fn http_status(port: u16, path: &str) -> String {
    for _ in 0..200 {
        if let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) {
            let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
            let mut response = String::new();
            if conn.write_all(request.as_bytes()).is_ok()
                && conn.read_to_string(&mut response).is_ok()
            {
                return response.lines().next().unwrap_or_default().to_string();
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing answered on port {port} within 20 s");
}

fn interrupt_and_wait(child: &mut Child) -> std::process::ExitStatus {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("send SIGINT");
    for _ in 0..300 {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("relais dev did not stop within 30 s of SIGINT");
}

fn streams_exist(url: &str) -> bool {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let bus = Bus::connect(&BusConfig::with_url(url))
            .await
            .expect("connect");
        bus.stream_state("TRANSLATE").await.is_ok() && bus.stream_state("EVENTS").await.is_ok()
    })
}

#[test]
fn dev_starts_nats_when_none_answers_and_stops_it_on_ctrl_c() {
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let data = tempfile::tempdir().expect("tempdir");

    let (mut dev, edge_port) = start_dev(&url, data.path());
    assert!(streams_exist(&url), "TRANSLATE and EVENTS are declared");
    assert!(
        http_status(edge_port, "/healthz").contains(" 200"),
        "the edge started by relais dev answers"
    );
    assert!(
        data.path().join("nats/jetstream").is_dir(),
        "the JetStream store lives under the data dir"
    );

    let status = interrupt_and_wait(&mut dev);
    assert!(status.success(), "clean exit on Ctrl-C, got {status}");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the nats-server child stopped with the stack"
    );

    // A second start reuses the store: the streams are still there.
    let (mut dev, _) = start_dev(&url, data.path());
    assert!(streams_exist(&url));
    assert!(interrupt_and_wait(&mut dev).success());
}

#[test]
fn dev_uses_a_running_server_and_leaves_it_running() {
    let nats = NatsServer::start();
    let data = tempfile::tempdir().expect("tempdir");

    let (mut dev, _) = start_dev(&nats.url(), data.path());
    assert!(streams_exist(&nats.url()));
    assert!(
        !data.path().join("nats").exists(),
        "no second nats-server was started"
    );
    assert!(interrupt_and_wait(&mut dev).success());
    assert!(
        nats.is_running(),
        "an external server is not stopped by relais dev"
    );
}

#[test]
fn a_bad_configuration_is_reported_before_anything_starts() {
    let output = Command::new(env!("CARGO_BIN_EXE_relais"))
        .arg("dev")
        .env("RELAIS_NATS__URL", "http://127.0.0.1:1")
        .output()
        .expect("run relais");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nats.url"), "names the key: {stderr}");
}

#[test]
fn config_show_redacts_the_password() {
    let output = Command::new(env!("CARGO_BIN_EXE_relais"))
        .args(["config", "show"])
        .env("RELAIS_NATS__USER", "edge")
        .env("RELAIS_NATS__PASSWORD", "s3cret-value")
        .output()
        .expect("run relais");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("edge"), "{stdout}");
    assert!(
        !stdout.contains("s3cret-value"),
        "password leaked: {stdout}"
    );
}
