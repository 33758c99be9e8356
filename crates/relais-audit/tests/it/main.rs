//! Integration tests of relais-audit: a private nats-server per test and a
//! fresh database on SQLite and on the PostgreSQL server at 127.0.0.1:5432.

mod helpers;

mod dataset;
mod events;
mod feedback;
mod lookup;
