//! Checks through NATS: the server, the durable consumers, the KV registry.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use relais_bus::{Bus, KvBucket};
use relais_events::names::store::MODELS;

use super::{chain, Outcome};

/// Key of the `MODELS` bucket naming the production model version (UTF-8).
pub const PRODUCTION_ALIAS_KEY: &str = "alias.production";
/// Key of the `MODELS` bucket holding the trainer's last success (RFC 3339).
pub const LAST_TRAINING_KEY: &str = "trainer.last_success";

/// A round trip to the server.
pub(super) async fn round_trip(bus: &Bus) -> Outcome {
    let started = Instant::now();
    match bus.flush().await {
        Ok(()) => Outcome::pass(format!(
            "round trip to {} in {} ms",
            bus.url(),
            started.elapsed().as_millis()
        )),
        Err(e) => Outcome::fail(format!("no round trip to {}: {}", bus.url(), chain(&e))),
    }
}

/// Messages of `stream` not yet done by `consumer` (never delivered, or
/// delivered and not acknowledged) stay at or under `max`.
pub(super) async fn backlog(bus: &Bus, stream: &str, consumer: &str, max: u64) -> Outcome {
    let state = match bus.consumer_state(stream, consumer).await {
        Ok(s) => s,
        Err(e) => {
            return Outcome::fail(format!(
                "cannot read consumer {stream}/{consumer}: {}",
                chain(&e)
            ))
        }
    };
    let waiting = state.pending + state.ack_pending as u64;
    metrics::gauge!(
        "relais_consumer_pending_messages",
        "stream" => stream.to_owned(),
        "consumer" => consumer.to_owned()
    )
    .set(waiting as f64);
    let detail = format!(
        "{stream}/{consumer}: {waiting} waiting ({} undelivered, {} unacknowledged, {} redelivered), max {max}",
        state.pending, state.ack_pending, state.redelivered
    );
    if waiting > max {
        Outcome::fail(detail)
    } else {
        Outcome::pass(detail)
    }
}

/// The registry bucket, `None` while nobody has created it.
async fn registry(bus: &Bus) -> Result<Option<KvBucket>, Outcome> {
    bus.existing_kv_bucket(MODELS)
        .await
        .map_err(|e| Outcome::fail(format!("cannot open KV {MODELS}: {}", chain(&e))))
}

async fn read(bucket: &KvBucket, key: &str) -> Result<Option<String>, Outcome> {
    match bucket.get(key).await {
        Ok(None) => Ok(None),
        Ok(Some(bytes)) => String::from_utf8(bytes.to_vec())
            .map(|v| Some(v.trim().to_owned()))
            .map_err(|_| Outcome::fail(format!("KV {MODELS} {key} is not UTF-8"))),
        Err(e) => Err(Outcome::fail(format!(
            "cannot read KV {MODELS} {key}: {}",
            chain(&e)
        ))),
    }
}

/// The model that answered the smoke translation is the production alias.
pub(super) async fn model_version(bus: &Bus, reported: &str) -> Outcome {
    let bucket = match registry(bus).await {
        Ok(Some(b)) => b,
        Ok(None) => return Outcome::pass(format!("no registry yet (serving {reported})")),
        Err(failed) => return failed,
    };
    match read(&bucket, PRODUCTION_ALIAS_KEY).await {
        Err(failed) => failed,
        Ok(None) => Outcome::pass(format!(
            "no registry yet: no {PRODUCTION_ALIAS_KEY} in KV {MODELS} (serving {reported})"
        )),
        Ok(Some(production)) if production == reported => {
            Outcome::pass(format!("serving {reported}, the production model"))
        }
        Ok(Some(production)) => Outcome::fail(format!(
            "serving {reported} but {PRODUCTION_ALIAS_KEY} is {production}"
        )),
    }
}

/// The trainer's last success is recent enough.
pub(super) async fn training_fresh(bus: &Bus, max_age: Duration, require: bool) -> Outcome {
    let value = match registry(bus).await {
        Ok(Some(bucket)) => match read(&bucket, LAST_TRAINING_KEY).await {
            Ok(v) => v,
            Err(failed) => return failed,
        },
        Ok(None) => None,
        Err(failed) => return failed,
    };
    training_outcome(value.as_deref(), Utc::now(), max_age, require)
}

/// Judges the `trainer.last_success` value (`None`: absent) at `now`.
pub fn training_outcome(
    value: Option<&str>,
    now: DateTime<Utc>,
    max_age: Duration,
    require: bool,
) -> Outcome {
    let Some(value) = value else {
        let detail = format!("no training recorded yet (no {LAST_TRAINING_KEY} in KV {MODELS})");
        return if require {
            Outcome::fail(format!("{detail}; monitor.require_training is true"))
        } else {
            Outcome::pass(detail)
        };
    };
    let last = match DateTime::parse_from_rfc3339(value) {
        Ok(t) => t.with_timezone(&Utc),
        Err(e) => {
            return Outcome::fail(format!(
                "{LAST_TRAINING_KEY} {value:?} is not an RFC 3339 timestamp: {e}"
            ))
        }
    };
    let age = now.signed_duration_since(last);
    let max = TimeDelta::from_std(max_age).unwrap_or(TimeDelta::MAX);
    let detail = format!(
        "last successful training {value}, {} h ago (max {} h)",
        age.num_hours(),
        max_age.as_secs() / 3600
    );
    if age > max {
        Outcome::fail(detail)
    } else {
        Outcome::pass(detail)
    }
}

#[cfg(test)]
mod tests {
    use relais_events::CheckStatus::{Fail, Pass};

    use super::*;

    const EIGHT_DAYS: Duration = Duration::from_secs(8 * 24 * 3600);

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-10T12:00:00Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    #[test]
    fn recent_training_passes_and_old_training_fails() {
        let recent = training_outcome(Some("2026-12-05T00:00:00+01:00"), now(), EIGHT_DAYS, false);
        assert_eq!(recent.status, Pass, "{}", recent.detail);
        let old = training_outcome(Some("2026-12-01T12:00:00Z"), now(), EIGHT_DAYS, false);
        assert_eq!(old.status, Fail, "{}", old.detail);
        assert!(old.detail.contains("216 h ago"), "{}", old.detail);
    }

    #[test]
    fn absent_training_passes_unless_required() {
        assert_eq!(
            training_outcome(None, now(), EIGHT_DAYS, false).status,
            Pass
        );
        let required = training_outcome(None, now(), EIGHT_DAYS, true);
        assert_eq!(required.status, Fail);
        assert!(required.detail.contains("require_training"));
    }

    #[test]
    fn a_malformed_timestamp_fails() {
        let bad = training_outcome(Some("last tuesday"), now(), EIGHT_DAYS, false);
        assert_eq!(bad.status, Fail);
        assert!(bad.detail.contains("RFC 3339"), "{}", bad.detail);
    }
}
