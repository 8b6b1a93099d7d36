//! The service's configuration, read once from the environment at start.
use std::num::NonZeroU32;
use std::time::Duration;

use common::auth::OidcSettings;
use common::client_address::ClientAddressSettings;
use common::config::{CommonConfig, ConfigError, Env};

/// Argon2id cost. The default keeps OWASP's memory (19 MiB, 1 lane: four hashes at once fit
/// a 128 MiB pod) with 8 passes instead of its minimum 2, so one hash costs ~60 ms of CPU
/// on the benchmark machine's cores (target 50-100 ms; docs/performance.md). Retune the
/// passes for other hardware with `bench/run.sh`, which measures it.
#[derive(Debug, Clone, Copy)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl HashCost {
    /// The cost when the environment sets none.
    pub const DEFAULT: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 8,
        parallelism: 1,
    };
}

/// Where the first admin's password comes from.
#[derive(Debug, Clone)]
pub enum AdminPassword {
    /// Straight from an env var (dev only).
    Plain(common::secrets::Secret),
    /// A Secrets Manager secret id (production).
    SecretId(String),
}

#[derive(Debug, Clone)]
pub struct Admin {
    pub username: String,
    pub password: AdminPassword,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub avatar_bucket: String,
    pub avatar_max_bytes: usize,
    pub avatar_public_base_url: Option<String>,
    pub avatar_url_ttl: Duration,
    pub session_ttl: Duration,
    /// How long an authenticated session is reused without reading the stores again
    /// (another replica's revocation is seen within it); zero reads on every request.
    pub session_cache_ttl: Duration,
    pub hash_cost: HashCost,
    pub admin: Option<Admin>,
    pub abuse_limits: AbuseLimits,
    /// `GET /users` without a session, as the service this one replaces served it.
    pub directory_public: bool,
    /// Who may name the client's address (`TRUSTED_PROXY_CIDRS`, `TRUSTED_FORWARDER_CLIENTS`).
    pub client_addresses: ClientAddressSettings,
    /// The OIDC issuer whose tokens this service accepts (forwarders'), when
    /// `OIDC_ISSUER_URL` is set; `OIDC_AUDIENCE` defaults to `api://users`.
    pub oidc: Option<OidcSettings>,
}

/// Attempts allowed per minute (each also the burst), per replica.
#[derive(Debug, Clone, Copy)]
pub struct AbuseLimits {
    /// Logins for one username from one address: guessing is slowed without locking the
    /// owner out from another address.
    pub login_per_username: NonZeroU32,
    pub login_per_address: NonZeroU32,
    pub signup_per_address: NonZeroU32,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(Env::new())
    }

    /// The config in `env`, every problem reported at once (`Env::empty()` names every
    /// setting a start needs, for `--help`).
    pub fn read(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env);
        let admin_username: Option<String> = env.optional("ADMIN_USERNAME");
        let admin_password: Option<String> = env.optional("ADMIN_PASSWORD");
        let admin_secret: Option<String> = env.optional("ADMIN_PASSWORD_SECRET_ID");
        let admin = match (admin_username, admin_password, admin_secret) {
            (None, None, None) => None,
            (Some(username), _, Some(secret_id)) => Some(Admin {
                username,
                password: AdminPassword::SecretId(secret_id),
            }),
            (Some(username), Some(password), None) => Some(Admin {
                username,
                password: AdminPassword::Plain(common::secrets::Secret::new(password)),
            }),
            _ => {
                env.invalid("ADMIN_USERNAME needs ADMIN_PASSWORD_SECRET_ID (or ADMIN_PASSWORD in dev), and they need it");
                None
            }
        };
        let config = Self {
            common,
            avatar_bucket: env.required("AVATAR_BUCKET").unwrap_or_default(),
            avatar_max_bytes: env.or("AVATAR_MAX_BYTES", 5 * 1024 * 1024),
            avatar_public_base_url: env.optional("AVATAR_PUBLIC_BASE_URL"),
            avatar_url_ttl: env.seconds_or("AVATAR_URL_TTL_SECONDS", Duration::from_secs(3600)),
            session_ttl: env.seconds_or("SESSION_TTL_SECONDS", Duration::from_secs(24 * 3600)),
            session_cache_ttl: env.seconds_or("SESSION_CACHE_TTL_SECONDS", Duration::from_secs(5)),
            hash_cost: HashCost {
                memory_kib: env.or("PASSWORD_HASH_MEMORY_KIB", HashCost::DEFAULT.memory_kib),
                iterations: env.or("PASSWORD_HASH_ITERATIONS", HashCost::DEFAULT.iterations),
                parallelism: env.or("PASSWORD_HASH_PARALLELISM", HashCost::DEFAULT.parallelism),
            },
            admin,
            abuse_limits: AbuseLimits {
                login_per_username: env.or(
                    "LOGIN_ATTEMPTS_PER_USERNAME_PER_MINUTE",
                    NonZeroU32::new(10).expect("not zero"),
                ),
                login_per_address: env.or(
                    "LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE",
                    NonZeroU32::new(60).expect("not zero"),
                ),
                signup_per_address: env.or(
                    "SIGNUPS_PER_ADDRESS_PER_MINUTE",
                    NonZeroU32::new(10).expect("not zero"),
                ),
            },
            directory_public: env.flag_or("USER_DIRECTORY_PUBLIC", false),
            client_addresses: ClientAddressSettings::read(&mut env),
            oidc: OidcSettings::read_optional(&mut env, "api://users"),
        };
        env.finish()?;
        Ok(config)
    }
}
