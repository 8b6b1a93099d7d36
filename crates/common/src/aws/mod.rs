//! AWS clients built one way for every service, resource bootstrap for emulators and
//! tests, readiness checks, and the classification of SDK errors into "try later" or not.
//!
//! Endpoints come from the standard `AWS_ENDPOINT_URL` variable, so the same binary talks
//! to real AWS, LocalStack or moto.
//!
//! # Layout
//!
//! - this module: the SDK configuration and clients, the S3 bucket's bootstrap and
//!   readiness, and [`ensure_resources`].
//! - `error`: SDK failures as [`StorageError`]s, and the one mapping of those to
//!   statuses.
//! - `timeouts`: [`AwsTimeouts`], the SDK's waits (a setting `config` reads).
//! - [`dynamo`]: what the DynamoDB stores share: table definitions, items, consistent
//!   reads, pages and their sealed cursors, errors.
pub mod dynamo;
pub(crate) mod error;
pub(crate) mod timeouts;

use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::config::CommonConfig;
use crate::health::ReadinessCheck;

use self::dynamo::TableSpec;
pub use self::error::{aws_error, StorageError};
pub use self::timeouts::AwsTimeouts;

/// [`load_sdk_config_with`] the default [`AwsTimeouts`] (tests and tools).
pub async fn load_sdk_config(endpoint: Option<&str>) -> SdkConfig {
    load_sdk_config_with(endpoint, AwsTimeouts::default()).await
}

/// Loads region and credentials the standard way (env, profile, IRSA web identity) with
/// the service's `timeouts` (`CommonConfig::aws_timeouts`) and at most 3 attempts a call.
/// `endpoint` overrides `AWS_ENDPOINT_URL` (tests point services at a cuttable proxy).
pub async fn load_sdk_config_with(endpoint: Option<&str>, timeouts: AwsTimeouts) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(timeouts.attempt)
                .operation_timeout(timeouts.operation)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await
}

/// DynamoDB without the SDK's stalled-stream protection: it watches streaming bodies
/// (S3 objects) for throughput, costing a timer future and a check per poll of every
/// call, while DynamoDB's small JSON bodies are already bounded by the attempt timeout.
pub fn dynamodb(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let builder = aws_sdk_dynamodb::config::Builder::from(config).stalled_stream_protection(
        aws_sdk_dynamodb::config::StalledStreamProtectionConfig::disabled(),
    );
    aws_sdk_dynamodb::Client::from_conf(builder.build())
}

/// S3 with path-style addressing whenever an endpoint override is set: emulators on
/// `localhost` cannot serve virtual-host-style `bucket.localhost` names.
pub fn s3(config: &SdkConfig) -> aws_sdk_s3::Client {
    let builder =
        aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some());
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// Secrets Manager, like [`dynamodb`]: small JSON bodies, no stalled-stream protection.
pub fn secrets_manager(config: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    let builder = aws_sdk_secretsmanager::config::Builder::from(config).stalled_stream_protection(
        aws_sdk_secretsmanager::config::StalledStreamProtectionConfig::disabled(),
    );
    aws_sdk_secretsmanager::Client::from_conf(builder.build())
}

/// Creates a service's tables, and its bucket if it has one, unless they exist, when
/// `AUTO_CREATE_RESOURCES` is on (emulators and tests; production's come from Terraform).
pub async fn ensure_resources(
    config: &CommonConfig,
    dynamodb: &aws_sdk_dynamodb::Client,
    tables: &[TableSpec],
    bucket: Option<(&aws_sdk_s3::Client, &str)>,
) -> anyhow::Result<()> {
    if !config.auto_create_resources {
        return Ok(());
    }
    for table in tables {
        dynamo::ensure_table(dynamodb, &config.table_prefix, table).await?;
    }
    if let Some((s3, bucket)) = bucket {
        ensure_bucket(s3, bucket).await?;
    }
    Ok(())
}

/// Creates the bucket unless it exists (emulators and tests).
pub async fn ensure_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<()> {
    if client.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    match client.create_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(error)
            if error.as_service_error().is_some_and(|e| {
                e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()
            }) =>
        {
            Ok(())
        }
        Err(error) => Err(anyhow::Error::new(error).context(format!("creating bucket {bucket}"))),
    }
}

/// Readiness: the bucket answers `HeadBucket`.
pub struct S3BucketCheck {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
}

#[async_trait]
impl ReadinessCheck for S3BucketCheck {
    fn name(&self) -> &'static str {
        "s3"
    }

    async fn check(&self) -> Result<(), String> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| format!("{}: {}", self.bucket, short_error(&error)))
    }
}

pub(crate) fn short_error<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> String {
    match error {
        SdkError::TimeoutError(_) => "timed out".into(),
        SdkError::DispatchFailure(_) => "unreachable".into(),
        SdkError::ServiceError(e) => e.err().code().unwrap_or("service error").into(),
        _ => "unexpected response".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_longer_than_its_call_or_a_zero_timeout_is_refused() {
        let secs = Duration::from_secs;
        assert_eq!(
            AwsTimeouts::checked(secs(4), secs(10)),
            Ok(AwsTimeouts::default())
        );
        assert!(AwsTimeouts::checked(secs(10), secs(10)).is_ok());
        let longer = AwsTimeouts::checked(secs(11), secs(10)).unwrap_err();
        assert!(longer.contains("must not exceed"), "{longer}");
        assert!(AwsTimeouts::checked(Duration::ZERO, secs(10)).is_err());
        assert!(AwsTimeouts::checked(secs(1), Duration::ZERO).is_err());
    }

    #[tokio::test]
    async fn the_sdk_waits_as_long_as_the_settings_say() {
        let timeouts =
            AwsTimeouts::checked(Duration::from_secs(60), Duration::from_secs(120)).expect("valid");
        let config = load_sdk_config_with(Some("http://127.0.0.1:9"), timeouts).await;
        let applied = config.timeout_config().expect("timeouts are set");
        assert_eq!(
            applied.operation_attempt_timeout(),
            Some(Duration::from_secs(60))
        );
        assert_eq!(applied.operation_timeout(), Some(Duration::from_secs(120)));
        let default = load_sdk_config(None).await;
        let applied = default.timeout_config().expect("timeouts are set");
        assert_eq!(
            applied.operation_attempt_timeout(),
            Some(Duration::from_secs(4))
        );
        assert_eq!(applied.operation_timeout(), Some(Duration::from_secs(10)));
    }
}
