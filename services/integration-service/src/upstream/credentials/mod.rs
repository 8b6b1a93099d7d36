//! How the service authenticates to a tenant's upstream API. One implementation per
//! method; the tenant configuration picks one, so an integration never sees credentials.
//!
//! Credentials come from the [`SecretStore`]; when the upstream rejects them the
//! [`Upstream`](super::Upstream) calls [`Authenticator::invalidate`] and tries once more,
//! which picks up a rotated secret without a restart.
//!
//! One file per method: [`api_token`], [`oauth_client`] (private key JWT with DPoP, or client secret), [`checksum`].

use async_trait::async_trait;
use common::secrets::{Secret, SecretError, SecretStore};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use tokio::time::Instant;

mod api_token;
mod checksum;
mod oauth_client;

pub use api_token::ApiToken;
pub use checksum::{checksum, ChecksumToken, CHECKSUM_HEADER, TOKEN_HEADER};
pub use oauth_client::{certificate_thumbprint, AssertionStyle, ClientAuthentication, OauthClient};

/// Why a request could not be given credentials.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// The upstream's token endpoint refused the tenant's credentials.
    #[error("credentials rejected: {0}")]
    Rejected(String),
    /// The tenant's secret does not exist or is not usable (operator mistake).
    #[error("credentials missing: {0}")]
    Missing(String),
    /// The secret store or the token endpoint did not answer (after retries).
    #[error("authentication unavailable: {0}")]
    Unavailable(String),
    /// The token endpoint's own rate limit is used up for longer than the call may wait.
    #[error("the token endpoint's rate limit is used up")]
    RateLimited(std::time::Duration),
}

#[async_trait]
pub trait Authenticator: Send + Sync {
    /// Adds credentials to `request` (fetching and caching whatever they need).
    async fn authorize(
        &self,
        request: &mut reqwest::Request,
        deadline: Instant,
    ) -> Result<(), AuthError>;
    /// The upstream rejected the credentials: forget every cached piece of them.
    async fn invalidate(&self);
    /// Reads what an upstream answer tells the credentials (a DPoP nonce). True when the
    /// answer is a 401 asking for a nonce just handed out: the request should be sent again
    /// at once, with the same credentials and a fresh proof.
    fn challenged(&self, _status: StatusCode, _headers: &HeaderMap) -> bool {
        false
    }
}

fn sensitive(value: String) -> HeaderValue {
    let mut value = HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

/// Reads one credential from a secret that is either the bare value or a JSON object
/// holding it under `field` (so one secret can carry several fields).
async fn read_secret(
    secrets: &dyn SecretStore,
    name: &str,
    field: &str,
) -> Result<Secret, AuthError> {
    let secret = secrets.get(name).await.map_err(|error| match error {
        SecretError::NotFound(_) => AuthError::Missing(format!("secret {name} does not exist")),
        SecretError::Unavailable(_) => {
            tracing::warn!(%error, "secret store unavailable");
            AuthError::Unavailable("the secret store is unavailable".into())
        }
    })?;
    let raw = secret.expose().trim();
    if !raw.starts_with('{') {
        return Ok(Secret::new(raw));
    }
    serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|json| json.get(field)?.as_str().map(Secret::new))
        .ok_or_else(|| AuthError::Missing(format!("secret {name} has no string field `{field}`")))
}

/// A transport error described without its URL (which may carry query data).
pub fn transport_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "connection dropped while reading the response"
    } else {
        "request failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn secrets_may_be_bare_or_json_fields() {
        std::env::set_var("SECRET_AUTH_TEST_BARE", "tok-1");
        std::env::set_var(
            "SECRET_AUTH_TEST_JSON",
            r#"{"api_token": "tok-2", "other": 1}"#,
        );
        let store = common::secrets::EnvSecretStore;
        let bare = read_secret(&store, "auth-test/bare", "api_token")
            .await
            .unwrap();
        assert_eq!(bare.expose(), "tok-1");
        let json = read_secret(&store, "auth-test/json", "api_token")
            .await
            .unwrap();
        assert_eq!(json.expose(), "tok-2");
        let missing = read_secret(&store, "auth-test/json", "private_key").await;
        assert!(matches!(missing, Err(AuthError::Missing(m)) if m.contains("private_key")));
        let absent = read_secret(&store, "auth-test/absent", "api_token").await;
        assert!(matches!(absent, Err(AuthError::Missing(_))));
    }
}
