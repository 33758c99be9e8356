//! Publishing `DatasetUpdated`, with an event id derived from the version so
//! that announcing the same version again (a retry, `relais dataset announce`)
//! is stored once by the stream's duplicate window.

use relais_bus::{Bus, Headers};
use relais_events::{DatasetUpdated, Envelope, Event};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{AuditError, Layout};

/// Publishes `event` on `events.dataset.updated` (in `layout`) and waits for
/// the stream to store it.
pub async fn announce(
    bus: &Bus,
    layout: &Layout,
    source: &str,
    event: DatasetUpdated,
) -> Result<(), AuditError> {
    let subject = layout.subject(&event.subject());
    let mut envelope = Envelope::new(source, event);
    envelope.id = event_id(&envelope.data);
    let ack = bus
        .publish_envelope_on(&subject, &envelope, &Headers::new())
        .await?;
    tracing::info!(
        dataset_version = envelope.data.dataset_version,
        added_pairs = envelope.data.added_pairs,
        duplicate = ack.duplicate,
        "dataset update announced"
    );
    Ok(())
}

/// The id of the event announcing this version: the same for the same version.
pub fn event_id(event: &DatasetUpdated) -> Uuid {
    let key = format!(
        "{}\n{}\n{}\n{}\n{:?}",
        DatasetUpdated::TYPE,
        event.dataset_version,
        event.added_pairs,
        event.total_pairs,
        event.source
    );
    let digest = Sha256::digest(key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use relais_events::DatasetSource;

    use super::*;

    #[test]
    fn ids_depend_on_the_version_only() {
        let event = |version| DatasetUpdated {
            dataset_version: version,
            added_pairs: 3,
            total_pairs: 10,
            source: DatasetSource::Feedback,
        };
        assert_eq!(event_id(&event(2)), event_id(&event(2)));
        assert_ne!(event_id(&event(2)), event_id(&event(3)));
    }
}
