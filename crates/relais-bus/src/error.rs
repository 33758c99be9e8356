//! The one error type of the bus crate.

use std::time::Duration;

/// Everything that can go wrong talking to NATS.
///
/// Causes from async-nats are kept as boxed sources so callers never need to
/// import async-nats to inspect them.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The first connection could not be made: nothing answered at `url` in time.
    #[error("NATS is unreachable at {url}")]
    Unreachable {
        /// The configured server URL.
        url: String,
        /// What the client saw.
        #[source]
        source: Option<BoxError>,
    },
    /// The server refused our credentials.
    #[error("NATS refused the credentials of user {user:?} at {url}")]
    Auth {
        /// The configured server URL.
        url: String,
        /// The configured user, when there is one.
        user: Option<String>,
        /// What the client saw.
        #[source]
        source: BoxError,
    },
    /// Any other failure while connecting.
    #[error("cannot connect to NATS at {url}")]
    Connect {
        /// The configured server URL.
        url: String,
        /// What the client saw.
        #[source]
        source: BoxError,
    },
    /// A subject, stream, consumer or bucket name is not acceptable.
    #[error("invalid {kind} {name:?}: {why}")]
    InvalidName {
        /// What the name is for (`subject`, `stream`, ...).
        kind: &'static str,
        /// The offending name.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A publish was not acknowledged by JetStream within the retry budget.
    #[error("publish to {subject} not acknowledged after {attempts} attempts in {elapsed:?}")]
    PublishTimeout {
        /// The subject published to.
        subject: String,
        /// How many times it was sent.
        attempts: u32,
        /// How long we tried.
        elapsed: Duration,
        /// The last error seen.
        #[source]
        source: BoxError,
    },
    /// The server refused a publish: this user may not publish to `subject`.
    #[error("permission denied: this NATS user may not publish to {subject}")]
    PermissionDenied {
        /// The subject published to.
        subject: String,
    },
    /// A publish failed for a reason that retrying cannot fix.
    #[error("publish to {subject} failed")]
    Publish {
        /// The subject published to.
        subject: String,
        /// What the server or client said.
        #[source]
        source: BoxError,
    },
    /// The stream or consumer exists with a configuration we cannot reconcile.
    #[error("{kind} {name} exists with a conflicting configuration: {detail}")]
    TopologyConflict {
        /// `stream` or `consumer`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// What differs, or the server's refusal.
        detail: String,
    },
    /// A JetStream management call (stream, consumer, KV, object store) failed.
    #[error("JetStream {operation} failed")]
    JetStream {
        /// What we were doing, e.g. `create stream EVENTS`.
        operation: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// A message could not be acknowledged, nak'ed or term'ed.
    #[error("cannot {action} message {stream_sequence}")]
    Ack {
        /// `ack`, `nak`, `term` or `progress`.
        action: &'static str,
        /// The message's stream sequence.
        stream_sequence: u64,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// Core NATS (subscribe, publish, flush) failed.
    #[error("NATS {operation} failed")]
    Core {
        /// What we were doing.
        operation: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// Nobody answered a core request in time (or the server dropped it, e.g.
    /// because this user may not publish on `subject`).
    #[error("no answer to the request on {subject} within {timeout:?}")]
    RequestTimeout {
        /// The subject the request was sent on.
        subject: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// Nobody listens on the subject of a core request.
    #[error("no service answers requests on {subject}")]
    NoResponders {
        /// The subject the request was sent on.
        subject: String,
    },
    /// An event could not be encoded or decoded.
    #[error("event encoding failed")]
    Event(#[from] relais_events::EventError),
    /// A JSON payload of ours (advisory, dead-letter record) could not be read.
    #[error("cannot decode {what}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// An object store transfer failed while reading or writing bytes.
    #[error("object {name} transfer failed")]
    Io {
        /// The object name.
        name: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A boxed error cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl BusError {
    /// Whether a request got no answer: nobody listens, or nobody answered in
    /// time. The caller may retry later; the request itself was fine.
    pub fn is_no_answer(&self) -> bool {
        matches!(
            self,
            BusError::RequestTimeout { .. } | BusError::NoResponders { .. }
        )
    }

    pub(crate) fn js(operation: impl Into<String>, source: impl Into<BoxError>) -> Self {
        BusError::JetStream {
            operation: operation.into(),
            source: source.into(),
        }
    }

    pub(crate) fn core(operation: impl Into<String>, source: impl Into<BoxError>) -> Self {
        BusError::Core {
            operation: operation.into(),
            source: source.into(),
        }
    }
}

/// Checks a subject to publish on: not empty, no whitespace, no empty token,
/// no wildcard.
pub(crate) fn check_publish_subject(subject: &str) -> Result<(), BusError> {
    let bad = |why| {
        Err(BusError::InvalidName {
            kind: "subject",
            name: subject.to_owned(),
            why,
        })
    };
    if subject.is_empty() {
        return bad("empty");
    }
    if subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("contains whitespace or a control character");
    }
    if subject.split('.').any(str::is_empty) {
        return bad("has an empty token");
    }
    if subject.split('.').any(|t| t == "*" || t == ">") {
        return bad("wildcards are not allowed when publishing");
    }
    Ok(())
}

/// Checks a subject to subscribe to or filter on: wildcards allowed in place
/// of whole tokens, `>` only last.
pub(crate) fn check_filter_subject(subject: &str) -> Result<(), BusError> {
    let bad = |why| {
        Err(BusError::InvalidName {
            kind: "subject filter",
            name: subject.to_owned(),
            why,
        })
    };
    if subject.is_empty() {
        return bad("empty");
    }
    if subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("contains whitespace or a control character");
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    for (i, token) in tokens.iter().enumerate() {
        if token.is_empty() {
            return bad("has an empty token");
        }
        if token.len() > 1 && token.contains(['*', '>']) {
            return bad("a wildcard must be a whole token");
        }
        if *token == ">" && i + 1 != tokens.len() {
            return bad("`>` must be the last token");
        }
    }
    Ok(())
}

/// Checks a stream, consumer or bucket name: not empty, no `.`, `*`, `>`,
/// whitespace, path separators.
pub(crate) fn check_name(kind: &'static str, name: &str) -> Result<(), BusError> {
    if name.is_empty() {
        return Err(BusError::InvalidName {
            kind,
            name: name.to_owned(),
            why: "empty",
        });
    }
    if name
        .chars()
        .any(|c| matches!(c, '.' | '*' | '>' | '/' | '\\') || c.is_whitespace() || c.is_control())
    {
        return Err(BusError::InvalidName {
            kind,
            name: name.to_owned(),
            why: "must not contain `.`, `*`, `>`, slashes or whitespace",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_subjects() {
        assert!(check_publish_subject("events.translation.completed.e1").is_ok());
        for bad in ["", "a..b", "a b", "a.*", "a.>", ".a", "a."] {
            assert!(check_publish_subject(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn filter_subjects() {
        for ok in ["events.>", "events.*.x", "a", "$JS.EVENT.ADVISORY.>"] {
            assert!(check_filter_subject(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", "a.>.b", "a.b*", "a..b", "a b"] {
            assert!(check_filter_subject(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names() {
        assert!(check_name("stream", "TRANSLATE").is_ok());
        for bad in ["", "A.B", "A B", "A*", "a/b"] {
            assert!(check_name("stream", bad).is_err(), "{bad:?}");
        }
    }
}
