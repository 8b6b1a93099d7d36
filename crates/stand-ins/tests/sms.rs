//! The SMS stand-in's contract, seen by an HTTP client: Africa's Talking's request and
//! response shapes, auth failures, and each fault knob.
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use stand_ins::sms::SmsGateway;

const USERNAME: &str = "sandbox";
const API_KEY: &str = "test-api-key";

async fn gateway() -> SmsGateway {
    SmsGateway::spawn(USERNAME, API_KEY).await
}

/// `POST /version1/messaging` as Africa's Talking's clients send it, with `api_key`.
async fn send_with(
    client: &reqwest::Client,
    gateway: &SmsGateway,
    api_key: &str,
    form: &[(&str, &str)],
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{}/version1/messaging", gateway.url))
        .header("apiKey", api_key)
        .header("Accept", "application/json")
        .form(form)
        .send()
        .await
}

async fn send(gateway: &SmsGateway, form: &[(&str, &str)]) -> reqwest::Response {
    send_with(&reqwest::Client::new(), gateway, API_KEY, form)
        .await
        .expect("the gateway answers")
}

fn order_sms(to: &str) -> Vec<(&str, &str)> {
    vec![
        ("username", USERNAME),
        ("to", to),
        ("message", "Order 42 confirmed"),
    ]
}

/// Sends an SMS to `to` with a client that gives up after 100 ms (before the answer).
async fn give_up_on(gateway: &SmsGateway, to: &str) {
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let gave_up = send_with(&impatient, gateway, API_KEY, &order_sms(to)).await;
    assert!(gave_up.unwrap_err().is_timeout());
}

#[tokio::test]
async fn a_message_to_one_number_is_sent_and_answered_as_africas_talking_does() {
    let gateway = gateway().await;
    let mut form = order_sms("+254711000111");
    form.push(("from", "ACME"));
    let response = send(&gateway, &form).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let recipient = &body["SMSMessageData"]["Recipients"][0];
    let message_id = recipient["messageId"].as_str().unwrap().to_owned();
    assert!(message_id.starts_with("ATXid_"), "{message_id}");
    assert_eq!(
        body,
        json!({"SMSMessageData": {
            "Message": "Sent to 1/1 Total Cost: KES 0.8000",
            "Recipients": [{"statusCode": 101, "number": "+254711000111", "status": "Success",
                            "cost": "KES 0.8000", "messageId": message_id}],
        }})
    );

    let delivered = gateway.delivered();
    assert_eq!(delivered.len(), 1);
    let sms = &delivered[0];
    assert_eq!(
        (sms.to.as_str(), sms.message.as_str(), sms.from.as_deref()),
        ("+254711000111", "Order 42 confirmed", Some("ACME"))
    );
    assert_eq!(
        (sms.username.as_str(), sms.message_id.as_str()),
        (USERNAME, message_id.as_str())
    );
    assert_eq!(gateway.requests(), 1);

    let listed: Value = reqwest::get(format!("{}/__stand-in/messages", gateway.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["to"], "+254711000111");
    assert_eq!(listed[0]["message_id"], message_id.as_str());
    assert_eq!(
        gateway.requests(),
        1,
        "the read-only view is not an API request"
    );
}

#[tokio::test]
async fn each_recipient_gets_its_own_status_and_only_successes_are_delivered() {
    let gateway = gateway().await;
    gateway.reject_number("+254722000222", 406);
    let response = send(
        &gateway,
        &order_sms("+254711000111, 0733000333,+254722000222"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let data = &body["SMSMessageData"];
    assert_eq!(data["Message"], "Sent to 1/3 Total Cost: KES 0.8000");
    let statuses: Vec<(i64, &str, &str)> = data["Recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["statusCode"].as_i64().unwrap(),
                r["number"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (101, "+254711000111", "Success"),
            (403, "0733000333", "InvalidPhoneNumber"),
            (406, "+254722000222", "UserInBlacklist"),
        ]
    );
    assert_eq!(data["Recipients"][1]["cost"], "0");
    assert_eq!(data["Recipients"][1]["messageId"], "None");
    let delivered: Vec<String> = gateway.delivered().into_iter().map(|sms| sms.to).collect();
    assert_eq!(delivered, ["+254711000111"]);
}

#[tokio::test]
async fn bad_credentials_are_401_and_missing_fields_400() {
    let gateway = gateway().await;
    let client = reqwest::Client::new();
    let wrong_key = send_with(&client, &gateway, "nope", &order_sms("+254711000111"))
        .await
        .unwrap();
    assert_eq!(wrong_key.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong_key.text().await.unwrap(),
        "The supplied authentication is invalid"
    );
    let no_key = client
        .post(format!("{}/version1/messaging", gateway.url))
        .header("Accept", "application/json")
        .form(&order_sms("+254711000111"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);
    let wrong_user = send(
        &gateway,
        &[
            ("username", "other"),
            ("to", "+254711000111"),
            ("message", "hi"),
        ],
    )
    .await;
    assert_eq!(wrong_user.status(), StatusCode::UNAUTHORIZED);

    let no_to = send(&gateway, &[("username", USERNAME), ("message", "hi")]).await;
    assert_eq!(no_to.status(), StatusCode::BAD_REQUEST);
    let no_message = send(&gateway, &[("username", USERNAME), ("to", "+254711000111")]).await;
    assert_eq!(no_message.status(), StatusCode::BAD_REQUEST);
    let json_body = client
        .post(format!("{}/version1/messaging", gateway.url))
        .header("apiKey", API_KEY)
        .header("Accept", "application/json")
        .json(&json!({"username": USERNAME, "to": "+254711000111", "message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    assert!(gateway.delivered().is_empty());
    assert_eq!(gateway.requests(), 6);
}

#[tokio::test]
async fn injected_failures_come_first_in_order_then_normal_answers() {
    let gateway = gateway().await;
    gateway.fail_next(&[503, 429, 500]);
    let unavailable = send(&gateway, &order_sms("+254711000111")).await;
    assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    let limited = send(&gateway, &order_sms("+254711000111")).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "1");
    let unauthenticated = send_with(
        &reqwest::Client::new(),
        &gateway,
        "nope",
        &order_sms("+254711000111"),
    )
    .await
    .unwrap();
    assert_eq!(
        unauthenticated.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "before any logic, auth included"
    );
    assert!(gateway.delivered().is_empty());

    let sent = send(&gateway, &order_sms("+254711000111")).await;
    assert_eq!(sent.status(), StatusCode::CREATED);
    assert_eq!(gateway.delivered().len(), 1);
    assert_eq!(gateway.requests(), 4);
}

#[tokio::test]
async fn while_down_connections_are_reset_without_an_answer() {
    let gateway = gateway().await;
    let client = reqwest::Client::new();
    let first = send_with(&client, &gateway, API_KEY, &order_sms("+254711000111")).await;
    assert_eq!(first.unwrap().status(), StatusCode::CREATED);

    gateway.set_down(true);
    // The client's pooled keep-alive connection dies too, as does a fresh one.
    let pooled = send_with(&client, &gateway, API_KEY, &order_sms("+254711000111")).await;
    assert!(pooled.is_err(), "{pooled:?}");
    let fresh = send_with(
        &reqwest::Client::new(),
        &gateway,
        API_KEY,
        &order_sms("+254711000111"),
    )
    .await;
    let error = fresh.unwrap_err();
    assert!(!error.is_timeout() && error.status().is_none(), "{error:?}");
    assert_eq!(gateway.requests(), 1, "nothing reached the API while down");

    gateway.set_down(false);
    let back = send_with(&client, &gateway, API_KEY, &order_sms("+254711000111")).await;
    assert_eq!(back.unwrap().status(), StatusCode::CREATED);
    assert_eq!(gateway.delivered().len(), 2);
}

#[tokio::test]
async fn a_delay_stalls_answers_and_without_finishing_an_abandoned_request_sends_nothing() {
    let gateway = gateway().await;
    gateway.set_finish_abandoned(false);
    let delay = Duration::from_millis(300);
    gateway.set_delay(Some(delay));

    give_up_on(&gateway, "+254711000111").await;

    let started = Instant::now();
    let patient = send(&gateway, &order_sms("+254722000222")).await;
    assert_eq!(patient.status(), StatusCode::CREATED);
    assert!(started.elapsed() >= delay);
    let delivered: Vec<String> = gateway.delivered().into_iter().map(|sms| sms.to).collect();
    assert_eq!(
        delivered,
        ["+254722000222"],
        "the abandoned request was cancelled"
    );
    assert_eq!(gateway.requests(), 2);

    gateway.set_delay(None);
    let started = Instant::now();
    send(&gateway, &order_sms("+254711000111")).await;
    assert!(started.elapsed() < delay);
}

#[tokio::test]
async fn a_client_that_gives_up_still_sends_as_with_a_real_server() {
    let gateway = gateway().await;
    gateway.set_delay(Some(Duration::from_millis(300)));
    give_up_on(&gateway, "+254711000111").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while gateway.delivered().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the abandoned request was not finished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(gateway.delivered()[0].to, "+254711000111");
}
