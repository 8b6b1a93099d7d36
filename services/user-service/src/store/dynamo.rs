use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, ReturnValue, TransactWriteItem,
    WriteRequest,
};
use aws_sdk_dynamodb::Client;

use common::aws::dynamo::{
    decode, get_consistent, is_conditional_failure, paging_error, string, to_item, Item, Listing,
    Page,
};
use common::aws::{aws_error, StorageError};
use common::paging::CursorKeys;
use common::timestamp::Timestamp;
use serde::de::DeserializeOwned;

use super::{
    SessionStore, StoreError, UserStore, ACCOUNTS_IN_ORDER, LISTING, SESSIONS_BY_USERNAME,
    SESSIONS_TABLE, USERS_TABLE,
};
use crate::domain::{DetailsUpdate, DirectoryRecord, Role, SessionRecord, UserRecord, Username};

const USER_STORE: &str = "The user store";
const SESSION_STORE: &str = "The session store";

fn timestamp(at: Timestamp) -> AttributeValue {
    AttributeValue::S(at.rfc3339())
}

/// Users and their sessions, each in its own table.
pub struct DynamoUserStore {
    client: Client,
    users_table: String,
    sessions_table: String,
    /// `GET /admin/accounts` and `GET /users`: the accounts index, a page at a time,
    /// each with cursors of its own.
    accounts: Listing,
    directory: Listing,
}

impl DynamoUserStore {
    pub fn new(client: Client, prefix: &str, cursor_keys: &CursorKeys) -> Self {
        let table = |name: &str| format!("{prefix}{name}");
        let users = super::tables()
            .into_iter()
            .find(|spec| spec.name == USERS_TABLE)
            .expect("the users table is declared");
        Self {
            client,
            users_table: table(USERS_TABLE),
            sessions_table: table(SESSIONS_TABLE),
            accounts: Listing::new("accounts", &users, Some(ACCOUNTS_IN_ORDER), cursor_keys),
            directory: Listing::new("directory", &users, Some(ACCOUNTS_IN_ORDER), cursor_keys),
        }
    }

    /// Every table, for the readiness check.
    pub fn table_names(&self) -> Vec<String> {
        vec![self.users_table.clone(), self.sessions_table.clone()]
    }

    /// A page of the accounts in username order (one Query of the accounts index), its
    /// cursors sealed by `listing`: the directory and the admins' list are two listings,
    /// so a cursor of one does not open the other.
    async fn page_of_accounts<T: DeserializeOwned>(
        &self,
        listing: &Listing,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<T>, StorageError> {
        let start = listing.start(cursor, "")?;
        // No projection: a Query bills the whole items whatever it returns, and the
        // emulator's projection fails on profile numbers of more than 38 digits.
        let output = self
            .client
            .query()
            .table_name(&self.users_table)
            .index_name(ACCOUNTS_IN_ORDER)
            .key_condition_expression("listing = :listing")
            .expression_attribute_values(":listing", string(LISTING))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|error| paging_error(USER_STORE, error))?;
        listing.page(USER_STORE, "", output.items, output.last_evaluated_key)
    }

    async fn read(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        let user = get_consistent(
            &self.client,
            USER_STORE,
            &self.users_table,
            "username",
            username,
        );
        Ok(user.await?)
    }
}

#[async_trait]
impl UserStore for DynamoUserStore {
    async fn create(&self, user: &UserRecord) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.users_table)
            .set_item(Some(listed(to_item(user))))
            .condition_expression("attribute_not_exists(username)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if is_conditional_failure(&error) => {
                // The SDK retries an attempt whose answer was lost; if that attempt had
                // written the item, the retry fails its condition on our own write. The
                // salted hash is unique to this request, so it tells the two apart.
                match self.read(&user.username).await? {
                    Some(stored) if stored.password_hash == user.password_hash => Ok(()),
                    _ => Err(StoreError::AlreadyExists),
                }
            }
            Err(error) => Err(aws_error(USER_STORE, error).into()),
        }
    }

    async fn get(&self, username: &Username) -> Result<Option<UserRecord>, StoreError> {
        self.read(username.as_str()).await
    }

    async fn update_details(
        &self,
        username: &Username,
        update: &DetailsUpdate,
        seen_updated_at: Timestamp,
    ) -> Result<UserRecord, StoreError> {
        let mut expression = vec!["profile = :profile", "updated_at = :now"];
        let mut request = self
            .client
            .update_item()
            .table_name(&self.users_table)
            .key("username", string(username.as_str()))
            .condition_expression("attribute_exists(username) AND updated_at = :seen")
            .expression_attribute_values(":seen", timestamp(seen_updated_at))
            .expression_attribute_values(":now", timestamp(Timestamp::now()))
            .expression_attribute_values(
                ":profile",
                serde_dynamo::to_attribute_value(&update.profile).expect("JSON maps convert"),
            );
        if let Some(name) = &update.name {
            expression.push("#name = :name");
            request = request
                .expression_attribute_names("#name", "name")
                .expression_attribute_values(":name", string(name));
        }
        if let Some(email) = &update.email {
            expression.push("email = :email");
            request = request.expression_attribute_values(":email", string(email));
        }
        let output = request
            .update_expression(format!("SET {}", expression.join(", ")))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|error| {
                if is_conditional_failure(&error) {
                    StoreError::Conflict
                } else {
                    aws_error(USER_STORE, error).into()
                }
            })?;
        Ok(decode(USER_STORE, output.attributes.unwrap_or_default())?)
    }

    async fn set_avatar(
        &self,
        username: &Username,
        key: &str,
        url: &str,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.users_table)
            .key("username", string(username.as_str()))
            .condition_expression("attribute_exists(username)")
            .update_expression("SET avatar_key = :key, avatar_url = :url, updated_at = :now")
            .expression_attribute_values(":key", string(key))
            .expression_attribute_values(":url", string(url))
            .expression_attribute_values(":now", timestamp(Timestamp::now()))
            .send()
            .await
            .map_err(|error| not_found_on_condition(error, USER_STORE))?;
        Ok(())
    }

    async fn another_admin(&self, username: &Username) -> Result<Option<String>, StoreError> {
        let mut start = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.users_table)
                .consistent_read(true)
                .filter_expression("#role = :admin AND username <> :me")
                .projection_expression("username")
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":admin", role(Role::Admin))
                .expression_attribute_values(":me", string(username.as_str()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|error| aws_error(USER_STORE, error))?;
            let found =
                output
                    .items
                    .unwrap_or_default()
                    .into_iter()
                    .find_map(|mut item| match item.remove("username") {
                        Some(AttributeValue::S(name)) => Some(name),
                        _ => None,
                    });
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if found.is_some() || start.is_none() {
                return Ok(found);
            }
        }
    }

    async fn delete_admin(&self, username: &Username, keeper: String) -> Result<(), StoreError> {
        // Each try names another admin that must still be one when the delete commits: two
        // admins deleting each other at once cannot both succeed.
        let mut known = Some(keeper);
        for _ in 0..3 {
            let keeper = match known.take() {
                Some(keeper) => keeper,
                None => self
                    .another_admin(username)
                    .await?
                    .ok_or(StoreError::LastAdmin)?,
            };
            let delete = Delete::builder()
                .table_name(&self.users_table)
                .key("username", string(username.as_str()))
                .condition_expression("attribute_exists(username)")
                .build()
                .expect("table and key are set");
            let keep = ConditionCheck::builder()
                .table_name(&self.users_table)
                .key("username", string(&keeper))
                .condition_expression("#role = :admin")
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":admin", role(Role::Admin))
                .build()
                .expect("table, key and condition are set");
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().delete(delete).build())
                .transact_items(TransactWriteItem::builder().condition_check(keep).build())
                .send()
                .await;
            let Err(error) = result else {
                return Ok(());
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                error.as_service_error()
            else {
                return Err(aws_error(USER_STORE, error).into());
            };
            let code = |index: usize| {
                cancelled
                    .cancellation_reasons()
                    .get(index)
                    .and_then(|reason| reason.code())
            };
            if code(0) == Some("ConditionalCheckFailed") {
                return Err(StoreError::NotFound);
            }
            // The keeper stopped being an admin meanwhile (or a conflict): look again.
        }
        Err(StoreError::Conflict)
    }

    async fn delete(&self, username: &Username) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.users_table)
            .key("username", string(username.as_str()))
            .condition_expression("attribute_exists(username)")
            .send()
            .await
            .map_err(|error| not_found_on_condition(error, USER_STORE))?;
        Ok(())
    }

    async fn list_directory(
        &self,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<DirectoryRecord>, StorageError> {
        self.page_of_accounts(&self.directory, limit, cursor).await
    }

    async fn list_accounts(
        &self,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<UserRecord>, StorageError> {
        self.page_of_accounts(&self.accounts, limit, cursor).await
    }

    async fn backfill_listing(&self) -> Result<usize, StorageError> {
        let mut changed = 0;
        let mut start = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.users_table)
                .filter_expression("attribute_not_exists(listing)")
                .projection_expression("username")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|error| aws_error(USER_STORE, error))?;
            for mut item in output.items.unwrap_or_default() {
                let Some(username) = item.remove("username") else {
                    continue;
                };
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.users_table)
                    .key("username", username)
                    .update_expression("SET listing = :listing")
                    // Deleted meanwhile: not brought back as a bare item.
                    .condition_expression("attribute_exists(username)")
                    .expression_attribute_values(":listing", string(LISTING))
                    .send()
                    .await;
                match result {
                    Ok(_) => changed += 1,
                    Err(error) if is_conditional_failure(&error) => {}
                    Err(error) => return Err(aws_error(USER_STORE, error)),
                }
            }
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() {
                return Ok(changed);
            }
        }
    }
}

/// A user item as written: with the `listing` attribute that puts it in the accounts
/// index.
fn listed(mut item: Item) -> Item {
    item.insert("listing".to_owned(), string(LISTING));
    item
}

fn role(role: Role) -> AttributeValue {
    serde_dynamo::to_attribute_value(role).expect("roles convert")
}

fn not_found_on_condition<E, R>(error: SdkError<E, R>, what: &str) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if is_conditional_failure(&error) {
        StoreError::NotFound
    } else {
        aws_error(what, error).into()
    }
}

#[async_trait]
impl SessionStore for DynamoUserStore {
    async fn create(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.sessions_table)
            .set_item(Some(to_item(session)))
            .send()
            .await
            .map_err(|e| aws_error(SESSION_STORE, e))?;
        Ok(())
    }

    async fn get_live(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.sessions_table)
            .key("token_hash", string(token_hash))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_error(SESSION_STORE, e))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let session: SessionRecord = decode(SESSION_STORE, item)?;
        Ok((session.expires_at > now).then_some(session))
    }

    async fn delete(&self, token_hash: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.sessions_table)
            .key("token_hash", string(token_hash))
            .send()
            .await
            .map_err(|e| aws_error(SESSION_STORE, e))?;
        Ok(())
    }

    async fn delete_all_for(&self, username: &Username) -> Result<usize, StoreError> {
        let mut hashes = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.sessions_table)
                .index_name(SESSIONS_BY_USERNAME)
                .key_condition_expression("username = :username")
                .expression_attribute_values(":username", string(username.as_str()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| aws_error(SESSION_STORE, e))?;
            hashes.extend(
                page.items
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|mut item| item.remove("token_hash")),
            );
            start = page.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() {
                break;
            }
        }
        // BatchWriteItem takes 25 requests at a time and may hand some back unprocessed.
        for chunk in hashes.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|hash| {
                    WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder()
                                .key("token_hash", hash.clone())
                                .build()
                                .expect("key is set"),
                        )
                        .build()
                })
                .collect();
            for _ in 0..5 {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.sessions_table, requests)
                    .send()
                    .await
                    .map_err(|e| aws_error(SESSION_STORE, e))?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut items| items.remove(&self.sessions_table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            if !requests.is_empty() {
                return Err(StorageError::Unavailable(
                    "The session store is throttling; retry shortly".into(),
                )
                .into());
            }
        }
        Ok(hashes.len())
    }
}
