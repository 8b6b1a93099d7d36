use std::num::NonZeroU32;
use std::time::Duration;

use common::config::CommonConfig;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use test_support::caller::Callers;
pub use test_support::http::assert_problem;
use user_service::config::{AbuseLimits, Admin, AdminPassword, Config, HashCost};

pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password-1";
pub const PASSWORD: &str = "correct horse battery";

/// A 1x1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

pub struct TestApp {
    /// `app.anonymous()`, `app.bearer(token)`, `app.url(path)`, ... (through `Deref`).
    pub callers: Callers,
    pub table_prefix: String,
    pub bucket: String,
    /// AWS clients on the emulator directly, to check what the service stored.
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    _app: test_support::app::RunningApp,
}

/// The test configuration: fresh resources, a cheaper (still argon2id) hash cost.
pub fn test_config() -> Config {
    let prefix = test_support::emulator::unique_prefix();
    Config {
        avatar_bucket: format!("{prefix}avatars"),
        common: CommonConfig::for_tests(prefix),
        avatar_max_bytes: 5 * 1024 * 1024,
        avatar_public_base_url: None,
        avatar_url_ttl: Duration::from_secs(600),
        session_ttl: Duration::from_secs(24 * 3600),
        session_cache_ttl: Duration::from_secs(5),
        hash_cost: HashCost {
            memory_kib: 4096,
            iterations: 1,
            parallelism: 1,
        },
        admin: Some(Admin {
            username: ADMIN.into(),
            password: AdminPassword::Plain(common::secrets::Secret::new(ADMIN_PASSWORD)),
        }),
        abuse_limits: AbuseLimits {
            login_per_username: NonZeroU32::new(10).unwrap(),
            login_per_address: NonZeroU32::new(60).unwrap(),
            signup_per_address: NonZeroU32::new(1000).unwrap(),
        },
        directory_public: false,
        client_addresses: Default::default(),
        oidc: None,
    }
}

/// Makes the test client's own address (loopback) a trusted proxy, as the ALB's subnets
/// are in production.
pub fn behind_loopback_proxy(config: &mut Config) {
    config.client_addresses.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
}

/// The app with the default test settings, on fresh resources.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with the settings adjusted first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config();
    adjust(&mut config);
    start(config, None).await
}

/// Starts the app with exactly `config` (a replica shares another's), talking to AWS at
/// `endpoint` (the emulator by default; e.g. a cuttable proxy).
pub async fn start(config: Config, endpoint: Option<String>) -> TestApp {
    let emulator = test_support::emulator::endpoint();
    let sdk = common::aws::load_sdk_config(Some(endpoint.as_deref().unwrap_or(&emulator))).await;
    let application = user_service::build(&config, &sdk)
        .await
        .expect("app builds");
    let app = test_support::app::spawn(application, &config.common).await;
    let direct = common::aws::load_sdk_config(Some(&emulator)).await;
    TestApp {
        callers: Callers::new(&app.address, None),
        table_prefix: config.common.table_prefix.clone(),
        bucket: config.avatar_bucket.clone(),
        dynamodb: common::aws::dynamodb(&direct),
        s3: common::aws::s3(&direct),
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
    pub async fn sign_up(&self, body: Value) -> Response {
        self.anonymous().post("/user", &body).await
    }

    /// Signs up with a multipart form (the only way to send an avatar with the sign-up).
    pub async fn sign_up_multipart(&self, form: reqwest::multipart::Form) -> Response {
        self.client
            .post(self.url("/user"))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Signs up `username` with the standard password; panics unless it worked.
    pub async fn create_user(&self, username: &str) {
        let response = self
            .sign_up(json!({"username": username, "password": PASSWORD, "name": format!("{username} name"), "email": format!("{username}@example.com")}))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.login_via(username, password, &[]).await
    }

    /// Logs in through a proxy chain: `forwarded_for` are the `X-Forwarded-For` lines the
    /// service receives (what the client sent, then what each proxy appended).
    pub async fn login_via(
        &self,
        username: &str,
        password: &str,
        forwarded_for: &[&str],
    ) -> Response {
        let lines: Vec<_> = forwarded_for
            .iter()
            .map(|line| ("x-forwarded-for", *line))
            .collect();
        self.login_with_headers(username, password, &lines).await
    }

    /// Logs in sending `headers` (repeated names are sent as repeated lines).
    pub async fn login_with_headers(
        &self,
        username: &str,
        password: &str,
        headers: &[(&str, &str)],
    ) -> Response {
        let caller = headers
            .iter()
            .fold(self.anonymous(), |caller, (name, value)| {
                caller.header(name, value)
            });
        caller
            .post(
                "/auth",
                &json!({"username": username, "password": password}),
            )
            .await
    }

    /// A session token for `username`; panics unless login worked.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let response = self.login(username, password).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates `username` and returns a session token for it.
    pub async fn user_with_token(&self, username: &str) -> String {
        self.create_user(username).await;
        self.token(username, PASSWORD).await
    }

    pub async fn admin_token(&self) -> String {
        self.token(ADMIN, ADMIN_PASSWORD).await
    }

    /// The user item exactly as stored.
    pub async fn stored_user(
        &self,
        username: &str,
    ) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(format!("{}users", self.table_prefix))
            .key(
                "username",
                aws_sdk_dynamodb::types::AttributeValue::S(username.into()),
            )
            .send()
            .await
            .unwrap()
            .item
    }

    pub async fn avatar_exists(&self, key: &str) -> bool {
        self.s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .is_ok()
    }
}
