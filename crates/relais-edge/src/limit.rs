//! Who is calling and whether they may: API keys and per-client token buckets.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use relais_config::{ApiKeySettings, RateLimitSettings};

use crate::EdgeError;

/// Buckets kept before idle ones are swept.
const SWEEP_ABOVE: usize = 10_000;

/// The admitted caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Client {
    /// Identified by its API key's name.
    Key(String),
    /// Anonymous, by IP.
    Ip(IpAddr),
}

impl Client {
    /// The name put on events (`client`), never the key itself.
    pub(crate) fn label(&self) -> Option<String> {
        match self {
            Client::Key(name) => Some(name.clone()),
            Client::Ip(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// API keys and rate limits for every client.
#[derive(Debug)]
pub(crate) struct Gate {
    keys: Vec<ApiKeySettings>,
    anonymous: RateLimitSettings,
    require_key: bool,
    buckets: Mutex<HashMap<Client, Bucket>>,
}

impl Gate {
    pub(crate) fn new(
        keys: Vec<ApiKeySettings>,
        anonymous: RateLimitSettings,
        require_key: bool,
    ) -> Self {
        Gate {
            keys,
            anonymous,
            require_key,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Identifies the caller (a key from `body_key`, `Authorization: Bearer` or
    /// `X-Api-Key`, else its IP) and takes one token from its bucket.
    pub(crate) fn admit(
        &self,
        ip: IpAddr,
        headers: &HeaderMap,
        body_key: Option<&str>,
    ) -> Result<Client, EdgeError> {
        let sent = body_key
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .or_else(|| header_key(headers));
        let (client, limit) = match sent {
            Some(key) => {
                let found = self
                    .keys
                    .iter()
                    .find(|k| constant_time_eq(k.key.expose().as_bytes(), key.as_bytes()))
                    .ok_or(EdgeError::InvalidApiKey)?;
                (Client::Key(found.name.clone()), found.rate_limit)
            }
            None if self.require_key => return Err(EdgeError::ApiKeyRequired),
            None => (Client::Ip(ip), self.anonymous),
        };
        self.take(&client, limit, Instant::now())?;
        Ok(client)
    }

    fn take(
        &self,
        client: &Client,
        limit: RateLimitSettings,
        now: Instant,
    ) -> Result<(), EdgeError> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > SWEEP_ABOVE {
            // Drop buckets that have refilled completely: they hold no state.
            let full_after = Duration::from_secs_f64(f64::from(limit.burst) / limit.per_second);
            buckets.retain(|_, b| now.duration_since(b.last) < full_after);
        }
        let burst = f64::from(limit.burst);
        let bucket = buckets.entry(client.clone()).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let refill = now.duration_since(bucket.last).as_secs_f64() * limit.per_second;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / limit.per_second;
            Err(EdgeError::RateLimited {
                retry_after: Duration::from_secs_f64(wait),
            })
        }
    }
}

fn header_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    bearer
        .or_else(|| {
            headers
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        })
        .filter(|k| !k.is_empty())
}

/// Compares without an early exit, so timing does not reveal a key's prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use relais_bus::Secret;

    fn gate(require_key: bool) -> Gate {
        Gate::new(
            vec![ApiKeySettings {
                name: "partner".into(),
                key: Secret::new("k1"),
                rate_limit: RateLimitSettings {
                    per_second: 1.0,
                    burst: 3,
                },
            }],
            RateLimitSettings {
                per_second: 2.0,
                burst: 1,
            },
            require_key,
        )
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn buckets_refill_and_say_when_to_retry() {
        let g = gate(false);
        let c = Client::Ip(IP);
        let t0 = Instant::now();
        let limit = g.anonymous;
        assert!(g.take(&c, limit, t0).is_ok());
        match g.take(&c, limit, t0) {
            Err(EdgeError::RateLimited { retry_after }) => {
                assert_eq!(retry_after, Duration::from_millis(500));
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        assert!(g.take(&c, limit, t0 + Duration::from_millis(500)).is_ok());
    }

    #[test]
    fn keys_have_their_own_bucket_and_bad_keys_are_refused() {
        let g = gate(false);
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", "k1".parse().expect("header"));
        for _ in 0..3 {
            assert_eq!(
                g.admit(IP, &headers, None).ok(),
                Some(Client::Key("partner".into()))
            );
        }
        assert!(matches!(
            g.admit(IP, &headers, None),
            Err(EdgeError::RateLimited { .. })
        ));
        assert!(
            g.admit(IP, &HeaderMap::new(), None).is_ok(),
            "IP bucket is separate"
        );
        assert!(matches!(
            g.admit(IP, &HeaderMap::new(), Some("nope")),
            Err(EdgeError::InvalidApiKey)
        ));
        let mut bearer = HeaderMap::new();
        bearer.insert("authorization", "Bearer wrong".parse().expect("header"));
        assert!(matches!(
            g.admit(IP, &bearer, None),
            Err(EdgeError::InvalidApiKey)
        ));
        assert!(matches!(
            gate(true).admit(IP, &HeaderMap::new(), None),
            Err(EdgeError::ApiKeyRequired)
        ));
    }
}
