//! Tenant configuration: which callers may act for each tenant, which integrations it
//! uses, where their APIs live, how to authenticate, and which secret holds the
//! credentials. Secrets themselves are never in this file; it names them.
//!
//! `callers` lists, per scope, the OIDC client ids (the token's `client_id`, Okta's `cid`,
//! or `azp`) allowed to call for the tenant; every other key is an integration.
//!
//! ```json
//! {
//!   "acme": {
//!     "callers":   { "integrations:read": ["0oa-billing", "0oa-admin-portal"],
//!                    "integrations:write": ["0oa-admin-portal"] },
//!     "okta":      { "base_url": "https://acme.okta.com", "auth": { "method": "api_token" } },
//!     "providers": { "base_url": "https://partner.example", "auth": { "method": "checksum" } }
//!   },
//!   "globex": {
//!     "callers": { "integrations:read": ["0oa-admin-portal"], "integrations:write": [] },
//!     "okta": { "base_url": "https://globex.okta.com",
//!               "auth": { "method": "oauth_private_key_jwt", "client_id": "0oa1", "key_id": "k1",
//!                         "scopes": ["okta.users.read", "okta.users.manage"] },
//!               "secret": "integrations/globex/okta", "max_concurrency": 4, "timeout_seconds": 5 },
//!     "providers": { "base_url": "https://partner.example", "auth": { "method": "checksum" },
//!                    "fields": { "name": "{first_name} {last_name}", "npi": "{npi_number}" } }
//!   }
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use common::auth::Principal;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use url::Url;

/// The scope of read capabilities and the catalogue.
pub const READ_SCOPE: &str = "integrations:read";
/// The scope of write capabilities.
pub const WRITE_SCOPE: &str = "integrations:write";

/// The key of a tenant's caller lists; no integration can have this name.
const CALLERS: &str = "callers";

/// How the service authenticates to a tenant's upstream API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// `Authorization: SSWS <token>`; the secret is the token (or JSON `{"api_token": ...}`).
    ApiToken,
    /// OAuth 2.0 client credentials with a `private_key_jwt` client assertion; the secret is
    /// the RSA private key PEM (or JSON `{"private_key": ...}`).
    OauthPrivateKeyJwt {
        client_id: String,
        /// `kid` of the key registered with the authorization server.
        #[serde(default)]
        key_id: Option<String>,
        scopes: Vec<String>,
        /// Defaults to the integration's (Okta's definition: `<base_url>/oauth2/v1/token`,
        /// the org authorization server).
        #[serde(default)]
        token_url: Option<Url>,
        /// Bind tokens to a key with DPoP proofs (RFC 9449) from the first token request.
        /// Without it, the client switches to DPoP when the token endpoint answers
        /// `invalid_dpop_proof` (one refused request per start).
        #[serde(default)]
        dpop: bool,
    },
    /// OAuth 2.0 client credentials, the client secret sent in the form
    /// (`client_secret_post`, as Microsoft's identity platform takes it); the secret is the
    /// client secret (or JSON `{"client_secret": ...}`).
    OauthClientSecret {
        client_id: String,
        /// Microsoft Graph: `["https://graph.microsoft.com/.default"]`.
        scopes: Vec<String>,
        /// Defaults to the integration's (a template over the tenant's settings).
        #[serde(default)]
        token_url: Option<Url>,
    },
    /// The partner scheme: `GET /auth` yields a token, each call carries
    /// `X-Request-Checksum: hex(sha256(token + path))`. Needs no stored secret.
    Checksum,
}

impl AuthConfig {
    pub fn kind(&self) -> AuthKind {
        match self {
            Self::ApiToken => AuthKind::ApiToken,
            Self::OauthPrivateKeyJwt { .. } => AuthKind::OauthPrivateKeyJwt,
            Self::OauthClientSecret { .. } => AuthKind::OauthClientSecret,
            Self::Checksum => AuthKind::Checksum,
        }
    }
}

/// The auth methods an integration can be configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    ApiToken,
    OauthPrivateKeyJwt,
    OauthClientSecret,
    Checksum,
}

impl AuthKind {
    /// Every method and its name in configuration and definitions.
    pub const ALL: [(Self, &'static str); 4] = [
        (Self::ApiToken, "api_token"),
        (Self::OauthPrivateKeyJwt, "oauth_private_key_jwt"),
        (Self::OauthClientSecret, "oauth_client_secret"),
        (Self::Checksum, "checksum"),
    ];

    /// The method a definition names (`connection.auth`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, known)| *known == name)
            .map(|(kind, _)| *kind)
    }

    /// Its name in configuration and definitions.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(kind, _)| *kind == self)
            .map_or("", |(_, name)| name)
    }

    /// Whether the method gets its tokens from an OAuth token endpoint.
    pub fn is_oauth(self) -> bool {
        matches!(self, Self::OauthPrivateKeyJwt | Self::OauthClientSecret)
    }
}

/// One tenant's settings for one integration: what every integration has, and the
/// integration's own settings, which the integration checks when the service starts (a
/// key it does not take stops the start, as a typo here always has).
#[derive(Debug, Clone, Deserialize)]
pub struct IntegrationSettings {
    pub base_url: Url,
    pub auth: AuthConfig,
    /// Secrets Manager name; defaults to `integrations/<tenant>/<integration>`.
    #[serde(default)]
    pub secret: Option<String>,
    /// Upper bound of concurrent upstream calls for this tenant and integration.
    #[serde(default)]
    pub max_concurrency: Option<usize>,
    /// Per-attempt timeout of upstream calls.
    #[serde(default)]
    pub timeout_seconds: Option<f64>,
    /// The integration's own settings (e.g. the providers' `fields`, a declared list's
    /// `list_all_max`).
    #[serde(flatten)]
    pub own: serde_json::Map<String, serde_json::Value>,
}

impl IntegrationSettings {
    pub fn secret_name(&self, tenant: &str, integration: &str) -> String {
        self.secret
            .clone()
            .unwrap_or_else(|| format!("integrations/{tenant}/{integration}"))
    }

    /// A setting as definitions' templates read it: `base_url` (without a trailing `/`)
    /// or one of the integration's own, as text.
    pub fn setting(&self, name: &str) -> Option<String> {
        if name == "base_url" {
            return Some(self.base_url.as_str().trim_end_matches('/').to_owned());
        }
        match self.own.get(name)? {
            serde_json::Value::String(text) => Some(text.clone()),
            other => Some(other.to_string()),
        }
    }

    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_seconds.map(Duration::from_secs_f64)
    }
}

/// One tenant: who may call for it (scope → client ids), and its integrations by name.
#[derive(Debug, Clone, Default)]
pub struct Tenant {
    pub callers: BTreeMap<String, BTreeSet<String>>,
    pub integrations: BTreeMap<String, IntegrationSettings>,
}

/// A tenant is one JSON object: `callers` (required, so no tenant is open by omission)
/// beside its integrations. Read entry by entry, so an error keeps its path
/// (`acme.okta.auth`).
impl<'de> Deserialize<'de> for Tenant {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TenantVisitor;
        impl<'de> Visitor<'de> for TenantVisitor {
            type Value = Tenant;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of `callers` and integrations")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tenant, A::Error> {
                let mut callers = None;
                let mut integrations = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == CALLERS {
                        callers = Some(map.next_value()?);
                    } else {
                        let settings = map.next_value()?;
                        integrations.insert(key, settings);
                    }
                }
                let callers = callers.ok_or_else(|| {
                    serde::de::Error::custom(
                        "missing `callers`: the OIDC client ids allowed per scope, e.g. \
                         {\"integrations:read\": [\"0oa...\"], \"integrations:write\": []}",
                    )
                })?;
                Ok(Tenant {
                    callers,
                    integrations,
                })
            }
        }
        deserializer.deserialize_map(TenantVisitor)
    }
}

/// A caller whose client id is not listed for the scope in the tenant's `callers`.
#[derive(Debug)]
pub struct Forbidden {
    pub tenant: String,
    pub client: String,
    pub scope: String,
}

/// tenant id → its callers and integrations.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Tenants(pub BTreeMap<String, Tenant>);

impl Tenants {
    pub fn parse(json: &str) -> Result<Self, String> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let tenants: Self = serde_path_to_error::deserialize(de)
            .map_err(|e| format!("tenant config at `{}`: {}", e.path(), e.inner()))?;
        for (tenant, config) in &tenants.0 {
            if !valid_tenant_id(tenant) {
                return Err(format!(
                    "tenant id `{tenant}`: use 1-64 lowercase letters, digits and dashes"
                ));
            }
            for (scope, clients) in &config.callers {
                if ![READ_SCOPE, WRITE_SCOPE].contains(&scope.as_str()) {
                    return Err(format!(
                        "{tenant}.callers: `{scope}` is not a scope of this service ({READ_SCOPE}, {WRITE_SCOPE})"
                    ));
                }
                if clients.iter().any(|client| client.trim().is_empty()) {
                    return Err(format!(
                        "{tenant}.callers.{scope}: a client id must not be empty"
                    ));
                }
            }
            for (name, settings) in &config.integrations {
                if !matches!(settings.base_url.scheme(), "http" | "https") {
                    return Err(format!("{tenant}.{name}.base_url must be http(s)"));
                }
                if settings.max_concurrency == Some(0) {
                    return Err(format!(
                        "{tenant}.{name}.max_concurrency must be at least 1"
                    ));
                }
                if settings
                    .timeout_seconds
                    .is_some_and(|t| !t.is_finite() || t <= 0.0)
                {
                    return Err(format!("{tenant}.{name}.timeout_seconds must be positive"));
                }
            }
        }
        Ok(tenants)
    }

    pub fn get(&self, tenant: &str, integration: &str) -> Option<&IntegrationSettings> {
        self.0.get(tenant)?.integrations.get(integration)
    }

    pub fn contains(&self, tenant: &str) -> bool {
        self.0.contains_key(tenant)
    }

    /// Whether `caller` may use `scope` on `tenant` (already resolved): its client id must
    /// be in the tenant's `callers` for that scope. A 403 naming the tenant otherwise.
    pub fn authorise(
        &self,
        tenant: &str,
        caller: &Principal,
        scope: &str,
    ) -> Result<(), Forbidden> {
        let listed = |client: &str| {
            self.0
                .get(tenant)
                .and_then(|config| config.callers.get(scope))
                .is_some_and(|clients| clients.contains(client))
        };
        match caller.client_id.as_deref() {
            Some(client) if listed(client) => Ok(()),
            client => {
                let client = client.unwrap_or("(none)");
                tracing::warn!(
                    tenant,
                    client,
                    scope,
                    "caller refused: not listed for the tenant"
                );
                Err(Forbidden {
                    tenant: tenant.to_owned(),
                    client: client.to_owned(),
                    scope: scope.to_owned(),
                })
            }
        }
    }

    /// Every (tenant, integration, settings) triple.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &IntegrationSettings)> {
        self.0.iter().flat_map(|(tenant, config)| {
            config
                .integrations
                .iter()
                .map(move |(name, settings)| (tenant.as_str(), name.as_str(), settings))
        })
    }
}

/// Tenant ids appear in secret names, metric labels and table keys: keep them plain.
pub fn valid_tenant_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_auth_method_and_defaults_the_secret_name() {
        let tenants = Tenants::parse(
            r#"{
              "acme": {"callers": {}, "okta": {"base_url": "http://127.0.0.1:9102", "auth": {"method": "api_token"}}},
              "globex": {"callers": {}, "okta": {"base_url": "http://127.0.0.1:9103", "secret": "custom/name",
                          "auth": {"method": "oauth_private_key_jwt", "client_id": "c1", "scopes": ["okta.users.read"]}},
                         "providers": {"base_url": "http://127.0.0.1:9104", "auth": {"method": "checksum"}}}
            }"#,
        )
        .unwrap();
        let acme = tenants.get("acme", "okta").unwrap();
        assert_eq!(acme.auth, AuthConfig::ApiToken);
        assert_eq!(acme.secret_name("acme", "okta"), "integrations/acme/okta");
        let globex = tenants.get("globex", "okta").unwrap();
        assert_eq!(globex.auth.kind(), AuthKind::OauthPrivateKeyJwt);
        assert_eq!(globex.secret_name("globex", "okta"), "custom/name");
        assert_eq!(tenants.iter().count(), 3);
    }

    #[test]
    fn rejects_typos_and_bad_ids_with_the_place() {
        let err = Tenants::parse(
            r#"{"acme": {"callers": {}, "okta": {"base_url": "http://x", "auth": {"method": "magic"}}}}"#,
        )
        .unwrap_err();
        assert!(err.contains("magic"), "{err}");
        let err = Tenants::parse(r#"{"Acme Co": {"callers": {}}}"#).unwrap_err();
        assert!(err.contains("Acme Co"), "{err}");
    }

    #[test]
    fn every_tenant_names_its_callers_per_known_scope() {
        let okta = r#""okta": {"base_url": "http://x", "auth": {"method": "api_token"}}"#;
        let err = Tenants::parse(&format!(r#"{{"acme": {{{okta}}}}}"#)).unwrap_err();
        assert!(err.contains("acme") && err.contains("callers"), "{err}");
        let err =
            Tenants::parse(r#"{"acme": {"callers": {"integrations:admin": ["c1"]}}}"#).unwrap_err();
        assert!(err.contains("integrations:admin"), "{err}");
        let err =
            Tenants::parse(r#"{"acme": {"callers": {"integrations:read": [" "]}}}"#).unwrap_err();
        assert!(err.contains("acme.callers.integrations:read"), "{err}");
        let err =
            Tenants::parse(r#"{"acme": {"callers": {"integrations:read": "c1"}}}"#).unwrap_err();
        assert!(err.contains("acme.callers"), "{err}");
    }

    #[test]
    fn only_listed_clients_are_authorised_per_scope() {
        let tenants = Tenants::parse(
            r#"{"acme": {"callers": {"integrations:read": ["reader", "writer"], "integrations:write": ["writer"]}},
                "globex": {"callers": {"integrations:read": ["other"]}}}"#,
        )
        .unwrap();
        let caller = |client: Option<&str>| Principal {
            subject: "s".into(),
            client_id: client.map(str::to_owned),
            scopes: Default::default(),
        };
        let allowed =
            |tenant, client, scope| tenants.authorise(tenant, &caller(client), scope).is_ok();
        assert!(allowed("acme", Some("writer"), WRITE_SCOPE));
        assert!(allowed("acme", Some("reader"), READ_SCOPE));
        assert!(!allowed("acme", Some("reader"), WRITE_SCOPE));
        assert!(!allowed("globex", Some("writer"), READ_SCOPE));
        assert!(
            !allowed("globex", Some("other"), WRITE_SCOPE),
            "no write list"
        );
        assert!(!allowed("acme", None, READ_SCOPE), "no client id");
        assert!(!allowed("initech", Some("writer"), READ_SCOPE));
        match tenants.authorise("globex", &caller(Some("writer")), READ_SCOPE) {
            Err(Forbidden {
                tenant,
                client,
                scope,
            }) => {
                assert_eq!(
                    (tenant.as_str(), client.as_str(), scope.as_str()),
                    ("globex", "writer", READ_SCOPE)
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
