//! sales-service: customers and orders behind OpenID Connect, with one SMS per order
//! sent through a transactional outbox.
//!
//! # Layout
//!
//! - [`routes`]: HTTP only: `customers`, `orders`, the old-style paths in `legacy`, and
//!   `replay`, the `Idempotency-Key` replay flow every POST goes through. They call the
//!   store through the state; the replay flow matches the one store failure that means
//!   something to it (a taken key) where it happens, and `?` turns any other into an
//!   `ApiError`. The store reads the cursors of its own listings.
//! - [`domain`]: values that are valid once they exist (`NewCustomer`, `NewOrder`,
//!   `Amount`, phone numbers and the countries SMS may go to, currencies, SMS text), what
//!   became of an SMS (`Delivery`) and the hourly windows sends are counted in, and the
//!   records the store persists (customer, order, outbox and idempotency records).
//! - [`store`]: the `SalesStore` and `Outbox` traits, each with its own error
//!   (`StoreError`, `OutboxError`: a lost outbox claim is the dispatcher's business and
//!   never reaches a route), their DynamoDB implementation (`store/dynamo/`: `sales.rs`
//!   and `outbox.rs`, one per trait; an order, its outbox record and its idempotency
//!   record are written in one transaction) and, for unit tests, the outbox in memory
//!   (`store/memory.rs`). Failures are in storage's terms (`common::aws::StorageError`),
//!   never statuses.
//! - [`sms`]: the Africa's Talking sender, the dispatcher that works through the outbox
//!   in the background (a background task of the application [`build`] returns), and
//!   `SmsMetrics`, everything they count.
//! - [`error`]: `ApiError`, the one place a failure becomes a status and problem body.
//! - [`config`], [`state`]; [`build`] assembles the service and the dispatcher.
//!
//! A request's path: `common::auth::Authenticated` verifies the OIDC token (401), the
//! handler checks its scope (403), `common::extract::Json` reads the body (400, 415),
//! `domain` parses every field (one 422 naming them all), the idempotency flow replays a
//! repeated key, and the store writes; `ApiError` turns any failure into a problem.
pub mod config;
pub mod domain;
pub mod error;
pub mod routes;
pub mod secret;
pub mod sms;
pub mod state;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use common::auth::OidcVerifier;
use common::aws::dynamo::DynamoTablesCheck;
use common::health::Health;
use common::metrics::Metrics;
use common::paging::CursorKeys;
use common::secrets::{AwsSecretStore, SecretStore};
use common::server::{App, Application};

use crate::config::Config;
use crate::secret::SecretValue;
use crate::sms::{AfricasTalking, Dispatcher, SmsMetrics};
use crate::state::AppState;
use crate::store::DynamoSalesStore;

/// Builds the application against the AWS endpoints in `sdk`, creating the tables when
/// configured to: the HTTP service, and the outbox dispatcher beside it (when enabled).
pub async fn build(config: &Config, sdk: &SdkConfig) -> anyhow::Result<Application> {
    let dynamodb = common::aws::dynamodb(sdk);
    common::aws::ensure_resources(&config.common, &dynamodb, &store::tables(), None).await?;
    // Secrets are cached for five minutes; the API key is re-read at once when the
    // provider rejects it.
    let secrets: Arc<dyn SecretStore> = Arc::new(AwsSecretStore::new(
        common::aws::secrets_manager(sdk),
        Duration::from_secs(300),
    ));
    let cursor_keys = CursorKeys::load(&config.common.cursor_keys, secrets.clone()).await?;
    let store = Arc::new(DynamoSalesStore::new(
        dynamodb.clone(),
        &config.common.table_prefix,
        &cursor_keys,
    ));
    let metrics = Arc::new(Metrics::new());
    let api_key = SecretValue::new(&config.sms.api_key, &secrets);
    let sms_metrics = SmsMetrics::register(&metrics);
    let sender = AfricasTalking::new(
        common::http_client::client(config.sms.timeout),
        &config.sms.base_url,
        config.sms.username.clone(),
        config.sms.sender_id.clone(),
        api_key,
        &sms_metrics,
    )
    .map_err(anyhow::Error::msg)?;
    let dispatcher = config.outbox.enabled.then(|| {
        Dispatcher::new(
            store.clone(),
            Arc::new(sender),
            config.outbox.clone(),
            config.sms.timeout,
            config.sms.destinations.clone(),
            config.sms.max_per_number_per_hour,
            sms_metrics.clone(),
        )
    });
    let health = Health::new(vec![Arc::new(DynamoTablesCheck {
        client: dynamodb,
        tables: store.table_names(),
    })]);
    let state = AppState {
        outbox: store.clone(),
        backlog_count_max: config.outbox.backlog_count_max,
        store,
        verifier: Arc::new(OidcVerifier::new(
            config.oidc.clone(),
            common::http_client::client(std::time::Duration::from_secs(5)),
        )),
        scopes: Arc::new(config.scopes.clone()),
        default_currency: config.default_currency.clone(),
        template: Arc::new(config.sms.template.clone()),
        destinations: Arc::new(config.sms.destinations.clone()),
        max_sms_per_caller_per_hour: config.sms.max_per_caller_per_hour,
        sms_metrics,
        delivery_report_token: config
            .delivery_reports
            .token
            .as_ref()
            .map(|token| Arc::new(SecretValue::new(token, &secrets))),
        idempotency_ttl: config.idempotency_ttl,
        dispatcher: dispatcher.clone(),
        legacy_list_max_items: config.legacy_list_max_items,
    };
    // The delivery-report URL's token is a secret: the access log shows it redacted.
    common::telemetry::redact_path_segment_after(routes::DELIVERY_REPORTS);
    let app = App {
        api: routes::router(state),
        spec: routes::spec(&config.oidc),
        health,
        metrics,
    };
    // Cursor keys from Secrets Manager are re-read, so a rotation reaches every replica.
    let application = Application::new(app.into_service(&config.common))
        .with_background(move |stop| cursor_keys.refresh_every(Duration::from_secs(300), stop));
    Ok(match dispatcher {
        // The dispatcher finishes the pass it is in (each send is bounded by its timeout);
        // whatever it has not claimed stays in the outbox for the other replicas.
        Some(dispatcher) => application.with_background(|stop| dispatcher.run(stop)),
        None => application,
    })
}
