//! Operators (OIDC access tokens with `users:admin`) act as admins beside sessions, and
//! `GET /admin/accounts` lists every account for admins (contracts 6 and 7).
use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use common::auth::OidcSettings;
use reqwest::StatusCode;
use serde_json::Value;
use test_support::caller::Caller;
use test_support::http::assert_json;
use test_support::listing::{Listing, PageShape};
use test_support::oidc::OidcIssuer;
use user_service::config::Config;

use crate::helpers::{assert_problem, spawn_app_with, start, test_config, TestApp, ADMIN};

const ADMIN_SCOPE: &str = "users:admin";

fn trusting(issuer: &OidcIssuer) -> impl FnOnce(&mut Config) + '_ {
    move |config| {
        let mut settings = OidcSettings::new(issuer.url(), "api://users");
        settings.min_jwks_refresh_interval = Duration::ZERO;
        config.oidc = Some(settings);
    }
}

/// The app trusting the shared issuer, and an operator: a token for user-service's
/// audience with the admin scope.
async fn app_and_operator() -> (OidcIssuer, TestApp, Caller) {
    let issuer = OidcIssuer::shared().await;
    let app = spawn_app_with(trusting(&issuer)).await;
    let token = issuer.token("api://users", &[ADMIN_SCOPE]).await;
    let operator = app.bearer(&token);
    (issuer, app, operator)
}

fn accounts_listing() -> Listing {
    Listing {
        path: "/admin/accounts".into(),
        shape: PageShape::Envelope { items: "accounts" },
        cursor: "next",
        max_limit: Some(100),
        key: |account| account["username"].as_str().map(str::to_owned),
    }
}

#[tokio::test]
async fn a_users_admin_token_for_another_audience_is_refused() {
    let (issuer, app, _) = app_and_operator().await;
    let token = issuer.token("api://sales", &[ADMIN_SCOPE]).await;
    for path in ["/admin/accounts", "/user/admin", "/users"] {
        let response = app.bearer(&token).get(path).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "GET {path}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }
    let response = app.bearer(&token).delete("/user/admin").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(app.stored_user(ADMIN).await.is_some());
}

#[tokio::test]
async fn a_token_without_the_admin_scope_is_refused() {
    let (issuer, app, _) = app_and_operator().await;
    app.create_user("ann").await;
    let unscoped = issuer.token("api://users", &[]).await;
    let other_scope = issuer.token("api://users", &["sales:read"]).await;
    for token in [&unscoped, &other_scope] {
        for path in ["/admin/accounts", "/user/ann", "/users"] {
            let response = app.bearer(token).get(path).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "GET {path}");
            let challenge = response.headers()["www-authenticate"].to_str().unwrap();
            assert!(challenge.contains("insufficient_scope"), "{challenge}");
        }
        let response = app.bearer(token).delete("/user/ann").await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    assert!(app.stored_user("ann").await.is_some());
}

#[tokio::test]
async fn without_an_issuer_an_access_token_opens_nothing() {
    let issuer = OidcIssuer::shared().await;
    let app = spawn_app_with(|_| {}).await;
    let token = issuer.token("api://users", &[ADMIN_SCOPE]).await;
    let response = app.bearer(&token).get("/admin/accounts").await;
    assert_problem(response, StatusCode::UNAUTHORIZED, None).await;
}

#[tokio::test]
async fn a_forged_or_foreign_cursor_is_a_400_naming_next() {
    let (_issuer, app, operator) = app_and_operator().await;
    for name in ["ann", "ben", "cat"] {
        app.create_user(name).await;
    }
    let first = assert_json(
        operator.get("/admin/accounts?limit=1").await,
        StatusCode::OK,
    )
    .await;
    let sealed = first["next"].as_str().expect("a next page").to_owned();
    // The key the cursor would hold, written by hand; the directory's own cursor form;
    // the sealed cursor with one character changed; a key of the wrong type.
    let plain = |json: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    let mut tampered = sealed.clone().into_bytes();
    let last = tampered.len() - 5;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let forged = [
        plain(r#"{"listing":{"S":"users"},"username":{"S":"ben"}}"#),
        plain(r#"{"username":{"S":"ben"}}"#),
        plain(r#"{"listing":{"S":"users"},"username":{"N":"1"}}"#),
        String::from_utf8(tampered).unwrap(),
        "garbage!".to_owned(),
    ];
    for cursor in forged {
        let response = operator
            .get(&format!("/admin/accounts?limit=1&next={cursor}"))
            .await;
        assert_problem(response, StatusCode::BAD_REQUEST, Some("next")).await;
    }
    // The real one opens.
    let response = operator
        .get(&format!("/admin/accounts?limit=1&next={sealed}"))
        .await;
    assert_json(response, StatusCode::OK).await;
}

#[tokio::test]
async fn members_and_anonymous_callers_cannot_list_accounts() {
    let (_issuer, app, _) = app_and_operator().await;
    let member = app.user_with_token("ann").await;
    let response = app.bearer(&member).get("/admin/accounts").await;
    assert_problem(response, StatusCode::FORBIDDEN, None).await;
    let response = app.anonymous().get("/admin/accounts").await;
    assert_problem(response, StatusCode::UNAUTHORIZED, None).await;
    // The limit is checked after the caller: a member learns nothing from it.
    let response = app.bearer(&member).get("/admin/accounts?limit=0").await;
    assert_problem(response, StatusCode::FORBIDDEN, None).await;
}

#[tokio::test]
async fn admins_and_operators_list_every_account_in_username_order() {
    let (_issuer, app, operator) = app_and_operator().await;
    let names = ["eve", "ann", "dan", "ben", "cat"];
    for name in names {
        app.create_user(name).await;
    }
    let admin = app.bearer(&app.admin_token().await);
    for caller in [&operator, &admin] {
        let pages = test_support::check_listing(caller, &accounts_listing(), &names).await;
        let accounts: Vec<&Value> = pages.iter().flatten().collect();
        let usernames: Vec<&str> = accounts
            .iter()
            .map(|account| account["username"].as_str().unwrap())
            .collect();
        assert_eq!(usernames, ["admin", "ann", "ben", "cat", "dan", "eve"]);
        for account in &accounts {
            let keys: HashSet<&str> = account
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys,
                HashSet::from([
                    "username",
                    "name",
                    "email",
                    "role",
                    "created_at",
                    "avatar_url"
                ]),
                "{account}"
            );
        }
        let ann = accounts.iter().find(|a| a["username"] == "ann").unwrap();
        assert_eq!(ann["email"], "ann@example.com");
        assert_eq!(ann["name"], "ann name");
        assert_eq!(ann["role"], "user");
        assert!(ann["created_at"].as_str().unwrap().starts_with("20"));
        assert_eq!(accounts[0]["role"], "admin");
    }
}

#[tokio::test]
async fn an_operator_acts_as_an_admin_on_any_account() {
    let (_issuer, app, operator) = app_and_operator().await;
    app.create_user("ann").await;
    let account = assert_json(operator.get("/user/ann").await, StatusCode::OK).await;
    assert_eq!(account["username"], "ann");
    // The private directory shows an operator every email, as it shows an admin.
    let directory = assert_json(operator.get("/users").await, StatusCode::OK).await;
    assert!(directory
        .as_array()
        .unwrap()
        .iter()
        .any(|entry| entry["email"] == "ann@example.com"));
    let response = operator.delete("/user/ann").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(app.stored_user("ann").await.is_none());
    // Never the last admin, whoever asks.
    let response = operator.delete("/user/admin").await;
    assert_problem(response, StatusCode::CONFLICT, None).await;
    // An operator has no session to log out of.
    let response = operator.delete("/auth").await;
    assert_problem(response, StatusCode::UNAUTHORIZED, None).await;
}

/// Accounts written before the accounts index existed (or imported) carry no `listing`:
/// a start puts them in the index.
#[tokio::test]
async fn accounts_without_the_listing_attribute_are_listed_after_a_start() {
    let issuer = OidcIssuer::shared().await;
    let mut config = test_config();
    trusting(&issuer)(&mut config);
    let app = start(config.clone(), None).await;
    app.create_user("ann").await;
    let mut legacy = app.stored_user("ann").await.unwrap();
    legacy.remove("listing").expect("a new account is listed");
    legacy.insert("username".into(), AttributeValue::S("old".into()));
    app.dynamodb
        .put_item()
        .table_name(format!("{}users", app.table_prefix))
        .set_item(Some(legacy))
        .send()
        .await
        .unwrap();
    let token = issuer.token("api://users", &[ADMIN_SCOPE]).await;
    let listed = |app: &TestApp| {
        let operator = app.bearer(&token);
        async move {
            let page = assert_json(
                operator.get("/admin/accounts?limit=100").await,
                StatusCode::OK,
            )
            .await;
            page["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|account| account["username"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(&app).await, ["admin", "ann"]);

    let restarted = start(config, None).await;
    test_support::eventually(Duration::from_secs(30), "the old account is listed", || {
        let listed = listed(&restarted);
        async move { listed.await == ["admin", "ann", "old"] }
    })
    .await;
}
