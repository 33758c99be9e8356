//! The crate's one error type.

use relais_bus::BusError;

/// Why the monitor could not start, or a page could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The `[monitor]` settings are not usable.
    #[error("invalid monitor settings")]
    Settings(#[from] relais_config::ConfigError),
    /// A mail address in `[monitor.smtp]` cannot be parsed.
    #[error("invalid e-mail address {address:?} in monitor.smtp")]
    Address {
        address: String,
        #[source]
        source: lettre::address::AddressError,
    },
    /// The mail server settings are not usable (e.g. TLS cannot be set up).
    #[error("cannot set up SMTP to {host}")]
    SmtpSetup {
        host: String,
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// A mail could not be built.
    #[error("cannot build the e-mail")]
    Mail(#[from] lettre::error::Error),
    /// The mail server refused or failed to take a mail.
    #[error("SMTP send through {host}:{port} failed")]
    Send {
        host: String,
        port: u16,
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    Http(#[source] reqwest::Error),
    /// NATS refused or failed an operation.
    #[error("NATS operation failed")]
    Bus(#[from] BusError),
}
