//! The data the measured routes read: users, a customer with orders, access tokens.
use std::net::SocketAddr;

use anyhow::Context;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixture::{order, BENCH_PASSWORD, BENCH_USER, CLIENT_ID, CLIENT_SECRET, TENANT};
use crate::run::Run;

pub const DIRECTORY_USERS: usize = 30;
pub const SEEDED_ORDERS: usize = 20;

impl Run {
    /// Signs up the bench user and the directory's users; returns a session token.
    pub async fn seed_users(&self, addr: SocketAddr) -> anyhow::Result<String> {
        self.sign_up(addr, BENCH_USER, BENCH_PASSWORD).await?;
        let names: Vec<String> = (0..DIRECTORY_USERS)
            .map(|i| format!("user{i:03}"))
            .collect();
        for chunk in names.chunks(4) {
            futures::future::try_join_all(
                chunk
                    .iter()
                    .map(|name| self.sign_up(addr, name, "directory-password-1")),
            )
            .await?;
        }
        self.login(addr, BENCH_USER, BENCH_PASSWORD).await
    }

    /// Signs `username` up, with the directory's details.
    pub async fn sign_up(
        &self,
        addr: SocketAddr,
        username: &str,
        password: &str,
    ) -> anyhow::Result<()> {
        let response = self
            .http
            .post(format!("http://{addr}/user"))
            .json(&json!({
                "username": username,
                "password": password,
                "name": format!("User {username}"),
                "email": format!("{username}@example.com"),
                "city": "Nairobi",
            }))
            .send()
            .await?;
        expect_status(response, StatusCode::CREATED).await?;
        Ok(())
    }

    /// A session token for `username`.
    pub async fn login(
        &self,
        addr: SocketAddr,
        username: &str,
        password: &str,
    ) -> anyhow::Result<String> {
        let response = self
            .http
            .post(format!("http://{addr}/auth"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await?;
        let body = expect_status(response, StatusCode::OK).await?;
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
            self.create_order(addr, token, &id).await?;
        }
        Ok(id)
    }

    /// One order for `customer`; its id.
    pub async fn create_order(
        &self,
        addr: SocketAddr,
        token: &str,
        customer: &str,
    ) -> anyhow::Result<String> {
        let response = self
            .http
            .post(format!("http://{addr}/api/v1/sales/orders"))
            .bearer_auth(token)
            .json(&order(customer))
            .send()
            .await?;
        let body = expect_status(response, StatusCode::CREATED).await?;
        text_field(&body, "id")
    }

    /// A provider sync for the bench tenant, run to its end; the run.
    pub async fn sync_providers(&self, addr: SocketAddr, token: &str) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("http://{addr}/providers/sync_providers"))
            .bearer_auth(token)
            .header("x-tenant-id", TENANT)
            .send()
            .await?;
        expect_status(response, StatusCode::OK)
            .await
            .context("the provider sync")
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
