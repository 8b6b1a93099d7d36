//! Per-credential HTTP clients, as crates.io's tests have them: a test asks its app for a
//! caller (`app.anonymous()`, `app.bearer(token)`, `app.authorized()`) and every request
//! that caller sends carries its credentials and headers, instead of each helper taking
//! them as arguments.
use std::future::Future;
use std::time::Duration;

use reqwest::{Body, Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::wait::eventually;

/// One caller of a running service: its base URL, bearer token (if any) and headers.
#[derive(Clone)]
pub struct Caller {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
    headers: Vec<(String, String)>,
}

impl Caller {
    /// A caller without credentials, on the service at `base` (`http://127.0.0.1:PORT`).
    pub fn anonymous(client: &reqwest::Client, base: &str) -> Self {
        Self {
            client: client.clone(),
            base: base.to_owned(),
            token: None,
            headers: Vec::new(),
        }
    }

    /// The same caller presenting `token` as `Authorization: Bearer`.
    pub fn bearer(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// The same caller sending `name: value` with every request.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A request to `path` with the caller's credentials and headers, to finish and send.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        request
    }

    /// `GET path`. The future owns its request, so a caller made on the spot may send it.
    pub fn get(&self, path: &str) -> impl Future<Output = Response> + Send + 'static {
        send(self.request(Method::GET, path))
    }

    /// `POST path` with a JSON body.
    pub fn post(
        &self,
        path: &str,
        body: &Value,
    ) -> impl Future<Output = Response> + Send + 'static {
        send(self.request(Method::POST, path).json(body))
    }

    /// `PUT path` with a JSON body.
    pub fn put(&self, path: &str, body: &Value) -> impl Future<Output = Response> + Send + 'static {
        send(self.request(Method::PUT, path).json(body))
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> impl Future<Output = Response> + Send + 'static {
        send(self.request(Method::DELETE, path))
    }

    /// `method path` with `body` as written, declared as `content_type`: a body no JSON
    /// serialiser touched, an image, a form.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> impl Future<Output = Response> + Send + 'static {
        send(
            self.request(method, path)
                .header("content-type", content_type)
                .body(body),
        )
    }
}

async fn send(request: RequestBuilder) -> Response {
    request.send().await.unwrap()
}

/// The callers of one running service, which each service's `TestApp` holds (and derefs
/// to), so that every test suite speaks the same words: `app.anonymous()`,
/// `app.bearer(token)`, `app.authorized()` (the app's usual token), `app.url(path)`,
/// `app.metrics()`, `app.wait_until_ready(status)`.
#[derive(Clone)]
pub struct Callers {
    pub client: reqwest::Client,
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// The token `authorized()` presents, when the service has a usual one.
    pub token: Option<String>,
}

impl Callers {
    pub fn new(address: &str, token: Option<String>) -> Self {
        Self {
            client: reqwest::Client::new(),
            address: address.to_owned(),
            token,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A caller without credentials.
    pub fn anonymous(&self) -> Caller {
        Caller::anonymous(&self.client, &self.address)
    }

    /// A caller presenting `token` (a session, an access token).
    pub fn bearer(&self, token: &str) -> Caller {
        self.anonymous().bearer(token)
    }

    /// The tests' usual caller: the app's usual token.
    pub fn authorized(&self) -> Caller {
        self.bearer(self.token.as_deref().expect("this app has no usual token"))
    }

    /// The Prometheus text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        self.anonymous().get("/metrics").await.text().await.unwrap()
    }

    /// Polls `GET /readyz` until it answers `status` (30 s at most: a busy machine takes a
    /// while to notice an outage or to reconnect) and returns the body.
    pub async fn wait_until_ready(&self, status: StatusCode) -> Value {
        let caller = self.anonymous();
        eventually(
            Duration::from_secs(30),
            &format!("/readyz answering {status}"),
            || async {
                let response = caller.get("/readyz").await;
                let seen = response.status();
                let body: Value = response.json().await.unwrap_or_default();
                if seen == status {
                    Ok(body)
                } else {
                    Err(format!("{seen} {body}"))
                }
            },
        )
        .await
    }
}
