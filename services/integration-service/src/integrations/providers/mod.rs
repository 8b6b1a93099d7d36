//! Healthcare providers from the partner API: a fault-tolerant sync into DynamoDB, the
//! stored providers, and the record of every sync run.
pub mod model;
pub mod sync;

use std::sync::Arc;

use axum::http::StatusCode;
use common::paging::{Listed, PageQuery, PageView, Paging};
use common::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::capability::{Call, Capability, Integration, NoParams, Output, Params};
use crate::error::{ApiError, Error};
use crate::store::{name_key, ProviderStore, RunStatus, StoreError, StoredProvider, SyncRun};
use crate::tenants::AuthKind;
use crate::upstream::UpstreamRequest;
use sync::SyncJob;

pub struct Providers {
    store: Arc<dyn ProviderStore>,
    sync: SyncJob,
}

impl Providers {
    pub fn new(store: Arc<dyn ProviderStore>, sync: SyncJob) -> Arc<Self> {
        Arc::new(Self { store, sync })
    }
}

impl Output for SyncRun {
    /// A run still going when the request had to answer continues in the background.
    fn status(&self) -> StatusCode {
        if self.status == RunStatus::Running {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        }
    }
}

/// A page of a tenant's stored items.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// Items per page, 1 to 100 (default 50).
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next` cursor of the previous page.
    pub next: Option<String>,
}

impl Params for PageParams {}

/// A page of the tenant's stored providers, optionally those whose name starts with
/// `name`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderListParams {
    /// Items per page, 1 to 100 (default 50).
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next` cursor of the previous page (of the same `name`).
    pub next: Option<String>,
    /// Only providers whose name starts with this (any case), by name; 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
}

impl Params for ProviderListParams {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self
            .name
            .as_ref()
            .is_some_and(|name| name.trim().is_empty() || name.chars().count() > 100)
        {
            errors.push(FieldError::new("name", "must be 1 to 100 characters"));
        }
        errors
    }
}

/// The stored listings' pages: 50 items by default, 100 at most, the cursor in `next`.
struct Stored;

impl Paging for Stored {
    const DEFAULT_LIMIT: u32 = 50;
}

impl Listed for StoredProvider {
    const ITEMS: &'static str = "providers";
}

impl Listed for SyncRun {
    const ITEMS: &'static str = "runs";
    const ITEMS_DOC: Option<&'static str> = Some("Newest first.");
}

impl<T: Listed + Serialize + ToSchema + Send + 'static> Output for PageView<T> {}

/// A listing's store error as the client sees it: a cursor the store could not open is a
/// 400 naming `next`.
fn listed<T>(query: &PageQuery<Stored>, result: Result<T, StoreError>) -> Result<T, ApiError> {
    result.map_err(|StoreError::Storage(error)| ApiError::Problem(query.problem(error)))
}

impl Integration for Providers {
    fn name(&self) -> &'static str {
        "providers"
    }

    fn description(&self) -> &'static str {
        "Healthcare providers from the partner API, synced into this service's store"
    }

    fn auth_methods(&self) -> &'static [AuthKind] {
        &[AuthKind::Checksum]
    }

    fn settings(&self) -> &'static [&'static str] {
        &["fields"]
    }

    /// The partner's list itself: its token and checksum are what a test must show work.
    fn check(&self) -> Option<UpstreamRequest> {
        Some(UpstreamRequest::get("test_connection", "/providers"))
    }

    fn capabilities(self: Arc<Self>) -> Vec<Capability> {
        let (sync, list, runs) = (self.clone(), self.clone(), self);
        vec![
            Capability::write("sync_providers", "Sync providers from the partner now", move |call, _: NoParams| {
                let this = sync.clone();
                async move { this.sync_now(call).await }
            })
            .describe(
                "Fetches the partner's providers (auth and fetch each up to 3 attempts), maps \
                 them with the tenant's field templates, stores the valid ones by id with the \
                 partner's record as it came, and records the run. 200 with the run when it finished \
                 (`succeeded`, or `partial` when some records were invalid); 502 with `run_id` \
                 when it failed (nothing fetched, or records fetched and none stored); 202 when it outlasted the request and continues in the background; \
                 409 with the running run's `run_id` while another sync of the tenant runs (one at a time).",
            )
            .responds_with_result(StatusCode::ACCEPTED, "The run continues in the background")
            .responds(StatusCode::CONFLICT, "A sync of the tenant is already running; the body carries its `run_id`")
            .responds(StatusCode::BAD_GATEWAY, "The run failed; the body carries `run_id` and `run`"),
            Capability::read("list_providers", "Stored providers, a page at a time, or by name prefix", move |call, params: ProviderListParams| {
                let this = list.clone();
                async move {
                    let query = PageQuery::<Stored>::new(params.limit, params.next.as_deref());
                    let limit = query.limit().map_err(ApiError::Problem)?;
                    let prefix = params.name.as_deref().map(name_key);
                    let page = this.store.list(&call.tenant, prefix.as_deref(), limit, query.cursor()).await;
                    Ok(PageView::from(listed(&query, page)?))
                }
            }),
            Capability::read("list_sync_runs", "Recorded sync runs, newest first", move |call, params: PageParams| {
                let this = runs.clone();
                async move {
                    let query = PageQuery::<Stored>::new(params.limit, params.next.as_deref());
                    let limit = query.limit().map_err(ApiError::Problem)?;
                    let page = this.store.list_runs(&call.tenant, limit, query.cursor()).await;
                    Ok(PageView::from(listed(&query, page)?))
                }
            }),
        ]
    }
}

impl Providers {
    async fn sync_now(&self, call: Call) -> Result<SyncRun, ApiError> {
        let run = self.sync.start(&call.tenant).await?;
        let running = run.clone();
        // A task of its own: the run finishes and is recorded even if this request is
        // abandoned (client gone, request timeout).
        let job = self.sync.clone();
        let upstream = call.upstream.clone();
        let task = tokio::spawn(async move { job.finish(run, &upstream).await });
        let run = match tokio::time::timeout_at(call.deadline, task).await {
            Err(_) => return Ok(running),
            Ok(joined) => joined.map_err(|error| ApiError::Internal(error.into()))??,
        };
        if run.status == RunStatus::Failed {
            Err(Error::SyncFailed(Box::new(run)).into())
        } else {
            Ok(run)
        }
    }
}
