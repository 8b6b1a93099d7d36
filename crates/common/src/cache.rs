//! A bounded map whose entries end a fixed time after they were put in: for values that
//! are costly to get and may be a little old (verified tokens, secrets, records that never
//! change, sessions).
//!
//! When full, it makes room from the entries that have ended; if none has, a new entry is
//! simply not kept (the caller fetches again next time), so a flood of new keys costs its
//! own lookups but never evicts what is in use, and memory stays bounded.
//!
//! A value that may be revoked (removed because it became wrong) is cached with a
//! [`Ticket`] taken before fetching it: a fetch that raced a removal may have read what
//! was just revoked, so its answer is not kept.
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

pub struct TtlCache<K, V> {
    capacity: usize,
    ttl: Duration,
    inner: Mutex<Entries<K, V>>,
}

struct Entries<K, V> {
    map: HashMap<K, (Instant, V)>,
    /// Bumped by every removal; a [`Ticket`] holds the count it was taken at.
    removals: u64,
}

/// The cache's removal count when a fetch started: see [`TtlCache::insert_fetched`].
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    /// At most `capacity` entries, each kept for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity,
            ttl,
            inner: Mutex::new(Entries {
                map: HashMap::new(),
                removals: 0,
            }),
        }
    }

    fn entries(&self) -> MutexGuard<'_, Entries<K, V>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value put in under `key` less than `ttl` ago.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries()
            .map
            .get(key)
            .filter(|(put_at, _)| put_at.elapsed() < self.ttl)
            .map(|(_, value)| value.clone())
    }

    /// Keeps `value` under `key` for `ttl`, room permitting.
    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries();
        self.keep(&mut entries, key, value);
    }

    /// Taken before fetching a value that [`TtlCache::insert_fetched`] will keep.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.entries().removals)
    }

    /// [`TtlCache::insert`], unless something was removed since `ticket` was taken: the
    /// value may have been read before that removal, and would bring it back.
    pub fn insert_fetched(&self, ticket: Ticket, key: K, value: V) {
        let mut entries = self.entries();
        if entries.removals == ticket.0 {
            self.keep(&mut entries, key, value);
        }
    }

    fn keep(&self, entries: &mut Entries<K, V>, key: K, value: V) {
        if entries.map.len() >= self.capacity && !entries.map.contains_key(&key) {
            entries
                .map
                .retain(|_, (put_at, _)| put_at.elapsed() < self.ttl);
            if entries.map.len() >= self.capacity {
                return;
            }
        }
        entries.map.insert(key, (Instant::now(), value));
    }

    /// Forgets `key` at once (a value found wrong before its time is up).
    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.entries();
        entries.removals += 1;
        entries.map.remove(key);
    }

    /// Forgets every entry `revoked` picks.
    pub fn remove_where(&self, mut revoked: impl FnMut(&K, &V) -> bool) {
        let mut entries = self.entries();
        entries.removals += 1;
        entries.map.retain(|key, (_, value)| !revoked(key, value));
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

    #[test]
    fn a_fetch_that_raced_a_removal_is_not_kept() {
        let cache = TtlCache::new(4, Duration::from_secs(3600));
        let before = cache.ticket();
        cache.insert_fetched(before, "a", 1);
        assert_eq!(cache.get("a"), Some(1), "nothing removed meanwhile: kept");

        let before = cache.ticket();
        cache.remove("b");
        cache.insert_fetched(before, "b", 2);
        assert_eq!(cache.get("b"), None, "removed while it was fetched");

        let before = cache.ticket();
        cache.remove_where(|_, value| *value == 1);
        assert_eq!(cache.get("a"), None);
        cache.insert_fetched(before, "c", 3);
        assert_eq!(cache.get("c"), None, "any removal, not only of this key");
        cache.insert_fetched(cache.ticket(), "c", 3);
        assert_eq!(cache.get("c"), Some(3));
    }

    fn held<K: Hash + Eq, V: Clone>(cache: &TtlCache<K, V>) -> usize {
        cache.entries().map.len()
    }
}
