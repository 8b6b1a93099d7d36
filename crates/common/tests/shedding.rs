//! Load shedding through the shared skeleton: with `MAX_CONCURRENT_REQUESTS` requests in
//! the handlers, one more is answered 503 with `Retry-After` at once, not queued; the
//! probes and `/metrics` still answer; room frees as requests finish.
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use common::config::CommonConfig;
use common::health::Health;
use common::metrics::Metrics;
use common::server::{App, Application};
use reqwest::StatusCode;
use test_support::app::RunningApp;
use test_support::caller::Callers;
use test_support::eventually;
use tokio::sync::watch;
use utoipa_axum::router::OpenApiRouter;

/// Holds every request until the gate opens.
async fn held(State(mut gate): State<watch::Receiver<bool>>) -> &'static str {
    let _ = gate.wait_for(|open| *open).await;
    "done"
}

struct Limited {
    _app: RunningApp,
    gate: watch::Sender<bool>,
    callers: Callers,
}

impl Limited {
    async fn start(limit: usize) -> Self {
        let (gate, opened) = watch::channel(false);
        let api = OpenApiRouter::new()
            .route("/held", axum::routing::get(held))
            .with_state(opened);
        let config = CommonConfig {
            max_concurrent_requests: limit,
            ..CommonConfig::for_tests("unused-")
        };
        let service = App {
            api,
            spec: utoipa::openapi::OpenApiBuilder::new().build(),
            health: Health::new(vec![]),
            metrics: Arc::new(Metrics::new()),
        }
        .into_service(&config);
        let app = test_support::app::spawn(Application::new(service), &config).await;
        let mut callers = Callers::new(&app.address, None);
        // A queued request would wait for the gate: the test fails instead of hanging.
        callers.client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Self {
            _app: app,
            gate,
            callers,
        }
    }

    /// Waits until `/metrics` shows `count` requests in the handlers.
    async fn wait_in_flight(&self, count: usize) {
        let wanted = format!("http_requests_in_flight {count}\n");
        eventually(Duration::from_secs(30), &wanted, || async {
            self.callers.metrics().await.contains(&wanted)
        })
        .await;
    }
}

#[tokio::test]
async fn a_request_beyond_the_limit_is_refused_at_once_and_room_frees_as_requests_finish() {
    let service = Limited::start(2).await;
    let caller = service.callers.anonymous();
    let holding: Vec<_> = (0..2).map(|_| tokio::spawn(caller.get("/held"))).collect();
    service.wait_in_flight(2).await;

    let sent = Instant::now();
    let refused = caller.get("/held").await;
    let waited = sent.elapsed();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert!(refused.headers().contains_key("x-request-id"));
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("2 at once"),
        "{problem}"
    );
    // Not queued behind the held ones: answered while they still wait.
    assert!(waited < Duration::from_secs(2), "refused after {waited:?}");

    // Probes and metrics are never shed.
    assert_eq!(caller.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(caller.get("/readyz").await.status(), StatusCode::OK);
    let metrics = service.callers.metrics().await;
    assert!(
        metrics.contains("http_requests_shed_total 1\n"),
        "{metrics}"
    );

    service.gate.send(true).unwrap();
    for request in holding {
        assert_eq!(request.await.unwrap().status(), StatusCode::OK);
    }
    service.wait_in_flight(0).await;
    assert_eq!(caller.get("/held").await.status(), StatusCode::OK);
}
