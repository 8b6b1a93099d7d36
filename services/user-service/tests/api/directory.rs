use std::collections::HashSet;

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use test_support::http::assert_json;
use test_support::listing::{check_listing, Listing, PageShape};

use crate::helpers::{
    assert_problem, spawn_app, spawn_app_with, start, test_config, TestApp, PASSWORD, PNG,
};

/// `GET /users` for `check_listing`: items told apart by email (an admin reads them).
fn directory_listing() -> Listing {
    Listing {
        path: "/users".into(),
        shape: PageShape::LinkHeader,
        cursor: "after",
        max_limit: Some(100),
        key: |user| user["email"].as_str().map(str::to_owned),
    }
}

#[tokio::test]
async fn the_directory_is_a_bare_array_of_three_keys_paged_by_link_headers() {
    let app = spawn_app().await;
    for name in ["ann", "ben", "cat", "dan", "eve"] {
        app.create_user(name).await;
    }
    // An admin, who sees every email.
    let token = app.admin_token().await;

    let directory = directory_listing();
    let created = ["ann", "ben", "cat", "dan", "eve"].map(|name| format!("{name}@example.com"));
    let created: Vec<&str> = created.iter().map(String::as_str).collect();
    let pages = check_listing(&app.bearer(&token), &directory, &created).await;
    let mut emails = HashSet::new();
    for user in pages.iter().flatten() {
        let keys: HashSet<&str> = user
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, HashSet::from(["avatar_url", "email", "name"]));
        if let Some(email) = user["email"].as_str() {
            assert!(emails.insert(email.to_owned()), "no user twice");
        }
    }
    assert!(pages.iter().all(|page| page.len() <= 2));
    // Five users plus the admin (who has no email).
    assert_eq!(emails.len(), 5);
    assert!(pages.len() >= 3);
    assert_eq!(pages.iter().map(Vec::len).sum::<usize>(), 6);
}

/// Security review F2: anyone may sign up, so a session proves nothing about its holder;
/// a member reading the directory sees names and avatars, and `"email": null` in the
/// original item shape. Only admins see emails.
#[tokio::test]
async fn members_see_no_one_s_email_admins_see_every_one() {
    let app = spawn_app().await;
    app.create_user("kim").await;
    let member = app.user_with_token("lee").await;
    let admin = app.admin_token().await;
    let read = |token: String| {
        let app = &app;
        async move {
            let users = assert_json(
                app.bearer(&token).get("/users?limit=100").await,
                StatusCode::OK,
            )
            .await;
            users.as_array().unwrap().clone()
        }
    };

    let seen_by_member = read(member).await;
    let kim = seen_by_member
        .iter()
        .find(|user| user["name"] == "kim name")
        .expect("names are listed");
    assert_eq!(kim.as_object().unwrap().len(), 3, "{kim}");
    assert!(kim.as_object().unwrap().contains_key("avatar_url"));
    assert!(
        seen_by_member.iter().all(|user| user["email"].is_null()),
        "{seen_by_member:?}"
    );

    let seen_by_admin = read(admin).await;
    let emails: HashSet<&str> = seen_by_admin
        .iter()
        .filter_map(|user| user["email"].as_str())
        .collect();
    assert_eq!(
        emails,
        HashSet::from(["kim@example.com", "lee@example.com"])
    );
}

#[tokio::test]
async fn bad_paging_input_is_a_client_error() {
    let app = spawn_app().await;
    let token = app.user_with_token("fay").await;
    for (query, status, field) in [
        ("limit=0", StatusCode::UNPROCESSABLE_ENTITY, "limit"),
        ("limit=1000", StatusCode::UNPROCESSABLE_ENTITY, "limit"),
        ("limit=many", StatusCode::BAD_REQUEST, "limit"),
        ("after=garbage!", StatusCode::BAD_REQUEST, "after"),
        // A well-formed cursor naming a key the table does not have.
        (
            "after=eyJ3cm9uZyI6eyJTIjoieCJ9fQ",
            StatusCode::BAD_REQUEST,
            "after",
        ),
        // The plain form cursors had before they were sealed: {"username":{"S":"fay"}}.
        (
            "after=eyJ1c2VybmFtZSI6eyJTIjoiZmF5In19",
            StatusCode::BAD_REQUEST,
            "after",
        ),
        // The index's key written by hand, once right and once with a number for a string.
        (
            "after=eyJsaXN0aW5nIjp7IlMiOiJ1c2VycyJ9LCJ1c2VybmFtZSI6eyJTIjoiZmF5In19",
            StatusCode::BAD_REQUEST,
            "after",
        ),
        (
            "after=eyJsaXN0aW5nIjp7IlMiOiJ1c2VycyJ9LCJ1c2VybmFtZSI6eyJOIjoiMSJ9fQ",
            StatusCode::BAD_REQUEST,
            "after",
        ),
    ] {
        let response = app.bearer(&token).get(&format!("/users?{query}")).await;
        assert_problem(response, status, Some(field)).await;
    }
}

/// Pages come in username order, and a cursor opens only the listing that sealed it: the
/// admins' account list shares the index, not its cursors.
#[tokio::test]
async fn the_directory_reads_in_username_order_with_cursors_of_its_own() {
    let app = spawn_app().await;
    for name in ["eve", "ann", "dan", "ben", "cat"] {
        app.create_user(name).await;
    }
    let admin = app.bearer(&app.admin_token().await);
    let created = ["eve", "ann", "dan", "ben", "cat"].map(|name| format!("{name}@example.com"));
    let created: Vec<&str> = created.iter().map(String::as_str).collect();
    let pages = check_listing(&admin, &directory_listing(), &created).await;
    let names: Vec<&str> = pages
        .iter()
        .flatten()
        .map(|entry| entry["name"].as_str().unwrap_or("(admin)"))
        .collect();
    assert_eq!(
        names,
        ["(admin)", "ann name", "ben name", "cat name", "dan name", "eve name"]
    );

    let accounts = assert_json(admin.get("/admin/accounts?limit=1").await, StatusCode::OK).await;
    let foreign = accounts["next"].as_str().unwrap();
    let response = admin.get(&format!("/users?limit=1&after={foreign}")).await;
    assert_problem(response, StatusCode::BAD_REQUEST, Some("after")).await;
}

#[tokio::test]
async fn the_directory_is_private_unless_configured_public() {
    let private = spawn_app().await;
    assert_problem(
        private.anonymous().get("/users").await,
        StatusCode::UNAUTHORIZED,
        None,
    )
    .await;

    // Opened on purpose, it is the original directory: anyone sees names and emails.
    let public = spawn_app_with(|config| config.directory_public = true).await;
    public.create_user("gil").await;
    let member = public.user_with_token("hub").await;
    for caller in [
        public.anonymous(),
        public.bearer("not-a-session-token"),
        public.bearer(&member),
    ] {
        let users = assert_json(caller.get("/users").await, StatusCode::OK).await;
        let gil = users
            .as_array()
            .unwrap()
            .iter()
            .find(|user| user["name"] == "gil name")
            .unwrap_or_else(|| panic!("gil in {users}"))
            .clone();
        assert_eq!(gil["email"], "gil@example.com", "{users}");
    }
}

async fn sign_up_with_avatar(app: &TestApp, username: &str) {
    let avatar = Part::bytes(PNG)
        .file_name("a.png")
        .mime_str("image/png")
        .unwrap();
    let form = Form::new()
        .text("username", username.to_owned())
        .text("password", PASSWORD)
        .text("name", format!("{username} name"))
        .part("avatar", avatar);
    let response = app.sign_up_multipart(form).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// What a browser does with an `<img src>`: a plain GET, no credentials, no headers.
async fn assert_loads_as_png(url: &str) {
    let fetched = reqwest::Client::new().get(url).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK, "{url}");
    assert_eq!(fetched.headers()["content-type"], "image/png");
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), PNG);
}

async fn directory_avatar(app: &TestApp, name: &str) -> String {
    let users = assert_json(
        app.anonymous().get("/users?limit=100").await,
        StatusCode::OK,
    )
    .await;
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["name"] == format!("{name} name"))
        .and_then(|user| user["avatar_url"].as_str())
        .unwrap_or_else(|| panic!("{name} with an avatar_url in {users}"))
        .to_owned()
}

#[tokio::test]
async fn avatar_urls_in_the_directory_load_in_a_browser() {
    let mut config = test_config();
    config.directory_public = true;
    let presigned = start(config.clone(), None).await;
    sign_up_with_avatar(&presigned, "hal").await;
    let url = directory_avatar(&presigned, "hal").await;
    assert!(
        url.starts_with("http") && url.contains("X-Amz-Signature"),
        "{url}"
    );
    assert_loads_as_png(&url).await;

    // Behind a public base (a CDN in production; here the emulator's bucket path).
    let mut config = test_config();
    config.directory_public = true;
    let base = format!(
        "{}/{}",
        test_support::emulator::endpoint(),
        config.avatar_bucket
    );
    config.avatar_public_base_url = Some(format!("{base}/"));
    let public = start(config, None).await;
    // What the origin behind such a base grants: anonymous reads of the avatars.
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{}/avatars/*", public.bucket)}]});
    public
        .s3
        .put_bucket_policy()
        .bucket(&public.bucket)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();
    sign_up_with_avatar(&public, "ida").await;
    let url = directory_avatar(&public, "ida").await;
    assert_eq!(url, format!("{base}/avatars/ida"));
    assert_loads_as_png(&url).await;
}
