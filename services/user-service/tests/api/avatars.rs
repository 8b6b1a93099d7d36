use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{assert_problem, spawn_app, PASSWORD, PNG};

fn sign_up_form(username: &str, avatar: Part) -> Form {
    Form::new()
        .text("username", username.to_owned())
        .text("password", PASSWORD)
        .text("name", "With Avatar")
        .text("profile", r#"{"team": "blue", "level": 3}"#)
        .text("city", "Nairobi")
        .part("avatar", avatar)
}

#[tokio::test]
async fn multipart_sign_up_stores_the_avatar_privately_and_links_it() {
    let app = spawn_app().await;
    let form = sign_up_form(
        "wen",
        Part::bytes(PNG)
            .file_name("wen.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let response = app.sign_up_multipart(form).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["profile"]["team"], "blue");
    assert_eq!(body["profile"]["level"], 3);
    assert_eq!(body["profile"]["city"], "Nairobi");

    let url = body["avatar_url"].as_str().expect("avatar_url");
    assert!(
        url.contains("X-Amz-Signature"),
        "a presigned URL, not a public one: {url}"
    );
    let fetched = reqwest::get(url).await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    // Opened on its own, it is a download, never a page (an image that is also HTML).
    assert_eq!(
        fetched.headers()["content-disposition"],
        r#"attachment; filename="avatar""#
    );
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), PNG);

    let object = app
        .s3
        .head_object()
        .bucket(&app.bucket)
        .key("avatars/wen")
        .send()
        .await
        .unwrap();
    assert_eq!(object.content_type(), Some("image/png"));
    let item = app.stored_user("wen").await.unwrap();
    assert_eq!(
        item["avatar_url"],
        aws_sdk_dynamodb::types::AttributeValue::S(format!("s3://{}/avatars/wen", app.bucket))
    );
}

#[tokio::test]
async fn a_non_image_avatar_is_rejected_whatever_its_content_type() {
    let app = spawn_app().await;
    let fake = Part::bytes(b"<html>not an image</html>".to_vec())
        .file_name("x.png")
        .mime_str("image/png")
        .unwrap();
    let response = app
        .client
        .post(app.url("/user"))
        .multipart(sign_up_form("xia", fake))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some("avatar")).await;
    assert!(
        app.stored_user("xia").await.is_none(),
        "no account without its avatar"
    );
    assert!(!app.avatar_exists("avatars/xia").await);
}

#[tokio::test]
async fn an_oversized_avatar_is_a_413_and_writes_nothing() {
    let app = spawn_app().await;
    let mut big = PNG.to_vec();
    big.resize(5 * 1024 * 1024 + 1, 0);
    let response = app
        .client
        .post(app.url("/user"))
        .multipart(sign_up_form("yan", Part::bytes(big).file_name("big.png")))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, Some("avatar")).await;
    assert!(app.stored_user("yan").await.is_none());
}

#[tokio::test]
async fn owners_upload_or_replace_their_avatar_raw_or_as_a_form() {
    let app = spawn_app().await;
    let token = app.user_with_token("zed").await;
    let response = app
        .bearer(&token)
        .send(Method::PUT, "/user/zed/avatar", "image/png", PNG)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(body["avatar_url"].as_str().unwrap().contains("avatars/zed"));

    let form = Form::new().part("avatar", Part::bytes(PNG).file_name("again.png"));
    let response = app
        .bearer(&token)
        .request(Method::PUT, "/user/zed/avatar")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let response = app
        .bearer(&token)
        .send(Method::PUT, "/user/zed/avatar", "text/plain", "hello")
        .await;
    assert_problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, None).await;
}
