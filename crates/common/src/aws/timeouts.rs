//! How long the SDK waits for AWS, a setting of its own so that `config` reads it without
//! importing the AWS clients (which take the config).
use std::time::Duration;

/// How long the SDK waits for AWS: one attempt, and a whole call with its retries
/// (`AWS_ATTEMPT_TIMEOUT_SECONDS`, `AWS_OPERATION_TIMEOUT_SECONDS`). Short by default, so
/// a dead endpoint becomes a 503 quickly instead of a hang; an emulator much slower than
/// AWS (bench's scale mode: moto walks a whole table per index Query) needs longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsTimeouts {
    pub attempt: Duration,
    pub operation: Duration,
}

impl Default for AwsTimeouts {
    fn default() -> Self {
        Self {
            attempt: Duration::from_secs(4),
            operation: Duration::from_secs(10),
        }
    }
}

impl AwsTimeouts {
    /// Both at least a millisecond, and an attempt no longer than the call it is part of.
    pub fn checked(attempt: Duration, operation: Duration) -> Result<Self, String> {
        if attempt < Duration::from_millis(1) || operation < Duration::from_millis(1) {
            return Err(
                "AWS_ATTEMPT_TIMEOUT_SECONDS and AWS_OPERATION_TIMEOUT_SECONDS must be above 0"
                    .into(),
            );
        }
        if attempt > operation {
            return Err(format!(
                "AWS_ATTEMPT_TIMEOUT_SECONDS ({} s) must not exceed AWS_OPERATION_TIMEOUT_SECONDS ({} s)",
                attempt.as_secs_f64(),
                operation.as_secs_f64()
            ));
        }
        Ok(Self { attempt, operation })
    }
}
