use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use test_support::compat::unserved_original_routes;
use test_support::proxy::{creates_through_outage, TcpProxy};
use test_support::try_it_out::{own_route, try_every_operation};

use crate::helpers::{
    assert_json, assert_problem, spawn_app, start, test_config, DELIVERY_REPORT_TOKEN, PHONE,
};

#[tokio::test]
async fn health_and_readiness_need_no_token() {
    let app = spawn_app().await;
    let live = assert_json(app.anonymous().get("/healthz").await, StatusCode::OK).await;
    assert_eq!(live["status"], "ok");
    let ready = assert_json(app.anonymous().get("/readyz").await, StatusCode::OK).await;
    assert_eq!(ready["checks"]["dynamodb"], "ok");
}

#[tokio::test]
async fn losing_dynamodb_is_a_503_and_nothing_acknowledged_is_lost() {
    let issuer = test_support::oidc::OidcIssuer::shared().await;
    let sms = stand_ins::sms::SmsGateway::spawn("sandbox", "test-sms-key").await;
    let proxy =
        TcpProxy::start(test_support::emulator::endpoint().trim_start_matches("http://")).await;
    let config = test_config(&issuer, &sms);
    let app = start(config, issuer, sms, Some(proxy.url())).await;
    let customer = app.customer("Jane", PHONE).await;
    let before = app
        .order(customer["id"].as_str().unwrap(), "Rice", "10")
        .await;

    proxy.cut();
    let started = std::time::Instant::now();
    let refused = app
        .authorized()
        .post(
            "/api/v1/sales/orders",
            &serde_json::json!({"customer": customer["id"], "item": "Tea", "amount": "5"}),
        )
        .await;
    assert_problem(refused, StatusCode::SERVICE_UNAVAILABLE, None).await;
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "bounded by the AWS timeouts"
    );
    // The background readiness checks notice too (tests use no sustained period).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while app.anonymous().get("/readyz").await.status() != StatusCode::SERVICE_UNAVAILABLE {
        assert!(std::time::Instant::now() < deadline, "never unready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

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
    let order = app
        .wait_for_sms(
            before["id"].as_str().unwrap(),
            "sent",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(order["amount"], "10.00", "the acknowledged order survived");
    let orders = assert_json(
        app.authorized().get("/api/v1/sales/orders").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        orders["orders"].as_array().unwrap().len(),
        1,
        "the refused one was not written"
    );
}

#[tokio::test]
async fn metrics_cover_requests_and_the_sms_pipeline() {
    let app = spawn_app().await;
    app.authorized().get("/api/v1/sales/customers").await;
    let text = app.metrics().await;
    assert!(
        text.contains(
            r#"http_requests_total{method="GET",route="/api/v1/sales/customers",status="200"} 1"#
        ),
        "{text}"
    );
    for metric in [
        "sms_sent_total",
        "sms_failed_total",
        "sms_retried_total",
        "sms_outbox_backlog",
        "sms_send_duration_seconds",
        "process_resident_memory_bytes",
    ] {
        assert!(text.contains(metric), "{metric} missing");
    }
}

#[tokio::test]
async fn every_operation_has_its_own_id_and_try_it_out_reaches_its_own_route() {
    // Swagger UI executes an operation by its id: a shared id runs another route.
    let app = spawn_app().await;
    let customer = app.customer("Try It", PHONE).await;
    let id = customer["id"].as_str().unwrap();
    let values = [("id", id), ("token", DELIVERY_REPORT_TOKEN)];
    let problems = try_every_operation(&app.authorized(), &values, own_route).await;
    assert_eq!(problems, Vec::<String>::new());
}

#[tokio::test]
async fn the_spec_lists_every_route_and_marks_the_old_ones_deprecated() {
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
        unserved_original_routes("sales:", &spec),
        Vec::<String>::new()
    );
    let mut operations: Vec<String> = Vec::new();
    let mut deprecated: Vec<String> = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let name = format!("{} {path}", method.to_uppercase());
            if operation["deprecated"] == true {
                deprecated.push(name.clone());
            }
            operations.push(name);
        }
    }
    operations.sort();
    deprecated.sort();
    assert_eq!(
        operations,
        [
            "GET /ap1/v1/sales/customers/",
            "GET /ap1/v1/sales/orders/",
            "GET /api/v1/sales/customers",
            "GET /api/v1/sales/customers/{id}",
            "GET /api/v1/sales/orders",
            "GET /api/v1/sales/orders/{id}",
            "GET /api/v1/sales/sms/backlog",
            "GET /healthz",
            "GET /metrics",
            "GET /readyz",
            "POST /ap1/v1/sales/create-customer/",
            "POST /ap1/v1/sales/create-order/",
            "POST /api/v1/sales/customers",
            "POST /api/v1/sales/orders",
            "POST /api/v1/sales/sms/delivery-reports/{token}",
        ]
    );
    assert_eq!(
        deprecated,
        [
            "GET /ap1/v1/sales/customers/",
            "GET /ap1/v1/sales/orders/",
            "POST /ap1/v1/sales/create-customer/",
            "POST /ap1/v1/sales/create-order/",
        ]
    );
    assert_eq!(
        spec["components"]["securitySchemes"]["oidc"]["scheme"],
        "bearer"
    );
    let ui = app.anonymous().get("/swagger/").await;
    assert_eq!(ui.status(), StatusCode::OK);
}

#[tokio::test]
async fn losing_dynamodb_under_load_answers_503_and_loses_no_acknowledged_order() {
    let issuer = test_support::oidc::OidcIssuer::shared().await;
    let sms = stand_ins::sms::SmsGateway::spawn("sandbox", "test-sms-key").await;
    let proxy =
        TcpProxy::start(test_support::emulator::endpoint().trim_start_matches("http://")).await;
    let config = test_config(&issuer, &sms);
    let app = start(config, issuer, sms, Some(proxy.url())).await;
    let customer = app.customer("Jane", PHONE).await;
    let body = serde_json::json!({"customer": customer["id"], "item": "Load", "amount": "1.00"});

    let (client, url, token) = (
        app.client.clone(),
        app.url("/api/v1/sales/orders"),
        app.token.clone(),
    );
    let acknowledged = creates_through_outage(&proxy, move |_, _| {
        let (client, url, token, body) = (client.clone(), url.clone(), token.clone(), body.clone());
        async move {
            let response = client
                .post(&url)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let order: Value = response.json().await.unwrap();
            (status, order["id"].as_str().map(str::to_owned))
        }
    })
    .await;
    for id in &acknowledged {
        app.wait_for_sms(id, "sent", Duration::from_secs(15)).await;
    }
    let sent = app.sms.delivered().len();
    assert!(
        sent >= acknowledged.len(),
        "every acknowledged order's SMS went out: {sent}"
    );
}

#[tokio::test]
async fn a_live_username_with_the_sandbox_host_is_refused_at_start() {
    let issuer = test_support::oidc::OidcIssuer::shared().await;
    let sms = stand_ins::sms::SmsGateway::spawn("sandbox", "test-sms-key").await;
    let sdk = common::aws::load_sdk_config(Some(&test_support::emulator::endpoint())).await;
    for (username, host) in [
        ("shop", "https://api.sandbox.africastalking.com"),
        ("sandbox", "https://api.africastalking.com"),
    ] {
        let mut config = test_config(&issuer, &sms);
        config.sms.username = username.into();
        config.sms.base_url = host.parse().unwrap();
        let refused = sales_service::build(&config, &sdk)
            .await
            .err()
            .expect("a pair that cannot work stops the start");
        assert!(refused.to_string().contains("AFRICASTALKING"), "{refused}");
    }
}

#[test]
fn the_binary_explains_itself_and_what_a_start_needs() {
    test_support::command::assert_explains_itself(
        env!("CARGO_BIN_EXE_sales-service"),
        "sales-service",
        &["OIDC_ISSUER_URL is required", "AFRICASTALKING_API_KEY"],
    );
}
