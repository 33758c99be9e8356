//! A real SMTP server for tests: Python's `aiosmtpd` as a child process on a
//! free loopback port, storing every message it accepts in a Maildir.
//!
//! The interpreter is `$RELAIS_TEST_PYTHON`, else the first of `python3`,
//! `/usr/bin/python3` that can import `aiosmtpd` (Debian: `python3-aiosmtpd`;
//! `scripts/ensure-deps.sh test` installs it).

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A running `aiosmtpd`, killed on drop.
pub struct SmtpServer {
    port: u16,
    child: Child,
    _dir: TempDir,
    maildir: PathBuf,
}

impl SmtpServer {
    /// Starts a server on a free port.
    pub fn start() -> SmtpServer {
        Self::start_on(free_port())
    }

    /// Starts a server on `port` and waits until it accepts connections.
    pub fn start_on(port: u16) -> SmtpServer {
        let python = python();
        let dir = tempfile::Builder::new()
            .prefix("relais-smtp-")
            .tempdir()
            .expect("temporary directory");
        let maildir = dir.path().join("maildir");
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {python} -m aiosmtpd: {e}"));
        let mut server = SmtpServer {
            port,
            child,
            _dir: dir,
            maildir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("aiosmtpd exited at start ({status}); is port {port} free?");
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on {port} within 15 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The subject lines of every message received, sorted.
    pub fn subjects(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut subjects: Vec<String> = entries
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .map(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("Subject: "))
                    .unwrap_or("(no subject)")
                    .to_owned()
            })
            .collect();
        subjects.sort();
        subjects
    }

    /// Waits until `count` messages have arrived; returns their subjects.
    pub async fn wait_for_messages(&self, count: usize, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let subjects = self.subjects();
            if subjects.len() >= count {
                return subjects;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} mails within {within:?}, got {subjects:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn python() -> String {
    let candidates: Vec<String> = match std::env::var("RELAIS_TEST_PYTHON") {
        Ok(p) if !p.trim().is_empty() => vec![p],
        _ => vec!["python3".into(), "/usr/bin/python3".into()],
    };
    candidates
        .iter()
        .find(|p| {
            Command::new(p.as_str())
                .args(["-c", "import aiosmtpd"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "no Python with aiosmtpd among {candidates:?}: install it with \
                 `apt-get install python3-aiosmtpd` (or `pip install aiosmtpd`), \
                 or name an interpreter in RELAIS_TEST_PYTHON"
            )
        })
}
