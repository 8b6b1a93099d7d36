//! Graceful shutdown of the real binary: SIGTERM under steady load, the way Kubernetes
//! stops a pod. Readiness turns 503 at once while the listener keeps serving for the drain
//! period (the load balancer stops sending), then new connections are refused, in-flight
//! requests finish, and the process exits 0. No request fails.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::Value;

mod process;

/// A 1x1 PNG, sent in two halves.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];
const DRAIN: Duration = Duration::from_secs(1);

#[tokio::test]
async fn sigterm_under_load_drains_finishes_in_flight_requests_and_fails_none() {
    let drain = DRAIN.as_secs().to_string();
    let mut service = process::start(&[
        ("SHUTDOWN_DRAIN_SECONDS", &drain),
        ("SHUTDOWN_GRACE_SECONDS", "10"),
    ])
    .await;
    let base = service.base.clone();
    let address = base.trim_start_matches("http://").to_owned();
    let client = reqwest::Client::new();
    let token = service
        .user_with_token("ada", "correct horse battery")
        .await;

    // Steady load while the load balancer routes to this pod: (answered at, status).
    let routed = Arc::new(AtomicBool::new(true));
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let (client, url, token, routed) = (
                client.clone(),
                format!("{base}/user/ada"),
                token.clone(),
                routed.clone(),
            );
            tokio::spawn(async move {
                let mut answers = Vec::new();
                while routed.load(Ordering::SeqCst) {
                    let outcome = client.get(&url).bearer_auth(&token).send().await;
                    answers.push((
                        Instant::now(),
                        outcome.map(|r| r.status()).map_err(|e| e.to_string()),
                    ));
                }
                answers
            })
        })
        .collect();

    // An upload in flight across the whole shutdown: its second half comes 2 s after SIGTERM.
    let sigterm_at = Instant::now() + Duration::from_millis(300);
    let body = futures::stream::unfold(0, move |part| async move {
        match part {
            0 => Some((Ok::<_, std::io::Error>(Bytes::from_static(&PNG[..30])), 1)),
            1 => {
                tokio::time::sleep_until((sigterm_at + Duration::from_secs(2)).into()).await;
                Some((Ok(Bytes::from_static(&PNG[30..])), 2))
            }
            _ => None,
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

    tokio::time::sleep_until(sigterm_at.into()).await;
    let pid = service.pid().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());

    // The load balancer notices readiness turning false, then stops routing (deregistration
    // takes a moment: requests keep coming meanwhile, and must still be served).
    let not_ready_at = loop {
        assert!(
            sigterm_at.elapsed() < DRAIN,
            "readiness turns false at once on SIGTERM"
        );
        let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
        if ready.status() == StatusCode::SERVICE_UNAVAILABLE {
            let body: Value = ready.json().await.unwrap();
            assert_eq!(body["status"], "draining");
            break Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    routed.store(false, Ordering::SeqCst);

    let mut served = 0;
    let mut served_while_draining = 0;
    for worker in workers {
        for (at, outcome) in worker.await.unwrap() {
            assert_eq!(
                outcome,
                Ok(StatusCode::OK),
                "no request fails during shutdown"
            );
            served += 1;
            if at > not_ready_at {
                served_while_draining += 1;
            }
        }
    }
    assert!(served > 20, "the load was steady: {served}");
    assert!(
        served_while_draining > 0,
        "the listener kept serving after readiness turned false"
    );

    // Past the drain period the listener is closed, while the upload is still in flight.
    tokio::time::sleep_until((sigterm_at + DRAIN + Duration::from_millis(400)).into()).await;
    assert!(
        tokio::net::TcpStream::connect(&address).await.is_err(),
        "new connections are refused after the drain"
    );
    let uploaded = upload
        .await
        .unwrap()
        .expect("the in-flight upload was answered");
    assert_eq!(
        uploaded.status(),
        StatusCode::OK,
        "the in-flight request finished"
    );

    let exit = tokio::time::timeout(Duration::from_secs(15), service.child.wait())
        .await
        .expect("the process exits once in-flight requests are done")
        .unwrap();
    assert!(exit.success(), "exit status {exit}");
}
