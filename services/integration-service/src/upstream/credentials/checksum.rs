//! The partner's token-and-checksum scheme: the `checksum` method.
use std::time::Duration;

use async_trait::async_trait;
use common::http_client::{classify_status, classify_transport, Idempotency};
use common::retry::{Retry, RetryPolicy};
use common::secrets::Secret;
use reqwest::header::HeaderName;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::{sensitive, transport_kind, AuthError, Authenticator};

pub const CHECKSUM_HEADER: &str = "x-request-checksum";
pub const TOKEN_HEADER: &str = "super-secure-token";

/// `hex(sha256(token + request_path))`.
pub fn checksum(token: &str, request_path: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(token.as_bytes());
    hasher.update(request_path.as_bytes());
    hex::encode(hasher.finalize())
}

/// The partner scheme: `GET <base>/auth` answers with a token in `Super-Secure-Token`;
/// every call carries `X-Request-Checksum: hex(sha256(token + request path))`. The token
/// is kept until the partner rejects a checksum made with it.
pub struct ChecksumToken {
    http: reqwest::Client,
    auth_url: Url,
    timeout: Duration,
    policy: RetryPolicy,
    token: Mutex<Option<Secret>>,
}

impl ChecksumToken {
    pub fn new(
        http: reqwest::Client,
        base_url: &Url,
        timeout: Duration,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            http,
            auth_url: crate::upstream::join(base_url, "/auth"),
            timeout,
            policy,
            token: Mutex::new(None),
        }
    }

    async fn request_token(&self, deadline: Instant) -> Result<Secret, (String, Retry)> {
        let timeout = self
            .timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let response = self
            .http
            .get(self.auth_url.clone())
            .timeout(timeout.max(Duration::from_millis(1)))
            .send()
            .await
            .map_err(|error| {
                (
                    format!("GET /auth: {}", transport_kind(&error)),
                    classify_transport(&error, Idempotency::Idempotent),
                )
            })?;
        let status = response.status();
        if !status.is_success() {
            let retry = classify_status(status, response.headers(), Idempotency::Idempotent);
            return Err((format!("GET /auth answered {status}"), retry));
        }
        let token = response
            .headers()
            .get(TOKEN_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .map(Secret::new);
        // Read the body so a connection dropped mid-response counts as a failed attempt.
        response.bytes().await.map_err(|error| {
            (
                format!("GET /auth: {}", transport_kind(&error)),
                Retry::Backoff,
            )
        })?;
        token.ok_or_else(|| {
            (
                "GET /auth answered without a Super-Secure-Token header".to_owned(),
                Retry::Backoff,
            )
        })
    }
}

#[async_trait]
impl Authenticator for ChecksumToken {
    async fn authorize(
        &self,
        request: &mut reqwest::Request,
        deadline: Instant,
    ) -> Result<(), AuthError> {
        let mut cached = self.token.lock().await;
        let token = match cached.as_ref() {
            Some(token) => token.clone(),
            None => {
                let policy = RetryPolicy {
                    deadline: deadline.saturating_duration_since(Instant::now()),
                    ..self.policy.clone()
                };
                let token = policy
                    .run(
                        |_| self.request_token(deadline),
                        |(_, retry)| *retry,
                        |attempt, (why, _), _| {
                            tracing::warn!(attempt, why, "partner auth failed; retrying")
                        },
                    )
                    .await
                    .map_err(|(why, retry)| match retry {
                        Retry::No => AuthError::Rejected(why),
                        _ => AuthError::Unavailable(format!(
                            "{why} (after {} attempts)",
                            self.policy.max_attempts
                        )),
                    })?;
                *cached = Some(token.clone());
                token
            }
        };
        drop(cached);
        let path = match request.url().query() {
            Some(query) => format!("{}?{query}", request.url().path()),
            None => request.url().path().to_owned(),
        };
        request.headers_mut().insert(
            HeaderName::from_static(CHECKSUM_HEADER),
            sensitive(checksum(token.expose(), &path)),
        );
        Ok(())
    }

    async fn invalidate(&self) {
        *self.token.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_the_partner_vector() {
        assert_eq!(
            checksum("12345", "/providers"),
            "bf6fa075e6d928d530fd4516e1671526ff1fe7f953209f0941553927bf16e9f8"
        );
    }
}
