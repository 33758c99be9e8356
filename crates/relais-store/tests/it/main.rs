//! Integration tests of relais-store: every test runs on a fresh SQLite file
//! and on a fresh database of the PostgreSQL server at 127.0.0.1:5432.

mod helpers;

mod connect;
mod curation;
mod dataset;
mod events;
