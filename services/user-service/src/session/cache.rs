//! Recently authenticated sessions, so a client's burst of requests costs one session read
//! and one account read per `SESSION_CACHE_TTL_SECONDS` instead of both on every request.
//!
//! Revocation on this replica stays immediate: the stores the routes write through
//! ([`ForgetfulSessions`], [`ForgetfulUsers`]) drop the cached entries of every session
//! they revoke and every account they change or delete, and a lookup that raced with such
//! a write does not put its (older) answer back. A revocation made by another replica is
//! seen here once the entry is `ttl` old: that is the bound of the cache, and a TTL of zero
//! turns it off. A session's own expiry is checked on every hit.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use common::aws::dynamo::Page;
use common::aws::StorageError;
use common::timestamp::Timestamp;

use crate::domain::{DetailsUpdate, DirectoryRecord, SessionRecord, UserRecord, Username};
use crate::store::{SessionStore, StoreError, UserStore};

/// Entries kept at most (each holds an account, profile data included, up to ~16 KiB):
/// beyond it, new sessions are simply not cached until old entries age out.
const CAPACITY: usize = 1024;

pub struct SessionCache {
    ttl: Duration,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_token_hash: HashMap<String, Entry>,
    /// Bumped by every revocation, so a lookup that started before one cannot cache what
    /// it read.
    generation: u64,
}

struct Entry {
    user: UserRecord,
    /// The session's own expiry.
    expires_at: Timestamp,
    cached_at: Instant,
}

/// Taken before reading the stores; [`SessionCache::insert`] ignores the answer if a
/// revocation happened in between.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl SessionCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: Mutex::default(),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The account of a live session cached less than `ttl` ago; otherwise a ticket to
    /// cache what the stores answer.
    pub fn get(&self, token_hash: &str, now: Timestamp) -> Result<UserRecord, Ticket> {
        let entries = self.entries();
        match entries.by_token_hash.get(token_hash) {
            Some(entry) if entry.cached_at.elapsed() < self.ttl && entry.expires_at > now => {
                Ok(entry.user.clone())
            }
            _ => Err(Ticket(entries.generation)),
        }
    }

    pub fn insert(
        &self,
        ticket: Ticket,
        token_hash: &str,
        session: &SessionRecord,
        user: &UserRecord,
    ) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries();
        if entries.generation != ticket.0 {
            return;
        }
        if entries.by_token_hash.len() >= CAPACITY {
            let ttl = self.ttl;
            entries
                .by_token_hash
                .retain(|_, entry| entry.cached_at.elapsed() < ttl);
            if entries.by_token_hash.len() >= CAPACITY {
                return;
            }
        }
        entries.by_token_hash.insert(
            token_hash.to_owned(),
            Entry {
                user: user.clone(),
                expires_at: session.expires_at,
                cached_at: Instant::now(),
            },
        );
    }

    /// Drops one session (logout).
    pub fn forget_session(&self, token_hash: &str) {
        let mut entries = self.entries();
        entries.generation += 1;
        entries.by_token_hash.remove(token_hash);
    }

    /// Drops every session of an account (deleted, or changed: the entries hold a copy).
    pub fn forget_user(&self, username: &str) {
        let mut entries = self.entries();
        entries.generation += 1;
        entries
            .by_token_hash
            .retain(|_, entry| entry.user.username != username);
    }
}

/// The session store the service uses: revoking a session also drops it from the cache.
pub struct ForgetfulSessions {
    pub store: Arc<dyn SessionStore>,
    pub cache: Arc<SessionCache>,
}

#[async_trait]
impl SessionStore for ForgetfulSessions {
    async fn create(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.store.create(session).await
    }

    async fn get_live(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.store.get_live(token_hash, now).await
    }

    // The cache is cleared whatever the outcome: a failed delete may still have happened.
    async fn delete(&self, token_hash: &str) -> Result<(), StoreError> {
        let result = self.store.delete(token_hash).await;
        self.cache.forget_session(token_hash);
        result
    }

    async fn delete_all_for(&self, username: &Username) -> Result<usize, StoreError> {
        let result = self.store.delete_all_for(username).await;
        self.cache.forget_user(username.as_str());
        result
    }
}

/// The account store the service uses: changing or deleting an account also drops its
/// sessions from the cache (they hold a copy of it).
pub struct ForgetfulUsers {
    pub store: Arc<dyn UserStore>,
    pub cache: Arc<SessionCache>,
}

#[async_trait]
impl UserStore for ForgetfulUsers {
    async fn create(&self, user: &UserRecord) -> Result<(), StoreError> {
        self.store.create(user).await
    }

    async fn get(&self, username: &Username) -> Result<Option<UserRecord>, StoreError> {
        self.store.get(username).await
    }

    async fn update_details(
        &self,
        username: &Username,
        update: &DetailsUpdate,
        seen_updated_at: Timestamp,
    ) -> Result<UserRecord, StoreError> {
        let result = self
            .store
            .update_details(username, update, seen_updated_at)
            .await;
        self.cache.forget_user(username.as_str());
        result
    }

    async fn set_avatar(
        &self,
        username: &Username,
        key: &str,
        url: &str,
    ) -> Result<(), StoreError> {
        let result = self.store.set_avatar(username, key, url).await;
        self.cache.forget_user(username.as_str());
        result
    }

    async fn delete(&self, username: &Username) -> Result<(), StoreError> {
        let result = self.store.delete(username).await;
        self.cache.forget_user(username.as_str());
        result
    }

    async fn another_admin(&self, username: &Username) -> Result<Option<String>, StoreError> {
        self.store.another_admin(username).await
    }

    async fn delete_admin(&self, username: &Username, keeper: String) -> Result<(), StoreError> {
        let result = self.store.delete_admin(username, keeper).await;
        self.cache.forget_user(username.as_str());
        result
    }

    async fn list_directory(
        &self,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<DirectoryRecord, String>, StorageError> {
        self.store.list_directory(limit, cursor).await
    }

    async fn list_accounts(
        &self,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<UserRecord, String>, StorageError> {
        self.store.list_accounts(limit, cursor).await
    }

    async fn backfill_listing(&self) -> Result<usize, StorageError> {
        self.store.backfill_listing().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn user(username: &str) -> UserRecord {
        let now = Timestamp::now();
        UserRecord {
            username: username.into(),
            password_hash: String::new(),
            role: Role::User,
            name: String::new(),
            email: String::new(),
            avatar_url: String::new(),
            avatar_key: None,
            profile: Default::default(),
            created_at: now,
            updated_at: now,
        }
    }

    const AN_HOUR: Duration = Duration::from_secs(3600);

    /// A session that expires `expires_in` from now: at once with `Duration::ZERO`.
    fn session(token_hash: &str, username: &str, expires_in: Duration) -> SessionRecord {
        let now = Timestamp::now();
        SessionRecord {
            token_hash: token_hash.into(),
            username: username.into(),
            created_at: now,
            expires_at: now + expires_in,
            account_created_at: None,
        }
    }

    /// Caches `token_hash` for `username` as a lookup that missed would.
    fn cache(cache: &SessionCache, token_hash: &str, username: &str, expires_in: Duration) {
        let ticket = cache.get(token_hash, Timestamp::now()).unwrap_err();
        cache.insert(
            ticket,
            token_hash,
            &session(token_hash, username, expires_in),
            &user(username),
        );
    }

    fn hit(cache: &SessionCache, token_hash: &str) -> Option<String> {
        cache
            .get(token_hash, Timestamp::now())
            .ok()
            .map(|user| user.username)
    }

    #[test]
    fn entries_live_for_the_ttl_and_never_past_the_session() {
        let sessions = SessionCache::new(Duration::from_secs(5));
        cache(&sessions, "a", "ann", AN_HOUR);
        cache(&sessions, "b", "bob", Duration::ZERO);
        assert_eq!(hit(&sessions, "a").as_deref(), Some("ann"));
        assert_eq!(
            hit(&sessions, "b"),
            None,
            "an expired session is never served"
        );

        let short = SessionCache::new(Duration::from_millis(50));
        cache(&short, "a", "ann", AN_HOUR);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(hit(&short, "a"), None, "read again once the TTL is over");

        let off = SessionCache::new(Duration::ZERO);
        cache(&off, "a", "ann", AN_HOUR);
        assert_eq!(hit(&off, "a"), None);
    }

    #[test]
    fn revocations_drop_entries_and_lookups_that_raced_them() {
        let sessions = SessionCache::new(Duration::from_secs(5));
        cache(&sessions, "a1", "ann", AN_HOUR);
        cache(&sessions, "a2", "ann", AN_HOUR);
        cache(&sessions, "b", "bob", AN_HOUR);
        sessions.forget_session("a1");
        assert_eq!(hit(&sessions, "a1"), None);
        assert_eq!(hit(&sessions, "a2").as_deref(), Some("ann"));
        sessions.forget_user("ann");
        assert_eq!(hit(&sessions, "a2"), None);
        assert_eq!(hit(&sessions, "b").as_deref(), Some("bob"));

        // A lookup that read the stores before a revocation does not cache its answer.
        let ticket = sessions.get("c", Timestamp::now()).unwrap_err();
        sessions.forget_session("c");
        sessions.insert(ticket, "c", &session("c", "cid", AN_HOUR), &user("cid"));
        assert_eq!(hit(&sessions, "c"), None);
    }

    #[test]
    fn holds_at_most_its_capacity() {
        let sessions = SessionCache::new(Duration::from_millis(200));
        for i in 0..CAPACITY + 10 {
            cache(&sessions, &format!("t{i}"), "ann", AN_HOUR);
        }
        assert_eq!(sessions.entries().by_token_hash.len(), CAPACITY);
        assert_eq!(
            hit(&sessions, &format!("t{CAPACITY}")),
            None,
            "not cached when full"
        );
        // Aged-out entries make room.
        std::thread::sleep(Duration::from_millis(210));
        cache(&sessions, "new", "ann", AN_HOUR);
        assert_eq!(hit(&sessions, "new").as_deref(), Some("ann"));
        assert_eq!(sessions.entries().by_token_hash.len(), 1);
    }
}
