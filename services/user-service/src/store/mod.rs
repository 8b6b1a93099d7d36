//! Persistence behind small traits: DynamoDB for users and sessions, S3 for avatars.
mod avatars;
mod dynamo;

use async_trait::async_trait;
use common::aws::dynamo::Page;
use common::aws::dynamo::{IndexProjection, IndexSpec, KeyAttribute, TableSpec};
use common::aws::StorageError;
use common::timestamp::Timestamp;

use crate::domain::{DetailsUpdate, DirectoryRecord, SessionRecord, UserRecord, Username};

pub use avatars::S3AvatarStore;
pub use dynamo::DynamoUserStore;

pub const USERS_TABLE: &str = "users";
pub const SESSIONS_TABLE: &str = "sessions";
pub const SESSIONS_BY_USERNAME: &str = "username-index";
/// Every account in username order: one partition (`listing`, the same value on every
/// user item) sorted by `username`. A page is one Query of `limit` items however many
/// accounts there are (docs/performance.md, "user-service reads a page").
pub const ACCOUNTS_IN_ORDER: &str = "listing-index";
/// The `listing` value every user item carries, so that it is in [`ACCOUNTS_IN_ORDER`].
pub const LISTING: &str = "users";

/// The tables this service needs; `user-service print-tables` prints them for the
/// Terraform drift check.
pub fn tables() -> Vec<TableSpec> {
    vec![
        TableSpec {
            name: USERS_TABLE,
            hash_key: KeyAttribute::string("username"),
            range_key: None,
            ttl_attribute: None,
            global_secondary_indexes: vec![IndexSpec {
                name: ACCOUNTS_IN_ORDER,
                hash_key: KeyAttribute::string("listing"),
                range_key: Some(KeyAttribute::string("username")),
                projection: IndexProjection::All,
            }],
        },
        TableSpec {
            name: SESSIONS_TABLE,
            hash_key: KeyAttribute::string("token_hash"),
            range_key: None,
            ttl_attribute: Some("expires_at"),
            global_secondary_indexes: vec![IndexSpec {
                name: SESSIONS_BY_USERNAME,
                hash_key: KeyAttribute::string("username"),
                range_key: None,
                projection: IndexProjection::KeysOnly,
            }],
        },
    ]
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    AlreadyExists,
    #[error("not found")]
    NotFound,
    #[error("changed concurrently")]
    Conflict,
    #[error("the last admin account")]
    LastAdmin,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Fails with `AlreadyExists` when the username is taken.
    async fn create(&self, user: &UserRecord) -> Result<(), StoreError>;
    async fn get(&self, username: &Username) -> Result<Option<UserRecord>, StoreError>;
    /// Writes the update only if the item was not changed since `seen_updated_at`.
    async fn update_details(
        &self,
        username: &Username,
        update: &DetailsUpdate,
        seen_updated_at: Timestamp,
    ) -> Result<UserRecord, StoreError>;
    async fn set_avatar(&self, username: &Username, key: &str, url: &str)
        -> Result<(), StoreError>;
    /// Fails with `NotFound` when there is no such user.
    async fn delete(&self, username: &Username) -> Result<(), StoreError>;
    /// An admin other than `username` (read consistently), if there is one.
    async fn another_admin(&self, username: &Username) -> Result<Option<String>, StoreError>;
    /// Deletes an admin account, atomically with a check that another admin remains:
    /// `keeper` first, another found afresh if it stopped being one (`LastAdmin` when
    /// none is left).
    async fn delete_admin(&self, username: &Username, keeper: String) -> Result<(), StoreError>;
    /// A page of the directory in username order, from `cursor` (one this listing sealed;
    /// any other is a `BadCursor`): one Query of the accounts index, reading the page.
    async fn list_directory(
        &self,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<DirectoryRecord>, StorageError>;
    /// A page of accounts in username order, from `cursor` (one this listing sealed; any
    /// other is a `BadCursor`): one Query of the accounts index.
    async fn list_accounts(
        &self,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<UserRecord>, StorageError>;
    /// Puts every account written without `listing` (by an older version, or imported)
    /// into the accounts index; returns how many it changed. Idempotent.
    async fn backfill_listing(&self) -> Result<usize, StorageError>;
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create(&self, session: &SessionRecord) -> Result<(), StoreError>;
    /// The session, if it exists and has not expired (DynamoDB deletes expired items late).
    async fn get_live(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError>;
    async fn delete(&self, token_hash: &str) -> Result<(), StoreError>;
    /// Revokes every session of a user; returns how many there were.
    async fn delete_all_for(&self, username: &Username) -> Result<usize, StoreError>;
}

#[async_trait]
pub trait AvatarStore: Send + Sync {
    async fn put(
        &self,
        key: &str,
        bytes: bytes::Bytes,
        content_type: &str,
    ) -> Result<(), StoreError>;
    /// The URL recorded on the user item for the object at `key`.
    fn stored_url(&self, key: &str) -> String;
    /// Deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// The URL a client can fetch the avatar from (presigned unless public).
    async fn url_for(&self, key: &str) -> Result<String, StoreError>;
}
