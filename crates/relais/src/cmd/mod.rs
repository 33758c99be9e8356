//! One module per subcommand group.

pub mod audit;
pub mod bench;
pub mod config;
pub mod dataset;
pub mod dev;
pub mod edge;
pub mod export;
pub mod model;
pub mod monitor;
pub mod registry;
pub mod replay;
pub mod trainer;
pub mod worker;
