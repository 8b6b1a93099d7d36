use std::time::Duration;

use common::config::CommonConfig;
use integration_service::config::{Config, SecretsBackend, UpstreamConfig};
use integration_service::tenants::Tenants;
use serde_json::{json, Value};
use test_support::caller::{Caller, Callers};
pub use test_support::http::{assert_json, assert_problem};

use common::auth::OidcSettings;
use test_support::oidc::{OidcIssuer, CLIENT_ID};

pub const AUDIENCE: &str = "api://integrations";
/// The header naming the tenant a call acts for.
pub const TENANT: &str = "X-Tenant-Id";

pub struct TestApp {
    /// `app.anonymous()`, `app.bearer(token)`, `app.authorized()` (with `token`),
    /// `app.url(path)`, `app.metrics()`, ... (through `Deref`).
    pub callers: Callers,
    pub table_prefix: String,
    /// The emulator directly, to see what the service stored.
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub issuer: OidcIssuer,
    /// A token with both scopes: what `authorized()` presents.
    pub token: String,
    _app: test_support::app::RunningApp,
}

impl std::ops::Deref for TestApp {
    type Target = Callers;

    fn deref(&self) -> &Callers {
        &self.callers
    }
}

/// The tenant config with `callers` added where a tenant names none: the issuer's default
/// client (the token `get` and `post` send) may use both scopes. Tests of who may call
/// name their own.
pub fn with_default_callers(mut tenants: Value) -> Value {
    for tenant in tenants
        .as_object_mut()
        .expect("tenants are an object")
        .values_mut()
    {
        tenant
            .as_object_mut()
            .expect("a tenant is an object")
            .entry("callers")
            .or_insert_with(
                || json!({"integrations:read": [CLIENT_ID], "integrations:write": [CLIENT_ID]}),
            );
    }
    tenants
}

/// Test settings: short timeouts and backoff so fault tests take seconds, fresh tables;
/// tenants as [`with_default_callers`] makes them.
pub fn test_config(tenants: Value) -> Config {
    let prefix = test_support::emulator::unique_prefix();
    Config {
        common: CommonConfig::for_tests(prefix),
        tenants: Tenants::parse(&with_default_callers(tenants).to_string())
            .expect("valid tenant config"),
        default_tenant: None,
        secrets_backend: SecretsBackend::Aws,
        secret_cache_ttl: Duration::from_secs(300),
        upstream: UpstreamConfig {
            attempt_timeout: Duration::from_millis(1500),
            deadline: Duration::from_secs(6),
            max_attempts: 3,
            retry_base_delay: Duration::from_millis(20),
            max_concurrency: 4,
            slowdown_below: 0.1,
        },
        definitions_dir: None,
        sync_deadline: Duration::from_secs(20),
        oidc: None,
    }
}

/// A secret name unique to this test run (tests share the emulator).
pub fn secret_name(label: &str) -> String {
    format!("test/{}/{label}", uuid::Uuid::new_v4().simple())
}

pub async fn direct_sdk() -> aws_config::SdkConfig {
    let emulator = test_support::emulator::endpoint();
    common::aws::load_sdk_config(Some(&emulator)).await
}

/// Creates or replaces a secret in the emulator's Secrets Manager.
pub async fn put_secret(name: &str, value: &str) {
    let client = common::aws::secrets_manager(&direct_sdk().await);
    let created = client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await;
    if created.is_err() {
        client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await
            .expect("secret updated");
    }
}

/// The app serving `tenants` (as [`test_config`] takes them) with the default test
/// settings. Every test names its tenants: without one, the service has nothing to call.
pub async fn spawn_app(tenants: Value) -> TestApp {
    spawn_app_with(tenants, |_| {}).await
}

/// Like [`spawn_app`], with the settings adjusted first.
pub async fn spawn_app_with(tenants: Value, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config(tenants);
    adjust(&mut config);
    start(config).await
}

/// Starts the app with exactly `config`, its callers' tokens from the shared issuer.
pub async fn start(mut config: Config) -> TestApp {
    let issuer = OidcIssuer::shared().await;
    config.oidc = Some(OidcSettings {
        leeway: Duration::ZERO,
        ..OidcSettings::new(issuer.url(), AUDIENCE)
    });
    let sdk = direct_sdk().await;
    let application = integration_service::build(&config, &sdk)
        .await
        .expect("app builds");
    let app = test_support::app::spawn(application, &config.common).await;
    let token = issuer
        .token(AUDIENCE, &["integrations:read", "integrations:write"])
        .await;
    TestApp {
        callers: Callers::new(&app.address, Some(token.clone())),
        table_prefix: config.common.table_prefix.clone(),
        dynamodb: common::aws::dynamodb(&sdk),
        token,
        issuer,
        _app: app,
    }
}

impl TestApp {
    /// The usual caller, acting for `tenant` (`X-Tenant-Id`).
    pub fn tenant(&self, tenant: &str) -> Caller {
        self.authorized().header(TENANT, tenant)
    }

    /// Every item of a tenant's partition in `table` (unprefixed name).
    pub async fn items(
        &self,
        table: &str,
        tenant: &str,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        self.dynamodb
            .query()
            .table_name(format!("{}{table}", self.table_prefix))
            .key_condition_expression("tenant_id = :t")
            .expression_attribute_values(
                ":t",
                aws_sdk_dynamodb::types::AttributeValue::S(tenant.into()),
            )
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default()
    }
}

/// Okta orgs `acme` (3 users) and `globex` (2 users), each with its API token stored as
/// a secret, and the tenant configuration that names them.
pub struct TwoOrgs {
    pub acme: stand_ins::okta::OktaOrg,
    pub globex: stand_ins::okta::OktaOrg,
    pub acme_users: Vec<String>,
    pub globex_users: Vec<String>,
    pub tenants: Value,
}

pub async fn two_okta_orgs() -> TwoOrgs {
    let acme = stand_ins::okta::OktaOrg::spawn("acme").await;
    let globex = stand_ins::okta::OktaOrg::spawn("globex").await;
    acme.set_api_token("acme-token");
    globex.set_api_token("globex-token");
    let (acme_users, globex_users) = (acme.add_users(3), globex.add_users(2));
    let (acme_secret, globex_secret) = (secret_name("acme"), secret_name("globex"));
    put_secret(&acme_secret, "acme-token").await;
    put_secret(&globex_secret, "globex-token").await;
    let tenants = serde_json::json!({
        "acme": {"okta": {"base_url": acme.url, "auth": {"method": "api_token"}, "secret": acme_secret}},
        "globex": {"okta": {"base_url": globex.url, "auth": {"method": "api_token"}, "secret": globex_secret}},
    });
    TwoOrgs {
        acme,
        globex,
        acme_users,
        globex_users,
        tenants,
    }
}
