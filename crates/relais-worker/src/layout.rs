//! Where the worker reads and writes on NATS: the `TRANSLATE` stream and its
//! `workers` consumer, the `EVENTS` stream it publishes outcomes to. Tests
//! use a prefixed layout so that they can share one server.

use relais_bus::{ConsumerSpec, DeadLetterPolicy, StreamSpec, Topology};
use relais_config::WorkerSettings;
use relais_events::names;

/// The NATS names the worker uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    prefix: Option<String>,
}

impl Layout {
    /// The production layout: `TRANSLATE`, `workers`, `events.…` subjects.
    pub fn relais() -> Self {
        Layout { prefix: None }
    }

    /// Every stream and consumer name prefixed by `prefix_` and every subject
    /// by `prefix.`, as [`Topology::prefixed`] does.
    pub fn prefixed(prefix: impl Into<String>) -> Self {
        Layout {
            prefix: Some(prefix.into()),
        }
    }

    /// `subject` as published in this layout.
    pub fn subject(&self, subject: &str) -> String {
        match &self.prefix {
            Some(prefix) => format!("{prefix}.{subject}"),
            None => subject.to_owned(),
        }
    }

    /// The subject requests are published on.
    pub fn request_subject(&self) -> String {
        self.subject(names::subject::TRANSLATE_REQUEST)
    }

    /// The `TRANSLATE` stream's name in this layout.
    pub fn translate_stream(&self) -> String {
        self.name(names::stream::TRANSLATE)
    }

    /// The `EVENTS` stream's name in this layout.
    pub fn events_stream(&self) -> String {
        self.name(names::stream::EVENTS)
    }

    /// Both streams (the worker reads one and writes the other) and the
    /// `workers` consumer with the ack wait and deliveries of `settings`.
    pub fn topology(&self, settings: &WorkerSettings) -> Topology {
        Topology {
            streams: vec![StreamSpec::translate(), StreamSpec::events()],
            consumers: vec![workers(settings)],
        }
        .prefixed_opt(self.prefix.as_deref())
    }

    /// The `workers` consumer of [`Layout::topology`].
    pub fn workers_consumer(&self, settings: &WorkerSettings) -> ConsumerSpec {
        let spec = workers(settings);
        ConsumerSpec {
            stream: self.name(&spec.stream),
            name: self.name(&spec.name),
            ..spec
        }
    }

    /// Dead letters of `TRANSLATE` land on `events.deadletter.TRANSLATE` in
    /// this layout.
    pub fn dead_letter_policy(&self, source: &str) -> DeadLetterPolicy {
        let subject = self.subject(&names::subject::dead_lettered(names::stream::TRANSLATE));
        DeadLetterPolicy::new(source).on_subject(subject)
    }

    fn name(&self, name: &str) -> String {
        match &self.prefix {
            Some(prefix) => format!("{prefix}_{name}"),
            None => name.to_owned(),
        }
    }
}

fn workers(settings: &WorkerSettings) -> ConsumerSpec {
    ConsumerSpec {
        ack_wait: settings.ack_wait,
        max_deliver: settings.max_deliver,
        ..ConsumerSpec::workers()
    }
}

trait PrefixedOpt {
    fn prefixed_opt(self, prefix: Option<&str>) -> Self;
}

impl PrefixedOpt for Topology {
    fn prefixed_opt(self, prefix: Option<&str>) -> Self {
        match prefix {
            Some(prefix) => self.prefixed(prefix),
            None => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn settings() -> WorkerSettings {
        WorkerSettings {
            model_dir: "m".into(),
            worker_id: String::new(),
            max_batch: 4,
            max_wait: Duration::from_millis(5),
            progress_every: Duration::from_secs(1),
            ack_wait: Duration::from_secs(7),
            max_deliver: 2,
            follow_registry: false,
            model_cache: "cache".into(),
            precision: "int8".into(),
            beam: 1,
        }
    }

    #[test]
    fn consumer_and_topology_agree() {
        for layout in [Layout::relais(), Layout::prefixed("T1")] {
            let topology = layout.topology(&settings());
            let consumer = layout.workers_consumer(&settings());
            assert_eq!(topology.consumers, vec![consumer.clone()]);
            assert_eq!(consumer.stream, layout.translate_stream());
            assert_eq!(consumer.ack_wait, Duration::from_secs(7));
            assert_eq!(consumer.max_deliver, 2);
            assert_eq!(topology.streams[0].subjects, vec![layout.request_subject()]);
        }
        assert_eq!(
            Layout::prefixed("T1").request_subject(),
            "T1.translate.request"
        );
        assert_eq!(
            Layout::relais().workers_consumer(&settings()).name,
            "workers"
        );
    }
}
