//! Recently authenticated sessions, so a client's burst of requests costs one session read
//! and one account read per `SESSION_CACHE_TTL_SECONDS` instead of both on every request.
//!
//! Revocation on this replica stays immediate: the stores the routes write through
//! ([`ForgetfulSessions`], [`ForgetfulUsers`]) drop the cached entries of every session
//! they revoke and every account they change or delete, and a lookup that raced with such
//! a write does not put its (older) answer back. A revocation made by another replica is
//! seen here once the entry is `ttl` old: that is the bound of the cache, and a TTL of zero
//! turns it off. A session's own expiry is checked on every hit.
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::aws::dynamo::Page;
use common::aws::StorageError;
use common::cache::{Ticket, TtlCache};
use common::timestamp::Timestamp;

use crate::domain::{DetailsUpdate, DirectoryRecord, SessionRecord, UserRecord, Username};
use crate::store::{SessionStore, StoreError, UserStore};

/// Entries kept at most (each holds an account, profile data included, up to ~16 KiB):
/// beyond it, new sessions are simply not cached until old entries age out.
const CAPACITY: usize = 1024;

/// By token hash: the session's account, and the session's own expiry.
pub struct SessionCache {
    by_token_hash: TtlCache<String, Entry>,
    /// Zero: nothing is cached.
    ttl: Duration,
}

#[derive(Clone)]
struct Entry {
    user: UserRecord,
    expires_at: Timestamp,
}

impl SessionCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            by_token_hash: TtlCache::new(CAPACITY, ttl),
            ttl,
        }
    }

    /// The account of a live session cached less than `ttl` ago; otherwise a ticket to
    /// cache what the stores answer (ignored if a revocation happens meanwhile).
    pub fn get(&self, token_hash: &str, now: Timestamp) -> Result<UserRecord, Ticket> {
        let ticket = self.by_token_hash.ticket();
        match self.by_token_hash.get(token_hash) {
            Some(entry) if entry.expires_at > now => Ok(entry.user),
            _ => Err(ticket),
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
        let entry = Entry {
            user: user.clone(),
            expires_at: session.expires_at,
        };
        self.by_token_hash
            .insert_fetched(ticket, token_hash.to_owned(), entry);
    }

    /// Drops one session (logout).
    pub fn forget_session(&self, token_hash: &str) {
        self.by_token_hash.remove(token_hash);
    }

    /// Drops every session of an account (deleted, or changed: the entries hold a copy).
    pub fn forget_user(&self, username: &str) {
        self.by_token_hash
            .remove_where(|_, entry| entry.user.username == username);
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
    ) -> Result<Page<DirectoryRecord>, StorageError> {
        self.store.list_directory(limit, cursor).await
    }

    async fn list_accounts(
        &self,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<UserRecord>, StorageError> {
        self.store.list_accounts(limit, cursor).await
    }

    async fn backfill_listing(&self) -> Result<usize, StorageError> {
        self.store.backfill_listing().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Role, Username};

    fn user(username: &str) -> UserRecord {
        UserRecord::new_account(
            &Username::parse(username).unwrap(),
            String::new(),
            Role::User,
        )
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

    #[tokio::test(start_paused = true)]
    async fn entries_live_for_the_ttl_and_never_past_the_session() {
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
        tokio::time::advance(Duration::from_millis(50)).await;
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

    #[tokio::test(start_paused = true)]
    async fn holds_at_most_its_capacity() {
        let sessions = SessionCache::new(Duration::from_millis(200));
        for i in 0..CAPACITY + 10 {
            cache(&sessions, &format!("t{i}"), "ann", AN_HOUR);
        }
        assert_eq!(hit(&sessions, "t0").as_deref(), Some("ann"));
        assert_eq!(
            hit(&sessions, &format!("t{}", CAPACITY - 1)).as_deref(),
            Some("ann")
        );
        assert_eq!(
            hit(&sessions, &format!("t{CAPACITY}")),
            None,
            "not cached when full"
        );
        // Aged-out entries make room: a full cache's worth of new ones fits.
        tokio::time::advance(Duration::from_millis(200)).await;
        for i in 0..CAPACITY {
            cache(&sessions, &format!("new{i}"), "ann", AN_HOUR);
        }
        assert_eq!(
            hit(&sessions, &format!("new{}", CAPACITY - 1)).as_deref(),
            Some("ann")
        );
    }
}
