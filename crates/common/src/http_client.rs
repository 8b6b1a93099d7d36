//! Outbound HTTP: one way to build a client (timeouts always set, redirects never
//! followed), to read an answer's body under a cap, and to classify an outcome for
//! [`crate::retry::RetryPolicy`].

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

use crate::retry::Retry;

/// A client with connect and whole-request timeouts: no outbound call can hang forever.
/// Redirects are never followed (a tenant's upstream or the SMS provider answering `302`
/// to an internal address must not make the service call it): a 3xx is the answer.
pub fn client(request_timeout: Duration) -> reqwest::Client {
    builder(request_timeout)
        .build()
        .expect("static client settings are valid")
}

/// The settings of [`client`] (timeouts, no redirects), for a caller that adds its own.
pub fn builder(request_timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(3).min(request_timeout))
        .timeout(request_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("platform/", env!("CARGO_PKG_VERSION")))
}

/// Why an answer's body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the answer's body is over {limit} bytes")]
    TooLarge { limit: usize },
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
}

/// Reads `response`'s body chunk by chunk, refusing it as soon as it passes `limit` bytes
/// (and at once when its `Content-Length` says it will): an upstream's answer is held in
/// memory only up to the caller's cap, never whole whatever its size.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<bytes::Bytes, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Whether a request may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Repeating it has the same effect as sending it once (GET, PUT, DELETE, or a POST
    /// the peer deduplicates).
    Idempotent,
    /// Repeating it may double its effect: only retried when the peer cannot have acted
    /// on it (connection never made, or an explicit 429/503 refusal).
    NotIdempotent,
}

/// Classifies a transport error: a failed connect never reached the peer, so it is safe
/// to retry even for non-idempotent calls; a timeout may have reached it.
pub fn classify_transport(error: &reqwest::Error, idempotency: Idempotency) -> Retry {
    let may_have_reached_peer =
        error.is_timeout() || error.is_request() || error.is_body() || error.is_decode();
    if error.is_connect() || (may_have_reached_peer && idempotency == Idempotency::Idempotent) {
        Retry::Backoff
    } else {
        Retry::No
    }
}

/// Classifies an HTTP status: 429 and 503 are refusals (safe to retry, after
/// `Retry-After` when given); other 5xx only for idempotent calls.
pub fn classify_status(status: StatusCode, headers: &HeaderMap, idempotency: Idempotency) -> Retry {
    let retry_after = retry_after(headers);
    let refusal =
        status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE;
    let transient = refusal || (status.is_server_error() && idempotency == Idempotency::Idempotent);
    match (transient, retry_after) {
        (false, _) => Retry::No,
        (true, Some(wait)) => Retry::After(wait),
        (true, None) => Retry::Backoff,
    }
}

/// `Retry-After` in delta-seconds (the form APIs send; HTTP dates are not worth parsing).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_retry_even_when_not_idempotent() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(
            classify_status(
                StatusCode::TOO_MANY_REQUESTS,
                &headers,
                Idempotency::NotIdempotent
            ),
            Retry::After(Duration::from_secs(2))
        );
        assert_eq!(
            classify_status(
                StatusCode::BAD_GATEWAY,
                &HeaderMap::new(),
                Idempotency::NotIdempotent
            ),
            Retry::No
        );
        assert_eq!(
            classify_status(
                StatusCode::BAD_GATEWAY,
                &HeaderMap::new(),
                Idempotency::Idempotent
            ),
            Retry::Backoff
        );
        assert_eq!(
            classify_status(
                StatusCode::NOT_FOUND,
                &HeaderMap::new(),
                Idempotency::Idempotent
            ),
            Retry::No
        );
    }
}
