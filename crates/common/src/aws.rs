//! AWS clients built one way for every service, table/bucket bootstrap for emulators and
//! tests, readiness checks, and the classification of SDK errors into "try later" or not.
//!
//! Endpoints come from the standard `AWS_ENDPOINT_URL` variable, so the same binary talks
//! to real AWS, LocalStack or moto.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::config::CommonConfig;
use crate::error::Problem;
use crate::health::ReadinessCheck;

/// Loads region and credentials the standard way (env, profile, IRSA web identity) with
/// timeouts short enough that a dead endpoint becomes a 503 quickly instead of a hang.
/// `endpoint` overrides `AWS_ENDPOINT_URL` (tests point services at a cuttable proxy).
pub async fn load_sdk_config(endpoint: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(4))
                .operation_timeout(Duration::from_secs(10))
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

/// True when the failure says "the dependency is not answering right now" (connection
/// refused, timeout, 5xx, throttling), which callers surface as 503 rather than 500.
pub fn is_unavailable<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
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

/// The problem a route returns for an AWS failure: 503 when the dependency is down or
/// throttling, 500 (details logged, not returned) otherwise.
pub fn problem_for<E, R>(what: &str, error: &SdkError<E, R>) -> Problem
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if is_unavailable(error) {
        tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(error), "{what}: dependency unavailable");
        Problem::unavailable(format!("{what} is temporarily unavailable; retry shortly"))
    } else {
        tracing::error!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(error), "{what} failed");
        Problem::internal()
    }
}

/// Reads a stored item into `T`. An item the code cannot read is a bug or a bad manual edit,
/// not the client's fault: it is logged (without its content) and answered 500.
pub fn from_item<T: serde::de::DeserializeOwned>(
    store: &str,
    item: HashMap<String, AttributeValue>,
) -> Result<T, Problem> {
    serde_dynamo::from_item(item).map_err(|error| {
        tracing::error!(%error, "unreadable item in {store}");
        Problem::internal()
    })
}

/// Writes `value` as an item; the records the services store always convert.
pub fn to_item<T: Serialize>(value: &T) -> HashMap<String, AttributeValue> {
    serde_dynamo::to_item(value).expect("records serialise to DynamoDB items")
}

/// True when a write failed only because its condition expression did not hold.
pub fn is_conditional_failure<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    matches!(error, SdkError::ServiceError(e) if e.err().code() == Some("ConditionalCheckFailedException"))
}

/// The problem for a failed paginated read (Scan/Query with a client's cursor): DynamoDB
/// rejects a start key that does not fit the table with a `ValidationException`, which is
/// the client's bad cursor (400), not a server fault.
pub fn paging_problem<E, R>(what: &str, error: &SdkError<E, R>) -> Problem
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error {
        SdkError::ServiceError(e) if e.err().code() == Some("ValidationException") => {
            invalid_cursor()
        }
        _ => problem_for(what, error),
    }
}

fn invalid_cursor() -> Problem {
    Problem::malformed("next: not a cursor returned by this API").field("next", "invalid cursor")
}

// ---------------------------------------------------------------------------------------
// Table definitions: the single source of truth for keys, indexes and TTL. Services create
// their tables from these in dev/tests, print them with `<service> print-tables`, and CI
// checks Terraform against that output.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttributeType {
    S,
    N,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAttribute {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub kind: AttributeType,
}

impl KeyAttribute {
    pub const fn string(name: &'static str) -> Self {
        Self {
            name,
            kind: AttributeType::S,
        }
    }
    pub const fn number(name: &'static str) -> Self {
        Self {
            name,
            kind: AttributeType::N,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IndexProjection {
    KeysOnly,
    All,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSpec {
    pub name: &'static str,
    pub hash_key: KeyAttribute,
    pub range_key: Option<KeyAttribute>,
    pub projection: IndexProjection,
}

/// A DynamoDB table as the service expects it (name without the environment prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSpec {
    pub name: &'static str,
    pub hash_key: KeyAttribute,
    pub range_key: Option<KeyAttribute>,
    pub ttl_attribute: Option<&'static str>,
    pub global_secondary_indexes: Vec<IndexSpec>,
}

impl TableSpec {
    pub fn full_name(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.name)
    }
}

fn scalar(kind: AttributeType) -> ScalarAttributeType {
    match kind {
        AttributeType::S => ScalarAttributeType::S,
        AttributeType::N => ScalarAttributeType::N,
    }
}

fn key_schema(hash: &KeyAttribute, range: Option<&KeyAttribute>) -> Vec<KeySchemaElement> {
    let element = |attr: &KeyAttribute, key_type| {
        KeySchemaElement::builder()
            .attribute_name(attr.name)
            .key_type(key_type)
            .build()
            .expect("name and key type are set")
    };
    let mut schema = vec![element(hash, KeyType::Hash)];
    if let Some(range) = range {
        schema.push(element(range, KeyType::Range));
    }
    schema
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
        ensure_table(dynamodb, &config.table_prefix, table).await?;
    }
    if let Some((s3, bucket)) = bucket {
        ensure_bucket(s3, bucket).await?;
    }
    Ok(())
}

/// Creates the table (on-demand billing, its GSIs and TTL) unless it exists, and waits
/// until it is active. For emulators and tests; production tables come from Terraform.
pub async fn ensure_table(
    client: &aws_sdk_dynamodb::Client,
    prefix: &str,
    spec: &TableSpec,
) -> anyhow::Result<()> {
    let name = spec.full_name(prefix);
    let mut attributes: HashMap<&str, AttributeType> = HashMap::new();
    let keys = std::iter::once(&spec.hash_key)
        .chain(spec.range_key.iter())
        .chain(
            spec.global_secondary_indexes
                .iter()
                .flat_map(|index| std::iter::once(&index.hash_key).chain(index.range_key.iter())),
        );
    for key in keys {
        attributes.insert(key.name, key.kind);
    }
    let mut request = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&spec.hash_key, spec.range_key.as_ref())));
    for (attribute, kind) in attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(scalar(kind))
                .build()?,
        );
    }
    for index in &spec.global_secondary_indexes {
        let projection = match index.projection {
            IndexProjection::KeysOnly => ProjectionType::KeysOnly,
            IndexProjection::All => ProjectionType::All,
        };
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .set_key_schema(Some(key_schema(&index.hash_key, index.range_key.as_ref())))
                .projection(Projection::builder().projection_type(projection).build())
                .build()?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(error) => {
            let detail = aws_sdk_dynamodb::error::DisplayErrorContext(&error).to_string();
            anyhow::bail!("creating table {name}: {detail}")
        }
    }
    wait_until_active(client, &name).await?;
    if let Some(ttl) = spec.ttl_attribute {
        let enabled = client
            .update_time_to_live()
            .table_name(&name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(ttl)
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await;
        if let Err(error) = enabled {
            // Already enabled is fine (a second replica, or a restart).
            let message = error
                .as_service_error()
                .and_then(|e| e.message())
                .unwrap_or_default();
            if !message.contains("already enabled") {
                return Err(anyhow::Error::new(error).context(format!("enabling TTL on {name}")));
            }
        }
    }
    Ok(())
}

async fn wait_until_active(client: &aws_sdk_dynamodb::Client, name: &str) -> anyhow::Result<()> {
    for _ in 0..60 {
        let table = client.describe_table().table_name(name).send().await?;
        let status = table.table().and_then(|t| t.table_status());
        if status == Some(&aws_sdk_dynamodb::types::TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    anyhow::bail!("table {name} did not become active")
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

/// Readiness: every listed table answers `DescribeTable`.
pub struct DynamoTablesCheck {
    pub client: aws_sdk_dynamodb::Client,
    pub tables: Vec<String>,
}

#[async_trait]
impl ReadinessCheck for DynamoTablesCheck {
    fn name(&self) -> &'static str {
        "dynamodb"
    }

    async fn check(&self) -> Result<(), String> {
        for table in &self.tables {
            self.client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(|error| format!("{table}: {}", short_error(&error)))?;
        }
        Ok(())
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

fn short_error<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> String {
    match error {
        SdkError::TimeoutError(_) => "timed out".into(),
        SdkError::DispatchFailure(_) => "unreachable".into(),
        SdkError::ServiceError(e) => e.err().code().unwrap_or("service error").into(),
        _ => "unexpected response".into(),
    }
}

// ---------------------------------------------------------------------------------------
// Pagination cursors: DynamoDB's LastEvaluatedKey handed to clients as an opaque string.
// ---------------------------------------------------------------------------------------

/// Encodes a `LastEvaluatedKey` (string and number attributes) as an opaque URL-safe cursor.
pub fn encode_cursor(key: &HashMap<String, AttributeValue>) -> String {
    let plain: HashMap<&str, serde_json::Value> = key
        .iter()
        .filter_map(|(name, value)| match value {
            AttributeValue::S(s) => Some((name.as_str(), serde_json::json!({ "S": s }))),
            AttributeValue::N(n) => Some((name.as_str(), serde_json::json!({ "N": n }))),
            _ => None,
        })
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&plain).expect("plain JSON"))
}

/// Decodes a cursor made by [`encode_cursor`] for a table or index whose key attributes
/// are `key_names`; anything else is the client's mistake (400) and never reaches DynamoDB.
pub fn decode_cursor(
    cursor: &str,
    key_names: &[&str],
) -> Result<HashMap<String, AttributeValue>, Problem> {
    let invalid = invalid_cursor;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let plain: HashMap<String, HashMap<String, String>> =
        serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let mut names: Vec<&str> = plain.keys().map(String::as_str).collect();
    let mut expected = key_names.to_vec();
    names.sort_unstable();
    expected.sort_unstable();
    if names != expected {
        return Err(invalid());
    }
    plain
        .into_iter()
        .map(|(name, typed)| {
            let (kind, value) = typed.into_iter().next().ok_or_else(invalid)?;
            let value = match kind.as_str() {
                "S" => AttributeValue::S(value),
                "N" => AttributeValue::N(value),
                _ => return Err(invalid()),
            };
            Ok((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let key = HashMap::from([
            ("username".to_owned(), AttributeValue::S("ada".into())),
            ("created".to_owned(), AttributeValue::N("17".into())),
        ]);
        let cursor = encode_cursor(&key);
        assert_eq!(
            decode_cursor(&cursor, &["created", "username"]).unwrap(),
            key
        );
        assert!(
            decode_cursor(&cursor, &["username"]).is_err(),
            "keys must match the table's"
        );
    }

    #[test]
    fn garbage_cursor_is_a_400_naming_next() {
        let problem = decode_cursor("not*base64", &["id"]).unwrap_err();
        assert_eq!(problem.status, 400);
        assert_eq!(problem.errors[0].field, "next");
        assert!(
            decode_cursor("e30", &["id"]).is_err(),
            "an empty key `{{}}` is no cursor"
        );
    }
}
