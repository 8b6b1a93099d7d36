//! Calls to the three services through their public APIs, and what can come back: the
//! answer, an RFC 9457 problem (shown to the person in words), or no answer at all.
//!
//! Every call carries the person's own credentials (an account holder's session token, or
//! an operator's access token for that service's audience) and, per contract 5, the
//! person's address: `X-Forwarded-For: <address>` with `X-Forwarder-Authorization: Bearer
//! <the console's own client-credentials token for that audience>`, which a service
//! honours only when that token verifies and names a trusted forwarder.

use std::net::IpAddr;
use std::time::Duration;

use common::error::Problem;
use reqwest::header::{HeaderMap, AUTHORIZATION};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

/// The services, by the audience their tokens are for.
#[derive(Debug, Clone, Copy)]
pub enum Service {
    Users,
    Sales,
    Integrations,
}

/// A service the console calls.
#[derive(Clone)]
pub struct Upstream {
    /// How the person knows it: "user-service".
    pub name: &'static str,
    base: Url,
    http: reqwest::Client,
}

/// Who a call is made for.
#[derive(Clone, Default)]
pub struct Caller {
    /// The person's bearer token for this service, if signed in.
    pub bearer: Option<String>,
    /// The person's address and the console's forwarder token for this service.
    pub forwarded: Option<(IpAddr, String)>,
}

/// What a service answered, body decoded, with the headers the pages need (`Link`).
pub struct Answer<T> {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: T,
}

/// Why a call gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The service answered with a problem: the person reads its detail and fields.
    #[error("{service} answered {}", problem.status)]
    Problem {
        service: &'static str,
        problem: Box<Problem>,
        /// `Retry-After`, when the service said when to try again.
        retry_after: Option<Duration>,
    },
    /// No answer: refused, timed out, or not what the API promises.
    #[error("{service} is unreachable: {why}")]
    Unreachable { service: &'static str, why: String },
}

impl UpstreamError {
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Problem { problem, .. } => Some(problem.status),
            Self::Unreachable { .. } => None,
        }
    }
}

impl Upstream {
    pub fn new(name: &'static str, base: Url, timeout: Duration) -> Self {
        Self {
            name,
            base,
            http: common::http_client::client(timeout),
        }
    }

    /// A request to `path` (with its query, if any) of this service.
    pub fn request(&self, method: Method, path: &str, caller: &Caller) -> RequestBuilder {
        let url = self.base.join(path).expect("the console's paths are valid");
        let mut request = self.http.request(method, url);
        if let Some(token) = &caller.bearer {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some((address, forwarder)) = &caller.forwarded {
            request = request
                .header("x-forwarded-for", address.to_string())
                .header("x-forwarder-authorization", format!("Bearer {forwarder}"));
        }
        request
    }

    /// Sends `request` and decodes a 2xx JSON body; anything else is an [`UpstreamError`].
    pub async fn send<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> Result<Answer<T>, UpstreamError> {
        let response = request
            .send()
            .await
            .map_err(|error| self.unreachable(error))?;
        let status = response.status();
        let headers = response.headers().clone();
        if status.is_success() {
            let bytes = response.bytes().await.map_err(|e| self.unreachable(e))?;
            // A 204 has no body: `()` and `Option`s read it as null.
            let body = if bytes.is_empty() {
                b"null".as_slice()
            } else {
                &bytes
            };
            let body = serde_json::from_slice(body).map_err(|error| {
                tracing::warn!(service = self.name, %error, "unexpected answer");
                UpstreamError::Unreachable {
                    service: self.name,
                    why: format!("its answer was not what its API promises ({error})"),
                }
            })?;
            return Ok(Answer {
                status,
                headers,
                body,
            });
        }
        let retry_after = common::http_client::retry_after(&headers);
        let bytes = response.bytes().await.unwrap_or_default();
        let problem = serde_json::from_slice::<Problem>(&bytes).unwrap_or_else(|_| {
            // Not a problem body (a proxy's error page): the status alone.
            Problem::new(status)
        });
        if status.is_server_error() {
            tracing::warn!(service = self.name, status = status.as_u16(), detail = ?problem.detail, "upstream error");
        }
        Err(UpstreamError::Problem {
            service: self.name,
            problem: Box::new(problem),
            retry_after,
        })
    }

    fn unreachable(&self, error: reqwest::Error) -> UpstreamError {
        let why = if error.is_timeout() {
            "it did not answer in time".to_owned()
        } else if error.is_connect() {
            "the connection was refused".to_owned()
        } else {
            "the call failed".to_owned()
        };
        tracing::warn!(service = self.name, error = %error, "upstream unreachable");
        UpstreamError::Unreachable {
            service: self.name,
            why,
        }
    }
}

/// The `next` cursor of a `Link: <...?after=X>; rel="next"` header (user-service's
/// directory, Okta through integration-service), by the query parameter that carries it.
pub fn next_link_cursor(headers: &HeaderMap, parameter: &str) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find(|link| link.contains("rel=\"next\"") || link.contains("rel=next"))
        .and_then(|link| {
            let target = link.split(';').next()?.trim();
            let target = target.strip_prefix('<')?.strip_suffix('>')?;
            let url = Url::parse("http://link.invalid").ok()?.join(target).ok()?;
            url.query_pairs()
                .find(|(name, _)| name == parameter)
                .map(|(_, value)| value.into_owned())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cursor_of_the_next_link() {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::LINK,
            r#"</users?limit=2&after=abc%3D>; rel="next""#.parse().unwrap(),
        );
        assert_eq!(next_link_cursor(&headers, "after").as_deref(), Some("abc="));
        assert_eq!(next_link_cursor(&headers, "next"), None);
        assert_eq!(next_link_cursor(&HeaderMap::new(), "after"), None);
    }
}
