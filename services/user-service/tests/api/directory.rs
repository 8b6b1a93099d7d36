use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn the_directory_lists_exactly_name_email_avatar_url_a_page_at_a_time() {
    let app = spawn_app().await;
    for name in ["ann", "ben", "cat", "dan", "eve"] {
        app.create_user(name).await;
    }
    let token = app.token("ann", crate::helpers::PASSWORD).await;

    let mut emails = HashSet::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &next {
            Some(cursor) => format!("/users?limit=2&next={cursor}"),
            None => "/users?limit=2".to_owned(),
        };
        let response = app.get(&path, Some(&token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.unwrap();
        let users = page["users"].as_array().unwrap();
        assert!(users.len() <= 2);
        for user in users {
            let keys: HashSet<&str> = user
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, HashSet::from(["name", "email", "avatar_url"]));
            if let Some(email) = user["email"].as_str() {
                assert!(emails.insert(email.to_owned()), "no user twice");
            }
        }
        pages += 1;
        next = page["next"].as_str().map(str::to_owned);
        if next.is_none() {
            break;
        }
        assert!(pages < 10, "paging terminates");
    }
    // Five users plus the admin (who has no email).
    assert_eq!(emails.len(), 5);
    assert!(pages >= 3);
}

#[tokio::test]
async fn bad_paging_input_is_a_client_error() {
    let app = spawn_app().await;
    let token = app.user_with_token("fay").await;
    assert_problem(
        app.get("/users?limit=0", Some(&token)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("limit"),
    )
    .await;
    assert_problem(
        app.get("/users?limit=1000", Some(&token)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("limit"),
    )
    .await;
    assert_problem(
        app.get("/users?limit=many", Some(&token)).await,
        StatusCode::BAD_REQUEST,
        Some("limit"),
    )
    .await;
    assert_problem(
        app.get("/users?next=garbage!", Some(&token)).await,
        StatusCode::BAD_REQUEST,
        Some("next"),
    )
    .await;
    // A well-formed cursor naming a key the table does not have.
    let forged = "eyJ3cm9uZyI6eyJTIjoieCJ9fQ";
    assert_problem(
        app.get(&format!("/users?next={forged}"), Some(&token))
            .await,
        StatusCode::BAD_REQUEST,
        Some("next"),
    )
    .await;
}
