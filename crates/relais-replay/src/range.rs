//! Reading replay bounds given as text (command-line flags) into a
//! [`ReplayQuery`].

use chrono::{DateTime, Utc};
use relais_bus::{ReplayFrom, ReplayQuery, ReplayUntil};

use crate::ReplayError;

/// A point in time as RFC 3339 (`2026-12-04T10:00:00Z`).
pub fn parse_time(flag: &'static str, value: &str) -> Result<DateTime<Utc>, ReplayError> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ReplayError::InvalidBound {
            flag,
            value: value.to_owned(),
            expected: "not an RFC 3339 time such as 2026-12-04T10:00:00Z",
        })
}

/// An end bound: a stream sequence (digits only) or an RFC 3339 time.
pub fn parse_until(value: &str) -> Result<ReplayUntil, ReplayError> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value
            .parse()
            .map(ReplayUntil::Sequence)
            .map_err(|_| ReplayError::InvalidBound {
                flag: "--until",
                value: value.to_owned(),
                expected: "too large for a sequence",
            });
    }
    parse_time("--until", value).map(ReplayUntil::Time)
}

/// The query for `stream` from the bounds an operator gave: `since` (RFC
/// 3339) and `from_seq` are exclusive alternatives; no start means the
/// beginning, no end means the stream's last message at the start of the replay.
pub fn query(
    stream: &str,
    since: Option<&str>,
    from_seq: Option<u64>,
    until: Option<&str>,
    subject: Option<&str>,
) -> Result<ReplayQuery, ReplayError> {
    let from = match (since, from_seq) {
        (Some(value), Some(_)) => {
            return Err(ReplayError::InvalidBound {
                flag: "--since",
                value: value.to_owned(),
                expected: "given together with --from-seq; give one of them",
            })
        }
        (Some(value), None) => ReplayFrom::Time(parse_time("--since", value)?),
        (None, Some(seq)) => ReplayFrom::Sequence(seq),
        (None, None) => ReplayFrom::Beginning,
    };
    let until = until
        .map(parse_until)
        .transpose()?
        .unwrap_or(ReplayUntil::Now);
    let mut query = ReplayQuery::new(stream).from(from).until(until);
    if let Some(subject) = subject {
        query = query.filter(subject);
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_is_a_sequence_or_a_time() {
        assert_eq!(parse_until("42").unwrap(), ReplayUntil::Sequence(42));
        let t = parse_until("2026-12-04T10:00:00+01:00").unwrap();
        assert_eq!(
            t,
            ReplayUntil::Time("2026-12-04T09:00:00Z".parse().unwrap())
        );
        assert!(parse_until("yesterday").is_err());
        assert!(parse_until("99999999999999999999999").is_err());
        assert!(parse_until("").is_err());
    }

    #[test]
    fn queries_take_one_start() {
        let q = query("EVENTS", None, Some(5), Some("9"), Some("events.>")).unwrap();
        assert_eq!(q.from, ReplayFrom::Sequence(5));
        assert_eq!(q.until, ReplayUntil::Sequence(9));
        assert_eq!(q.filter_subject.as_deref(), Some("events.>"));
        let q = query("EVENTS", Some("2026-01-01T00:00:00Z"), None, None, None).unwrap();
        assert!(matches!(q.from, ReplayFrom::Time(_)));
        assert_eq!(q.until, ReplayUntil::Now);
        let q = query("EVENTS", None, None, None, None).unwrap();
        assert_eq!(q.from, ReplayFrom::Beginning);
        let err = query("EVENTS", Some("2026-01-01T00:00:00Z"), Some(1), None, None).unwrap_err();
        assert!(err.to_string().contains("--from-seq"), "{err}");
        assert!(query("EVENTS", Some("soon"), None, None, None).is_err());
    }
}
