//! One provider sync run: fetch the partner's list (auth and fetch each retried within
//! their attempts), validate every record, upsert the valid ones by id, and record the
//! run with its counts and errors, whatever happens.
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use common::timestamp::Timestamp;
use futures::StreamExt;
use tokio::time::Instant;

use super::model::{self, FieldMapping};
use crate::error::ApiError;
use crate::metrics::ServiceMetrics;
use crate::store::{
    InvalidRecord, Provider, ProviderStore, RunStatus, StoreError, SyncLockError, SyncRun,
};
use crate::tenants::Tenants;
use crate::upstream::{Exchange, Upstream, UpstreamRequest};

/// Invalid records kept in a run record (the count covers all of them).
const MAX_INVALID_RECORDS: usize = 100;
/// A partner record larger than this (as JSON) is refused: it is kept whole beside the
/// provider, and a DynamoDB item holds at most 400 KB.
const MAX_RECORD_BYTES: usize = 64 * 1024;
/// Concurrent upserts.
const WRITE_CONCURRENCY: usize = 8;

/// A 2xx providers response is usable only if it is a complete list.
fn complete_list(exchange: &Exchange) -> Result<(), String> {
    model::records(&exchange.body).map(|_| ())
}

#[derive(Clone)]
pub struct SyncJob {
    store: Arc<dyn ProviderStore>,
    metrics: ServiceMetrics,
    /// Budget of a run's upstream calls, every attempt included.
    budget: Duration,
    /// Each tenant's `fields` mapping of the partner's records (none: the default model).
    mappings: Arc<BTreeMap<String, FieldMapping>>,
}

impl SyncJob {
    /// Err names a tenant's `fields` setting that is not a valid mapping.
    pub fn new(
        store: Arc<dyn ProviderStore>,
        metrics: ServiceMetrics,
        budget: Duration,
        tenants: &Tenants,
    ) -> Result<Self, String> {
        let mut mappings = BTreeMap::new();
        for (tenant, name, settings) in tenants.iter() {
            let Some(fields) = settings.own.get("fields").filter(|_| name == "providers") else {
                continue;
            };
            let mapping =
                serde_json::from_value::<FieldMapping>(fields.clone()).map_err(|error| {
                    format!("tenant config at `{tenant}.providers.fields`: {error}")
                })?;
            mappings.insert(tenant.to_owned(), mapping);
        }
        Ok(Self {
            store,
            metrics,
            budget,
            mappings: Arc::new(mappings),
        })
    }

    /// Takes the tenant's sync lease (one sync per tenant at a time: a second is refused
    /// with the running run's id) and records a new run as running; [`SyncJob::finish`]
    /// does the work and gives the lease back.
    pub async fn start(&self, tenant: &str) -> Result<SyncRun, SyncLockError> {
        let run = SyncRun {
            run_id: uuid::Uuid::now_v7().to_string(),
            tenant_id: tenant.to_owned(),
            status: RunStatus::Running,
            started_at: Timestamp::now().rfc3339(),
            finished_at: None,
            fetched: 0,
            stored: 0,
            invalid: 0,
            errors: Vec::new(),
            invalid_records: Vec::new(),
        };
        // The lease outlives the run's budget a little; a process that dies holding it
        // keeps other syncs out only that long.
        let lease = self.budget + Duration::from_secs(60);
        let expires_at = Timestamp::now().unix_seconds() + lease.as_secs() as i64;
        self.store
            .lock_sync(tenant, &run.run_id, expires_at)
            .await?;
        if let Err(error) = self.store.put_run(&run).await {
            self.release(&run).await;
            return Err(error.into());
        }
        Ok(run)
    }

    async fn release(&self, run: &SyncRun) {
        if let Err(error) = self.store.unlock_sync(&run.tenant_id, &run.run_id).await {
            // The lease expires on its own; the next sync waits until then.
            tracing::warn!(tenant = %run.tenant_id, run_id = %run.run_id, %error, "sync lease not released");
        }
    }

    /// Runs the sync and records the outcome; Err only when the run record itself could
    /// not be written (the outcome is then in the log).
    pub async fn finish(
        &self,
        mut run: SyncRun,
        upstream: &Upstream,
    ) -> Result<SyncRun, StoreError> {
        let deadline = Instant::now() + self.budget;
        let request = UpstreamRequest::get("fetch_providers", "/providers").accept(complete_list);
        match upstream.call(&request, deadline).await {
            Err(error) => {
                run.status = RunStatus::Failed;
                run.errors
                    .push(format!("fetching providers failed: {error}"));
            }
            Ok(exchange) if !exchange.status.is_success() => {
                run.status = RunStatus::Failed;
                run.errors.push(format!(
                    "fetching providers failed: the partner answered {}",
                    exchange.status
                ));
            }
            Ok(exchange) => {
                let records = model::records(&exchange.body).unwrap_or_default();
                self.store_records(&mut run, &records).await;
            }
        }
        run.finished_at = Some(Timestamp::now().rfc3339());
        let status = match run.status {
            RunStatus::Failed => "failed",
            RunStatus::Partial => "partial",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Running => "running",
        };
        self.metrics
            .sync_runs
            .with_label_values(&[&run.tenant_id, status])
            .inc();
        tracing::info!(
            tenant = %run.tenant_id,
            run_id = %run.run_id,
            status,
            fetched = run.fetched,
            stored = run.stored,
            invalid = run.invalid,
            errors = ?run.errors,
            "provider sync finished"
        );
        let recorded = self.store.put_run(&run).await;
        self.release(&run).await;
        recorded?;
        Ok(run)
    }

    async fn store_records(&self, run: &mut SyncRun, records: &[serde_json::Value]) {
        run.fetched = records.len();
        let mut seen = HashSet::new();
        let mut valid: Vec<(Provider, String)> = Vec::new();
        let default_mapping = FieldMapping::default();
        let mapping = self
            .mappings
            .get(&run.tenant_id)
            .unwrap_or(&default_mapping);
        for (index, record) in records.iter().enumerate() {
            let raw = record.to_string();
            let outcome = if raw.len() > MAX_RECORD_BYTES {
                let error = common::FieldError::new("record", "is larger than 64 KiB");
                Err((None, vec![error]))
            } else {
                model::validate(record, mapping)
            };
            let outcome = outcome.and_then(|provider| {
                if seen.insert(provider.id.clone()) {
                    Ok(provider)
                } else {
                    let error = common::FieldError::new("id", "appears twice in the response");
                    Err((Some(provider.id), vec![error]))
                }
            });
            match outcome {
                Ok(provider) => valid.push((provider, raw)),
                Err((id, errors)) => {
                    run.invalid += 1;
                    if run.invalid_records.len() < MAX_INVALID_RECORDS {
                        run.invalid_records
                            .push(InvalidRecord { index, id, errors });
                    }
                }
            }
        }
        let now = Timestamp::now().rfc3339();
        let results: Vec<Result<(), (String, StoreError)>> =
            futures::stream::iter(valid.iter().cloned())
                .map(|(provider, raw)| {
                    let now = &now;
                    let run_id = &run.run_id;
                    let tenant = &run.tenant_id;
                    async move {
                        self.store
                            .upsert(tenant, &provider, &raw, run_id, now)
                            .await
                            .map_err(|error| (provider.id, error))
                    }
                })
                .buffer_unordered(WRITE_CONCURRENCY)
                .collect()
                .await;
        let mut failed_writes = 0;
        for result in results {
            match result {
                Ok(()) => run.stored += 1,
                Err((id, error)) => {
                    failed_writes += 1;
                    if failed_writes <= 10 {
                        // As a run has always reported it: the problem the write's
                        // failure would answer (`Service Unavailable (503): ...`).
                        let problem = common::Problem::from(ApiError::from(error));
                        run.errors
                            .push(format!("storing provider {id} failed: {problem}"));
                    }
                }
            }
        }
        if failed_writes > 10 {
            run.errors.push(format!(
                "... {} more providers could not be stored",
                failed_writes - 10
            ));
        }
        if run.invalid > 0 {
            run.errors.push(format!(
                "{} records were invalid and not stored",
                run.invalid
            ));
        }
        // Records came but none was stored (all invalid, or every write failed): the sync
        // did not work, whatever the reason; a mapping that fits no record is the usual one.
        run.status = if run.stored == 0 && run.fetched > 0 {
            run.errors.push(format!(
                "none of the {} records fetched was stored",
                run.fetched
            ));
            RunStatus::Failed
        } else if run.invalid > 0 || failed_writes > 0 {
            RunStatus::Partial
        } else {
            RunStatus::Succeeded
        };
    }
}
