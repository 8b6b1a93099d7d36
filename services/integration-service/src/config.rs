//! The service's configuration, read once from the environment at start.
use std::time::Duration;

use common::auth::OidcSettings;
use common::config::{CommonConfig, ConfigError, Env};

use crate::tenants::Tenants;
pub use crate::upstream::UpstreamConfig;

/// Where tenant credentials come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsBackend {
    /// AWS Secrets Manager (production; also the emulator).
    Aws,
    /// `SECRET_<NAME>` environment variables (local runs without an emulator).
    Env,
}

impl std::str::FromStr for SecretsBackend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "aws" => Ok(Self::Aws),
            "env" => Ok(Self::Env),
            other => Err(format!("`{other}` is not one of aws, env")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub tenants: Tenants,
    /// The tenant a request without `X-Tenant-Id` acts for (single-tenant deployments,
    /// local runs); one of `tenants`.
    pub default_tenant: Option<String>,
    pub secrets_backend: SecretsBackend,
    pub secret_cache_ttl: Duration,
    pub upstream: UpstreamConfig,
    /// More integration definitions (`*.yaml`) beside the built-in ones.
    pub definitions_dir: Option<std::path::PathBuf>,
    /// Budget of one provider sync run (every attempt of every call).
    pub sync_deadline: Duration,
    /// How callers' access tokens are verified: set when `OIDC_ISSUER_URL` is (serving
    /// needs it; the sync job does not).
    pub oidc: Option<OidcSettings>,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(Env::new())
    }

    /// The config in `env`, every problem reported at once (`Env::empty()` names every
    /// setting a start needs, for `--help`).
    pub fn read(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env);
        let tenants = read_tenants(&mut env);
        let default_tenant: Option<String> = env.optional("DEFAULT_TENANT");
        if let Some(tenant) = &default_tenant {
            if !tenants.contains(tenant) {
                env.invalid(format!(
                    "DEFAULT_TENANT `{tenant}` is not a tenant of TENANTS_FILE/TENANTS_JSON"
                ));
            }
        }
        let upstream = UpstreamConfig {
            attempt_timeout: env.seconds_or("UPSTREAM_TIMEOUT_SECONDS", Duration::from_secs(5)),
            deadline: env.seconds_or("UPSTREAM_DEADLINE_SECONDS", Duration::from_secs(10)),
            max_attempts: env.or("UPSTREAM_MAX_ATTEMPTS", 3),
            retry_base_delay: env
                .seconds_or("UPSTREAM_RETRY_BASE_SECONDS", Duration::from_millis(200)),
            max_concurrency: env.or("TENANT_MAX_CONCURRENCY", 8),
            slowdown_below: env.or("RATE_LIMIT_SLOWDOWN_BELOW", 0.1),
        };
        if upstream.max_attempts == 0 {
            env.invalid("UPSTREAM_MAX_ATTEMPTS must be at least 1");
        }
        if upstream.max_concurrency == 0 {
            env.invalid("TENANT_MAX_CONCURRENCY must be at least 1");
        }
        if !(0.0..1.0).contains(&upstream.slowdown_below) {
            env.invalid("RATE_LIMIT_SLOWDOWN_BELOW must be in [0, 1)");
        }
        if upstream.deadline >= common.request_timeout {
            env.invalid("UPSTREAM_DEADLINE_SECONDS must be below REQUEST_TIMEOUT_SECONDS");
        }
        let config = Self {
            common,
            tenants,
            default_tenant,
            secrets_backend: env.or("SECRETS_BACKEND", SecretsBackend::Aws),
            secret_cache_ttl: env.seconds_or("SECRET_CACHE_TTL_SECONDS", Duration::from_secs(300)),
            upstream,
            definitions_dir: env
                .optional::<String>("INTEGRATION_DEFINITIONS_DIR")
                .map(Into::into),
            sync_deadline: env.seconds_or("SYNC_DEADLINE_SECONDS", Duration::from_secs(120)),
            oidc: env
                .optional::<String>("OIDC_ISSUER_URL")
                .map(|_| OidcSettings::read(&mut env, "api://integrations")),
        };
        env.finish()?;
        Ok(config)
    }
}

/// `TENANTS_JSON` (inline) or `TENANTS_FILE` (a path); exactly one of them.
fn read_tenants(env: &mut Env) -> Tenants {
    let inline: Option<String> = env.optional("TENANTS_JSON");
    let file: Option<String> = env.optional("TENANTS_FILE");
    let json = match (inline, file) {
        (Some(json), None) => json,
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(json) => json,
            Err(error) => {
                env.invalid(format!("TENANTS_FILE {path}: {error}"));
                return Tenants::default();
            }
        },
        (Some(_), Some(_)) => {
            env.invalid("set TENANTS_JSON or TENANTS_FILE, not both");
            return Tenants::default();
        }
        (None, None) => {
            env.invalid("TENANTS_FILE (or TENANTS_JSON) is required");
            return Tenants::default();
        }
    };
    Tenants::parse(&json).unwrap_or_else(|error| {
        env.invalid(error);
        Tenants::default()
    })
}
