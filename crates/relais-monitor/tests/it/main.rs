//! Integration tests of the monitor against a real nats-server, a real edge,
//! a worker stand-in and a real SMTP server (aiosmtpd).

mod checks;
mod helpers;
mod paging;
mod smtp;
