//! `--to audit`: a SQL database rebuilt from the stream through the audit
//! logger's own write path ([`Store::record_event`], then curation of
//! corrections), so it ends with the rows the live audit database has.

use relais_bus::{Bus, ReplayQuery};
use relais_events::{FeedbackSubmitted, RawEnvelope};
use relais_store::{Recorded, Store, StoreError};
use serde::Serialize;
use tracing::warn;
use uuid::Uuid;

use crate::ReplayError;

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RebuildReport {
    /// Messages read from the stream.
    pub read: u64,
    /// Events written for the first time.
    pub recorded: u64,
    /// Events already in the database (a second run, a replayed copy).
    pub duplicates: u64,
    /// Messages that are no event (the live service dead-letters them).
    pub undecodable: u64,
    /// Corrections curated (accepted or rejected) by this run.
    pub curated: u64,
    /// Corrections whose translation is not in the database.
    pub orphans: u64,
    /// The last stream sequence read.
    pub last_sequence: Option<u64>,
}

/// Replays `query` into `store`. `progress` is called after every message
/// with the report so far (the command prints every few hundred). Running
/// it twice adds nothing: events are recorded once per identity and
/// curation once per correction.
pub async fn rebuild_audit(
    bus: &Bus,
    query: &ReplayQuery,
    store: &Store,
    mut progress: impl FnMut(&RebuildReport),
) -> Result<RebuildReport, ReplayError> {
    let mut report = RebuildReport::default();
    let mut corrections = Vec::new();
    let mut replay = bus.replay(query).await?;
    while let Some(item) = replay.next().await {
        let item = item?;
        report.read += 1;
        report.last_sequence = Some(item.sequence);
        let sequence = item.sequence;
        match store.record_event(&item.payload).await {
            Ok(Recorded::New) => report.recorded += 1,
            Ok(Recorded::Duplicate) => report.duplicates += 1,
            Err(e) if e.is_poison() => {
                warn!(sequence, subject = %item.subject, error = %e, "skipping a message that is no event");
                report.undecodable += 1;
                progress(&report);
                continue;
            }
            Err(source) => return Err(ReplayError::Store { sequence, source }),
        }
        if let Some(feedback_id) = feedback_id(&item.payload) {
            corrections.push((sequence, feedback_id));
        }
        progress(&report);
    }
    // Curated after every event is in, as the live service's sweep would:
    // a correction may come before its translation.
    for (sequence, feedback_id) in corrections {
        match store.curate_feedback(feedback_id).await {
            Ok(relais_store::CurationRecorded::AlreadyCurated) => {}
            Ok(_) => report.curated += 1,
            Err(StoreError::NotFound { .. }) => report.orphans += 1,
            Err(source) => return Err(ReplayError::Store { sequence, source }),
        }
    }
    progress(&report);
    Ok(report)
}

/// The feedback id of a `FeedbackSubmitted` payload.
fn feedback_id(payload: &[u8]) -> Option<Uuid> {
    let raw = RawEnvelope::decode(payload).ok()?;
    if raw.event_type != <FeedbackSubmitted as relais_events::Event>::TYPE {
        return None;
    }
    raw.into_typed::<FeedbackSubmitted>()
        .ok()
        .map(|e| e.data.feedback_id)
}
