//! Integration tests of the worker against a real `nats-server`.

mod e2e;
mod failures;
mod helpers;
mod swap;
mod translate;
mod translator;
