//! Types that validate themselves on construction: once a value exists, it is valid; and
//! the records the store persists.
mod customer;
mod delivery;
mod delivery_report;
mod destination;
mod idempotency_key;
mod iso4217;
mod order;
mod records;
mod sms_text;
mod template;

pub use customer::{CustomerCode, NewCustomer, PhoneNumber};
pub use delivery::{send_window, Backlog, Delivery, SmsCaller};
pub use delivery_report::{DeliveryReport, ReportedStatus};
pub use destination::Destinations;
pub use idempotency_key::IdempotencyKey;
pub use order::{Amount, Currency, Item, NewOrder, SmsStatus};
pub use records::{CustomerRecord, IdempotencyRecord, OrderRecord, OutboxRecord};
pub use template::{MessageTemplate, MessageValues};

use sha2::{Digest, Sha256};

/// A stable digest of a request's validated content, so a retry with the same
/// `Idempotency-Key` can be told apart from a different request reusing the key.
/// The parts are JSON-encoded as one array: no two different inputs share an encoding.
fn fingerprint(parts: &[&str]) -> String {
    let canonical = serde_json::to_vec(parts).expect("strings encode");
    hex::encode(Sha256::digest(canonical))
}
