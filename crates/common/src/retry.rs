//! Bounded retries with exponential backoff and full jitter, within a deadline.
//!
//! The caller decides what is worth retrying ([`Retry`]); this module decides when, and
//! gives up after `max_attempts` or when the next wait would pass the deadline.

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total attempts including the first (3 = one call and two retries).
    pub max_attempts: u32,
    /// Backoff cap before jitter for the first retry; doubles each retry.
    pub base_delay: Duration,
    /// No single wait is longer than this.
    pub max_delay: Duration,
    /// No retry starts after this much time since the first attempt.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            deadline: Duration::from_secs(30),
        }
    }
}

/// What the caller makes of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Permanent: retrying cannot help (bad input, not found, auth).
    No,
    /// Transient: retry after the policy's backoff.
    Backoff,
    /// Transient, and the peer said when (`Retry-After`, a rate-limit reset).
    After(Duration),
}

impl RetryPolicy {
    /// Full jitter: a uniform wait in `[0, min(max_delay, base * 2^(retry-1))]`, which
    /// spreads out clients that failed together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exponential = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)));
        let cap = exponential.min(self.max_delay);
        rand::thread_rng().gen_range(Duration::ZERO..=cap)
    }

    /// Runs `operation` until it succeeds, fails permanently, or the attempts or deadline
    /// run out; returns the last error then. `on_retry(retry_number, &error, wait)` runs
    /// before each wait, for logs and metrics.
    pub async fn run<T, E, Op, Fut>(
        &self,
        mut operation: Op,
        classify: impl Fn(&E) -> Retry,
        mut on_retry: impl FnMut(u32, &E, Duration),
    ) -> Result<T, E>
    where
        Op: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let error = match operation(attempt).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let wait = match classify(&error) {
                Retry::No => return Err(error),
                Retry::Backoff => self.backoff(attempt),
                Retry::After(wait) => wait.min(self.max_delay),
            };
            if attempt >= self.max_attempts || started.elapsed() + wait > self.deadline {
                return Err(error);
            }
            on_retry(attempt, &error, wait);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn quick(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            deadline: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn succeeds_on_the_last_attempt() {
        let calls = AtomicU32::new(0);
        let result: Result<u32, &str> = quick(3)
            .run(
                |attempt| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if attempt < 3 {
                            Err("flaky")
                        } else {
                            Ok(attempt)
                        }
                    }
                },
                |_| Retry::Backoff,
                |_, _, _| {},
            )
            .await;
        assert_eq!(result, Ok(3));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_with_the_last_error() {
        let mut retries = Vec::new();
        let result: Result<(), u32> = quick(3)
            .run(
                |attempt| async move { Err(attempt) },
                |_| Retry::Backoff,
                |n, _, _| retries.push(n),
            )
            .await;
        assert_eq!(result, Err(3));
        assert_eq!(retries, vec![1, 2]);
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let result: Result<(), &str> = quick(5)
            .run(
                |_| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async { Err("invalid number") }
                },
                |_| Retry::No,
                |_, _, _| {},
            )
            .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn deadline_stops_retrying_before_a_long_wait() {
        let policy = RetryPolicy {
            deadline: Duration::from_millis(50),
            max_delay: Duration::from_secs(10),
            ..quick(10)
        };
        let started = std::time::Instant::now();
        let result: Result<(), ()> = policy
            .run(
                |_| async { Err(()) },
                |_| Retry::After(Duration::from_secs(1)),
                |_, _, _| {},
            )
            .await;
        assert!(result.is_err());
        assert!(started.elapsed() < Duration::from_millis(500));
    }

    #[test]
    fn backoff_is_capped() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            ..RetryPolicy::default()
        };
        for retry in 1..20 {
            assert!(policy.backoff(retry) <= Duration::from_millis(300));
        }
    }
}
