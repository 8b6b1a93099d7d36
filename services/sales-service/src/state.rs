use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use common::auth::OidcVerifier;

use crate::config::Scopes;
use crate::domain::{Currency, Destinations, MessageTemplate};
use crate::secret::SecretValue;
use crate::sms::{Dispatcher, SmsMetrics};
use crate::store::{Outbox, SalesStore};

/// What the handlers share. Cheap to clone: everything is behind `Arc`.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn SalesStore>,
    /// The SMS outbox, read for its backlog.
    pub outbox: Arc<dyn Outbox>,
    /// The backlog is counted up to this many (`OUTBOX_BACKLOG_COUNT_MAX`).
    pub backlog_count_max: u64,
    pub verifier: Arc<OidcVerifier>,
    pub scopes: Arc<Scopes>,
    pub default_currency: Currency,
    pub template: Arc<MessageTemplate>,
    /// Where SMS may go: a customer's number must be one of these.
    pub destinations: Arc<Destinations>,
    /// SMS per caller per clock hour (`SMS_MAX_PER_CALLER_PER_HOUR`).
    pub max_sms_per_caller_per_hour: u32,
    pub sms_metrics: SmsMetrics,
    /// The delivery-report URL's secret token; `None`: reports are refused.
    pub delivery_report_token: Option<Arc<SecretValue>>,
    pub idempotency_ttl: Duration,
    /// This process's dispatcher, woken when an order is created (none when disabled:
    /// another replica's dispatcher picks the SMS up at its next poll).
    pub dispatcher: Option<Dispatcher>,
    /// Records in one answer of a legacy listing (`LEGACY_LIST_MAX_ITEMS`).
    pub legacy_list_max_items: usize,
}

impl FromRef<AppState> for Arc<OidcVerifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}
