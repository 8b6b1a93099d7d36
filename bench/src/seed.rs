//! The data the measured routes read: users, a customer with orders, access tokens.
use std::net::SocketAddr;

use anyhow::Context;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixture::{order, BENCH_PASSWORD, BENCH_USER, CLIENT_ID, CLIENT_SECRET};
use crate::run::Run;

pub const DIRECTORY_USERS: usize = 30;
pub const SEEDED_ORDERS: usize = 20;

impl Run {
    /// Signs up the bench user and the directory's users; returns a session token.
    pub async fn seed_users(&self, addr: SocketAddr) -> anyhow::Result<String> {
        let base = format!("http://{addr}");
        let sign_up = |username: String, password: &'static str| {
            let request = self.http.post(format!("{base}/user")).json(&json!({
                "username": username,
                "password": password,
                "name": format!("User {username}"),
                "email": format!("{username}@example.com"),
                "city": "Nairobi",
            }));
            async move { expect_status(request.send().await?, StatusCode::CREATED).await }
        };
        sign_up(BENCH_USER.to_owned(), BENCH_PASSWORD).await?;
        let names: Vec<String> = (0..DIRECTORY_USERS)
            .map(|i| format!("user{i:03}"))
            .collect();
        for chunk in names.chunks(4) {
            futures::future::try_join_all(
                chunk
                    .iter()
                    .map(|name| sign_up(name.clone(), "directory-password-1")),
            )
            .await?;
        }
        let login = self
            .http
            .post(format!("{base}/auth"))
            .json(&json!({"username": BENCH_USER, "password": BENCH_PASSWORD}))
            .send()
            .await?;
        let body = expect_status(login, StatusCode::OK).await?;
        text_field(&body, "token")
    }

    /// Creates a customer and a few orders; returns the customer's id.
    pub async fn seed_sales(&self, addr: SocketAddr, token: &str) -> anyhow::Result<String> {
        let base = format!("http://{addr}/api/v1/sales");
        let customer = self
            .http
            .post(format!("{base}/customers"))
            .bearer_auth(token)
            .json(&json!({"name": "Jane Wanjiku", "phone_number": "+254711000111"}))
            .send()
            .await?;
        let customer = expect_status(customer, StatusCode::CREATED).await?;
        let id = text_field(&customer, "id")?;
        for _ in 0..SEEDED_ORDERS {
            let response = self
                .http
                .post(format!("{base}/orders"))
                .bearer_auth(token)
                .json(&order(&id))
                .send()
                .await?;
            expect_status(response, StatusCode::CREATED).await?;
        }
        Ok(id)
    }

    /// An access token from the issuer (client credentials of the default client).
    pub async fn access_token(&self, audience: &str, scope: &str) -> anyhow::Result<String> {
        let response = self
            .http
            .post(format!("{}/token", self.issuer))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", audience),
                ("scope", scope),
            ])
            .send()
            .await?;
        let body = expect_status(response, StatusCode::OK).await?;
        text_field(&body, "access_token")
    }
}

fn text_field(body: &Value, name: &str) -> anyhow::Result<String> {
    body[name]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no `{name}` in the answer {body}"))
}

async fn expect_status(response: reqwest::Response, status: StatusCode) -> anyhow::Result<Value> {
    let actual = response.status();
    let url = response.url().clone();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(
        actual == status,
        "{url}: {actual} (expected {status}): {body}"
    );
    Ok(body)
}
