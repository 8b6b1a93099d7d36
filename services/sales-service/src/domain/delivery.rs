//! What became of an order's SMS, the hourly windows its sends are counted in, and the
//! SMS still waiting.
use common::auth::Principal;
use sha2::{Digest, Sha256};

/// A finished SMS: accepted by the provider, or given up.
#[derive(Debug, Clone)]
pub enum Delivery {
    Sent { message_id: String, at: String },
    Failed { reason: String },
}

const HOUR_MS: i64 = 3_600_000;

/// The key of `to`'s (a number's, or an [`SmsCaller`]'s) clock hour at `now_ms` among the
/// counted sends, and when the count may go (Unix seconds, an hour after its hour ends).
pub fn send_window(to: &str, now_ms: i64) -> (String, i64) {
    let hour = now_ms.div_euclid(HOUR_MS);
    (format!("{to}#{hour}"), (hour + 2) * HOUR_MS / 1000)
}

/// Who asked for an order's SMS, for the per-caller limit: the OIDC client, and for a
/// person signed in through a client (an operator in the console: `sub` differs from the
/// client id) the client and the person, so operators do not share one limit. Hashed:
/// claims are the issuer's text of any length, and the key names no one in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsCaller(String);

impl SmsCaller {
    pub fn of(caller: &Principal) -> Self {
        let who = match &caller.client_id {
            Some(client) if *client != caller.subject => vec![client, &caller.subject],
            Some(client) => vec![client],
            None => vec![&caller.subject],
        };
        let who = serde_json::to_vec(&who).expect("strings encode");
        Self(format!("caller:{}", hex::encode(Sha256::digest(who))))
    }

    /// The key of its windows in the sends table (numbers start with `+`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(subject: &str, client_id: Option<&str>) -> Principal {
        Principal {
            subject: subject.into(),
            client_id: client_id.map(Into::into),
            scopes: Default::default(),
        }
    }

    #[test]
    fn a_client_is_one_caller_and_each_person_signed_in_through_a_client_another() {
        let service = SmsCaller::of(&principal("platform-dev", Some("platform-dev")));
        assert_eq!(service, SmsCaller::of(&principal("platform-dev", None)));
        let operator = SmsCaller::of(&principal("operator", Some("console")));
        let viewer = SmsCaller::of(&principal("viewer", Some("console")));
        let console = SmsCaller::of(&principal("console", Some("console")));
        assert_ne!(operator, viewer, "operators do not share one limit");
        assert_ne!(operator, console);
        assert_ne!(
            SmsCaller::of(&principal("b c", Some("a"))),
            SmsCaller::of(&principal("c", Some("a b"))),
            "no two pairs share a key"
        );
        assert!(operator.as_str().starts_with("caller:") && operator.as_str().len() == 71);
    }
}
