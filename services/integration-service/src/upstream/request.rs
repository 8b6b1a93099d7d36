//! What is sent upstream and what comes back.
use std::sync::Arc;

use bytes::Bytes;
use common::http_client::Idempotency;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use url::Url;

/// A response, body read in full.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Checks a 2xx response inside the retry loop, so an incomplete body is retried like a
/// dropped connection (idempotent requests only).
pub type Acceptance = fn(&Exchange) -> Result<(), String>;

/// One request to the upstream, relative to the tenant's base URL.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    /// Metric and log label, e.g. `list_users`.
    pub operation: Arc<str>,
    pub method: Method,
    /// Path below the base URL, starting with `/`, segments already safe.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub idempotency: Idempotency,
    pub accept: Option<Acceptance>,
    /// The upstream's rate-limit bucket this request counts against (see `throttle`).
    pub bucket: Arc<str>,
    /// Whether a 5xx answer is sent again as it was (no: the caller changes the request
    /// first, e.g. asks for a smaller page).
    pub repeat_server_errors: bool,
    /// A JSON body.
    pub json: Option<serde_json::Value>,
}

/// The bucket of upstreams with one quota for everything.
pub const WHOLE_UPSTREAM: &str = "all";

impl UpstreamRequest {
    pub fn new(
        operation: impl Into<Arc<str>>,
        method: Method,
        path: String,
        idempotency: Idempotency,
    ) -> Self {
        Self {
            operation: operation.into(),
            method,
            path,
            query: Vec::new(),
            idempotency,
            accept: None,
            bucket: Arc::from(WHOLE_UPSTREAM),
            repeat_server_errors: true,
            json: None,
        }
    }

    pub fn get(operation: impl Into<Arc<str>>, path: impl Into<String>) -> Self {
        Self::new(operation, Method::GET, path.into(), Idempotency::Idempotent)
    }

    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    pub fn bucket(mut self, bucket: Arc<str>) -> Self {
        self.bucket = bucket;
        self
    }

    /// A 5xx answer ends the call: the caller retries with a changed request.
    pub fn no_repeat_on_server_errors(mut self) -> Self {
        self.repeat_server_errors = false;
        self
    }

    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.json = Some(body);
        self
    }

    pub fn accept(mut self, accept: Acceptance) -> Self {
        self.accept = Some(accept);
        self
    }
}

/// `base` + `path`, keeping any path prefix of the base URL.
pub fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    url.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
    url.set_query(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_the_base_path_and_drops_its_query() {
        let base = Url::parse("https://partner.example/api/v2/?x=1").unwrap();
        assert_eq!(
            join(&base, "/providers").as_str(),
            "https://partner.example/api/v2/providers"
        );
        let bare = Url::parse("http://127.0.0.1:9102").unwrap();
        assert_eq!(
            join(&bare, "/api/v1/users").as_str(),
            "http://127.0.0.1:9102/api/v1/users"
        );
    }
}
