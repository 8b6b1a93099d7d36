//! Persistence of the provider sync behind a small trait, DynamoDB behind it.
mod dynamo;

use async_trait::async_trait;
use common::aws::dynamo::{IndexProjection, IndexSpec, KeyAttribute, Page, TableSpec};
use common::aws::StorageError;
use common::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use dynamo::{name_key, DynamoProviderStore};

pub const PROVIDERS_TABLE: &str = "providers";
pub const SYNC_RUNS_TABLE: &str = "provider-sync-runs";
pub const SYNC_LOCKS_TABLE: &str = "provider-sync-locks";
/// Providers by name: the tenant's, in the order of their lowercased names.
pub const PROVIDERS_BY_NAME: &str = "name-index";

/// The tables this service needs; `integration-service print-tables` prints them for the
/// Terraform drift check. Both are partitioned by tenant, so a tenant's listing is one
/// Query and tenants never see each other's items.
pub fn tables() -> Vec<TableSpec> {
    vec![
        TableSpec {
            name: PROVIDERS_TABLE,
            hash_key: KeyAttribute::string("tenant_id"),
            range_key: Some(KeyAttribute::string("provider_id")),
            ttl_attribute: None,
            // A name prefix is one Query of a tenant's names (`begins_with`), not a Scan.
            global_secondary_indexes: vec![IndexSpec {
                name: PROVIDERS_BY_NAME,
                hash_key: KeyAttribute::string("tenant_id"),
                range_key: Some(KeyAttribute::string("name_key")),
                projection: IndexProjection::All,
            }],
        },
        TableSpec {
            // One item per tenant while a sync runs: the lease that keeps a second sync of
            // the same tenant out. `expires_at` (epoch seconds) ends a lease its process
            // never released (it died); TTL deletes such items later.
            name: SYNC_LOCKS_TABLE,
            hash_key: KeyAttribute::string("tenant_id"),
            range_key: None,
            ttl_attribute: Some("expires_at"),
            global_secondary_indexes: vec![],
        },
        TableSpec {
            name: SYNC_RUNS_TABLE,
            hash_key: KeyAttribute::string("tenant_id"),
            // UUIDv7: sorts by start time, so the newest runs come first in a reverse Query.
            range_key: Some(KeyAttribute::string("run_id")),
            ttl_attribute: None,
            global_secondary_indexes: vec![],
        },
    ]
}

// What `integrations::providers::model` makes of a partner's record, and what the store
// keeps (here, so the store imports nothing above it).
/// A healthcare provider as the partner lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Provider {
    /// The partner's id: the key of the upsert.
    pub id: String,
    pub name: String,
    pub specialty: String,
    /// 10-digit National Provider Identifier, when the partner knows it.
    pub npi: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
}

/// A provider as stored: the partner's fields plus when this service first and last saw it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StoredProvider {
    #[serde(flatten)]
    pub provider: Provider,
    /// RFC 3339; set by the first sync that saw the provider, never changed after.
    pub first_seen_at: String,
    /// RFC 3339; the last sync whose response contained the provider.
    pub last_seen_at: String,
    pub last_sync_run_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started and not finished (or the process died: see `started_at`).
    Running,
    /// Every record fetched was valid and stored.
    Succeeded,
    /// Fetched, but some records were invalid or could not be stored.
    Partial,
    /// Nothing usable came of it: auth or fetch failed after its retries, or records
    /// were fetched and none of them could be stored.
    Failed,
}

/// A record of the partner feed that was not stored, and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvalidRecord {
    /// Position in the partner's response.
    pub index: usize,
    /// The record's id, when it had a usable one.
    pub id: Option<String>,
    pub errors: Vec<FieldError>,
}

/// One sync run: what happened, counted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SyncRun {
    pub run_id: String,
    pub tenant_id: String,
    pub status: RunStatus,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339; absent while running.
    pub finished_at: Option<String>,
    /// Records in the partner's response.
    pub fetched: usize,
    /// Records upserted.
    pub stored: usize,
    /// Records rejected by validation (details in `invalid_records`).
    pub invalid: usize,
    /// What went wrong, in order (auth, fetch, storage).
    pub errors: Vec<String>,
    /// The first invalid records (at most 100), with the fields at fault.
    pub invalid_records: Vec<InvalidRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why a sync could not start.
#[derive(Debug, thiserror::Error)]
pub enum SyncLockError {
    /// Another run of the tenant is going on.
    #[error("sync run {running_run_id} of this tenant is still running")]
    Busy { running_run_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait ProviderStore: Send + Sync {
    /// Inserts or updates by (tenant, id): the mapped fields and the partner's record as
    /// it came (`raw_record`, JSON text, so a changed mapping can be replayed without
    /// refetching) are overwritten, `first_seen_at` is kept when present, `last_seen_at`
    /// set to `now`.
    async fn upsert(
        &self,
        tenant: &str,
        provider: &Provider,
        raw_record: &str,
        run_id: &str,
        now: &str,
    ) -> Result<(), StoreError>;
    /// A page of the tenant's providers: by id, or with `name_prefix` (lowercase) those
    /// whose lowercased name starts with it, by name; from the client's `cursor` (a
    /// cursor sealed for another tenant, listing or prefix is a `BadCursor`).
    async fn list(
        &self,
        tenant: &str,
        name_prefix: Option<&str>,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<StoredProvider>, StoreError>;
    /// Writes the run record (start, then again when finished).
    async fn put_run(&self, run: &SyncRun) -> Result<(), StoreError>;
    /// Takes the tenant's sync lease for `run_id` until `expires_at` (epoch seconds),
    /// unless another run holds an unexpired one: then `Err(SyncBusy)` with its run id.
    async fn lock_sync(
        &self,
        tenant: &str,
        run_id: &str,
        expires_at: i64,
    ) -> Result<(), SyncLockError>;
    /// Gives the lease back (only if `run_id` still holds it).
    async fn unlock_sync(&self, tenant: &str, run_id: &str) -> Result<(), StoreError>;
    /// Newest first, from the client's `cursor`.
    async fn list_runs(
        &self,
        tenant: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<SyncRun>, StoreError>;
}
