//! Integration tests of the `relais` binary, run as a real process.

mod dev;
mod quantized;
mod trainer;
mod worker_kill;
