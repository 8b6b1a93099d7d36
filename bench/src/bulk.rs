//! Tables grown to a size fast: one item each service wrote itself through its API (the
//! template: whatever shape the service's code gives its items today) is copied with
//! BatchWriteItem, 25 items a call, a few calls at once. Each copy gets its own key, and
//! its times moved, so listings sort and pages hold distinct items:
//!
//! - the varied key attribute (the table's last key attribute) gets a new value: a fresh
//!   UUID where the template's is one (a v7 keeps time order), else the template's value
//!   with the copy's number appended; other text that contains the template's value (an
//!   email with the username) follows;
//! - every time in the item (RFC 3339 text, Unix seconds or milliseconds within a month
//!   of now) moves by the copy's [`Times`], in the form it had.
use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use common::timestamp::Timestamp;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub type Item = HashMap<String, AttributeValue>;

/// Items a BatchWriteItem takes at most.
const BATCH: usize = 25;
/// Batches in flight: the emulator runs DynamoDB calls one at a time, so this only
/// overlaps the client's work with the emulator's.
const IN_FLIGHT: usize = 4;
/// How far from now a number may be and still be taken for a time.
const A_MONTH: i64 = 31 * 24 * 3600;

/// Where the copies' times go.
#[derive(Clone, Copy)]
pub enum Times {
    /// Copy `i` is `i` seconds older than the template: a history.
    Older,
    /// Copies wait: due between 10 and 70 minutes from now (an SMS outbox in an outage,
    /// each record in its back-off).
    Waiting,
}

impl Times {
    fn shift(self, index: usize) -> time::Duration {
        match self {
            Times::Older => -time::Duration::seconds(index as i64 + 1),
            Times::Waiting => time::Duration::seconds(600 + (index % 3600) as i64),
        }
    }
}

/// One item to copy, where, and how.
pub struct Template {
    pub table: String,
    pub item: Item,
    /// The attribute each copy makes unique.
    pub vary: String,
    pub times: Times,
    /// Attributes the service derives from others (a shard from the key), set again on
    /// each copy from its own values.
    pub derive: Option<fn(&mut Item)>,
}

impl Template {
    /// Reads the item under `key` in `table` (strongly consistent: it was just written).
    pub async fn read(
        client: &Client,
        table: &str,
        key: Item,
        vary: &str,
        times: Times,
    ) -> anyhow::Result<Self> {
        let item = client
            .get_item()
            .table_name(table)
            .set_key(Some(key.clone()))
            .consistent_read(true)
            .send()
            .await
            .with_context(|| format!("reading the template item of {table}"))?
            .item
            .with_context(|| format!("no item under {key:?} in {table}"))?;
        Ok(Self {
            table: table.to_owned(),
            item,
            vary: vary.to_owned(),
            times,
            derive: None,
        })
    }

    /// Any one item of `table` (a Scan of one).
    pub async fn any(
        client: &Client,
        table: &str,
        vary: &str,
        times: Times,
    ) -> anyhow::Result<Self> {
        let item = client
            .scan()
            .table_name(table)
            .limit(1)
            .send()
            .await
            .with_context(|| format!("reading a template item of {table}"))?
            .items
            .unwrap_or_default()
            .into_iter()
            .next()
            .with_context(|| format!("{table} is empty: nothing to copy"))?;
        Ok(Self {
            table: table.to_owned(),
            item,
            vary: vary.to_owned(),
            times,
            derive: None,
        })
    }

    /// This template, with `derive` run on each copy.
    pub fn deriving(self, derive: fn(&mut Item)) -> Self {
        Self {
            derive: Some(derive),
            ..self
        }
    }

    /// Copy number `index`.
    pub fn copy(&self, index: usize) -> Item {
        let shift = self.times.shift(index);
        let original = match self.item.get(&self.vary) {
            Some(AttributeValue::S(text)) => Some(text.clone()),
            _ => None,
        };
        let unique = original
            .as_deref()
            .map(|text| unique_value(text, index, shift));
        let mut copy: Item = self
            .item
            .iter()
            .map(|(name, value)| {
                let value = if *name == self.vary {
                    unique
                        .clone()
                        .map_or_else(|| value.clone(), AttributeValue::S)
                } else {
                    let moved = moved(value, shift).unwrap_or_else(|| value.clone());
                    match (&moved, &original, &unique) {
                        (AttributeValue::S(text), Some(from), Some(to))
                            if text.contains(from.as_str()) =>
                        {
                            AttributeValue::S(text.replace(from.as_str(), to))
                        }
                        _ => moved,
                    }
                };
                (name.clone(), value)
            })
            .collect();
        if let Some(derive) = self.derive {
            derive(&mut copy);
        }
        copy
    }
}

/// A new value for the varied key: a UUID stays a UUID (a v7 keeps its time order), other
/// text gets the copy's number (`scale-template` -> `scale-template0000042`).
fn unique_value(text: &str, index: usize, shift: time::Duration) -> String {
    match uuid::Uuid::parse_str(text) {
        Ok(id) if id.get_version_num() == 7 => {
            let (seconds, nanos) = id.get_timestamp().map(|at| at.to_unix()).unwrap_or((0, 0));
            let at = OffsetDateTime::from_unix_timestamp(seconds as i64)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH)
                + time::Duration::nanoseconds(i64::from(nanos))
                + shift;
            let stamp = uuid::Timestamp::from_unix(
                uuid::NoContext,
                at.unix_timestamp().max(0) as u64,
                at.nanosecond(),
            );
            uuid::Uuid::new_v7(stamp).to_string()
        }
        Ok(_) => uuid::Uuid::new_v4().to_string(),
        Err(_) => format!("{text}{index:07}"),
    }
}

/// `value` moved by `shift` if it is a time, in the form it had; `None` otherwise.
fn moved(value: &AttributeValue, shift: time::Duration) -> Option<AttributeValue> {
    match value {
        AttributeValue::S(text) => {
            let at = OffsetDateTime::parse(text, &Rfc3339).ok()? + shift;
            let at = Timestamp::from(at);
            // The two forms the services store (common::timestamp): fixed six digits, or
            // as many as needed.
            let fixed = text.len() == 27 && text.ends_with('Z') && text.as_bytes()[19] == b'.';
            Some(AttributeValue::S(if fixed {
                at.sortable()
            } else {
                at.rfc3339()
            }))
        }
        AttributeValue::N(number) => {
            let number: i64 = number.parse().ok()?;
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let shift_seconds = shift.whole_seconds();
            if (number - now * 1000).abs() < A_MONTH * 1000 {
                Some(AttributeValue::N(
                    (number + shift_seconds * 1000).to_string(),
                ))
            } else if (number - now).abs() < A_MONTH {
                Some(AttributeValue::N((number + shift_seconds).to_string()))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Writes copies `from..to` of `template` into its table.
pub async fn grow(
    client: &Client,
    template: &Template,
    from: usize,
    to: usize,
) -> anyhow::Result<()> {
    use futures::StreamExt;
    let batches: Vec<Vec<usize>> = (from..to)
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(<[usize]>::to_vec)
        .collect();
    let mut writes = futures::stream::iter(batches)
        .map(|batch| write_batch(client, template, batch))
        .buffer_unordered(IN_FLIGHT);
    while let Some(result) = writes.next().await {
        result?;
    }
    Ok(())
}

/// Deletes every item of `table` (whose key attributes are `key`).
pub async fn clear(client: &Client, table: &str, key: &[&str]) -> anyhow::Result<()> {
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .projection_expression(key.join(", "))
            .set_exclusive_start_key(start)
            .send()
            .await
            .with_context(|| format!("scanning {table}"))?;
        for keys in page.items.unwrap_or_default().chunks(BATCH) {
            let deletes = keys
                .iter()
                .map(|key| {
                    let delete = aws_sdk_dynamodb::types::DeleteRequest::builder()
                        .set_key(Some(key.clone()))
                        .build()
                        .expect("a key is set");
                    WriteRequest::builder().delete_request(delete).build()
                })
                .collect();
            client
                .batch_write_item()
                .request_items(table, deletes)
                .send()
                .await
                .with_context(|| format!("deleting from {table}"))?;
        }
        start = page.last_evaluated_key.filter(|key| !key.is_empty());
        if start.is_none() {
            return Ok(());
        }
    }
}

async fn write_batch(
    client: &Client,
    template: &Template,
    batch: Vec<usize>,
) -> anyhow::Result<()> {
    let mut requests: Vec<WriteRequest> = batch
        .into_iter()
        .map(|index| {
            let put = PutRequest::builder()
                .set_item(Some(template.copy(index)))
                .build()
                .expect("an item is set");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    // DynamoDB may hand back what it did not take this time: send that again.
    for attempt in 0..10 {
        let output = client
            .batch_write_item()
            .request_items(&template.table, requests)
            .send()
            .await
            .with_context(|| format!("BatchWriteItem into {}", template.table))?;
        requests = output
            .unprocessed_items
            .and_then(|mut left| left.remove(&template.table))
            .unwrap_or_default();
        if requests.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
    }
    anyhow::bail!("{}: BatchWriteItem kept items unprocessed", template.table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_owned())
    }

    #[test]
    fn a_copy_has_its_own_key_and_carries_it_into_text_that_held_the_template_key() {
        let template = Template {
            table: "users".into(),
            item: HashMap::from([
                ("username".to_owned(), s("scale-template")),
                ("email".to_owned(), s("scale-template@example.com")),
                ("role".to_owned(), s("user")),
            ]),
            vary: "username".into(),
            times: Times::Older,
            derive: None,
        };
        let copy = template.copy(42);
        assert_eq!(copy["username"], s("scale-template0000042"));
        assert_eq!(copy["email"], s("scale-template0000042@example.com"));
        assert_eq!(copy["role"], s("user"));
    }

    #[test]
    fn times_move_in_the_form_they_were_written() {
        let now = OffsetDateTime::now_utc();
        let fixed = Timestamp::from(now).sortable();
        let millis = (now.unix_timestamp() * 1000).to_string();
        let template = Template {
            table: "orders".into(),
            item: HashMap::from([
                ("id".to_owned(), s(&uuid::Uuid::new_v4().to_string())),
                ("ordered_at".to_owned(), s(&fixed)),
                (
                    "next_attempt_at".to_owned(),
                    AttributeValue::N(millis.clone()),
                ),
                ("attempts".to_owned(), AttributeValue::N("3".into())),
            ]),
            vary: "id".into(),
            times: Times::Older,
            derive: None,
        };
        let copy = template.copy(9);
        let AttributeValue::S(ordered_at) = &copy["ordered_at"] else {
            panic!("text stays text")
        };
        assert_eq!(ordered_at.len(), fixed.len());
        assert!(*ordered_at < fixed, "{ordered_at} is older than {fixed}");
        let moved: i64 = copy["next_attempt_at"].as_n().unwrap().parse().unwrap();
        assert_eq!(moved, millis.parse::<i64>().unwrap() - 10_000);
        assert_eq!(copy["attempts"], AttributeValue::N("3".into()));
        assert_ne!(copy["id"], template.item["id"]);
    }

    #[test]
    fn a_derived_attribute_follows_each_copys_own_key() {
        fn length_of_key(item: &mut Item) {
            let length = item["key"].as_s().map_or(0, String::len);
            item.insert("length".to_owned(), AttributeValue::N(length.to_string()));
        }
        let template = Template {
            table: "outbox".into(),
            item: HashMap::from([
                ("key".to_owned(), s("k")),
                ("length".to_owned(), AttributeValue::N("1".into())),
            ]),
            vary: "key".into(),
            times: Times::Waiting,
            derive: None,
        }
        .deriving(length_of_key);
        let copy = template.copy(3);
        assert_eq!(copy["key"], s("k0000003"));
        assert_eq!(copy["length"], AttributeValue::N("8".into()));
    }

    #[test]
    fn a_v7_id_stays_v7_and_older_copies_sort_before_the_template() {
        let id = uuid::Uuid::now_v7().to_string();
        let older = unique_value(&id, 5, Times::Older.shift(5));
        assert_eq!(uuid::Uuid::parse_str(&older).unwrap().get_version_num(), 7);
        assert!(older < id);
    }
}
