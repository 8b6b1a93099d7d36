use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use common::aws::aws_error;
use common::aws::dynamo::{
    get_consistent, is_conditional_failure, paging_error, string, Listing, Page, TableSpec,
};
use common::paging::CursorKeys;

use super::{
    tables, Provider, ProviderStore, StoreError, StoredProvider, SyncLockError, SyncRun,
    PROVIDERS_BY_NAME, PROVIDERS_TABLE, SYNC_LOCKS_TABLE, SYNC_RUNS_TABLE,
};

/// Attributes the store owns; a partner field of the same name would be overwritten.
const OWN_ATTRIBUTES: [&str; 7] = [
    "name_key",
    "tenant_id",
    "provider_id",
    "first_seen_at",
    "last_seen_at",
    "last_sync_run_id",
    "raw_record",
];

/// How a name is kept for prefix lookups: lowercased, so a prefix matches whatever the
/// case.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// The lease item of a running sync.
#[derive(serde::Deserialize)]
struct SyncLock {
    run_id: String,
}

pub struct DynamoProviderStore {
    client: Client,
    providers_table: String,
    runs_table: String,
    locks_table: String,
    /// A tenant's providers by id; by name (a cursor bound to the tenant and the prefix);
    /// a tenant's runs.
    providers: Listing,
    providers_by_name: Listing,
    runs: Listing,
}

impl DynamoProviderStore {
    pub fn new(client: Client, prefix: &str, cursor_keys: &CursorKeys) -> Self {
        let tables = tables();
        let spec = |name: &str| -> &TableSpec {
            tables
                .iter()
                .find(|table| table.name == name)
                .expect("a table of this store")
        };
        Self {
            client,
            providers_table: format!("{prefix}{PROVIDERS_TABLE}"),
            runs_table: format!("{prefix}{SYNC_RUNS_TABLE}"),
            locks_table: format!("{prefix}{SYNC_LOCKS_TABLE}"),
            providers: Listing::new("providers", spec(PROVIDERS_TABLE), None, cursor_keys),
            providers_by_name: Listing::new(
                "providers-by-name",
                spec(PROVIDERS_TABLE),
                Some(PROVIDERS_BY_NAME),
                cursor_keys,
            ),
            runs: Listing::new("runs", spec(SYNC_RUNS_TABLE), None, cursor_keys),
        }
    }

    /// Every table, for the readiness check.
    pub fn table_names(&self) -> Vec<String> {
        vec![
            self.providers_table.clone(),
            self.runs_table.clone(),
            self.locks_table.clone(),
        ]
    }

    /// A page of the tenant's items of `query`, from the client's `cursor` (sealed by
    /// `listing` for `binding`).
    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        (listing, binding): (&Listing, &str),
        tenant: &str,
        limit: i32,
        cursor: Option<&str>,
        newest_first: bool,
    ) -> Result<Page<T>, StoreError> {
        let output = query
            .expression_attribute_values(":tenant", string(tenant))
            .scan_index_forward(!newest_first)
            .limit(limit)
            .set_exclusive_start_key(listing.start(cursor, binding)?)
            .send()
            .await
            .map_err(|error| paging_error("The provider store", error))?;
        Ok(listing.page(
            "The provider store",
            binding,
            output.items,
            output.last_evaluated_key,
        )?)
    }

    fn tenant_query(
        &self,
        table: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(table)
            .key_condition_expression("tenant_id = :tenant")
    }
}

#[async_trait]
impl ProviderStore for DynamoProviderStore {
    async fn upsert(
        &self,
        tenant: &str,
        provider: &Provider,
        raw_record: &str,
        run_id: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        // One UpdateItem: the partner's fields are SET (absent optional fields become NULL,
        // so a value the partner dropped does not linger), first_seen_at only if missing.
        let fields: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(provider).expect("providers serialise to items");
        let mut request = self
            .client
            .update_item()
            .table_name(&self.providers_table)
            .key("tenant_id", string(tenant))
            .key("provider_id", string(&provider.id))
            .expression_attribute_values(":now", string(now))
            .expression_attribute_values(":run", string(run_id))
            .expression_attribute_values(":raw", string(raw_record))
            .expression_attribute_values(":name_key", string(&name_key(&provider.name)));
        let mut sets = vec![
            "first_seen_at = if_not_exists(first_seen_at, :now)".to_owned(),
            "last_seen_at = :now".to_owned(),
            "last_sync_run_id = :run".to_owned(),
            "raw_record = :raw".to_owned(),
            "name_key = :name_key".to_owned(),
        ];
        for (index, (name, value)) in fields
            .into_iter()
            .filter(|(name, _)| !OWN_ATTRIBUTES.contains(&name.as_str()))
            .enumerate()
        {
            sets.push(format!("#f{index} = :f{index}"));
            request = request
                .expression_attribute_names(format!("#f{index}"), name)
                .expression_attribute_values(format!(":f{index}"), value);
        }
        request
            .update_expression(format!("SET {}", sets.join(", ")))
            .send()
            .await
            .map_err(|error| aws_error("The provider store", error))?;
        Ok(())
    }

    async fn list(
        &self,
        tenant: &str,
        name_prefix: Option<&str>,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<StoredProvider>, StoreError> {
        let Some(prefix) = name_prefix else {
            let query = self.tenant_query(&self.providers_table);
            return self
                .page(
                    query,
                    (&self.providers, tenant),
                    tenant,
                    limit,
                    cursor,
                    false,
                )
                .await;
        };
        let query = self
            .client
            .query()
            .table_name(&self.providers_table)
            .index_name(PROVIDERS_BY_NAME)
            .key_condition_expression("tenant_id = :tenant AND begins_with(name_key, :prefix)")
            .expression_attribute_values(":prefix", string(prefix));
        // The prefix is part of what the cursor opens for: another name's page is refused.
        let binding = format!("{tenant}\nname={prefix}");
        self.page(
            query,
            (&self.providers_by_name, &binding),
            tenant,
            limit,
            cursor,
            false,
        )
        .await
    }

    async fn put_run(&self, run: &SyncRun) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(run).expect("runs serialise to items");
        self.client
            .put_item()
            .table_name(&self.runs_table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|error| aws_error("The sync-run store", error))?;
        Ok(())
    }

    async fn lock_sync(
        &self,
        tenant: &str,
        run_id: &str,
        expires_at: i64,
    ) -> Result<(), SyncLockError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let put = self
            .client
            .put_item()
            .table_name(&self.locks_table)
            .item("tenant_id", string(tenant))
            .item("run_id", string(run_id))
            .item("expires_at", AttributeValue::N(expires_at.to_string()))
            // A conditional put: exactly one of two racing syncs takes the lease.
            .condition_expression("attribute_not_exists(tenant_id) OR expires_at < :now")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(error) if is_conditional_failure(&error) => {
                let held: Option<SyncLock> = get_consistent(
                    &self.client,
                    "The sync-lock store",
                    &self.locks_table,
                    "tenant_id",
                    tenant,
                )
                .await
                .map_err(StoreError::from)?;
                // Released between the put and this read: say so rather than name no run.
                let running_run_id =
                    held.map_or_else(|| "(just finished)".into(), |lock| lock.run_id);
                Err(SyncLockError::Busy { running_run_id })
            }
            Err(error) => Err(StoreError::from(aws_error("The sync-lock store", error)).into()),
        }
    }

    async fn unlock_sync(&self, tenant: &str, run_id: &str) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.locks_table)
            .key("tenant_id", string(tenant))
            .condition_expression("run_id = :run")
            .expression_attribute_values(":run", string(run_id))
            .send()
            .await;
        match deleted {
            // Another run took an expired lease meanwhile: it is not ours to give back.
            Err(error) if is_conditional_failure(&error) => Ok(()),
            Err(error) => Err(aws_error("The sync-lock store", error).into()),
            Ok(_) => Ok(()),
        }
    }

    async fn list_runs(
        &self,
        tenant: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<SyncRun>, StoreError> {
        let query = self.tenant_query(&self.runs_table);
        self.page(query, (&self.runs, tenant), tenant, limit, cursor, true)
            .await
    }
}
