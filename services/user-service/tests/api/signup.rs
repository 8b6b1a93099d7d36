use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app, PASSWORD};

#[tokio::test]
async fn json_sign_up_creates_the_account_with_plain_attributes() {
    let app = spawn_app().await;
    let response = app
        .sign_up(json!({"username": "Ada", "password": PASSWORD, "name": "Ada Lovelace", "email": "ada@example.com", "city": "London", "langs": ["en", "fr"]}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["location"], "/user/ada");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["username"], "ada", "usernames are stored lowercase");
    assert_eq!(body["name"], "Ada Lovelace");
    assert_eq!(body["role"], "user");
    assert_eq!(
        body["profile"],
        json!({"city": "London", "langs": ["en", "fr"]})
    );
    assert!(body.get("password").is_none() && body.get("password_hash").is_none());

    let item = app.stored_user("ada").await.expect("item stored");
    assert_eq!(item["name"], AttributeValue::S("Ada Lovelace".into()));
    assert_eq!(item["email"], AttributeValue::S("ada@example.com".into()));
    assert_eq!(item["avatar_url"], AttributeValue::S(String::new()));
    assert!(matches!(&item["profile"], AttributeValue::M(profile) if profile.contains_key("city")));
    let AttributeValue::S(hash) = &item["password_hash"] else {
        panic!("hash is a string")
    };
    assert!(hash.starts_with("$argon2id$"), "argon2id, not {hash}");
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test]
async fn a_taken_username_is_a_conflict_whatever_its_case() {
    let app = spawn_app().await;
    app.create_user("grace").await;
    let response = app
        .sign_up(json!({"username": "GRACE", "password": "another password"}))
        .await;
    assert_problem(response, StatusCode::CONFLICT, Some("username")).await;
}

#[tokio::test]
async fn missing_fields_are_named() {
    let app = spawn_app().await;
    let response = app.sign_up(json!({"username": "nopass"})).await;
    assert_problem(response, StatusCode::BAD_REQUEST, Some("password")).await;
    let response = app.sign_up(json!({"password": PASSWORD})).await;
    assert_problem(response, StatusCode::BAD_REQUEST, Some("username")).await;
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once() {
    let app = spawn_app().await;
    let response = app
        .sign_up(json!({"username": "no spaces!", "password": "short", "email": "not-an-email", "name": "  "}))
        .await;
    let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some("username")).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["username", "password", "name", "email"]);
}

#[tokio::test]
async fn bad_usernames_and_short_passwords_are_rejected_and_nothing_is_written() {
    let app = spawn_app().await;
    for username in [
        "ab",
        "_lead",
        "way-too-long-username-for-this-service",
        "émile",
    ] {
        let response = app
            .sign_up(json!({"username": username, "password": PASSWORD}))
            .await;
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some("username")).await;
    }
    let response = app
        .sign_up(json!({"username": "shorty", "password": "1234567"}))
        .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some("password")).await;
    assert!(
        app.stored_user("shorty").await.is_none(),
        "no partial write"
    );
}

#[tokio::test]
async fn wrong_types_reserved_keys_and_malformed_json_are_client_errors() {
    let app = spawn_app().await;
    let response = app
        .sign_up(json!({"username": "typed", "password": PASSWORD, "name": 42}))
        .await;
    assert_problem(response, StatusCode::BAD_REQUEST, Some("name")).await;
    let response = app
        .sign_up(json!({"username": "typed", "password": PASSWORD, "role": "admin"}))
        .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some("role")).await;

    let response = app
        .anonymous()
        .send(
            Method::POST,
            "/user",
            "application/json",
            r#"{"username": "broken", "#,
        )
        .await;
    let body = assert_problem(response, StatusCode::BAD_REQUEST, None).await;
    assert!(body["detail"].as_str().unwrap().contains("not valid JSON"));

    let response = app
        .client
        .post(app.url("/user"))
        .body("username=x")
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, None).await;
    assert!(app.stored_user("typed").await.is_none());
}

#[tokio::test]
async fn profile_data_is_bounded() {
    let app = spawn_app().await;
    let deep = (0..12).fold(json!("leaf"), |inner, _| json!({ "x": inner }));
    let response = app
        .sign_up(json!({"username": "deep", "password": PASSWORD, "nest": deep}))
        .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some("nest")).await;
    let response = app
        .sign_up(json!({"username": "huge", "password": PASSWORD, "bio": "x".repeat(20 * 1024)}))
        .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some("profile")).await;
    assert!(app.stored_user("huge").await.is_none());
}

/// `POST /user` with a urlencoded form, as `http --form` and HTML forms send it.
async fn form_sign_up(app: &crate::helpers::TestApp, body: String) -> reqwest::Response {
    app.anonymous()
        .send(
            Method::POST,
            "/user",
            "application/x-www-form-urlencoded",
            body,
        )
        .await
}

#[tokio::test]
async fn a_urlencoded_form_signs_up_like_json() {
    let app = spawn_app().await;
    let response = form_sign_up(
        &app,
        "username=Ben&password=correct+horse+battery&name=Ben+Okri&email=ben%40example.com&city=Lagos"
            .into(),
    )
    .await;
    assert_eq!(response.headers()["location"], "/user/ben");
    let body = test_support::http::assert_json(response, StatusCode::CREATED).await;
    assert_eq!(body["name"], "Ben Okri");
    assert_eq!(body["email"], "ben@example.com");
    assert_eq!(
        body["profile"],
        json!({"city": "Lagos"}),
        "other fields are profile text"
    );
    let item = app.stored_user("ben").await.expect("item stored");
    assert_eq!(item["name"], AttributeValue::S("Ben Okri".into()));
    // The password went through intact ('+' is a space in a form).
    app.token("ben", PASSWORD).await;
}

#[tokio::test]
async fn a_bad_form_field_is_a_problem_naming_it_and_writes_nothing() {
    let app = spawn_app().await;
    let response = form_sign_up(&app, "username=b%21&password=short".into()).await;
    let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some("username")).await;
    assert_eq!(body["errors"][1]["field"], "password");
    let response = form_sign_up(&app, "username=nopass".into()).await;
    assert_problem(response, StatusCode::BAD_REQUEST, Some("password")).await;
    let response = form_sign_up(
        &app,
        "username=twice&username=again&password=long+enough".into(),
    )
    .await;
    assert_problem(response, StatusCode::BAD_REQUEST, None).await;
    assert!(app.stored_user("nopass").await.is_none() && app.stored_user("twice").await.is_none());
}

#[tokio::test]
async fn a_form_gets_the_default_body_limit_not_the_avatar_one() {
    let app = spawn_app().await;
    // Over MAX_BODY_BYTES (64 KiB in tests), far under the route's avatar allowance.
    let padding = "x".repeat(70 * 1024);
    let response = form_sign_up(
        &app,
        format!("username=big&password=long+enough&bio={padding}"),
    )
    .await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, None).await;
    assert!(app.stored_user("big").await.is_none());
}
