//! Tokens verified a moment ago, so a client sending the same bearer token with each
//! request pays for one signature check a minute instead of one per request (an RS256
//! check and the token's decoding were ~6 % of a sales-service list's CPU: docs/performance.md).
//!
//! A hit is as good as checking again: the entry is keyed by the whole token (a tampered
//! copy is another key), ends at the token's own `exp` (plus the leeway the check allows),
//! and is dropped when the issuer's key set changed since (a withdrawn key stops counting
//! at once). Entries also end `TTL` after the check, so the key store is still consulted
//! (and refreshes its keys on its own schedule) for tokens in constant use.
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::Principal;

/// How long one check serves a token at most.
const TTL: Duration = Duration::from_secs(60);
/// Entries kept at most (a token is ~1 KiB): beyond it, new tokens are checked every time
/// until old entries end. Only tokens that verified get in, so only the issuer's clients
/// can fill it.
const CAPACITY: usize = 1024;

#[derive(Default)]
pub(super) struct VerifiedTokens {
    by_token: Mutex<HashMap<Box<str>, Entry>>,
}

struct Entry {
    principal: Principal,
    /// The token's `exp` plus the leeway, unix seconds.
    valid_until: u64,
    checked_at: Instant,
    key_generation: u64,
}

impl VerifiedTokens {
    /// The caller behind `token` if it was verified with the current key set (`generation`)
    /// and has not ended by `now` (unix seconds).
    pub fn get(&self, token: &str, generation: u64, now: u64) -> Option<Principal> {
        let by_token = self.by_token.lock().unwrap_or_else(PoisonError::into_inner);
        by_token
            .get(token)
            .filter(|entry| entry.is_live(generation, now))
            .map(|entry| entry.principal.clone())
    }

    /// Remembers a token verified with key set `generation`, valid until `valid_until`.
    pub fn insert(
        &self,
        token: &str,
        principal: Principal,
        valid_until: u64,
        generation: u64,
        now: u64,
    ) {
        let mut by_token = self.by_token.lock().unwrap_or_else(PoisonError::into_inner);
        if by_token.len() >= CAPACITY {
            by_token.retain(|_, entry| entry.is_live(generation, now));
            if by_token.len() >= CAPACITY {
                return;
            }
        }
        by_token.insert(
            token.into(),
            Entry {
                principal,
                valid_until,
                checked_at: Instant::now(),
                key_generation: generation,
            },
        );
    }
}

impl Entry {
    fn is_live(&self, generation: u64, now: u64) -> bool {
        self.key_generation == generation
            && now <= self.valid_until
            && self.checked_at.elapsed() < TTL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Principal {
        Principal {
            subject: "svc".into(),
            client_id: None,
            scopes: Default::default(),
        }
    }

    #[test]
    fn an_entry_ends_at_the_token_s_expiry_and_with_the_key_set() {
        let tokens = VerifiedTokens::default();
        tokens.insert("a.b.c", principal(), 100, 1, 90);
        assert!(tokens.get("a.b.c", 1, 100).is_some());
        assert!(tokens.get("a.b.c", 1, 101).is_none(), "expired");
        assert!(tokens.get("a.b.c", 2, 100).is_none(), "key set changed");
        assert!(tokens.get("a.b.d", 1, 100).is_none(), "another token");
    }

    #[test]
    fn a_full_cache_makes_room_from_ended_entries_only() {
        let tokens = VerifiedTokens::default();
        for n in 0..CAPACITY {
            let valid_until = if n % 2 == 0 { 100 } else { 200 };
            tokens.insert(&format!("t{n}"), principal(), valid_until, 1, 90);
        }
        tokens.insert("live-only", principal(), 300, 1, 90);
        assert!(
            tokens.get("live-only", 1, 95).is_none(),
            "no room: not kept"
        );
        assert!(tokens.get("t0", 1, 95).is_some(), "live entries stay");

        // At 150 the even half has ended: the new token takes the room they leave.
        tokens.insert("new", principal(), 300, 1, 150);
        assert!(tokens.get("new", 1, 150).is_some());
        assert!(tokens.get("t1", 1, 150).is_some());
        assert_eq!(tokens.by_token.lock().unwrap().len(), CAPACITY / 2 + 1);
    }
}
