//! Server-side sessions: the browser holds only a random secret in a `__Host-` cookie
//! (HttpOnly, Secure, SameSite=Lax); the console's own DynamoDB table holds the session
//! under the secret's SHA-256, its contents (a person's tokens) sealed with a key derived
//! from the secret, and a TTL. Tokens never reach the browser.
//!
//! - [`seal`]: the secret, its id and its sealing key.
//! - this module: what a session holds ([`SessionData`]), the table ([`SessionStore`]),
//!   and the cookie.

mod seal;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::http::{header, HeaderMap, HeaderValue};
use common::aws::dynamo::{KeyAttribute, TableSpec};
use common::aws::{aws_error, StorageError};
use common::timestamp::Timestamp;
use serde::{Deserialize, Serialize};

pub use seal::SessionSecret;

/// The cookie: `__Host-` means Secure, `Path=/` and no `Domain`, enforced by browsers, so
/// no other host (a sibling subdomain) can set or shadow it.
pub const COOKIE: &str = "__Host-console";
pub const SESSIONS_TABLE: &str = "console-sessions";
const STORE: &str = "The console's session store";

/// The console's tables, for start-up creation, `print-tables` and the drift check.
pub fn tables() -> Vec<TableSpec> {
    vec![TableSpec {
        name: SESSIONS_TABLE,
        hash_key: KeyAttribute::string("id"),
        range_key: None,
        ttl_attribute: Some("expires_at"),
        global_secondary_indexes: vec![],
    }]
}

/// What a session is for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionData {
    /// An operator on the way to the issuer and back: what the callback must match.
    SigningIn(PendingSignIn),
    /// An account holder signed in with user-service.
    Account(AccountSession),
    /// An operator signed in through the issuer.
    Operator(OperatorSession),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub state: String,
    pub nonce: String,
    /// The PKCE code verifier (RFC 7636).
    pub verifier: String,
    /// A path of this console to go to after signing in.
    pub return_to: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountSession {
    pub username: String,
    /// user-service's session token.
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorSession {
    /// `sub`, as the services see it in the operator's tokens.
    pub subject: String,
    pub name: String,
    /// For each audience's next access token.
    pub refresh_token: Option<String>,
    /// Access tokens by audience.
    pub tokens: BTreeMap<String, AccessToken>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessToken {
    pub value: String,
    /// Unix seconds.
    pub expires_at: i64,
}

impl AccessToken {
    /// Usable for a call starting now (with a margin for the call itself).
    pub fn is_fresh(&self, now: Timestamp) -> bool {
        self.expires_at > now.unix_seconds() + 30
    }
}

/// A loaded session: its secret (to write it back) and contents.
pub struct Session {
    pub secret: SessionSecret,
    pub data: SessionData,
    pub expires_at: i64,
}

/// The record as stored: nothing readable without the cookie.
#[derive(Serialize, Deserialize)]
struct Record {
    id: String,
    sealed: String,
    expires_at: i64,
}

#[derive(Clone)]
pub struct SessionStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl SessionStore {
    pub fn new(client: aws_sdk_dynamodb::Client, prefix: &str) -> Self {
        Self {
            client,
            table: format!("{prefix}{SESSIONS_TABLE}"),
        }
    }

    pub fn table_name(&self) -> String {
        self.table.clone()
    }

    /// Stores `data` under `secret` until `expires_at` (unix seconds), replacing what was
    /// there.
    pub async fn put(
        &self,
        secret: &SessionSecret,
        data: &SessionData,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        let json = serde_json::to_vec(data).expect("sessions serialise");
        let record = Record {
            id: secret.id(),
            sealed: secret.seal(&json),
            expires_at,
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(common::aws::dynamo::to_item(&record)))
            .send()
            .await
            .map_err(|error| aws_error(STORE, error))?;
        Ok(())
    }

    /// The live session the cookie value names, if any. Expired records count as gone
    /// (DynamoDB deletes them late), and so does a record the secret cannot open.
    pub async fn get(&self, cookie: &str) -> Result<Option<Session>, StorageError> {
        let Some(secret) = SessionSecret::parse(cookie) else {
            return Ok(None);
        };
        let record: Option<Record> = common::aws::dynamo::get_consistent(
            &self.client,
            STORE,
            &self.table,
            "id",
            &secret.id(),
        )
        .await?;
        let Some(record) = record.filter(|r| r.expires_at > Timestamp::now().unix_seconds()) else {
            return Ok(None);
        };
        let data = secret
            .open(&record.sealed)
            .and_then(|json| serde_json::from_slice(&json).ok());
        Ok(data.map(|data| Session {
            secret,
            data,
            expires_at: record.expires_at,
        }))
    }

    pub async fn delete(&self, secret: &SessionSecret) -> Result<(), StorageError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(secret.id()))
            .send()
            .await
            .map_err(|error| aws_error(STORE, error))?;
        Ok(())
    }
}

/// The session cookie's value in a request, if it sent one.
pub fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|line| line.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
}

/// `Set-Cookie` for a new session living `ttl`.
pub fn set_cookie(secret: &SessionSecret, ttl: Duration) -> HeaderValue {
    HeaderValue::try_from(format!(
        "{COOKIE}={}; Path=/; Max-Age={}; Secure; HttpOnly; SameSite=Lax",
        secret.encode(),
        ttl.as_secs()
    ))
    .expect("base64url and digits are valid header characters")
}

/// `Set-Cookie` that makes the browser forget the session.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("__Host-console=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, "a=1; __Host-console=abc".parse().unwrap());
        assert_eq!(cookie_value(&headers), Some("abc"));
        let mut other = HeaderMap::new();
        other.append(
            header::COOKIE,
            "console=abc; x__Host-console=d".parse().unwrap(),
        );
        assert_eq!(cookie_value(&other), None);
    }

    #[test]
    fn the_cookie_has_every_protective_attribute() {
        let cookie = set_cookie(&SessionSecret::generate(), Duration::from_secs(60));
        let text = cookie.to_str().unwrap();
        assert!(text.starts_with("__Host-console="), "{text}");
        for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age=60"] {
            assert!(text.contains(attribute), "{text} lacks {attribute}");
        }
        assert!(!text.contains("Domain"), "{text}");
    }
}
