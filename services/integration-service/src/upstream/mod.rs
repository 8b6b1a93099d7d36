//! Calls to a tenant's upstream API, with everything an integration gets for free:
//! credentials (per the tenant's auth method), client-side throttling from rate-limit
//! headers, a concurrency cap per tenant, bounded retries with backoff and jitter within
//! the caller's deadline (only where repeating cannot double an effect), one
//! re-authentication after a 401, and metrics.
//!
//! - this file: a tenant's [`Upstream`] (built once at start from its settings and the
//!   integration's [`UpstreamProfile`]) and [`Upstreams`];
//! - `request`: [`UpstreamRequest`] and [`Exchange`]; `errors`: [`UpstreamError`] and how
//!   one attempt failed; `call`: the attempts, their classification, the final error;
//! - [`credentials`] (a file per auth method), [`dpop`], [`throttle`].
mod call;
pub mod credentials;
pub mod dpop;
mod errors;
mod request;
pub mod throttle;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::retry::RetryPolicy;
use common::secrets::SecretStore;
use tokio::sync::Semaphore;
use url::Url;

use crate::metrics::ServiceMetrics;
use crate::tenants::{AuthConfig, AuthKind, IntegrationSettings};
pub use call::MAX_BODY_BYTES;
use credentials::Authenticator;
pub use errors::UpstreamError;
pub use request::{join, Acceptance, Exchange, UpstreamRequest, WHOLE_UPSTREAM};
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

/// The token URL of an OAuth auth method, given the tenant's settings (none: the method
/// is not the integration's, or has no token URL).
pub type TokenUrl = Arc<dyn Fn(AuthKind, &IntegrationSettings) -> Option<Url> + Send + Sync>;

/// What an integration tells the upstream layer about its vendor.
#[derive(Clone, Default)]
pub struct UpstreamProfile {
    /// Where OAuth methods get tokens when the tenant names no `token_url`.
    pub token_url: Option<TokenUrl>,
    /// The headers that carry rate-limit windows (none: only 429s and `Retry-After`).
    pub rate_headers: Option<RateHeaderNames>,
    /// How `oauth_private_key_jwt` signs its client assertions for this vendor.
    pub assertion_style: credentials::AssertionStyle,
    /// The header of a 429 that names the used-up quota's buckets.
    pub exhausted_by: Option<throttle::ExhaustedBy>,
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
    /// The tenant's settings for this integration (its own among them).
    settings: IntegrationSettings,
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
        // The tenant's own `token_url`, else the integration's for the tenant's settings.
        let token_url = |own: &Option<Url>| {
            own.clone()
                .or_else(|| profile.token_url.as_ref()?(settings.auth.kind(), settings))
                .ok_or_else(|| {
                    format!(
                        "tenant {tenant}: {integration} has no token URL for {}; set the tenant's `auth.token_url`",
                        settings.auth.kind().name()
                    )
                })
        };
        let authenticator: Arc<dyn Authenticator> = match &settings.auth {
            AuthConfig::ApiToken => Arc::new(credentials::ApiToken::new(secrets, secret_name)),
            AuthConfig::OauthPrivateKeyJwt {
                client_id,
                key_id,
                scopes,
                token_url: token_url_given,
                dpop,
            } => Arc::new(credentials::OauthClient::new(
                http.clone(),
                secrets,
                secret_name,
                client_id.clone(),
                credentials::ClientAuthentication::PrivateKeyJwt {
                    key_id: key_id.clone(),
                    style: profile.assertion_style,
                },
                scopes,
                token_url(token_url_given)?,
                policy.clone(),
                *dpop,
                profile.rate_headers.clone(),
            )),
            AuthConfig::OauthClientSecret {
                client_id,
                scopes,
                token_url: token_url_given,
            } => Arc::new(credentials::OauthClient::new(
                http.clone(),
                secrets,
                secret_name,
                client_id.clone(),
                credentials::ClientAuthentication::ClientSecretPost,
                scopes,
                token_url(token_url_given)?,
                policy.clone(),
                false,
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
        )
        .exhausted_by(profile.exhausted_by.clone());
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
            settings: settings.clone(),
        })
    }

    /// The tenant's base URL of this integration.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// A tenant setting (see [`IntegrationSettings::setting`]).
    pub fn setting(&self, name: &str) -> Option<String> {
        self.settings.setting(name)
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
