//! Integration tests of relais-bus against a real nats-server (private per test,
//! or the one named by `RELAIS_TEST_NATS_URL`; outage and permission tests always
//! start their own).

mod connect;
mod consumer;
mod helpers;
mod permissions;
mod publish;
mod replay;
mod request;
mod store;
mod topology;
