//! `/readyz` answers from the background checks: a probe never calls AWS, and a failing
//! dependency makes the pod unready only after the sustained period. The real route and
//! the real S3 check against the emulator, behind a proxy that can cut it off.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::routing::get;
use common::aws::S3BucketCheck;
use common::health::{readyz, Health, ReadinessCheck, ReadinessPolicy};
use reqwest::StatusCode;
use serde_json::Value;
use test_support::eventually;
use test_support::proxy::TcpProxy;

/// The real S3 check, counting how often it reaches out.
struct Counted {
    check: S3BucketCheck,
    calls: Arc<AtomicUsize>,
}

#[async_trait]
impl ReadinessCheck for Counted {
    fn name(&self) -> &'static str {
        self.check.name()
    }

    async fn check(&self) -> Result<(), String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.check.check().await
    }
}

struct Probed {
    readyz: String,
    proxy: TcpProxy,
    calls: Arc<AtomicUsize>,
    client: reqwest::Client,
}

impl Probed {
    /// A bucket on the emulator, checked through the proxy with `policy`, and `/readyz`
    /// served once the first round has passed.
    async fn start(policy: ReadinessPolicy) -> Self {
        let emulator = test_support::emulator::endpoint();
        let direct = common::aws::load_sdk_config(Some(&emulator)).await;
        let bucket = format!("{}readiness", test_support::emulator::unique_prefix());
        common::aws::ensure_bucket(&common::aws::s3(&direct), &bucket)
            .await
            .expect("bucket created");
        let proxy = TcpProxy::start(emulator.trim_start_matches("http://")).await;
        let through_proxy = common::aws::load_sdk_config(Some(&proxy.url())).await;
        let calls = Arc::new(AtomicUsize::new(0));
        let health = Health::new(vec![Arc::new(Counted {
            check: S3BucketCheck {
                client: common::aws::s3(&through_proxy),
                bucket,
            },
            calls: calls.clone(),
        })]);
        health.spawn_checks(policy);
        health.first_round().await;
        let router = axum::Router::new()
            .route("/readyz", get(readyz))
            .with_state(health);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let readyz = format!("http://{}/readyz", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self {
            readyz,
            proxy,
            calls,
            client: reqwest::Client::new(),
        }
    }

    async fn probe(&self) -> (StatusCode, Value) {
        let response = self.client.get(&self.readyz).send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }

    /// Probes until `status` comes back (30 s at most); returns the answers before it.
    async fn until(&self, status: StatusCode) -> Vec<Value> {
        let before = RefCell::new(Vec::new());
        eventually(Duration::from_secs(30), &format!("{status}"), || async {
            let (got, body) = self.probe().await;
            if got == status {
                return Ok(());
            }
            before.borrow_mut().push(body.clone());
            Err(body)
        })
        .await;
        before.into_inner()
    }
}

#[tokio::test]
async fn a_probe_never_calls_aws() {
    // One round at start, then none for an hour; any failure would count at once.
    let probed = Probed::start(ReadinessPolicy {
        interval: Duration::from_secs(3600),
        check_timeout: Duration::from_secs(2),
        unready_after: Duration::ZERO,
    })
    .await;
    assert_eq!(probed.calls.load(Ordering::SeqCst), 1);
    probed.proxy.cut();
    for _ in 0..20 {
        let (status, body) = probed.probe().await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["checks"]["s3"], "ok");
    }
    assert_eq!(
        probed.calls.load(Ordering::SeqCst),
        1,
        "20 probes made no AWS call"
    );
}

#[tokio::test]
async fn a_failing_dependency_flips_readiness_only_after_the_sustained_period() {
    let unready_after = Duration::from_secs(2);
    let probed = Probed::start(ReadinessPolicy {
        interval: Duration::from_millis(100),
        check_timeout: Duration::from_secs(1),
        unready_after,
    })
    .await;
    assert_eq!(probed.probe().await.0, StatusCode::OK);

    probed.proxy.cut();
    let cut_at = Instant::now();
    let still_ready = probed.until(StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        cut_at.elapsed() >= unready_after,
        "unready {:?} after the cut, before the sustained period",
        cut_at.elapsed()
    );
    assert!(
        still_ready
            .iter()
            .any(|body| body["status"] == "ready" && body["checks"]["s3"] != "ok"),
        "the failure showed in the checks while the pod stayed ready: {still_ready:?}"
    );
    let (_, body) = probed.probe().await;
    assert_eq!(body["status"], "unavailable");

    probed.proxy.restore();
    probed.until(StatusCode::OK).await;
}
