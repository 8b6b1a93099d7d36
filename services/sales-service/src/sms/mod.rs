//! The SMS of each order: a sender for the provider's API, and the dispatcher that works
//! through the outbox (claim, send, record) with bounded retries, and what they count.
pub mod africastalking;
mod dispatcher;
mod metrics;

use std::time::Duration;

use async_trait::async_trait;

pub use africastalking::AfricasTalking;
pub use dispatcher::Dispatcher;
pub use metrics::{ReportResult, SmsMetrics};

/// What one send attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// The provider accepted the message for delivery.
    Sent { message_id: String },
    /// Worth another attempt later (timeouts, 5xx, 429, a rejected key that may be
    /// rotating); `after` when the provider said how long to wait.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Refused for now, by a rule with a time (Nigeria's do-not-disturb hours): tried again
    /// `after` from now, however far that is.
    Deferred { reason: String, after: Duration },
    /// Retrying cannot help (an invalid or blacklisted number, a malformed request).
    Reject { reason: String },
    /// The request may have reached the provider and been sent (a timeout or a dropped
    /// connection after sending): retried like `Retry`, but the resend may duplicate it.
    Unknown { reason: String },
}

#[async_trait]
pub trait SmsSender: Send + Sync {
    async fn send(&self, to: &str, message: &str) -> SendOutcome;
}
