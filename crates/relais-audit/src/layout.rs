//! Where the service reads and writes on NATS: the `EVENTS` stream, the
//! `audit` durable consumer, and the subjects it publishes on. Tests use a
//! prefixed layout so that they can share one server.

use relais_bus::{ConsumerSpec, DeadLetterPolicy, StreamSpec, Topology};
use relais_events::names;

/// The NATS names the audit service uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    prefix: Option<String>,
}

impl Layout {
    /// The production layout: `EVENTS`, `audit`, `events.…` subjects.
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

    /// The `EVENTS` stream and the `audit` consumer allowing `max_deliver`
    /// deliveries (see `audit.max_deliver`: high, so that a database outage
    /// delays events instead of dead-lettering them).
    ///
    /// The consumer has no server-side `backoff` list: with one, nats-server
    /// replaces the delay of a nak by the list's step (seen: events naked with
    /// 100 ms came back after ~18 s), so catching up after an outage would
    /// wait for it. The audit's own nak delays (`audit.retry_min..retry_max`)
    /// pace the retries instead; the ack wait (10 s) covers a crashed handler.
    pub fn topology(&self, max_deliver: i64) -> Topology {
        let audit = ConsumerSpec {
            max_deliver,
            backoff: Vec::new(),
            ..ConsumerSpec::audit()
        };
        let topology = Topology {
            streams: vec![StreamSpec::events()],
            consumers: vec![audit],
        };
        match &self.prefix {
            Some(prefix) => topology.prefixed(prefix),
            None => topology,
        }
    }

    /// The `audit` consumer of [`Layout::topology`].
    pub fn audit_consumer(&self, max_deliver: i64) -> ConsumerSpec {
        let spec = ConsumerSpec {
            max_deliver,
            backoff: Vec::new(),
            ..ConsumerSpec::audit()
        };
        match &self.prefix {
            Some(prefix) => ConsumerSpec {
                stream: format!("{prefix}_{}", spec.stream),
                name: format!("{prefix}_{}", spec.name),
                ..spec
            },
            None => spec,
        }
    }

    /// The stream the audit consumer reads.
    pub fn events_stream(&self) -> String {
        match &self.prefix {
            Some(prefix) => format!("{prefix}_{}", names::stream::EVENTS),
            None => names::stream::EVENTS.to_owned(),
        }
    }

    /// Dead letters of `EVENTS` land on `events.deadletter.EVENTS` in this layout.
    pub fn dead_letter_policy(&self, source: &str) -> DeadLetterPolicy {
        let subject = self.subject(&names::subject::dead_lettered(names::stream::EVENTS));
        DeadLetterPolicy::new(source).on_subject(subject)
    }

    /// Whether `subject` is a dead-letter subject of this layout.
    pub fn is_dead_letter_subject(&self, subject: &str) -> bool {
        subject.starts_with(&format!(
            "{}.",
            self.subject(names::subject::DEADLETTER_PREFIX)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_apply_to_names_and_subjects() {
        let layout = Layout::prefixed("T1");
        let topology = layout.topology(1000);
        assert_eq!(topology.streams[0].name, "T1_EVENTS");
        assert_eq!(topology.streams[0].subjects, vec!["T1.events.>"]);
        assert_eq!(topology.consumers[0].name, "T1_audit");
        assert_eq!(topology.consumers[0].max_deliver, 1000);
        assert_eq!(topology.consumers[0], layout.audit_consumer(1000));
        assert_eq!(
            Layout::relais().topology(7).consumers[0],
            Layout::relais().audit_consumer(7)
        );
        assert_eq!(layout.events_stream(), "T1_EVENTS");
        assert!(layout.is_dead_letter_subject("T1.events.deadletter.EVENTS"));
        assert!(!layout.is_dead_letter_subject("T1.events.dataset.updated"));
        let plain = Layout::relais();
        assert_eq!(
            plain.subject("events.dataset.updated"),
            "events.dataset.updated"
        );
        assert!(plain.is_dead_letter_subject("events.deadletter.EVENTS"));
    }
}
