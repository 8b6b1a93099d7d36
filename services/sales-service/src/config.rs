//! The service's configuration, read once from the environment at start.
use std::time::Duration;

use common::auth::OidcSettings;
use common::config::{CommonConfig, ConfigError, Env};
use common::secrets::Secret;
use url::Url;

use crate::domain::{Currency, Destinations, MessageTemplate};
/// Settings name their secrets with it; it lives beside the value it is read into.
pub use crate::secret::SecretSource;
use crate::sms::africastalking;

/// The shortest delivery-report token accepted: a guessable one would let anyone mark SMS
/// delivered or failed.
pub const MIN_REPORT_TOKEN: usize = 32;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub oidc: OidcSettings,
    pub scopes: Scopes,
    pub default_currency: Currency,
    /// How long a stored `Idempotency-Key` answers retries.
    pub idempotency_ttl: Duration,
    pub sms: SmsConfig,
    pub delivery_reports: DeliveryReportsConfig,
    pub outbox: OutboxConfig,
    /// Records in one answer of the legacy (`/ap1/...`) listings, which return every
    /// record as a bare array; beyond it a `Link: rel="next"` header names the rest.
    pub legacy_list_max_items: usize,
}

/// Scope names the routes require (Okta authorization servers name them per API).
#[derive(Debug, Clone)]
pub struct Scopes {
    pub read: String,
    pub write: String,
}

/// Africa's Talking messaging API.
#[derive(Debug, Clone)]
pub struct SmsConfig {
    /// `https://api.sandbox.africastalking.com` for the username `sandbox`, else
    /// `https://api.africastalking.com`, as Africa's Talking's SDKs choose; overridden by
    /// `AFRICASTALKING_BASE_URL` (a stand-in), never to the other host.
    pub base_url: Url,
    pub username: String,
    pub api_key: SecretSource,
    /// A registered sender id or short code; the provider's default when unset.
    pub sender_id: Option<String>,
    pub template: MessageTemplate,
    /// One send attempt, connect to last byte.
    pub timeout: Duration,
    /// The country calling codes SMS may go to; customers' numbers must be of them.
    pub destinations: Destinations,
    /// SMS per number per clock hour, across replicas; an SMS over it fails unsent.
    pub max_per_number_per_hour: u32,
    /// SMS per caller (OIDC client; client and person for an operator) per clock hour,
    /// across replicas; an order's SMS over it fails unsent.
    pub max_per_caller_per_hour: u32,
}

/// Africa's Talking's delivery reports (`POST /api/v1/sales/sms/delivery-reports/{token}`).
#[derive(Debug, Clone)]
pub struct DeliveryReportsConfig {
    /// The secret path token the callback URL registered with Africa's Talking carries
    /// (reports carry no signature); `None`: the route refuses every report (404).
    pub token: Option<SecretSource>,
}

/// The outbox dispatcher that sends the SMS of new orders.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// Run the dispatcher in this process (every replica may: records are claimed).
    pub enabled: bool,
    /// How often the outbox is checked when no local order woke the dispatcher.
    pub poll_interval: Duration,
    /// Attempts per SMS, the first included; then it is marked failed.
    pub max_attempts: u32,
    /// First retry delay (doubles per attempt, full jitter) and the largest delay.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How long a claimed record is reserved for its dispatcher. Longer than a send
    /// attempt can take, so a slow send is not claimed (and sent) twice.
    pub lease: Duration,
    /// Records claimed per pass, and sends in flight at once.
    pub batch_size: usize,
    pub concurrency: usize,
    /// The backlog is counted up to this many (a count reads what it counts): the gauge
    /// and the backlog route say "this many or more" beyond it.
    pub backlog_count_max: u64,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(Env::new())
    }

    /// The config in `env`, every problem reported at once (`Env::empty()` names every
    /// setting a start needs, for `--help`).
    pub fn read(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env);
        let oidc = OidcSettings::read(&mut env, "api://sales");
        let api_key = SecretSource::read(&mut env, "AFRICASTALKING_API_KEY").unwrap_or_else(|| {
            env.invalid("set one of AFRICASTALKING_API_KEY_SECRET_ID (production) or AFRICASTALKING_API_KEY (development)");
            SecretSource::Plain(Secret::new(""))
        });
        let report_token = SecretSource::read(&mut env, "SMS_DELIVERY_REPORT_TOKEN");
        if let Some(SecretSource::Plain(token)) = &report_token {
            if token.expose().len() < MIN_REPORT_TOKEN {
                env.invalid(format!(
                    "SMS_DELIVERY_REPORT_TOKEN must be at least {MIN_REPORT_TOKEN} characters (e.g. `openssl rand -hex 32`)"
                ));
            }
        }
        let username: String = env.or("AFRICASTALKING_USERNAME", "sandbox".to_owned());
        let base_url = africastalking::base_url(
            &username,
            env.optional::<Url>("AFRICASTALKING_BASE_URL").as_ref(),
        )
        .unwrap_or_else(|why| {
            env.invalid(why);
            Url::parse("https://invalid.example").expect("a valid URL")
        });
        let sms_timeout = env.seconds_or("SMS_TIMEOUT_SECONDS", Duration::from_secs(10));
        let lease = env.seconds_or("OUTBOX_LEASE_SECONDS", Duration::from_secs(60));
        if lease <= sms_timeout * 2 {
            env.invalid("OUTBOX_LEASE_SECONDS must be more than twice SMS_TIMEOUT_SECONDS, or a slow send could be claimed and sent again");
        }
        let config = Self {
            common,
            oidc,
            scopes: Scopes {
                read: env.or("SCOPE_READ", "sales:read".to_owned()),
                write: env.or("SCOPE_WRITE", "sales:write".to_owned()),
            },
            default_currency: env.or("DEFAULT_CURRENCY", Currency::parse("KES").expect("valid")),
            idempotency_ttl: env
                .seconds_or("IDEMPOTENCY_TTL_SECONDS", Duration::from_secs(24 * 3600)),
            sms: SmsConfig {
                base_url,
                username,
                api_key,
                sender_id: env.optional("AFRICASTALKING_SENDER_ID"),
                template: env.or(
                    "SMS_TEMPLATE",
                    MessageTemplate::DEFAULT
                        .parse()
                        .expect("the default template is valid"),
                ),
                timeout: sms_timeout,
                destinations: env.or("SMS_ALLOWED_COUNTRY_CODES", Destinations::default()),
                max_per_number_per_hour: env.or("SMS_MAX_PER_NUMBER_PER_HOUR", 10),
                max_per_caller_per_hour: env.or("SMS_MAX_PER_CALLER_PER_HOUR", 1000),
            },
            delivery_reports: DeliveryReportsConfig {
                token: report_token,
            },
            outbox: OutboxConfig {
                enabled: env.flag_or("OUTBOX_DISPATCHER_ENABLED", true),
                poll_interval: env.seconds_or("OUTBOX_POLL_SECONDS", Duration::from_secs(1)),
                max_attempts: env.or("SMS_MAX_ATTEMPTS", 12),
                retry_base: env.seconds_or("SMS_RETRY_BASE_SECONDS", Duration::from_secs(2)),
                retry_max: env.seconds_or("SMS_RETRY_MAX_SECONDS", Duration::from_secs(600)),
                lease,
                batch_size: env.or("OUTBOX_BATCH_SIZE", 25),
                concurrency: env.or("OUTBOX_CONCURRENCY", 4),
                backlog_count_max: env.or("OUTBOX_BACKLOG_COUNT_MAX", 1000),
            },
            legacy_list_max_items: env.or("LEGACY_LIST_MAX_ITEMS", 1000),
        };
        if config.outbox.max_attempts == 0
            || config.outbox.batch_size == 0
            || config.outbox.concurrency == 0
            || config.outbox.backlog_count_max == 0
            || config.legacy_list_max_items == 0
            || config.sms.max_per_number_per_hour == 0
            || config.sms.max_per_caller_per_hour == 0
        {
            env.invalid(
                "SMS_MAX_ATTEMPTS, OUTBOX_BATCH_SIZE, OUTBOX_CONCURRENCY, OUTBOX_BACKLOG_COUNT_MAX, LEGACY_LIST_MAX_ITEMS, SMS_MAX_PER_NUMBER_PER_HOUR and SMS_MAX_PER_CALLER_PER_HOUR must be at least 1",
            );
        }
        env.finish()?;
        Ok(config)
    }
}
