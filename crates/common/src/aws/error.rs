//! What a store answers when storage fails, in storage's terms ([`StorageError`]), and the
//! one place that turns it into an HTTP answer (`From<StorageError> for Problem`), which
//! every service's `error.rs` calls.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::error::Problem;

/// A failed storage call or read, as the stores report it. The cause is logged where the
/// failure is met, so background tasks, which never answer HTTP, log it too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The store is down, throttling or busy: worth another try shortly. Says which store
    /// and what it is doing, for the client.
    #[error("{0}")]
    Unavailable(String),
    /// A listing's cursor this API did not make, or one that does not fit the listing.
    #[error("not a cursor returned by this API")]
    BadCursor,
    /// A call that failed otherwise, or an item the code cannot read: says what failed.
    #[error("{0}")]
    Internal(String),
}

impl StorageError {
    /// The store `what` is throttling or unreachable.
    pub fn unavailable(what: &str) -> Self {
        Self::Unavailable(format!("{what} is temporarily unavailable; retry shortly"))
    }
}

/// The status of every storage failure: 503 with `Retry-After` for an unavailable store,
/// 400 for a bad cursor, a bare 500 otherwise (its cause is in the log). A listing route
/// names its own cursor parameter in that 400 (`PageQuery::problem`): the store does not
/// know it.
impl From<StorageError> for Problem {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Unavailable(detail) => Problem::unavailable(detail),
            StorageError::BadCursor => Problem::malformed("not a cursor returned by this API"),
            StorageError::Internal(_) => Problem::internal(),
        }
    }
}

/// True when the failure says "the dependency is not answering right now" (connection
/// refused, timeout, 5xx, throttling), as opposed to a failure a retry will not mend.
fn is_unavailable<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            code.contains("Throttl")
                || code == "ProvisionedThroughputExceededException"
                || code == "RequestLimitExceeded"
                || code == "InternalServerError"
                || code == "ServiceUnavailable"
        }
        _ => false,
    }
}

/// The storage error for an AWS failure of `what` (a store), its cause logged: unavailable
/// when the dependency is down or throttling, internal otherwise.
pub fn aws_error<E, R>(what: &str, error: SdkError<E, R>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if is_unavailable(&error) {
        tracing::warn!(error = %DisplayErrorContext(&error), "{what}: dependency unavailable");
        StorageError::unavailable(what)
    } else {
        let failed = format!("{what} failed");
        tracing::error!(error = %DisplayErrorContext(&error), "{failed}");
        StorageError::Internal(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_storage_error_has_its_status() {
        let unavailable = Problem::from(StorageError::unavailable("The user store"));
        assert_eq!(unavailable.status, 503);
        assert_eq!(
            unavailable.detail.as_deref(),
            Some("The user store is temporarily unavailable; retry shortly")
        );
        let cursor = Problem::from(StorageError::BadCursor);
        assert_eq!(cursor.status, 400);
        let internal = Problem::from(StorageError::Internal("The user store failed".into()));
        assert_eq!(internal.status, 500);
        assert!(
            !internal.to_string().contains("user store"),
            "causes stay in the log"
        );
    }
}
