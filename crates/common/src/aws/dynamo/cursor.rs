//! Pages of a Scan or Query, and where the next one starts: DynamoDB's `LastEvaluatedKey`,
//! handed to clients as a sealed cursor ([`Listing`], the format of `crate::paging`).

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;

use super::{decode, AttributeType, Item, KeyAttribute, TableSpec};
use crate::aws::{aws_error, StorageError};
use crate::paging::CursorKeys;

/// A page of a listing, and where the next one starts (none on the last page): the
/// client's sealed cursor, from a [`Listing`].
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// The same page with every item turned into `U` (a record into its view).
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// One listing of a store (a Scan of a table, or a Query of one of its indexes) and its
/// cursors: the store opens the client's cursor with it, which checks the key inside
/// against the table's key schema, and seals the next one. A cursor is bound to the
/// listing's name and to what the store lists it for (`bound_to`: the tenant, a filter,
/// or nothing), so it opens for nothing else.
#[derive(Debug, Clone)]
pub struct Listing {
    name: String,
    key: Vec<KeyAttribute>,
    keys: CursorKeys,
}

impl Listing {
    /// The listing `name` of `table`, read by Scan (`index` none) or by Query of `index`:
    /// its `LastEvaluatedKey` holds the table's key, and the index's.
    pub fn new(name: &str, table: &TableSpec, index: Option<&str>, keys: &CursorKeys) -> Self {
        let mut key = vec![table.hash_key.clone()];
        key.extend(table.range_key.clone());
        if let Some(index) = index {
            let index = table
                .global_secondary_indexes
                .iter()
                .find(|spec| spec.name == index)
                .unwrap_or_else(|| panic!("{} has no index {index}", table.name));
            for attribute in [Some(&index.hash_key), index.range_key.as_ref()]
                .into_iter()
                .flatten()
            {
                if !key.iter().any(|known| known.name == attribute.name) {
                    key.push(attribute.clone());
                }
            }
        }
        Self {
            name: format!("{}/{name}", table.name),
            key,
            keys: keys.clone(),
        }
    }

    /// The `ExclusiveStartKey` of the client's `cursor` (none: the first page). Anything
    /// but a cursor this listing sealed for `bound_to`, holding exactly the listing's key
    /// attributes with their types, is a [`StorageError::BadCursor`].
    pub fn start(
        &self,
        cursor: Option<&str>,
        bound_to: &str,
    ) -> Result<Option<Item>, StorageError> {
        let Some(cursor) = cursor else {
            return Ok(None);
        };
        let plain = self.keys.open(&self.name, bound_to, cursor)?;
        let sealed: HashMap<String, HashMap<String, String>> =
            serde_json::from_slice(&plain).map_err(|_| StorageError::BadCursor)?;
        if sealed.len() != self.key.len() {
            return Err(StorageError::BadCursor);
        }
        let mut start = Item::new();
        for attribute in &self.key {
            let typed = sealed.get(attribute.name).ok_or(StorageError::BadCursor)?;
            let value = match (attribute.kind, typed.get("S"), typed.get("N")) {
                (AttributeType::S, Some(value), None) => AttributeValue::S(value.clone()),
                (AttributeType::N, None, Some(value)) if value.parse::<f64>().is_ok() => {
                    AttributeValue::N(value.clone())
                }
                _ => return Err(StorageError::BadCursor),
            };
            start.insert(attribute.name.to_owned(), value);
        }
        Ok(Some(start))
    }

    /// The page a Scan or Query answered: its items decoded (`store` named in errors), and
    /// the next page's cursor sealed for `bound_to`. An empty `LastEvaluatedKey` is no
    /// cursor: the listing ends there.
    pub fn page<T: DeserializeOwned>(
        &self,
        store: &str,
        bound_to: &str,
        items: Option<Vec<Item>>,
        last_evaluated_key: Option<Item>,
    ) -> Result<Page<T>, StorageError> {
        let items = items
            .unwrap_or_default()
            .into_iter()
            .map(|item| decode(store, item))
            .collect::<Result<_, _>>()?;
        let next = last_evaluated_key.filter(|key| !key.is_empty()).map(|key| {
            let plain = plain_key(&key);
            self.keys.seal(
                &self.name,
                bound_to,
                &serde_json::to_vec(&plain).expect("plain JSON"),
            )
        });
        Ok(Page { items, next })
    }
}

/// A key's string and number attributes as JSON (`{"id": {"S": ".."}}`).
fn plain_key(key: &Item) -> HashMap<&str, serde_json::Value> {
    key.iter()
        .filter_map(|(name, value)| match value {
            AttributeValue::S(s) => Some((name.as_str(), serde_json::json!({ "S": s }))),
            AttributeValue::N(n) => Some((name.as_str(), serde_json::json!({ "N": n }))),
            _ => None,
        })
        .collect()
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

    fn orders() -> TableSpec {
        TableSpec {
            name: "orders",
            hash_key: KeyAttribute::string("id"),
            range_key: None,
            ttl_attribute: None,
            global_secondary_indexes: vec![super::super::IndexSpec {
                name: "by-customer",
                hash_key: KeyAttribute::string("customer_id"),
                range_key: Some(KeyAttribute::number("ordered_at")),
                projection: super::super::IndexProjection::All,
            }],
        }
    }

    fn keys() -> CursorKeys {
        CursorKeys::parse(&crate::secrets::Secret::new(
            "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ))
        .unwrap()
    }

    fn last_key() -> Item {
        HashMap::from([
            ("id".to_owned(), AttributeValue::S("o1".into())),
            ("customer_id".to_owned(), AttributeValue::S("ada".into())),
            ("ordered_at".to_owned(), AttributeValue::N("17".into())),
        ])
    }

    #[test]
    fn a_listing_resumes_where_its_sealed_cursor_says() {
        let listing = Listing::new("by-customer", &orders(), Some("by-customer"), &keys());
        let page: Page<serde_json::Value> = listing
            .page("orders", "ada", None, Some(last_key()))
            .unwrap();
        let cursor = page.next.unwrap();
        assert!(!cursor.contains("ada") && !cursor.contains("o1"));
        assert_eq!(
            listing.start(Some(&cursor), "ada").unwrap(),
            Some(last_key())
        );
        assert_eq!(listing.start(None, "ada").unwrap(), None);
        assert_eq!(
            listing.start(Some(&cursor), "bob"),
            Err(StorageError::BadCursor),
            "another filter"
        );
        let scan = Listing::new("all", &orders(), None, &keys());
        assert_eq!(
            scan.start(Some(&cursor), "ada"),
            Err(StorageError::BadCursor),
            "another listing"
        );
        let last: Page<serde_json::Value> = listing
            .page("orders", "ada", None, Some(Item::new()))
            .unwrap();
        assert!(
            last.next.is_none(),
            "an empty LastEvaluatedKey ends the listing"
        );
    }

    #[test]
    fn a_key_that_does_not_fit_the_table_is_a_bad_cursor_never_a_store_error() {
        let listing = Listing::new("by-customer", &orders(), Some("by-customer"), &keys());
        let mut wrong_type = last_key();
        wrong_type.insert("ordered_at".to_owned(), AttributeValue::S("17".into()));
        let mut missing = last_key();
        missing.remove("customer_id");
        let mut extra = last_key();
        extra.insert("listing".to_owned(), AttributeValue::S("x".into()));
        for key in [wrong_type, missing, extra] {
            let page: Page<serde_json::Value> =
                listing.page("orders", "", None, Some(key.clone())).unwrap();
            assert_eq!(
                listing.start(page.next.as_deref(), ""),
                Err(StorageError::BadCursor),
                "{key:?}"
            );
        }
    }
}
