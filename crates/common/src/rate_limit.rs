//! Per-key rate limits (login attempts per username, per client address), in memory; the
//! address they count by is [`crate::client_address`]'s.
//!
//! Each replica keeps its own counters, so with N replicas a key gets up to N times the
//! quota; that bounds brute force well enough for login, and needs no shared store.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, StatusCode};
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
