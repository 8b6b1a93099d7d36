use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, Select, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use common::aws::aws_error;
use common::aws::dynamo::{decode, get, is_conditional_failure, paging_error, to_item};
use common::cache::TtlCache;
use common::timestamp::Timestamp;
use common::{Cursor, Page};

use super::{
    CustomerRecord, Delivery, IdempotencyRecord, OrderRecord, Outbox, OutboxRecord, SalesStore,
    StoreError, CUSTOMERS_TABLE, IDEMPOTENCY_TABLE, ORDERS_BY_CUSTOMER, ORDERS_TABLE, OUTBOX_TABLE,
    SEQUENCES_TABLE, SMS_SENDS_TABLE,
};

const STORE: &str = "The sales store";
const OUTBOX: &str = "The SMS outbox";
/// Customers never change once created (no route updates or deletes one), so each order
/// for a customer read lately needs no read of its own: one GetItem of the five AWS calls
/// an order costs. The TTL bounds how long a customer removed by hand from the table is
/// still taken; ~300 bytes each.
const CUSTOMERS_KEPT: usize = 4096;
const CUSTOMERS_KEPT_FOR: Duration = Duration::from_secs(300);

fn string(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The table names, each with the environment's prefix.
struct Tables {
    customers: String,
    sequences: String,
    orders: String,
    outbox: String,
    idempotency: String,
    sms_sends: String,
}

pub struct DynamoSalesStore {
    client: Client,
    tables: Tables,
    customers_read: TtlCache<String, CustomerRecord>,
}

impl DynamoSalesStore {
    pub fn new(client: Client, prefix: &str) -> Self {
        Self {
            client,
            tables: Tables {
                customers: format!("{prefix}{CUSTOMERS_TABLE}"),
                sequences: format!("{prefix}{SEQUENCES_TABLE}"),
                orders: format!("{prefix}{ORDERS_TABLE}"),
                outbox: format!("{prefix}{OUTBOX_TABLE}"),
                idempotency: format!("{prefix}{IDEMPOTENCY_TABLE}"),
                sms_sends: format!("{prefix}{SMS_SENDS_TABLE}"),
            },
            customers_read: TtlCache::new(CUSTOMERS_KEPT, CUSTOMERS_KEPT_FOR),
        }
    }

    /// Every table, for the readiness check.
    pub fn table_names(&self) -> Vec<String> {
        let t = &self.tables;
        [
            &t.customers,
            &t.sequences,
            &t.orders,
            &t.outbox,
            &t.idempotency,
            &t.sms_sends,
        ]
        .into_iter()
        .cloned()
        .collect()
    }

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
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                    error.as_service_error()
                {
                    let reasons = cancelled.cancellation_reasons();
                    let code = |index: usize| reasons.get(index).and_then(|reason| reason.code());
                    // Another request with the key committed (condition) or is committing
                    // (conflict) right now.
                    if idempotency.is_some()
                        && matches!(
                            code(count - 1),
                            Some("ConditionalCheckFailed" | "TransactionConflict")
                        )
                    {
                        return Err(StoreError::IdempotencyKeyTaken);
                    }
                    // The first item is keyed by a UUID made for this request: only our own
                    // earlier attempt can have written it. The SDK retried an attempt whose
                    // answer was lost, and that attempt committed (all items, atomically).
                    if code(0) == Some("ConditionalCheckFailed") {
                        return Ok(());
                    }
                    if (0..count).any(|index| {
                        matches!(
                            code(index),
                            Some(
                                "TransactionConflict"
                                    | "ThrottlingError"
                                    | "ProvisionedThroughputExceeded"
                            )
                        )
                    }) {
                        return Err(StoreError::Aws(common::Problem::unavailable(
                            "The sales store is busy; retry shortly",
                        )));
                    }
                }
                Err(aws_error(STORE, error).into())
            }
        }
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
        Ok(get(&self.client, STORE, table, key_name, key).await?)
    }

    async fn scan_page<T: serde::de::DeserializeOwned>(
        &self,
        table: &str,
        limit: i32,
        after: Option<Cursor>,
    ) -> Result<Page<T>, StoreError> {
        let output = self
            .client
            .scan()
            .table_name(table)
            .limit(limit)
            .set_exclusive_start_key(after.map(Cursor::into_start_key))
            .send()
            .await
            .map_err(|error| paging_error(STORE, error))?;
        Ok(Page::read(STORE, output.items, output.last_evaluated_key)?)
    }
}

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
                tracing::error!(counter, "the sequence update returned no number");
                StoreError::Aws(common::Problem::internal())
            })
    }

    async fn insert_customer(
        &self,
        customer: &CustomerRecord,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(&self.tables.customers)
            .set_item(Some(to_item(customer)))
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
        after: Option<Cursor>,
    ) -> Result<Page<CustomerRecord>, StoreError> {
        self.scan_page(&self.tables.customers, limit, after).await
    }

    async fn insert_order(
        &self,
        order: &OrderRecord,
        sms: &OutboxRecord,
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
        let items = vec![
            put(&self.tables.orders, to_item(order), "id"),
            put(&self.tables.outbox, to_item(sms), "order_id"),
        ];
        self.transact(items, idempotency).await
    }

    async fn order(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        self.get(&self.tables.orders, "id", id).await
    }

    async fn orders(
        &self,
        customer_id: Option<&str>,
        limit: i32,
        after: Option<Cursor>,
    ) -> Result<Page<OrderRecord>, StoreError> {
        let Some(customer_id) = customer_id else {
            return self.scan_page(&self.tables.orders, limit, after).await;
        };
        let output = self
            .client
            .query()
            .table_name(&self.tables.orders)
            .index_name(ORDERS_BY_CUSTOMER)
            .key_condition_expression("customer_id = :customer")
            .expression_attribute_values(":customer", string(customer_id))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(after.map(Cursor::into_start_key))
            .send()
            .await
            .map_err(|error| paging_error(STORE, error))?;
        Ok(Page::read(STORE, output.items, output.last_evaluated_key)?)
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

impl DynamoSalesStore {
    /// The order update for a final SMS outcome.
    fn order_outcome(&self, claimed: &OutboxRecord, delivery: &Delivery) -> Update {
        let update = Update::builder()
            .table_name(&self.tables.orders)
            .key("id", string(&claimed.order_id))
            .condition_expression("attribute_exists(id)")
            .expression_attribute_values(":attempts", number(claimed.attempts));
        let update = match delivery {
            Delivery::Sent { message_id, at } => update
                .update_expression(
                    "SET sms_status = :sent, sms_attempts = :attempts, sms_message_id = :id, \
                     sms_sent_at = :at REMOVE sms_error",
                )
                .expression_attribute_values(":sent", string("sent"))
                .expression_attribute_values(":id", string(message_id))
                .expression_attribute_values(":at", string(at)),
            Delivery::Failed { reason } => update
                .update_expression(
                    "SET sms_status = :failed, sms_attempts = :attempts, sms_error = :reason",
                )
                .expression_attribute_values(":failed", string("failed"))
                .expression_attribute_values(":reason", string(reason)),
        };
        update.build().expect("table, key and expression are set")
    }

    /// The condition that `claimed` is still held: its claim id is the record's (the
    /// fence), bound to `:claim`.
    const STILL_CLAIMED: &'static str = "claim_id = :claim";

    fn claim_id(claimed: &OutboxRecord) -> AttributeValue {
        string(claimed.claim_id.as_deref().unwrap_or_default())
    }

    /// An update of the outbox record under its claim; a conditional failure is a lost claim.
    async fn update_claimed(
        &self,
        claimed: &OutboxRecord,
        update: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.outbox)
            .key("order_id", string(&claimed.order_id))
            .update_expression(update)
            .condition_expression(Self::STILL_CLAIMED)
            .set_expression_attribute_values(Some(
                values
                    .into_iter()
                    .map(|(name, value)| (name.to_owned(), value))
                    .chain([(":claim".to_owned(), Self::claim_id(claimed))])
                    .collect(),
            ))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if is_conditional_failure(&error) => Err(StoreError::LostClaim),
            Err(error) => Err(aws_error(OUTBOX, error).into()),
        }
    }

    async fn transact_claimed(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                // A failed fence: the claim is another dispatcher's now.
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
                    if cancelled
                        .cancellation_reasons()
                        .iter()
                        .any(|reason| reason.code() == Some("ConditionalCheckFailed")) =>
                {
                    Err(StoreError::LostClaim)
                }
                // A conflict with another write, or throttling: the claim may well still be
                // ours, and the write worth another try.
                Some(TransactWriteItemsError::TransactionCanceledException(_)) => {
                    Err(StoreError::Aws(common::Problem::unavailable(
                        "The SMS outbox is busy; retry shortly",
                    )))
                }
                _ => Err(aws_error(OUTBOX, error).into()),
            },
        }
    }
}

#[async_trait]
impl Outbox for DynamoSalesStore {
    async fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        let mut due = Vec::new();
        let mut start = None;
        // A filtered scan reads past records that do not match, so it pages until it has
        // enough or the table ends. The outbox holds only unsent SMS: it stays small.
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.tables.outbox)
                .filter_expression(
                    "next_attempt_at <= :now AND (attribute_not_exists(lease_until) OR lease_until < :now)",
                )
                .expression_attribute_values(":now", number(now_ms))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|error| aws_error(OUTBOX, error))?;
            for item in output.items.unwrap_or_default() {
                due.push(decode(OUTBOX, item)?);
            }
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if due.len() >= limit || start.is_none() {
                break;
            }
        }
        due.truncate(limit);
        Ok(due)
    }

    async fn claim(
        &self,
        order_id: &str,
        worker: &str,
        claim_id: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Option<OutboxRecord>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.outbox)
            .key("order_id", string(order_id))
            .update_expression(
                "SET claimed_by = :worker, claim_id = :claim, lease_until = :lease \
                 ADD attempts :one",
            )
            .condition_expression(
                "attribute_exists(order_id) AND next_attempt_at <= :now \
                 AND (attribute_not_exists(lease_until) OR lease_until < :now)",
            )
            .expression_attribute_values(":worker", string(worker))
            .expression_attribute_values(":claim", string(claim_id))
            .expression_attribute_values(":lease", number(lease_until_ms))
            .expression_attribute_values(":now", number(now_ms))
            .expression_attribute_values(":one", number(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output
                .attributes
                .map(|item| decode(OUTBOX, item))
                .transpose()?),
            Err(error) if is_conditional_failure(&error) => Ok(None),
            Err(error) => Err(aws_error(OUTBOX, error).into()),
        }
    }

    async fn extend(&self, claimed: &OutboxRecord, lease_until_ms: i64) -> Result<(), StoreError> {
        self.update_claimed(
            claimed,
            "SET lease_until = :lease",
            vec![(":lease", number(lease_until_ms))],
        )
        .await
    }

    async fn release(&self, claimed: &OutboxRecord) -> Result<(), StoreError> {
        self.update_claimed(
            claimed,
            "REMOVE claimed_by, claim_id, lease_until ADD attempts :undo",
            vec![(":undo", number(-1))],
        )
        .await
    }

    async fn complete(
        &self,
        claimed: &OutboxRecord,
        delivery: &Delivery,
    ) -> Result<(), StoreError> {
        let remove = Delete::builder()
            .table_name(&self.tables.outbox)
            .key("order_id", string(&claimed.order_id))
            .condition_expression(Self::STILL_CLAIMED)
            .expression_attribute_values(":claim", Self::claim_id(claimed))
            .build()
            .expect("table and key are set");
        self.transact_claimed(vec![
            TransactWriteItem::builder()
                .update(self.order_outcome(claimed, delivery))
                .build(),
            TransactWriteItem::builder().delete(remove).build(),
        ])
        .await
    }

    async fn reschedule(
        &self,
        claimed: &OutboxRecord,
        next_attempt_at_ms: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        let release = Update::builder()
            .table_name(&self.tables.outbox)
            .key("order_id", string(&claimed.order_id))
            .update_expression(
                "SET next_attempt_at = :next REMOVE claimed_by, claim_id, lease_until",
            )
            .condition_expression(Self::STILL_CLAIMED)
            .expression_attribute_values(":claim", Self::claim_id(claimed))
            .expression_attribute_values(":next", number(next_attempt_at_ms))
            .build()
            .expect("table, key and expression are set");
        let order = Update::builder()
            .table_name(&self.tables.orders)
            .key("id", string(&claimed.order_id))
            .update_expression("SET sms_attempts = :attempts, sms_error = :error")
            .condition_expression("attribute_exists(id)")
            .expression_attribute_values(":attempts", number(claimed.attempts))
            .expression_attribute_values(":error", string(error))
            .build()
            .expect("table, key and expression are set");
        self.transact_claimed(vec![
            TransactWriteItem::builder().update(release).build(),
            TransactWriteItem::builder().update(order).build(),
        ])
        .await
    }

    async fn count_send(
        &self,
        to: &str,
        order_id: &str,
        now_ms: i64,
        max: u32,
    ) -> Result<bool, StoreError> {
        let (window, expires_at) = super::send_window(to, now_ms);
        // A set of order ids, not a counter: a retried send of a counted order matches
        // `contains` and adds nothing, so retries never use up the number's share.
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.sms_sends)
            .key("number_hour", string(&window))
            .update_expression("ADD order_ids :order SET expires_at = :expires")
            .condition_expression(
                "attribute_not_exists(order_ids) OR contains(order_ids, :id) \
                 OR size(order_ids) < :max",
            )
            .expression_attribute_values(":order", AttributeValue::Ss(vec![order_id.to_owned()]))
            .expression_attribute_values(":id", string(order_id))
            .expression_attribute_values(":max", number(max))
            .expression_attribute_values(":expires", number(expires_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if is_conditional_failure(&error) => Ok(false),
            Err(error) => Err(aws_error(OUTBOX, error).into()),
        }
    }

    async fn backlog(&self) -> Result<u64, StoreError> {
        let mut count = 0u64;
        let mut start = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.tables.outbox)
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|error| aws_error(OUTBOX, error))?;
            count += u64::try_from(output.count).unwrap_or_default();
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() {
                return Ok(count);
            }
        }
    }
}
