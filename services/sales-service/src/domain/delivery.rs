//! What became of an order's SMS, and the hourly windows its sends are counted in.

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
