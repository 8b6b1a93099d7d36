//! The overview: each service's readiness, the SMS outbox backlog, the tenants and their
//! last sync, with links into the other pages.
//!
//! Readiness is watched in the background ([`ReadinessWatch`]: each service's `/readyz`
//! every few seconds), so the page costs no extra call; it reads sales-service once (the
//! backlog) and integration-service once (the tenants).
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use reqwest::Method;
use serde::Deserialize;

use super::{list_with, TenantList};
use crate::error::ConsoleError;
use crate::page::{page, Chrome, When};
use crate::readiness::Readiness;
use crate::state::AppState;
use crate::upstream::Service;
use crate::web::Operator;

/// sales-service's outbox backlog.
#[derive(Deserialize)]
pub struct Backlog {
    pub queued: u64,
    pub oldest_due_at: Option<String>,
}

impl Backlog {
    pub fn oldest(&self) -> Option<When> {
        self.oldest_due_at.as_deref().and_then(When::parse)
    }
}

#[derive(Template)]
#[template(path = "ops/overview.html")]
struct OverviewPage {
    chrome: Chrome,
    readiness: Vec<Readiness>,
    /// `None`: sales-service has no backlog route (yet); `Err`: it could not say.
    backlog: Option<Result<Backlog, String>>,
    tenants: Result<TenantList, String>,
}

/// `GET /ops`.
pub async fn show(
    State(state): State<AppState>,
    mut operator: Operator,
) -> Result<Response, ConsoleError> {
    let sales = operator.caller(&state, Service::Sales).await?;
    let integrations = operator.caller(&state, Service::Integrations).await?;
    let backlog_request = state
        .sales
        .request(Method::GET, "/api/v1/sales/sms/backlog", &sales);
    let (backlog, tenants) = tokio::join!(
        state.sales.send::<Backlog>(backlog_request),
        list_with(&state, &integrations)
    );
    let backlog = match backlog {
        Ok(answer) => Some(Ok(answer.body)),
        Err(error) if matches!(error.status(), Some(404 | 405)) => None,
        Err(error) => Some(Err(error.to_string())),
    };
    Ok(page(OverviewPage {
        chrome: operator.visitor.chrome("overview"),
        readiness: state.readiness.snapshot(),
        backlog,
        tenants: tenants.map_err(|error| ConsoleError::from_call(error, true).to_string()),
    })
    .into_response())
}
