//! Streams and durable consumers, declared idempotently at start-up.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, ReplayPolicy};
use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy, StorageType};
use relais_events::names;

use crate::declare::{declare_consumer, declare_stream};
use crate::error::{check_filter_subject, check_name, BusError};
use crate::Bus;

/// How a stream keeps messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Until limits (age, size) remove them.
    Limits,
    /// Until a consumer acknowledges them; consumers must not overlap.
    WorkQueue,
}

/// A stream to declare.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSpec {
    /// Stream name.
    pub name: String,
    /// Subjects it captures.
    pub subjects: Vec<String>,
    /// Retention policy.
    pub retention: Retention,
    /// Oldest message kept (zero: unbounded).
    pub max_age: Duration,
    /// Total size kept (`None`: unbounded).
    pub max_bytes: Option<i64>,
    /// Window in which a repeated `Nats-Msg-Id` is dropped.
    pub duplicate_window: Duration,
    /// File storage (true) or memory.
    pub file_storage: bool,
}

impl StreamSpec {
    /// `TRANSLATE`: `translate.request`, WorkQueue, file storage.
    pub fn translate() -> Self {
        StreamSpec {
            name: names::stream::TRANSLATE.to_owned(),
            subjects: strings(names::stream::TRANSLATE_SUBJECTS),
            retention: Retention::WorkQueue,
            max_age: Duration::from_secs(24 * 3600),
            max_bytes: Some(256 << 20),
            duplicate_window: Duration::from_secs(120),
            file_storage: true,
        }
    }

    /// `EVENTS`: `events.>`, Limits (90 days, 4 GiB), 2 min duplicate window.
    ///
    /// JetStream reserves `max_bytes` against the server's `max_file_store`, so
    /// both streams together must fit the smallest store we ship (8 GB in
    /// `nats/dev.conf`).
    pub fn events() -> Self {
        StreamSpec {
            name: names::stream::EVENTS.to_owned(),
            subjects: strings(names::stream::EVENTS_SUBJECTS),
            retention: Retention::Limits,
            max_age: Duration::from_secs(90 * 24 * 3600),
            max_bytes: Some(4 << 30),
            duplicate_window: Duration::from_secs(120),
            file_storage: true,
        }
    }

    pub(crate) fn to_nats(&self) -> stream::Config {
        stream::Config {
            name: self.name.clone(),
            subjects: self.subjects.clone(),
            retention: match self.retention {
                Retention::Limits => RetentionPolicy::Limits,
                Retention::WorkQueue => RetentionPolicy::WorkQueue,
            },
            max_age: self.max_age,
            max_bytes: self.max_bytes.unwrap_or(-1),
            max_messages: -1,
            max_messages_per_subject: -1,
            max_consumers: -1,
            duplicate_window: self.duplicate_window,
            storage: if self.file_storage {
                StorageType::File
            } else {
                StorageType::Memory
            },
            discard: DiscardPolicy::Old,
            num_replicas: 1,
            ..Default::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), BusError> {
        check_name("stream", &self.name)?;
        if self.subjects.is_empty() {
            return Err(BusError::InvalidName {
                kind: "stream",
                name: self.name.clone(),
                why: "has no subjects",
            });
        }
        self.subjects
            .iter()
            .try_for_each(|s| check_filter_subject(s))
    }
}

/// A durable pull consumer to declare.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerSpec {
    /// The stream it reads.
    pub stream: String,
    /// Durable name.
    pub name: String,
    /// One subject filter (2.9 ignores the plural form), `None` for every subject.
    pub filter_subject: Option<String>,
    /// Redelivery after this long without ack (or in-progress).
    pub ack_wait: Duration,
    /// Deliveries before the message is given up (dead-lettered).
    pub max_deliver: i64,
    /// Redelivery delays after ack-wait expiry; the server requires
    /// `max_deliver > backoff.len()` and uses `backoff[0]` as ack wait when set.
    pub backoff: Vec<Duration>,
    /// Unacknowledged messages allowed in flight across all instances.
    pub max_ack_pending: i64,
    /// Where a new consumer starts.
    pub deliver_new_only: bool,
}

impl ConsumerSpec {
    /// A consumer on `stream` named `name` with Relais defaults: ack wait 10 s,
    /// 5 deliveries, no ack-wait backoff, 256 in flight, from the first message.
    pub fn new(stream: impl Into<String>, name: impl Into<String>) -> Self {
        ConsumerSpec {
            stream: stream.into(),
            name: name.into(),
            filter_subject: None,
            ack_wait: Duration::from_secs(10),
            max_deliver: 5,
            backoff: Vec::new(),
            max_ack_pending: 256,
            deliver_new_only: false,
        }
    }

    /// `workers` on `TRANSLATE`: ack wait 10 s (workers send in-progress acks for
    /// long batches), 3 deliveries.
    pub fn workers() -> Self {
        ConsumerSpec {
            max_deliver: 3,
            ..ConsumerSpec::new(names::stream::TRANSLATE, names::consumer::WORKERS)
        }
    }

    /// `audit` on `EVENTS`: every event. A database outage must delay the log,
    /// never dead-letter it, so deliveries are practically unbounded (the audit
    /// service naks with its own growing delays); no server-side backoff list,
    /// which would override those delays.
    pub fn audit() -> Self {
        ConsumerSpec {
            max_deliver: 100_000,
            ..ConsumerSpec::new(names::stream::EVENTS, names::consumer::AUDIT)
        }
    }

    /// `trainer` on `EVENTS`, filtered to `events.dataset.updated`, new events only.
    pub fn trainer() -> Self {
        ConsumerSpec {
            filter_subject: Some(names::subject::DATASET_UPDATED.to_owned()),
            deliver_new_only: true,
            ..ConsumerSpec::new(names::stream::EVENTS, names::consumer::TRAINER)
        }
    }

    /// Sets the subject filter.
    #[must_use]
    pub fn filter(mut self, subject: impl Into<String>) -> Self {
        self.filter_subject = Some(subject.into());
        self
    }

    pub(crate) fn to_nats(&self) -> pull::Config {
        pull::Config {
            durable_name: Some(self.name.clone()),
            name: Some(self.name.clone()),
            deliver_policy: if self.deliver_new_only {
                DeliverPolicy::New
            } else {
                DeliverPolicy::All
            },
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.ack_wait,
            max_deliver: self.max_deliver,
            filter_subject: self.filter_subject.clone().unwrap_or_default(),
            replay_policy: ReplayPolicy::Instant,
            max_ack_pending: self.max_ack_pending,
            backoff: self.backoff.clone(),
            ..Default::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), BusError> {
        check_name("stream", &self.stream)?;
        check_name("consumer", &self.name)?;
        if let Some(f) = &self.filter_subject {
            check_filter_subject(f)?;
        }
        if self.max_deliver < 1 {
            return Err(BusError::InvalidName {
                kind: "consumer",
                name: self.name.clone(),
                why: "max_deliver must be at least 1 (deliveries are bounded)",
            });
        }
        if !self.backoff.is_empty() && self.max_deliver <= self.backoff.len() as i64 {
            return Err(BusError::InvalidName {
                kind: "consumer",
                name: self.name.clone(),
                why: "max_deliver must exceed the number of backoff steps",
            });
        }
        Ok(())
    }
}

/// Every stream and consumer a deployment needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    /// Streams, declared first.
    pub streams: Vec<StreamSpec>,
    /// Durable consumers.
    pub consumers: Vec<ConsumerSpec>,
}

impl Topology {
    /// The Relais layout: `TRANSLATE` + `workers`, `EVENTS` + `audit` + `trainer`.
    pub fn relais() -> Self {
        Topology {
            streams: vec![StreamSpec::translate(), StreamSpec::events()],
            consumers: vec![
                ConsumerSpec::workers(),
                ConsumerSpec::audit(),
                ConsumerSpec::trainer(),
            ],
        }
    }

    /// The same layout with every stream and consumer name prefixed by `prefix_`
    /// and every subject by `prefix.`, so tests sharing one server do not collide.
    pub fn prefixed(mut self, prefix: &str) -> Self {
        for s in &mut self.streams {
            s.name = format!("{prefix}_{}", s.name);
            for subject in &mut s.subjects {
                *subject = format!("{prefix}.{subject}");
            }
        }
        for c in &mut self.consumers {
            c.stream = format!("{prefix}_{}", c.stream);
            c.name = format!("{prefix}_{}", c.name);
            if let Some(f) = &mut c.filter_subject {
                *f = format!("{prefix}.{f}");
            }
        }
        self
    }

    /// Only the streams: what a service that owns no consumer (the edge) checks at
    /// start-up.
    #[must_use]
    pub fn streams_only(mut self) -> Self {
        self.consumers.clear();
        self
    }

    /// Creates what is missing and updates what differs; declaring twice is a no-op.
    pub async fn declare(&self, bus: &Bus) -> Result<(), BusError> {
        for s in &self.streams {
            declare_stream(bus, s).await?;
        }
        for c in &self.consumers {
            declare_consumer(bus, c).await?;
        }
        Ok(())
    }
}

impl Default for Topology {
    /// [`Topology::relais`].
    fn default() -> Self {
        Topology::relais()
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relais_layout_matches_the_architecture() {
        let t = Topology::relais();
        let translate = &t.streams[0];
        assert_eq!(translate.subjects, vec!["translate.request"]);
        assert_eq!(translate.retention, Retention::WorkQueue);
        let events = &t.streams[1];
        assert_eq!(events.subjects, vec!["events.>"]);
        assert!(events.max_bytes.is_some() && !events.max_age.is_zero());
        assert!(!events.duplicate_window.is_zero());
        for c in &t.consumers {
            c.validate().expect("valid consumer");
        }
    }

    #[test]
    fn prefix_isolates_names_and_subjects() {
        let t = Topology::relais().prefixed("T1");
        assert_eq!(t.streams[0].name, "T1_TRANSLATE");
        assert_eq!(t.streams[1].subjects, vec!["T1.events.>"]);
        assert_eq!(
            t.consumers[2].filter_subject.as_deref(),
            Some("T1.events.dataset.updated")
        );
        assert_eq!(t.consumers[0].stream, "T1_TRANSLATE");
    }

    #[test]
    fn rejects_unbounded_or_inconsistent_consumers() {
        let mut c = ConsumerSpec::new("S", "c");
        c.max_deliver = 0;
        assert!(c.validate().is_err());
        c.max_deliver = 2;
        c.backoff = vec![Duration::from_secs(1); 2];
        assert!(c.validate().is_err());
        assert!(ConsumerSpec::new("S.x", "c").validate().is_err());
    }
}
