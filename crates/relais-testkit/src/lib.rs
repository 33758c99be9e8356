//! Test helpers shared by the integration tests of every Relais crate.
//!
//! Layout:
//! - [`NatsServer`]: a private `nats-server` child process with JetStream, on a free
//!   loopback port, its store in a temporary directory, killed on drop. It can be
//!   stopped and restarted on the same port and store (outage tests) and started from
//!   a configuration file (permission tests).
//! - [`TestNats`] / [`shared_or_private`]: use the server named by `RELAIS_TEST_NATS_URL`
//!   when that variable is set, else a private one.
//! - [`unique_name`]: stream, consumer and subject names that do not collide between
//!   tests sharing one server.
//!
//! The binary is `nats-server` on `PATH` (or `/usr/sbin/nats-server`), or the path in
//! `RELAIS_NATS_SERVER_BIN`. Library-style helper: it panics with a clear message
//! instead of returning errors, because it only ever runs inside tests.

use std::fs;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Environment variable naming an already running server for tests (`nats://host:port`).
pub const SHARED_URL_ENV: &str = "RELAIS_TEST_NATS_URL";
/// Environment variable overriding the `nats-server` binary.
pub const SERVER_BIN_ENV: &str = "RELAIS_NATS_SERVER_BIN";

const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A private `nats-server` child with JetStream enabled, killed on drop.
///
/// The server always listens on `127.0.0.1:<port>` and keeps its JetStream store in
/// `<tempdir>/jetstream`; both survive [`NatsServer::stop`] / [`NatsServer::restart`].
pub struct NatsServer {
    port: u16,
    monitor_port: u16,
    dir: TempDir,
    config: Option<PathBuf>,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl std::fmt::Debug for NatsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsServer")
            .field("port", &self.port)
            .field("store_dir", &self.store_dir())
            .field("running", &self.child.is_some())
            .finish()
    }
}

impl NatsServer {
    /// Starts a server with JetStream and no authentication.
    pub fn start() -> NatsServer {
        Self::launch(None, &[])
    }

    /// Starts a server from a configuration file's text (for permission tests).
    ///
    /// The text is written to a file in the server's temporary directory and passed
    /// with `-c`, so a production file such as `nats/relais.conf` is loaded as is,
    /// with two adjustments:
    /// - listen address, port and monitoring port are set on the command line
    ///   (`-a 127.0.0.1 -p <port> -m <port>`), which `nats-server` lets override the file;
    /// - the value of every `store_dir` setting is replaced by the kit's temporary
    ///   store directory (nats-server 2.9 refuses `-sd` when the file sets one).
    ///
    /// The file must enable JetStream itself (a `jetstream { store_dir: ... }` block).
    /// Variables the file references (`$RELAIS_NATS_EDGE_PASSWORD`) come from the
    /// environment: see [`NatsServer::start_with_config_and_env`].
    pub fn start_with_config(conf_text: &str) -> NatsServer {
        Self::launch(Some(conf_text), &[])
    }

    /// As [`NatsServer::start_with_config`], with extra environment variables for the
    /// server process only (e.g. the passwords `nats/relais.conf` references), so
    /// tests never change their own environment.
    pub fn start_with_config_and_env(conf_text: &str, env: &[(&str, &str)]) -> NatsServer {
        Self::launch(Some(conf_text), env)
    }

    fn launch(conf_text: Option<&str>, env: &[(&str, &str)]) -> NatsServer {
        let dir = tempfile::Builder::new()
            .prefix("relais-nats-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory for nats-server: {e}"));
        let store_dir = dir.path().join("jetstream");
        let config = conf_text.map(|text| {
            let path = dir.path().join("nats.conf");
            fs::write(&path, override_store_dir(text, &store_dir))
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            path
        });
        let mut server = NatsServer {
            port: free_port(),
            monitor_port: free_port(),
            dir,
            config,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            child: None,
        };
        server.spawn_and_wait();
        server
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory (kept across restarts).
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("jetstream")
    }

    /// Whether the child process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Stops the server gracefully (SIGTERM; SIGKILL after 10 s) and waits for it to
    /// exit. The port and the store directory are kept. Does nothing when stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let terminated = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if terminated {
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = child.try_wait() {
                        return;
                    }
                    thread::sleep(Duration::from_millis(20));
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server at once (SIGKILL, as in a crash) and waits for it to exit.
    /// The port and the store directory are kept. Does nothing when stopped.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same store directory and
    /// waits until it accepts connections. Stops it first when it is running.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn_and_wait();
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats-server.log")
    }

    fn spawn_and_wait(&mut self) {
        let bin = server_binary();
        let mut cmd = Command::new(&bin);
        match &self.config {
            Some(conf) => {
                cmd.arg("-c").arg(conf);
            }
            None => {
                cmd.arg("-js").arg("-sd").arg(self.store_dir());
            }
        }
        cmd.args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-m", &self.monitor_port.to_string()])
            .arg("-l")
            .arg(self.log_path())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e}. Install Debian's nats-server package \
                 (`apt-get install nats-server`) or set {SERVER_BIN_ENV}",
                bin.display()
            )
        });
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let mut stderr = String::new();
                    if let Some(mut err) = child.stderr.take() {
                        let _ = err.read_to_string(&mut stderr);
                    }
                    self.child = None;
                    panic!(
                        "nats-server exited during start-up ({status}) on port {}.\n\
                         stderr: {stderr}\nlog: {}",
                        self.port,
                        read_tail(&self.log_path())
                    );
                }
            }
            if TcpStream::connect_timeout(&addr.into(), Duration::from_millis(200)).is_ok() {
                return;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!(
                    "nats-server did not accept connections on port {} within {READY_TIMEOUT:?}.\nlog: {}",
                    self.port,
                    read_tail(&self.log_path())
                );
            }
            thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The server a test talks to: shared (from `RELAIS_TEST_NATS_URL`) or private.
#[derive(Debug)]
pub enum TestNats {
    /// An external server; tests must isolate themselves with [`unique_name`].
    Shared(String),
    /// A private child process.
    Private(NatsServer),
}

impl TestNats {
    /// The URL to connect to.
    pub fn url(&self) -> String {
        match self {
            TestNats::Shared(url) => url.clone(),
            TestNats::Private(server) => server.url(),
        }
    }

    /// The private server, when this is one (outage tests need to stop it).
    pub fn private(&mut self) -> Option<&mut NatsServer> {
        match self {
            TestNats::Shared(_) => None,
            TestNats::Private(server) => Some(server),
        }
    }
}

/// The server named by `RELAIS_TEST_NATS_URL` when set and not empty, else a fresh
/// private [`NatsServer`].
pub fn shared_or_private() -> TestNats {
    match std::env::var(SHARED_URL_ENV) {
        Ok(url) if !url.trim().is_empty() => TestNats::Shared(url),
        _ => TestNats::Private(NatsServer::start()),
    }
}

/// `<prefix>_<12 hex chars>`: a name valid as a stream, consumer, bucket or subject
/// token, unique per call.
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}", &id[..12])
}

/// Replaces the value of each `store_dir` line (`store_dir: x`, `store_dir = x`,
/// `store_dir x`) with `dir`, keeping indentation.
fn override_store_dir(text: &str, dir: &Path) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim_start();
        let is_store_dir = trimmed
            .strip_prefix("store_dir")
            .is_some_and(|rest| rest.starts_with([':', '=', ' ', '\t']));
        if is_store_dir {
            let indent = &line[..line.len() - trimmed.len()];
            out.push_str(&format!(
                "{indent}store_dir: {:?}",
                dir.display().to_string()
            ));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

fn server_binary() -> PathBuf {
    if let Ok(bin) = std::env::var(SERVER_BIN_ENV) {
        if !bin.is_empty() {
            return PathBuf::from(bin);
        }
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("nats-server");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    let debian = Path::new("/usr/sbin/nats-server");
    if debian.is_file() {
        return debian.to_path_buf();
    }
    panic!(
        "nats-server not found on PATH nor at /usr/sbin/nats-server: install Debian's \
         nats-server package (`apt-get install nats-server`) or set {SERVER_BIN_ENV}"
    );
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap_or_else(|e| panic!("cannot bind a free loopback port: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("cannot read the bound port: {e}"))
        .port()
}

fn read_tail(path: &Path) -> String {
    match fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(20)..].join("\n")
        }
        Err(_) => "(no log)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_unique_and_valid_tokens() {
        let a = unique_name("T");
        let b = unique_name("T");
        assert_ne!(a, b);
        assert!(a.starts_with("T_"));
        assert!(!a.contains(['.', '*', '>', ' ']));
    }

    #[test]
    fn store_dir_settings_are_redirected() {
        let text =
            "jetstream {\n  store_dir: \"/var/lib/x\"\n  max_file_store: 1GB\n}\n# store_dirs\n";
        let out = override_store_dir(text, Path::new("/tmp/t"));
        assert!(out.contains("  store_dir: \"/tmp/t\"\n"), "{out}");
        assert!(out.contains("max_file_store: 1GB"));
        assert!(!out.contains("/var/lib/x"));
        assert!(out.contains("# store_dirs"));
    }

    #[test]
    fn server_starts_restarts_and_stops() {
        let mut server = NatsServer::start();
        let port = server.port();
        assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
        server.stop();
        assert!(!server.is_running());
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
        server.restart();
        assert_eq!(server.port(), port);
        assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert!(server.store_dir().is_dir(), "JetStream store is kept");
    }
}
