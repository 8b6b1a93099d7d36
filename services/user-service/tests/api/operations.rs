use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use test_support::compat::unserved_original_routes;
use test_support::proxy::{creates_through_outage, TcpProxy};
use test_support::try_it_out::{own_route, try_every_operation};

use crate::helpers::{assert_problem, spawn_app, start, test_config};

#[tokio::test]
async fn liveness_is_always_ok() {
    let app = spawn_app().await;
    let response = app.anonymous().get("/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "ok");
}

#[tokio::test]
async fn readiness_follows_the_aws_endpoint_down_and_back_up() {
    let emulator = test_support::emulator::endpoint();
    let proxy = TcpProxy::start(emulator.trim_start_matches("http://")).await;
    let app = start(test_config(), Some(proxy.url())).await;
    let ready = app.wait_until_ready(StatusCode::OK).await;
    assert_eq!(ready["status"], "ready");

    proxy.cut();
    // The background checks notice (tests use no sustained period).
    let body = app.wait_until_ready(StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["status"], "unavailable");
    assert_ne!(body["checks"]["dynamodb"], "ok");
    // Requests that need the store say so with a 503, not a 500 or a hang.
    let started = std::time::Instant::now();
    let response = app.login("anyone", "any password").await;
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, None).await;
    assert!(started.elapsed() < Duration::from_secs(12));

    proxy.restore();
    // Ready again without a restart.
    app.wait_until_ready(StatusCode::OK).await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let app = spawn_app().await;
    let token = app.user_with_token("gus").await;
    app.bearer(&token).get("/user/gus").await;
    app.anonymous().get("/no/such/route").await;
    let response = app.anonymous().get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            r#"http_requests_total{method="GET",route="/user/{username}",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"http_requests_total{method="POST",route="/user",status="201"} 1"#));
    assert!(text.contains(r#"route="unmatched",status="404""#));
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains("process_resident_memory_bytes"));
}

#[tokio::test]
async fn the_spec_lists_every_route_and_swagger_ui_is_served() {
    let app = spawn_app().await;
    let spec: Value = app
        .anonymous()
        .get("/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    // The README's compatibility table: every original route is served.
    assert_eq!(
        unserved_original_routes("users:", &spec),
        Vec::<String>::new()
    );
    let mut operations: Vec<String> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    operations.sort();
    assert_eq!(
        operations,
        vec![
            "DELETE /auth",
            "DELETE /user/{username}",
            "GET /",
            "GET /admin/accounts",
            "GET /healthz",
            "GET /metrics",
            "GET /readyz",
            "GET /user/{username}",
            "GET /users",
            "POST /auth",
            "POST /user",
            "PUT /user/{username}",
            "PUT /user/{username}/avatar",
        ]
    );
    assert!(spec["components"]["securitySchemes"]["session"].is_object());
    let ui = app.anonymous().get("/swagger/").await;
    assert_eq!(ui.status(), StatusCode::OK);
    assert!(ui.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn every_operation_has_its_own_id_and_try_it_out_reaches_its_own_route() {
    // Swagger UI executes an operation by its id: a shared id runs another route.
    let app = spawn_app().await;
    let token = app.user_with_token("tryitout").await;
    let problems =
        try_every_operation(&app.bearer(&token), &[("username", "tryitout")], own_route).await;
    assert_eq!(problems, Vec::<String>::new());
}

#[tokio::test]
async fn losing_dynamodb_under_load_answers_503_and_loses_no_acknowledged_sign_up() {
    let emulator = test_support::emulator::endpoint();
    let proxy = TcpProxy::start(emulator.trim_start_matches("http://")).await;
    let app = start(test_config(), Some(proxy.url())).await;
    let caller = app.anonymous();
    let acknowledged = creates_through_outage(&proxy, move |worker, n| {
        let username = format!("load-{worker}-{n}");
        let sent = caller.post(
            "/user",
            &serde_json::json!({"username": username, "password": "correct horse battery"}),
        );
        async move { (sent.await.status(), Some(username)) }
    })
    .await;
    for username in &acknowledged {
        assert!(
            app.stored_user(username).await.is_some(),
            "{username} was acknowledged but is gone"
        );
    }
}

/// The request id, 404/405 and head-size limits are `common::server`'s, tested once in
/// crates/common/tests/server.rs; the body's depth is the service's JSON.
#[tokio::test]
async fn deep_json_is_refused_cleanly() {
    let app = spawn_app().await;
    // 10,000 nested arrays: refused by the parser's depth limit, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let response = app
        .anonymous()
        .send(Method::POST, "/user", "application/json", deep)
        .await;
    assert_problem(response, StatusCode::BAD_REQUEST, None).await;
    assert_eq!(
        app.anonymous().get("/healthz").await.status(),
        StatusCode::OK,
        "still serving"
    );
}

/// DynamoDB keeps connections open and the SDK must reuse them: a new TCP (and, on AWS,
/// TLS) connection per call would cost every request a handshake. The emulator keeps
/// connections alive as AWS does (scripts/emulator_server.py).
#[tokio::test]
async fn aws_connections_are_reused_across_requests() {
    let emulator = test_support::emulator::endpoint();
    let proxy = TcpProxy::start(emulator.trim_start_matches("http://")).await;
    let app = start(test_config(), Some(proxy.url())).await;
    let token = app.user_with_token("ada").await;
    let opened_before = proxy.accepted();
    for _ in 0..40 {
        let response = app.bearer(&token).get("/user/ada").await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let opened = proxy.accepted() - opened_before;
    // 40 requests, one at a time, each reading the store: the pool's idle connection
    // serves them all (a couple more for background readiness checks overlapping one).
    assert!(opened <= 3, "40 reads opened {opened} connections");
}

#[test]
fn the_binary_explains_itself_and_what_a_start_needs() {
    test_support::command::assert_explains_itself(
        env!("CARGO_BIN_EXE_user-service"),
        "user-service",
        &["AVATAR_BUCKET is required"],
    );
}
