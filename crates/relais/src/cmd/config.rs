//! `relais config`: show the effective configuration or the embedded defaults.

use clap::Subcommand;
use relais_config::{Settings, DEFAULTS_TOML};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration after all layers (secrets redacted).
    Show,
    /// Print the embedded, commented defaults: a starting point for a config file.
    Defaults,
}

pub fn run(command: ConfigCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Show => println!("{settings:#?}"),
        ConfigCommand::Defaults => print!("{DEFAULTS_TOML}"),
    }
    Ok(())
}
