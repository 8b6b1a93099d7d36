//! How upstream calls fail: the outcome callers see ([`UpstreamError`]) and how one
//! attempt failed (`AttemptError`), which decides whether another is made.
use std::time::Duration;

use reqwest::StatusCode;

use super::credentials::AuthError;
use super::request::Exchange;

/// Why an upstream call failed, after whatever retrying was allowed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The tenant's rate limit is used up beyond the caller's deadline.
    #[error("the upstream rate limit is exhausted; retry in {}s", .retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    /// The tenant's concurrency cap stayed full until the deadline.
    #[error("too many concurrent calls for this tenant")]
    Busy,
    /// Timeouts, refused connections or 5xx, after the allowed attempts.
    #[error("{0}")]
    Unavailable(String),
    /// A non-idempotent call failed in a way that leaves open whether it took effect.
    #[error("{0}")]
    OutcomeUnknown(String),
    #[error("tenant credentials rejected: {0}")]
    CredentialsRejected(String),
    #[error("tenant credentials missing: {0}")]
    CredentialsMissing(String),
    /// The upstream answered something unusable, after the allowed attempts.
    #[error("{0}")]
    InvalidResponse(String),
}

impl From<AuthError> for UpstreamError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Rejected(why) => Self::CredentialsRejected(why),
            AuthError::Missing(why) => Self::CredentialsMissing(why),
            AuthError::Unavailable(why) => Self::Unavailable(why),
            AuthError::RateLimited(retry_after) => Self::RateLimited { retry_after },
        }
    }
}

/// How one attempt failed.
pub(super) enum AttemptError {
    Transport(reqwest::Error),
    /// 429 or 5xx.
    Status(Exchange),
    /// 401 with credentials that are now forgotten: try once more with fresh ones.
    Reauthenticate,
    /// 401 asking for the DPoP nonce it hands out: try once more with it.
    DpopNonce,
    /// The rate-limit wait does not fit the deadline.
    Throttled(Duration),
    Auth(AuthError),
    Invalid(String),
    DeadlineExceeded,
}

impl AttemptError {
    pub(super) fn reason(&self) -> &'static str {
        match self {
            Self::Transport(error) if error.is_timeout() => "timeout",
            Self::Transport(error) if error.is_connect() => "connect",
            Self::Transport(_) => "transport",
            Self::Status(exchange) if exchange.status == StatusCode::TOO_MANY_REQUESTS => {
                "rate_limited"
            }
            Self::Status(_) => "server_error",
            Self::Reauthenticate => "reauthenticate",
            Self::DpopNonce => "dpop_nonce",
            Self::Invalid(_) => "invalid_response",
            Self::Throttled(_) | Self::Auth(_) | Self::DeadlineExceeded => "other",
        }
    }
}

/// Read here, beside the error it may be: `request` (what is sent and what comes back)
/// depends on nothing of this module.
impl Exchange {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, UpstreamError> {
        serde_json::from_slice(&self.body).map_err(|error| {
            UpstreamError::InvalidResponse(format!("unexpected response body: {error}"))
        })
    }
}
