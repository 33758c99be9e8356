//! Every name on the bus, in one place: streams, consumers, buckets, subjects, headers.
//!
//! Subjects that end in a variable token (`<edge_id>`, `<check>`, `<stream>`) are
//! built with the functions in [`subject`]; that token must satisfy [`is_valid_token`].

/// JetStream streams and the subjects they capture.
pub mod stream {
    /// Work queue of translation requests (WorkQueue retention).
    pub const TRANSLATE: &str = "TRANSLATE";
    /// Subjects captured by [`TRANSLATE`].
    pub const TRANSLATE_SUBJECTS: &[&str] = &[super::subject::TRANSLATE_REQUEST];
    /// The system's log of events (Limits retention, duplicate window on).
    pub const EVENTS: &str = "EVENTS";
    /// Subjects captured by [`EVENTS`].
    pub const EVENTS_SUBJECTS: &[&str] = &[super::subject::EVENTS_ALL];
}

/// Durable consumer names.
pub mod consumer {
    /// Pull consumer on `TRANSLATE` shared by every worker.
    pub const WORKERS: &str = "workers";
    /// Consumer on `EVENTS` that writes every event to SQL.
    pub const AUDIT: &str = "audit";
    /// Consumer on `EVENTS` filtered to `events.dataset.updated`.
    pub const TRAINER: &str = "trainer";
    /// Consumer on `EVENTS` used by the monitor.
    pub const MONITOR: &str = "monitor";
}

/// Queue groups of core request/reply services (one member answers each request).
pub mod queue {
    /// The audit services answering lookups (`audit.lookup.…`).
    pub const AUDIT: &str = "audit";
}

/// Key-value buckets and object stores.
pub mod store {
    /// KV bucket of model versions, metrics and aliases.
    pub const MODELS: &str = "MODELS";
    /// Object store of model weights, tokenizer and config.
    pub const MODEL_ARTIFACTS: &str = "MODEL_ARTIFACTS";
}

/// Message header names set by Relais (the bus's own `Nats-Msg-Id` carries the event id).
pub mod header {
    /// The translation request id, so one request can be followed across services.
    pub const REQUEST_ID: &str = "relais-request-id";
    /// W3C trace context.
    pub const TRACEPARENT: &str = "traceparent";
}

/// Subjects, fixed ones as constants and parameterised ones as builders.
pub mod subject {
    /// Translation requests (stream `TRANSLATE`).
    pub const TRANSLATE_REQUEST: &str = "translate.request";
    /// Every event (stream `EVENTS`).
    pub const EVENTS_ALL: &str = "events.>";
    /// Prefix of `events.translation.completed.<edge_id>`.
    pub const TRANSLATION_COMPLETED_PREFIX: &str = "events.translation.completed";
    /// Prefix of `events.translation.failed.<edge_id>`.
    pub const TRANSLATION_FAILED_PREFIX: &str = "events.translation.failed";
    /// Corrections sent by users.
    pub const FEEDBACK_SUBMITTED: &str = "events.feedback.submitted";
    /// A new dataset version exists.
    pub const DATASET_UPDATED: &str = "events.dataset.updated";
    /// A model version was added to the registry.
    pub const MODEL_REGISTERED: &str = "events.model.registered";
    /// A model version became `production`.
    pub const MODEL_PROMOTED: &str = "events.model.promoted";
    /// `production` was moved back to an earlier version.
    pub const MODEL_ROLLED_BACK: &str = "events.model.rolled_back";
    /// A worker refused a model version and kept the one it had.
    pub const MODEL_REJECTED: &str = "events.model.rejected";
    /// Progress of a training run.
    pub const TRAINING_PROGRESS: &str = "events.training.progress";
    /// Prefix of `events.monitor.check.<check>`.
    pub const MONITOR_CHECK_PREFIX: &str = "events.monitor.check";
    /// Prefix of `events.monitor.alert.<check>`.
    pub const MONITOR_ALERT_PREFIX: &str = "events.monitor.alert";
    /// Prefix of `events.deadletter.<stream>`.
    pub const DEADLETTER_PREFIX: &str = "events.deadletter";
    /// Core request/reply (not an event, not persisted): does the audit store
    /// know a translation? Request [`crate::TranslationLookup`], reply
    /// [`crate::TranslationLookupReply`].
    pub const TRANSLATION_LOOKUP: &str = "audit.lookup.translation";

    /// `events.translation.completed.<edge_id>`.
    pub fn translation_completed(edge_id: &str) -> String {
        format!("{TRANSLATION_COMPLETED_PREFIX}.{edge_id}")
    }

    /// `events.translation.failed.<edge_id>`.
    pub fn translation_failed(edge_id: &str) -> String {
        format!("{TRANSLATION_FAILED_PREFIX}.{edge_id}")
    }

    /// `events.translation.*.<edge_id>`: what one edge subscribes to for its results.
    pub fn edge_results(edge_id: &str) -> String {
        format!("events.translation.*.{edge_id}")
    }

    /// `events.monitor.check.<check>`.
    pub fn monitor_check(check: &str) -> String {
        format!("{MONITOR_CHECK_PREFIX}.{check}")
    }

    /// `events.monitor.alert.<check>`.
    pub fn monitor_alert(check: &str) -> String {
        format!("{MONITOR_ALERT_PREFIX}.{check}")
    }

    /// `events.deadletter.<stream>`.
    pub fn dead_lettered(stream: &str) -> String {
        format!("{DEADLETTER_PREFIX}.{stream}")
    }
}

/// Whether `token` can stand as one subject token: not empty, no `.`, no
/// wildcard (`*`, `>`), no whitespace or control character.
pub fn is_valid_token(token: &str) -> bool {
    !token.is_empty()
        && !token
            .chars()
            .any(|c| matches!(c, '.' | '*' | '>') || c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_put_the_token_last() {
        assert_eq!(
            subject::translation_completed("edge-1"),
            "events.translation.completed.edge-1"
        );
        assert_eq!(
            subject::translation_failed("edge-1"),
            "events.translation.failed.edge-1"
        );
        assert_eq!(subject::edge_results("e"), "events.translation.*.e");
        assert_eq!(subject::monitor_check("nats"), "events.monitor.check.nats");
        assert_eq!(subject::monitor_alert("nats"), "events.monitor.alert.nats");
        assert_eq!(
            subject::dead_lettered(stream::TRANSLATE),
            "events.deadletter.TRANSLATE"
        );
    }

    #[test]
    fn every_event_subject_is_captured_by_the_events_stream() {
        let prefix = subject::EVENTS_ALL.trim_end_matches('>');
        for s in [
            subject::translation_completed("e"),
            subject::translation_failed("e"),
            subject::FEEDBACK_SUBMITTED.to_owned(),
            subject::DATASET_UPDATED.to_owned(),
            subject::MODEL_REGISTERED.to_owned(),
            subject::MODEL_PROMOTED.to_owned(),
            subject::MODEL_ROLLED_BACK.to_owned(),
            subject::MODEL_REJECTED.to_owned(),
            subject::TRAINING_PROGRESS.to_owned(),
            subject::monitor_check("c"),
            subject::monitor_alert("c"),
            subject::dead_lettered("S"),
        ] {
            assert!(
                s.starts_with(prefix),
                "{s} is outside {}",
                subject::EVENTS_ALL
            );
        }
        assert!(!subject::TRANSLATE_REQUEST.starts_with(prefix));
        // Lookups are requests, never stored as events.
        assert!(!subject::TRANSLATION_LOOKUP.starts_with(prefix));
    }

    #[test]
    fn tokens_reject_separators_and_wildcards() {
        for ok in ["edge-1", "nats_health", "TRANSLATE", "é"] {
            assert!(is_valid_token(ok), "{ok:?} should be valid");
        }
        for bad in ["", "a.b", "*", "a>", "a b", "tab\t", "nl\n"] {
            assert!(!is_valid_token(bad), "{bad:?} should be invalid");
        }
    }
}
