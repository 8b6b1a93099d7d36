//! What the DynamoDB stores share, so that no store writes it again: the table
//! definitions and their bootstrap, items ([`decode`], [`to_item`], [`string`]), the
//! consistent read ([`get_consistent`]), pages of a Scan or Query with their sealed
//! cursors ([`Listing`], [`Page`]), and the errors a write or a page can meet.
mod cursor;
mod tables;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{aws_error, StorageError};

pub use cursor::{paging_error, Listing, Page};
pub use tables::{
    ensure_table, AttributeType, DynamoTablesCheck, IndexProjection, IndexSpec, KeyAttribute,
    TableSpec,
};

/// An item as the SDK hands it over.
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub fn string(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// Reads a stored item into `T`. An item the code cannot read is a bug or a bad manual edit,
/// not the client's fault: it is logged (without its content) as an internal failure.
pub fn decode<T: DeserializeOwned>(store: &str, item: Item) -> Result<T, StorageError> {
    serde_dynamo::from_item(item).map_err(|error| {
        let unreadable = format!("unreadable item in {store}");
        tracing::error!(%error, "{unreadable}");
        StorageError::Internal(unreadable)
    })
}

/// Writes `value` as an item; the records the services store always convert.
pub fn to_item<T: Serialize>(value: &T) -> Item {
    serde_dynamo::to_item(value).expect("records serialise to DynamoDB items")
}

/// The item whose string key `key_name` is `key`, read consistently (a read right after a
/// write sees it) and decoded; `store` names the store in errors.
pub async fn get_consistent<T: DeserializeOwned>(
    client: &Client,
    store: &str,
    table: &str,
    key_name: &str,
    key: &str,
) -> Result<Option<T>, StorageError> {
    let output = client
        .get_item()
        .table_name(table)
        .key(key_name, AttributeValue::S(key.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|error| aws_error(store, error))?;
    output.item.map(|item| decode(store, item)).transpose()
}

/// True when a write failed only because its condition expression did not hold.
pub fn is_conditional_failure<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    matches!(error, SdkError::ServiceError(e) if e.err().code() == Some("ConditionalCheckFailedException"))
}
