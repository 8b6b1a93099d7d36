//! Configuration from the environment, read once at start into typed structs.
//!
//! Each service has one `Config` struct built with [`Env`], which collects every
//! problem (missing variable, unparsable value) so a misconfigured pod reports all of
//! them at once instead of one per restart.

use std::fmt::Display;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use crate::aws::timeouts::AwsTimeouts;
use crate::health::ReadinessPolicy;
use crate::paging::{CursorKeySource, CursorKeys};
use crate::secrets::Secret;

/// Reads variables and remembers what was wrong with them.
#[derive(Debug, Default)]
pub struct Env {
    errors: Vec<String>,
    /// Read nothing: what a start without any settings would report (`--help`).
    empty: bool,
}

impl Env {
    /// The process's environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// An environment with nothing set: reading a config from it names every setting a
    /// start needs (`<service> --help` lists them, so the list cannot drift from the code).
    pub fn empty() -> Self {
        Self {
            empty: true,
            ..Self::default()
        }
    }

    fn raw(&self, name: &str) -> Option<String> {
        if self.empty {
            return None;
        }
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }

    /// A variable that must be set.
    pub fn required<T: FromStr>(&mut self, name: &str) -> Option<T>
    where
        T::Err: Display,
    {
        match self.raw(name) {
            Some(raw) => self.parse(name, &raw),
            None => {
                self.errors.push(format!("{name} is required"));
                None
            }
        }
    }

    /// A variable that may be absent.
    pub fn optional<T: FromStr>(&mut self, name: &str) -> Option<T>
    where
        T::Err: Display,
    {
        self.raw(name).and_then(|raw| self.parse(name, &raw))
    }

    /// A variable with a default used when it is absent (but not when it is malformed).
    pub fn or<T: FromStr>(&mut self, name: &str, default: T) -> T
    where
        T::Err: Display,
    {
        match self.raw(name) {
            Some(raw) => self.parse(name, &raw).unwrap_or(default),
            None => default,
        }
    }

    /// A duration given in (possibly fractional) seconds, e.g. `0.5` or `30`.
    pub fn seconds_or(&mut self, name: &str, default: Duration) -> Duration {
        let Some(raw) = self.raw(name) else {
            return default;
        };
        match raw.parse::<f64>() {
            Ok(secs) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs),
            _ => {
                self.errors
                    .push(format!("{name}: `{raw}` is not a number of seconds"));
                default
            }
        }
    }

    /// `true`/`false`/`1`/`0`/`yes`/`no`.
    pub fn flag_or(&mut self, name: &str, default: bool) -> bool {
        let Some(raw) = self.raw(name) else {
            return default;
        };
        match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => {
                self.errors
                    .push(format!("{name}: `{raw}` is not a boolean"));
                default
            }
        }
    }

    fn parse<T: FromStr>(&mut self, name: &str, raw: &str) -> Option<T>
    where
        T::Err: Display,
    {
        match raw.trim().parse() {
            Ok(value) => Some(value),
            Err(err) => {
                self.errors.push(format!("{name}: {err}"));
                None
            }
        }
    }

    /// Records a problem found while combining variables.
    pub fn invalid(&mut self, message: impl Into<String>) {
        self.errors.push(message.into());
    }

    /// Ends reading: every problem found, or nothing.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(self.errors))
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", .0.join("; "))]
pub struct ConfigError(pub Vec<String>);

/// Log output: JSON lines for machines (default), or human-readable for a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "pretty" | "text" => Ok(Self::Pretty),
            other => Err(format!("`{other}` is not one of json, pretty")),
        }
    }
}

/// What every service reads the same way.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    pub bind_addr: SocketAddr,
    pub log_format: LogFormat,
    /// Prepended to every DynamoDB table name: one AWS account can hold several environments,
    /// and every test gets its own tables.
    pub table_prefix: String,
    /// Create tables and buckets at start (emulators and tests); Terraform does it in production.
    pub auto_create_resources: bool,
    /// After SIGTERM, how long `/readyz` answers 503 before the listener closes, so load
    /// balancers stop sending new requests first.
    pub shutdown_drain: Duration,
    /// After the listener closes, how long in-flight requests get to finish.
    pub shutdown_grace: Duration,
    /// Upper bound for one request, end to end.
    pub request_timeout: Duration,
    /// How long the AWS SDK waits for one attempt and for a whole call
    /// (`AWS_ATTEMPT_TIMEOUT_SECONDS`, 4; `AWS_OPERATION_TIMEOUT_SECONDS`, 10).
    pub aws_timeouts: AwsTimeouts,
    /// A connection with no byte either way for this long is closed. Longer than the
    /// ALB's idle timeout (60 s), so the balancer, not the pod, closes idle keep-alives.
    pub idle_connection_timeout: Duration,
    /// A request head (request line and headers) must arrive within this long once the
    /// connection waits for one: a client trickling it a byte at a time is cut off.
    pub header_read_timeout: Duration,
    /// Largest request body accepted by default.
    pub max_body_bytes: usize,
    /// Largest header section (names and values) accepted; larger is a 431.
    pub max_header_bytes: usize,
    /// Requests in the handlers at once; one more is answered 503 (`crate::shedding`).
    pub max_concurrent_requests: usize,
    /// Background readiness checks: `READINESS_INTERVAL_SECONDS` (5),
    /// `READINESS_CHECK_TIMEOUT_SECONDS` (2), `READINESS_UNREADY_AFTER_SECONDS` (30).
    pub readiness: ReadinessPolicy,
    /// The keys page cursors are sealed with (`crate::paging`): `CURSOR_KEYS_SECRET_ID`
    /// (Secrets Manager), or `CURSOR_KEYS` (the list itself, local runs); neither: a key
    /// made at start, for one replica.
    pub cursor_keys: CursorKeySource,
}

impl CommonConfig {
    pub fn read(env: &mut Env) -> Self {
        let cursor_keys = match (
            env.optional::<String>("CURSOR_KEYS_SECRET_ID"),
            env.optional::<String>("CURSOR_KEYS"),
        ) {
            (Some(secret_id), None) => CursorKeySource::SecretsManager(secret_id),
            (None, Some(list)) => {
                let list = Secret::new(list);
                if let Err(problem) = CursorKeys::parse(&list) {
                    env.invalid(problem);
                }
                CursorKeySource::Plain(list)
            }
            (None, None) => CursorKeySource::Ephemeral,
            (Some(_), Some(_)) => {
                env.invalid("CURSOR_KEYS_SECRET_ID and CURSOR_KEYS: set one, not both");
                CursorKeySource::Ephemeral
            }
        };
        let config = Self {
            bind_addr: env.or("BIND_ADDR", SocketAddr::from(([0, 0, 0, 0], 8080))),
            log_format: env.or("LOG_FORMAT", LogFormat::Json),
            table_prefix: env.or("TABLE_PREFIX", String::new()),
            auto_create_resources: env.flag_or("AUTO_CREATE_RESOURCES", false),
            shutdown_drain: env.seconds_or("SHUTDOWN_DRAIN_SECONDS", Duration::from_secs(5)),
            shutdown_grace: env.seconds_or("SHUTDOWN_GRACE_SECONDS", Duration::from_secs(20)),
            request_timeout: env.seconds_or("REQUEST_TIMEOUT_SECONDS", Duration::from_secs(15)),
            aws_timeouts: AwsTimeouts::checked(
                env.seconds_or(
                    "AWS_ATTEMPT_TIMEOUT_SECONDS",
                    AwsTimeouts::default().attempt,
                ),
                env.seconds_or(
                    "AWS_OPERATION_TIMEOUT_SECONDS",
                    AwsTimeouts::default().operation,
                ),
            )
            .unwrap_or_else(|problem| {
                env.invalid(problem);
                AwsTimeouts::default()
            }),
            idle_connection_timeout: env
                .seconds_or("IDLE_CONNECTION_TIMEOUT_SECONDS", Duration::from_secs(75)),
            header_read_timeout: env
                .seconds_or("HEADER_READ_TIMEOUT_SECONDS", Duration::from_secs(10)),
            max_body_bytes: env.or("MAX_BODY_BYTES", 64 * 1024),
            max_header_bytes: env.or("MAX_HEADER_BYTES", 16 * 1024),
            max_concurrent_requests: env.or(
                "MAX_CONCURRENT_REQUESTS",
                crate::shedding::DEFAULT_MAX_CONCURRENT_REQUESTS,
            ),
            readiness: ReadinessPolicy {
                interval: env.seconds_or("READINESS_INTERVAL_SECONDS", Duration::from_secs(5)),
                check_timeout: env
                    .seconds_or("READINESS_CHECK_TIMEOUT_SECONDS", Duration::from_secs(2)),
                unready_after: env
                    .seconds_or("READINESS_UNREADY_AFTER_SECONDS", Duration::from_secs(30)),
            },
            cursor_keys,
        };
        if config.header_read_timeout.is_zero() {
            env.invalid("HEADER_READ_TIMEOUT_SECONDS must be at least 1");
        }
        if config.max_concurrent_requests == 0 {
            env.invalid("MAX_CONCURRENT_REQUESTS must be at least 1");
        }
        config
    }

    /// Settings for tests: any port, no drain, tables under the given prefix.
    pub fn for_tests(table_prefix: impl Into<String>) -> Self {
        Self {
            bind_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log_format: LogFormat::Pretty,
            table_prefix: table_prefix.into(),
            auto_create_resources: true,
            shutdown_drain: Duration::ZERO,
            shutdown_grace: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            aws_timeouts: AwsTimeouts::default(),
            idle_connection_timeout: Duration::from_secs(75),
            header_read_timeout: Duration::from_secs(10),
            max_body_bytes: 64 * 1024,
            max_header_bytes: 16 * 1024,
            max_concurrent_requests: crate::shedding::DEFAULT_MAX_CONCURRENT_REQUESTS,
            // Outages show at once: tests cut dependencies and wait for the 503.
            readiness: ReadinessPolicy {
                interval: Duration::from_millis(50),
                check_timeout: Duration::from_secs(2),
                unready_after: Duration::ZERO,
            },
            // One fixed key: replicas in a test share it, as replicas in AWS share theirs.
            cursor_keys: CursorKeySource::Plain(Secret::new(
                "test:dGVzdC1jdXJzb3Ita2V5LW5vdC1hLXNlY3JldC0hISE",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_problem() {
        std::env::set_var("COMMON_TEST_BAD_NUMBER", "twelve");
        std::env::set_var("COMMON_TEST_BAD_FLAG", "maybe");
        let mut env = Env::new();
        let _: Option<u32> = env.required("COMMON_TEST_MISSING");
        let _: u32 = env.or("COMMON_TEST_BAD_NUMBER", 3);
        let _ = env.flag_or("COMMON_TEST_BAD_FLAG", false);
        let err = env.finish().unwrap_err();
        assert_eq!(err.0.len(), 3, "{err}");
        assert!(err.0[0].contains("COMMON_TEST_MISSING is required"));
        assert!(err.0[1].contains("COMMON_TEST_BAD_NUMBER"));
        assert!(err.0[2].contains("not a boolean"));
    }

    #[test]
    fn defaults_apply_only_when_absent() {
        std::env::set_var("COMMON_TEST_SECS", "0.25");
        let mut env = Env::new();
        assert_eq!(
            env.seconds_or("COMMON_TEST_SECS", Duration::from_secs(9)),
            Duration::from_millis(250)
        );
        assert_eq!(env.or("COMMON_TEST_ABSENT", 7u8), 7);
        env.finish().unwrap();
    }
}
