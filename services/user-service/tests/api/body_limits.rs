//! Issue 23 point 1: no content type or multipart field makes the service read (and hold)
//! more than its limits. Each trick is sent over a raw connection that promises a 5 MiB
//! body and sends only part of it: the answer must come while the body is unfinished, so
//! the refusal happened while reading, never after buffering or parsing the whole body.
use reqwest::StatusCode;
use serde_json::Value;
use test_support::raw;

use crate::helpers::{assert_problem, spawn_app, TestApp, PASSWORD};

/// What a body claims to be, in bytes.
const PROMISED: usize = 5 * 1024 * 1024;
/// What the client actually sends before waiting for the answer.
const SENT: usize = 256 * 1024;
const BOUNDARY: &str = "trick-boundary";

/// [`raw::answer_before_the_body_ends`] promising `PROMISED` bytes and sending `body`
/// padded to `SENT` with `pad`.
async fn answer_before_the_body_ends(
    app: &TestApp,
    request_line: &str,
    extra_headers: &str,
    mut body: Vec<u8>,
    pad: u8,
) -> (StatusCode, Value) {
    body.resize(SENT.max(body.len()), pad);
    raw::answer_before_the_body_ends(&app.address, request_line, extra_headers, PROMISED, body)
        .await
}

/// [`answer_before_the_body_ends`] for a multipart sign-up.
async fn multipart_sign_up_answer(app: &TestApp, body: Vec<u8>, pad: u8) -> (StatusCode, Value) {
    let multipart = content_type(&format!("multipart/form-data; boundary={BOUNDARY}"));
    answer_before_the_body_ends(app, "POST /user", &multipart, body, pad).await
}

/// The start of a JSON sign-up whose padding (`0,0,0,...`) goes on for megabytes.
fn json_sign_up_start() -> Vec<u8> {
    format!(r#"{{"username":"trick","password":"{PASSWORD}","a":[0"#).into_bytes()
}

/// The start of a multipart sign-up whose last field, `field`, goes on for megabytes.
fn multipart_start(field: &str) -> Vec<u8> {
    format!(
        "--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"username\"\r\n\r\ntrick\r\n\
         --{BOUNDARY}\r\ncontent-disposition: form-data; name=\"password\"\r\n\r\n{PASSWORD}\r\n\
         --{BOUNDARY}\r\ncontent-disposition: form-data; name=\"{field}\"\r\n\r\n"
    )
    .into_bytes()
}

fn content_type(value: &str) -> String {
    format!("content-type: {value}\r\n")
}

/// The headers of a signed-in user's upload of `declared` content.
fn authorized(token: &str, declared: &str) -> String {
    format!(
        "{}authorization: Bearer {token}\r\n",
        content_type(declared)
    )
}

/// The review's attack (a): `image/pt+json` was exempt from the small limit as an image
/// and parsed as JSON, 5 MiB at a time.
#[tokio::test]
async fn a_json_sign_up_under_any_content_type_is_held_to_the_small_limit() {
    let app = spawn_app().await;
    for declared in [
        "image/pt+json",
        "image/png+json",
        "application/vnd.trick+json; charset=utf-8",
        "IMAGE/X+JSON",
        "application/json",
    ] {
        let (status, body) = answer_before_the_body_ends(
            &app,
            "POST /user",
            &content_type(declared),
            json_sign_up_start(),
            b'0',
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{declared}: {body}");
    }
}

/// Sign-up takes JSON and forms; an image is not a sign-up, whatever its size.
#[tokio::test]
async fn a_sign_up_as_a_raw_image_is_refused_unread() {
    let app = spawn_app().await;
    for declared in ["image/png", "image/svg+xml", "text/plain", "image/pt"] {
        let (status, body) =
            answer_before_the_body_ends(&app, "POST /user", &content_type(declared), vec![], b'0')
                .await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{declared}: {body}"
        );
    }
}

/// The review's attack (b): a multipart `profile` of 5 MiB was read whole and parsed.
#[tokio::test]
async fn an_oversized_multipart_profile_is_refused_while_it_streams() {
    let app = spawn_app().await;
    let mut body = multipart_start("profile");
    body.extend_from_slice(b"{\"a\":[0");
    let (status, answer) = multipart_sign_up_answer(&app, body, b'0').await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(answer["errors"][0]["field"], "profile", "{answer}");
}

/// Every other text field has its own small cap: an account field, or a field that would
/// become profile data.
#[tokio::test]
async fn an_oversized_multipart_text_field_is_refused_while_it_streams() {
    let app = spawn_app().await;
    for field in ["name", "email", "bio"] {
        let (status, answer) = multipart_sign_up_answer(&app, multipart_start(field), b'x').await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{field}: {answer}");
        assert_eq!(answer["errors"][0]["field"], field, "{answer}");
    }
}

/// Many small fields, each under its own cap, add up: the form's text has a budget.
#[tokio::test]
async fn many_small_multipart_fields_are_refused_while_they_stream() {
    let app = spawn_app().await;
    let mut body = multipart_start("first");
    body.extend_from_slice(b"x\r\n");
    for n in 0..4000 {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"f{n}\"\r\n\r\n{}\r\n",
                "y".repeat(500)
            )
            .as_bytes(),
        );
    }
    let (status, answer) = multipart_sign_up_answer(&app, body, b'z').await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
}

/// Empty fields cost the text budget next to nothing, and each becomes a profile entry:
/// a form has at most 64 fields.
#[tokio::test]
async fn a_form_of_many_empty_fields_is_refused() {
    let app = spawn_app().await;
    let mut body = multipart_start("f");
    body.extend_from_slice(b"\r\n");
    for n in 0..100 {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"{n}\"\r\n\r\n\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let response = app
        .client
        .post(app.url("/user"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, Some("body")).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("64"),
        "{problem}"
    );
    assert!(app.stored_user("trick").await.is_none(), "nothing written");
}

/// The avatar route takes exactly the image types it can store, and multipart forms; any
/// other type (an `image/*` look-alike above all) is refused before its body is read.
#[tokio::test]
async fn the_avatar_route_refuses_other_types_unread() {
    let app = spawn_app().await;
    let token = app.user_with_token("pic").await;
    for declared in [
        "image/pt+json",
        "image/svg+xml",
        "image/pngx",
        "image/png+json",
        "application/json",
    ] {
        let (status, body) = answer_before_the_body_ends(
            &app,
            "PUT /user/pic/avatar",
            &authorized(&token, declared),
            json_sign_up_start(),
            b'0',
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{declared}: {body}"
        );
    }
}

/// Only the upload routes take large bodies, and only as uploads: a multipart body sent
/// to another route is held to the small limit.
#[tokio::test]
async fn a_multipart_body_elsewhere_is_held_to_the_small_limit() {
    let app = spawn_app().await;
    let token = app.user_with_token("mpx").await;
    let (status, body) = answer_before_the_body_ends(
        &app,
        "PUT /user/mpx",
        &authorized(&token, &format!("multipart/form-data; boundary={BOUNDARY}")),
        multipart_start("profile"),
        b'0',
    )
    .await;
    assert!(
        [
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        ]
        .contains(&status),
        "{status}: {body}"
    );
}
