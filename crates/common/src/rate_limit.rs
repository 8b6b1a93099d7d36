//! Per-key rate limits (login attempts per username, per client address), in memory, and
//! the client address they count by.
//!
//! Each replica keeps its own counters, so with N replicas a key gets up to N times the
//! quota; that bounds brute force well enough for login, and needs no shared store.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::Problem;

/// A quota of `burst` attempts that refills at `per_minute` attempts a minute.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

/// A keyed limiter whose idle keys are forgotten, so memory stays bounded by the keys
/// seen in the last refill period.
#[derive(Clone)]
pub struct KeyedLimiter<K: Hash + Eq + Clone + Send + Sync + 'static> {
    limiter: Arc<DefaultKeyedRateLimiter<K>>,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> KeyedLimiter<K> {
    /// Must be called inside a Tokio runtime: it starts the task that forgets idle keys.
    pub fn new(limit: Limit) -> Self {
        let quota = Quota::per_minute(limit.per_minute).allow_burst(limit.burst);
        let limiter = Arc::new(RateLimiter::keyed(quota));
        let janitor = Arc::downgrade(&limiter);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(limiter) = janitor.upgrade() else {
                    break;
                };
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        });
        Self { limiter }
    }

    /// Takes one attempt for `key`, or says how long until the next one is allowed.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The 429 a client gets, with `Retry-After` in whole seconds (at least 1).
/// The client's address as the nearest `trusted_hops` proxies saw it. Each trusted proxy
/// appends the address it was called from to `X-Forwarded-For`, so the client is the
/// `trusted_hops`-th entry from the right: entries further left were written by the client
/// itself and prove nothing. With no trusted proxy, or fewer entries than trusted hops
/// (the proxies were bypassed), it is the TCP peer.
pub fn client_address(headers: &HeaderMap, peer: IpAddr, trusted_hops: usize) -> IpAddr {
    if trusted_hops == 0 {
        return peer;
    }
    // Every header line counts, in order: a proxy appends to what the client sent.
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|line| line.to_str().ok())
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .collect();
    entries
        .len()
        .checked_sub(trusted_hops)
        .and_then(|index| entries[index].parse().ok())
        .unwrap_or(peer)
}

pub fn too_many_requests(what: &str, wait: Duration) -> Problem {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Problem::of_kind(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many requests",
    )
    .detail(format!("Too many {what}; retry in {} s", seconds.max(1)))
    .header(header::RETRY_AFTER, seconds.max(1).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("x-forwarded-for", line.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_client_is_the_entry_the_trusted_proxies_appended() {
        let peer: IpAddr = "10.0.0.7".parse().unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        // The client forged entries of its own; the balancer appended the real one.
        let via_balancer = forwarded(&["1.2.3.4, 5.6.7.8", "203.0.113.9"]);
        assert_eq!(client_address(&via_balancer, peer, 1), client);
        assert_eq!(client_address(&via_balancer, peer, 0), peer, "not trusted");
        let two_hops = forwarded(&["1.2.3.4, 203.0.113.9, 10.0.0.3"]);
        assert_eq!(client_address(&two_hops, peer, 2), client);
        // Straight to the pod, past the balancer: nothing appended, the peer counts.
        assert_eq!(client_address(&HeaderMap::new(), peer, 1), peer);
        assert_eq!(client_address(&forwarded(&["not-an-ip"]), peer, 1), peer);
    }

    #[tokio::test]
    async fn allows_the_burst_then_says_how_long_to_wait() {
        let limiter = KeyedLimiter::new(Limit {
            per_minute: NonZeroU32::new(6).unwrap(),
            burst: NonZeroU32::new(2).unwrap(),
        });
        assert!(limiter.check(&"ada").is_ok());
        assert!(limiter.check(&"ada").is_ok());
        let wait = limiter.check(&"ada").unwrap_err();
        assert!(
            wait > Duration::from_secs(8) && wait <= Duration::from_secs(10),
            "{wait:?}"
        );
        assert!(limiter.check(&"bob").is_ok(), "keys are independent");
        assert_eq!(too_many_requests("login attempts", wait).status, 429);
    }
}
