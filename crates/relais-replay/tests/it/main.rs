//! Integration tests of `relais-replay`: a real nats-server, SQLite and PostgreSQL.

mod export;
mod helpers;
mod rebuild;
mod republish;
mod shadow;
