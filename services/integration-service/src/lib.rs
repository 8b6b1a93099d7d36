//! integration-service: integration capabilities per tenant (Okta users, partner
//! providers) behind one generic capability model, and the provider sync job.
//!
//! # Layout
//!
//! - [`routes`]: HTTP only: the catalogue, the tenant header, and `execute`, the one route
//!   (`GET|POST /{integration}/{capability}`) that runs every capability.
//! - [`capability`]: the model every integration fills in (read or write, typed
//!   parameters and result, handler), its registry, and the OpenAPI made from it.
//! - [`definitions`]: integrations declared as data (`definitions/*.yaml`, Okta among
//!   them): the format, its checker, and the engine that runs their capabilities.
//! - [`integrations`]: integrations that need Rust (`providers` with its sync job).
//! - [`upstream`]: calls to a tenant's upstream API: `credentials` (a file per auth method), DPoP,
//!   throttling from rate-limit headers, concurrency caps, retries, metrics.
//! - [`tenants`]: which callers may act for a tenant, and its integrations' settings.
//! - [`store`]: the provider sync's `ProviderStore` trait and its DynamoDB implementation;
//!   its `StoreError` speaks storage (`common::aws::StorageError`), never statuses.
//! - [`error`]: `ApiError`, the one place a failure becomes a status and problem body.
//! - [`config`], [`state`], [`metrics`]; [`parts`] and [`build`] assemble the service (the
//!   `sync-providers` command uses the same parts without serving).
//!
//! A request's path: `common::auth::Authenticated` verifies the OIDC token (401); `execute`
//! finds the integration and capability (404, 405), checks the scope (403), resolves the
//! tenant (`routes::tenant`, 400 or 422) and whether the caller may act for it (403),
//! parses the parameters against the capability's types (`capability::params`, 422), and
//! invokes the handler through the tenant's `upstream`; `ApiError` turns any failure,
//! upstream ones included (502, 503, 504), into a problem.
pub mod capability;
pub mod config;
pub mod definitions;
pub mod error;
pub mod integrations;
pub mod metrics;
pub mod routes;
pub mod state;
pub mod store;
pub mod tenants;
pub mod upstream;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_config::SdkConfig;
use common::auth::OidcVerifier;
use common::aws::dynamo::DynamoTablesCheck;
use common::health::Health;
use common::metrics::Metrics;
use common::paging::CursorKeys;
use common::secrets::{AwsSecretStore, EnvSecretStore, SecretStore};
use common::server::{App, Application};

use crate::capability::Registry;
use crate::config::{Config, SecretsBackend};
use crate::integrations::providers::sync::SyncJob;
use crate::integrations::Dependencies;
use crate::metrics::ServiceMetrics;
use crate::state::AppState;
use crate::store::{DynamoProviderStore, RunStatus, SyncRun};
use crate::upstream::{Upstream, Upstreams};

/// Everything the service is made of, before it becomes a router (the sync job uses the
/// same parts without serving).
pub struct Parts {
    pub cursor_keys: CursorKeys,
    pub registry: Registry,
    pub upstreams: Upstreams,
    pub service_metrics: ServiceMetrics,
    pub sync: SyncJob,
    pub health: Health,
    pub metrics: Arc<Metrics>,
}

/// Connects a tenant's configured integrations, refusing unknown integrations and auth
/// methods an integration does not accept: a typo fails the start, not a request.
fn connect_tenants(
    config: &Config,
    registry: &Registry,
    secrets: Arc<dyn SecretStore>,
    metrics: &ServiceMetrics,
) -> anyhow::Result<Upstreams> {
    let mut upstreams = Upstreams::default();
    for (tenant, name, settings) in config.tenants.iter() {
        let integration = registry
            .get(name)
            .with_context(|| format!("tenant {tenant} configures unknown integration `{name}`"))?;
        anyhow::ensure!(
            integration.auth_methods.contains(&settings.auth.kind()),
            "tenant {tenant}: integration {name} does not accept auth method {:?}",
            settings.auth.kind()
        );
        (integration.check_settings)(&settings.own)
            .map_err(|why| anyhow::anyhow!("tenant config at `{tenant}.{name}`: {why}"))?;
        upstreams.insert(
            Upstream::new(
                tenant,
                &integration.name,
                settings,
                &integration.profile,
                &config.upstream,
                secrets.clone(),
                metrics.clone(),
            )
            .map_err(anyhow::Error::msg)?,
        );
    }
    Ok(upstreams)
}

/// Every mistake of the definitions, one per line: the service does not start with any.
pub fn definitions_refused(errors: &[definitions::DefinitionError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    format!(
        "{} mistake(s) in the integration definitions:\n{}",
        errors.len(),
        lines.join("\n")
    )
}

/// Builds the parts against the AWS endpoints in `sdk`, creating tables when configured to.
pub async fn parts(config: &Config, sdk: &SdkConfig) -> anyhow::Result<Parts> {
    let dynamodb = common::aws::dynamodb(sdk);
    common::aws::ensure_resources(&config.common, &dynamodb, &store::tables(), None).await?;
    let secrets: Arc<dyn SecretStore> = match config.secrets_backend {
        SecretsBackend::Aws => Arc::new(AwsSecretStore::new(
            common::aws::secrets_manager(sdk),
            config.secret_cache_ttl,
        )),
        SecretsBackend::Env => Arc::new(EnvSecretStore),
    };
    let cursor_keys = CursorKeys::load(&config.common.cursor_keys, secrets.clone()).await?;
    let store = Arc::new(DynamoProviderStore::new(
        dynamodb.clone(),
        &config.common.table_prefix,
        &cursor_keys,
    ));
    let health = Health::new(vec![Arc::new(DynamoTablesCheck {
        client: dynamodb,
        tables: store.table_names(),
    })]);
    let metrics = Arc::new(Metrics::new());
    let service_metrics = ServiceMetrics::register(&metrics)?;
    let sync = SyncJob::new(
        store.clone(),
        service_metrics.clone(),
        config.sync_deadline,
        &config.tenants,
    )
    .map_err(anyhow::Error::msg)?;
    let definitions = definitions::load(config.definitions_dir.as_deref())
        .map_err(|errors| anyhow::anyhow!(definitions_refused(&errors)))?;
    let registry = integrations::registry(
        &definitions,
        &Dependencies {
            providers: store,
            sync: sync.clone(),
            cursor_keys: cursor_keys.clone(),
        },
    )?;
    let upstreams = connect_tenants(config, &registry, secrets, &service_metrics)?;
    Ok(Parts {
        cursor_keys,
        registry,
        upstreams,
        service_metrics,
        sync,
        health,
        metrics,
    })
}

/// Builds the HTTP application (its one background task re-reads the cursor keys; the
/// sync runs as a command).
pub async fn build(config: &Config, sdk: &SdkConfig) -> anyhow::Result<Application> {
    let oidc = config
        .oidc
        .clone()
        .context("OIDC_ISSUER_URL is required to serve (callers authenticate with its tokens)")?;
    let parts = parts(config, sdk).await?;
    let spec = routes::spec(&parts.registry, config.default_tenant.is_some(), &oidc);
    let state = AppState {
        registry: Arc::new(parts.registry),
        tenants: Arc::new(config.tenants.clone()),
        default_tenant: config.default_tenant.clone(),
        upstreams: Arc::new(parts.upstreams),
        metrics: parts.service_metrics,
        call_deadline: config.upstream.deadline,
        verifier: Arc::new(OidcVerifier::new(
            oidc,
            common::http_client::client(std::time::Duration::from_secs(5)),
        )),
    };
    let app = App {
        api: routes::router(state),
        spec,
        health: parts.health,
        metrics: parts.metrics,
    };
    let keys = parts.cursor_keys;
    Ok(Application::new(app.into_service(&config.common))
        .with_background(move |stop| keys.refresh_every(Duration::from_secs(300), stop)))
}

/// The one-shot sync (CronJob): every tenant with the providers integration, or only
/// `only_tenant`. Returns the runs; the caller exits non-zero when any failed.
pub async fn sync_providers(
    config: &Config,
    sdk: &SdkConfig,
    only_tenant: Option<&str>,
) -> anyhow::Result<Vec<SyncRun>> {
    let parts = parts(config, sdk).await?;
    let integration = "providers";
    let tenants = match only_tenant {
        Some(tenant) => vec![tenant.to_owned()],
        None => parts.upstreams.tenants_of(integration),
    };
    anyhow::ensure!(
        !tenants.is_empty(),
        "no tenant has the providers integration configured"
    );
    let mut runs = Vec::new();
    for tenant in tenants {
        let upstream = parts
            .upstreams
            .get(&tenant, integration)
            .with_context(|| format!("tenant {tenant} has no providers integration configured"))?;
        let run = parts.sync.start(&tenant).await?;
        runs.push(parts.sync.finish(run, &upstream).await?);
    }
    Ok(runs)
}

/// True when every run got its data (partial runs stored what was valid).
pub fn all_succeeded(runs: &[SyncRun]) -> bool {
    runs.iter().all(|run| run.status != RunStatus::Failed)
}
