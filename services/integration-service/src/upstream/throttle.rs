//! Client-side throttling from the upstream's rate-limit headers (named by the
//! integration, e.g. Okta's `X-Rate-Limit-Limit` / `-Remaining` / `-Reset`, reset in UTC
//! epoch seconds), and from 429s (`Retry-After` when given).
//!
//! One window per tenant, integration and **bucket**: Okta counts its limits per endpoint
//! bucket, not per org (`GET/POST /api/v1/users`, `GET /api/v1/users/{id}` and
//! `POST/PUT/DELETE /api/v1/users/{id}` are separate quotas; "Management rate limits",
//! https://developer.okta.com/docs/reference/rl-global-mgmt/, and "Rate limits overview":
//! "a rate limiting bucket is a collection of one or more endpoints that share a defined
//! quota", https://developer.okta.com/docs/reference/rl-previous). So a 429 on listing
//! never delays a suspend. Requests name their bucket (`UpstreamRequest::bucket`);
//! upstreams with one org-wide quota leave the default.
//!
//! Before each request: when the bucket's window is used up, wait for the reset if the
//! caller's deadline allows it, else refuse at once with the time to wait; when little is
//! left, spread the remaining requests over the rest of the window. Upstreams that send no
//! such headers are never delayed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::{IntCounter, IntGauge, IntGaugeVec};
use reqwest::header::{HeaderMap, HeaderName, DATE};
use reqwest::StatusCode;
use tokio::time::Instant;

/// The headers of a vendor's rate-limit window; the reset is in UTC epoch seconds.
#[derive(Debug, Clone)]
pub struct RateHeaderNames {
    pub limit: HeaderName,
    pub remaining: HeaderName,
    pub reset: HeaderName,
}
/// A header of a 429 that names the quota used up, and the buckets each name stands for
/// (Microsoft Graph's `x-ms-throttle-scope: <Scope>/<Limit>/<App>/<Tenant>`, Limit `Read`,
/// `Write` or `ReadWrite`): the 429 then holds back every bucket it names, not only the
/// request's own.
#[derive(Debug, Clone)]
pub struct ExhaustedBy {
    pub header: HeaderName,
    /// Which `/`-separated part of the value names the quota (0 is the first).
    pub part: usize,
    pub buckets: Vec<(String, Vec<String>)>,
}

impl ExhaustedBy {
    /// The buckets a 429's `headers` name, if they name any this knows.
    fn named<'a>(&'a self, headers: &HeaderMap) -> &'a [String] {
        let name = headers
            .get(&self.header)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split('/').nth(self.part))
            .map(str::trim);
        name.and_then(|name| self.buckets.iter().find(|(quota, _)| quota == name))
            .map_or(&[], |(_, buckets)| buckets.as_slice())
    }
}

/// The reset is given in whole seconds: wait a second longer, as Okta's SDKs do
/// (okta-sdk-golang `Get429BackoffTime`: `X-Rate-Limit-Reset - Date + 1`; okta-sdk-python
/// `calculate_backoff` the same).
const RESET_MARGIN: Duration = Duration::from_secs(1);
/// Pacing never holds one request longer than this.
const MAX_PACE: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
struct Window {
    limit: Option<u64>,
    remaining: Option<u64>,
    reset_at: Option<Instant>,
}

pub struct RateLimiter {
    headers: Option<RateHeaderNames>,
    exhausted_by: Option<ExhaustedBy>,
    /// Keyed by the bucket names the integrations give (their definitions): a bounded set.
    windows: Mutex<HashMap<String, Window>>,
    slowdown_below: f64,
    /// `integration_rate_limit_remaining`, and its tenant and integration labels.
    remaining_gauge: IntGaugeVec,
    labels: [String; 2],
    throttled: IntCounter,
}

impl RateLimiter {
    pub fn new(
        headers: Option<RateHeaderNames>,
        slowdown_below: f64,
        remaining_gauge: IntGaugeVec,
        tenant: &str,
        integration: &str,
        throttled: IntCounter,
    ) -> Self {
        Self {
            headers,
            exhausted_by: None,
            windows: Mutex::new(HashMap::new()),
            slowdown_below,
            remaining_gauge,
            labels: [tenant.to_owned(), integration.to_owned()],
            throttled,
        }
    }

    /// Reads the header that names the used-up quota of a 429.
    pub fn exhausted_by(mut self, exhausted_by: Option<ExhaustedBy>) -> Self {
        self.exhausted_by = exhausted_by;
        self
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        self.windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn gauge(&self, bucket: &str) -> IntGauge {
        let [tenant, integration] = &self.labels;
        self.remaining_gauge
            .with_label_values(&[tenant.as_str(), integration.as_str(), bucket])
    }

    /// Learns `bucket`'s window from a response. A 429 means nothing is left until the reset.
    pub fn observe(&self, bucket: &str, status: StatusCode, headers: &HeaderMap) {
        // A header given more than once counts by its smallest value: the tighter of two
        // windows wins (okta-sdk-golang sorts every `X-Rate-Limit-Reset` and takes the first;
        // okta-sdk-python takes the minimum of each header).
        let number = |name: Option<&HeaderName>| -> Option<u64> {
            headers
                .get_all(name?)
                .iter()
                .filter_map(|value| value.to_str().ok()?.trim().parse().ok())
                .min()
        };
        let names = self.headers.as_ref();
        let reset_at = number(names.map(|n| &n.reset)).map(|reset| reset_instant(reset, headers));
        let remaining = {
            let mut windows = self.windows();
            let window = windows.entry(bucket.to_owned()).or_default();
            if status == StatusCode::TOO_MANY_REQUESTS {
                self.throttled.inc();
                let until = reset_at
                    .or_else(|| {
                        common::http_client::retry_after(headers).map(|d| Instant::now() + d)
                    })
                    .or_else(|| Some(Instant::now() + Duration::from_secs(1)));
                window.remaining = Some(0);
                window.reset_at = until;
                let named = self
                    .exhausted_by
                    .as_ref()
                    .map_or(&[][..], |exhausted| exhausted.named(headers));
                for other in named.iter().filter(|other| *other != bucket) {
                    let window = windows.entry(other.clone()).or_default();
                    window.remaining = Some(0);
                    window.reset_at = until;
                }
                0
            } else if let Some(remaining) = number(names.map(|n| &n.remaining)) {
                window.remaining = Some(remaining);
                window.limit = number(names.map(|n| &n.limit)).or(window.limit);
                window.reset_at = reset_at.or(window.reset_at);
                remaining
            } else {
                return;
            }
        };
        self.gauge(bucket)
            .set(remaining.min(i64::MAX as u64) as i64);
    }

    /// Whether `bucket`'s window has more left than the share below which calls are paced
    /// (`slowdown_below` of the limit; anything at all when the limit is unknown). True
    /// when nothing is known, or the window has reset.
    pub fn has_spare(&self, bucket: &str) -> bool {
        let windows = self.windows();
        let Some(window) = windows.get(bucket) else {
            return true;
        };
        if window
            .reset_at
            .is_some_and(|reset_at| reset_at <= Instant::now())
        {
            return true;
        }
        match (window.remaining, window.limit) {
            (Some(remaining), Some(limit)) => {
                remaining > 0 && (remaining as f64) > (limit as f64) * self.slowdown_below
            }
            (Some(remaining), None) => remaining > 0,
            (None, _) => true,
        }
    }

    /// How long until `bucket`'s current window resets, when one is known.
    pub fn until_reset(&self, bucket: &str) -> Option<Duration> {
        let reset_at = self.windows().get(bucket)?.reset_at?;
        Some(reset_at.saturating_duration_since(Instant::now()) + RESET_MARGIN)
    }

    /// Waits until a request to `bucket` may go out. Errs with the time to wait when that
    /// is past `deadline` (the caller answers "retry after" instead of holding the request).
    pub async fn wait_turn(&self, bucket: &str, deadline: Instant) -> Result<(), Duration> {
        let (delay, must_wait) = {
            let mut windows = self.windows();
            let Some(window) = windows.get_mut(bucket) else {
                return Ok(());
            };
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
        tracing::debug!(
            bucket,
            delay_ms = delay.as_millis() as u64,
            "rate limit: waiting"
        );
        tokio::time::sleep(delay).await;
        Ok(())
    }
}

/// How long until the smallest `reset` value of `headers` (epoch seconds, measured against
/// their `Date`), with the margin: the wait a 429 outside any bucket asks for (the token
/// endpoint's own quota).
pub fn wait_for_reset(headers: &HeaderMap, reset: &HeaderName) -> Option<Duration> {
    let smallest = headers
        .get_all(reset)
        .iter()
        .filter_map(|value| value.to_str().ok()?.trim().parse::<u64>().ok())
        .min()?;
    Some(reset_instant(smallest, headers).saturating_duration_since(Instant::now()) + RESET_MARGIN)
}

/// When the upstream's epoch-seconds reset comes, as a local instant (the past becomes
/// now). Measured against the response's own `Date` header, as okta-sdk-golang does
/// (`Get429BackoffTime` in okta/requestExecutor.go: `X-Rate-Limit-Reset - Date + 1`), so a
/// local clock that is off does not shorten or stretch the wait. Without a usable `Date`,
/// the local clock.
fn reset_instant(reset_epoch: u64, headers: &HeaderMap) -> Instant {
    let reset = UNIX_EPOCH + Duration::from_secs(reset_epoch);
    let upstream_now = headers
        .get(DATE)
        .and_then(|date| date.to_str().ok())
        .and_then(|date| {
            time::OffsetDateTime::parse(date, &time::format_description::well_known::Rfc2822).ok()
        })
        .map(SystemTime::from);
    let ahead = reset
        .duration_since(upstream_now.unwrap_or_else(SystemTime::now))
        .unwrap_or_default();
    Instant::now() + ahead
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::Opts;

    const BUCKET: &str = "users";

    const LIMIT: &str = "x-rate-limit-limit";
    const REMAINING: &str = "x-rate-limit-remaining";
    const RESET: &str = "x-rate-limit-reset";

    fn limiter() -> RateLimiter {
        RateLimiter::new(
            Some(RateHeaderNames {
                limit: HeaderName::from_static(LIMIT),
                remaining: HeaderName::from_static(REMAINING),
                reset: HeaderName::from_static(RESET),
            }),
            0.1,
            IntGaugeVec::new(
                Opts::new("remaining", "r"),
                &["tenant", "integration", "bucket"],
            )
            .unwrap(),
            "acme",
            "okta",
            IntCounter::new("throttled", "t").unwrap(),
        )
    }

    #[tokio::test]
    async fn a_429_naming_its_quota_holds_back_every_bucket_of_it() {
        let limiter = RateLimiter::new(
            None,
            0.1,
            IntGaugeVec::new(
                Opts::new("remaining", "r"),
                &["tenant", "integration", "bucket"],
            )
            .unwrap(),
            "acme",
            "graph",
            IntCounter::new("throttled", "t").unwrap(),
        )
        .exhausted_by(Some(ExhaustedBy {
            header: HeaderName::from_static("x-ms-throttle-scope"),
            part: 1,
            buckets: vec![
                ("Read".into(), vec!["read".into()]),
                ("Write".into(), vec!["write".into()]),
                ("ReadWrite".into(), vec!["read".into(), "write".into()]),
            ],
        }));
        let throttled = |scope: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("retry-after", "30".parse().unwrap());
            headers.insert("x-ms-throttle-scope", scope.parse().unwrap());
            headers
        };
        let soon = Instant::now() + Duration::from_millis(100);
        // A read quota used up: writes still go.
        limiter.observe(
            "read",
            StatusCode::TOO_MANY_REQUESTS,
            &throttled("Tenant_Application/Read/app/t"),
        );
        assert!(limiter.wait_turn("read", soon).await.is_err());
        assert!(limiter.wait_turn("write", soon).await.is_ok());
        // Both used up (ReadWrite), said on a read: writes wait too.
        limiter.observe(
            "read",
            StatusCode::TOO_MANY_REQUESTS,
            &throttled("Tenant_Application/ReadWrite/app/t"),
        );
        let wait = limiter.wait_turn("write", soon).await.unwrap_err();
        assert!(wait > Duration::from_secs(25), "{wait:?}");
    }

    fn epoch_now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn headers(limit: u64, remaining: u64, reset_in: u64) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(LIMIT, limit.into());
        headers.insert(REMAINING, remaining.into());
        headers.insert(RESET, (epoch_now() + reset_in).into());
        headers
    }

    #[tokio::test]
    async fn plenty_left_means_no_wait() {
        let limiter = limiter();
        limiter.observe(BUCKET, StatusCode::OK, &headers(100, 50, 60));
        let started = Instant::now();
        limiter
            .wait_turn(BUCKET, Instant::now() + Duration::from_secs(1))
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_millis(50));
        assert_eq!(limiter.gauge(BUCKET).get(), 50);
    }

    #[tokio::test]
    async fn an_exhausted_window_past_the_deadline_is_refused_with_the_wait() {
        let limiter = limiter();
        limiter.observe(BUCKET, StatusCode::TOO_MANY_REQUESTS, &headers(100, 0, 30));
        assert_eq!(limiter.throttled.get(), 1);
        let wait = limiter
            .wait_turn(BUCKET, Instant::now() + Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(
            wait > Duration::from_secs(28) && wait <= Duration::from_secs(31),
            "{wait:?}"
        );
    }

    #[tokio::test]
    async fn a_used_up_bucket_leaves_the_other_buckets_alone() {
        let limiter = limiter();
        limiter.observe(BUCKET, StatusCode::TOO_MANY_REQUESTS, &headers(100, 0, 30));
        limiter.observe("user_write", StatusCode::OK, &headers(100, 99, 30));
        let deadline = Instant::now() + Duration::from_secs(1);
        assert!(limiter.wait_turn(BUCKET, deadline).await.is_err());
        let started = Instant::now();
        limiter.wait_turn("user_write", deadline).await.unwrap();
        limiter.wait_turn("user", deadline).await.unwrap();
        assert!(started.elapsed() < Duration::from_millis(50));
        assert_eq!(limiter.until_reset("user"), None);
    }

    #[tokio::test]
    async fn the_reset_is_measured_against_the_upstream_s_date_header() {
        // The upstream's clock is 40 s ahead of ours: its reset, 2 s after its `Date`, is
        // 42 s away by our clock but only 2 s away in truth.
        let upstream_now = epoch_now() + 40;
        let mut headers = headers(100, 0, 0);
        headers.insert(RESET, (upstream_now + 2).into());
        let date = time::OffsetDateTime::from_unix_timestamp(upstream_now as i64)
            .unwrap()
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap()
            .replace("+0000", "GMT");
        headers.insert(DATE, date.parse().unwrap());
        let limiter = limiter();
        limiter.observe(BUCKET, StatusCode::TOO_MANY_REQUESTS, &headers);
        let wait = limiter.until_reset(BUCKET).unwrap();
        // 2 s to the reset by the org's clock, and the SDKs' 1 s margin.
        assert!(
            wait > Duration::from_millis(2500) && wait <= Duration::from_secs(3),
            "{wait:?} (Date: {:?})",
            headers[DATE]
        );
    }

    #[test]
    fn a_repeated_header_counts_by_its_smallest_value() {
        let mut headers = headers(100, 50, 60);
        headers.append(LIMIT, 40.into());
        headers.append(REMAINING, 3.into());
        headers.append(RESET, (epoch_now() + 5).into());
        let limiter = limiter();
        limiter.observe(BUCKET, StatusCode::OK, &headers);
        assert_eq!(limiter.gauge(BUCKET).get(), 3);
        assert!(
            !limiter.has_spare(BUCKET),
            "3 of 40 is below the 10% reserve"
        );
        let wait = limiter.until_reset(BUCKET).unwrap();
        assert!(
            wait <= Duration::from_secs(6),
            "the earlier reset: {wait:?}"
        );
    }

    #[test]
    fn an_http_date_parses() {
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        let mut headers = HeaderMap::new();
        headers.insert(DATE, date.parse().unwrap());
        // 1994-11-06T08:49:37Z is 784111777; a reset 5 s later is 5 s away.
        let wait = reset_instant(784_111_782, &headers) - Instant::now();
        assert!(
            wait > Duration::from_secs(4) && wait <= Duration::from_secs(5),
            "{wait:?}"
        );
    }

    #[tokio::test]
    async fn an_exhausted_window_within_the_deadline_is_waited_out() {
        let limiter = limiter();
        limiter.observe(BUCKET, StatusCode::OK, &headers(100, 0, 1));
        let started = Instant::now();
        limiter
            .wait_turn(BUCKET, Instant::now() + Duration::from_secs(5))
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "waited for the reset"
        );
        // The window is over: the next request goes at once.
        let started = Instant::now();
        limiter
            .wait_turn(BUCKET, Instant::now() + Duration::from_secs(5))
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_millis(50));
    }

    #[tokio::test]
    async fn little_left_spreads_requests_over_the_window() {
        let limiter = limiter();
        limiter.observe(BUCKET, StatusCode::OK, &headers(100, 3, 2));
        let started = Instant::now();
        limiter
            .wait_turn(BUCKET, Instant::now() + Duration::from_secs(5))
            .await
            .unwrap();
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited <= MAX_PACE,
            "{waited:?}"
        );
    }

    #[test]
    fn spare_quota_is_what_lies_above_the_slowdown_share() {
        let limiter = limiter();
        assert!(limiter.has_spare(BUCKET), "nothing known yet");
        limiter.observe(BUCKET, StatusCode::OK, &headers(100, 11, 60));
        assert!(limiter.has_spare(BUCKET));
        limiter.observe(BUCKET, StatusCode::OK, &headers(100, 10, 60));
        assert!(!limiter.has_spare(BUCKET), "10 of 100 is the reserve");
        assert!(
            limiter.has_spare("user_write"),
            "other buckets are their own"
        );
        limiter.observe(BUCKET, StatusCode::TOO_MANY_REQUESTS, &headers(100, 0, 60));
        assert!(!limiter.has_spare(BUCKET));
        limiter.observe(BUCKET, StatusCode::OK, &headers(100, 0, 0));
        assert!(limiter.has_spare(BUCKET), "the window has reset");
    }

    #[tokio::test]
    async fn no_headers_no_throttling() {
        let limiter = limiter();
        limiter.observe(BUCKET, StatusCode::OK, &HeaderMap::new());
        limiter
            .wait_turn(BUCKET, Instant::now() + Duration::from_millis(1))
            .await
            .unwrap();
        assert!(limiter.until_reset(BUCKET).is_none());
    }
}
