//! Publish permission violations: the server answers a denied publish with an
//! asynchronous `-ERR`, never a PubAck, so the bus records them to fail fast.

use std::time::Instant;

/// Publish permission violations the server reported (it answers a denied
/// publish with an asynchronous `-ERR`, never with a PubAck).
#[derive(Default)]
pub(crate) struct Denials {
    recent: std::sync::Mutex<Vec<(String, Instant)>>,
    pub(crate) notify: tokio::sync::Notify,
}

impl Denials {
    const KEEP: usize = 64;

    pub(crate) fn record(&self, subject: String) {
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() >= Self::KEEP {
                recent.remove(0);
            }
            recent.push((subject, Instant::now()));
        }
        self.notify.notify_waiters();
    }

    pub(crate) fn denied_since(&self, subject: &str, since: Instant) -> bool {
        self.recent
            .lock()
            .map(|recent| recent.iter().any(|(s, at)| s == subject && *at >= since))
            .unwrap_or(false)
    }
}

/// The subject of a `Permissions Violation for Publish to "<subject>"` error.
pub(crate) fn denied_publish_subject(error: &str) -> Option<String> {
    const MARK: &str = "permissions violation for publish to";
    let at = error.to_ascii_lowercase().find(MARK)?;
    let rest = error.get(at + MARK.len()..)?.trim();
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let subject = rest.split(['"', ' ']).next()?.trim();
    (!subject.is_empty()).then(|| subject.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_publish_permission_violations() {
        assert_eq!(
            denied_publish_subject(
                r#"Permissions Violation for Publish to "events.model.promoted""#
            ),
            Some("events.model.promoted".to_owned())
        );
        assert_eq!(
            denied_publish_subject("permissions violation for publish to events.x"),
            Some("events.x".to_owned())
        );
        assert_eq!(
            denied_publish_subject(r#"Permissions Violation for Subscription to "a.b""#),
            None
        );
    }
}
