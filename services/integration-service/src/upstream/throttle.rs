//! Client-side throttling from the upstream's rate-limit headers (Okta's
//! `X-Rate-Limit-Limit` / `-Remaining` / `-Reset`, reset in UTC epoch seconds).
//!
//! One limiter per tenant and integration (an Okta org's limits are the org's, shared by
//! every client of it). Before each request: when the window is used up, wait for the
//! reset if the caller's deadline allows it, else refuse at once with the time to wait;
//! when little is left, spread the remaining requests over the rest of the window.
//! Upstreams that send no such headers are never delayed.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::{IntCounter, IntGauge};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use tokio::time::Instant;

const LIMIT: &str = "x-rate-limit-limit";
const REMAINING: &str = "x-rate-limit-remaining";
const RESET: &str = "x-rate-limit-reset";
/// The reset is given in whole seconds and clocks differ a little: wait slightly longer.
const RESET_MARGIN: Duration = Duration::from_millis(250);
/// Pacing never holds one request longer than this.
const MAX_PACE: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
struct Window {
    limit: Option<u64>,
    remaining: Option<u64>,
    reset_at: Option<Instant>,
}

pub struct RateLimiter {
    window: Mutex<Window>,
    slowdown_below: f64,
    remaining_gauge: IntGauge,
    throttled: IntCounter,
}

impl RateLimiter {
    pub fn new(slowdown_below: f64, remaining_gauge: IntGauge, throttled: IntCounter) -> Self {
        Self {
            window: Mutex::new(Window::default()),
            slowdown_below,
            remaining_gauge,
            throttled,
        }
    }

    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Learns the window from a response. A 429 means nothing is left until the reset.
    pub fn observe(&self, status: StatusCode, headers: &HeaderMap) {
        let number =
            |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        let reset_at = number(RESET).map(epoch_to_instant);
        let mut window = self.window();
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.throttled.inc();
            window.remaining = Some(0);
            window.reset_at = reset_at
                .or_else(|| common::http_client::retry_after(headers).map(|d| Instant::now() + d))
                .or_else(|| Some(Instant::now() + Duration::from_secs(1)));
        } else if let Some(remaining) = number(REMAINING) {
            window.remaining = Some(remaining);
            window.limit = number(LIMIT).or(window.limit);
            window.reset_at = reset_at.or(window.reset_at);
        } else {
            return;
        }
        self.remaining_gauge
            .set(window.remaining.unwrap_or_default().min(i64::MAX as u64) as i64);
    }

    /// How long until the current window resets, when one is known.
    pub fn until_reset(&self) -> Option<Duration> {
        let reset_at = self.window().reset_at?;
        Some(reset_at.saturating_duration_since(Instant::now()) + RESET_MARGIN)
    }

    /// Waits until a request may go out. Errs with the time to wait when that is past
    /// `deadline` (the caller answers "retry after" instead of holding the request).
    pub async fn wait_turn(&self, deadline: Instant) -> Result<(), Duration> {
        let (delay, must_wait) = {
            let mut window = self.window();
            let now = Instant::now();
            match (window.remaining, window.reset_at) {
                (_, Some(reset_at)) if reset_at <= now => {
                    // A new window: forget the old numbers until the next response.
                    window.remaining = None;
                    window.reset_at = None;
                    (Duration::ZERO, false)
                }
                (Some(0), Some(reset_at)) => (reset_at - now + RESET_MARGIN, true),
                (Some(remaining), reset_at) => {
                    // Count this request now, so concurrent callers see it before the
                    // response corrects the number.
                    window.remaining = Some(remaining - 1);
                    let low = window.limit.is_some_and(|limit| {
                        (remaining as f64) < (limit as f64) * self.slowdown_below
                    });
                    match reset_at {
                        Some(reset_at) if low => {
                            let pace = (reset_at - now) / (remaining as u32).saturating_add(1);
                            (pace.min(MAX_PACE), false)
                        }
                        _ => (Duration::ZERO, false),
                    }
                }
                (None, _) => (Duration::ZERO, false),
            }
        };
        if delay.is_zero() {
            return Ok(());
        }
        if Instant::now() + delay > deadline {
            // Pacing is a courtesy: with quota left the request may still go now.
            return if must_wait { Err(delay) } else { Ok(()) };
        }
        tracing::debug!(delay_ms = delay.as_millis() as u64, "rate limit: waiting");
        tokio::time::sleep(delay).await;
        Ok(())
    }
}

/// Converts the upstream's epoch-seconds reset into a local instant (the past becomes now).
fn epoch_to_instant(epoch_seconds: u64) -> Instant {
    let target = UNIX_EPOCH + Duration::from_secs(epoch_seconds);
    match target.duration_since(SystemTime::now()) {
        Ok(ahead) => Instant::now() + ahead,
        Err(_) => Instant::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> RateLimiter {
        RateLimiter::new(
            0.1,
            IntGauge::new("remaining", "r").unwrap(),
            IntCounter::new("throttled", "t").unwrap(),
        )
    }

    fn headers(limit: u64, remaining: u64, reset_in: u64) -> HeaderMap {
        let reset = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + reset_in;
        let mut headers = HeaderMap::new();
        headers.insert(LIMIT, limit.into());
        headers.insert(REMAINING, remaining.into());
        headers.insert(RESET, reset.into());
        headers
    }

    #[tokio::test]
    async fn plenty_left_means_no_wait() {
        let limiter = limiter();
        limiter.observe(StatusCode::OK, &headers(100, 50, 60));
        let started = Instant::now();
        limiter
            .wait_turn(Instant::now() + Duration::from_secs(1))
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_millis(50));
        assert_eq!(limiter.remaining_gauge.get(), 50);
    }

    #[tokio::test]
    async fn an_exhausted_window_past_the_deadline_is_refused_with_the_wait() {
        let limiter = limiter();
        limiter.observe(StatusCode::TOO_MANY_REQUESTS, &headers(100, 0, 30));
        assert_eq!(limiter.throttled.get(), 1);
        let wait = limiter
            .wait_turn(Instant::now() + Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(
            wait > Duration::from_secs(28) && wait <= Duration::from_secs(31),
            "{wait:?}"
        );
    }

    #[tokio::test]
    async fn an_exhausted_window_within_the_deadline_is_waited_out() {
        let limiter = limiter();
        limiter.observe(StatusCode::OK, &headers(100, 0, 1));
        let started = Instant::now();
        limiter
            .wait_turn(Instant::now() + Duration::from_secs(5))
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "waited for the reset"
        );
        // The window is over: the next request goes at once.
        let started = Instant::now();
        limiter
            .wait_turn(Instant::now() + Duration::from_secs(5))
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_millis(50));
    }

    #[tokio::test]
    async fn little_left_spreads_requests_over_the_window() {
        let limiter = limiter();
        limiter.observe(StatusCode::OK, &headers(100, 3, 2));
        let started = Instant::now();
        limiter
            .wait_turn(Instant::now() + Duration::from_secs(5))
            .await
            .unwrap();
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited <= MAX_PACE,
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn no_headers_no_throttling() {
        let limiter = limiter();
        limiter.observe(StatusCode::OK, &HeaderMap::new());
        limiter
            .wait_turn(Instant::now() + Duration::from_millis(1))
            .await
            .unwrap();
        assert!(limiter.until_reset().is_none());
    }
}
