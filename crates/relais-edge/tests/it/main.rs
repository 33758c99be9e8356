//! Integration tests of the edge: real nats-server, real HTTP.

mod helpers;
mod ops;
mod roundtrip;
mod validation;
