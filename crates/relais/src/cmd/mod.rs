//! One module per subcommand group.

pub mod audit;
pub mod config;
pub mod dataset;
pub mod dev;
pub mod edge;
pub mod worker;
