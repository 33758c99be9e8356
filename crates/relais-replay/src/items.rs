//! [`Items`]: a [`Replay`] that also honours a start time on the client side.
//!
//! Seen with nats-server: an ordered consumer asked to start at a time after
//! the stream's last message delivers that last message anyway, so a replay
//! of a range in the future would not be empty. Items stored before the
//! requested start are skipped here.

use chrono::{DateTime, Utc};
use relais_bus::{Bus, BusError, Replay, ReplayFrom, ReplayItem, ReplayQuery};

/// The messages of a query, in stream order.
#[derive(Debug)]
pub(crate) struct Items {
    replay: Replay,
    not_before: Option<DateTime<Utc>>,
}

impl Items {
    pub(crate) async fn open(bus: &Bus, query: &ReplayQuery) -> Result<Items, BusError> {
        let not_before = match query.from {
            ReplayFrom::Time(t) => Some(t),
            _ => None,
        };
        Ok(Items {
            replay: bus.replay(query).await?,
            not_before,
        })
    }

    pub(crate) async fn next(&mut self) -> Option<Result<ReplayItem, BusError>> {
        loop {
            let item = self.replay.next().await?;
            match (&item, self.not_before) {
                (Ok(i), Some(t)) if i.time < t => continue,
                _ => return Some(item),
            }
        }
    }

    pub(crate) async fn collect(mut self) -> Result<Vec<ReplayItem>, BusError> {
        let mut out = Vec::new();
        while let Some(item) = self.next().await {
            out.push(item?);
        }
        Ok(out)
    }
}
