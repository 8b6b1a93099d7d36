//! Pages of a Scan or Query, and where the next one starts: DynamoDB's `LastEvaluatedKey`,
//! handed to clients as an opaque string and to stores as an opaque [`Cursor`].

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde::de::DeserializeOwned;

use super::{decode, Item};
use crate::aws::{aws_error, StorageError};

/// A page of a listing, and where the next one starts (none on the last page).
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T: DeserializeOwned> Page<T> {
    /// The page a Scan or Query answered: its items decoded, `store` named in errors. An
    /// empty `LastEvaluatedKey` is no cursor: the listing ends there.
    pub fn read(
        store: &str,
        items: Option<Vec<Item>>,
        last_evaluated_key: Option<Item>,
    ) -> Result<Self, StorageError> {
        Ok(Self {
            items: items
                .unwrap_or_default()
                .into_iter()
                .map(|item| decode(store, item))
                .collect::<Result<_, _>>()?,
            next: last_evaluated_key.filter(|key| !key.is_empty()).map(Cursor),
        })
    }
}

/// Where a listing resumes: a table's or index's key, which only the store looks into.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor(Item);

impl Cursor {
    /// Reads a cursor made by [`Cursor::encode`] for a table or index whose key attributes
    /// are `key_names`; anything else is the client's mistake and never reaches DynamoDB.
    pub fn parse(cursor: &str, key_names: &[&str]) -> Result<Self, StorageError> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| StorageError::BadCursor)?;
        let plain: HashMap<String, HashMap<String, String>> =
            serde_json::from_slice(&bytes).map_err(|_| StorageError::BadCursor)?;
        let mut names: Vec<&str> = plain.keys().map(String::as_str).collect();
        let mut expected = key_names.to_vec();
        names.sort_unstable();
        expected.sort_unstable();
        if names != expected {
            return Err(StorageError::BadCursor);
        }
        plain
            .into_iter()
            .map(|(name, typed)| {
                let (kind, value) = typed.into_iter().next().ok_or(StorageError::BadCursor)?;
                let value = match kind.as_str() {
                    "S" => AttributeValue::S(value),
                    "N" => AttributeValue::N(value),
                    _ => return Err(StorageError::BadCursor),
                };
                Ok((name, value))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// The opaque, URL-safe text handed to clients (string and number attributes).
    pub fn encode(&self) -> String {
        let plain: HashMap<&str, serde_json::Value> = self
            .0
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

    /// The string attribute `name` of the key (a listing checks whose key it is).
    pub fn string(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(AttributeValue::S(value)) => Some(value),
            _ => None,
        }
    }

    /// The `ExclusiveStartKey` of the store's next Scan or Query.
    pub fn into_start_key(self) -> Item {
        self.0
    }
}

/// The storage error for a failed paginated read (Scan/Query with a client's cursor):
/// DynamoDB rejects a start key that does not fit the table with a `ValidationException`,
/// which is the client's bad cursor, not a server fault.
pub fn paging_error<E, R>(what: &str, error: SdkError<E, R>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &error {
        SdkError::ServiceError(e) if e.err().code() == Some("ValidationException") => {
            StorageError::BadCursor
        }
        _ => aws_error(what, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let key = Cursor(HashMap::from([
            ("username".to_owned(), AttributeValue::S("ada".into())),
            ("created".to_owned(), AttributeValue::N("17".into())),
        ]));
        let cursor = key.encode();
        assert_eq!(
            Cursor::parse(&cursor, &["created", "username"]).unwrap(),
            key
        );
        assert!(
            Cursor::parse(&cursor, &["username"]).is_err(),
            "keys must match the table's"
        );
    }

    #[test]
    fn garbage_cursor_is_a_400_naming_next() {
        let problem = crate::Problem::from(Cursor::parse("not*base64", &["id"]).unwrap_err());
        assert_eq!(problem.status, 400);
        assert_eq!(problem.errors[0].field, "next");
        assert!(
            Cursor::parse("e30", &["id"]).is_err(),
            "an empty key `{{}}` is no cursor"
        );
    }
}
