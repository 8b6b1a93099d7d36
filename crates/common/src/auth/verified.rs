//! Tokens verified a moment ago, so a client sending the same bearer token with each
//! request pays for one signature check a minute instead of one per request (the RS256
//! check and the token's decoding were ~6 % of a sales-service list's CPU:
//! docs/performance.md).
//!
//! A hit is as good as checking again: the entry is keyed by the whole token (a tampered
//! copy is another key), ends at the token's own `exp` (plus the leeway the check allows),
//! and does not count once the issuer's key set changed (a withdrawn key stops its tokens
//! at once). Entries also end `TTL` after the check, so the key store is still consulted,
//! and refreshes its keys on its own schedule, for tokens in constant use.
use std::time::Duration;

use super::Principal;
use crate::cache::TtlCache;

/// How long one check serves a token at most.
const TTL: Duration = Duration::from_secs(60);
/// Entries kept at most (a token is ~1 KiB). Only tokens that verified get in, so only
/// the issuer's clients can fill it.
const CAPACITY: usize = 1024;

pub(super) struct VerifiedTokens {
    by_token: TtlCache<Box<str>, Entry>,
}

#[derive(Clone)]
struct Entry {
    principal: Principal,
    /// The token's `exp` plus the leeway, unix seconds.
    valid_until: i64,
    key_generation: u64,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self {
            by_token: TtlCache::new(CAPACITY, TTL),
        }
    }
}

impl VerifiedTokens {
    /// The caller behind `token` if it was verified with the current key set (`generation`)
    /// and has not expired by `now` (unix seconds).
    pub fn get(&self, token: &str, generation: u64, now: i64) -> Option<Principal> {
        self.by_token
            .get(token)
            .filter(|entry| entry.key_generation == generation && now <= entry.valid_until)
            .map(|entry| entry.principal)
    }

    /// Remembers a token verified with key set `generation`, valid until `valid_until`.
    pub fn insert(&self, token: &str, principal: Principal, valid_until: i64, generation: u64) {
        let entry = Entry {
            principal,
            valid_until,
            key_generation: generation,
        };
        self.by_token.insert(token.into(), entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_ends_at_the_token_s_expiry_and_with_the_key_set() {
        let tokens = VerifiedTokens::default();
        let principal = Principal {
            subject: "svc".into(),
            client_id: None,
            scopes: Default::default(),
        };
        tokens.insert("a.b.c", principal, 100, 1);
        assert!(tokens.get("a.b.c", 1, 100).is_some());
        assert!(tokens.get("a.b.c", 1, 101).is_none(), "expired");
        assert!(tokens.get("a.b.c", 2, 100).is_none(), "key set changed");
        assert!(tokens.get("a.b.d", 1, 100).is_none(), "another token");
    }
}
