//! Per-credential HTTP clients, as crates.io's tests have them: a test asks its app for a
//! caller (`anonymous()`, `as_user(token)`, `tenant(id)`) and every request that caller
//! sends carries its credentials and headers, instead of each helper taking them as
//! arguments.
use std::future::Future;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

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
}

async fn send(request: RequestBuilder) -> Response {
    request.send().await.unwrap()
}
