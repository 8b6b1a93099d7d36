//! Account holders: sign-up (with a picture), log-in, my account, delete; user-service's
//! problems as sentences under the fields they name; escaping.
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::helpers::{spawn_console, From, Upstreams, CLIENT_ADDRESS, PNG};

const TOKEN: &str = "session-token-of-ada";

fn problem(
    status: StatusCode,
    detail: &str,
    errors: serde_json::Value,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        status,
        [("content-type", "application/problem+json")],
        Json(json!({"type": "urn:problem:validation", "title": "Invalid", "status": status.as_u16(), "detail": detail, "errors": errors})),
    )
        .into_response()
}

fn account(name: &str) -> serde_json::Value {
    json!({"username": "ada", "name": name, "email": "ada@example.com", "avatar_url": "http://images.test/ada.png",
           "role": "user", "profile": {"about": "Engines", "city": "London"}, "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-01T10:00:00Z"})
}

fn user_service(name: &'static str) -> Router {
    Router::new()
        .route(
            "/user",
            post(|| async { (StatusCode::CREATED, Json(account("Ada"))) }),
        )
        .route(
            "/auth",
            post(|| async {
                Json(json!({"token": TOKEN, "token_type": "Bearer", "expires_in": 86400}))
            }),
        )
        .route(
            "/user/ada",
            get(move || async move { Json(account(name)) })
                .put(|| async { Json(account("Ada")) })
                .delete(|| async { StatusCode::NO_CONTENT }),
        )
}

#[tokio::test]
async fn sign_up_sends_the_picture_to_user_service_then_logs_in() {
    let console = spawn_console(Upstreams {
        users: user_service("Ada"),
        ..Default::default()
    })
    .await;
    let fields = [
        ("username", "ada"),
        ("password", "correct horse"),
        ("name", "Ada"),
        ("email", ""),
        ("about", "Engines"),
    ];
    let page = console
        .post_multipart("/signup", &fields, Some(("image/png", PNG)), None)
        .await;
    page.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/account?done=signed-up");
    assert!(page.session_cookie().is_some());

    let signup = &console.users.calls_to("/user")[0];
    let body = String::from_utf8_lossy(&signup.body);
    assert!(signup
        .header("content-type")
        .unwrap()
        .starts_with("multipart/form-data"));
    assert!(body.contains("name=\"about\"\r\n\r\nEngines"), "{body}");
    assert!(
        !body.contains("name=\"email\""),
        "an empty field is not sent: {body}"
    );
    assert!(
        signup.body.windows(PNG.len()).any(|w| w == PNG),
        "the picture is forwarded as it came"
    );
    // The person's address is forwarded, vouched for by the console's own token.
    assert_eq!(signup.header("x-forwarded-for"), Some(CLIENT_ADDRESS));
    let forwarder = signup.token_claims("x-forwarder-authorization");
    assert_eq!(forwarder["client_id"], "console");
    assert_eq!(forwarder["aud"], "api://users");
    assert_eq!(
        console.users.calls_to("/auth")[0].header("x-forwarded-for"),
        Some(CLIENT_ADDRESS)
    );
}

#[tokio::test]
async fn sign_up_problems_appear_under_their_fields_and_in_a_summary() {
    let users = Router::new().route(
        "/user",
        post(|| async {
            problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "2 fields are invalid",
                json!([
                    {"field": "username", "message": "must be 3-32 characters of a-z 0-9 . _ -"},
                    {"field": "password", "message": "must be at least 8 characters"},
                ]),
            )
        }),
    );
    let console = spawn_console(Upstreams {
        users,
        ..Default::default()
    })
    .await;
    let page = console
        .post_multipart(
            "/signup",
            &[
                ("username", "x!"),
                ("password", "short"),
                ("name", "<b>Ada</b>"),
            ],
            None,
            None,
        )
        .await;
    page.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        page.texts("#username-error"),
        ["Must be 3-32 characters of a-z 0-9 . _ -."]
    );
    assert_eq!(
        page.texts("#password-error"),
        ["Must be at least 8 characters."]
    );
    assert_eq!(page.attributes("#username", "aria-invalid"), ["true"]);
    assert_eq!(
        page.attributes("#username", "aria-describedby"),
        ["username-error username-hint"]
    );
    assert_eq!(
        page.attributes("#problems a", "href"),
        ["#username", "#password"]
    );
    // What was typed stays, escaped; the password never comes back.
    assert_eq!(page.attributes("#username", "value"), ["x!"]);
    assert_eq!(page.attributes("#name", "value"), ["<b>Ada</b>"]);
    assert!(page.attributes("#password", "value").is_empty());
    assert!(
        page.texts("b").is_empty(),
        "markup in a field became markup"
    );
    assert!(
        console.users.calls_to("/auth").is_empty(),
        "no log-in after a refused sign-up"
    );
}

#[tokio::test]
async fn a_wrong_password_is_said_in_words_and_keeps_the_username() {
    let users = Router::new().route(
        "/auth",
        post(|| async {
            problem(
                StatusCode::UNAUTHORIZED,
                "Wrong username or password",
                json!([]),
            )
        }),
    );
    let console = spawn_console(Upstreams {
        users,
        ..Default::default()
    })
    .await;
    let page = console
        .post_form(
            "/login",
            &[("username", "ada"), ("password", "nope-nope")],
            None,
            From::SameOrigin,
        )
        .await;
    page.assert_status(StatusCode::UNAUTHORIZED);
    assert_eq!(
        page.texts("#problems li"),
        ["The username or password is wrong."]
    );
    assert_eq!(page.attributes("#username", "value"), ["ada"]);
    assert!(page.session_cookie().is_none());
}

#[tokio::test]
async fn my_account_shows_the_account_escaped_with_its_picture_sized_and_lazy() {
    let console = spawn_console(Upstreams {
        users: user_service("<script>alert(1)</script>"),
        ..Default::default()
    })
    .await;
    let cookie = console.log_in("ada").await;
    let page = console.get("/account?done=updated", Some(&cookie)).await;
    page.assert_status(StatusCode::OK);
    assert_eq!(
        page.attributes("script", "src").len(),
        page.texts("script").len(),
        "only the console's own script"
    );
    assert!(
        page.texts("dl.facts dd")
            .iter()
            .any(|t| t == "<script>alert(1)</script>"),
        "the name is shown as text"
    );
    assert_eq!(page.texts(".notice"), ["Your changes are saved."]);
    assert_eq!(page.attributes("img.avatar", "loading"), ["lazy"]);
    assert_eq!(page.attributes("img.avatar", "width"), ["96"]);
    assert!(
        page.texts("dl.facts dd").iter().any(|t| t == "London"),
        "other profile data is shown"
    );
    assert_eq!(
        console.users.calls_to("/user/ada")[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );

    // A notice comes from a fixed list: nothing of the URL reaches the page.
    let crafted = console
        .get("/account?done=%3Cb%3Epwned%3C%2Fb%3E", Some(&cookie))
        .await;
    assert!(crafted.texts(".notice").is_empty());
}

#[tokio::test]
async fn when_user_service_no_longer_takes_the_token_the_session_ends() {
    let users = Router::new()
        .route(
            "/auth",
            post(|| async { Json(json!({"token": TOKEN, "expires_in": 86400})) }),
        )
        .route(
            "/user/ada",
            get(|| async {
                problem(
                    StatusCode::UNAUTHORIZED,
                    "The session has expired",
                    json!([]),
                )
            }),
        );
    let console = spawn_console(Upstreams {
        users,
        ..Default::default()
    })
    .await;
    let cookie = console.log_in("ada").await;
    let page = console.get("/account", Some(&cookie)).await;
    page.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/login?done=expired");
    assert_eq!(page.session_cookie().as_deref(), Some(""));
}

#[tokio::test]
async fn deleting_my_account_asks_first_then_deletes_it_and_the_session() {
    let console = spawn_console(Upstreams {
        users: user_service("Ada"),
        ..Default::default()
    })
    .await;
    let cookie = console.log_in("ada").await;
    let confirm = console.get("/account/delete", Some(&cookie)).await;
    assert_eq!(confirm.texts("h1"), ["Delete the account ada?"]);
    assert!(
        console.users.calls().iter().all(|c| c.method != "DELETE"),
        "asking deletes nothing"
    );

    let done = console
        .post_form("/account/delete", &[], Some(&cookie), From::SameOrigin)
        .await;
    done.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(done.location(), "/?done=deleted-self");
    assert_eq!(
        console
            .users
            .calls_to("/user/ada")
            .iter()
            .filter(|c| c.method == "DELETE")
            .count(),
        1
    );
    let after = console.get("/account", Some(&cookie)).await;
    assert!(after.location().starts_with("/login"));
}
