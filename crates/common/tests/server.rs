//! The shared middleware every service gets from `common::server`, tested once here on a
//! bare app with one route, through `oneshot` (axum's `examples/testing`): no socket, no
//! service of the platform.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use common::config::CommonConfig;
use common::health::Health;
use common::metrics::Metrics;
use common::server::App;
use test_support::oneshot::{oneshot, Answer};
use utoipa::openapi::OpenApiBuilder;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// One documented route, so 405s have a route to miss.
#[utoipa::path(get, path = "/things", responses((status = 200, description = "Things")))]
async fn things() -> &'static str {
    "[]"
}

fn app() -> Router {
    App {
        api: OpenApiRouter::new().routes(routes!(things)),
        spec: OpenApiBuilder::new().build(),
        health: Health::new(Vec::new()),
        metrics: Arc::new(Metrics::new()),
    }
    .into_service(&CommonConfig::for_tests("unused-"))
    .router
}

async fn send(request: Request<Body>) -> Answer {
    oneshot(&app(), request).await
}

fn get(uri: &str) -> axum::http::request::Builder {
    Request::get(uri)
}

/// An RFC 9457 problem with `status`.
fn assert_problem(answer: &Answer, status: StatusCode) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "application/problem+json",
        "{}",
        answer.body
    );
    assert_eq!(answer.json()["status"], status.as_u16());
}

#[tokio::test]
async fn request_ids_are_generated_or_echoed() {
    let generated = send(get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(generated.headers["x-request-id"].len(), 36, "a UUID");
    let echoed = send(
        get("/healthz")
            .header("x-request-id", "trace-me-123")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(echoed.headers["x-request-id"], "trace-me-123");
}

/// Security review F6: a caller's id was echoed and logged verbatim (8000 bytes, or text
/// that forged fields in a log line). Such ids are replaced by a new one.
#[tokio::test]
async fn request_ids_that_could_forge_log_lines_are_replaced() {
    for forged in [
        "pt1}: status=200 method=DELETE path=/user/admin by=admin".to_owned(),
        "x".repeat(8000),
        "a b".to_owned(),
    ] {
        let answer = send(
            get("/healthz")
                .header("x-request-id", &forged)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        let id = answer.headers["x-request-id"].to_str().unwrap();
        assert_ne!(id, forged);
        assert_eq!(id.len(), 36, "a new UUID: {id}");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let unknown = send(get("/nope").body(Body::empty()).unwrap()).await;
    assert_problem(&unknown, StatusCode::NOT_FOUND);
    let wrong_method = send(Request::patch("/things").body(Body::empty()).unwrap()).await;
    assert_problem(&wrong_method, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn oversized_request_heads_are_refused_cleanly() {
    let huge_header = send(
        get("/healthz")
            .header("x-padding", "a".repeat(17 * 1024))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_problem(&huge_header, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);

    let long_uri = send(
        get(&format!("/things?next={}", "a".repeat(9 * 1024)))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_problem(&long_uri, StatusCode::URI_TOO_LONG);
}
