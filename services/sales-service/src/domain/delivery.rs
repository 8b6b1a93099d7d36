//! What became of an order's SMS, the hourly windows its sends are counted in, and the
//! SMS still waiting.

/// A finished SMS: accepted by the provider, or given up.
#[derive(Debug, Clone)]
pub enum Delivery {
    Sent { message_id: String, at: String },
    Failed { reason: String },
}

const HOUR_MS: i64 = 3_600_000;

/// The key of `to`'s clock hour at `now_ms` among the counted sends, and when the count
/// may go (Unix seconds, an hour after its hour ends).
pub fn send_window(to: &str, now_ms: i64) -> (String, i64) {
    let hour = now_ms.div_euclid(HOUR_MS);
    (format!("{to}#{hour}"), (hour + 2) * HOUR_MS / 1000)
}

/// The SMS waiting in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// How many, counted up to the count's limit.
    pub queued: u64,
    /// More than `queued` wait: the count stopped at its limit.
    pub more: bool,
    /// Unix milliseconds: when the one due first is (or was) due; `None` when none waits.
    pub oldest_due_ms: Option<i64>,
}
