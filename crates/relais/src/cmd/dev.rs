//! `relais dev`: the whole system on one machine with the embedded defaults.
//!
//! 1. If no NATS answers at `nats.url` and that URL is on this host, start a
//!    `nats-server` child with `nats/dev.conf` (JetStream store under
//!    `<data_dir>/nats`).
//! 2. Declare the streams; each service declares its own durable consumer
//!    with its own settings.
//! 3. Start every service as its own child process (`relais <service>`), so
//!    nothing relies on sharing a process with another service: audit,
//!    worker, edge, monitor (probing this stack's edge). The trainer is not
//!    started: a run takes the CPU for a long time; start `relais trainer`
//!    yourself when the dataset should be trained on.
//! 4. Ctrl-C (or SIGTERM) stops the services first, then NATS, each with a
//!    grace period. A child that dies on its own stops the stack with an error.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use relais_bus::{Bus, BusError, Topology};
use relais_config::Settings;
use tokio::process::{Child, Command};

/// The dev server's configuration, shipped in `nats/dev.conf`.
const DEV_NATS_CONF: &str = include_str!("../../../../nats/dev.conf");
/// The store directory as written in `nats/dev.conf`, replaced at start.
const DEV_CONF_STORE_DIR: &str = "\"var/nats/jetstream\"";

/// A service `relais dev` runs as `relais <name>`.
struct Service {
    name: &'static str,
    /// Its Prometheus endpoint listens on `dev.metrics_addr`'s port plus this
    /// offset; `None` when the service serves `/metrics` on its own HTTP port.
    metrics_port_offset: Option<u16>,
}

/// Services `relais dev` runs, in start order: consumers before the edge that
/// sends them work.
const SERVICES: &[Service] = &[
    Service {
        name: "audit",
        metrics_port_offset: Some(1),
    },
    Service {
        name: "worker",
        metrics_port_offset: Some(2),
    },
    Service {
        name: "edge",
        metrics_port_offset: None,
    },
    Service {
        name: "monitor",
        metrics_port_offset: Some(3),
    },
];

const STOP_GRACE: Duration = Duration::from_secs(10);
const NATS_START_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let dev_metrics: Option<SocketAddr> = settings.dev.metrics_addr.parse().ok();
    relais_telemetry::start_metrics_exporter(&relais_telemetry::TelemetrySettings {
        metrics_addr: dev_metrics,
        ..settings.telemetry.clone()
    })?;

    let mut children = Vec::new();
    let bus = match Bus::connect(&settings.nats).await {
        Ok(bus) => {
            tracing::info!(url = %settings.nats.url, "using the NATS server that is already running");
            bus
        }
        Err(BusError::Unreachable { .. }) => {
            let nats = start_nats(&settings).await?;
            children.push(nats);
            Bus::connect(&settings.nats)
                .await
                .context("connecting to the nats-server we just started")?
        }
        Err(err) => return Err(err).context("connecting to NATS"),
    };
    bus.ensure_topology(&Topology::relais().streams_only())
        .await
        .context("declaring streams and consumers")?;
    if settings.worker.follow_registry {
        super::registry::seed(&bus, &settings.worker.model_dir).await?;
    }

    // The monitor probes the edge this stack runs.
    let edge = settings.edge.listen;
    let edge_host = if edge.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        edge.ip()
    };
    let edge_url = format!("http://{}", SocketAddr::new(edge_host, edge.port()));
    for service in SERVICES {
        children.push(start_service(service, dev_metrics, &edge_url)?);
    }

    println!(
        "Relais dev stack is up: NATS at {}, {} service(s) running. Ctrl-C stops it.",
        settings.nats.url,
        SERVICES.len()
    );
    let outcome = wait_for_stop_or_crash(&mut children).await;
    drop(bus);
    // Services first (reverse start order), NATS last.
    for child in children.into_iter().rev() {
        child.stop(STOP_GRACE).await;
    }
    outcome
}

/// A child process that `relais dev` owns.
struct Supervised {
    name: String,
    child: Child,
}

impl Supervised {
    async fn stop(mut self, grace: Duration) {
        if let Some(pid) = self.child.id() {
            let pid = nix::unistd::Pid::from_raw(pid as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(status)) => tracing::info!(child = %self.name, %status, "stopped"),
            _ => {
                tracing::warn!(child = %self.name, "did not stop in {grace:?}; killing it");
                let _ = self.child.kill().await;
            }
        }
    }
}

async fn wait_for_stop_or_crash(children: &mut [Supervised]) -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => { println!("stopping…"); return Ok(()); }
            _ = terminate.recv() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                for child in children.iter_mut() {
                    if let Ok(Some(status)) = child.child.try_wait() {
                        bail!("{} exited unexpectedly ({status}); stopping the dev stack", child.name);
                    }
                }
            }
        }
    }
}

fn start_service(
    service: &Service,
    dev_metrics: Option<SocketAddr>,
    edge_url: &str,
) -> anyhow::Result<Supervised> {
    let exe = std::env::current_exe().context("locating the relais binary")?;
    let mut command = Command::new(exe);
    command.arg(service.name).kill_on_drop(true);
    if std::env::var_os("RELAIS_MONITOR__EDGE_URL").is_none() {
        command.env("RELAIS_MONITOR__EDGE_URL", edge_url);
    }
    if let (Some(offset), Some(base)) = (service.metrics_port_offset, dev_metrics) {
        let addr = SocketAddr::new(base.ip(), base.port().saturating_add(offset));
        command.env("RELAIS_TELEMETRY__METRICS_ADDR", addr.to_string());
    }
    let child = command
        .spawn()
        .with_context(|| format!("starting `relais {}`", service.name))?;
    tracing::info!(service = service.name, "started");
    Ok(Supervised {
        name: format!("relais {}", service.name),
        child,
    })
}

/// Starts `nats-server` with the dev config on the host and port of `nats.url`.
async fn start_nats(settings: &Settings) -> anyhow::Result<Supervised> {
    let addr = socket_addr_of(&settings.nats.url)?;
    if !addr.ip().is_loopback() {
        bail!(
            "no NATS server answers at {} and it is not on this machine, so `relais dev` cannot start one",
            settings.nats.url
        );
    }
    let data_dir = settings.dev.data_dir.join("nats");
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let conf_path = data_dir.join("dev.conf");
    // nats-server refuses `-sd` next to a `store_dir` in the file, so the store
    // location is written into the copy of the config instead.
    // nats-server keeps its files in `<store_dir>/jetstream`.
    let store_dir =
        std::path::absolute(&data_dir).context("resolving the JetStream store directory")?;
    let conf = DEV_NATS_CONF.replace(
        DEV_CONF_STORE_DIR,
        &format!("{:?}", store_dir.display().to_string()),
    );
    if conf == DEV_NATS_CONF {
        bail!("nats/dev.conf no longer sets store_dir to {DEV_CONF_STORE_DIR}; update relais dev");
    }
    std::fs::write(&conf_path, conf).with_context(|| format!("writing {}", conf_path.display()))?;
    let log_path = data_dir.join("nats-server.log");

    let bin = &settings.dev.nats_server_bin;
    let child = Command::new(bin)
        .arg("-c")
        .arg(&conf_path)
        .args(["-a", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .arg("-l")
        .arg(&log_path)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => anyhow::anyhow!(
                "`{bin}` is not installed: install Debian's `nats-server` package (apt-get install nats-server) or point RELAIS_DEV__NATS_SERVER_BIN at one"
            ),
            _ => anyhow::Error::new(err).context(format!("starting {bin}")),
        })?;
    let mut supervised = Supervised {
        name: "nats-server".into(),
        child,
    };
    wait_until_listening(&mut supervised, addr, &log_path).await?;
    tracing::info!(%addr, store = %store_dir.display(), "started a local nats-server");
    Ok(supervised)
}

async fn wait_until_listening(
    nats: &mut Supervised,
    addr: SocketAddr,
    log_path: &Path,
) -> anyhow::Result<()> {
    let started = Instant::now();
    while started.elapsed() < NATS_START_TIMEOUT {
        if let Ok(Some(status)) = nats.child.try_wait() {
            bail!(
                "nats-server exited at start ({status}); see {}",
                log_path.display()
            );
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!(
        "nats-server did not listen on {addr} within {NATS_START_TIMEOUT:?}; see {}",
        log_path.display()
    )
}

/// `nats://user:pass@host:port` → the socket address of host:port.
fn socket_addr_of(url: &str) -> anyhow::Result<SocketAddr> {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host_port = without_scheme
        .rsplit_once('@')
        .map_or(without_scheme, |(_, hp)| hp)
        .split(['/', ','])
        .next()
        .unwrap_or_default();
    let host_port = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:4222")
    };
    host_port
        .to_socket_addrs()
        .with_context(|| format!("resolving {host_port}"))?
        .next()
        .with_context(|| format!("{host_port} resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::socket_addr_of;

    #[test]
    fn nats_urls_resolve_to_their_host_and_port() {
        let addr = socket_addr_of("nats://127.0.0.1:4999").expect("valid");
        assert_eq!(addr.to_string(), "127.0.0.1:4999");
        let addr = socket_addr_of("nats://u:p@127.0.0.1").expect("default port");
        assert_eq!(addr.port(), 4222);
    }
}
