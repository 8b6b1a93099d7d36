//! Graceful shutdown of the real binary: SIGTERM under steady load, the way Kubernetes
//! stops a pod. Readiness turns 503 at once while the listener keeps serving for the drain
//! period (the load balancer stops sending), then new connections are refused, in-flight
//! requests finish, and the process exits 0. No request fails.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::Notify;

mod process;

/// A 1x1 PNG, sent in two halves.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];
/// Long enough for the load balancer to notice readiness turning false and stop routing
/// (here: the workers seeing one answer after it) on a saturated machine.
const DRAIN: Duration = Duration::from_secs(3);
/// For conditions that only load can delay.
const WAIT: Duration = Duration::from_secs(30);

/// Every answer the load got: when, and its status (or the transport error).
type Answers = Arc<Mutex<Vec<(Instant, Result<StatusCode, String>)>>>;

/// The service's `http_requests_in_flight` gauge (requests inside its handlers).
async fn in_flight(client: &reqwest::Client, base: &str) -> Option<i64> {
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("http_requests_in_flight "))
        .and_then(|value| value.trim().parse().ok())
}

// Every step waits for what it needs (the upload inside the handler, a steady load, an
// answer served after readiness turned false, the listener closed) instead of sleeping a
// fixed time and counting what happened meanwhile: a saturated machine only makes it slower.
#[tokio::test]
async fn sigterm_under_load_drains_finishes_in_flight_requests_and_fails_none() {
    let drain = DRAIN.as_secs().to_string();
    let mut service = process::start(&[
        ("SHUTDOWN_DRAIN_SECONDS", &drain),
        ("SHUTDOWN_GRACE_SECONDS", "20"),
    ])
    .await;
    let base = service.base.clone();
    let address = base.trim_start_matches("http://").to_owned();
    let client = reqwest::Client::new();
    let token = service
        .user_with_token("ada", "correct horse battery")
        .await;

    // An upload in flight across the whole shutdown: its second half is sent only once
    // new connections are refused.
    let rest_of_upload = Arc::new(Notify::new());
    let release = rest_of_upload.clone();
    let body = futures::stream::unfold(0, move |part| {
        let release = release.clone();
        async move {
            match part {
                0 => Some((Ok::<_, std::io::Error>(Bytes::from_static(&PNG[..30])), 1)),
                1 => {
                    release.notified().await;
                    Some((Ok(Bytes::from_static(&PNG[30..])), 2))
                }
                _ => None,
            }
        }
    });
    let upload = tokio::spawn(
        client
            .put(format!("{base}/user/ada/avatar"))
            .bearer_auth(&token)
            .header("content-type", "image/png")
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    );
    test_support::eventually(WAIT, "the upload is inside its handler", || {
        let (client, base) = (client.clone(), base.clone());
        async move { in_flight(&client, &base).await == Some(1) }
    })
    .await;

    // Steady load while the load balancer routes to this pod.
    let routed = Arc::new(AtomicBool::new(true));
    let answers: Answers = Arc::default();
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let (client, url, token, routed, answers) = (
                client.clone(),
                format!("{base}/user/ada"),
                token.clone(),
                routed.clone(),
                answers.clone(),
            );
            tokio::spawn(async move {
                while routed.load(Ordering::SeqCst) {
                    let outcome = client.get(&url).bearer_auth(&token).send().await;
                    let outcome = outcome.map(|r| r.status()).map_err(|e| e.to_string());
                    answers.lock().unwrap().push((Instant::now(), outcome));
                }
            })
        })
        .collect();
    let answered = |answers: &Answers, after: Option<Instant>| {
        let answers = answers.lock().unwrap();
        answers
            .iter()
            .filter(|(at, _)| after.is_none_or(|after| *at > after))
            .count()
    };
    test_support::eventually(WAIT, "the load is steady", || {
        let steady = answered(&answers, None) >= 20;
        async move { steady }
    })
    .await;

    let sigterm_at = Instant::now();
    let pid = service.pid().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());

    // The load balancer notices readiness turning false, then stops routing (deregistration
    // takes a moment: requests keep coming meanwhile, and must still be served).
    let not_ready_at = test_support::eventually(WAIT, "readiness turns false", || {
        let ready = client.get(format!("{base}/readyz")).send();
        async move {
            let ready = ready.await.ok()?;
            if ready.status() != StatusCode::SERVICE_UNAVAILABLE {
                return None;
            }
            let body: Value = ready.json().await.ok()?;
            assert_eq!(body["status"], "draining");
            Some(Instant::now())
        }
    })
    .await;
    assert!(
        not_ready_at - sigterm_at < DRAIN,
        "readiness turns false within the drain period, while the listener still serves"
    );
    test_support::eventually(
        WAIT,
        "a request is served after readiness turned false",
        || {
            let served = answered(&answers, Some(not_ready_at)) > 0;
            async move { served }
        },
    )
    .await;
    routed.store(false, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }
    for (_, outcome) in answers.lock().unwrap().iter() {
        assert_eq!(
            outcome,
            &Ok(StatusCode::OK),
            "no request fails during shutdown"
        );
    }

    // Past the drain period the listener is closed, while the upload is still in flight.
    test_support::eventually(WAIT, "new connections are refused after the drain", || {
        let connect = tokio::net::TcpStream::connect(address.clone());
        async move { connect.await.is_err() }
    })
    .await;
    assert!(
        sigterm_at.elapsed() >= DRAIN,
        "the listener kept serving for the whole drain period"
    );
    assert!(!upload.is_finished(), "the upload is still in flight");
    rest_of_upload.notify_one();
    let uploaded = upload
        .await
        .unwrap()
        .expect("the in-flight upload was answered");
    assert_eq!(
        uploaded.status(),
        StatusCode::OK,
        "the in-flight request finished"
    );

    let exit = tokio::time::timeout(WAIT, service.child.wait())
        .await
        .expect("the process exits once in-flight requests are done")
        .unwrap();
    assert!(exit.success(), "exit status {exit}");
}
