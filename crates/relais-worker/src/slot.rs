//! [`ModelSlot`]: the model a worker serves now, swapped whole when a new
//! version is promoted. A batch takes the current [`Translator`] once and keeps
//! it to the end, so in-flight work finishes on the model it started with.

use std::sync::{Arc, RwLock};

use crate::Translator;

/// The current model; cheap to clone, shared by the batcher and the follower.
#[derive(Debug, Clone)]
pub struct ModelSlot(Arc<RwLock<Arc<Translator>>>);

impl ModelSlot {
    pub fn new(translator: Translator) -> Self {
        ModelSlot(Arc::new(RwLock::new(Arc::new(translator))))
    }

    /// The model new work should use.
    pub fn current(&self) -> Arc<Translator> {
        match self.0.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Serves `translator` from now on; returns the one it replaces (which
    /// lives on until the last batch holding it finishes).
    pub fn swap(&self, translator: Translator) -> Arc<Translator> {
        let new = Arc::new(translator);
        match self.0.write() {
            Ok(mut guard) => std::mem::replace(&mut *guard, new),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), new),
        }
    }
}
