//! The DynamoDB implementation of both store traits: one client and one set of tables,
//! the sales data in [`sales`], the SMS outbox in [`outbox`].
mod outbox;
mod sales;

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use common::aws::dynamo::{is_conditional_failure, string, Listing, TableSpec};
use common::aws::{aws_error, StorageError};
use common::cache::TtlCache;
use common::paging::CursorKeys;

use super::{
    CUSTOMERS_TABLE, IDEMPOTENCY_TABLE, NEWEST_FIRST, ORDERS_BY_CUSTOMER, ORDERS_BY_SMS_STATUS,
    ORDERS_TABLE, OUTBOX_TABLE, SEQUENCES_TABLE, SMS_MESSAGES_TABLE, SMS_SENDS_TABLE,
};
use crate::domain::{send_window, CustomerRecord};

/// Customers never change once created (no route updates or deletes one), so each order
/// for a customer read lately needs no read of its own: one GetItem of the five AWS calls
/// an order costs. The TTL bounds how long a customer removed by hand from the table is
/// still taken; ~300 bytes each.
const CUSTOMERS_KEPT: usize = 4096;
const CUSTOMERS_KEPT_FOR: Duration = Duration::from_secs(300);

fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Why a transaction was not written.
enum TransactionFailure {
    /// DynamoDB cancelled it: one reason code per item, in the order the items were sent
    /// (`None` for an item not at fault).
    Cancelled(Vec<Option<String>>),
    /// It failed otherwise (logged where it was met).
    Failed(StorageError),
}

impl TransactionFailure {
    /// Whether the cancellation met a concurrent write or throttling (worth another try
    /// shortly), rather than a failed condition.
    fn busy(codes: &[Option<String>]) -> bool {
        codes.iter().any(|code| {
            matches!(
                code.as_deref(),
                Some("TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded")
            )
        })
    }
}

impl DynamoSalesStore {
    /// Writes `items` in one transaction; `what` names the store in errors.
    async fn transact_write(
        &self,
        what: &str,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), TransactionFailure> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                Err(TransactionFailure::Cancelled(
                    cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|reason| reason.code().map(str::to_owned))
                        .collect(),
                ))
            }
            _ => Err(TransactionFailure::Failed(aws_error(what, error))),
        }
    }
}

/// A count in the sends table: what to add to a window, under which condition.
struct WindowCount<'a> {
    /// `ADD` clause, e.g. `sends :one`.
    add: &'a str,
    /// The condition that there is room; `:max` is bound to the limit.
    room: &'a str,
    values: Vec<(&'a str, AttributeValue)>,
}

impl DynamoSalesStore {
    /// Counts in `key`'s window of the clock hour that holds `now_ms`, if the window has
    /// room for it under `max`; `false`, counting nothing, when it has not. `what` names
    /// the store in errors.
    async fn count_in_window(
        &self,
        what: &str,
        (key, now_ms): (&str, i64),
        max: u32,
        count: WindowCount<'_>,
    ) -> Result<bool, StorageError> {
        let (window, expires_at) = send_window(key, now_ms);
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.sms_sends)
            .key("number_hour", string(&window))
            .update_expression(format!("ADD {} SET expires_at = :expires", count.add))
            .condition_expression(count.room)
            .set_expression_attribute_values(Some(
                count
                    .values
                    .into_iter()
                    .map(|(name, value)| (name.to_owned(), value))
                    .chain([
                        (":max".to_owned(), number(max)),
                        (":expires".to_owned(), number(expires_at)),
                    ])
                    .collect(),
            ))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if is_conditional_failure(&error) => Ok(false),
            Err(error) => Err(aws_error(what, error)),
        }
    }
}

/// The table names, each with the environment's prefix.
struct Tables {
    customers: String,
    sequences: String,
    orders: String,
    outbox: String,
    idempotency: String,
    sms_sends: String,
    sms_messages: String,
}

/// The listings clients page through, each with its own sealed cursors.
struct Listings {
    customers: Listing,
    orders: Listing,
    orders_of_customer: Listing,
    orders_by_sms_status: Listing,
}

impl Listings {
    fn new(keys: &CursorKeys) -> Self {
        let spec = |name: &str| -> TableSpec {
            super::tables()
                .into_iter()
                .find(|table| table.name == name)
                .expect("the table is declared")
        };
        let (customers, orders) = (spec(CUSTOMERS_TABLE), spec(ORDERS_TABLE));
        Self {
            customers: Listing::new("newest", &customers, Some(NEWEST_FIRST), keys),
            orders: Listing::new("newest", &orders, Some(NEWEST_FIRST), keys),
            orders_of_customer: Listing::new("customer", &orders, Some(ORDERS_BY_CUSTOMER), keys),
            orders_by_sms_status: Listing::new(
                "sms-status",
                &orders,
                Some(ORDERS_BY_SMS_STATUS),
                keys,
            ),
        }
    }
}

pub struct DynamoSalesStore {
    client: Client,
    tables: Tables,
    listings: Listings,
    customers_read: TtlCache<String, CustomerRecord>,
    /// The due-index shard the next poll starts at.
    next_due_shard: AtomicU32,
}

impl DynamoSalesStore {
    /// The store on the tables named `prefix` + each table's name; page cursors sealed with
    /// `cursor_keys`.
    pub fn new(client: Client, prefix: &str, cursor_keys: &CursorKeys) -> Self {
        Self {
            client,
            listings: Listings::new(cursor_keys),
            tables: Tables {
                customers: format!("{prefix}{CUSTOMERS_TABLE}"),
                sequences: format!("{prefix}{SEQUENCES_TABLE}"),
                orders: format!("{prefix}{ORDERS_TABLE}"),
                outbox: format!("{prefix}{OUTBOX_TABLE}"),
                idempotency: format!("{prefix}{IDEMPOTENCY_TABLE}"),
                sms_sends: format!("{prefix}{SMS_SENDS_TABLE}"),
                sms_messages: format!("{prefix}{SMS_MESSAGES_TABLE}"),
            },
            customers_read: TtlCache::new(CUSTOMERS_KEPT, CUSTOMERS_KEPT_FOR),
            next_due_shard: AtomicU32::new(0),
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
            &t.sms_messages,
        ]
        .into_iter()
        .cloned()
        .collect()
    }
}
