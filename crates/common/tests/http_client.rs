//! Issue 23 point 5, outbound: `common::http_client` never follows a redirect and reads an
//! upstream's body only up to the caller's cap (security review I4: the default client
//! followed 10 redirects and bodies were read whole).
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use common::http_client::{client, read_capped, BodyError};

const MIB: usize = 1024 * 1024;

/// An upstream: `/moved` redirects to `/internal` (which counts its callers), `/big`
/// answers 2 MiB with a length, `/stream` 2 MiB chunked without one, `/small` 5 bytes.
async fn upstream() -> (String, Arc<AtomicUsize>) {
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    let chunks = || {
        futures::stream::iter(
            (0..32).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 64 * 1024]))),
        )
    };
    let app = Router::new()
        .route(
            "/moved",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/internal")]) }),
        )
        .route(
            "/internal",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { "secret" }
            }),
        )
        .route(
            "/big",
            get(|| async { vec![b'x'; 2 * MIB].into_response() }),
        )
        .route(
            "/stream",
            get(move || async move { Body::from_stream(chunks()) }),
        )
        .route("/small", get(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, reached)
}

#[tokio::test]
async fn redirects_are_answers_never_followed() {
    let (upstream, reached) = upstream().await;
    let answer = client(Duration::from_secs(5))
        .get(format!("{upstream}/moved"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FOUND);
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "the target was not called"
    );
}

#[tokio::test]
async fn bodies_are_read_up_to_the_cap_only() {
    let (upstream, _) = upstream().await;
    let http = client(Duration::from_secs(5));
    let get = |path: &str| http.get(format!("{upstream}{path}")).send();
    for path in ["/big", "/stream"] {
        let answer = get(path).await.unwrap();
        let refused = read_capped(answer, MIB).await;
        assert!(
            matches!(refused, Err(BodyError::TooLarge { limit }) if limit == MIB),
            "{path}: {refused:?}"
        );
    }
    let small = read_capped(get("/small").await.unwrap(), MIB)
        .await
        .unwrap();
    assert_eq!(small.as_ref(), b"hello");
    let exact = read_capped(get("/big").await.unwrap(), 2 * MIB)
        .await
        .unwrap();
    assert_eq!(exact.len(), 2 * MIB);
}
