//! Liveness and readiness.
//!
//! `/healthz` says the process is up and serving. `/readyz` says the service can do its
//! job: every dependency check passes within a timeout, and the service is not draining
//! for shutdown. Kubernetes stops routing traffic to a pod whose readiness fails.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// One dependency the service cannot work without.
#[async_trait]
pub trait ReadinessCheck: Send + Sync {
    fn name(&self) -> &'static str;
    /// Ok when the dependency answers; the error says what failed (no secrets).
    async fn check(&self) -> Result<(), String>;
}

/// Readiness state shared by the probe handler and the shutdown sequence.
#[derive(Clone)]
pub struct Health {
    inner: Arc<HealthInner>,
}

struct HealthInner {
    checks: Vec<Arc<dyn ReadinessCheck>>,
    check_timeout: Duration,
    draining: AtomicBool,
}

impl Health {
    pub fn new(checks: Vec<Arc<dyn ReadinessCheck>>) -> Self {
        Self {
            inner: Arc::new(HealthInner {
                checks,
                check_timeout: Duration::from_secs(2),
                draining: AtomicBool::new(false),
            }),
        }
    }

    /// From now on `/readyz` answers 503, so the load balancer stops sending traffic.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// Runs every check concurrently, each bounded by the check timeout.
    pub async fn report(&self) -> Readiness {
        if self.is_draining() {
            return Readiness {
                status: ReadinessStatus::Draining,
                checks: BTreeMap::new(),
            };
        }
        let timeout = self.inner.check_timeout;
        let results = futures::future::join_all(self.inner.checks.iter().map(|check| async move {
            let outcome = match tokio::time::timeout(timeout, check.check()).await {
                Ok(Ok(())) => "ok".to_owned(),
                Ok(Err(error)) => error,
                Err(_) => format!("no answer within {timeout:?}"),
            };
            (check.name().to_owned(), outcome)
        }))
        .await;
        let ready = results.iter().all(|(_, outcome)| outcome == "ok");
        Readiness {
            status: if ready {
                ReadinessStatus::Ready
            } else {
                ReadinessStatus::Unavailable
            },
            checks: results.into_iter().collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadinessStatus {
    Ready,
    Unavailable,
    Draining,
}

/// The `/readyz` body: overall status and each check's outcome (`ok` or what failed).
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub status: ReadinessStatus,
    pub checks: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    /// Always `ok` while the process serves requests.
    pub status: &'static str,
}

/// Liveness: the process is up and its runtime serves requests.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is alive", body = Liveness)))]
pub async fn healthz() -> Json<Liveness> {
    Json(Liveness { status: "ok" })
}

/// Readiness: dependencies answer and the service is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "A dependency is unavailable, or the service is draining", body = Readiness),
    ))]
pub async fn readyz(State(health): State<Health>) -> (StatusCode, Json<Readiness>) {
    let report = health.report().await;
    let status = if report.status == ReadinessStatus::Ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report))
}
