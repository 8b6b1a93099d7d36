//! Persistence behind two small traits, each with its own error: the sales data
//! (customers, orders, idempotency records; [`StoreError`]) and the SMS outbox the
//! dispatcher works through ([`OutboxError`]). DynamoDB implements both; the outbox also
//! lives in memory for the dispatcher's unit tests.
mod dynamo;
#[cfg(test)]
pub mod memory;

use async_trait::async_trait;
use common::aws::dynamo::Page;
use common::aws::dynamo::{IndexProjection, IndexSpec, KeyAttribute, TableSpec};
use common::aws::StorageError;

use crate::domain::{
    Backlog, CustomerRecord, Delivery, IdempotencyRecord, OrderRecord, OutboxRecord, SmsCaller,
    SmsStatus,
};

pub use dynamo::DynamoSalesStore;

pub const CUSTOMERS_TABLE: &str = "customers";
pub const SEQUENCES_TABLE: &str = "sequences";
pub const ORDERS_TABLE: &str = "orders";
pub const OUTBOX_TABLE: &str = "sms-outbox";
pub const IDEMPOTENCY_TABLE: &str = "idempotency-keys";
/// Which orders' SMS went to a number in an hour (the per-number limit), and how many SMS
/// a caller asked for in an hour (the per-caller limit; keys `caller:...`).
pub const SMS_SENDS_TABLE: &str = "sms-sends";
/// The order each sent SMS belongs to, by the provider's message id: what a delivery
/// report names. Written with the order's `sent` status; kept a week (TTL).
pub const SMS_MESSAGES_TABLE: &str = "sms-messages";
pub const ORDERS_BY_CUSTOMER: &str = "customer-index";
/// Every customer (or order) newest first: one partition (`listing`, the same value on
/// every item) sorted by the creation time. A page is one Query of `limit` items, however
/// many there are; docs/performance.md has the reasoning and the write ceiling.
pub const NEWEST_FIRST: &str = "newest-index";
/// The orders whose SMS is in one status, newest first: `sms_status` (on every order, set
/// by every write that changes it) and `ordered_at`. Four partitions in all, so the
/// `pending` and `sent` ones take every new order's writes: the same ceiling as
/// [`NEWEST_FIRST`] (docs/performance.md).
pub const ORDERS_BY_SMS_STATUS: &str = "sms-status-index";
/// The outbox records by due time, in [`DUE_SHARDS`] partitions (`due_shard`, from the
/// order id), keys only: a poll reads the due ones, never the waiting ones.
pub const OUTBOX_BY_DUE_TIME: &str = "due-index";
/// How many partitions the outbox's due index spreads its records over: each takes about
/// 1,000 writes a second. Fixed: a record keeps its shard for life.
pub const DUE_SHARDS: u32 = 4;

/// The due-index shard of an order's SMS: a stable hash of its id, so every write of the
/// record keeps it in the same partition (the bench spreads its backlog copies with it).
pub fn due_shard(order_id: &str) -> u32 {
    fnv1a(order_id) % DUE_SHARDS
}

/// 32-bit FNV-1a.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// The tables this service needs; `sales-service print-tables` prints them for the
/// Terraform drift check.
pub fn tables() -> Vec<TableSpec> {
    let plain = |name, hash_key| TableSpec {
        name,
        hash_key: KeyAttribute::string(hash_key),
        range_key: None,
        ttl_attribute: None,
        global_secondary_indexes: vec![],
    };
    let newest_first = |created: &'static str| IndexSpec {
        name: NEWEST_FIRST,
        hash_key: KeyAttribute::string("listing"),
        range_key: Some(KeyAttribute::string(created)),
        projection: IndexProjection::All,
    };
    vec![
        TableSpec {
            global_secondary_indexes: vec![newest_first("created_at")],
            ..plain(CUSTOMERS_TABLE, "id")
        },
        plain(SEQUENCES_TABLE, "name"),
        TableSpec {
            global_secondary_indexes: vec![
                IndexSpec {
                    name: ORDERS_BY_CUSTOMER,
                    hash_key: KeyAttribute::string("customer_id"),
                    range_key: Some(KeyAttribute::string("ordered_at")),
                    projection: IndexProjection::All,
                },
                newest_first("ordered_at"),
                IndexSpec {
                    name: ORDERS_BY_SMS_STATUS,
                    hash_key: KeyAttribute::string("sms_status"),
                    range_key: Some(KeyAttribute::string("ordered_at")),
                    projection: IndexProjection::All,
                },
            ],
            ..plain(ORDERS_TABLE, "id")
        },
        TableSpec {
            global_secondary_indexes: vec![IndexSpec {
                name: OUTBOX_BY_DUE_TIME,
                hash_key: KeyAttribute::number("due_shard"),
                range_key: Some(KeyAttribute::number("next_attempt_at")),
                projection: IndexProjection::KeysOnly,
            }],
            ..plain(OUTBOX_TABLE, "order_id")
        },
        TableSpec {
            ttl_attribute: Some("expires_at"),
            ..plain(IDEMPOTENCY_TABLE, "key")
        },
        TableSpec {
            ttl_attribute: Some("expires_at"),
            ..plain(SMS_SENDS_TABLE, "number_hour")
        },
        TableSpec {
            ttl_attribute: Some("expires_at"),
            ..plain(SMS_MESSAGES_TABLE, "message_id")
        },
    ]
}

/// Which orders a listing holds: all, a customer's, those whose SMS is in a status, or
/// both. A page cursor is sealed for one filter and opens for no other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub customer_id: Option<String>,
    pub sms_status: Option<SmsStatus>,
}

impl OrderFilter {
    /// What a cursor of this listing is bound to.
    pub fn binding(&self) -> String {
        format!(
            "customer={};sms_status={}",
            self.customer_id.as_deref().unwrap_or(""),
            self.sms_status.map_or("", SmsStatus::as_str)
        )
    }
}

/// The final state a delivery report gives an SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportedFinal {
    Delivered,
    Failed { reason: String },
}

/// What a delivery report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportApplied {
    /// The order's SMS took the reported state.
    Recorded { order_id: String },
    /// It was final already, or the order sent it again since: nothing changed.
    AlreadyFinal { order_id: String },
    /// No SMS of ours has this message id (not yet recorded, expired, or not ours).
    Unknown,
}

/// How a call to the sales data can fail.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the idempotency key is already recorded")]
    IdempotencyKeyTaken,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// How a call to the outbox can fail: only the dispatcher calls it, so a lost claim never
/// reaches a route.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("another dispatcher holds the outbox record")]
    LostClaim,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[async_trait]
pub trait SalesStore: Send + Sync {
    /// The next number of a named counter (1, 2, ...); numbers are never repeated.
    async fn next_number(&self, counter: &str) -> Result<u64, StoreError>;
    /// Stores the customer, and with it the idempotency record when there is one
    /// (`IdempotencyKeyTaken` when a live record has the key: nothing is written).
    async fn insert_customer(
        &self,
        customer: &CustomerRecord,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;
    async fn customer(&self, id: &str) -> Result<Option<CustomerRecord>, StoreError>;
    /// Every customer, newest first, a page of `limit` from `cursor` (a cursor a page of
    /// this listing gave out: anything else is `StorageError::BadCursor`).
    async fn customers(
        &self,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<CustomerRecord>, StoreError>;
    /// Stores the order, its outbox record (none when its SMS was refused before it was
    /// queued) and the idempotency record in one transaction: all or nothing.
    async fn insert_order(
        &self,
        order: &OrderRecord,
        sms: Option<&OutboxRecord>,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;
    /// Counts one SMS against `caller`'s share of the clock hour that holds `now_ms`
    /// (across replicas): `false`, counting nothing, when `max` are already counted there.
    async fn count_caller_sms(
        &self,
        caller: &SmsCaller,
        now_ms: i64,
        max: u32,
    ) -> Result<bool, StoreError>;
    async fn order(&self, id: &str) -> Result<Option<OrderRecord>, StoreError>;
    /// The orders `filter` holds, newest first, a page of up to `limit` from `cursor` (one
    /// a page of the same filter gave out: anything else is `StorageError::BadCursor`).
    /// Every filter but a customer's orders in one SMS status reads exactly its page
    /// through an index; that one reads the customer's orders and keeps the status's,
    /// at most `FILTERED_READS` queries a page, so a page may hold fewer than `limit` with
    /// a `next`.
    async fn orders(
        &self,
        filter: &OrderFilter,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<OrderRecord>, StoreError>;
    /// Records the final state a delivery report gives the SMS the provider knows as
    /// `message_id`, if that is still the order's SMS and it is `sent` (a replay, or a
    /// report on an earlier send of the same SMS, changes nothing).
    async fn apply_delivery_report(
        &self,
        message_id: &str,
        report: &ReportedFinal,
    ) -> Result<ReportApplied, StoreError>;
    /// The live (unexpired at `now`, Unix seconds) record for an idempotency key.
    async fn idempotency_record(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
}

#[async_trait]
pub trait Outbox: Send + Sync {
    /// The order ids of up to `limit` records due at `now_ms`, the longest due first (a
    /// claimed record is not due while its lease lasts).
    async fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<String>, OutboxError>;
    /// Takes the record for `worker` under the new `claim_id` until `lease_until_ms`,
    /// counting an attempt, and makes it due again when the lease ends (so a claim whose
    /// dispatcher died is taken over then); `None` when another dispatcher has it, it is
    /// not due, or it is gone.
    async fn claim(
        &self,
        order_id: &str,
        worker: &str,
        claim_id: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Option<OutboxRecord>, OutboxError>;
    /// Moves the lease of a claim still held, and with it the time the record is due
    /// again, to `lease_until_ms` (`LostClaim` otherwise).
    async fn extend(&self, claimed: &OutboxRecord, lease_until_ms: i64) -> Result<(), OutboxError>;
    /// Gives a claim back unused: nothing was sent, so the attempt it counted is undone
    /// and the record is due again at `now_ms` (`LostClaim` when it was no longer held).
    async fn release(&self, claimed: &OutboxRecord, now_ms: i64) -> Result<(), OutboxError>;
    /// Writes the outcome on the order and removes the record, if the claim is still
    /// held (`LostClaim` otherwise).
    async fn complete(
        &self,
        claimed: &OutboxRecord,
        delivery: &Delivery,
    ) -> Result<(), OutboxError>;
    /// A transient failure: the record waits until `next_attempt_at_ms`, and the order
    /// shows the attempts and the error.
    async fn reschedule(
        &self,
        claimed: &OutboxRecord,
        next_attempt_at_ms: i64,
        error: &str,
    ) -> Result<(), OutboxError>;
    /// How many SMS are waiting, counted up to `count_up_to` (the count reads what it
    /// counts), and the earliest due time among them.
    async fn backlog(&self, count_up_to: u64) -> Result<Backlog, OutboxError>;
    /// Counts `order_id`'s SMS against `to`'s share of the hour that holds `now_ms`:
    /// `false` when `max` other orders' SMS already count there. Counting the same order
    /// again (a retry) takes nothing more.
    async fn count_send(
        &self,
        to: &str,
        order_id: &str,
        now_ms: i64,
        max: u32,
    ) -> Result<bool, OutboxError>;
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_due_shard_hash_is_fnv_1a() {
        // Reference values: http://www.isthe.com/chongo/tech/comp/fnv/ (FNV-1a, 32 bit).
        assert_eq!(super::fnv1a(""), 0x811c_9dc5);
        assert_eq!(super::fnv1a("a"), 0xe40c_292c);
        assert_eq!(super::fnv1a("foobar"), 0xbf9c_f968);
    }
}
