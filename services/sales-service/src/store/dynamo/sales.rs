//! Customers, orders and idempotency records: each write with its idempotency record in
//! one transaction.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, ReturnValue, TransactWriteItem};
use common::aws::dynamo::{
    get_consistent, is_conditional_failure, paging_error, string, to_item, Item, Listing, Page,
};
use common::aws::{aws_error, StorageError};
use common::timestamp::Timestamp;

use super::{number, DynamoSalesStore, TransactionFailure, WindowCount};
use crate::domain::{CustomerRecord, IdempotencyRecord, OrderRecord, OutboxRecord, SmsCaller};
use crate::store::{
    OrderFilter, ReportApplied, ReportedFinal, SalesStore, StoreError, NEWEST_FIRST,
    ORDERS_BY_CUSTOMER, ORDERS_BY_SMS_STATUS,
};

const STORE: &str = "The sales store";

/// The most queries one page of a filtered listing (a customer's orders in one SMS status)
/// makes: it reads at most this many times `limit` orders, and answers what it found with
/// a `next` when the customer has more.
pub const FILTERED_READS: usize = 4;

/// One newest-first read: the index, its hash key, and an attribute the items must have.
struct NewestFirst<'a> {
    table: &'a str,
    index: &'a str,
    key: (&'a str, &'a str),
    only: Option<(&'a str, &'a str)>,
}

impl DynamoSalesStore {
    /// A put that only succeeds when no live record has the key: an expired one (TTL
    /// deletes late) may be replaced.
    fn idempotency_put(&self, record: &IdempotencyRecord) -> Put {
        Put::builder()
            .table_name(&self.tables.idempotency)
            .set_item(Some(to_item(record)))
            .condition_expression("attribute_not_exists(#key) OR expires_at < :now")
            .expression_attribute_names("#key", "key")
            .expression_attribute_values(":now", number(Timestamp::now().unix_seconds()))
            .build()
            .expect("table, item and key are set")
    }

    /// Writes `items` and, last, the idempotency record in one transaction. A failed
    /// condition on that record means a concurrent request with the same key won.
    async fn transact(
        &self,
        mut items: Vec<TransactWriteItem>,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        if let Some(record) = idempotency {
            items.push(
                TransactWriteItem::builder()
                    .put(self.idempotency_put(record))
                    .build(),
            );
        }
        let count = items.len();
        let codes = match self.transact_write(STORE, items).await {
            Ok(()) => return Ok(()),
            Err(TransactionFailure::Failed(error)) => return Err(error.into()),
            Err(TransactionFailure::Cancelled(codes)) => codes,
        };
        let code = |index: usize| codes.get(index).cloned().flatten();
        // Another request with the key committed (condition) or is committing (conflict)
        // right now.
        if idempotency.is_some()
            && matches!(
                code(count - 1).as_deref(),
                Some("ConditionalCheckFailed" | "TransactionConflict")
            )
        {
            return Err(StoreError::IdempotencyKeyTaken);
        }
        // The first item is keyed by a UUID made for this request: only our own earlier
        // attempt can have written it. The SDK retried an attempt whose answer was lost,
        // and that attempt committed (all items, atomically).
        if code(0).as_deref() == Some("ConditionalCheckFailed") {
            return Ok(());
        }
        if TransactionFailure::busy(&codes) {
            return Err(
                StorageError::Unavailable("The sales store is busy; retry shortly".into()).into(),
            );
        }
        let failed = format!("{STORE} failed");
        tracing::error!(?codes, "{failed}: the transaction was cancelled");
        Err(StorageError::Internal(failed).into())
    }

    /// The item keyed `key_name = key`, read consistently: a customer or idempotency record
    /// written a moment ago (by this request's previous step, or a retry's first attempt)
    /// must be seen.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        table: &str,
        key_name: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        Ok(get_consistent(&self.client, STORE, table, key_name, key).await?)
    }

    /// A page of `read.index` newest first: the items whose hash key is `read.key`, from
    /// `cursor` (sealed by `listing` for `binding`). Without `read.only`, one Query of
    /// `limit` items; with it, Queries of what the page still lacks, keeping the items
    /// that have that attribute value, at most [`FILTERED_READS`] of them.
    async fn newest_page<T: serde::de::DeserializeOwned>(
        &self,
        read: NewestFirst<'_>,
        (listing, binding): (&Listing, &str),
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<T>, StoreError> {
        let (key_name, key) = read.key;
        let mut start = listing.start(cursor, binding)?;
        let mut items: Vec<Item> = Vec::new();
        let reads = if read.only.is_some() {
            FILTERED_READS
        } else {
            1
        };
        for _ in 0..reads {
            let wanted = limit - i32::try_from(items.len()).unwrap_or(limit);
            let mut query = self
                .client
                .query()
                .table_name(read.table)
                .index_name(read.index)
                .key_condition_expression("#key = :key")
                .expression_attribute_names("#key", key_name)
                .expression_attribute_values(":key", string(key))
                .scan_index_forward(false)
                .limit(wanted)
                .set_exclusive_start_key(start.take());
            if let Some((name, value)) = read.only {
                query = query
                    .filter_expression("#only = :only")
                    .expression_attribute_names("#only", name)
                    .expression_attribute_values(":only", string(value));
            }
            let output = query
                .send()
                .await
                .map_err(|error| paging_error(STORE, error))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() || i32::try_from(items.len()).unwrap_or(i32::MAX) >= limit {
                break;
            }
        }
        Ok(listing.page(STORE, binding, Some(items), start)?)
    }
}

/// `record` as an item, with the `listing` attribute that puts it in the newest-first
/// index of its table.
fn listed(record: &impl serde::Serialize, listing: &str) -> Item {
    let mut item = to_item(record);
    item.insert("listing".to_owned(), string(listing));
    item
}

/// The `listing` value of every customer, and of every order.
const CUSTOMERS: &str = "customers";
const ORDERS: &str = "orders";

#[async_trait]
impl SalesStore for DynamoSalesStore {
    async fn next_number(&self, counter: &str) -> Result<u64, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.tables.sequences)
            .key("name", string(counter))
            .update_expression("ADD #value :one")
            .expression_attribute_names("#value", "value")
            .expression_attribute_values(":one", number(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|error| aws_error(STORE, error))?;
        output
            .attributes
            .as_ref()
            .and_then(|attributes| attributes.get("value"))
            .and_then(|value| value.as_n().ok())
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| {
                let failed = "the sequence update returned no number";
                tracing::error!(counter, "{failed}");
                StorageError::Internal(failed.into()).into()
            })
    }

    async fn insert_customer(
        &self,
        customer: &CustomerRecord,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(&self.tables.customers)
            .set_item(Some(listed(customer, CUSTOMERS)))
            .condition_expression("attribute_not_exists(id)")
            .build()
            .expect("table and item are set");
        self.transact(
            vec![TransactWriteItem::builder().put(put).build()],
            idempotency,
        )
        .await
    }

    async fn customer(&self, id: &str) -> Result<Option<CustomerRecord>, StoreError> {
        if let Some(customer) = self.customers_read.get(id) {
            return Ok(Some(customer));
        }
        let customer: Option<CustomerRecord> = self.get(&self.tables.customers, "id", id).await?;
        if let Some(customer) = &customer {
            self.customers_read.insert(id.to_owned(), customer.clone());
        }
        Ok(customer)
    }

    async fn customers(
        &self,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<CustomerRecord>, StoreError> {
        let read = NewestFirst {
            table: &self.tables.customers,
            index: NEWEST_FIRST,
            key: ("listing", CUSTOMERS),
            only: None,
        };
        self.newest_page(read, (&self.listings.customers, ""), limit, cursor)
            .await
    }

    async fn insert_order(
        &self,
        order: &OrderRecord,
        sms: Option<&OutboxRecord>,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let put = |table: &str, item, key: &str| {
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(table)
                        .set_item(Some(item))
                        .condition_expression(format!("attribute_not_exists({key})"))
                        .build()
                        .expect("table and item are set"),
                )
                .build()
        };
        let mut items = vec![put(&self.tables.orders, listed(order, ORDERS), "id")];
        if let Some(sms) = sms {
            items.push(put(&self.tables.outbox, Self::outbox_item(sms), "order_id"));
        }
        self.transact(items, idempotency).await
    }

    async fn count_caller_sms(
        &self,
        caller: &SmsCaller,
        now_ms: i64,
        max: u32,
    ) -> Result<bool, StoreError> {
        // A counter: an order is counted once, when it is created (a replay of its
        // Idempotency-Key never gets here).
        let count = WindowCount {
            add: "sends :one",
            room: "attribute_not_exists(sends) OR sends < :max",
            values: vec![(":one", number(1))],
        };
        Ok(self
            .count_in_window(STORE, (caller.as_str(), now_ms), max, count)
            .await?)
    }

    async fn order(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        self.get(&self.tables.orders, "id", id).await
    }

    async fn orders(
        &self,
        filter: &OrderFilter,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<OrderRecord>, StoreError> {
        let table = &self.tables.orders;
        let status = filter.sms_status.map(|status| status.as_str());
        let listings = &self.listings;
        let (read, listing) = match (filter.customer_id.as_deref(), status) {
            (Some(customer_id), only) => (
                NewestFirst {
                    table,
                    index: ORDERS_BY_CUSTOMER,
                    key: ("customer_id", customer_id),
                    only: only.map(|status| ("sms_status", status)),
                },
                &listings.orders_of_customer,
            ),
            (None, Some(status)) => (
                NewestFirst {
                    table,
                    index: ORDERS_BY_SMS_STATUS,
                    key: ("sms_status", status),
                    only: None,
                },
                &listings.orders_by_sms_status,
            ),
            (None, None) => (
                NewestFirst {
                    table,
                    index: NEWEST_FIRST,
                    key: ("listing", ORDERS),
                    only: None,
                },
                &listings.orders,
            ),
        };
        let binding = filter.binding();
        self.newest_page(read, (listing, &binding), limit, cursor)
            .await
    }

    async fn apply_delivery_report(
        &self,
        message_id: &str,
        report: &ReportedFinal,
    ) -> Result<ReportApplied, StoreError> {
        #[derive(serde::Deserialize)]
        struct SentMessage {
            order_id: String,
        }
        let Some(SentMessage { order_id }) = self
            .get(&self.tables.sms_messages, "message_id", message_id)
            .await?
        else {
            return Ok(ReportApplied::Unknown);
        };
        let update = self
            .client
            .update_item()
            .table_name(&self.tables.orders)
            .key("id", string(&order_id))
            .condition_expression("sms_message_id = :id AND sms_status = :sent")
            .expression_attribute_values(":id", string(message_id))
            .expression_attribute_values(":sent", string("sent"))
            .expression_attribute_values(":now", string(&Timestamp::now().sortable()));
        let update = match report {
            ReportedFinal::Delivered => update
                .update_expression("SET sms_status = :delivered, sms_updated_at = :now")
                .expression_attribute_values(":delivered", string("delivered")),
            ReportedFinal::Failed { reason } => update
                .update_expression(
                    "SET sms_status = :failed, sms_error = :reason, sms_updated_at = :now",
                )
                .expression_attribute_values(":failed", string("failed"))
                .expression_attribute_values(":reason", string(reason)),
        };
        match update.send().await {
            Ok(_) => Ok(ReportApplied::Recorded { order_id }),
            Err(error) if is_conditional_failure(&error) => {
                Ok(ReportApplied::AlreadyFinal { order_id })
            }
            Err(error) => Err(aws_error(STORE, error).into()),
        }
    }

    async fn idempotency_record(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let record: Option<IdempotencyRecord> =
            self.get(&self.tables.idempotency, "key", key).await?;
        Ok(record.filter(|record| record.expires_at > now))
    }
}
