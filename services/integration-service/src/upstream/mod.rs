//! Calls to a tenant's upstream API, with everything an integration gets for free:
//! credentials (per the tenant's auth method), client-side throttling from rate-limit
//! headers, a concurrency cap per tenant, bounded retries with backoff and jitter within
//! the caller's deadline (only where repeating cannot double an effect), one
//! re-authentication after a 401, and metrics.
pub mod credentials;
pub mod dpop;
pub mod throttle;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::http_client::{classify_status, classify_transport, Idempotency};
use common::retry::{Retry, RetryPolicy};
use common::secrets::SecretStore;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use crate::metrics::ServiceMetrics;
use crate::tenants::{AuthConfig, AuthKind, IntegrationSettings};
use credentials::{transport_kind, AuthError, Authenticator};
use throttle::{RateHeaderNames, RateLimiter};

/// How upstream calls behave: the knobs of retries, throttling and concurrency.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Per-attempt timeout (a tenant may override it).
    pub attempt_timeout: Duration,
    /// Budget of one capability call upstream, retries and rate-limit waits included.
    /// Kept below REQUEST_TIMEOUT_SECONDS so callers get our answer, not a generic timeout.
    pub deadline: Duration,
    /// Attempts per upstream request, the first included.
    pub max_attempts: u32,
    /// First backoff step (doubles, full jitter).
    pub retry_base_delay: Duration,
    /// Concurrent upstream calls per tenant and integration (a tenant may override it).
    pub max_concurrency: usize,
    /// Below this fraction of the rate limit left, calls are spread out until the reset.
    pub slowdown_below: f64,
}

/// The largest upstream body read: a bigger one is an invalid answer, not a memory spike.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The token URL of an OAuth auth method, given the tenant's base URL (none: the method
/// is not the integration's, or has no token URL).
pub type TokenUrl = Arc<dyn Fn(AuthKind, &Url) -> Option<Url> + Send + Sync>;

/// What an integration tells the upstream layer about its vendor.
#[derive(Clone, Default)]
pub struct UpstreamProfile {
    /// Where OAuth methods get tokens when the tenant names no `token_url`.
    pub token_url: Option<TokenUrl>,
    /// The headers that carry rate-limit windows (none: only 429s and `Retry-After`).
    pub rate_headers: Option<RateHeaderNames>,
}

/// Why an upstream call failed, after whatever retrying was allowed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The tenant's rate limit is used up beyond the caller's deadline.
    #[error("the upstream rate limit is exhausted; retry in {}s", .retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    /// The tenant's concurrency cap stayed full until the deadline.
    #[error("too many concurrent calls for this tenant")]
    Busy,
    /// Timeouts, refused connections or 5xx, after the allowed attempts.
    #[error("{0}")]
    Unavailable(String),
    /// A non-idempotent call failed in a way that leaves open whether it took effect.
    #[error("{0}")]
    OutcomeUnknown(String),
    #[error("tenant credentials rejected: {0}")]
    CredentialsRejected(String),
    #[error("tenant credentials missing: {0}")]
    CredentialsMissing(String),
    /// The upstream answered something unusable, after the allowed attempts.
    #[error("{0}")]
    InvalidResponse(String),
}

impl From<AuthError> for UpstreamError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Rejected(why) => Self::CredentialsRejected(why),
            AuthError::Missing(why) => Self::CredentialsMissing(why),
            AuthError::Unavailable(why) => Self::Unavailable(why),
            AuthError::RateLimited(retry_after) => Self::RateLimited { retry_after },
        }
    }
}

/// A response, body read in full.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Exchange {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, UpstreamError> {
        serde_json::from_slice(&self.body).map_err(|error| {
            UpstreamError::InvalidResponse(format!("unexpected response body: {error}"))
        })
    }
}

/// Checks a 2xx response inside the retry loop, so an incomplete body is retried like a
/// dropped connection (idempotent requests only).
pub type Acceptance = fn(&Exchange) -> Result<(), String>;

/// One request to the upstream, relative to the tenant's base URL.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    /// Metric and log label, e.g. `list_users`.
    pub operation: Arc<str>,
    pub method: Method,
    /// Path below the base URL, starting with `/`, segments already safe.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub idempotency: Idempotency,
    pub accept: Option<Acceptance>,
    /// The upstream's rate-limit bucket this request counts against (see `throttle`).
    pub bucket: Arc<str>,
    /// Whether a 5xx answer is sent again as it was (no: the caller changes the request
    /// first, e.g. asks for a smaller page).
    pub repeat_server_errors: bool,
}

/// The bucket of upstreams with one quota for everything.
pub const WHOLE_UPSTREAM: &str = "all";

impl UpstreamRequest {
    pub fn new(
        operation: impl Into<Arc<str>>,
        method: Method,
        path: String,
        idempotency: Idempotency,
    ) -> Self {
        Self {
            operation: operation.into(),
            method,
            path,
            query: Vec::new(),
            idempotency,
            accept: None,
            bucket: Arc::from(WHOLE_UPSTREAM),
            repeat_server_errors: true,
        }
    }

    pub fn get(operation: impl Into<Arc<str>>, path: impl Into<String>) -> Self {
        Self::new(operation, Method::GET, path.into(), Idempotency::Idempotent)
    }

    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    pub fn bucket(mut self, bucket: Arc<str>) -> Self {
        self.bucket = bucket;
        self
    }

    /// A 5xx answer ends the call: the caller retries with a changed request.
    pub fn no_repeat_on_server_errors(mut self) -> Self {
        self.repeat_server_errors = false;
        self
    }

    pub fn accept(mut self, accept: Acceptance) -> Self {
        self.accept = Some(accept);
        self
    }
}

/// How one attempt failed.
enum AttemptError {
    Transport(reqwest::Error),
    /// 429 or 5xx.
    Status(Exchange),
    /// 401 with credentials that are now forgotten: try once more with fresh ones.
    Reauthenticate,
    /// 401 asking for the DPoP nonce it hands out: try once more with it.
    DpopNonce,
    /// The rate-limit wait does not fit the deadline.
    Throttled(Duration),
    Auth(AuthError),
    Invalid(String),
    DeadlineExceeded,
}

impl AttemptError {
    fn reason(&self) -> &'static str {
        match self {
            Self::Transport(error) if error.is_timeout() => "timeout",
            Self::Transport(error) if error.is_connect() => "connect",
            Self::Transport(_) => "transport",
            Self::Status(exchange) if exchange.status == StatusCode::TOO_MANY_REQUESTS => {
                "rate_limited"
            }
            Self::Status(_) => "server_error",
            Self::Reauthenticate => "reauthenticate",
            Self::DpopNonce => "dpop_nonce",
            Self::Invalid(_) => "invalid_response",
            Self::Throttled(_) | Self::Auth(_) | Self::DeadlineExceeded => "other",
        }
    }
}

/// What one call may do only once, whatever the number of attempts.
#[derive(Default)]
struct OnceOnly {
    reauthenticated: AtomicBool,
    nonce_answered: AtomicBool,
}

/// One tenant's connection to one integration's upstream.
pub struct Upstream {
    pub tenant: String,
    pub integration: Arc<str>,
    base_url: Url,
    http: reqwest::Client,
    attempt_timeout: Duration,
    policy: RetryPolicy,
    authenticator: Arc<dyn Authenticator>,
    limiter: RateLimiter,
    permits: Semaphore,
    metrics: ServiceMetrics,
}

/// `base` + `path`, keeping any path prefix of the base URL.
pub fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    url.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
    url.set_query(None);
    url
}

impl Upstream {
    /// The tenant's connection; Err names what the configuration lacks.
    pub fn new(
        tenant: &str,
        integration: &str,
        settings: &IntegrationSettings,
        profile: &UpstreamProfile,
        config: &UpstreamConfig,
        secrets: Arc<dyn SecretStore>,
        metrics: ServiceMetrics,
    ) -> Result<Self, String> {
        let attempt_timeout = settings.timeout().unwrap_or(config.attempt_timeout);
        // A redirect would take the tenant's credentials wherever the upstream says: none
        // is followed (a 3xx is an answer like any other).
        let http = common::http_client::builder(attempt_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("static client settings are valid");
        let policy = RetryPolicy {
            max_attempts: config.max_attempts,
            base_delay: config.retry_base_delay,
            // Rate-limit waits up to the whole deadline are allowed; the deadline bounds all.
            max_delay: config.deadline.max(config.retry_base_delay),
            deadline: config.deadline,
        };
        let secret_name = settings.secret_name(tenant, integration);
        let authenticator: Arc<dyn Authenticator> = match &settings.auth {
            AuthConfig::ApiToken => Arc::new(credentials::ApiToken::new(secrets, secret_name)),
            AuthConfig::OauthPrivateKeyJwt {
                client_id,
                key_id,
                scopes,
                token_url,
                dpop,
            } => Arc::new(credentials::OauthPrivateKeyJwt::new(
                http.clone(),
                secrets,
                secret_name,
                client_id.clone(),
                key_id.clone(),
                scopes,
                match token_url.clone().or_else(|| {
                    profile.token_url.as_ref()?(AuthKind::OauthPrivateKeyJwt, &settings.base_url)
                }) {
                    Some(url) => url,
                    None => return Err(format!(
                        "tenant {tenant}: {integration} has no token URL for oauth_private_key_jwt; set the tenant's `auth.token_url`"
                    )),
                },
                policy.clone(),
                *dpop,
                profile.rate_headers.clone(),
            )),
            AuthConfig::Checksum => Arc::new(credentials::ChecksumToken::new(
                http.clone(),
                &settings.base_url,
                attempt_timeout,
                policy.clone(),
            )),
        };
        let limiter = RateLimiter::new(
            profile.rate_headers.clone(),
            config.slowdown_below,
            metrics.rate_limit_remaining.clone(),
            tenant,
            integration,
            metrics
                .rate_limited
                .with_label_values(&[tenant, integration]),
        );
        Ok(Self {
            tenant: tenant.to_owned(),
            integration: Arc::from(integration),
            base_url: settings.base_url.clone(),
            http,
            attempt_timeout,
            policy,
            authenticator,
            limiter,
            permits: Semaphore::new(settings.max_concurrency.unwrap_or(config.max_concurrency)),
            metrics,
        })
    }

    /// The tenant's base URL of this integration.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// A tenant setting a definition's templates may name (`settings.base_url`, rendered
    /// without a trailing `/`).
    pub fn setting(&self, name: &str) -> Option<String> {
        (name == "base_url").then(|| self.base_url.as_str().trim_end_matches('/').to_owned())
    }

    /// Counts a retry the caller makes itself (with a changed request), beside the ones
    /// [`Upstream::call`] makes.
    pub fn count_retry(&self, operation: &str, reason: &str) {
        self.metrics
            .retries
            .with_label_values(&[&*self.integration, operation, reason])
            .inc();
    }

    /// Whether the tenant's rate-limit window for `bucket` has more left than the slowdown
    /// reserve: bulk work (more pages) goes on only then, and leaves the rest to single
    /// calls.
    pub fn rate_has_spare(&self, bucket: &str) -> bool {
        self.limiter.has_spare(bucket)
    }

    /// Sends `request`, retrying within `deadline` as its idempotency allows. Any final
    /// HTTP answer other than 401, 429 and 5xx is returned for the integration to map.
    pub async fn call(
        &self,
        request: &UpstreamRequest,
        deadline: Instant,
    ) -> Result<Exchange, UpstreamError> {
        let _permit = tokio::time::timeout_at(deadline, self.permits.acquire())
            .await
            .map_err(|_| UpstreamError::Busy)?
            .expect("the semaphore is never closed");
        let policy = RetryPolicy {
            deadline: deadline.saturating_duration_since(Instant::now()),
            ..self.policy.clone()
        };
        let once = OnceOnly::default();
        let result = policy
            .run(
                |_| self.attempt(request, deadline, &once),
                |error| self.classify(error, request, deadline),
                |attempt, error, wait| {
                    self.metrics
                        .retries
                        .with_label_values(&[
                            &*self.integration,
                            &*request.operation,
                            error.reason(),
                        ])
                        .inc();
                    tracing::warn!(
                        tenant = %self.tenant,
                        integration = &*self.integration,
                        operation = &*request.operation,
                        attempt,
                        reason = error.reason(),
                        wait_ms = wait.as_millis() as u64,
                        "upstream call failed; retrying"
                    );
                },
            )
            .await;
        match result {
            Ok(exchange) if exchange.status == StatusCode::UNAUTHORIZED => {
                Err(UpstreamError::CredentialsRejected(format!(
                    "the upstream answered 401 to fresh credentials{}",
                    dpop::challenge_error(&exchange.headers)
                        .map(|error| format!(" ({error})"))
                        .unwrap_or_default()
                )))
            }
            Ok(exchange) => Ok(exchange),
            Err(error) => Err(self.final_error(error, request)),
        }
    }

    async fn attempt(
        &self,
        request: &UpstreamRequest,
        deadline: Instant,
        once: &OnceOnly,
    ) -> Result<Exchange, AttemptError> {
        self.limiter
            .wait_turn(&request.bucket, deadline)
            .await
            .map_err(AttemptError::Throttled)?;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(AttemptError::DeadlineExceeded);
        }
        let mut url = join(&self.base_url, &request.path);
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        let mut http_request = reqwest::Request::new(request.method.clone(), url);
        *http_request.timeout_mut() = Some(self.attempt_timeout.min(left));
        http_request.headers_mut().insert(
            reqwest::header::ACCEPT,
            "application/json".parse().expect("static"),
        );
        if matches!(request.method, Method::POST | Method::PUT | Method::PATCH)
            && http_request.body().is_none()
        {
            // hyper sends an HTTP/1.1 request without a body with neither Content-Length
            // nor Transfer-Encoding, which Okta answers 411 ("include a Content-Length: 0
            // header", okta-developer-docs reference/api-overview); Go's net/http and
            // aiohttp, which Okta's SDKs use, send it.
            http_request.headers_mut().insert(
                reqwest::header::CONTENT_LENGTH,
                reqwest::header::HeaderValue::from_static("0"),
            );
        }
        self.authenticator
            .authorize(&mut http_request, deadline)
            .await
            .map_err(AttemptError::Auth)?;

        let labels = [&*self.integration, &*request.operation];
        let started = Instant::now();
        let sent = self.http.execute(http_request).await;
        let observe = |status: &str| {
            self.metrics
                .upstream_latency
                .with_label_values(&labels)
                .observe(started.elapsed().as_secs_f64());
            self.metrics
                .upstream_requests
                .with_label_values(&[&*self.integration, &*request.operation, status])
                .inc();
        };
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                observe("error");
                return Err(AttemptError::Transport(error));
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        self.limiter.observe(&request.bucket, status, &headers);
        let nonce_demanded = self.authenticator.challenged(status, &headers);
        let body = match read_capped(response).await {
            Ok(body) => body,
            Err(BodyError::Transport(error)) => {
                observe("error");
                return Err(AttemptError::Transport(error));
            }
            Err(BodyError::TooLarge) => {
                observe(status.as_str());
                return Err(AttemptError::Invalid(format!(
                    "the answer is larger than {} MiB",
                    MAX_BODY_BYTES / (1024 * 1024)
                )));
            }
        };
        observe(status.as_str());
        let exchange = Exchange {
            status,
            headers,
            body,
        };
        if nonce_demanded && !once.nonce_answered.swap(true, Ordering::SeqCst) {
            return Err(AttemptError::DpopNonce);
        }
        if status == StatusCode::UNAUTHORIZED && !once.reauthenticated.swap(true, Ordering::SeqCst)
        {
            self.metrics
                .auth_refreshes
                .with_label_values(&[&self.tenant, &*self.integration])
                .inc();
            tracing::warn!(tenant = %self.tenant, integration = &*self.integration, "credentials rejected; refreshing them once");
            self.authenticator.invalidate().await;
            return Err(AttemptError::Reauthenticate);
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(AttemptError::Status(exchange));
        }
        if status.is_success() {
            if let Some(accept) = request.accept {
                accept(&exchange).map_err(AttemptError::Invalid)?;
            }
        }
        Ok(exchange)
    }

    fn classify(
        &self,
        error: &AttemptError,
        request: &UpstreamRequest,
        deadline: Instant,
    ) -> Retry {
        let idempotency = request.idempotency;
        match error {
            AttemptError::Transport(error) => classify_transport(error, idempotency),
            AttemptError::Status(exchange) if exchange.status == StatusCode::TOO_MANY_REQUESTS => {
                // A 429 is a refusal: safe to repeat, but only after the reset.
                let wait = self
                    .limiter
                    .until_reset(&request.bucket)
                    .unwrap_or(Duration::from_secs(1));
                if Instant::now() + wait > deadline {
                    Retry::No
                } else {
                    Retry::After(wait)
                }
            }
            AttemptError::Status(exchange)
                if !request.repeat_server_errors && exchange.status.is_server_error() =>
            {
                Retry::No
            }
            AttemptError::Status(exchange) => {
                classify_status(exchange.status, &exchange.headers, idempotency)
            }
            AttemptError::Reauthenticate | AttemptError::DpopNonce => Retry::After(Duration::ZERO),
            AttemptError::Invalid(_) if idempotency == Idempotency::Idempotent => Retry::Backoff,
            AttemptError::Invalid(_)
            | AttemptError::Throttled(_)
            | AttemptError::Auth(_)
            | AttemptError::DeadlineExceeded => Retry::No,
        }
    }

    fn final_error(&self, error: AttemptError, request: &UpstreamRequest) -> UpstreamError {
        let attempts = self.policy.max_attempts;
        let idempotent = request.idempotency == Idempotency::Idempotent;
        let call = format!("{} {}", request.method, request.path);
        let error = match error {
            AttemptError::Transport(error) if error.is_connect() || idempotent => {
                UpstreamError::Unavailable(format!(
                    "{call} {} (gave up after at most {attempts} attempts)",
                    match transport_kind(&error) {
                        "timed out" => "timed out",
                        "connection failed" => "could not be reached",
                        _ => "dropped the connection",
                    }
                ))
            }
            AttemptError::Transport(error) => UpstreamError::OutcomeUnknown(format!(
                "{call} {} before answering; the upstream may or may not have applied it",
                transport_kind(&error)
            )),
            AttemptError::Status(exchange) if exchange.status == StatusCode::TOO_MANY_REQUESTS => {
                UpstreamError::RateLimited {
                    retry_after: self
                        .limiter
                        .until_reset(&request.bucket)
                        .unwrap_or(Duration::from_secs(1)),
                }
            }
            AttemptError::Status(exchange)
                if idempotent || exchange.status == StatusCode::SERVICE_UNAVAILABLE =>
            {
                UpstreamError::Unavailable(format!(
                    "{call} answered {} (gave up after at most {attempts} attempts)",
                    exchange.status
                ))
            }
            AttemptError::Status(exchange) => UpstreamError::OutcomeUnknown(format!(
                "{call} answered {}; the upstream may or may not have applied it",
                exchange.status
            )),
            AttemptError::Reauthenticate => {
                UpstreamError::CredentialsRejected("the upstream rejected the credentials".into())
            }
            AttemptError::DpopNonce => UpstreamError::CredentialsRejected(
                "the upstream kept asking for a new DPoP nonce (use_dpop_nonce)".into(),
            ),
            AttemptError::Throttled(retry_after) => UpstreamError::RateLimited { retry_after },
            AttemptError::Auth(error) => error.into(),
            AttemptError::Invalid(why) => UpstreamError::InvalidResponse(format!(
                "{call}: {why} (gave up after at most {attempts} attempts)"
            )),
            AttemptError::DeadlineExceeded => {
                UpstreamError::Unavailable(format!("{call} did not answer in time"))
            }
        };
        tracing::warn!(
            tenant = %self.tenant,
            integration = &*self.integration,
            operation = &*request.operation,
            %error,
            "upstream call failed"
        );
        error
    }
}

enum BodyError {
    Transport(reqwest::Error),
    TooLarge,
}

/// The body, refused past [`MAX_BODY_BYTES`] (by its `Content-Length` before reading, or
/// as it streams in).
async fn read_capped(mut response: reqwest::Response) -> Result<Bytes, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > MAX_BODY_BYTES as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.into())
}

/// Every configured (tenant, integration) connection, built once at start.
#[derive(Default)]
pub struct Upstreams {
    by_tenant: HashMap<(String, String), Arc<Upstream>>,
}

impl Upstreams {
    pub fn insert(&mut self, upstream: Upstream) {
        self.by_tenant.insert(
            (upstream.tenant.clone(), upstream.integration.to_string()),
            Arc::new(upstream),
        );
    }

    pub fn get(&self, tenant: &str, integration: &str) -> Option<Arc<Upstream>> {
        self.by_tenant
            .get(&(tenant.to_owned(), integration.to_owned()))
            .cloned()
    }

    /// The tenants configured for `integration`, sorted.
    pub fn tenants_of(&self, integration: &str) -> Vec<String> {
        let mut tenants: Vec<String> = self
            .by_tenant
            .keys()
            .filter(|(_, name)| name == integration)
            .map(|(tenant, _)| tenant.clone())
            .collect();
        tenants.sort();
        tenants
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bodies_past_the_cap_are_refused_as_they_stream_in() {
        let response = |bytes: usize| {
            reqwest::Response::from(
                axum::http::Response::builder()
                    .body(vec![b'x'; bytes])
                    .unwrap(),
            )
        };
        assert_eq!(
            read_capped(response(MAX_BODY_BYTES))
                .await
                .ok()
                .map(|b| b.len()),
            Some(MAX_BODY_BYTES)
        );
        assert!(matches!(
            read_capped(response(MAX_BODY_BYTES + 1)).await,
            Err(BodyError::TooLarge)
        ));
    }

    #[test]
    fn join_keeps_the_base_path_and_drops_its_query() {
        let base = Url::parse("https://partner.example/api/v2/?x=1").unwrap();
        assert_eq!(
            join(&base, "/providers").as_str(),
            "https://partner.example/api/v2/providers"
        );
        let bare = Url::parse("http://127.0.0.1:9102").unwrap();
        assert_eq!(
            join(&bare, "/api/v1/users").as_str(),
            "http://127.0.0.1:9102/api/v1/users"
        );
    }
}
