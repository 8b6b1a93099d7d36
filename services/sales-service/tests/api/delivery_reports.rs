//! Africa's Talking's delivery reports, end to end: the stand-in posts them to the
//! service's callback URL as AT does, and the orders show the final state.
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use stand_ins::sms::Report;

use crate::helpers::{assert_json, assert_problem, spawn_app, TestApp, DELIVERY_REPORT_TOKEN};
use crate::sms::{counter, order_for_new_customer};

const WAIT: Duration = Duration::from_secs(30);

fn report_path(token: &str) -> String {
    format!("/api/v1/sales/sms/delivery-reports/{token}")
}

/// Posts a report as Africa's Talking does: a form to the callback URL.
async fn post_report(app: &TestApp, token: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url(&report_path(token)))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The value of `sms_delivery_reports_total` for `result`.
fn reports(metrics: &str, result: &str) -> u64 {
    counter(
        metrics,
        &format!("sms_delivery_reports_total{{result=\"{result}\"}}"),
    )
}

/// The message id the provider answered for the SMS to `phone`.
fn message_id(app: &TestApp, phone: &str) -> String {
    app.sms
        .delivered()
        .into_iter()
        .find(|sms| sms.to == phone)
        .expect("the SMS was accepted")
        .message_id
}

#[tokio::test]
async fn one_sms_is_delivered_another_fails_with_the_reason_and_a_replay_changes_nothing() {
    let app = spawn_app().await;
    app.sms.send_delivery_reports(
        &app.url(&report_path(DELIVERY_REPORT_TOKEN)),
        Duration::from_millis(50),
    );
    let absent = "+254711000002";
    app.sms.report_to(
        absent,
        vec![
            Report::interim("Buffered"),
            Report::failed("UserDoesNotExist"),
        ],
    );
    let delivered = order_for_new_customer(&app, "+254711000001").await;
    let failed = order_for_new_customer(&app, absent).await;

    let order = app.wait_for_sms(&delivered, "delivered", WAIT).await;
    assert!(order["sms"]["reason"].is_null(), "{order}");
    let (sent_at, updated_at) = (&order["sms"]["sent_at"], &order["sms"]["updated_at"]);
    assert!(updated_at.as_str() > sent_at.as_str(), "{order}");
    let order = app.wait_for_sms(&failed, "failed", WAIT).await;
    assert_eq!(
        order["sms"]["reason"], "not delivered: Failed (UserDoesNotExist)",
        "{order}"
    );
    assert_eq!(
        order["sms"]["attempts"], 1,
        "the network's answer, not a retry"
    );

    // Africa's Talking sends the final report again: 200, nothing changes.
    let before: Vec<Value> = vec![
        app.order_now(&delivered).await,
        app.order_now(&failed).await,
    ];
    for phone in ["+254711000001", absent] {
        let answer = app.sms.repost_report(&message_id(&app, phone)).await;
        assert_eq!(answer, Some(200));
    }
    let after: Vec<Value> = vec![
        app.order_now(&delivered).await,
        app.order_now(&failed).await,
    ];
    assert_eq!(after, before, "a replayed report changes nothing");

    let metrics = app.metrics().await;
    for (result, count) in [
        ("delivered", 1),
        ("failed", 1),
        ("on_its_way", 1),
        ("replayed", 2),
    ] {
        assert_eq!(reports(&metrics, result), count, "{result}: {metrics}");
    }
}

#[tokio::test]
async fn reports_with_another_token_an_unknown_id_or_bad_fields_change_nothing() {
    let app = spawn_app().await;
    let phone = "+254711000001";
    let id = order_for_new_customer(&app, phone).await;
    app.wait_for_sms(&id, "sent", WAIT).await;
    let message = message_id(&app, phone);
    let success = [
        ("id", message.as_str()),
        ("status", "Success"),
        ("phoneNumber", phone),
    ];

    for token in [
        "wrong-token-0123456789abcdef0123456789",
        &DELIVERY_REPORT_TOKEN[1..],
        "",
    ] {
        let response = post_report(&app, token, &success).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{token:?}");
    }
    let unknown = [("id", "ATXid_not-one-of-ours"), ("status", "Success")];
    let response = post_report(&app, DELIVERY_REPORT_TOKEN, &unknown).await;
    assert_eq!(
        assert_json(response, StatusCode::OK).await["result"],
        "unknown"
    );
    for (form, field) in [
        (vec![("id", message.as_str())], "status"),
        (vec![("status", "Success")], "id"),
        (
            vec![("id", message.as_str()), ("status", "Fail ed")],
            "status",
        ),
        (
            vec![
                ("id", message.as_str()),
                ("status", "Failed"),
                ("failureReason", "<b>x</b>"),
            ],
            "failureReason",
        ),
    ] {
        let response = post_report(&app, DELIVERY_REPORT_TOKEN, &form).await;
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some(field)).await;
    }
    assert_eq!(app.order_now(&id).await["sms"]["status"], "sent");
    assert_eq!(reports(&app.metrics().await, "unknown"), 1);

    let response = post_report(&app, DELIVERY_REPORT_TOKEN, &success).await;
    assert_eq!(
        assert_json(response, StatusCode::OK).await["result"],
        "delivered"
    );
    assert_eq!(app.order_now(&id).await["sms"]["status"], "delivered");
}
