use std::time::Duration;

use common::auth::OidcSettings;
use common::config::CommonConfig;
use reqwest::{Method, Response, StatusCode};
use sales_service::config::{
    Config, DeliveryReportsConfig, OutboxConfig, Scopes, SecretSource, SmsConfig,
};
use sales_service::domain::{Currency, Destinations, MessageTemplate};
use serde_json::{json, Value};
use stand_ins::sms::SmsGateway;
use test_support::app::RunningApp;
use test_support::caller::Callers;
use test_support::eventually;
pub use test_support::http::{assert_json, assert_problem};
use test_support::oidc::OidcIssuer;

pub const AUDIENCE: &str = "api://sales";
pub const SMS_USERNAME: &str = "sandbox";
pub const SMS_API_KEY: &str = "test-sms-key";
pub const PHONE: &str = "+254711000001";
/// The delivery-report URL's secret token in tests.
pub const DELIVERY_REPORT_TOKEN: &str = "test-delivery-report-token-0123456789abcdef";
pub const TEMPLATE: &str = "Hi {customer_name}, order {item} {currency} {amount}";

/// One running sales-service, its issuer and SMS provider stand-in, on fresh tables.
pub struct TestApp {
    /// `app.anonymous()`, `app.bearer(token)`, `app.authorized()` (with `token`),
    /// `app.url(path)`, `app.metrics()`, ... (through `Deref`).
    pub callers: Callers,
    pub issuer: OidcIssuer,
    pub sms: SmsGateway,
    pub config: Config,
    /// A token with both scopes: what `authorized()` presents.
    pub token: String,
    /// The emulator directly, to see what the service stored.
    pub dynamodb: aws_sdk_dynamodb::Client,
    _app: RunningApp,
}

/// Test settings: fresh tables, quick outbox polls and retries, short SMS timeouts.
pub fn test_config(issuer: &OidcIssuer, sms: &SmsGateway) -> Config {
    Config {
        common: CommonConfig::for_tests(test_support::emulator::unique_prefix()),
        oidc: OidcSettings {
            issuer: issuer.url().to_owned(),
            audience: AUDIENCE.into(),
            leeway: Duration::ZERO,
            min_jwks_refresh_interval: Duration::from_millis(200),
        },
        scopes: Scopes {
            read: "sales:read".into(),
            write: "sales:write".into(),
        },
        default_currency: Currency::parse("KES").unwrap(),
        idempotency_ttl: Duration::from_secs(3600),
        sms: SmsConfig {
            base_url: sms.url.parse().unwrap(),
            username: SMS_USERNAME.into(),
            api_key: SecretSource::Plain(common::secrets::Secret::new(SMS_API_KEY)),
            sender_id: None,
            template: TEMPLATE.parse::<MessageTemplate>().unwrap(),
            timeout: Duration::from_millis(800),
            destinations: Destinations::default(),
            // Tests that are not about the per-number or per-caller limits send as many as
            // they need.
            max_per_number_per_hour: u32::MAX,
            max_per_caller_per_hour: u32::MAX,
        },
        delivery_reports: DeliveryReportsConfig {
            token: Some(SecretSource::Plain(common::secrets::Secret::new(
                DELIVERY_REPORT_TOKEN,
            ))),
        },
        outbox: OutboxConfig {
            enabled: true,
            poll_interval: Duration::from_millis(100),
            max_attempts: 4,
            retry_base: Duration::from_millis(50),
            retry_max: Duration::from_millis(200),
            lease: Duration::from_secs(3),
            batch_size: 25,
            concurrency: 4,
            backlog_count_max: 1000,
        },
        legacy_list_max_items: 1000,
    }
}

/// The shared issuer, a fresh SMS stand-in, and the app with the default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with the settings adjusted first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let issuer = OidcIssuer::shared().await;
    let sms = SmsGateway::spawn(SMS_USERNAME, SMS_API_KEY).await;
    let mut config = test_config(&issuer, &sms);
    adjust(&mut config);
    start(config, issuer, sms, None).await
}

/// Starts the app with `config` against the emulator (or `endpoint`, e.g. a cuttable proxy).
pub async fn start(
    config: Config,
    issuer: OidcIssuer,
    sms: SmsGateway,
    endpoint: Option<String>,
) -> TestApp {
    let emulator = test_support::emulator::endpoint();
    let sdk = common::aws::load_sdk_config(Some(endpoint.as_deref().unwrap_or(&emulator))).await;
    let application = sales_service::build(&config, &sdk)
        .await
        .expect("app builds");
    let app = test_support::app::spawn(application, &config.common).await;
    let direct = common::aws::load_sdk_config(Some(&emulator)).await;
    let token = issuer.token(AUDIENCE, &["sales:read", "sales:write"]).await;
    TestApp {
        callers: Callers::new(&app.address, Some(token.clone())),
        issuer,
        sms,
        config,
        token,
        dynamodb: common::aws::dynamodb(&direct),
        _app: app,
    }
}

impl std::ops::Deref for TestApp {
    type Target = Callers;

    fn deref(&self) -> &Callers {
        &self.callers
    }
}

impl TestApp {
    /// Another replica on the same tables, issuer and SMS provider.
    pub async fn replica(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = self.config.clone();
        adjust(&mut config);
        start(config, self.issuer.clone(), self.sms.clone(), None).await
    }

    /// `POST path` with `body` sent as written (a JSON literal no serialiser touched).
    pub async fn post_text(&self, path: &str, body: &str) -> Response {
        self.authorized()
            .send(Method::POST, path, "application/json", body.to_owned())
            .await
    }

    /// The order item exactly as stored.
    pub async fn stored_order(
        &self,
        id: &str,
    ) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
        self.dynamodb
            .get_item()
            .table_name(format!("{}orders", self.config.common.table_prefix))
            .key("id", aws_sdk_dynamodb::types::AttributeValue::S(id.into()))
            .send()
            .await
            .unwrap()
            .item
            .expect("the order is stored")
    }

    /// Creates a customer with `phone` and returns it; panics unless that worked.
    pub async fn customer(&self, name: &str, phone: &str) -> Value {
        let response = self
            .authorized()
            .post(
                "/api/v1/sales/customers",
                &json!({"name": name, "phone_number": phone, "email": "buyer@example.com"}),
            )
            .await;
        assert_json(response, StatusCode::CREATED).await
    }

    /// Creates an order for `customer_id` and returns it; panics unless that worked.
    pub async fn order(&self, customer_id: &str, item: &str, amount: &str) -> Value {
        let response = self
            .authorized()
            .post(
                "/api/v1/sales/orders",
                &json!({"customer": customer_id, "item": item, "amount": amount}),
            )
            .await;
        assert_json(response, StatusCode::CREATED).await
    }

    /// The order as the API shows it now.
    pub async fn order_now(&self, id: &str) -> Value {
        assert_json(
            self.authorized()
                .get(&format!("/api/v1/sales/orders/{id}"))
                .await,
            StatusCode::OK,
        )
        .await
    }

    /// Polls the order until its SMS status is `status`; panics after `within`.
    pub async fn wait_for_sms(&self, id: &str, status: &str, within: Duration) -> Value {
        self.wait_for_order(id, within, &format!("SMS {status}"), |order| {
            order["sms"]["status"] == status
        })
        .await
    }

    /// Polls the order until `done` holds for it; panics after `within`, naming `what`.
    pub async fn wait_for_order(
        &self,
        id: &str,
        within: Duration,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        eventually(within, &format!("order {id} {what}"), || async {
            let order = self.order_now(id).await;
            if done(&order) {
                Ok(order)
            } else {
                Err(order)
            }
        })
        .await
    }

    /// Waits until no more SMS can be sent: the outbox is empty and no send is in flight
    /// at the provider, seen twice in a row (a send that lost its claim may just be
    /// starting). Panics after `within`.
    pub async fn wait_until_quiet(&self, within: Duration) {
        let quiet = || async { self.outbox_len().await == 0 && self.sms.in_flight() == 0 };
        eventually(within, "the outbox settled", || async {
            quiet().await && {
                tokio::time::sleep(Duration::from_millis(100)).await;
                quiet().await
            }
        })
        .await
    }

    /// When order `id`'s SMS is next due (Unix ms), as stored in the outbox.
    pub async fn outbox_due_ms(&self, id: &str) -> i64 {
        let item = self
            .dynamodb
            .get_item()
            .table_name(format!("{}sms-outbox", self.config.common.table_prefix))
            .key(
                "order_id",
                aws_sdk_dynamodb::types::AttributeValue::S(id.into()),
            )
            .send()
            .await
            .unwrap()
            .item
            .expect("the SMS waits in the outbox");
        item["next_attempt_at"].as_n().unwrap().parse().unwrap()
    }

    /// How many records wait in the outbox table.
    pub async fn outbox_len(&self) -> usize {
        self.dynamodb
            .scan()
            .table_name(format!("{}sms-outbox", self.config.common.table_prefix))
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default()
            .len()
    }
}
