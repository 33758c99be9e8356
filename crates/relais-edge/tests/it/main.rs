//! Integration tests of the edge: real nats-server, real HTTP.

mod feedback;
mod helpers;
mod ops;
mod roundtrip;
mod validation;
