//! `relais edge`: the HTTP front. Wires configuration, NATS and shutdown;
//! everything else lives in the `relais-edge` crate.

use anyhow::Context;
use relais_bus::Bus;
use relais_config::Settings;
use relais_edge::Application;

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let mut nats = settings.nats.clone();
    if nats.name == relais_bus::BusConfig::default().name {
        nats = nats.named("relais-edge");
    }
    let bus = Bus::connect(&nats).await.context("connecting to NATS")?;
    let app = Application::build(settings.edge.clone(), bus)
        .await
        .context("starting the edge")?;
    println!(
        "relais edge {} listening on port {}",
        app.edge_id(),
        app.port()
    );
    let stop = app.shutdown_token();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("stopping: finishing in-flight requests");
        stop.cancel();
    });
    app.run_until_stopped().await.context("serving HTTP")
}
