//! Integration tests of the event contracts: round trips, committed schemas, AsyncAPI.

mod asyncapi;
mod decode;
mod examples;
mod schemas;
