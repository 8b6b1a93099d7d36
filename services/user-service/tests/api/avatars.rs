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

/// 1x1 images of the other three types the service stores (the same bytes as the unit
/// tests of `domain::image_end`).
const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00\
!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00, 0xFF,
    0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56,
    0xFF, 0xD9,
];
const WEBP: &[u8] = b"RIFF\x12\x00\x00\x00WEBPVP8L\x05\x00\x00\x00\x2f\x00\x00\x00\x00\x00";

/// Issue 25.8: what the avatar link serves, per stored type. Whatever type the upload
/// declares, the object carries the type read from its bytes (one of four raster image
/// types: never HTML or SVG) and `Content-Disposition: attachment`, so a tab that opens
/// the link saves the file rather than rendering anything; an `<img>` ignores the header.
#[tokio::test]
async fn each_avatar_is_served_as_the_image_type_its_bytes_are_and_never_inline() {
    let app = spawn_app().await;
    let token = app.user_with_token("kit").await;
    for (image, kind, declared) in [
        (PNG, "image/png", "image/gif"),
        (GIF, "image/gif", "image/png"),
        (JPEG, "image/jpeg", "image/webp"),
        (WEBP, "image/webp", "image/jpeg"),
    ] {
        let response = app
            .bearer(&token)
            .request(Method::PUT, "/user/kit/avatar")
            .header("content-type", declared)
            .body(image.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{kind} sent as {declared}"
        );
        let account: Value = response.json().await.unwrap();
        let fetched = reqwest::get(account["avatar_url"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(fetched.status(), StatusCode::OK);
        assert_eq!(
            fetched.headers()["content-type"],
            kind,
            "sent as {declared}"
        );
        assert_eq!(
            fetched.headers()["content-disposition"],
            r#"attachment; filename="avatar""#
        );
        assert_eq!(fetched.bytes().await.unwrap().as_ref(), image);
    }
    // An SVG (a page that can run script) is no avatar, whatever it is called.
    for declared in ["image/svg+xml", "image/png"] {
        let svg =
            Part::bytes(&br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>"#[..])
                .file_name("kit.svg")
                .mime_str(declared)
                .unwrap();
        let response = app
            .bearer(&token)
            .request(Method::PUT, "/user/kit/avatar")
            .multipart(Form::new().part("avatar", svg))
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some("avatar")).await;
    }
    let object = app
        .s3
        .get_object()
        .bucket(&app.bucket)
        .key("avatars/kit")
        .send()
        .await
        .unwrap();
    assert_eq!(
        object.content_type(),
        Some("image/webp"),
        "the last image stays"
    );
}
