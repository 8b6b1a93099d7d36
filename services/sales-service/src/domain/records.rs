//! The records the store persists: a customer, an order, the SMS an order sends and the
//! first answer to an `Idempotency-Key`. Routes build and read them; the store only
//! writes and reads them back.
use serde::{Deserialize, Serialize};

use super::SmsStatus;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomerRecord {
    pub id: String,
    pub code: String,
    pub name: String,
    pub phone_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderRecord {
    pub id: String,
    pub customer_id: String,
    pub customer_code: String,
    pub item: String,
    /// The exact decimal as text ("56000.68").
    pub amount: String,
    pub currency: String,
    pub ordered_at: String,
    pub sms_status: SmsStatus,
    pub sms_attempts: u32,
    /// Why the SMS failed, or (while pending) why the last attempt did not go through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_sent_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_message_id: Option<String>,
    /// When the SMS last changed (an attempt, its outcome, a delivery report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_updated_at: Option<String>,
}

/// An SMS still to send, written in the same transaction as its order. The recipient
/// and text are fixed at order time, so the dispatcher needs nothing else.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxRecord {
    pub order_id: String,
    pub to: String,
    pub message: String,
    /// Attempts claimed so far (a claim counts, so a crash mid-send still counts).
    pub attempts: u32,
    /// Unix milliseconds: not before this.
    pub next_attempt_at: i64,
    /// Unix milliseconds: while in the future, `claimed_by` owns the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<i64>,
    /// The dispatcher holding it (for operators).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    /// Unique to one claim: every write made under the claim is conditional on it (a
    /// fencing token), so a dispatcher whose claim was taken over writes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_id: Option<String>,
}

impl OutboxRecord {
    /// An SMS to `to`, due at `due_ms`, never tried.
    pub fn new(order_id: String, to: String, message: String, due_ms: i64) -> Self {
        Self {
            order_id,
            to,
            message,
            attempts: 0,
            next_attempt_at: due_ms,
            lease_until: None,
            claimed_by: None,
            claim_id: None,
        }
    }
}

/// The first response to a POST with an `Idempotency-Key`, replayed to retries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Operation, caller and the client's key: keys of different callers never meet.
    pub key: String,
    /// Digest of the validated request, to refuse the key's reuse for another request.
    pub fingerprint: String,
    pub status: u16,
    /// The response body, JSON.
    pub body: String,
    /// The created resource's URL.
    pub location: String,
    /// Unix seconds; DynamoDB's TTL attribute (reads check it too: TTL deletes late).
    pub expires_at: i64,
}
