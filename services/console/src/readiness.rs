//! The services' readiness, asked in the background ([`ReadinessWatch`]: each service's
//! `/readyz` every few seconds) so the overview page never waits for a service that does
//! not answer.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::Method;
use tokio_util::sync::CancellationToken;

use crate::upstream::Upstream;

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
