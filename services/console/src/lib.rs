//! console: the web console for people. Account holders sign up, log in and manage their
//! account; operators sign in through the OpenID Connect issuer and run the platform
//! (provider syncs, orders and their SMS, tenants and their Okta users, accounts). It is a
//! backend-for-frontend: server-rendered HTML (askama) with htmx as an enhancement, a client
//! of the three services' public APIs, holding people's tokens server-side.
//!
//! # Layout
//!
//! - [`routes`]: the pages, one module per area (`public`: start, sign-up, log-in;
//!   `account`: my account; `ops`: operator sign-in and pages). Every page works without
//!   JavaScript: each control is a real link or form first.
//! - [`page`]: how a page reaches the browser: the layout context, rendering, notices,
//!   redirects, times; it knows nothing of sessions or services.
//! - [`web`]: the extractors that say who is asking (`Visitor`, `AccountHolder`,
//!   `Operator`), with the credentials to call a service for them.
//! - [`upstream`]: calls to the services (`Service`: which one), their problems, the
//!   forwarded address; [`readiness`]: the services' `/readyz`, watched in the background.
//! - [`oidc`]: the operator sign-in (authorization code + PKCE, one token per audience) and
//!   the console's own forwarder tokens.
//! - [`session`]: the server-side sessions: `__Host-` cookie, hashed id, sealed contents,
//!   the console's one DynamoDB table.
//! - [`security`]: CSRF (Fetch Metadata / `Origin`) and the CSP; [`assets`]: the vendored
//!   htmx and the stylesheet; [`error`]: `ConsoleError`, the one place a failure becomes a
//!   page.
//! - [`config`], [`state`]; [`build`] assembles the service.
//!
//! A request's path: the skeleton's layers (request id, limits, timeout), the CSP and CSRF
//! layers, a page's extractor (its session from the cookie, 303 to sign in when needed),
//! the handler's calls to the services (one per service it reads), and its template.
pub mod assets;
pub mod config;
pub mod error;
pub mod forms;
pub mod oidc;
pub mod page;
pub mod readiness;
pub mod routes;
pub mod security;
pub mod session;
pub mod state;
pub mod upstream;
pub mod web;

use std::sync::Arc;

use aws_config::SdkConfig;
use common::aws::dynamo::DynamoTablesCheck;
use common::client_address::ClientAddresses;
use common::health::Health;
use common::metrics::Metrics;
use common::server::{App, Application};

use crate::config::{ClientSecret, Config};
use crate::oidc::OidcClient;
use crate::readiness::ReadinessWatch;
use crate::session::SessionStore;
use crate::state::AppState;
use crate::upstream::Upstream;
use common::secrets::{AwsSecretStore, SecretStore};

/// Builds the console against the AWS endpoints in `sdk` (its session table), creating
/// the table when configured to.
pub async fn build(config: &Config, sdk: &SdkConfig) -> anyhow::Result<Application> {
    let dynamodb = common::aws::dynamodb(sdk);
    common::aws::ensure_resources(&config.common, &dynamodb, &session::tables(), None).await?;
    let sessions = SessionStore::new(dynamodb.clone(), &config.common.table_prefix);
    // Ready when its own table answers; the services' readiness is theirs (the overview
    // page shows it), or one slow service would take the console out of the balancer.
    let health = Health::new(vec![Arc::new(DynamoTablesCheck {
        client: dynamodb,
        tables: vec![sessions.table_name()],
    })]);
    let timeout = config.services.timeout;
    let users = Upstream::new("user-service", config.services.users.clone(), timeout);
    let sales = Upstream::new("sales-service", config.services.sales.clone(), timeout);
    let integrations = Upstream::new(
        "integration-service",
        config.services.integrations.clone(),
        timeout,
    );
    let readiness = ReadinessWatch::new(vec![users.clone(), sales.clone(), integrations.clone()]);
    // No verifier: nobody forwards addresses to the console (TRUSTED_FORWARDER_CLIENTS set
    // here stops the start, as it names forwarders the console could not check).
    let client_addresses = ClientAddresses::new(config.client_addresses.clone(), None)?;
    let state = AppState {
        client_addresses,
        config: Arc::new(config.clone()),
        sessions,
        users,
        sales,
        integrations,
        readiness: readiness.clone(),
        oidc: config.operators.clone().map(|settings| {
            // Read from Secrets Manager when the secret is named there, cached five minutes.
            let secrets: Option<Arc<dyn SecretStore>> =
                matches!(settings.client_secret, ClientSecret::SecretId(_)).then(|| {
                    Arc::new(AwsSecretStore::new(
                        common::aws::secrets_manager(sdk),
                        std::time::Duration::from_secs(300),
                    )) as Arc<dyn SecretStore>
                });
            Arc::new(OidcClient::new(
                settings,
                secrets,
                &config.public_url,
                timeout,
            ))
        }),
    };
    let app = App {
        api: routes::router(state),
        spec: routes::spec(),
        health,
        metrics: Arc::new(Metrics::new()),
    };
    Ok(Application::new(app.into_service(&config.common))
        .with_background(|stop| readiness.run(stop)))
}
