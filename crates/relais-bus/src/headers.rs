//! Message headers, independent of the client library.

use async_nats::HeaderMap;

/// `Nats-Msg-Id`: JetStream drops a second message with the same id inside the
/// stream's duplicate window.
pub const MSG_ID: &str = "Nats-Msg-Id";
/// The translation request id header.
pub const REQUEST_ID: &str = relais_events::names::header::REQUEST_ID;
/// The W3C trace context header.
pub const TRACEPARENT: &str = relais_events::names::header::TRACEPARENT;

/// Ordered name/value pairs; a name may repeat. Names compare case-sensitively,
/// as NATS does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers::default()
    }

    /// Replaces every value of `name` with `value`.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.0.retain(|(n, _)| *n != name);
        self.0.push((name, value.into()));
    }

    /// Builder form of [`Headers::insert`].
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(name, value);
        self
    }

    /// Sets `relais-request-id`.
    #[must_use]
    pub fn with_request_id(self, request_id: impl Into<String>) -> Self {
        self.with(REQUEST_ID, request_id)
    }

    /// Sets `traceparent`.
    #[must_use]
    pub fn with_traceparent(self, traceparent: impl Into<String>) -> Self {
        self.with(TRACEPARENT, traceparent)
    }

    /// The last value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `relais-request-id`, when present.
    pub fn request_id(&self) -> Option<&str> {
        self.get(REQUEST_ID)
    }

    /// `traceparent`, when present.
    pub fn traceparent(&self) -> Option<&str> {
        self.get(TRACEPARENT)
    }

    /// Every pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Whether there is no header.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The headers that identify a request across services (request id, traceparent),
    /// to copy from a consumed message onto the messages it causes.
    pub fn propagated(&self) -> Headers {
        let mut out = Headers::new();
        for name in [REQUEST_ID, TRACEPARENT] {
            if let Some(v) = self.get(name) {
                out.insert(name, v);
            }
        }
        out
    }

    pub(crate) fn to_nats(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (n, v) in &self.0 {
            map.append(n.as_str(), v.as_str());
        }
        map
    }

    pub(crate) fn from_nats(map: Option<&HeaderMap>) -> Headers {
        let mut out = Vec::new();
        if let Some(map) = map {
            for (name, values) in map.iter() {
                for v in values {
                    out.push((name.to_string(), v.as_str().to_owned()));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Headers(out)
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Headers(
            iter.into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replaces_and_round_trips_through_nats() {
        let h = Headers::new()
            .with_request_id("r1")
            .with_request_id("r2")
            .with_traceparent("00-abc-def-01")
            .with("x-other", "1");
        assert_eq!(h.request_id(), Some("r2"));
        let back = Headers::from_nats(Some(&h.to_nats()));
        assert_eq!(back.request_id(), Some("r2"));
        assert_eq!(back.traceparent(), Some("00-abc-def-01"));
        assert_eq!(back.get("x-other"), Some("1"));
        let p = h.propagated();
        assert_eq!(p.iter().count(), 2);
        assert_eq!(p.get("x-other"), None);
    }
}
