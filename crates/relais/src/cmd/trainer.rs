//! `relais trainer`: continuous training. Wires configuration, NATS, metrics
//! and shutdown; everything else lives in the `relais-trainer` crate.

use anyhow::Context;
use relais_bus::Bus;
use relais_config::Settings;
use relais_trainer::TrainerService;
use tokio_util::sync::CancellationToken;

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    relais_telemetry::start_metrics_exporter(&settings.telemetry)?;
    let mut nats = settings.nats.clone();
    if nats.name == relais_bus::BusConfig::default().name {
        nats = nats.named("relais-trainer");
    }
    let bus = Bus::connect(&nats).await.context("connecting to NATS")?;
    let service = TrainerService::build(
        settings.trainer.clone(),
        settings.audit.database_url.expose(),
        bus,
    )
    .await
    .context("starting the trainer")?;
    let stop = CancellationToken::new();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::spawn({
        let stop = stop.clone();
        async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            tracing::info!("stopping: a run in progress stops at its next checkpoint on restart");
            stop.cancel();
        }
    });
    service
        .run_until_stopped(stop)
        .await
        .context("running the trainer")
}
