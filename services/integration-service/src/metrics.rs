//! The service's own metrics, on the app's registry next to the HTTP ones.
//!
//! Labels are bounded: integrations and capabilities come from the registry, tenants
//! from the configuration, operations and outcomes from code.
use common::metrics::Metrics;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts};

#[derive(Clone)]
pub struct ServiceMetrics {
    /// Capability calls by integration, capability and outcome (`ok`, or the error kind).
    pub calls: IntCounterVec,
    pub call_duration: HistogramVec,
    /// Upstream HTTP requests by integration, operation and status (`error` = no answer).
    pub upstream_requests: IntCounterVec,
    pub upstream_latency: HistogramVec,
    /// The rate-limit quota left in the current window, as last reported by the upstream.
    pub rate_limit_remaining: IntGaugeVec,
    /// 429 answers received.
    pub rate_limited: IntCounterVec,
    /// Retries by integration, operation and reason.
    pub retries: IntCounterVec,
    /// Credentials dropped and fetched again after a 401.
    pub auth_refreshes: IntCounterVec,
    /// Provider sync runs by tenant and final status.
    pub sync_runs: IntCounterVec,
}

const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

impl ServiceMetrics {
    pub fn register(metrics: &Metrics) -> anyhow::Result<Self> {
        Ok(Self {
            calls: metrics.register(IntCounterVec::new(
                Opts::new(
                    "integration_capability_calls_total",
                    "Capability calls by outcome",
                ),
                &["integration", "capability", "outcome"],
            )?),
            call_duration: metrics.register(HistogramVec::new(
                HistogramOpts::new(
                    "integration_capability_duration_seconds",
                    "Capability call duration, upstream calls and waits included",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["integration", "capability"],
            )?),
            upstream_requests: metrics.register(IntCounterVec::new(
                Opts::new(
                    "integration_upstream_requests_total",
                    "Upstream HTTP requests",
                ),
                &["integration", "operation", "status"],
            )?),
            upstream_latency: metrics.register(HistogramVec::new(
                HistogramOpts::new(
                    "integration_upstream_latency_seconds",
                    "Latency of one upstream HTTP request (one attempt)",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["integration", "operation"],
            )?),
            rate_limit_remaining: metrics.register(IntGaugeVec::new(
                Opts::new(
                    "integration_rate_limit_remaining",
                    "Requests left in the current window of one of the upstream's rate-limit buckets",
                ),
                &["tenant", "integration", "bucket"],
            )?),
            rate_limited: metrics.register(IntCounterVec::new(
                Opts::new(
                    "integration_upstream_rate_limited_total",
                    "429 Too Many Requests answers from the upstream",
                ),
                &["tenant", "integration"],
            )?),
            retries: metrics.register(IntCounterVec::new(
                Opts::new(
                    "integration_upstream_retries_total",
                    "Upstream request retries",
                ),
                &["integration", "operation", "reason"],
            )?),
            auth_refreshes: metrics.register(IntCounterVec::new(
                Opts::new(
                    "integration_auth_refreshes_total",
                    "Credentials re-read after the upstream rejected them",
                ),
                &["tenant", "integration"],
            )?),
            sync_runs: metrics.register(IntCounterVec::new(
                Opts::new(
                    "provider_sync_runs_total",
                    "Provider sync runs by final status",
                ),
                &["tenant", "status"],
            )?),
        })
    }
}
