//! Declaring streams and consumers on the server, and reading their state.

use std::time::Duration;

use async_nats::jetstream::context::{
    ConsumerInfoError, ConsumerInfoErrorKind, GetStreamError, GetStreamErrorKind,
};
use async_nats::jetstream::stream;
use async_nats::jetstream::ErrorCode;
use tracing::{info, warn};

use crate::error::{check_name, BusError};
use crate::{Bus, ConsumerSpec, StreamSpec, Topology};

impl Bus {
    /// [`Topology::declare`]: creates what is missing, updates what differs.
    pub async fn ensure_topology(&self, topology: &Topology) -> Result<(), BusError> {
        topology.declare(self).await
    }
}

/// What a stream holds right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamState {
    /// Messages stored.
    pub messages: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// Lowest sequence still stored.
    pub first_sequence: u64,
    /// Last sequence assigned.
    pub last_sequence: u64,
}

/// Where a durable consumer stands (for health and lag metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerState {
    /// Messages not yet delivered.
    pub pending: u64,
    /// Delivered, not yet acknowledged.
    pub ack_pending: usize,
    /// Being redelivered.
    pub redelivered: usize,
}

impl Bus {
    /// The current state of stream `name`.
    pub async fn stream_state(&self, name: &str) -> Result<StreamState, BusError> {
        check_name("stream", name)?;
        let mut stream = self
            .js()
            .get_stream(name)
            .await
            .map_err(|e| BusError::js(format!("get stream {name}"), e))?;
        let state = &stream
            .info()
            .await
            .map_err(|e| BusError::js(format!("stream info {name}"), e))?
            .state;
        Ok(StreamState {
            messages: state.messages,
            bytes: state.bytes,
            first_sequence: state.first_sequence,
            last_sequence: state.last_sequence,
        })
    }

    /// Deletes stream `name` and every message in it (operator tooling, tests).
    /// Returns false when it did not exist.
    pub async fn delete_stream(&self, name: &str) -> Result<bool, BusError> {
        check_name("stream", name)?;
        match self.js().delete_stream(name).await {
            Ok(status) => Ok(status.success),
            Err(e) if stream_missing(&e) => Ok(false),
            Err(e) => Err(BusError::js(format!("delete stream {name}"), e)),
        }
    }

    /// The current state of durable consumer `consumer` on `stream`.
    pub async fn consumer_state(
        &self,
        stream: &str,
        consumer: &str,
    ) -> Result<ConsumerState, BusError> {
        check_name("stream", stream)?;
        check_name("consumer", consumer)?;
        let info = self
            .js()
            .get_stream_no_info(stream)
            .await
            .map_err(|e| BusError::js(format!("get stream {stream}"), e))?
            .consumer_info(consumer)
            .await
            .map_err(|e| BusError::js(format!("consumer info {stream}/{consumer}"), e))?;
        Ok(ConsumerState {
            pending: info.num_pending,
            ack_pending: info.num_ack_pending,
            redelivered: info.num_redelivered,
        })
    }
}

/// Creates the stream, or updates it when its configuration differs. Changes the
/// server refuses (e.g. retention policy, storage type) are reported as
/// [`BusError::TopologyConflict`].
pub async fn declare_stream(bus: &Bus, spec: &StreamSpec) -> Result<(), BusError> {
    spec.validate()?;
    let wanted = spec.to_nats();
    match bus.js().get_stream(&spec.name).await {
        Ok(mut existing) => {
            let info = existing
                .info()
                .await
                .map_err(|e| BusError::js(format!("stream info {}", spec.name), e))?;
            if same_stream(&info.config, &wanted) {
                return Ok(());
            }
            if info.config.retention != wanted.retention || info.config.storage != wanted.storage {
                return Err(BusError::TopologyConflict {
                    kind: "stream",
                    name: spec.name.clone(),
                    detail: format!(
                        "exists with retention {:?} / storage {:?}, declared {:?} / {:?}; \
                         these cannot change in place, delete the stream or rename it",
                        info.config.retention,
                        info.config.storage,
                        wanted.retention,
                        wanted.storage
                    ),
                });
            }
            warn!(stream = %spec.name, "stream configuration differs, updating");
            bus.js()
                .update_stream(&wanted)
                .await
                .map_err(|e| BusError::TopologyConflict {
                    kind: "stream",
                    name: spec.name.clone(),
                    detail: e.to_string(),
                })?;
            Ok(())
        }
        Err(e) if !stream_missing(&e) => Err(BusError::js(format!("stream info {}", spec.name), e)),
        Err(_) => {
            match bus.js().create_stream(wanted.clone()).await {
                Ok(_) => {
                    info!(stream = %spec.name, "stream created");
                    Ok(())
                }
                Err(e) => {
                    // Another instance may have created it in between.
                    if bus.js().get_stream(&spec.name).await.is_ok() {
                        return Box::pin(declare_stream(bus, spec)).await;
                    }
                    Err(BusError::TopologyConflict {
                        kind: "stream",
                        name: spec.name.clone(),
                        detail: e.to_string(),
                    })
                }
            }
        }
    }
}

fn same_stream(have: &stream::Config, want: &stream::Config) -> bool {
    let mut sorted_have = have.subjects.clone();
    let mut sorted_want = want.subjects.clone();
    sorted_have.sort();
    sorted_want.sort();
    sorted_have == sorted_want
        && have.retention == want.retention
        && have.storage == want.storage
        && have.max_age == want.max_age
        && have.max_bytes == want.max_bytes
        && have.duplicate_window == want.duplicate_window
        && have.discard == want.discard
}

/// Creates the durable consumer, or updates it when its configuration differs.
pub async fn declare_consumer(bus: &Bus, spec: &ConsumerSpec) -> Result<(), BusError> {
    spec.validate()?;
    let stream = bus
        .js()
        .get_stream(&spec.stream)
        .await
        .map_err(|e| BusError::js(format!("get stream {}", spec.stream), e))?;
    let wanted = spec.to_nats();
    match stream.consumer_info(&spec.name).await {
        Ok(info) => {
            let have = &info.config;
            let want_filter = wanted.filter_subject.clone();
            if have.filter_subject == want_filter
                && have.ack_wait == effective_ack_wait(spec)
                && have.max_deliver == wanted.max_deliver
                && have.backoff == wanted.backoff
                && have.max_ack_pending == wanted.max_ack_pending
                && have.ack_policy == wanted.ack_policy
            {
                return Ok(());
            }
            warn!(stream = %spec.stream, consumer = %spec.name, "consumer configuration differs, updating");
            stream
                .update_consumer(wanted)
                .await
                .map_err(|e| BusError::TopologyConflict {
                    kind: "consumer",
                    name: spec.name.clone(),
                    detail: e.to_string(),
                })?;
            Ok(())
        }
        Err(e) if !matches!(e.kind(), ConsumerInfoErrorKind::NotFound) && !is_not_found(&e) => Err(
            BusError::js(format!("consumer info {}/{}", spec.stream, spec.name), e),
        ),
        Err(_) => {
            stream
                .create_consumer(wanted)
                .await
                .map_err(|e| BusError::TopologyConflict {
                    kind: "consumer",
                    name: spec.name.clone(),
                    detail: e.to_string(),
                })?;
            info!(stream = %spec.stream, consumer = %spec.name, "consumer created");
            Ok(())
        }
    }
}

fn stream_missing(e: &GetStreamError) -> bool {
    matches!(e.kind(), GetStreamErrorKind::JetStream(js) if js.error_code() == ErrorCode::STREAM_NOT_FOUND)
}

fn is_not_found(e: &ConsumerInfoError) -> bool {
    matches!(e.kind(), ConsumerInfoErrorKind::JetStream(js) if js.error_code() == ErrorCode::CONSUMER_NOT_FOUND)
}

/// The server replaces `ack_wait` with `backoff[0]` when a backoff is set.
fn effective_ack_wait(spec: &ConsumerSpec) -> Duration {
    spec.backoff.first().copied().unwrap_or(spec.ack_wait)
}
