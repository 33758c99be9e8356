//! Building and running the edge: [`Application::build`] → [`Application::port`]
//! → [`Application::run_until_stopped`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use relais_bus::Bus;
use relais_config::EdgeSettings;
use relais_events::names::subject;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::limit::Gate;
use crate::results::{self, Results};
use crate::state::{AppState, Inner};
use crate::translator::{Timeouts, Translator};
use crate::{routes, telemetry, EdgeError};

/// A bound, subscribed edge, ready to serve.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    port: u16,
    edge_id: String,
    state: AppState,
    results_task: tokio::task::JoinHandle<()>,
    results_cancel: CancellationToken,
    shutdown: CancellationToken,
}

impl Application {
    /// Validates `settings`, subscribes to this edge's results subjects and
    /// binds the listen address (port `0` picks a free port). Does not serve yet.
    pub async fn build(settings: EdgeSettings, bus: Bus) -> Result<Application, EdgeError> {
        settings.validate()?;
        let edge_id = if settings.edge_id.is_empty() {
            random_edge_id()
        } else {
            settings.edge_id.clone()
        };
        let metrics = telemetry::prometheus_handle()?;

        let results = Arc::new(Results::default());
        let subscription = bus.subscribe(&subject::edge_results(&edge_id)).await?;
        // Make sure the server registered the subscription before a request can
        // be published, so no answer is ever lost to a race.
        bus.flush().await?;
        let results_cancel = CancellationToken::new();
        let results_task = tokio::spawn(results::route(
            subscription,
            Arc::clone(&results),
            results_cancel.clone(),
        ));

        let listener =
            TcpListener::bind(settings.listen)
                .await
                .map_err(|source| EdgeError::Bind {
                    addr: settings.listen,
                    source,
                })?;
        let port = listener
            .local_addr()
            .map_err(|source| EdgeError::Bind {
                addr: settings.listen,
                source,
            })?
            .port();

        let site = site_dir(&settings.static_dir);
        if site.is_none() {
            tracing::warn!(dir = %settings.static_dir.display(), "no built website (index.html) there; `/` answers 503 until `npm run build` in frontend/");
        }
        let translator = Translator::new(
            bus,
            edge_id.clone(),
            results,
            Timeouts {
                request: settings.request_timeout,
                publish: settings.publish_timeout,
                lookup: settings.lookup_timeout,
            },
        );
        let gate = Gate::new(
            settings.api_keys.clone(),
            settings.rate_limit,
            settings.require_api_key,
        );
        let state = AppState::new(Inner {
            edge_id: edge_id.clone(),
            translator,
            gate,
            metrics,
            site,
            settings,
        });
        tracing::info!(%edge_id, port, "edge built");
        Ok(Application {
            listener,
            port,
            edge_id,
            state,
            results_task,
            results_cancel,
            shutdown: CancellationToken::new(),
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// This edge's id (the last token of its results subjects).
    pub fn edge_id(&self) -> &str {
        &self.edge_id
    }

    /// Cancelling this token stops the server gracefully: no new connections,
    /// in-flight requests finish (they still receive their results).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, then waits for in-flight
    /// requests and stops routing results.
    pub async fn run_until_stopped(self) -> Result<(), EdgeError> {
        let app = routes::router(self.state);
        let shutdown = self.shutdown.clone();
        tracing::info!(port = self.port, edge_id = %self.edge_id, "edge serving HTTP");
        let served = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
        self.results_cancel.cancel();
        if let Err(e) = self.results_task.await {
            tracing::error!(error = %e, "results task panicked");
        }
        tracing::info!("edge stopped");
        served.map_err(EdgeError::Serve)
    }
}

/// `edge-` and 8 hex characters: a valid subject token, unique enough per process.
fn random_edge_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("edge-{}", &id[..8])
}

fn site_dir(dir: &std::path::Path) -> Option<PathBuf> {
    dir.join("index.html").is_file().then(|| dir.to_path_buf())
}
