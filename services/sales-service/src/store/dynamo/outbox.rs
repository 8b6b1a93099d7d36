//! The SMS outbox the dispatcher works through: due records, claims and their leases,
//! outcomes written with the order's status, and the per-number send counts.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, Select, TransactWriteItem, Update,
};
use common::aws::dynamo::{decode, is_conditional_failure, string, to_item, Item};
use common::aws::{aws_error, StorageError};
use common::timestamp::Timestamp;

use super::{number, DynamoSalesStore, TransactionFailure, WindowCount};
use crate::domain::{Backlog, Delivery, OutboxRecord};
use crate::store::{due_shard, Outbox, OutboxError, DUE_SHARDS, OUTBOX_BY_DUE_TIME};

const OUTBOX: &str = "The SMS outbox";

/// How long a sent SMS's message id finds its order: delivery reports come within
/// minutes, or a day or two for a phone that was off.
const MESSAGE_IDS_KEPT: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

impl DynamoSalesStore {
    /// An outbox record as an item, in its shard of the due index.
    pub(super) fn outbox_item(record: &OutboxRecord) -> Item {
        let mut item = to_item(record);
        item.insert("due_shard".to_owned(), number(due_shard(&record.order_id)));
        item
    }

    /// A Query of one shard of the due index, oldest due first; the key condition, and
    /// anything else, to add.
    fn due_index(&self, shard: u32) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.tables.outbox)
            .index_name(OUTBOX_BY_DUE_TIME)
            .expression_attribute_values(":shard", number(shard))
            .scan_index_forward(true)
    }

    /// The order update for a final SMS outcome.
    fn order_outcome(&self, claimed: &OutboxRecord, delivery: &Delivery) -> Update {
        let update = Update::builder()
            .table_name(&self.tables.orders)
            .key("id", string(&claimed.order_id))
            .condition_expression("attribute_exists(id)")
            .expression_attribute_values(":attempts", number(claimed.attempts))
            .expression_attribute_values(":now", string(&Timestamp::now().sortable()));
        let update = match delivery {
            Delivery::Sent { message_id, at } => update
                .update_expression(
                    "SET sms_status = :sent, sms_attempts = :attempts, sms_message_id = :id, \
                     sms_sent_at = :at, sms_updated_at = :now REMOVE sms_error",
                )
                .expression_attribute_values(":sent", string("sent"))
                .expression_attribute_values(":id", string(message_id))
                .expression_attribute_values(":at", string(at)),
            Delivery::Failed { reason } => update
                .update_expression(
                    "SET sms_status = :failed, sms_attempts = :attempts, sms_error = :reason, \
                     sms_updated_at = :now",
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
    ) -> Result<(), OutboxError> {
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
            Err(error) if is_conditional_failure(&error) => Err(OutboxError::LostClaim),
            Err(error) => Err(aws_error(OUTBOX, error).into()),
        }
    }

    async fn transact_claimed(&self, items: Vec<TransactWriteItem>) -> Result<(), OutboxError> {
        match self.transact_write(OUTBOX, items).await {
            Ok(()) => Ok(()),
            // A failed fence: the claim is another dispatcher's now.
            Err(TransactionFailure::Cancelled(codes))
                if codes
                    .iter()
                    .any(|code| code.as_deref() == Some("ConditionalCheckFailed")) =>
            {
                Err(OutboxError::LostClaim)
            }
            // A conflict with another write, or throttling: the claim may well still be
            // ours, and the write worth another try.
            Err(TransactionFailure::Cancelled(_)) => Err(StorageError::Unavailable(
                "The SMS outbox is busy; retry shortly".into(),
            )
            .into()),
            Err(TransactionFailure::Failed(error)) => Err(error.into()),
        }
    }
}

#[async_trait]
impl Outbox for DynamoSalesStore {
    async fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<String>, OutboxError> {
        let mut due = Vec::new();
        // Each poll starts at the next shard, so a busy shard cannot starve the others.
        let first = self.next_due_shard.fetch_add(1, Ordering::Relaxed);
        for shard in (first..first + DUE_SHARDS).map(|n| n % DUE_SHARDS) {
            let wanted = limit - due.len();
            if wanted == 0 {
                break;
            }
            let output = self
                .due_index(shard)
                .key_condition_expression("due_shard = :shard AND next_attempt_at <= :now")
                .expression_attribute_values(":now", number(now_ms))
                .limit(i32::try_from(wanted).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|error| aws_error(OUTBOX, error))?;
            for item in output.items.unwrap_or_default() {
                let key: OutboxKey = decode(OUTBOX, item)?;
                due.push(key.order_id);
            }
        }
        Ok(due)
    }

    async fn claim(
        &self,
        order_id: &str,
        worker: &str,
        claim_id: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Option<OutboxRecord>, OutboxError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.outbox)
            .key("order_id", string(order_id))
            .update_expression(
                "SET claimed_by = :worker, claim_id = :claim, lease_until = :lease, \
                 next_attempt_at = :lease ADD attempts :one",
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

    async fn extend(&self, claimed: &OutboxRecord, lease_until_ms: i64) -> Result<(), OutboxError> {
        self.update_claimed(
            claimed,
            "SET lease_until = :lease, next_attempt_at = :lease",
            vec![(":lease", number(lease_until_ms))],
        )
        .await
    }

    async fn release(&self, claimed: &OutboxRecord, now_ms: i64) -> Result<(), OutboxError> {
        self.update_claimed(
            claimed,
            "SET next_attempt_at = :now REMOVE claimed_by, claim_id, lease_until \
             ADD attempts :undo",
            vec![(":now", number(now_ms)), (":undo", number(-1))],
        )
        .await
    }

    async fn complete(
        &self,
        claimed: &OutboxRecord,
        delivery: &Delivery,
    ) -> Result<(), OutboxError> {
        let remove = Delete::builder()
            .table_name(&self.tables.outbox)
            .key("order_id", string(&claimed.order_id))
            .condition_expression(Self::STILL_CLAIMED)
            .expression_attribute_values(":claim", Self::claim_id(claimed))
            .build()
            .expect("table and key are set");
        let mut items = vec![
            TransactWriteItem::builder()
                .update(self.order_outcome(claimed, delivery))
                .build(),
            TransactWriteItem::builder().delete(remove).build(),
        ];
        // A sent SMS is found again by its message id when its delivery report comes.
        if let Delivery::Sent { message_id, .. } = delivery {
            let kept_until = Timestamp::now() + MESSAGE_IDS_KEPT;
            let known = Put::builder()
                .table_name(&self.tables.sms_messages)
                .item("message_id", string(message_id))
                .item("order_id", string(&claimed.order_id))
                .item("expires_at", number(kept_until.unix_seconds()))
                .build()
                .expect("table and item are set");
            items.push(TransactWriteItem::builder().put(known).build());
        }
        self.transact_claimed(items).await
    }

    async fn reschedule(
        &self,
        claimed: &OutboxRecord,
        next_attempt_at_ms: i64,
        error: &str,
    ) -> Result<(), OutboxError> {
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
            .update_expression(
                "SET sms_attempts = :attempts, sms_error = :error, sms_updated_at = :now",
            )
            .expression_attribute_values(":now", string(&Timestamp::now().sortable()))
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
    ) -> Result<bool, OutboxError> {
        // A set of order ids, not a counter: a retried send of a counted order matches
        // `contains` and adds nothing, so retries never use up the number's share.
        let count = WindowCount {
            add: "order_ids :order",
            room: "attribute_not_exists(order_ids) OR contains(order_ids, :id) \
                   OR size(order_ids) < :max",
            values: vec![
                (":order", AttributeValue::Ss(vec![order_id.to_owned()])),
                (":id", string(order_id)),
            ],
        };
        Ok(self
            .count_in_window(OUTBOX, (to, now_ms), max, count)
            .await?)
    }

    async fn backlog(&self, count_up_to: u64) -> Result<Backlog, OutboxError> {
        let mut backlog = Backlog {
            queued: 0,
            more: false,
            oldest_due_ms: None,
        };
        for shard in 0..DUE_SHARDS {
            // The first key of each shard is its earliest due time: one item read.
            let first = self
                .due_index(shard)
                .key_condition_expression("due_shard = :shard")
                .limit(1)
                .send()
                .await
                .map_err(|error| aws_error(OUTBOX, error))?;
            if let Some(item) = first.items.unwrap_or_default().into_iter().next() {
                let key: OutboxKey = decode(OUTBOX, item)?;
                backlog.oldest_due_ms =
                    Some(backlog.oldest_due_ms.map_or(key.next_attempt_at, |oldest| {
                        oldest.min(key.next_attempt_at)
                    }));
            }
            // A count reads what it counts: stop at the limit.
            let mut start = None;
            loop {
                let wanted = count_up_to.saturating_sub(backlog.queued);
                if wanted == 0 {
                    backlog.more = true;
                    break;
                }
                let page = self
                    .due_index(shard)
                    .key_condition_expression("due_shard = :shard")
                    .select(Select::Count)
                    .limit(i32::try_from(wanted).unwrap_or(i32::MAX))
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|error| aws_error(OUTBOX, error))?;
                backlog.queued += u64::try_from(page.count).unwrap_or_default();
                start = page.last_evaluated_key.filter(|key| !key.is_empty());
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(backlog)
    }
}

/// What the due index holds of a record (keys only).
#[derive(serde::Deserialize)]
struct OutboxKey {
    order_id: String,
    next_attempt_at: i64,
}
