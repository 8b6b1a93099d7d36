use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_json, assert_problem, spawn_app, PHONE};

#[tokio::test]
async fn a_retried_order_returns_the_first_result_and_sends_one_sms() {
    let app = spawn_app().await;
    let customer = app.customer("Jane", PHONE).await;
    let body = json!({"customer": customer["id"], "item": "Rice", "amount": "100"});
    let first = app
        .authorized()
        .header("Idempotency-Key", "order-key-1")
        .post("/api/v1/sales/orders", &body)
        .await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = assert_json(first, StatusCode::CREATED).await;

    // The same request again, even written differently ("100.00" is the same amount).
    let again = json!({"customer": customer["id"], "item": "Rice", "amount": "100.00"});
    let retry = app
        .authorized()
        .header("Idempotency-Key", "order-key-1")
        .post("/api/v1/sales/orders", &again)
        .await;
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(
        retry.headers()["location"],
        format!("/api/v1/sales/orders/{}", first["id"].as_str().unwrap())
    );
    let retry = assert_json(retry, StatusCode::CREATED).await;
    assert_eq!(retry, first, "the first result, unchanged");

    let orders = assert_json(
        app.authorized().get("/api/v1/sales/orders").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(orders["orders"].as_array().unwrap().len(), 1, "one order");
    app.wait_for_sms(
        first["id"].as_str().unwrap(),
        "sent",
        Duration::from_secs(10),
    )
    .await;
    app.wait_until_quiet(Duration::from_secs(30)).await;
    assert_eq!(app.sms.delivered().len(), 1, "one SMS");
}

#[tokio::test]
async fn a_key_reused_for_a_different_request_is_refused() {
    let app = spawn_app().await;
    let customer = app.customer("Jane", PHONE).await;
    let body = json!({"customer": customer["id"], "item": "Rice", "amount": "100"});
    let first = app
        .authorized()
        .header("Idempotency-Key", "key-2")
        .post("/api/v1/sales/orders", &body)
        .await;
    assert_json(first, StatusCode::CREATED).await;
    let other = json!({"customer": customer["id"], "item": "Rice", "amount": "200"});
    let reused = app
        .authorized()
        .header("Idempotency-Key", "key-2")
        .post("/api/v1/sales/orders", &other)
        .await;
    assert_problem(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("Idempotency-Key"),
    )
    .await;

    // A key is per operation: the same key on customers is a new request.
    let customer = app
        .authorized()
        .header("Idempotency-Key", "key-2")
        .post(
            "/api/v1/sales/customers",
            &json!({"name": "John", "phone_number": "+254711000009"}),
        )
        .await;
    assert_json(customer, StatusCode::CREATED).await;

    let orders = assert_json(
        app.authorized().get("/api/v1/sales/orders").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(orders["orders"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_customer() {
    let app = spawn_app().await;
    let body = json!({"name": "Jane", "phone_number": PHONE});
    let attempts = (0..8).map(|_| {
        app.authorized()
            .header("Idempotency-Key", "race-key")
            .post("/api/v1/sales/customers", &body)
    });
    let mut ids = Vec::new();
    for response in futures::future::join_all(attempts).await {
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        // Every attempt sees the one result, or (while the winner commits) a 409 to retry.
        match status {
            StatusCode::CREATED => ids.push(body["id"].clone()),
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let page = assert_json(
        app.authorized().get("/api/v1/sales/customers").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        page["customers"].as_array().unwrap().len(),
        1,
        "one customer"
    );
}

#[tokio::test]
async fn malformed_keys_are_rejected() {
    let app = spawn_app().await;
    let body = json!({"name": "Jane", "phone_number": PHONE});
    let long = "k".repeat(256);
    for key in ["", long.as_str(), "with space"] {
        let response = app
            .authorized()
            .header("Idempotency-Key", key)
            .post("/api/v1/sales/customers", &body)
            .await;
        assert_problem(response, StatusCode::BAD_REQUEST, Some("Idempotency-Key")).await;
    }
}
