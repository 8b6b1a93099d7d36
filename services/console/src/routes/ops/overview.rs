//! The overview: each service's readiness, the SMS outbox backlog, the tenants and their
//! last sync, with links into the other pages.
//!
//! Readiness is watched in the background ([`ReadinessWatch`]: each service's `/readyz`
//! every few seconds), so the page costs no extra call; it reads sales-service once (the
//! backlog) and integration-service once (the tenants).
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use reqwest::Method;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::tenants::{self, TenantList};
use crate::error::ConsoleError;
use crate::state::AppState;
use crate::upstream::Upstream;
use crate::web::{page, Chrome, Operator, Service, When};

/// How often each service's readiness is asked.
const WATCH_EVERY: Duration = Duration::from_secs(5);

/// What a service's `/readyz` said last.
#[derive(Clone)]
pub struct Readiness {
    pub service: &'static str,
    pub state: ReadyState,
    checked: Option<Instant>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ReadyState {
    Unknown,
    Ready,
    NotReady,
    NotAnswering,
}

impl Readiness {
    pub fn text(&self) -> (&'static str, &'static str) {
        match self.state {
            ReadyState::Unknown => ("Not checked yet", "info"),
            ReadyState::Ready => ("Ready", "ok"),
            ReadyState::NotReady => ("Not ready", "warn"),
            ReadyState::NotAnswering => ("Not answering", "bad"),
        }
    }

    pub fn checked(&self) -> String {
        match self.checked {
            Some(at) => format!("{} s ago", at.elapsed().as_secs()),
            None => "never".to_owned(),
        }
    }
}

/// The services' readiness, asked in the background.
pub struct ReadinessWatch {
    services: Vec<Upstream>,
    last: Mutex<Vec<Readiness>>,
}

impl ReadinessWatch {
    pub fn new(services: Vec<Upstream>) -> Arc<Self> {
        let last = services
            .iter()
            .map(|upstream| Readiness {
                service: upstream.name,
                state: ReadyState::Unknown,
                checked: None,
            })
            .collect();
        Arc::new(Self {
            services,
            last: Mutex::new(last),
        })
    }

    pub fn snapshot(&self) -> Vec<Readiness> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Asks every service's `/readyz` until `stop`.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let checks = self.services.iter().map(|upstream| async move {
                let request = upstream.request(Method::GET, "/readyz", &Default::default());
                match request.send().await {
                    Ok(response) if response.status().is_success() => ReadyState::Ready,
                    Ok(_) => ReadyState::NotReady,
                    Err(_) => ReadyState::NotAnswering,
                }
            });
            let states = futures::future::join_all(checks).await;
            {
                let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
                for (entry, state) in last.iter_mut().zip(states) {
                    entry.state = state;
                    entry.checked = Some(Instant::now());
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(WATCH_EVERY) => {}
            }
        }
    }
}

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
        tenants::list_with(&state, &integrations)
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
