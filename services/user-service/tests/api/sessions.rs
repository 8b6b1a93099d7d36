use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use test_support::eventually;

use crate::helpers::{
    assert_problem, spawn_app, spawn_app_with, start, test_config, TestApp, PASSWORD,
};

#[tokio::test]
async fn login_with_json_or_form_returns_a_bearer_token() {
    let app = spawn_app().await;
    app.create_user("lin").await;
    let response = app.login("lin", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 24 * 3600);
    assert!(body["token"].as_str().unwrap().starts_with("ust_"));

    let response = app
        .client
        .post(app.url("/auth"))
        .form(&[("username", "LIN"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "form login, username case-insensitive"
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_fail_the_same_way() {
    let app = spawn_app().await;
    app.create_user("moe").await;
    let wrong = assert_problem(
        app.login("moe", "not the password").await,
        StatusCode::UNAUTHORIZED,
        None,
    )
    .await;
    let unknown = assert_problem(
        app.login("nobody", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        None,
    )
    .await;
    assert_eq!(
        wrong["detail"], unknown["detail"],
        "no username enumeration"
    );
    let response = app
        .anonymous()
        .post("/auth", &json!({"username": "moe"}))
        .await;
    assert_problem(response, StatusCode::BAD_REQUEST, Some("password")).await;
}

#[tokio::test]
async fn home_greets_the_world_or_the_user() {
    let app = spawn_app().await;
    let anonymous: Value = app.anonymous().get("/").await.json().await.unwrap();
    assert_eq!(anonymous, json!({"message": "Hello World"}));
    let garbage: Value = app
        .bearer("ust_not-a-token")
        .get("/")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(garbage, json!({"message": "Hello World"}));

    let token = app.user_with_token("nia").await;
    let response = app.bearer(&token).get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let signed_in: Value = response.json().await.unwrap();
    assert_eq!(signed_in["message"], "Hello nia");
    assert_eq!(signed_in["username"], "nia");
    assert_eq!(signed_in["data"]["email"], "nia@example.com");
}

#[tokio::test]
async fn logout_revokes_the_presented_token_only() {
    let app = spawn_app().await;
    let first = app.user_with_token("omar").await;
    let second = app.token("omar", PASSWORD).await;
    let response = app.bearer(&first).delete("/auth").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.bearer(&first).get("/user/omar").await,
        StatusCode::UNAUTHORIZED,
        None,
    )
    .await;
    assert_eq!(
        app.bearer(&second).get("/user/omar").await.status(),
        StatusCode::OK
    );
    let response = app.bearer(&first).delete("/auth").await;
    assert_problem(response, StatusCode::UNAUTHORIZED, None).await;
}

#[tokio::test]
async fn expired_tokens_are_rejected_even_before_the_store_purges_them() {
    let ttl = Duration::from_secs(4);
    let app = spawn_app_with(|config| config.session_ttl = ttl).await;
    let before_login = tokio::time::Instant::now();
    let token = app.user_with_token("pia").await;
    assert_eq!(
        app.bearer(&token).get("/user/pia").await.status(),
        StatusCode::OK
    );
    // Refused once the TTL has passed, and not before.
    let response = eventually(ttl * 8, "the session to expire", || async {
        let response = app.bearer(&token).get("/user/pia").await;
        (response.status() != StatusCode::OK).then_some(response)
    })
    .await;
    // Expiry is kept in whole Unix seconds: up to one second early.
    assert!(
        before_login.elapsed() >= ttl - Duration::from_secs(1),
        "expired early"
    );
    let body = assert_problem(response, StatusCode::UNAUTHORIZED, None).await;
    assert!(body["detail"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn malformed_authorization_headers_are_401_with_a_challenge() {
    let app = spawn_app().await;
    for header in ["Basic YWRhOnB3", "Bearer", "ust_without_scheme"] {
        let response = app
            .anonymous()
            .header("authorization", header)
            .get("/users")
            .await;
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_problem(response, StatusCode::UNAUTHORIZED, None).await;
    }
    assert_problem(
        app.anonymous().get("/users").await,
        StatusCode::UNAUTHORIZED,
        None,
    )
    .await;
}

#[tokio::test]
async fn login_attempts_are_rate_limited_per_username_and_per_address() {
    let app = spawn_app_with(|config| {
        config.abuse_limits.login_per_username = std::num::NonZeroU32::new(3).unwrap();
        config.abuse_limits.login_per_address = std::num::NonZeroU32::new(6).unwrap();
    })
    .await;
    app.create_user("rex").await;
    for _ in 0..3 {
        assert_eq!(
            app.login("rex", "wrong password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // The right password does not help from this address once its quota for the
    // username is spent.
    let response = app.login("rex", PASSWORD).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    let body = assert_problem(response, StatusCode::TOO_MANY_REQUESTS, None).await;
    assert!(body["detail"].as_str().unwrap().contains("username"));

    // Other usernames from the same address still get through, until the address's quota.
    for name in ["ann", "bob"] {
        assert_eq!(
            app.login(name, "wrong password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let response = app.login("cyd", "wrong password").await;
    let body = assert_problem(response, StatusCode::TOO_MANY_REQUESTS, None).await;
    assert!(body["detail"].as_str().unwrap().contains("address"));
}

async fn logout(app: &TestApp, token: &str) -> StatusCode {
    app.bearer(token).delete("/auth").await.status()
}

#[tokio::test]
async fn cached_sessions_are_refused_at_once_after_logout_or_account_deletion() {
    let app = spawn_app().await;
    let token = app.user_with_token("quin").await;
    let other = app.token("quin", PASSWORD).await;
    // Used once: both sessions are in this replica's session cache now.
    for session in [&token, &other] {
        assert_eq!(
            app.bearer(session).get("/user/quin").await.status(),
            StatusCode::OK
        );
    }
    // The cache holds a copy of the account: a change shows at once.
    let response = app
        .bearer(&token)
        .put("/user/quin", &json!({"name": "Quin Again"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let home: Value = app.bearer(&token).get("/").await.json().await.unwrap();
    assert_eq!(home["data"]["name"], "Quin Again");

    assert_eq!(logout(&app, &token).await, StatusCode::NO_CONTENT);
    assert_problem(
        app.bearer(&token).get("/user/quin").await,
        StatusCode::UNAUTHORIZED,
        None,
    )
    .await;
    assert_eq!(
        app.bearer(&other).get("/user/quin").await.status(),
        StatusCode::OK
    );

    let admin = app.admin_token().await;
    let response = app.bearer(&admin).delete("/user/quin").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.bearer(&other).get("/users").await,
        StatusCode::UNAUTHORIZED,
        None,
    )
    .await;
}

#[tokio::test]
async fn another_replica_sees_a_logout_within_the_session_cache_ttl() {
    let cache_ttl = Duration::from_millis(500);
    let mut config = test_config();
    config.session_cache_ttl = cache_ttl;
    let first = start(config.clone(), None).await;
    let second = start(config, None).await;
    let token = first.user_with_token("rui").await;
    assert_eq!(
        second.bearer(&token).get("/user/rui").await.status(),
        StatusCode::OK,
        "the second replica has the session cached"
    );
    assert_eq!(logout(&first, &token).await, StatusCode::NO_CONTENT);
    assert_problem(
        first.bearer(&token).get("/user/rui").await,
        StatusCode::UNAUTHORIZED,
        None,
    )
    .await;
    // Within the cache's TTL (and the time a busy machine takes to answer).
    let refused = eventually(
        cache_ttl * 6,
        "the second replica to see the logout",
        || async {
            let response = second.bearer(&token).get("/user/rui").await;
            (response.status() != StatusCode::OK).then_some(response)
        },
    )
    .await;
    assert_problem(refused, StatusCode::UNAUTHORIZED, None).await;
}

#[tokio::test]
async fn without_the_session_cache_every_replica_sees_a_logout_at_once() {
    let mut config = test_config();
    config.session_cache_ttl = Duration::ZERO;
    let first = start(config.clone(), None).await;
    let second = start(config, None).await;
    let token = first.user_with_token("sol").await;
    assert_eq!(
        second.bearer(&token).get("/user/sol").await.status(),
        StatusCode::OK
    );
    assert_eq!(logout(&first, &token).await, StatusCode::NO_CONTENT);
    assert_problem(
        second.bearer(&token).get("/user/sol").await,
        StatusCode::UNAUTHORIZED,
        None,
    )
    .await;
}
