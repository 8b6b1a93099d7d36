//! The console's configuration, read once from the environment at start.
use std::time::Duration;

use common::client_address::ClientAddressSettings;
use common::config::{CommonConfig, ConfigError, Env};
use common::secrets::Secret;
use url::Url;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// The console's own address as browsers reach it (`PUBLIC_URL`): the origin unsafe
    /// requests must come from, and the base of the operator sign-in's redirect URI.
    pub public_url: Url,
    pub services: Services,
    /// Operator sign-in; `None` without `OIDC_ISSUER_URL` (operator pages then say so).
    pub operators: Option<OperatorSignIn>,
    /// A signed-in person's session lasts at most this long (an account holder's also ends
    /// with its user-service token).
    pub session_ttl: Duration,
    /// Proxies in front of the console whose `X-Forwarded-For` entries are believed
    /// (`TRUSTED_PROXY_CIDRS`, read as the services read it: `common::client_address`).
    pub client_addresses: ClientAddressSettings,
    /// Origins images may come from besides the console (`IMAGE_ORIGINS`): where avatars'
    /// presigned URLs point (the S3 bucket's endpoint).
    pub image_origins: Vec<String>,
}

/// The three services the console is a client of, by their public APIs.
#[derive(Debug, Clone)]
pub struct Services {
    pub users: Url,
    pub sales: Url,
    pub integrations: Url,
    /// One call to a service, connect to last byte.
    pub timeout: Duration,
}

/// The OpenID Connect client the console is for operators (authorization code + PKCE).
#[derive(Debug, Clone)]
pub struct OperatorSignIn {
    pub issuer: Url,
    pub client_id: String,
    pub client_secret: ClientSecret,
    /// Scopes asked for besides each API's own (`openid` is always asked for).
    pub scopes: Vec<String>,
    pub audiences: Audiences,
    /// The ID token claim that carries operator rights, and the value that grants them
    /// (`groups` containing `platform-operators`; a string claim must equal it).
    pub operator_claim: String,
    pub operator_value: String,
}

/// Where the console's client secret comes from.
#[derive(Debug, Clone)]
pub enum ClientSecret {
    /// A Secrets Manager secret id (production): read when needed, cached, read again after
    /// the issuer refuses it, so a rotated secret is picked up without a restart.
    SecretId(String),
    /// Straight from the environment (development).
    Plain(Secret),
}

/// The access-token audience (RFC 8707 resource) of each service.
#[derive(Debug, Clone)]
pub struct Audiences {
    pub users: String,
    pub sales: String,
    pub integrations: String,
}

/// The variables `--help` lists: name, default (or "required"), meaning.
pub const SETTINGS: &[(&str, &str, &str)] = &[
    (
        "PUBLIC_URL",
        "http://127.0.0.1:8080",
        "the console's address as browsers reach it",
    ),
    ("USER_SERVICE_URL", "required", "user-service's base URL"),
    ("SALES_SERVICE_URL", "required", "sales-service's base URL"),
    (
        "INTEGRATION_SERVICE_URL",
        "required",
        "integration-service's base URL",
    ),
    ("UPSTREAM_TIMEOUT_SECONDS", "10", "one call to a service"),
    (
        "OIDC_ISSUER_URL",
        "unset: no operator sign-in",
        "the operators' OpenID Connect issuer",
    ),
    (
        "OIDC_CLIENT_ID",
        "console",
        "the console's client id at the issuer",
    ),
    (
        "OIDC_CLIENT_SECRET",
        "required with OIDC_ISSUER_URL",
        "its client secret",
    ),
    (
        "OIDC_SCOPES",
        "openid profile groups",
        "scopes asked for besides each API's own",
    ),
    (
        "USERS_AUDIENCE / SALES_AUDIENCE / INTEGRATIONS_AUDIENCE",
        "api://users / api://sales / api://integrations",
        "each API's token audience",
    ),
    (
        "OPERATOR_CLAIM",
        "groups",
        "the ID token claim that grants operator rights",
    ),
    (
        "OPERATOR_CLAIM_VALUE",
        "platform-operators",
        "the value of that claim that does",
    ),
    (
        "SESSION_TTL_SECONDS",
        "28800",
        "longest life of a console session",
    ),
    (
        "TRUSTED_PROXY_CIDRS",
        "none",
        "proxies (CIDRs) in front whose X-Forwarded-For is believed",
    ),
    (
        "IMAGE_ORIGINS",
        "none",
        "origins avatars load from (space-separated)",
    ),
    (
        "TABLE_PREFIX, BIND_ADDR (0.0.0.0:8080), LOG_FORMAT, ...",
        "",
        "as every service (docs/services)",
    ),
];

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut env = Env::new();
        let common = CommonConfig::read(&mut env);
        let public_url: Url = env.or(
            "PUBLIC_URL",
            Url::parse("http://127.0.0.1:8080").expect("valid URL"),
        );
        let services = Services {
            users: http_url(&mut env, "USER_SERVICE_URL"),
            sales: http_url(&mut env, "SALES_SERVICE_URL"),
            integrations: http_url(&mut env, "INTEGRATION_SERVICE_URL"),
            timeout: env.seconds_or("UPSTREAM_TIMEOUT_SECONDS", Duration::from_secs(10)),
        };
        let operators = env
            .optional::<Url>("OIDC_ISSUER_URL")
            .map(|issuer| OperatorSignIn {
                issuer,
                client_id: env.or("OIDC_CLIENT_ID", "console".to_owned()),
                client_secret: ClientSecret::Plain(Secret::new("")),
                scopes: env
                    .or("OIDC_SCOPES", "openid profile groups".to_owned())
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                audiences: Audiences {
                    users: env.or("USERS_AUDIENCE", "api://users".to_owned()),
                    sales: env.or("SALES_AUDIENCE", "api://sales".to_owned()),
                    integrations: env.or("INTEGRATIONS_AUDIENCE", "api://integrations".to_owned()),
                },
                operator_claim: env.or("OPERATOR_CLAIM", "groups".to_owned()),
                operator_value: env.or("OPERATOR_CLAIM_VALUE", "platform-operators".to_owned()),
            });
        let client_secret = match (
            env.optional::<String>("OIDC_CLIENT_SECRET_ID"),
            env.optional::<String>("OIDC_CLIENT_SECRET"),
        ) {
            (Some(id), None) => Some(ClientSecret::SecretId(id)),
            (None, Some(secret)) => Some(ClientSecret::Plain(Secret::new(secret))),
            _ => None,
        };
        let operators = match (operators, client_secret) {
            (Some(operators), Some(client_secret)) => Some(OperatorSignIn {
                client_secret,
                ..operators
            }),
            (Some(operators), None) => {
                env.invalid("with OIDC_ISSUER_URL, set one of OIDC_CLIENT_SECRET_ID (production: a Secrets Manager secret id) or OIDC_CLIENT_SECRET (development)");
                Some(operators)
            }
            (None, _) => None,
        };
        let config = Self {
            common,
            public_url: public_url.clone(),
            services,
            operators,
            session_ttl: env.seconds_or("SESSION_TTL_SECONDS", Duration::from_secs(8 * 3600)),
            client_addresses: ClientAddressSettings::read(&mut env),
            image_origins: env
                .or("IMAGE_ORIGINS", String::new())
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        };
        if !matches!(public_url.scheme(), "http" | "https") || public_url.path() != "/" {
            env.invalid(format!(
                "PUBLIC_URL: `{public_url}` must be an http(s) origin without a path"
            ));
        }
        for origin in &config.image_origins {
            if Url::parse(origin).map_or(true, |url| url.origin().ascii_serialization() != *origin)
            {
                env.invalid(format!(
                    "IMAGE_ORIGINS: `{origin}` is not an origin (scheme://host[:port])"
                ));
            }
        }
        if config.session_ttl < Duration::from_secs(60) {
            env.invalid("SESSION_TTL_SECONDS must be at least 60");
        }
        env.finish()?;
        Ok(config)
    }
}

/// A required http(s) base URL.
fn http_url(env: &mut Env, name: &str) -> Url {
    let fallback = Url::parse("http://invalid.invalid").expect("valid URL");
    match env.required::<Url>(name) {
        Some(url) if matches!(url.scheme(), "http" | "https") => url,
        Some(url) => {
            env.invalid(format!("{name}: `{url}` is not an http(s) URL"));
            fallback
        }
        None => fallback,
    }
}
