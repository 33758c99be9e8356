//! Ordered reads of a stream from a point in time or a sequence.

use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use async_nats::jetstream::consumer::DeliverPolicy;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use relais_events::{Envelope, Event};

use crate::error::{check_filter_subject, check_name, BusError};
use crate::{Bus, Headers};

/// Where a replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayFrom {
    /// The first message still in the stream.
    Beginning,
    /// The first message with this sequence or later.
    Sequence(u64),
    /// The first message stored at this time or later.
    Time(DateTime<Utc>),
}

/// Where a replay ends (inclusive). It always ends at the stream's last message
/// as of the call, so it never waits for new messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayUntil {
    /// The last message stored when the replay began.
    Now,
    /// The last message with a sequence at most this.
    Sequence(u64),
    /// The last message stored at this time or earlier.
    Time(DateTime<Utc>),
}

/// What to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayQuery {
    /// The stream to read.
    pub stream: String,
    /// Start point.
    pub from: ReplayFrom,
    /// End point.
    pub until: ReplayUntil,
    /// Only messages on subjects matching this filter.
    pub filter_subject: Option<String>,
}

impl ReplayQuery {
    /// The whole stream as it is now.
    pub fn new(stream: impl Into<String>) -> Self {
        ReplayQuery {
            stream: stream.into(),
            from: ReplayFrom::Beginning,
            until: ReplayUntil::Now,
            filter_subject: None,
        }
    }

    /// Sets the start point.
    #[must_use]
    pub fn from(mut self, from: ReplayFrom) -> Self {
        self.from = from;
        self
    }

    /// Sets the end point.
    #[must_use]
    pub fn until(mut self, until: ReplayUntil) -> Self {
        self.until = until;
        self
    }

    /// Sets the subject filter.
    #[must_use]
    pub fn filter(mut self, subject: impl Into<String>) -> Self {
        self.filter_subject = Some(subject.into());
        self
    }
}

/// One replayed message.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayItem {
    /// Its stream sequence.
    pub sequence: u64,
    /// When the stream stored it.
    pub time: DateTime<Utc>,
    /// Its subject.
    pub subject: String,
    /// Its headers.
    pub headers: Headers,
    /// Its payload.
    pub payload: Bytes,
}

impl ReplayItem {
    /// The payload read as an event envelope of type `T` (type string checked).
    pub fn event<T: Event>(&self) -> Result<Envelope<T>, BusError> {
        Ok(Envelope::<T>::decode(&self.payload)?)
    }
}

/// A running replay; call [`Replay::next`] until it returns `None`.
pub struct Replay {
    messages: Option<Ordered>,
    until: ReplayUntil,
    last_sequence: u64,
    /// Asked to start at this time: nats-server delivers the stream's last
    /// message to a consumer whose start time lies after it, so older
    /// messages are skipped here.
    not_before: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("until", &self.until)
            .field("last_sequence", &self.last_sequence)
            .field("done", &self.messages.is_none())
            .finish()
    }
}

impl Bus {
    /// Starts an ordered replay (an ephemeral ordered consumer, nothing to clean up).
    pub async fn replay(&self, query: &ReplayQuery) -> Result<Replay, BusError> {
        check_name("stream", &query.stream)?;
        if let Some(f) = &query.filter_subject {
            check_filter_subject(f)?;
        }
        let mut stream = self
            .js()
            .get_stream(&query.stream)
            .await
            .map_err(|e| BusError::js(format!("get stream {}", query.stream), e))?;
        let last_sequence = stream
            .info()
            .await
            .map_err(|e| BusError::js(format!("stream info {}", query.stream), e))?
            .state
            .last_sequence;
        let start_beyond_end = match query.from {
            ReplayFrom::Sequence(s) => s > last_sequence,
            _ => false,
        };
        if last_sequence == 0 || start_beyond_end {
            return Ok(Replay::empty(query.until, last_sequence));
        }
        let deliver_policy = match query.from {
            ReplayFrom::Beginning => DeliverPolicy::All,
            ReplayFrom::Sequence(s) => DeliverPolicy::ByStartSequence {
                start_sequence: s.max(1),
            },
            ReplayFrom::Time(t) => DeliverPolicy::ByStartTime { start_time: t },
        };
        let mut consumer = stream
            .create_consumer(OrderedConfig {
                deliver_policy,
                filter_subject: query.filter_subject.clone().unwrap_or_default(),
                ..Default::default()
            })
            .await
            .map_err(|e| BusError::js(format!("replay consumer on {}", query.stream), e))?;
        let pending = consumer
            .info()
            .await
            .map_err(|e| BusError::js(format!("replay consumer info on {}", query.stream), e))?
            .num_pending;
        if pending == 0 {
            return Ok(Replay::empty(query.until, last_sequence));
        }
        let messages = consumer
            .messages()
            .await
            .map_err(|e| BusError::js(format!("replay {}", query.stream), e))?;
        Ok(Replay {
            messages: Some(messages),
            until: query.until,
            last_sequence,
            not_before: match query.from {
                ReplayFrom::Time(t) => Some(t),
                _ => None,
            },
        })
    }
}

impl Replay {
    fn empty(until: ReplayUntil, last_sequence: u64) -> Self {
        Replay {
            messages: None,
            until,
            last_sequence,
            not_before: None,
        }
    }

    /// The next message in stream order, or `None` at the end.
    pub async fn next(&mut self) -> Option<Result<ReplayItem, BusError>> {
        loop {
            let item = self.next_delivered().await?;
            match (&item, self.not_before) {
                (Ok(i), Some(start)) if i.time < start => continue,
                _ => return Some(item),
            }
        }
    }

    /// The next message the ordered consumer delivers within the range's end.
    async fn next_delivered(&mut self) -> Option<Result<ReplayItem, BusError>> {
        let messages = self.messages.as_mut()?;
        let message = match messages.next().await {
            None => {
                self.messages = None;
                return None;
            }
            Some(Err(e)) => {
                self.messages = None;
                return Some(Err(BusError::js("replay", e)));
            }
            Some(Ok(m)) => m,
        };
        let (sequence, time, pending) = match message.info() {
            Ok(info) => (info.stream_sequence, info.published, info.pending),
            Err(e) => {
                self.messages = None;
                return Some(Err(BusError::js("replay metadata", e)));
            }
        };
        let beyond = sequence > self.last_sequence
            || match self.until {
                ReplayUntil::Now => false,
                ReplayUntil::Sequence(s) => sequence > s,
                ReplayUntil::Time(t) => time > t,
            };
        if beyond {
            self.messages = None;
            return None;
        }
        let at_end = pending == 0
            || sequence >= self.last_sequence
            || matches!(self.until, ReplayUntil::Sequence(s) if sequence >= s);
        if at_end {
            self.messages = None;
        }
        Some(Ok(ReplayItem {
            sequence,
            time,
            subject: message.subject.to_string(),
            headers: Headers::from_nats(message.headers.as_ref()),
            payload: message.payload.clone(),
        }))
    }

    /// Reads everything that is left.
    pub async fn collect(mut self) -> Result<Vec<ReplayItem>, BusError> {
        let mut out = Vec::new();
        while let Some(item) = self.next().await {
            out.push(item?);
        }
        Ok(out)
    }
}
