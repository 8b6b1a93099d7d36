//! The records the store persists: an account, what the directory reads of one, a
//! session, and the change to an account's own details. Routes and the session module
//! build and read them; the store only writes and reads them back.
use common::timestamp::{self, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Role, Username};

/// A user item. `name`, `email` and `avatar_url` are plain string attributes (empty when
/// unset) because other teams read them straight from the table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub name: String,
    pub email: String,
    /// Where the avatar lives: a public URL when configured, else `s3://bucket/key`.
    pub avatar_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_key: Option<String>,
    pub profile: Map<String, Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl UserRecord {
    /// A new account created now: no profile, no avatar, name and email empty until set.
    pub fn new_account(username: &Username, password_hash: String, role: Role) -> Self {
        let now = Timestamp::now();
        Self {
            username: username.as_str().to_owned(),
            password_hash,
            role,
            name: String::new(),
            email: String::new(),
            avatar_url: String::new(),
            avatar_key: None,
            profile: Map::new(),
            created_at: now,
            updated_at: now,
        }
    }
}

/// What `GET /users` reads of a user item.
#[derive(Debug, Clone, Deserialize)]
pub struct DirectoryRecord {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub avatar_key: Option<String>,
}

/// A session item: the SHA-256 of the token (never the token), its owner, and the expiry
/// that DynamoDB's TTL eventually purges by.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub token_hash: String,
    pub username: String,
    #[serde(with = "timestamp::unix_seconds")]
    pub created_at: Timestamp,
    /// The TTL attribute.
    #[serde(with = "timestamp::unix_seconds")]
    pub expires_at: Timestamp,
    /// The creation time of the account the session was opened for: a session opens only
    /// that account, never a later one registered under the same username. Sessions
    /// written before this binding existed have none and open nothing.
    #[serde(default)]
    pub account_created_at: Option<Timestamp>,
}

/// Changes to a user's own details; `None` leaves a field as it is.
#[derive(Debug, Clone)]
pub struct DetailsUpdate {
    pub name: Option<String>,
    pub email: Option<String>,
    pub profile: Map<String, Value>,
}
