//! Provider sync: a tenant's sync runs (newest first) with their counts, errors and invalid
//! records, "Sync now", and the stored providers with paging and search.
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use reqwest::Method;
use serde::Deserialize;

use super::{fetch_list, integration_call, listing_path, Pager, TenantList, UrlId};
use crate::error::ConsoleError;
use crate::page::{page, see_other, Chrome, When};
use crate::state::AppState;
use crate::upstream::UpstreamError;
use crate::web::Operator;

/// Runs shown on a tenant's sync page.
const RUNS_PER_PAGE: u32 = 10;
const PROVIDERS_PER_PAGE: u32 = 25;

#[derive(Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

#[derive(Deserialize)]
pub struct InvalidRecord {
    pub index: usize,
    pub id: Option<String>,
    pub errors: Vec<FieldProblem>,
}

/// A sync run as integration-service records it.
#[derive(Deserialize)]
pub struct SyncRun {
    pub run_id: String,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub fetched: usize,
    pub stored: usize,
    pub invalid: usize,
    #[serde(default)]
    pub errors: Vec<String>,
    #[serde(default)]
    pub invalid_records: Vec<InvalidRecord>,
}

impl SyncRun {
    pub fn started(&self) -> Option<When> {
        When::parse(&self.started_at)
    }

    /// "1.4 s", "2 min 5 s"; "running" while it runs.
    pub fn duration(&self) -> String {
        let (Some(start), Some(end)) = (
            time::OffsetDateTime::parse(
                &self.started_at,
                &time::format_description::well_known::Rfc3339,
            )
            .ok(),
            self.finished_at.as_deref().and_then(|f| {
                time::OffsetDateTime::parse(f, &time::format_description::well_known::Rfc3339).ok()
            }),
        ) else {
            return "still running".to_owned();
        };
        let millis = (end - start).whole_milliseconds().max(0);
        if millis < 60_000 {
            format!("{:.1} s", millis as f64 / 1000.0)
        } else {
            format!("{} min {} s", millis / 60_000, (millis % 60_000) / 1000)
        }
    }

    pub fn status_text(&self) -> (&'static str, &'static str) {
        status_text(&self.status)
    }

    pub fn is_running(&self) -> bool {
        self.status == "running"
    }

    pub fn has_details(&self) -> bool {
        !self.errors.is_empty() || !self.invalid_records.is_empty()
    }
}

/// A run's status in words, and its chip's tone.
fn status_text(status: &str) -> (&'static str, &'static str) {
    match status {
        "succeeded" => ("Succeeded", "ok"),
        "partial" => ("Partly stored", "warn"),
        "failed" => ("Failed", "bad"),
        "running" => ("Running", "info"),
        _ => ("Unknown", "info"),
    }
}

/// A tenant's latest run, as the tenant list summarises it.
#[derive(Deserialize)]
pub struct RunSummary {
    pub status: String,
    pub started_at: String,
}

impl RunSummary {
    pub fn started(&self) -> Option<When> {
        When::parse(&self.started_at)
    }

    pub fn status_text(&self) -> (&'static str, &'static str) {
        status_text(&self.status)
    }
}

#[derive(Deserialize)]
struct RunsPage {
    runs: Vec<SyncRun>,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "ops/sync_index.html")]
struct SyncIndexPage {
    chrome: Chrome,
    tenants: TenantList,
}

/// `GET /ops/sync`: the tenants whose providers can be synced.
pub async fn index(
    State(state): State<AppState>,
    mut operator: Operator,
) -> Result<Response, ConsoleError> {
    let tenants = fetch_list(&state, &mut operator).await?;
    Ok(page(SyncIndexPage {
        chrome: operator.visitor.chrome("sync"),
        tenants,
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct RunsQuery {
    /// The run to open (after "Sync now").
    run: Option<String>,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "ops/sync_runs.html")]
struct RunsPageView {
    chrome: Chrome,
    tenant: String,
    runs: Vec<SyncRun>,
    /// The run to show opened, if any.
    opened: Option<String>,
    /// A run is still going: the table refreshes itself (htmx) or offers a reload link.
    running: bool,
    self_href: String,
    pager: Pager,
}

/// `GET /ops/sync/{tenant}`: the runs, newest first.
pub async fn runs(
    State(state): State<AppState>,
    mut operator: Operator,
    Path(tenant): Path<String>,
    Query(query): Query<RunsQuery>,
) -> Result<Response, ConsoleError> {
    let tenant = UrlId::parse(&tenant)?;
    let path = listing_path(
        "/providers/list_sync_runs",
        &[],
        RUNS_PER_PAGE,
        "next",
        query.next.as_deref(),
    );
    let answer: RunsPage =
        integration_call(&state, &mut operator, &tenant, Method::GET, &path, None).await?;
    let base = format!("/ops/sync/{}", tenant.as_str());
    let running = answer.runs.iter().any(SyncRun::is_running);
    let self_href = match &query.run {
        Some(run) => format!(
            "{base}?{}",
            serde_urlencoded::to_string([("run", run)]).unwrap_or_default()
        ),
        None => base.clone(),
    };
    Ok(page(RunsPageView {
        chrome: operator.visitor.chrome("sync"),
        tenant: tenant.as_str().to_owned(),
        opened: query.run,
        running,
        self_href,
        pager: Pager::new(
            &base,
            &[],
            query.next.is_some(),
            answer.next.as_deref(),
            "next",
        ),
        runs: answer.runs,
    })
    .into_response())
}

/// `POST /ops/sync/{tenant}`: runs a sync now, then shows the runs with this one opened:
/// finished (succeeded, partly stored, failed with why), or still running.
pub async fn sync_now(
    State(state): State<AppState>,
    mut operator: Operator,
    Path(tenant): Path<String>,
) -> Result<Response, ConsoleError> {
    let tenant = UrlId::parse(&tenant)?;
    let base = format!("/ops/sync/{}", tenant.as_str());
    let body = serde_json::json!({});
    let result: Result<SyncRun, ConsoleError> = integration_call(
        &state,
        &mut operator,
        &tenant,
        Method::POST,
        "/providers/sync_providers",
        Some(body),
    )
    .await;
    let run_id = match result {
        Ok(run) => run.run_id,
        // A failed run (502) and a run already going (409) both name their run: show it.
        Err(ConsoleError::Upstream(UpstreamError::Problem { problem, .. }))
            if matches!(problem.status, 409 | 502)
                && problem
                    .extensions
                    .get("run_id")
                    .is_some_and(|v| v.is_string()) =>
        {
            problem.extensions["run_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
        Err(other) => return Err(other),
    };
    Ok(see_other(&format!(
        "{base}?{}",
        serde_urlencoded::to_string([("run", &run_id)]).unwrap_or_default()
    )))
}

/// A stored provider.
#[derive(Deserialize)]
pub struct Provider {
    pub id: String,
    pub name: Option<String>,
    pub specialty: Option<String>,
    pub npi: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
    pub first_seen_at: String,
    pub last_seen_at: String,
}

impl Provider {
    pub fn first_seen(&self) -> Option<When> {
        When::parse(&self.first_seen_at)
    }

    pub fn last_seen(&self) -> Option<When> {
        When::parse(&self.last_seen_at)
    }
}

#[derive(Deserialize)]
struct ProvidersPage {
    providers: Vec<Provider>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct ProvidersQuery {
    #[serde(default)]
    name: String,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "ops/providers.html")]
struct ProvidersView {
    chrome: Chrome,
    tenant: String,
    name: String,
    providers: Vec<Provider>,
    pager: Pager,
}

/// `GET /ops/sync/{tenant}/providers`: stored providers, a page at a time, by name prefix.
pub async fn providers(
    State(state): State<AppState>,
    mut operator: Operator,
    Path(tenant): Path<String>,
    Query(query): Query<ProvidersQuery>,
) -> Result<Response, ConsoleError> {
    let tenant = UrlId::parse(&tenant)?;
    let name = query.name.trim().to_owned();
    let filters: Vec<(&str, &str)> = if name.is_empty() {
        vec![]
    } else {
        vec![("name", name.as_str())]
    };
    let path = listing_path(
        "/providers/list_providers",
        &filters,
        PROVIDERS_PER_PAGE,
        "next",
        query.next.as_deref(),
    );
    let answer: ProvidersPage =
        integration_call(&state, &mut operator, &tenant, Method::GET, &path, None).await?;
    let base = format!("/ops/sync/{}/providers", tenant.as_str());
    Ok(page(ProvidersView {
        chrome: operator.visitor.chrome("sync"),
        tenant: tenant.as_str().to_owned(),
        pager: Pager::new(
            &base,
            &filters,
            query.next.is_some(),
            answer.next.as_deref(),
            "next",
        ),
        name,
        providers: answer.providers,
    })
    .into_response())
}
