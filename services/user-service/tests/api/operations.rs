use std::time::Duration;

use reqwest::StatusCode;
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
    let ready: Value = app.anonymous().get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["status"], "ready");

    proxy.cut();
    // The background checks notice (tests use no sustained period); poll for it.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let body: Value = loop {
        let response = app.anonymous().get("/readyz").await;
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            break response.json().await.unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "never unready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(body["status"], "unavailable");
    assert_ne!(body["checks"]["dynamodb"], "ok");
    // Requests that need the store say so with a 503, not a 500 or a hang.
    let started = std::time::Instant::now();
    let response = app.login("anyone", "any password").await;
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, None).await;
    assert!(started.elapsed() < Duration::from_secs(12));

    proxy.restore();
    let mut recovered = false;
    // Up to 30 s: a busy machine takes a while to reconnect.
    for _ in 0..300 {
        if app.anonymous().get("/readyz").await.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "ready again without a restart");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let app = spawn_app().await;
    let token = app.user_with_token("gus").await;
    app.as_user(&token).get("/user/gus").await;
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
        try_every_operation(&app.as_user(&token), &[("username", "tryitout")], own_route).await;
    assert_eq!(problems, Vec::<String>::new());
}

#[tokio::test]
async fn request_ids_are_generated_or_echoed() {
    let app = spawn_app().await;
    let generated = app.anonymous().get("/healthz").await;
    assert_eq!(generated.headers()["x-request-id"].len(), 36, "a UUID");
    let echoed = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-123");
}

/// Security review F6: a caller's id was echoed and logged verbatim (8000 bytes, or text
/// that forged fields in a log line). Such ids are replaced by a new one.
#[tokio::test]
async fn request_ids_that_could_forge_log_lines_are_replaced() {
    let app = spawn_app().await;
    for forged in [
        "pt1}: status=200 method=DELETE path=/user/admin by=admin".to_owned(),
        "x".repeat(8000),
        "a b".to_owned(),
    ] {
        let answer = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", &forged)
            .send()
            .await
            .unwrap();
        let id = answer.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(id, forged);
        assert_eq!(id.len(), 36, "a new UUID: {id}");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = spawn_app().await;
    assert_problem(
        app.anonymous().get("/nope").await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    let response = app.client.patch(app.url("/users")).send().await.unwrap();
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED, None).await;
}

#[tokio::test]
async fn losing_dynamodb_under_load_answers_503_and_loses_no_acknowledged_sign_up() {
    let emulator = test_support::emulator::endpoint();
    let proxy = TcpProxy::start(emulator.trim_start_matches("http://")).await;
    let app = start(test_config(), Some(proxy.url())).await;
    let (client, url) = (app.client.clone(), app.url("/user"));
    let acknowledged = creates_through_outage(&proxy, move |worker, n| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let username = format!("load-{worker}-{n}");
            let status = client
                .post(&url)
                .json(
                    &serde_json::json!({"username": username, "password": "correct horse battery"}),
                )
                .send()
                .await
                .unwrap()
                .status();
            (status, Some(username))
        }
    })
    .await;
    for username in &acknowledged {
        assert!(
            app.stored_user(username).await.is_some(),
            "{username} was acknowledged but is gone"
        );
    }
}

#[tokio::test]
async fn oversized_request_heads_and_deep_json_are_refused_cleanly() {
    let app = spawn_app().await;
    let huge_header = app
        .client
        .get(app.url("/healthz"))
        .header("x-padding", "a".repeat(17 * 1024))
        .send()
        .await
        .unwrap();
    assert_problem(
        huge_header,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        None,
    )
    .await;

    let long_uri = app
        .anonymous()
        .get(&format!("/users?next={}", "a".repeat(9 * 1024)))
        .await;
    assert_problem(long_uri, StatusCode::URI_TOO_LONG, None).await;

    // 10,000 nested arrays: refused by the parser's depth limit, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let response = app
        .client
        .post(app.url("/user"))
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
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
        let response = app.as_user(&token).get("/user/ada").await;
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
