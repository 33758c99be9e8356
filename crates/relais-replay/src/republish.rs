//! `--republish`: the selected events published again on their subjects, each
//! with a fresh id and `originalid` pointing at the first event of its chain,
//! so the duplicate window does not swallow them and the audit log records
//! each identity once.

use relais_bus::{Bus, ReplayQuery};
use relais_events::RawEnvelope;
use serde::Serialize;
use tracing::warn;

use crate::ReplayError;

/// What a republish did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RepublishReport {
    /// Messages read.
    pub read: u64,
    /// Events published again.
    pub republished: u64,
    /// Messages that are no event, left alone.
    pub skipped: u64,
}

/// Republishes every event of `query` (read to the end first, so the copies
/// are never read back by the same run).
pub async fn republish(bus: &Bus, query: &ReplayQuery) -> Result<RepublishReport, ReplayError> {
    let items = bus.replay(query).await?.collect().await?;
    let mut report = RepublishReport::default();
    for item in items {
        report.read += 1;
        let Ok(raw) = RawEnvelope::decode(&item.payload) else {
            warn!(sequence = item.sequence, subject = %item.subject, "not republishing a message that is no event");
            report.skipped += 1;
            continue;
        };
        let copy = raw.republish();
        bus.publish_envelope_on(&item.subject, &copy, &item.headers.propagated())
            .await?;
        report.republished += 1;
    }
    Ok(report)
}
