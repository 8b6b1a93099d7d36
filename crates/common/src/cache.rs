//! A bounded map whose entries end a fixed time after they were put in: for values that
//! are costly to get and may be a little old (verified tokens, secrets, records that never
//! change).
//!
//! When full, it makes room from the entries that have ended; if none has, a new entry is
//! simply not kept (the caller fetches again next time), so a flood of new keys costs its
//! own lookups but never evicts what is in use, and memory stays bounded.
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

pub struct TtlCache<K, V> {
    capacity: usize,
    ttl: Duration,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    /// At most `capacity` entries, each kept for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity,
            ttl,
            entries: Mutex::default(),
        }
    }

    /// The value put in under `key` less than `ttl` ago.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(key)
            .filter(|(put_at, _)| put_at.elapsed() < self.ttl)
            .map(|(_, value)| value.clone())
    }

    /// Keeps `value` under `key` for `ttl`, room permitting.
    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (put_at, _)| put_at.elapsed() < self.ttl);
            if entries.len() >= self.capacity {
                return;
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// Forgets `key` at once (a value found wrong before its time is up).
    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_end_after_the_ttl() {
        let cache = TtlCache::new(4, Duration::from_secs(2));
        cache.insert("a".to_owned(), 1);
        assert_eq!(cache.get("a"), Some(1));
        let deadline = Instant::now() + Duration::from_secs(30);
        while cache.get("a").is_some() {
            assert!(Instant::now() < deadline, "the entry never ended");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(cache.get("b").is_none());
    }

    #[test]
    fn a_full_cache_keeps_what_is_in_use() {
        let cache = TtlCache::new(4, Duration::from_secs(3600));
        for n in 0..5 {
            cache.insert(n, n);
        }
        assert_eq!(cache.get(&4), None, "no room: not kept");
        assert_eq!(cache.get(&0), Some(0));
        cache.insert(0, 10);
        assert_eq!(cache.get(&0), Some(10), "a key held is updated");
        assert_eq!(held(&cache), 4);

        cache.remove(&0);
        assert_eq!(cache.get(&0), None);
        cache.insert(4, 4);
        assert_eq!(cache.get(&4), Some(4), "a removed entry makes room");
    }

    #[test]
    fn a_full_cache_makes_room_from_ended_entries() {
        let cache = TtlCache::new(4, Duration::ZERO);
        for n in 0..5 {
            cache.insert(n, n);
        }
        assert_eq!(held(&cache), 1, "the fifth entry replaced four ended ones");
    }

    fn held<K, V>(cache: &TtlCache<K, V>) -> usize {
        cache.entries.lock().unwrap().len()
    }
}
