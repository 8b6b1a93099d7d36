//! Load shedding: at most `MAX_CONCURRENT_REQUESTS` requests are in a service's handlers
//! at once; one more is refused at once with a 503 and `Retry-After`, instead of queueing
//! behind the others until it times out. Past saturation a replica then keeps answering
//! what it accepts within its latency budget, and its memory stays flat; the callers
//! (or the load balancer) retry elsewhere or later. The probes and `/metrics` are never
//! shed: a replica under load is alive and ready, and its metrics say so.
//!
//! Each service gets it through the shared skeleton (`App::into_service`); how the limit
//! was chosen, and the HPA target that starts scaling before shedding, are in
//! docs/performance.md.
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{IntCounter, IntGauge};
use tokio::sync::Semaphore;

use crate::error::Problem;
use crate::metrics::Metrics;

/// `MAX_CONCURRENT_REQUESTS` unless set: see docs/performance.md ("Overload") for how it
/// was chosen.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 128;

/// Seconds a refused caller is asked to wait: about the time a scale-out or a burst's end
/// takes to free room, short enough for an interactive retry.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// Paths never shed: the kubelet's probes and Prometheus's scrape.
const OPERATIONS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The permits of one service, and what it refused.
pub struct ConcurrencyLimit {
    permits: Arc<Semaphore>,
    limit: usize,
    shed: IntCounter,
    in_flight: IntGauge,
}

impl ConcurrencyLimit {
    pub fn new(limit: usize, metrics: &Metrics) -> Arc<Self> {
        let shed = metrics.register(
            IntCounter::new(
                "http_requests_shed_total",
                "Requests refused with 503 because MAX_CONCURRENT_REQUESTS were in flight",
            )
            .expect("valid metric"),
        );
        let in_flight = metrics.register(
            IntGauge::new(
                "http_requests_in_flight",
                "Requests in the handlers now (at most MAX_CONCURRENT_REQUESTS)",
            )
            .expect("valid metric"),
        );
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            shed,
            in_flight,
        })
    }
}

/// Runs the request if a permit is free, else answers 503 at once.
pub async fn shed_beyond_limit(
    State(limit): State<Arc<ConcurrencyLimit>>,
    request: Request,
    next: Next,
) -> Response {
    if OPERATIONS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let Ok(permit) = limit.permits.clone().try_acquire_owned() else {
        limit.shed.inc();
        return overloaded(limit.limit);
    };
    // Counted until the handler is done or dropped (a caller that went away).
    let _in_flight = InFlight::enter(&limit.in_flight);
    let response = next.run(request).await;
    drop(permit);
    response
}

struct InFlight<'a>(&'a IntGauge);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn overloaded(limit: usize) -> Response {
    let mut response = Problem::new(StatusCode::SERVICE_UNAVAILABLE)
        .detail(format!(
            "The service is answering as many requests as it can ({limit} at once); retry in {RETRY_AFTER_SECONDS} s"
        ))
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}
