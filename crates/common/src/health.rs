//! Liveness and readiness.
//!
//! `/healthz` says the process is up and serving. `/readyz` says the service can do its
//! job. Dependency checks run in the background every `interval` (each bounded by
//! `check_timeout`) and `/readyz` answers from the last result: a probe never calls AWS,
//! so kubelet and load-balancer probes cannot pile up on a slow dependency. A pod turns
//! unready only once a dependency has failed for `unready_after` without a pass in
//! between: one slow AWS call must not take every pod out of rotation at the same moment.
//! Before the first passing round, and while draining for shutdown, it is unready.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use utoipa::ToSchema;

/// One dependency the service cannot work without.
#[async_trait]
pub trait ReadinessCheck: Send + Sync {
    fn name(&self) -> &'static str;
    /// Ok when the dependency answers; the error says what failed (no secrets).
    async fn check(&self) -> Result<(), String>;
}

/// How the background checks run (`READINESS_*` variables, see `CommonConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadinessPolicy {
    /// Time between two rounds of checks.
    pub interval: Duration,
    /// Bound of one check; the Kubernetes probe timeout must exceed it.
    pub check_timeout: Duration,
    /// How long a dependency must keep failing before the pod reports unready.
    pub unready_after: Duration,
}

/// Readiness state shared by the probe handler, the background checks and the shutdown
/// sequence.
#[derive(Clone)]
pub struct Health {
    inner: Arc<HealthInner>,
}

struct HealthInner {
    checks: Vec<Arc<dyn ReadinessCheck>>,
    draining: AtomicBool,
    last: Mutex<LastRound>,
    /// Completed rounds, for whoever waits for the first one.
    rounds: watch::Sender<u64>,
}

/// What the last round found, and since when something has been failing.
struct LastRound {
    outcomes: BTreeMap<String, String>,
    ready: bool,
    failing_since: Option<Instant>,
}

impl Health {
    pub fn new(checks: Vec<Arc<dyn ReadinessCheck>>) -> Self {
        let outcomes = checks
            .iter()
            .map(|check| (check.name().to_owned(), "not checked yet".to_owned()))
            .collect();
        Self {
            inner: Arc::new(HealthInner {
                checks,
                draining: AtomicBool::new(false),
                last: Mutex::new(LastRound {
                    outcomes,
                    ready: false,
                    failing_since: None,
                }),
                rounds: watch::channel(0).0,
            }),
        }
    }

    /// Starts the background checks: a round at once, then one every `policy.interval`,
    /// until the last clone of this `Health` is dropped. Needs a Tokio runtime.
    pub fn spawn_checks(&self, policy: ReadinessPolicy) {
        let inner: Weak<HealthInner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(policy.interval);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let Some(inner) = inner.upgrade() else { break };
                inner.run_round(&policy).await;
            }
        });
    }

    /// Waits until the background checks have completed a round (whatever it found).
    pub async fn first_round(&self) {
        let mut rounds = self.inner.rounds.subscribe();
        let _ = rounds.wait_for(|done| *done > 0).await;
    }

    /// From now on `/readyz` answers 503, so the load balancer stops sending traffic.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// The answer of `/readyz`, from the last round of checks (no dependency is called).
    pub fn report(&self) -> Readiness {
        if self.is_draining() {
            return Readiness {
                status: ReadinessStatus::Draining,
                checks: BTreeMap::new(),
            };
        }
        let last = self.inner.last.lock().expect("readiness lock");
        Readiness {
            status: if last.ready {
                ReadinessStatus::Ready
            } else {
                ReadinessStatus::Unavailable
            },
            checks: last.outcomes.clone(),
        }
    }
}

impl HealthInner {
    /// Runs every check concurrently, each bounded by the check timeout, and records the
    /// outcome: ready after a passing round, unready once failures have lasted
    /// `unready_after`.
    async fn run_round(&self, policy: &ReadinessPolicy) {
        let timeout = policy.check_timeout;
        let outcomes: BTreeMap<String, String> =
            futures::future::join_all(self.checks.iter().map(|check| async move {
                let outcome = match tokio::time::timeout(timeout, check.check()).await {
                    Ok(Ok(())) => "ok".to_owned(),
                    Ok(Err(error)) => error,
                    Err(_) => format!("no answer within {timeout:?}"),
                };
                (check.name().to_owned(), outcome)
            }))
            .await
            .into_iter()
            .collect();
        let passed = outcomes.values().all(|outcome| outcome == "ok");
        let now = Instant::now();
        {
            let mut last = self.last.lock().expect("readiness lock");
            if passed {
                last.ready = true;
                last.failing_since = None;
            } else {
                let since = *last.failing_since.get_or_insert(now);
                if last.ready && now.duration_since(since) >= policy.unready_after {
                    tracing::warn!(checks = ?outcomes, "dependencies failing: reporting unready");
                    last.ready = false;
                }
            }
            last.outcomes = outcomes;
        }
        self.rounds.send_modify(|done| *done += 1);
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

/// Readiness: dependencies answer (last background round) and the service is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "A dependency is unavailable, or the service is draining", body = Readiness),
    ))]
pub async fn readyz(State(health): State<Health>) -> (StatusCode, Json<Readiness>) {
    let report = health.report();
    let status = if report.status == ReadinessStatus::Ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report))
}
