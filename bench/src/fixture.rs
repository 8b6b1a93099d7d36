//! The bench's fixed names and credentials: what the processes it starts are configured
//! with ([`run`](crate::run)), what the seed writes ([`seed`](crate::seed)) and what the
//! measured requests carry ([`plan`](crate::plan)). A leaf: it imports no other module.
use serde_json::{json, Value};

pub const BENCH_USER: &str = "bench";
pub const BENCH_PASSWORD: &str = "bench-password-1";
/// The integration-service tenant the bench's client calls as.
pub const TENANT: &str = "bench";
/// The issuer's default client: the bench's caller, listed for the bench tenant.
pub const CLIENT_ID: &str = "platform-dev";
pub const CLIENT_SECRET: &str = "platform-dev-secret";
/// Users the Okta stand-in holds.
pub const OKTA_USERS: usize = 200;

/// The body of an order for `customer`.
pub fn order(customer: &str) -> Value {
    json!({"customer": customer, "item": "Bag of rice", "amount": "56000.68"})
}
