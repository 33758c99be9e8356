//! What every handler shares.

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use relais_config::EdgeSettings;

use crate::domain::TextLimits;
use crate::limit::Gate;
use crate::translator::Translator;

/// Shared state, cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct AppState(Arc<Inner>);

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) settings: EdgeSettings,
    pub(crate) edge_id: String,
    pub(crate) translator: Translator,
    pub(crate) gate: Gate,
    pub(crate) metrics: PrometheusHandle,
    /// The website's directory, when it holds a built `index.html`.
    pub(crate) site: Option<PathBuf>,
}

impl AppState {
    pub(crate) fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Inner {
    pub(crate) fn text_limits(&self) -> TextLimits {
        TextLimits {
            max_chars: self.settings.max_chars,
            max_sentences: self.settings.max_sentences,
        }
    }
}
