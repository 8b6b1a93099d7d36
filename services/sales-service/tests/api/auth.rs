//! OpenID Connect through the real routes, with tokens from a real issuer.
use reqwest::StatusCode;
use serde_json::json;

use stand_ins::sms::SmsGateway;
use test_support::oidc::OidcIssuer;

use crate::helpers::{
    assert_json, assert_problem, spawn_app, start, test_config, AUDIENCE, SMS_API_KEY, SMS_USERNAME,
};

const ORDERS: &str = "/api/v1/sales/orders";

fn challenge(response: &reqwest::Response) -> String {
    response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_missing_or_malformed_token_is_a_401_with_a_challenge() {
    let app = spawn_app().await;
    let missing = app.anonymous().get(ORDERS).await;
    assert!(challenge(&missing).starts_with("Bearer"));
    assert_problem(missing, StatusCode::UNAUTHORIZED, None).await;

    let garbage = app.bearer("not-a-jwt").get(ORDERS).await;
    assert!(challenge(&garbage).contains("invalid_token"));
    assert_problem(garbage, StatusCode::UNAUTHORIZED, None).await;

    let basic = app
        .client
        .get(app.url(ORDERS))
        .basic_auth("user", Some("password"))
        .send()
        .await
        .unwrap();
    assert_problem(basic, StatusCode::UNAUTHORIZED, None).await;
}

#[tokio::test]
async fn read_routes_need_the_read_scope_and_write_routes_the_write_scope() {
    let app = spawn_app().await;
    let reader = app.issuer.token(AUDIENCE, &["sales:read"]).await;
    let writer = app.issuer.token(AUDIENCE, &["sales:write"]).await;

    assert_json(app.bearer(&reader).get(ORDERS).await, StatusCode::OK).await;
    let denied = app
        .bearer(&reader)
        .post(
            "/api/v1/sales/customers",
            &json!({"name": "Jane", "phone_number": "+254711000001"}),
        )
        .await;
    assert!(challenge(&denied).contains("insufficient_scope"));
    assert_problem(denied, StatusCode::FORBIDDEN, None).await;

    let created = app
        .bearer(&writer)
        .post(
            "/api/v1/sales/customers",
            &json!({"name": "Jane", "phone_number": "+254711000001"}),
        )
        .await;
    assert_json(created, StatusCode::CREATED).await;
    assert_problem(
        app.bearer(&writer).get(ORDERS).await,
        StatusCode::FORBIDDEN,
        None,
    )
    .await;
}

#[tokio::test]
async fn expired_wrong_audience_and_tampered_tokens_are_rejected() {
    let app = spawn_app().await;
    let expired = app.issuer.expired_token(AUDIENCE, &["sales:read"]).await;
    assert_problem(
        app.bearer(&expired).get(ORDERS).await,
        StatusCode::UNAUTHORIZED,
        None,
    )
    .await;

    let other_api = app
        .issuer
        .token("api://integrations", &["sales:read"])
        .await;
    assert_problem(
        app.bearer(&other_api).get(ORDERS).await,
        StatusCode::UNAUTHORIZED,
        None,
    )
    .await;

    // A valid token with its signature's first byte changed.
    let (signed, signature) = app.token.rsplit_once('.').unwrap();
    let mut bytes = signature.as_bytes().to_vec();
    bytes[0] = if bytes[0] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{signed}.{}", String::from_utf8(bytes).unwrap());
    assert_problem(
        app.bearer(&tampered).get(ORDERS).await,
        StatusCode::UNAUTHORIZED,
        None,
    )
    .await;

    // A valid signature over other claims: the payload of a wider token, the signature of
    // this one.
    let (header_payload, _) = other_api.rsplit_once('.').unwrap();
    let (_, own_signature) = app.token.rsplit_once('.').unwrap();
    let spliced = format!("{header_payload}.{own_signature}");
    assert_problem(
        app.bearer(&spliced).get(ORDERS).await,
        StatusCode::UNAUTHORIZED,
        None,
    )
    .await;
}

#[tokio::test]
async fn a_token_from_another_issuer_is_rejected() {
    let app = spawn_app().await;
    let stranger = OidcIssuer::start().await;
    let foreign = stranger
        .token(AUDIENCE, &["sales:read", "sales:write"])
        .await;
    assert_problem(
        app.bearer(&foreign).get(ORDERS).await,
        StatusCode::UNAUTHORIZED,
        None,
    )
    .await;
}

#[tokio::test]
async fn rotated_signing_keys_are_picked_up_without_a_restart() {
    // Rotation changes the issuer for every test using it: this one has its own.
    let issuer = OidcIssuer::start().await;
    let sms = SmsGateway::spawn(SMS_USERNAME, SMS_API_KEY).await;
    let app = start(test_config(&issuer, &sms), issuer, sms, None).await;
    assert_json(app.authorized().get(ORDERS).await, StatusCode::OK).await;
    app.issuer.rotate_keys().await;
    let fresh = app.issuer.token(AUDIENCE, &["sales:read"]).await;
    // The service refetches the issuer's keys on the new key id once its minimum refresh
    // interval (200 ms in tests) has passed since the last fetch: 401 until then.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let answer = app.bearer(&fresh).get(ORDERS).await;
        if answer.status() != StatusCode::UNAUTHORIZED || tokio::time::Instant::now() > deadline {
            assert_json(answer, StatusCode::OK).await;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
