//! Table definitions: the single source of truth for keys, indexes and TTL. Services create
//! their tables from these in dev/tests, print them with `<service> print-tables`, and CI
//! checks Terraform against that output.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use serde::{Deserialize, Serialize};

use crate::aws::short_error;
use crate::health::ReadinessCheck;

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
